/*
 * leakhunt-replay - answers from a trace: the heap at a moment, what grew
 * between two moments (or two traces), leaks, peak, growth suspects,
 * temporary allocations, statistics; as text, JSON or flame graphs.
 */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "replay_cli.h"

static const char *prog = "leakhunt-replay";
static const char *view_names[] = { "leaks", "at", "diff", "peak", "stats", "growth", "temporary" };

static void usage(FILE *f)
{
    fprintf(f,
        "usage: leakhunt-replay TRACE... [view] [options]\n"
        "\n"
        "Views (one; default --leaks):\n"
        "  --leaks              what is still allocated at the end, by site\n"
        "  --at T               the live heap at moment T\n"
        "  --diff A B           what grew from A to B (live at B minus live at A);\n"
        "                       with two traces, A is read from the first, B from the second\n"
        "  --peak               the heap at its maximum, and when that was\n"
        "  --growth             leak suspects over the whole run: sites whose live bytes\n"
        "                       keep rising, and sites that levelled off (bounded caches)\n"
        "  --temporary          allocations freed almost at once (--temporary-ms, default 1)\n"
        "  --stats              totals: allocations, frees, peak, leaks, markers, lost events\n"
        "\n"
        "Moments T: 12.5, 12.5s, 300ms, 50%%, start, peak, end, mark:LABEL (mark:LABEL#2 for\n"
        "the second one), #EVENT (after that many events).\n"
        "\n"
        "Presentations of the view (instead of its table):\n"
        "  --tree               the merged call tree, top-down: total and self bytes and\n"
        "                       blocks per frame, callers above callees; --top N children\n"
        "                       per frame (biggest first), --min-bytes prunes subtrees\n"
        "  --inverted           with --tree: bottom-up, each allocating site, then its\n"
        "                       callers\n"
        "  --histogram          sizes of the allocations made in the view's window, in\n"
        "                       power-of-two buckets (allocations, bytes): from the start\n"
        "                       to the moment for --leaks, --stats (the whole run), --at T\n"
        "                       and --peak; from A to B for --diff A B; freed or not\n"
        "\n"
        "Options:\n"
        "  --by stack|function|line|module   grouping (default line)\n"
        "  --top N              rows to show (default 10, 0 = all)\n"
        "  --filter TEXT        only stacks with a function, file or module containing TEXT\n"
        "                       (repeatable: every TEXT)\n"
        "  --exclude TEXT       no stacks with a function, file or module containing TEXT\n"
        "                       (repeatable)\n"
        "  --suppressions FILE  LeakSanitizer suppressions: leak:PATTERN lines drop stacks\n"
        "                       with a function, file or module PATTERN matches (substring,\n"
        "                       * any run, ^ start, $ end; # comments); repeatable\n"
        "  --alloc-fn NAME      a function of the program that allocates for its callers\n"
        "                       (fnmatch glob, repeatable): it and what it calls are skipped,\n"
        "                       the site is its caller (built in: xmalloc, g_malloc*)\n"
        "  --thread N           only what thread N allocated: N is the index --stats lists\n"
        "                       (#N) or the kernel tid; repeatable; frees by any thread\n"
        "                       count, frees of other threads' blocks do not\n"
        "  --min-bytes N        hide rows smaller than N bytes (K, M, G suffixes)\n"
        "  --format text|json   output format (default text); JSON is UTF-8, and bytes of\n"
        "                       a path, symbol or label that are not UTF-8 become U+FFFD\n"
        "  --windows N          time windows for --growth (default 10)\n"
        "  --fail-over SIZE     exit status 3 when the view's total is over SIZE (K, M, G):\n"
        "                       the bytes its table totals (leaked, live at T, grown from A\n"
        "                       to B, short-lived; allocated with --value alloc_*), its\n"
        "                       tree's or histogram's, or the leaked bytes of --stats; for\n"
        "                       CI (e.g. --leaks --fail-over 0, --peak --fail-over 512M)\n"
        "  --no-checkpoints     neither use nor write TRACE.ckpt (kept beside traces of\n"
        "                       2M+ events so later questions start near their moment)\n"
        "\n"
        "Exports of the view (several allowed; FILE - is stdout, which then holds the\n"
        "export alone, for one export at a time):\n"
        "  --folded [FILE]      folded stacks for flamegraph.pl/inferno/speedscope (default -)\n"
        "  --flamegraph FILE    interactive SVG flame graph (differential for --diff)\n"
        "  --pprof FILE         pprof profile.proto, gzip (go tool pprof, speedscope)\n"
        "  --speedscope FILE    speedscope JSON\n"
        "  --html FILE          self-contained report: heap over time, markers, flame graphs\n"
        "  --value NAME         live_bytes (default), live_count, alloc_bytes, alloc_count;\n"
        "                       alloc_* also rank the table of --leaks, --at, --peak and\n"
        "                       --diff by what each site allocated in the view's window\n"
        "                       (from the start, or from A to B), freed or not\n"
        "\n"
        "  -h, --help           this text\n"
        "  --version            print the version\n"
        "\n"
        "Exit status: 0 answered, 1 the trace is damaged (the readable prefix was\n"
        "answered), 2 usage or input error, 3 the view's total is over --fail-over\n"
        "(before 1), 4 out of memory.\n");
}

static void die(const char *fmt, ...) __attribute__((noreturn, format(printf, 1, 2)));
static void die(const char *fmt, ...)
{
    va_list ap;
    fprintf(stderr, "%s: ", prog);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
    exit(2);
}

static void *xcalloc(size_t n, size_t size)
{
    void *p = calloc(n ? n : 1, size);
    if (!p)
        die("out of memory");
    return p;
}

/* --- formatting ------------------------------------------------------------------ */

/* A view's JSON head (print_rows' json_head): "key": value fields, strings
 * through lh_json_str, numbers with fprintf(h, ", \"key\": ..."). */
static FILE *head_open(char **text, size_t *len)
{
    FILE *h = open_memstream(text, len);
    if (!h)
        die("out of memory");
    return h;
}

static void head_str(FILE *h, const char *key, const char *value)
{
    fprintf(h, "%s\"%s\": ", ftell(h) > 0 ? ", " : "", key);
    lh_json_str(h, value);
}

/* The head's text (caller frees). */
static char *head_close(FILE *h, char **text)
{
    if (fclose(h) != 0)
        die("out of memory");
    return *text;
}

static void print_warning(const char *msg, void *ctx)
{
    (void)ctx;
    fprintf(stderr, "%s: warning: %s\n", prog, msg);
}

/* --- replays --------------------------------------------------------------------- */

static int exit_code;
static int over_limit; /* --fail-over: a view's total went over it (exit status 3) */
static const options *opts; /* for open_replay: --thread */

static void warn_damage(const trace *t, lh_replay *r)
{
    uint64_t off;
    const char *d = lh_replay_damage(r, &off);
    if (d) {
        fprintf(stderr, "%s: warning: %s is damaged (%s); everything before it was used\n", prog,
                t->path, d);
        exit_code = 1;
    }
}

/* --fail-over SIZE: a CI gate (pytest-memray's limit_leaks and
 * limit_memory). The view's total is the bytes its table totals (live,
 * grown, short-lived, or allocated with --value alloc_*), its tree's root,
 * its histogram's bytes, or the leaked bytes of --stats. */
static void check_limit(const char *what, int64_t total)
{
    if (opts->fail_over < 0 || total <= opts->fail_over)
        return;
    char a[32], b[32];
    fprintf(stderr, "%s: %s: the view's total, %s (%" PRId64 " bytes), is over --fail-over %s (%" PRId64
                    " bytes)\n", prog, what,
            human(total, a, sizeof(a), 0), total, human(opts->fail_over, b, sizeof(b), 0), opts->fail_over);
    over_limit = 1;
}

static lh_replay *open_replay(const trace *t)
{
    char err[512];
    lh_replay *r = lh_replay_open(t->path, err, sizeof(err));
    if (!r)
        die("%s", err);
    lh_replay_set_progress(r, isatty(2));
    lh_replay_set_threads(r, opts->threads, opts->n_threads);
    return r;
}

/* Free r. LEAKHUNT_SHOW_READS=1 says what it decoded, read-ahead included:
 * a debug figure, so tests can see a question stop at its moment. */
static void close_replay(const trace *t, lh_replay *r)
{
    lh_read_stats st = { 0 };
    lh_replay_set_read_stats(r, &st);
    lh_replay_free(r);
    if (getenv("LEAKHUNT_SHOW_READS"))
        fprintf(stderr, "%s: %s: decoded %" PRIu64 " chunks, %" PRIu64 " of events (%" PRIu64 " events)\n",
                prog, t->path, st.chunks, st.event_chunks, st.events);
}

/* Which --thread values name a thread of the trace, from each replay of
 * it (a replay to an early moment may not have met the thread yet). */
static void note_threads(trace *t, lh_replay *r)
{
    size_t n;
    const uint32_t *tids = lh_replay_threads(r, &n);
    for (size_t k = 0; k < opts->n_threads; k++) {
        uint64_t id = opts->threads[k];
        int found = id < n && tids[id];
        for (size_t i = 0; i < n && !found; i++)
            found = tids[i] && tids[i] == id;
        if (found)
            t->threads_found |= 1ull << k;
    }
    if (n > t->n_tids) {
        free(t->tids);
        t->tids = xcalloc(n, sizeof(uint32_t));
        memcpy(t->tids, tids, n * sizeof(uint32_t));
        t->n_tids = n;
    }
}

/* A --thread N that names no thread of the trace answered with nothing:
 * say so, with the threads there are. */
static void warn_threads(const trace *t)
{
    for (size_t k = 0; k < opts->n_threads; k++) {
        if (t->threads_found & (1ull << k))
            continue;
        fprintf(stderr, "%s: warning: --thread %" PRIu64 ": %s has no such thread (index or tid); it has", prog,
                opts->threads[k], t->path);
        size_t shown = 0;
        for (size_t i = 0; i < t->n_tids; i++)
            if (t->tids[i])
                fprintf(stderr, " #%zu (tid %u)", i, t->tids[i]), shown++;
        fprintf(stderr, "%s\n", shown ? "" : " none");
    }
}

static void add_maps(trace *t, lh_replay *r)
{
    note_threads(t, r);
    size_t n;
    const Lh__ModuleMap *const *maps = lh_replay_module_maps(r, &n);
    for (size_t i = 0; i < n; i++)
        lh_symbols_add_map(t->sym, maps[i]);
    const Lh__PyFrames *const *py = lh_replay_pyframes(r, &n);
    for (size_t i = 0; i < n; i++)
        lh_symbols_add_pyframes(t->sym, py[i]);
    const Lh__ProcessInfo *pi = lh_replay_process(r);
    struct stat st;
    if (pi)
        lh_symbols_set_pid(t->sym, pi->pid);
    if (stat(t->path, &st) == 0)
        lh_symbols_set_owner(t->sym, st.st_uid);
}

/* Traces with at least this many events get a checkpoint sidecar: a
 * checkpoint every 1/128 of the events, at least 1 M events apart, within
 * a quarter of the trace's size (at least 64 MiB) in all. Replay runs at
 * 15-90 M events/s (an idle or a loaded 2-core machine), so a question
 * about a 1 GB trace (320 M events) replays at most 2.5 M events. */
#define CKPT_MIN_EVENTS 2000000
#define CKPT_PER_TRACE 128
#define CKPT_MIN_SPACING 1000000
#define CKPT_MIN_BUDGET (64ull << 20)
static int no_checkpoints;

/* Whether the trace's sidecar may be used (or written): a foreign or
 * loosened one is left alone, said once. */
static int checkpoints_allowed(trace *t)
{
    if (no_checkpoints)
        return 0;
    if (!t->ckpt) {
        char why[4400];
        t->ckpt = lh_checkpoint_sidecar_ok(t->path, why, sizeof(why)) ? 1 : -1;
        if (t->ckpt < 0)
            fprintf(stderr, "%s: note: %s: not used and not replaced (no checkpoints for this trace; "
                            "remove it to have one made)\n", prog, why);
    }
    return t->ckpt > 0;
}

/* Start a replay at the checkpoint nearest before the point, if the trace
 * has a sidecar; otherwise, for a big trace, leave one behind. A replay
 * that needs a state no checkpoint holds (exact_state: another temporary
 * threshold, a timeline) neither reads nor writes one. */
static lh_replay *start_replay(trace *t, int kind, uint64_t value, const char *label, int exact_state)
{
    lh_replay *r = open_replay(t);
    /* LEAKHUNT_CHECKPOINT_EVERY sets both the threshold and the spacing
     * (tests use small traces). */
    const char *env = getenv("LEAKHUNT_CHECKPOINT_EVERY");
    uint64_t min = env ? strtoull(env, NULL, 10) : CKPT_MIN_EVENTS;
    if (exact_state || !min || t->sum.events < min || !checkpoints_allowed(t))
        return r;
    lh_counters fin;
    int have = lh_checkpoint_final(t->path, &fin);
    int restored = have ? lh_replay_restore(r, t->path, kind, value, label) : 0;
    if (restored < 0) { /* a damaged checkpoint: start over, and replace the sidecar */
        close_replay(t, r);
        r = open_replay(t);
        restored = have = 0;
    }
    if (restored && getenv("LEAKHUNT_SHOW_CHECKPOINT"))
        fprintf(stderr, "%s: %s: started at the checkpoint after event %" PRIu64 "\n", prog, t->path,
                lh_replay_counters(r)->events);
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
static void end_replay(const trace *t, lh_replay *r)
{
    if (lh_replay_checkpointing(r))
        lh_replay_advance(r, LH_AT_END, 0, NULL);
    close_replay(t, r);
}

/* Replay to a point; returns the replay (caller ends it with end_replay). */
static lh_replay *replay_to(trace *t, const lh_point *p, uint64_t temporary_us, uint64_t timeline_us)
{
    /* Checkpoints hold the default temporary threshold and no timeline. */
    lh_replay *r = start_replay(t, p->kind, p->value, p->label, temporary_us != 1000 || timeline_us);
    lh_replay_set_temporary_us(r, temporary_us);
    lh_replay_set_timeline(r, timeline_us);
    int rc = lh_replay_advance(r, p->kind, p->value, p->label);
    if (rc == 0 && p->kind == LH_AT_MARK)
        fprintf(stderr, "%s: warning: marker %s not reached (trace ended)\n", prog, p->text);
    if (p->kind == LH_AT_END || rc < 0)
        warn_damage(t, r);
    add_maps(t, r);
    return r;
}

static uint64_t find_peak_event(trace *t, uint64_t *peak_time)
{
    lh_counters fin;
    if (checkpoints_allowed(t) && lh_checkpoint_final(t->path, &fin)) {
        *peak_time = fin.peak_time_us;
        return fin.peak_event;
    }
    lh_replay *r = start_replay(t, LH_AT_END, 0, NULL, 0);
    lh_replay_advance(r, LH_AT_END, 0, NULL);
    const lh_counters *c = lh_replay_counters(r);
    uint64_t ev = c->peak_event;
    *peak_time = c->peak_time_us;
    close_replay(t, r);
    return ev;
}

static void resolve_point(trace *t, const char *spec, lh_point *p)
{
    char err[2048];
    if (lh_point_parse(spec, &t->sum, p, err, sizeof(err)) < 0)
        die("%s: %s", t->path, err);
    if (p->is_peak) {
        uint64_t when;
        p->value = find_peak_event(t, &when);
        snprintf(p->text, sizeof(p->text), "peak (%.3f s)", when / 1e6);
    }
}

/* Samples of the live heap of r (or its growth from base). With allocs,
 * also the sites that allocated since base (or the start) and hold nothing
 * live: the exports' alloc_* values count every allocation of the window,
 * freed or not, as pprof's alloc_space does. */
static lh_sample *samples_of(const options *o, trace *t, lh_replay *r, const lh_replay *base, int allocs,
                             size_t *n_out)
{
    size_t n, nb = 0;
    const lh_site *s = lh_replay_sites(r, &n);
    const lh_site *b = base ? lh_replay_sites(base, &nb) : NULL;
    lh_sample *out = xcalloc(n, sizeof(lh_sample));
    size_t k = 0;
    for (size_t i = 0; i < n; i++) {
        const lh_site *bs = b && i < nb ? &b[i] : NULL;
        int64_t bytes = wsub(s[i].live_bytes, bs ? bs->live_bytes : 0);
        int64_t count = wsub(s[i].live_count, bs ? bs->live_count : 0);
        int64_t ab = wsub(s[i].alloc_bytes, bs ? bs->alloc_bytes : 0);
        int64_t ac = wsub(s[i].alloc_count, bs ? bs->alloc_count : 0);
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
    *n_out = lh_select_samples(o->select, out, k);
    return out;
}

/* Samples of the live heap of r, negated (the A side of a two-trace diff). */
static void negate_into(lh_sample *s, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        s[i].v[V_BASE_BYTES] = s[i].v[V_BYTES];
        s[i].v[V_BASE_COUNT] = s[i].v[V_COUNT];
        s[i].v[V_BYTES] = wsub(0, s[i].v[V_BYTES]);
        s[i].v[V_COUNT] = wsub(0, s[i].v[V_COUNT]);
        s[i].v[V_ALLOC_BYTES] = wsub(0, s[i].v[V_ALLOC_BYTES]);
        s[i].v[V_ALLOC_COUNT] = wsub(0, s[i].v[V_ALLOC_COUNT]);
    }
}

/* --- output of rows ------------------------------------------------------------- */








/* --- exports ----------------------------------------------------------------------- */

/* Where an export goes: FILE, or stdout for "-" (the export alone there:
 * main() silences the view's own output). */
static FILE *export_open(const char *path, const char *mode)
{
    if (!strcmp(path, "-"))
        return stdout;
    FILE *out = fopen(path, mode);
    if (!out)
        die("cannot write %s: %s", path, strerror(errno));
    return out;
}

/* Done with an export: rc is the exporter's (0 or negative). */
static void export_close(const char *path, FILE *out, int rc)
{
    int err = rc < 0 ? -rc : 0;
    int failed = rc < 0;
    if (out == stdout ? fflush(stdout) != 0 || ferror(stdout) : fclose(out) != 0) {
        failed = 1;
        err = err ? err : errno;
    }
    if (failed)
        die("cannot write %s: %s", out == stdout ? "the export to stdout" : path,
            err > 1 ? strerror(err) : "i/o error");
}

static void export_flame(const options *o, const lh_sample *s, size_t n, const char *title, int is_diff)
{
    if (!o->folded && !o->flamegraph && !o->pprof && !o->speedscope)
        return;
    lh_flame *f = lh_flame_new(title, is_diff);
    if (!f || lh_flame_from_samples(f, s, n) < 0)
        die("out of memory building the flame graph");
    if (o->folded) {
        FILE *out = export_open(o->folded, "w");
        export_close(o->folded, out, lh_export_folded(f, o->value, out));
    }
    if (o->flamegraph) {
        FILE *out = export_open(o->flamegraph, "w");
        lh_svg_opts so = { o->value, 0, 0 };
        export_close(o->flamegraph, out, lh_export_svg(f, &so, out));
    }
    if (o->pprof) {
        FILE *out = export_open(o->pprof, "wb");
        export_close(o->pprof, out, lh_export_pprof(f, out));
    }
    if (o->speedscope) {
        FILE *out = export_open(o->speedscope, "w");
        export_close(o->speedscope, out, lh_export_speedscope(f, o->value, out));
    }
    lh_flame_free(f);
}

static void export_html(const options *o, trace *t)
{
    lh_report *rep = lh_report_new(t->path);
    if (!rep)
        die("out of memory");
    /* One pass with a timeline, stopping at every marker for a snapshot. */
    lh_replay *r = open_replay(t);
    uint64_t every = t->sum.end_time_us / 2000;
    lh_replay_set_timeline(r, every ? every : 1);
    for (size_t i = 0; i <= t->sum.n_markers; i++) {
        uint64_t nth = 0;
        int kind = i < t->sum.n_markers ? LH_AT_MARK : LH_AT_END;
        const char *label = i < t->sum.n_markers ? t->sum.markers[i].label : NULL;
        for (size_t j = 0; j < i && label; j++)
            nth += !strcmp(t->sum.markers[j].label, label);
        if (lh_replay_advance(r, kind, nth, label) <= 0 && kind == LH_AT_MARK)
            break;
        add_maps(t, r);
        size_t n;
        lh_sample *s = samples_of(o, t, r, NULL, 0, &n);
        lh_flame *f = lh_flame_new(label ? label : "end", 0);
        if (!f || lh_flame_from_samples(f, s, n) < 0)
            die("out of memory");
        char text[300];
        snprintf(text, sizeof(text), "%s%s", label ? "mark:" : "end", label ? label : "");
        lh_report_add_snapshot(rep, lh_replay_counters(r)->time_us / 1e6, text, f);
        free(s);
    }
    warn_damage(t, r);
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
    FILE *out = export_open(o->html, "w");
    export_close(o->html, out, lh_export_html(rep, out));
    lh_report_free(rep);
    close_replay(t, r);
}

/* --- views ------------------------------------------------------------------------- */

/* --tree: the samples' call tree under the view's title (text) or as
 * "tree" in the view's JSON object. Returns the tree's total bytes. */
static int64_t view_tree(const options *o, const lh_sample *s, size_t n, const char *title, const char *json_head)
{
    lh_flame *f = lh_flame_new(title, o->view == VIEW_DIFF);
    if (!f || lh_flame_from_site_samples(f, s, n, o->inverted) < 0)
        die("out of memory building the call tree");
    int alloc = o->value == LH_VAL_ALLOC_BYTES || o->value == LH_VAL_ALLOC_COUNT;
    int64_t total = lh_flame_total(f, alloc ? LH_VAL_ALLOC_BYTES : LH_VAL_LIVE_BYTES);
    if (!o->quiet) {
        lh_tree_opts to = { .value = o->value, .min_value = o->min_bytes, .max_children = (size_t)o->top,
                            .inverted = o->inverted, .json = o->json };
        if (o->json)
            printf("{%s, \"tree_kind\": \"%s\", \"values\": \"%s\", \"tree\": ", json_head,
                   o->inverted ? "bottom-up" : "top-down", alloc ? "allocated" : "live");
        else
            printf("%s%s\n", title, o->inverted ? ", bottom-up (allocating sites, then their callers)"
                                                 : ", top-down (callers, then callees)");
        if (lh_export_tree(f, &to, stdout) < 0)
            die("cannot write the call tree: %s", strerror(errno));
        if (o->json)
            printf("}\n");
    }
    lh_flame_free(f);
    return total;
}

static int64_t view_rows(const options *o, lh_sample *s, size_t n, const char *title, const char *json_head,
                         int (*cmp)(const void *, const void *))
{
    if (o->tree)
        return view_tree(o, s, n, title, json_head);
    size_t nr;
    lh_row *rows = lh_group(s, n, o->by, NULL, &nr);
    if (ranks_by_allocations(o))
        cmp = o->value == LH_VAL_ALLOC_COUNT ? by_alloc_count_desc : by_alloc_bytes_desc;
    qsort(rows, nr, sizeof(lh_row), cmp);
    int64_t total = print_rows(o, rows, nr, title, json_head);
    lh_rows_free(rows, nr);
    return total;
}



/* --histogram's stack test: the selection's, with the module maps the
 * replay has read so far (the hook runs mid-pass). */
typedef struct {
    const options *o;
    trace *t;
    size_t n_maps;
} hist_ctx;

static int hist_keep(void *ctx, const lh_replay *r, uint32_t stack)
{
    hist_ctx *h = ctx;
    size_t n;
    lh_replay_module_maps(r, &n);
    if (n != h->n_maps) {
        add_maps(h->t, (lh_replay *)r);
        h->n_maps = n;
    }
    return lh_select_keeps_stack(h->o->select, r, h->t->sym, stack);
}

/* --histogram: the sizes of the allocations made in the view's window:
 * from the start to the view's moment (--leaks, --stats: the whole run;
 * --at T, --peak), or from A to B (--diff). Returns the bytes. */
static int64_t run_histogram(const options *o, trace *t)
{
    lh_point from = { .kind = LH_AT_EVENT, .value = 0 }, to = { .kind = LH_AT_END };
    snprintf(from.text, sizeof(from.text), "start");
    snprintf(to.text, sizeof(to.text), "end");
    if (o->view == VIEW_AT)
        resolve_point(t, o->at, &to);
    else if (o->view == VIEW_PEAK)
        resolve_point(t, "peak", &to);
    else if (o->view == VIEW_DIFF) {
        resolve_point(t, o->from, &from);
        resolve_point(t, o->to, &to);
    }
    /* The window's start may come from a checkpoint; from there on every
     * event is replayed. */
    lh_replay *r = o->view == VIEW_DIFF ? start_replay(t, from.kind, from.value, from.label, 0) : open_replay(t);
    int rc = lh_replay_advance(r, from.kind, from.value, from.label);
    if (rc == 0 && from.kind == LH_AT_MARK)
        fprintf(stderr, "%s: warning: marker %s not reached (trace ended)\n", prog, from.text);
    uint64_t from_us = lh_replay_counters(r)->time_us;
    hist_ctx hc = { o, t, (size_t)-1 };
    lh_histogram *h = lh_histogram_new(lh_select_active(o->select) ? hist_keep : NULL, &hc);
    lh_histogram_start(h, r);
    rc = rc < 0 ? rc : lh_replay_advance(r, to.kind, to.value, to.label);
    lh_histogram_stop(h);
    if (rc == 0 && to.kind == LH_AT_MARK)
        fprintf(stderr, "%s: warning: marker %s not reached (trace ended)\n", prog, to.text);
    warn_damage(t, r);
    add_maps(t, r);
    char title[800], *head;
    size_t head_len;
    snprintf(title, sizeof(title), "%s: sizes of the allocations made from %s to %s, in power-of-two buckets",
             t->path, from.text, to.text);
    FILE *hf = head_open(&head, &head_len);
    head_str(hf, "trace", t->path);
    head_str(hf, "view", view_names[o->view]);
    head_str(hf, "from", from.text);
    head_str(hf, "to", to.text);
    fprintf(hf, ", \"from_time\": %.6f, \"to_time\": %.6f", from_us / 1e6, lh_replay_counters(r)->time_us / 1e6);
    note_sampling(hf, title, sizeof(title), r);
    int64_t total = print_histogram(o, h, title, head_close(hf, &head));
    free(head);
    lh_histogram_free(h);
    end_replay(t, r);
    return total;
}

static void run_stats(const options *o, trace *ts, size_t nt)
{
    lh_counters sum;
    memset(&sum, 0, sizeof(sum));
    int show = !o->quiet; /* --html - has stdout */
    if (show && o->json && nt > 1)
        printf("{\"traces\": [\n");
    for (size_t i = 0; i < nt; i++) {
        lh_point end = { .kind = LH_AT_END };
        lh_replay *r = replay_to(&ts[i], &end, 1000, 0);
        const lh_counters *c = lh_replay_counters(r);
        sum.allocations += c->allocations;
        sum.frees += c->frees;
        sum.bytes_allocated += c->bytes_allocated;
        sum.live_bytes += c->live_bytes;
        sum.live_count += c->live_count;
        sum.events += c->events;
        sum.lost_events += c->lost_events;
        if (show && o->json) {
            stats_json(stdout, &ts[i], r);
            printf("%s\n", nt > 1 && i + 1 < nt ? "," : "");
        } else if (show) {
            if (i)
                printf("\n");
            stats_text(&ts[i], r);
        }
        check_limit(ts[i].path, (int64_t)c->live_bytes);
        close_replay(&ts[i], r);
    }
    if (show && nt > 1) {
        if (o->json)
            printf("], \"combined\": {\"allocations\": %" PRIu64 ", \"frees\": %" PRIu64
                   ", \"bytes_allocated\": %" PRIu64 ", \"leaked_allocations\": %" PRIu64
                   ", \"leaked_bytes\": %" PRIu64 ", \"events\": %" PRIu64 ", \"lost_events\": %" PRIu64 "}}\n",
                   sum.allocations, sum.frees, sum.bytes_allocated, sum.live_count, sum.live_bytes,
                   sum.events, sum.lost_events);
        else {
            char a[32], b[32];
            printf("\ncombined     %zu traces: %s allocations, %s leaked in %s blocks\n", nt,
                   count_str((int64_t)sum.allocations, a, sizeof(a), 0),
                   human((int64_t)sum.live_bytes, b, sizeof(b), 0),
                   count_str((int64_t)sum.live_count, a, sizeof(a), 0));
        }
    }
}

static void run_point_view(const options *o, trace *t, const char *spec, const char *what)
{
    lh_point p;
    resolve_point(t, spec, &p);
    lh_replay *r = replay_to(t, &p, 1000, 0);
    size_t n;
    lh_sample *s = samples_of(o, t, r, NULL, ranks_by_allocations(o), &n);
    char title[512], *head;
    size_t head_len;
    snprintf(title, sizeof(title), "%s: %s %s, by %s", t->path, what, p.text, lh_by_name(o->by));
    FILE *h = head_open(&head, &head_len);
    head_str(h, "trace", t->path);
    head_str(h, "view", view_names[o->view]);
    head_str(h, "at", p.text);
    fprintf(h, ", \"time\": %.6f", lh_replay_counters(r)->time_us / 1e6);
    note_sampling(h, title, sizeof(title), r);
    check_limit(t->path, view_rows(o, s, n, title, head_close(h, &head), by_bytes_desc));
    free(s);
    s = samples_of(o, t, r, NULL, 1, &n);
    export_flame(o, s, n, title, 0);
    free(head);
    free(s);
    end_replay(t, r);
}

/* Samples of the growth from ra to rb: one trace's, or B's minus A's. */
static lh_sample *diff_samples(const options *o, trace *ta, trace *tb, lh_replay *ra, lh_replay *rb, int allocs, size_t *n)
{
    if (ta == tb)
        return samples_of(o, tb, rb, ra, allocs, n);
    size_t na, nb;
    lh_sample *sa = samples_of(o, ta, ra, NULL, allocs, &na);
    lh_sample *sb = samples_of(o, tb, rb, NULL, allocs, &nb);
    negate_into(sa, na);
    for (size_t i = 0; i < nb; i++) /* B's own base is what A had: added by grouping */
        sb[i].v[V_BASE_BYTES] = sb[i].v[V_BASE_COUNT] = 0;
    lh_sample *s = xcalloc(na + nb, sizeof(lh_sample));
    memcpy(s, sa, na * sizeof(lh_sample));
    memcpy(s + na, sb, nb * sizeof(lh_sample));
    *n = na + nb;
    free(sa);
    free(sb);
    return s;
}

static void run_diff(const options *o, trace *ts, size_t nt)
{
    trace *ta = &ts[0], *tb = nt > 1 ? &ts[1] : &ts[0];
    lh_point a, b;
    resolve_point(ta, o->from, &a);
    resolve_point(tb, o->to, &b);
    lh_replay *ra = replay_to(ta, &a, 1000, 0);
    lh_replay *rb = replay_to(tb, &b, 1000, 0);
    size_t n;
    lh_sample *s = diff_samples(o, ta, tb, ra, rb, ranks_by_allocations(o), &n);
    char title[1024], *head;
    size_t head_len;
    if (ta == tb)
        snprintf(title, sizeof(title), "%s: growth from %s to %s, by %s", ta->path, a.text, b.text,
                 lh_by_name(o->by));
    else
        snprintf(title, sizeof(title), "growth from %s at %s to %s at %s, by %s", ta->path, a.text,
                 tb->path, b.text, lh_by_name(o->by));
    FILE *h = head_open(&head, &head_len);
    head_str(h, "trace", ta->path);
    head_str(h, "trace_b", tb->path);
    head_str(h, "view", "diff");
    head_str(h, "from", a.text);
    head_str(h, "to", b.text);
    fprintf(h, ", \"from_time\": %.6f, \"to_time\": %.6f", lh_replay_counters(ra)->time_us / 1e6,
            lh_replay_counters(rb)->time_us / 1e6);
    note_sampling(h, title, sizeof(title), sample_interval_of(ra) ? ra : rb);
    check_limit(ta == tb ? ta->path : tb->path, view_rows(o, s, n, title, head_close(h, &head), by_bytes_desc));
    free(s);
    s = diff_samples(o, ta, tb, ra, rb, 1, &n);
    export_flame(o, s, n, title, 1);
    free(head);
    free(s);
    end_replay(ta, ra);
    end_replay(tb, rb);
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
static void run_growth(const options *o, trace *t)
{
    int w = o->windows;
    lh_replay *r = open_replay(t);
    lh_row **win = xcalloc((size_t)w + 1, sizeof(lh_row *));
    size_t *nwin = xcalloc((size_t)w + 1, sizeof(size_t));
    for (int i = 1; i <= w; i++) {
        uint64_t at = t->sum.end_time_us * (uint64_t)i / (uint64_t)w;
        lh_replay_advance(r, i == w ? LH_AT_END : LH_AT_TIME, at, NULL);
        add_maps(t, r);
        size_t n;
        lh_sample *s = samples_of(o, t, r, NULL, 0, &n);
        win[i] = lh_group(s, n, o->by, NULL, &nwin[i]);
        free(s);
    }
    warn_damage(t, r);

    /* Every site seen in any window, not only those live at the end: a
     * cache freed at exit still shows how it grew and levelled off. Rows
     * are borrowed from the windows (latest window wins). */
    size_t total = 0;
    for (int i = 1; i <= w; i++)
        total += nwin[i];
    lh_row *rows = xcalloc(total, sizeof(lh_row));
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
        /* Growth counts from the first window where the site exists. */
        int first = 1;
        while (first < m && series[first] == 0)
            first++;
        /* A step rises when it adds more than 1% (allocator and size
         * noise of a steady structure stays below that). */
        int rising = 0;
        for (int i = first + 1; i <= m; i++)
            if (series[i] > series[i - 1] + series[i - 1] / 100)
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
        rows[k].extra[0] = wsub(series[m], series[first]);
        rows[k].extra[1] = rising;
        rows[k].extra[2] = series[m] > early_max + margin;
        rows[k].extra[3] = m - 1;
    }
    qsort(rows, nr, sizeof(lh_row), by_growth);
    char title[600], *head;
    size_t head_len;
    snprintf(title, sizeof(title), "%s: growth over %d windows of %.3f s, by %s", t->path, w,
             t->sum.end_time_us / 1e6 / w, lh_by_name(o->by));
    FILE *h = head_open(&head, &head_len);
    head_str(h, "trace", t->path);
    head_str(h, "view", "growth");
    fprintf(h, ", \"windows\": %d", w);
    note_sampling(h, title, sizeof(title), r);
    print_rows(o, rows, nr, title, head_close(h, &head));
    free(head);
    size_t nlast;
    lh_sample *last = samples_of(o, t, r, NULL, 1, &nlast);
    export_flame(o, last, nlast, title, 0);
    free(last);
    free(rows); /* borrowed rows: their keys belong to the windows */
    for (int i = 1; i <= w; i++)
        lh_rows_free(win[i], nwin[i]);
    free(win);
    free(nwin);
    close_replay(t, r);
}

static void run_temporary(const options *o, trace *t)
{
    lh_point end = { .kind = LH_AT_END };
    lh_replay *r = replay_to(t, &end, (uint64_t)o->temporary_ms * 1000, 0);
    size_t n, k = 0;
    const lh_site *sites = lh_replay_sites(r, &n);
    lh_sample *s = xcalloc(n, sizeof(lh_sample));
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
    k = lh_select_samples(o->select, s, k);
    char title[600], *head;
    size_t head_len;
    snprintf(title, sizeof(title), "%s: allocations freed within %ld ms, by %s", t->path, o->temporary_ms,
             lh_by_name(o->by));
    FILE *h = head_open(&head, &head_len);
    head_str(h, "trace", t->path);
    head_str(h, "view", "temporary");
    fprintf(h, ", \"within_ms\": %ld", o->temporary_ms);
    note_sampling(h, title, sizeof(title), r);
    check_limit(t->path, view_rows(o, s, k, title, head_close(h, &head), by_count_desc));
    free(head);
    export_flame(o, s, k, title, 0);
    free(s);
    close_replay(t, r);
}

/* --- options ----------------------------------------------------------------------- */

static int64_t parse_size(const char *opt, const char *v)
{
    char *end;
    errno = 0;
    double x = strtod(v, &end);
    double mul = 1;
    if (*end == 'K' || *end == 'k') mul = 1024, end++;
    else if (*end == 'M' || *end == 'm') mul = 1048576, end++;
    else if (*end == 'G' || *end == 'g') mul = 1073741824, end++;
    if (*end == 'B' || *end == 'b') end++;
    if (errno || end == v || *end || x < 0)
        die("%s '%s': expected a size such as 4096, 64K or 1.5M", opt, v);
    return (int64_t)(x * mul);
}

static long parse_long(const char *opt, const char *v, long lo, long hi)
{
    char *end;
    errno = 0;
    long x = strtol(v, &end, 10);
    if (errno || end == v || *end || x < lo || x > hi)
        die("%s '%s': expected a whole number from %ld to %ld", opt, v, lo, hi);
    return x;
}

static void set_view(options *o, int view, const char *opt)
{
    if (o->view_set && o->view != view)
        die("%s: choose one view (%s was given already)", opt, view_names[o->view]);
    o->view = view;
    o->view_set = 1;
}

int main(int argc, char **argv)
{
    enum { O_AT = 256, O_DIFF, O_LEAKS, O_PEAK, O_STATS, O_GROWTH, O_TEMP, O_BY, O_TOP, O_FILTER,
           O_MIN, O_FORMAT, O_FOLDED, O_FLAME, O_PPROF, O_SPEED, O_HTML, O_VALUE, O_TEMP_MS,
           O_WINDOWS, O_VERSION, O_NO_CKPT, O_ALLOC_FN, O_EXCLUDE, O_SUPP, O_THREAD, O_TREE, O_INVERTED, O_HIST, O_FAIL_OVER };
    static const struct option longopts[] = {
        { "at", required_argument, 0, O_AT },
        { "diff", required_argument, 0, O_DIFF },
        { "leaks", no_argument, 0, O_LEAKS },
        { "peak", no_argument, 0, O_PEAK },
        { "stats", no_argument, 0, O_STATS },
        { "growth", no_argument, 0, O_GROWTH },
        { "temporary", no_argument, 0, O_TEMP },
        { "temporary-ms", required_argument, 0, O_TEMP_MS },
        { "by", required_argument, 0, O_BY },
        { "top", required_argument, 0, O_TOP },
        { "filter", required_argument, 0, O_FILTER },
        { "min-bytes", required_argument, 0, O_MIN },
        { "format", required_argument, 0, O_FORMAT },
        { "folded", optional_argument, 0, O_FOLDED },
        { "flamegraph", required_argument, 0, O_FLAME },
        { "pprof", required_argument, 0, O_PPROF },
        { "speedscope", required_argument, 0, O_SPEED },
        { "html", required_argument, 0, O_HTML },
        { "value", required_argument, 0, O_VALUE },
        { "windows", required_argument, 0, O_WINDOWS },
        { "no-checkpoints", no_argument, 0, O_NO_CKPT },
        { "alloc-fn", required_argument, 0, O_ALLOC_FN },
        { "exclude", required_argument, 0, O_EXCLUDE },
        { "suppressions", required_argument, 0, O_SUPP },
        { "thread", required_argument, 0, O_THREAD },
        { "tree", no_argument, 0, O_TREE },
        { "inverted", no_argument, 0, O_INVERTED },
        { "histogram", no_argument, 0, O_HIST },
        { "fail-over", required_argument, 0, O_FAIL_OVER },
        { "help", no_argument, 0, 'h' },
        { "version", no_argument, 0, O_VERSION },
        { 0, 0, 0, 0 },
    };
    options o = { .view = VIEW_LEAKS, .by = LH_BY_LINE, .top = 10, .value = LH_VAL_LIVE_BYTES,
                  .temporary_ms = 1, .windows = 10, .fail_over = -1 };
    const char *files[64];
    size_t nfiles = 0;
    int c;
    opts = &o;
    lh_select *sel = lh_select_new();
    lh_suppressions *sup = lh_suppressions_new();
    lh_alloc_fns *alloc_fns = lh_alloc_fns_new();
    lh_select_suppressions(sel, sup);
    o.select = sel;
    opterr = 0;
    while ((c = getopt_long(argc, argv, "-h", longopts, NULL)) != -1) {
        switch (c) {
        case 1:
            if (nfiles == 64)
                die("too many trace files (64 at most)");
            files[nfiles++] = optarg;
            break;
        case O_AT: set_view(&o, VIEW_AT, "--at"); o.at = optarg; break;
        case O_DIFF:
            set_view(&o, VIEW_DIFF, "--diff");
            o.from = optarg;
            if (optind >= argc || argv[optind][0] == '-')
                die("--diff needs two moments: --diff A B (for example --diff mark:warm mark:loaded)");
            o.to = argv[optind++];
            break;
        case O_LEAKS: set_view(&o, VIEW_LEAKS, "--leaks"); break;
        case O_PEAK: set_view(&o, VIEW_PEAK, "--peak"); break;
        case O_STATS: set_view(&o, VIEW_STATS, "--stats"); break;
        case O_GROWTH: set_view(&o, VIEW_GROWTH, "--growth"); break;
        case O_TEMP: set_view(&o, VIEW_TEMPORARY, "--temporary"); break;
        case O_TEMP_MS: o.temporary_ms = parse_long("--temporary-ms", optarg, 0, 3600000); break;
        case O_BY:
            o.by = lh_by_parse(optarg);
            if (o.by < 0)
                die("--by '%s': expected stack, function, line or module", optarg);
            break;
        case O_TOP: o.top = parse_long("--top", optarg, 0, 100000000); break;
        case O_FILTER:
            if (!*optarg)
                die("--filter '': give a text that a function, file or module name contains");
            lh_select_include(sel, optarg);
            break;
        case O_EXCLUDE:
            if (!*optarg)
                die("--exclude '': give a text that a function, file or module name contains");
            lh_select_exclude(sel, optarg);
            break;
        case O_SUPP: {
            char err[1200];
            if (lh_suppressions_load(sup, optarg, err, sizeof(err)) < 0)
                die("%s", err);
            break;
        }
        case O_TREE: o.tree = 1; break;
        case O_INVERTED: o.inverted = 1; break;
        case O_HIST: o.histogram = 1; break;
        case O_FAIL_OVER: o.fail_over = parse_size("--fail-over", optarg); break;
        case O_THREAD:
            if (o.n_threads == sizeof(o.threads) / sizeof(o.threads[0]))
                die("--thread: 64 threads at most");
            /* "#1" as --stats writes it, or 1 */
            o.threads[o.n_threads++] = (uint64_t)parse_long("--thread", optarg + (*optarg == '#'), 0, 0x7fffffff);
            /* Checkpoints hold every thread's heap. */
            no_checkpoints = 1;
            break;
        case O_ALLOC_FN:
            if (lh_alloc_fns_add(alloc_fns, optarg) < 0)
                die("--alloc-fn '': give a function name or a glob such as 'my_*alloc'");
            o.alloc_fns = alloc_fns;
            break;
        case O_MIN: o.min_bytes = parse_size("--min-bytes", optarg); break;
        case O_FORMAT:
            if (!strcmp(optarg, "json")) o.json = 1;
            else if (!strcmp(optarg, "text")) o.json = 0;
            else die("--format '%s': expected text or json", optarg);
            break;
        case O_FOLDED:
            if (!optarg && optind < argc && (argv[optind][0] != '-' || !strcmp(argv[optind], "-"))
                && !strstr(argv[optind], ".lht"))
                optarg = argv[optind++];
            o.folded = optarg ? optarg : "-";
            break;
        case O_FLAME: o.flamegraph = optarg; break;
        case O_PPROF: o.pprof = optarg; break;
        case O_SPEED: o.speedscope = optarg; break;
        case O_HTML: o.html = optarg; break;
        case O_VALUE:
            o.value = lh_flame_value_parse(optarg);
            if (o.value < 0)
                die("--value '%s': expected live_bytes, live_count, alloc_bytes or alloc_count", optarg);
            break;
        case O_WINDOWS: o.windows = (int)parse_long("--windows", optarg, 2, 1000); break;
        case O_NO_CKPT: no_checkpoints = 1; break;
        case 'h': usage(stdout); return 0;
        case O_VERSION: printf("%s " LH_VERSION_LINE "\n", prog); return 0;
        default:
            if (optopt >= 256 || optopt == 0)
                die("unknown option '%s' (see --help)", argv[optind - 1]);
            die("option '%s' needs a value (see --help)", argv[optind - 1]);
        }
    }
    if (o.inverted && !o.tree)
        die("--inverted: only with --tree (--tree --inverted: the sites, then their callers)");
    if (o.tree && (o.view == VIEW_STATS || o.view == VIEW_GROWTH))
        die("--tree: not for --%s (use it with --leaks, --at, --peak, --diff or --temporary)", view_names[o.view]);
    if (o.fail_over >= 0 && o.view == VIEW_GROWTH)
        die("--fail-over: not for --growth (use --leaks, --diff A B, --peak or --stats)");
    if (o.histogram && o.tree)
        die("--histogram and --tree: choose one");
    if (o.histogram && (o.view == VIEW_GROWTH || o.view == VIEW_TEMPORARY))
        die("--histogram: not for --%s (use it with --leaks, --stats, --at, --peak or --diff)", view_names[o.view]);
    if (o.histogram && o.view == VIEW_DIFF && nfiles > 1)
        die("--histogram --diff: one trace (the allocations made between two of its moments)");
    if (!nfiles)
        die("no trace given (usage: leakhunt-replay TRACE [view] [options]; see --help)");
    /* An export on stdout replaces the view's own output there (--stats
     * makes no flame exports, so only --html - silences it). */
    const char *to_stdout[] = { o.folded, o.flamegraph, o.pprof, o.speedscope, o.html };
    static const char *const export_opts[] = { "--folded", "--flamegraph", "--pprof", "--speedscope", "--html" };
    int n_stdout = 0, first_stdout = -1;
    for (int i = 0; i < 5; i++) {
        if (!to_stdout[i] || strcmp(to_stdout[i], "-"))
            continue;
        if (n_stdout++)
            die("%s - and %s -: only one export can go to stdout", export_opts[first_stdout], export_opts[i]);
        first_stdout = i;
        if (i == 4 || o.view != VIEW_STATS)
            o.quiet = 1;
    }
    if (o.view == VIEW_DIFF && nfiles > 2)
        die("--diff takes one trace (two moments) or two traces (baseline, then the other)");

    trace *ts = xcalloc(nfiles, sizeof(trace));
    for (size_t i = 0; i < nfiles; i++) {
        char err[512];
        ts[i].path = files[i];
        if (access(files[i], R_OK) < 0)
            die("%s: %s", files[i], strerror(errno));
        if (lh_trace_summarize(files[i], &ts[i].sum, err, sizeof(err)) < 0)
            die("%s", err);
        ts[i].sym = lh_symbols_new();
        if (!ts[i].sym)
            die("out of memory");
    }

    if (o.histogram) {
        for (size_t i = 0; i < nfiles; i++) {
            if (i && !o.json && !o.quiet)
                printf("\n");
            check_limit(ts[i].path, run_histogram(&o, &ts[i]));
        }
    } else switch (o.view) {
    case VIEW_STATS: run_stats(&o, ts, nfiles); break;
    case VIEW_DIFF: run_diff(&o, ts, nfiles); break;
    default:
        for (size_t i = 0; i < nfiles; i++) {
            if (i && !o.json && !o.quiet)
                printf("\n");
            if (o.view == VIEW_AT) run_point_view(&o, &ts[i], o.at, "live heap at");
            else if (o.view == VIEW_LEAKS) run_point_view(&o, &ts[i], "end", "still allocated at");
            else if (o.view == VIEW_PEAK) run_point_view(&o, &ts[i], "peak", "heap at");
            else if (o.view == VIEW_GROWTH) run_growth(&o, &ts[i]);
            else if (o.view == VIEW_TEMPORARY) run_temporary(&o, &ts[i]);
        }
    }
    if (o.html)
        export_html(&o, &ts[0]);
    for (size_t i = 0; i < nfiles; i++) {
        warn_threads(&ts[i]);
        free(ts[i].tids);
        lh_symbols_warnings(ts[i].sym, print_warning, NULL);
        lh_symbols_free(ts[i].sym);
        lh_trace_summary_free(&ts[i].sum);
    }
    free(ts);
    lh_select_free(sel);
    lh_suppressions_free(sup);
    lh_alloc_fns_free(alloc_fns);
    fflush(stdout);
    /* The gate failed: 3 whatever else (a damaged trace's prefix is over
     * the limit already). */
    return over_limit ? 3 : exit_code;
}
