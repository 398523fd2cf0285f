/*
 * views.c - see views.h. Moved out of leakhunt-replay's main file, so the
 * fuzz harness and the unit tests ask the views what the program asks.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "lh_units.h"
#include "views.h"

static const char *const view_names[] = { "leaks", "at", "diff", "peak", "stats", "growth", "temporary" };

const char *lh_view_name(int view)
{
    return view >= 0 && view < LH_VIEW_COUNT ? view_names[view] : "?";
}

static void notef(const lh_view_opts *o, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void notef(const lh_view_opts *o, const char *fmt, ...)
{
    if (!o->note)
        return;
    va_list ap;
    va_start(ap, fmt);
    int len = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    if (len < 0)
        return;
    /* Out of memory, a long note is cut to what fits on the stack. */
    char small[512], *line = (size_t)len < sizeof(small) ? NULL : malloc((size_t)len + 1);
    size_t room = line ? (size_t)len + 1 : sizeof(small);
    va_start(ap, fmt);
    vsnprintf(line ? line : small, room, fmt, ap);
    va_end(ap);
    o->note(o->note_ctx, line ? line : small);
    free(line);
}

/* Failures: NULL or -1 with a message in err and errno ENOMEM when memory
 * ran out (leakhunt-replay's exit status 4), EINVAL for anything else. */
static int failed(int errnum)
{
    errno = errnum;
    return -1;
}
static int nomem(char *err, size_t cap)
{
    snprintf(err, cap, "out of memory");
    return failed(ENOMEM);
}

/* --- row orders ---------------------------------------------------------------- */

int lh_rows_by_bytes(const void *a, const void *b)
{
    const lh_row *x = a, *y = b;
    if (x->v[V_BYTES] != y->v[V_BYTES])
        return x->v[V_BYTES] > y->v[V_BYTES] ? -1 : 1;
    if (x->v[V_COUNT] != y->v[V_COUNT])
        return x->v[V_COUNT] > y->v[V_COUNT] ? -1 : 1;
    return strcmp(x->key, y->key);
}

int lh_rows_by_count(const void *a, const void *b)
{
    const lh_row *x = a, *y = b;
    if (x->v[V_COUNT] != y->v[V_COUNT])
        return x->v[V_COUNT] > y->v[V_COUNT] ? -1 : 1;
    return lh_rows_by_bytes(a, b);
}

int lh_rows_by_alloc_bytes(const void *a, const void *b)
{
    const lh_row *x = a, *y = b;
    if (x->v[V_ALLOC_BYTES] != y->v[V_ALLOC_BYTES])
        return x->v[V_ALLOC_BYTES] > y->v[V_ALLOC_BYTES] ? -1 : 1;
    if (x->v[V_ALLOC_COUNT] != y->v[V_ALLOC_COUNT])
        return x->v[V_ALLOC_COUNT] > y->v[V_ALLOC_COUNT] ? -1 : 1;
    return lh_rows_by_bytes(a, b);
}

int lh_rows_by_alloc_count(const void *a, const void *b)
{
    const lh_row *x = a, *y = b;
    if (x->v[V_ALLOC_COUNT] != y->v[V_ALLOC_COUNT])
        return x->v[V_ALLOC_COUNT] > y->v[V_ALLOC_COUNT] ? -1 : 1;
    return lh_rows_by_alloc_bytes(a, b);
}

int lh_rows_by_growth(const void *a, const void *b)
{
    const lh_row *x = a, *y = b;
    if (x->extra[2] != y->extra[2]) /* still growing first */
        return x->extra[2] > y->extra[2] ? -1 : 1;
    if (x->extra[0] != y->extra[0])
        return x->extra[0] > y->extra[0] ? -1 : 1;
    return strcmp(x->key, y->key);
}

int lh_view_ranks_by_allocations(int view, int value)
{
    return (value == LH_VAL_ALLOC_BYTES || value == LH_VAL_ALLOC_COUNT)
        && (view == LH_VIEW_LEAKS || view == LH_VIEW_AT || view == LH_VIEW_PEAK || view == LH_VIEW_DIFF);
}

/* --- traces and their replays ---------------------------------------------------- */

int lh_view_trace_open(lh_view_trace *t, const char *path, char *err, size_t cap)
{
    memset(t, 0, sizeof(*t));
    t->path = path;
    if (access(path, R_OK) < 0) {
        snprintf(err, cap, "%s: %s", path, strerror(errno));
        return failed(EINVAL);
    }
    int rc = lh_trace_summarize(path, &t->sum, err, cap);
    if (lh_is_error(rc))
        return failed(rc == LH_E_NOMEM ? ENOMEM : EINVAL);
    if (!(t->sym = lh_symbols_new()))
        return nomem(err, cap);
    return 0;
}

static void symbol_warning(const char *msg, void *ctx)
{
    notef(ctx, "warning: %s", msg);
}

/* A --thread N that names no thread of the trace answered with nothing:
 * say so, with the threads there are. */
void lh_view_trace_release(lh_view_trace *t, const lh_view_opts *o)
{
    for (size_t k = 0; k < o->n_threads; k++) {
        if (t->threads_found & (1ull << k))
            continue;
        char *line = NULL;
        size_t len = 0;
        FILE *f = open_memstream(&line, &len);
        if (!f)
            break;
        fprintf(f, "warning: --thread %" PRIu64 ": %s has no such thread (index or tid); it has",
                o->threads[k], t->path);
        size_t shown = 0;
        for (size_t i = 0; i < t->n_tids; i++)
            if (t->tids[i])
                fprintf(f, " #%zu (tid %u)", i, t->tids[i]), shown++;
        fprintf(f, "%s", shown ? "" : " none");
        if (fclose(f) == 0)
            notef(o, "%s", line);
        free(line);
    }
    free(t->tids);
    t->tids = NULL;
    if (t->sym)
        lh_symbols_warnings(t->sym, symbol_warning, (void *)o);
    lh_symbols_free(t->sym);
    t->sym = NULL;
    lh_trace_summary_free(&t->sum);
}

static void note_damage(const lh_view_opts *o, lh_view_trace *t, lh_replay *r)
{
    uint64_t off;
    const char *d = lh_replay_damage(r, &off);
    if (d) {
        notef(o, "warning: %s is damaged (%s); everything before it was used", t->path, d);
        t->damaged = 1;
    }
}

static lh_replay *open_replay(const lh_view_opts *o, const lh_view_trace *t, char *err, size_t cap)
{
    lh_replay *r = lh_replay_open(t->path, err, cap);
    if (!r)
        return NULL; /* errno says whether memory ran out */
    lh_replay_set_progress(r, o->progress);
    if (lh_replay_set_threads(r, o->threads, o->n_threads) < 0) {
        lh_replay_free(r);
        nomem(err, cap);
        return NULL;
    }
    return r;
}

/* Free r. LEAKHUNT_SHOW_READS=1 says what it decoded, read-ahead included:
 * a debug figure, so tests can see a question stop at its moment. */
static void close_replay(const lh_view_opts *o, const lh_view_trace *t, lh_replay *r)
{
    lh_read_stats st = { 0 };
    lh_replay_set_read_stats(r, &st);
    lh_replay_free(r);
    if (getenv("LEAKHUNT_SHOW_READS"))
        notef(o, "%s: decoded %" PRIu64 " chunks, %" PRIu64 " of events (%" PRIu64 " events)", t->path,
              st.chunks, st.event_chunks, st.events);
}

/* Which --thread values name a thread of the trace, from each replay of
 * it (a replay to an early moment may not have met the thread yet). */
static int note_threads(const lh_view_opts *o, lh_view_trace *t, lh_replay *r)
{
    size_t n;
    const uint32_t *tids = lh_replay_threads(r, &n);
    for (size_t k = 0; k < o->n_threads; k++) {
        uint64_t id = o->threads[k];
        int found = id < n && tids[id];
        for (size_t i = 0; i < n && !found; i++)
            found = tids[i] && tids[i] == id;
        if (found)
            t->threads_found |= 1ull << k;
    }
    if (n > t->n_tids) {
        uint32_t *c = malloc(n * sizeof(uint32_t));
        if (!c)
            return failed(ENOMEM);
        free(t->tids);
        t->tids = memcpy(c, tids, n * sizeof(uint32_t));
        t->n_tids = n;
    }
    return 0;
}

/* What r has read so far for symbols and --thread. 0, or -1 (ENOMEM). */
static int add_maps(const lh_view_opts *o, lh_view_trace *t, lh_replay *r)
{
    if (note_threads(o, t, r) < 0)
        return -1;
    size_t n;
    const Lh__ModuleMap *const *maps = lh_replay_module_maps(r, &n);
    for (size_t i = 0; i < n; i++)
        if (lh_symbols_add_map(t->sym, maps[i], (uint32_t)i + 1) < 0)
            return -1;
    const Lh__PyFrames *const *py = lh_replay_pyframes(r, &n);
    for (size_t i = 0; i < n; i++)
        if (lh_symbols_add_pyframes(t->sym, py[i]) < 0)
            return -1;
    const Lh__ProcessInfo *pi = lh_replay_process(r);
    struct stat st;
    if (pi)
        lh_symbols_set_pid(t->sym, pi->pid);
    if (stat(t->path, &st) == 0)
        lh_symbols_set_owner(t->sym, st.st_uid);
    return 0;
}

/* --- the checkpoint policy ----------------------------------------------------------- */

/* Traces with at least this many events get a checkpoint sidecar: a
 * checkpoint every 1/128 of the events, at least 1 M events apart, within
 * a quarter of the trace's size (at least 64 MiB) in all. Replay runs at
 * 15-90 M events/s (an idle or a loaded 2-core machine), so a question
 * about a 1 GB trace (320 M events) replays at most 2.5 M events. */
#define CKPT_MIN_EVENTS 2000000
#define CKPT_PER_TRACE 128
#define CKPT_MIN_SPACING 1000000
#define CKPT_MIN_BUDGET (64ull << 20)

/* Whether the trace's sidecar may be used (or written): a foreign or
 * loosened one is left alone, said once. */
static int checkpoints_allowed(const lh_view_opts *o, lh_view_trace *t)
{
    if (o->no_checkpoints)
        return 0;
    if (!t->ckpt) {
        char why[4400];
        t->ckpt = lh_checkpoint_sidecar_ok(t->path, why, sizeof(why)) ? 1 : -1;
        if (t->ckpt < 0)
            notef(o, "note: %s: not used and not replaced (no checkpoints for this trace; "
                     "remove it to have one made)", why);
    }
    return t->ckpt > 0;
}

/* Start a replay at the checkpoint nearest before the point, if the trace
 * has a sidecar; otherwise, for a big trace, leave one behind. A replay
 * that needs a state no checkpoint holds (exact_state: another temporary
 * threshold, a timeline) neither reads nor writes one. */
static lh_replay *start_replay(const lh_view_opts *o, lh_view_trace *t, int kind, uint64_t value,
                               const char *label, int exact_state, char *err, size_t cap)
{
    lh_replay *r = open_replay(o, t, err, cap);
    if (!r)
        return NULL;
    /* LEAKHUNT_CHECKPOINT_EVERY sets both the threshold and the spacing
     * (tests use small traces). */
    const char *env = getenv("LEAKHUNT_CHECKPOINT_EVERY");
    uint64_t min = env ? strtoull(env, NULL, 10) : CKPT_MIN_EVENTS;
    if (exact_state || !min || t->sum.events < min || !checkpoints_allowed(o, t))
        return r;
    lh_counters fin;
    int have = lh_checkpoint_final(t->path, &fin);
    int restored = have ? lh_replay_restore(r, t->path, kind, value, label) : 0;
    if (restored < 0) { /* a damaged checkpoint: start over, and replace the sidecar */
        close_replay(o, t, r);
        if (!(r = open_replay(o, t, err, cap)))
            return NULL;
        restored = have = 0;
    }
    if (restored && getenv("LEAKHUNT_SHOW_CHECKPOINT"))
        notef(o, "%s: started at the checkpoint after event %" PRIu64, t->path, lh_replay_counters(r)->events);
    /* A sidecar with no checkpoint before the point (an early moment) is
     * kept: rewriting it would cost a full pass for nothing. One pass per
     * trace writes (--diff opens two replays). */
    if (!have && !t->sidecar_pass) {
        uint64_t every = t->sum.events / CKPT_PER_TRACE;
        if (env)
            every = min;
        else if (every < CKPT_MIN_SPACING)
            every = CKPT_MIN_SPACING;
        lh_replay_checkpoint_every(r, t->path, every);
        uint64_t budget = lh_replay_file_size(r) / 4;
        lh_replay_checkpoint_budget(r, t->sum.events, budget > CKPT_MIN_BUDGET ? budget : CKPT_MIN_BUDGET);
        t->sidecar_pass = lh_replay_checkpointing(r);
    }
    return r;
}

/* Done with r. Only a pass that writes a sidecar reads on to the end (so
 * the next question about this trace starts close to its moment); any
 * other stops where its question was answered. */
static void end_replay(const lh_view_opts *o, const lh_view_trace *t, lh_replay *r)
{
    if (lh_replay_checkpointing(r))
        lh_replay_advance(r, LH_AT_END, 0, NULL);
    close_replay(o, t, r);
}

static void note_marker(const lh_view_opts *o, int rc, const lh_point *p)
{
    if (rc == 0 && p->kind == LH_AT_MARK)
        notef(o, "warning: marker %s not reached (trace ended)", p->text);
}

/* Replay to a point; returns the replay (caller ends it with end_replay). */
static lh_replay *replay_to(const lh_view_opts *o, lh_view_trace *t, const lh_point *p, uint64_t temporary_us,
                            char *err, size_t cap)
{
    /* Checkpoints hold the default temporary threshold and no timeline. */
    lh_replay *r = start_replay(o, t, p->kind, p->value, p->label, temporary_us != 1000, err, cap);
    if (!r)
        return NULL;
    lh_replay_set_temporary_us(r, temporary_us);
    int rc = lh_replay_advance(r, p->kind, p->value, p->label);
    if (rc == LH_E_NOMEM || add_maps(o, t, r) < 0) {
        close_replay(o, t, r);
        nomem(err, cap);
        return NULL;
    }
    note_marker(o, rc, p);
    if (p->kind == LH_AT_END || rc < 0)
        note_damage(o, t, r);
    return r;
}

static int find_peak_event(const lh_view_opts *o, lh_view_trace *t, uint64_t *event, uint64_t *peak_time,
                           char *err, size_t cap)
{
    lh_counters fin;
    if (checkpoints_allowed(o, t) && lh_checkpoint_final(t->path, &fin)) {
        *peak_time = fin.peak_time_us;
        *event = fin.peak_event;
        return 0;
    }
    lh_replay *r = start_replay(o, t, LH_AT_END, 0, NULL, 0, err, cap);
    if (!r)
        return -1;
    if (lh_replay_advance(r, LH_AT_END, 0, NULL) == LH_E_NOMEM) {
        close_replay(o, t, r);
        return nomem(err, cap);
    }
    const lh_counters *c = lh_replay_counters(r);
    *event = c->peak_event;
    *peak_time = c->peak_time_us;
    close_replay(o, t, r);
    return 0;
}

static int resolve_point(const lh_view_opts *o, lh_view_trace *t, const char *spec, lh_point *p, char *err,
                         size_t cap)
{
    char why[2048];
    if (lh_point_parse(spec, &t->sum, p, why, sizeof(why)) < 0) {
        snprintf(err, cap, "%s: %s", t->path, why);
        return failed(EINVAL);
    }
    if (p->is_peak) {
        uint64_t when;
        if (find_peak_event(o, t, &p->value, &when, err, cap) < 0)
            return -1;
        snprintf(p->text, sizeof(p->text), "peak (%.3f s)", when / 1e6);
    }
    return 0;
}

/* --- samples ------------------------------------------------------------------------ */

/* Samples of the live heap of r (or its growth from base), NULL when
 * memory ran out. With allocs,
 * also the sites that allocated since base (or the start) and hold nothing
 * live: the exports' alloc_* values count every allocation of the window,
 * freed or not, as pprof's alloc_space does. */
static lh_sample *samples_of(const lh_view_opts *o, lh_view_trace *t, lh_replay *r, const lh_replay *base,
                             int allocs, size_t *n_out)
{
    size_t n, nb = 0;
    const lh_site *s = lh_replay_sites(r, &n);
    const lh_site *b = base ? lh_replay_sites(base, &nb) : NULL;
    lh_sample *out = calloc(n ? n : 1, sizeof(lh_sample));
    if (!out)
        return NULL;
    size_t k = 0;
    for (size_t i = 0; i < n; i++) {
        const lh_site *bs = b && i < nb ? &b[i] : NULL;
        int64_t bytes = lh_wsub(s[i].live_bytes, bs ? bs->live_bytes : 0);
        int64_t count = lh_wsub(s[i].live_count, bs ? bs->live_count : 0);
        int64_t ab = lh_wsub(s[i].alloc_bytes, bs ? bs->alloc_bytes : 0);
        int64_t ac = lh_wsub(s[i].alloc_count, bs ? bs->alloc_count : 0);
        if (!bytes && !count && !(bs && s[i].live_bytes) && !(allocs && (ab || ac)))
            continue;
        lh_sample *x = &out[k++];
        x->r = r;
        x->sym = t->sym;
        x->alloc_fns = o->alloc_fns;
        x->stack = (uint32_t)i;
        x->v[V_BYTES] = bytes;
        x->v[V_COUNT] = count;
        x->v[V_ALLOC_BYTES] = ab;
        x->v[V_ALLOC_COUNT] = ac;
        x->v[V_BASE_BYTES] = bs ? bs->live_bytes : 0;
        x->v[V_BASE_COUNT] = bs ? bs->live_count : 0;
    }
    /* --filter, --exclude and --suppressions: here, so every view and
     * export of the samples sees the same stacks. */
    ssize_t kept = o->select ? lh_select_samples(o->select, out, k) : (ssize_t)k;
    if (kept < 0) {
        free(out);
        return NULL;
    }
    *n_out = (size_t)kept;
    return out;
}

/* Samples of the live heap of r, negated (the A side of a two-trace diff). */
static void negate_into(lh_sample *s, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        s[i].v[V_BASE_BYTES] = s[i].v[V_BYTES];
        s[i].v[V_BASE_COUNT] = s[i].v[V_COUNT];
        s[i].v[V_BYTES] = lh_wsub(0, s[i].v[V_BYTES]);
        s[i].v[V_COUNT] = lh_wsub(0, s[i].v[V_COUNT]);
        s[i].v[V_ALLOC_BYTES] = lh_wsub(0, s[i].v[V_ALLOC_BYTES]);
        s[i].v[V_ALLOC_COUNT] = lh_wsub(0, s[i].v[V_ALLOC_COUNT]);
    }
}

/* Samples of the growth from ra to rb: one trace's, or B's minus A's. */
static lh_sample *diff_samples(const lh_view_opts *o, lh_view_trace *ta, lh_view_trace *tb, lh_replay *ra,
                               lh_replay *rb, int allocs, size_t *n)
{
    if (ta == tb)
        return samples_of(o, tb, rb, ra, allocs, n);
    size_t na, nb;
    lh_sample *sa = samples_of(o, ta, ra, NULL, allocs, &na);
    lh_sample *sb = samples_of(o, tb, rb, NULL, allocs, &nb);
    lh_sample *s = sa && sb ? calloc(na + nb ? na + nb : 1, sizeof(lh_sample)) : NULL;
    if (s) {
        negate_into(sa, na);
        for (size_t i = 0; i < nb; i++) /* B's own base is what A had: added by grouping */
            sb[i].v[V_BASE_BYTES] = sb[i].v[V_BASE_COUNT] = 0;
        memcpy(s, sa, na * sizeof(lh_sample));
        memcpy(s + na, sb, nb * sizeof(lh_sample));
        *n = na + nb;
    }
    free(sa);
    free(sb);
    return s;
}

/* --- views ---------------------------------------------------------------------------- */

static lh_view *view_new(const lh_view_opts *o, lh_view_trace *t)
{
    lh_view *v = calloc(1, sizeof(lh_view));
    if (!v)
        return NULL;
    v->view = o->view;
    v->trace = t->path;
    v->within_ms = -1;
    v->ta = t;
    v->opts = *o;
    return v;
}

/* --sample: a view of a sampled trace is an estimate: its title says so. */
static void note_sampling(lh_view *v, const lh_replay *r)
{
    const Lh__ProcessInfo *pi = lh_replay_process(r);
    v->sample_interval = pi && pi->has_sample_interval ? pi->sample_interval : 0;
    size_t len = strlen(v->title);
    if (v->sample_interval && len < sizeof(v->title)) {
        char b[32];
        snprintf(v->title + len, sizeof(v->title) - len, " (estimated, sampled every %s)",
                 lh_human((int64_t)v->sample_interval, b, sizeof(b), 0));
    }
}

/* The table: the samples grouped and ranked (not with a tree). 0, or -1
 * when memory ran out. */
static int rank_rows(const lh_view_opts *o, lh_view *v, int (*cmp)(const void *, const void *))
{
    if (o->tree)
        return 0;
    if (!(v->rows = lh_group(v->samples, v->n_samples, o->by, NULL, &v->n_rows)))
        return -1;
    if (v->ranks_by_allocations)
        cmp = o->value == LH_VAL_ALLOC_COUNT ? lh_rows_by_alloc_count : lh_rows_by_alloc_bytes;
    qsort(v->rows, v->n_rows, sizeof(lh_row), cmp);
    return 0;
}

/* Free v and return NULL, errno as the failure left it. */
static lh_view *fail(lh_view *v)
{
    int e = errno;
    lh_view_free(v);
    errno = e;
    return NULL;
}
static lh_view *fail_nomem(lh_view *v, char *err, size_t cap)
{
    lh_view_free(v);
    nomem(err, cap);
    return NULL;
}

lh_view *lh_view_point(const lh_view_opts *o, lh_view_trace *t, const char *spec, char *err, size_t cap)
{
    const char *what = o->view == LH_VIEW_AT ? "live heap at"
                     : o->view == LH_VIEW_PEAK ? "heap at" : "still allocated at";
    lh_view *v = view_new(o, t);
    if (!v)
        return fail_nomem(v, err, cap);
    v->end_on_free = 1;
    lh_point p;
    if (resolve_point(o, t, spec, &p, err, cap) < 0 || !(v->ra = replay_to(o, t, &p, 1000, err, cap)))
        return fail(v);
    v->ranks_by_allocations = lh_view_ranks_by_allocations(o->view, o->value);
    if (!(v->samples = samples_of(o, t, v->ra, NULL, v->ranks_by_allocations, &v->n_samples)))
        return fail_nomem(v, err, cap);
    snprintf(v->title, sizeof(v->title), "%s: %s %s, by %s", t->path, what, p.text, lh_by_name(o->by));
    snprintf(v->point_text[0], sizeof(v->point_text[0]), "%s", p.text);
    v->at = v->point_text[0];
    v->time = lh_replay_counters(v->ra)->time_us / 1e6;
    note_sampling(v, v->ra);
    if (rank_rows(o, v, lh_rows_by_bytes) < 0
        || (o->exports && !(v->flame = samples_of(o, t, v->ra, NULL, 1, &v->n_flame))))
        return fail_nomem(v, err, cap);
    return v;
}

lh_view *lh_view_diff(const lh_view_opts *o, lh_view_trace *ta, lh_view_trace *tb, const char *from,
                      const char *to, char *err, size_t cap)
{
    lh_view *v = view_new(o, ta);
    if (!v)
        return fail_nomem(v, err, cap);
    v->view = LH_VIEW_DIFF;
    v->end_on_free = 1;
    v->tb = tb;
    lh_point a, b;
    if (resolve_point(o, ta, from, &a, err, cap) < 0 || resolve_point(o, tb, to, &b, err, cap) < 0
        || !(v->ra = replay_to(o, ta, &a, 1000, err, cap)) || !(v->rb = replay_to(o, tb, &b, 1000, err, cap)))
        return fail(v);
    v->ranks_by_allocations = lh_view_ranks_by_allocations(LH_VIEW_DIFF, o->value);
    if (!(v->samples = diff_samples(o, ta, tb, v->ra, v->rb, v->ranks_by_allocations, &v->n_samples)))
        return fail_nomem(v, err, cap);
    if (ta == tb)
        snprintf(v->title, sizeof(v->title), "%s: growth from %s to %s, by %s", ta->path, a.text, b.text,
                 lh_by_name(o->by));
    else
        snprintf(v->title, sizeof(v->title), "growth from %s at %s to %s at %s, by %s", ta->path, a.text,
                 tb->path, b.text, lh_by_name(o->by));
    v->trace_b = tb->path;
    snprintf(v->point_text[1], sizeof(v->point_text[1]), "%s", a.text);
    snprintf(v->point_text[2], sizeof(v->point_text[2]), "%s", b.text);
    v->from = v->point_text[1];
    v->to = v->point_text[2];
    v->from_time = lh_replay_counters(v->ra)->time_us / 1e6;
    v->to_time = lh_replay_counters(v->rb)->time_us / 1e6;
    const Lh__ProcessInfo *pa = lh_replay_process(v->ra);
    note_sampling(v, pa && pa->has_sample_interval && pa->sample_interval ? v->ra : v->rb);
    if (rank_rows(o, v, lh_rows_by_bytes) < 0
        || (o->exports && !(v->flame = diff_samples(o, ta, tb, v->ra, v->rb, 1, &v->n_flame))))
        return fail_nomem(v, err, cap);
    return v;
}

void lh_growth_classify(const int64_t *series, int m, int64_t out[4])
{
    /* Growth counts from the first window where the site exists. */
    int first = 1;
    while (first < m && series[first] == 0)
        first++;
    /* A step rises when it adds more than 1% (allocator and size
     * noise of a steady structure stays below that). */
    int rising = 0; /* in 128 bits: a hostile trace's sizes reach 2^63 */
    for (int i = first + 1; i <= m; i++)
        if ((__int128)series[i] > (__int128)series[i - 1] + series[i - 1] / 100)
            rising++;
    /* Still growing: the end is clearly above everything up to two
     * thirds of the way (5% and at least 1 KiB). A cache that filled
     * and then stayed level fails it; a leak that pauses between bursts
     * passes it when its last burst comes in the last third, whatever
     * share of the steps rose (three bursts in ten windows: two of
     * nine), so the count of rising steps is shown but not asked. */
    int early_end = first + (m - first) * 2 / 3;
    int64_t early_max = series[first];
    for (int i = first; i <= early_end; i++)
        if (series[i] > early_max)
            early_max = series[i];
    int64_t margin = early_max / 20 > 1024 ? early_max / 20 : 1024;
    out[0] = lh_wsub(series[m], series[first]);
    out[1] = rising;
    out[2] = (__int128)series[m] > (__int128)early_max + margin;
    out[3] = m - 1;
}

static lh_row *find_row(lh_row *rows, size_t n, const char *key)
{
    size_t lo = 0, hi = n;
    while (lo < hi) {
        size_t mid = (lo + hi) / 2;
        int c = strcmp(rows[mid].key, key);
        if (!c)
            return &rows[mid];
        if (c < 0) lo = mid + 1; else hi = mid;
    }
    return NULL;
}

static int by_key_then_latest(const void *a, const void *b)
{
    const lh_row *x = a, *y = b;
    int c = strcmp(x->key, y->key);
    if (c)
        return c;
    return x->extra[3] > y->extra[3] ? -1 : x->extra[3] < y->extra[3];
}

/* Leak suspects: sample every site's live bytes at evenly spaced moments;
 * a site that ends at a new maximum, clearly above all it held in the
 * first two thirds of its life, is still growing, in however few steps it
 * rose (a leak in bursts rises in few); one that rose and then stayed
 * level is a bounded cache. */
lh_view *lh_view_growth(const lh_view_opts *o, lh_view_trace *t, char *err, size_t cap)
{
    int w = o->windows;
    lh_view *v = view_new(o, t);
    if (!v)
        return fail_nomem(v, err, cap);
    v->view = LH_VIEW_GROWTH;
    if (w < 2) {
        snprintf(err, cap, "growth: %d windows (2 at least)", w);
        failed(EINVAL);
        return fail(v);
    }
    lh_replay *r = v->ra = open_replay(o, t, err, cap);
    if (!r)
        return fail(v);
    lh_row **win = v->win = calloc((size_t)w + 1, sizeof(lh_row *));
    size_t *nwin = v->nwin = calloc((size_t)w + 1, sizeof(size_t));
    if (!win || !nwin)
        return fail_nomem(v, err, cap);
    v->windows = w;
    for (int i = 1; i <= w; i++) {
        uint64_t at = t->sum.end_time_us * (uint64_t)i / (uint64_t)w;
        if (lh_replay_advance(r, i == w ? LH_AT_END : LH_AT_TIME, at, NULL) == LH_E_NOMEM || add_maps(o, t, r) < 0)
            return fail_nomem(v, err, cap);
        size_t n;
        lh_sample *s = samples_of(o, t, r, NULL, 0, &n);
        win[i] = s ? lh_group(s, n, o->by, NULL, &nwin[i]) : NULL;
        free(s);
        if (!win[i])
            return fail_nomem(v, err, cap);
    }
    note_damage(o, t, r);

    /* Every site seen in any window, not only those live at the end: a
     * cache freed at exit still shows how it grew and levelled off. Rows
     * are borrowed from the windows (latest window wins). */
    size_t total = 0;
    for (int i = 1; i <= w; i++)
        total += nwin[i];
    lh_row *rows = v->rows = calloc(total ? total : 1, sizeof(lh_row));
    if (!rows)
        return fail_nomem(v, err, cap);
    v->rows_borrowed = 1;
    size_t nr = 0;
    for (int i = w; i >= 1; i--)
        for (size_t k = 0; k < nwin[i]; k++) {
            rows[nr] = win[i][k];
            rows[nr].extra[3] = i;
            if (i < w) /* not live at the end */
                memset(rows[nr].v, 0, sizeof(rows[nr].v));
            nr++;
        }
    qsort(rows, nr, sizeof(lh_row), by_key_then_latest);
    size_t u = 0;
    for (size_t k = 0; k < nr; k++)
        if (!u || strcmp(rows[u - 1].key, rows[k].key))
            rows[u++] = rows[k];
    nr = u;

    int m = w > 1023 ? 1023 : w;
    for (size_t k = 0; k < nr; k++) {
        int64_t series[1024];
        for (int i = 1; i <= m; i++) {
            lh_row *x = find_row(win[i], nwin[i], rows[k].key);
            series[i] = x ? x->v[V_BYTES] : 0;
        }
        lh_growth_classify(series, m, rows[k].extra);
    }
    qsort(rows, nr, sizeof(lh_row), lh_rows_by_growth);
    v->n_rows = nr;
    snprintf(v->title, sizeof(v->title), "%s: growth over %d windows of %.3f s, by %s", t->path, w,
             t->sum.end_time_us / 1e6 / w, lh_by_name(o->by));
    note_sampling(v, r);
    if (o->exports && !(v->flame = samples_of(o, t, r, NULL, 1, &v->n_flame)))
        return fail_nomem(v, err, cap);
    return v;
}

lh_view *lh_view_temporary(const lh_view_opts *o, lh_view_trace *t, char *err, size_t cap)
{
    lh_view *v = view_new(o, t);
    if (!v)
        return fail_nomem(v, err, cap);
    v->view = LH_VIEW_TEMPORARY;
    lh_point end = { .kind = LH_AT_END };
    lh_replay *r = v->ra = replay_to(o, t, &end, (uint64_t)o->temporary_ms * 1000, err, cap);
    if (!r)
        return fail(v);
    size_t n, k = 0;
    const lh_site *sites = lh_replay_sites(r, &n);
    lh_sample *s = v->samples = calloc(n ? n : 1, sizeof(lh_sample));
    if (!s)
        return fail_nomem(v, err, cap);
    for (size_t i = 0; i < n; i++) {
        if (!sites[i].freed_soon_count)
            continue;
        s[k].r = r;
        s[k].sym = t->sym;
        s[k].alloc_fns = o->alloc_fns;
        s[k].stack = (uint32_t)i;
        s[k].v[V_BYTES] = sites[i].freed_soon_bytes;
        s[k].v[V_COUNT] = sites[i].freed_soon_count;
        s[k].v[V_ALLOC_BYTES] = sites[i].alloc_bytes;
        s[k].v[V_ALLOC_COUNT] = sites[i].alloc_count;
        k++;
    }
    ssize_t kept = o->select ? lh_select_samples(o->select, s, k) : (ssize_t)k;
    if (kept < 0)
        return fail_nomem(v, err, cap);
    v->n_samples = (size_t)kept;
    snprintf(v->title, sizeof(v->title), "%s: allocations freed within %ld ms, by %s", t->path, o->temporary_ms,
             lh_by_name(o->by));
    v->within_ms = o->temporary_ms;
    note_sampling(v, r);
    if (rank_rows(o, v, lh_rows_by_count) < 0)
        return fail_nomem(v, err, cap);
    if (o->exports) { /* the same samples */
        if (!(v->flame = calloc(v->n_samples ? v->n_samples : 1, sizeof(lh_sample))))
            return fail_nomem(v, err, cap);
        memcpy(v->flame, v->samples, v->n_samples * sizeof(lh_sample));
        v->n_flame = v->n_samples;
    }
    return v;
}

lh_view *lh_view_stats(const lh_view_opts *o, lh_view_trace *t, char *err, size_t cap)
{
    lh_view *v = view_new(o, t);
    if (!v)
        return fail_nomem(v, err, cap);
    v->view = LH_VIEW_STATS;
    lh_point end = { .kind = LH_AT_END };
    if (!(v->ra = replay_to(o, t, &end, 1000, err, cap)))
        return fail(v);
    v->replay = v->ra;
    return v;
}

/* --histogram's stack test: the selection's, with the module maps the
 * replay has read so far (the hook runs mid-pass). */
typedef struct {
    const lh_view_opts *o;
    lh_view_trace *t;
    size_t n_maps;
} hist_ctx;

/* 1 or 0, or -1 when memory ran out (lh_hist_keep_fn). */
static int hist_keep(void *ctx, const lh_replay *r, uint32_t stack)
{
    hist_ctx *h = ctx;
    size_t n;
    lh_replay_module_maps(r, &n);
    if (n != h->n_maps) {
        if (add_maps(h->o, h->t, (lh_replay *)r) < 0)
            return -1;
        h->n_maps = n;
    }
    return lh_select_keeps_stack(h->o->select, r, h->t->sym, stack);
}

lh_view *lh_view_histogram(const lh_view_opts *o, lh_view_trace *t, const char *at, const char *a,
                           const char *b, char *err, size_t cap)
{
    lh_view *v = view_new(o, t);
    if (!v)
        return fail_nomem(v, err, cap);
    v->end_on_free = 1;
    lh_point from = { .kind = LH_AT_EVENT, .value = 0 }, to = { .kind = LH_AT_END };
    snprintf(from.text, sizeof(from.text), "start");
    snprintf(to.text, sizeof(to.text), "end");
    int rc = 0;
    if (o->view == LH_VIEW_AT)
        rc = resolve_point(o, t, at, &to, err, cap);
    else if (o->view == LH_VIEW_PEAK)
        rc = resolve_point(o, t, "peak", &to, err, cap);
    else if (o->view == LH_VIEW_DIFF)
        rc = resolve_point(o, t, a, &from, err, cap) < 0 ? -1 : resolve_point(o, t, b, &to, err, cap);
    if (rc < 0)
        return fail(v);
    /* The window's start may come from a checkpoint; from there on every
     * event is replayed. */
    lh_replay *r = v->ra = o->view == LH_VIEW_DIFF ? start_replay(o, t, from.kind, from.value, from.label, 0, err, cap)
                                                   : open_replay(o, t, err, cap);
    if (!r)
        return fail(v);
    rc = lh_replay_advance(r, from.kind, from.value, from.label);
    if (rc == LH_E_NOMEM)
        return fail_nomem(v, err, cap);
    note_marker(o, rc, &from);
    v->from_time = lh_replay_counters(r)->time_us / 1e6;
    hist_ctx hc = { o, t, (size_t)-1 };
    lh_histogram *h = v->hist = lh_histogram_new(o->select && lh_select_active(o->select) ? hist_keep : NULL, &hc);
    if (!h)
        return fail_nomem(v, err, cap);
    lh_histogram_start(h, r);
    rc = rc < 0 ? rc : lh_replay_advance(r, to.kind, to.value, to.label);
    int counted = lh_histogram_stop(h);
    if (rc == LH_E_NOMEM || counted < 0 || add_maps(o, t, r) < 0)
        return fail_nomem(v, err, cap);
    note_marker(o, rc, &to);
    note_damage(o, t, r);
    snprintf(v->title, sizeof(v->title),
             "%s: sizes of the allocations made from %s to %s, in power-of-two buckets", t->path, from.text,
             to.text);
    snprintf(v->point_text[1], sizeof(v->point_text[1]), "%s", from.text);
    snprintf(v->point_text[2], sizeof(v->point_text[2]), "%s", to.text);
    v->from = v->point_text[1];
    v->to = v->point_text[2];
    v->to_time = lh_replay_counters(r)->time_us / 1e6;
    note_sampling(v, r);
    return v;
}

int64_t lh_view_total(const lh_view *v)
{
    if (v->hist) {
        const lh_hist_bucket *b = lh_histogram_buckets(v->hist);
        uint64_t bytes = 0;
        for (int k = 0; k < LH_HIST_BUCKETS; k++)
            bytes += b[k].bytes;
        return (int64_t)bytes;
    }
    if (v->view == LH_VIEW_STATS)
        return (int64_t)lh_replay_counters(v->replay)->live_bytes;
    int64_t total = 0;
    for (size_t i = 0; i < v->n_rows; i++)
        total = lh_wadd(total, v->rows[i].v[v->ranks_by_allocations ? V_ALLOC_BYTES : V_BYTES]);
    return total;
}

void lh_view_free(lh_view *v)
{
    if (!v)
        return;
    lh_histogram_free(v->hist);
    if (v->rows_borrowed)
        free(v->rows); /* borrowed rows: their keys belong to the windows */
    else
        lh_rows_free(v->rows, v->n_rows);
    if (v->win)
        for (int i = 1; i <= v->windows; i++)
            lh_rows_free(v->win[i], v->nwin[i]);
    free(v->win);
    free(v->nwin);
    free(v->samples);
    free(v->flame);
    /* The replays last, as the program did before views: a pass that
     * writes a sidecar reads on to the end (end_replay). */
    if (v->ra)
        (v->end_on_free ? end_replay : close_replay)(&v->opts, v->ta, v->ra);
    if (v->rb)
        (v->end_on_free ? end_replay : close_replay)(&v->opts, v->tb, v->rb);
    free(v);
}

/* --- the HTML report ---------------------------------------------------------------- */

lh_report *lh_view_report(const lh_view_opts *o, lh_view_trace *t, char *err, size_t cap)
{
    lh_report *rep = lh_report_new(t->path);
    if (!rep) {
        nomem(err, cap);
        return NULL;
    }
    lh_replay *r = open_replay(o, t, err, cap);
    if (!r) {
        int e = errno;
        lh_report_free(rep);
        errno = e;
        return NULL;
    }
    /* One pass with a timeline, stopping at every marker for a snapshot. */
    uint64_t every = t->sum.end_time_us / 2000;
    lh_replay_set_timeline(r, every ? every : 1);
    for (size_t i = 0; i <= t->sum.n_markers; i++) {
        uint64_t nth = 0;
        int kind = i < t->sum.n_markers ? LH_AT_MARK : LH_AT_END;
        const char *label = i < t->sum.n_markers ? t->sum.markers[i].label : NULL;
        for (size_t j = 0; j < i && label; j++)
            nth += !strcmp(t->sum.markers[j].label, label);
        int rc = lh_replay_advance(r, kind, nth, label);
        if (rc == LH_E_NOMEM)
            goto nomem;
        if (rc <= 0 && kind == LH_AT_MARK)
            break;
        if (add_maps(o, t, r) < 0)
            goto nomem;
        size_t n;
        lh_sample *s = samples_of(o, t, r, NULL, 0, &n);
        lh_flame *f = s ? lh_flame_new(label ? label : "end", 0) : NULL;
        if (!f || lh_flame_from_samples(f, s, n) < 0) {
            lh_flame_free(f);
            free(s);
            goto nomem;
        }
        char text[300];
        snprintf(text, sizeof(text), "%s%s", label ? "mark:" : "end", label ? label : "");
        lh_report_add_snapshot(rep, lh_replay_counters(r)->time_us / 1e6, text, f);
        free(s);
    }
    note_damage(o, t, r);
    size_t n, nr, nm;
    const uint64_t *tl = lh_replay_timeline(r, &n);
    const lh_rss *rss = lh_replay_rss(r, &nr);
    size_t ri = 0;
    for (size_t i = 0; i < n; i++) {
        while (ri + 1 < nr && rss[ri + 1].time_us <= tl[2 * i])
            ri++;
        int64_t rb = nr && rss[ri].time_us <= tl[2 * i] ? (int64_t)rss[ri].rss_bytes : -1;
        lh_report_add_point(rep, tl[2 * i] / 1e6, (int64_t)tl[2 * i + 1], rb);
    }
    const lh_counters *c = lh_replay_counters(r);
    lh_report_add_point(rep, lh_replay_end_time(r) / 1e6, (int64_t)c->live_bytes,
                        nr ? (int64_t)rss[nr - 1].rss_bytes : -1);
    const lh_marker *mk = lh_replay_markers(r, &nm);
    for (size_t i = 0; i < nm; i++)
        lh_report_add_marker(rep, mk[i].time_us / 1e6, mk[i].label);
    lh_report_set_peak(rep, c->peak_time_us / 1e6, (int64_t)c->peak_bytes);
    close_replay(o, t, r);
    return rep;

nomem:
    close_replay(o, t, r);
    lh_report_free(rep);
    nomem(err, cap);
    return NULL;
}
