/*
 * fuzz_checkpoint.c - libFuzzer harness for the replay checkpoint sidecar
 * (analyze/checkpoint.c): the input is the bytes of a TRACE.ckpt.
 *
 * A small trace (stack nodes and a thread added half-way, markers, a label
 * seen twice, RSS, lost events, mappings) is written once into a private
 * directory with a fixed modification time; the header that ties a
 * sidecar to it (struct sizes, the trace's size, times, inode and footer
 * frame) is taken from a sidecar the engine writes in setup and laid over
 * the inputs (below), so the seeds stay valid from run to run. Each input then becomes that trace's
 * sidecar in up to three forms:
 *   as is;
 *   with the trace's header laid over a header naming another trace, or put
 *   in front of anything else, so mutations get past the identity check;
 *   that, with the XXH64 of every checkpoint and of the end record
 *   recomputed, so mutations reach what restore and the engine after it do
 *   with a state whose checksum holds.
 * For each form, replays start the way leakhunt-replay starts them
 * (lh_replay_restore, a new replay when it failed half-way), advance to a
 * moment (an event, a time, a marker or the end: exactly at a checkpoint,
 * just before one, between two, before the first), then on to the end.
 * The heap at both (counters, per-stack sites, markers, RSS, threads, end
 * time) must equal the one computed once without a sidecar, and
 * lh_checkpoint_final must give the final counters or nothing (abort
 * otherwise).
 *
 * A checksum is not a signature: restore trusts a checkpoint whose XXH64
 * holds. So the harness reads each form itself, the way list_checkpoints
 * does, and when one holds a checkpoint whose checksum holds but whose
 * state is not the real state at its offset (the third form, or libFuzzer
 * copying the compared sum into the input), that form is only checked for
 * memory safety. Any other form must give the answers of no sidecar: a
 * damaged checkpoint is never loaded, a real one changes nothing.
 *
 * Setup also makes the sidecar a FIFO once: restore and lh_checkpoint_final
 * must turn it down at once, not wait for a writer.
 *
 * FUZZ_CHECKPOINT_SEEDS=DIR build-fuzz/fuzz_checkpoint writes the sidecars
 * of real checkpointing passes over the trace into DIR and exits (make
 * fuzz-corpus).
 *
 * Run over regression inputs: build-fuzz/fuzz_checkpoint tests/fuzz/regress/checkpoint/FILE...
 */
#include <fcntl.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>
#include <xxhash.h>

#include "lh_trace.h"
#include "fixture.h"
#include "replay_int.h" /* live_block and region: the sidecar holds them raw */

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* The sidecar layout of checkpoint.c, which keeps it private; setup checks
 * these against a sidecar the engine wrote, so a change there stops the
 * harness instead of leaving it to fuzz a layout that no longer exists. */
#define CK_MAGIC "LHCKPT02"
#define CK_MAX 128
typedef struct {
    char magic[8];
    uint32_t sizes[4];
    uint64_t trace_size;
    int64_t trace_mtime_ns;
    uint64_t trace_dev, trace_ino;
    int64_t trace_ctime_ns;
    uint8_t footer_frame[16];
    uint64_t footer_offset;
} ck_header;
typedef struct {
    uint32_t tag, pad;
    uint64_t offset;
    uint64_t n_live, n_nodes, n_regions, n_tids;
    lh_counters c;
} ck_record;

#define N_CHUNKS 7 /* of events; the last one frees and unmaps everything */
#define CHUNK_EVENTS 24
#define N_SLOTS (CHUNK_EVENTS - 1)

static char dir[256], trace_path[300], ckpt_path[310];
static int ckpt_fd = -1;
static uint64_t chunk_end_time[N_CHUNKS]; /* time of each events chunk's last event */
static uint8_t header[sizeof(ck_header)];

/* --- the trace -------------------------------------------------------------------- */

static uint64_t rng = 0x2545F4914F6CDD1Dull;

static uint64_t rnd(void)
{
    rng ^= rng << 13;
    rng ^= rng >> 7;
    rng ^= rng << 17;
    return rng;
}

/* One chunk's events: allocations, frees, reallocs and mappings over a
 * few slots, so the live set and the regions change from checkpoint to
 * checkpoint; a few frees of addresses never allocated. The last chunk
 * frees every block and unmaps every region, so a block or region a
 * checkpoint got wrong shows in the answers at the end, not only those
 * of the checkpoint's own moment. */
static void gen_chunk(lh_event *ev, uint64_t *t, uint32_t n_stacks, uint32_t n_threads, int last)
{
    static uint64_t live[N_SLOTS];
    static uint64_t gen;
    for (size_t i = 0; i < CHUNK_EVENTS; i++) {
        lh_event *e = &ev[i];
        memset(e, 0, sizeof *e);
        *t += rnd() % 4;
        e->time_us = *t;
        e->thread = (uint32_t)(rnd() % n_threads);
        size_t k = rnd() % N_SLOTS;
        uint64_t r = rnd() % 16;
        if (last && i == N_SLOTS) {
            e->kind = LH_EV_MUNMAP;
            e->addr = 0x7f0000000000ull;
            e->size = 0x100000;
        } else if (last) {
            e->kind = LH_EV_FREE;
            e->addr = live[i] ? live[i] : 0x600000000000ull;
            live[i] = 0;
        } else if (r == 0) {
            e->kind = LH_EV_MMAP;
            e->addr = 0x7f0000000000ull + (rnd() % 8) * 0x10000;
            e->size = 0x1000 * (1 + rnd() % 4);
            e->stack = (uint32_t)(1 + rnd() % n_stacks);
        } else if (r == 1) {
            e->kind = LH_EV_MUNMAP;
            e->addr = 0x7f0000000000ull + (rnd() % 8) * 0x10000 + 0x1000 * (rnd() % 2);
            e->size = 0x1000 * (1 + rnd() % 2);
        } else if (r == 2) {
            e->kind = LH_EV_FREE;
            e->addr = 0x600000000000ull + (rnd() % 64) * 16; /* never allocated */
        } else if (live[k] && r < 5) {
            e->kind = LH_EV_REALLOC;
            e->old_addr = live[k];
            e->addr = live[k] = 0x555500000000ull + (++gen << 6);
            e->size = 16 + rnd() % 200;
            e->stack = (uint32_t)(1 + rnd() % n_stacks);
        } else if (live[k]) {
            e->kind = LH_EV_FREE;
            e->addr = live[k];
            live[k] = 0;
        } else {
            e->kind = LH_EV_ALLOC;
            e->addr = live[k] = 0x555500000000ull + (++gen << 6);
            e->size = 8 + rnd() % 500;
            e->stack = (uint32_t)(rnd() % (n_stacks + 1));
        }
    }
}

static void put_stacks(lh_writer *w, uint32_t first, uint32_t n)
{
    uint32_t parents[8];
    uint64_t ips[8];
    for (uint32_t i = 0; i < n; i++) {
        parents[i] = first + i > 1 ? (first + i) / 2 : 0;
        ips[i] = 0x401000 + 0x10 * (first + i);
    }
    fixture_stacks(w, first, parents, ips, n);
}

static void put_thread(lh_writer *w, uint32_t index, uint64_t t)
{
    Lh__ThreadInfo ti;
    lh__thread_info__init(&ti);
    ti.has_index = ti.has_tid = ti.has_time_us = 1;
    ti.index = index;
    ti.tid = 4321 + index;
    ti.time_us = t;
    lh_writer_put(w, LH_CHUNK_THREAD, &ti.base, t, t);
}

static void write_trace(void)
{
    int rc, fd = open(trace_path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    lh_writer *w = fd < 0 ? NULL : lh_writer_open(fd, NULL, &rc);
    if (!w)
        abort();
    fixture_process_and_module(w, 4321, "/bin/app", 0x400000, 0x2000, 0);
    put_stacks(w, 1, 6);
    put_thread(w, 0, 0);
    put_thread(w, 1, 0);

    lh_event ev[CHUNK_EVENTS];
    uint64_t t = 100;
    uint32_t n_stacks = 6, n_threads = 2;
    for (int c = 0; c < N_CHUNKS; c++) {
        switch (c) {
        case 1:
            fixture_marker(w, "warm", t);
            break;
        case 2: /* known only after the first checkpoints: restore must read them */
            put_stacks(w, 7, 3);
            put_thread(w, 2, t);
            n_stacks = 9, n_threads = 3;
            break;
        case 3: {
            Lh__RssSample r;
            lh__rss_sample__init(&r);
            r.has_time_us = r.has_rss_bytes = 1;
            r.time_us = t;
            r.rss_bytes = 1 << 20;
            lh_writer_put(w, LH_CHUNK_RSS, &r.base, t, t);
            Lh__Lost l;
            lh__lost__init(&l);
            l.has_count = 1;
            l.count = 3;
            lh_writer_put(w, LH_CHUNK_LOST, &l.base, t, t);
            fixture_marker(w, "warm", t);
            break;
        }
        case 5:
            fixture_marker(w, "loaded", t);
            break;
        }
        gen_chunk(ev, &t, n_stacks, n_threads, c == N_CHUNKS - 1);
        if (lh_writer_events(w, ev, CHUNK_EVENTS) != LH_OK)
            abort();
        chunk_end_time[c] = t;
    }
    if (lh_writer_finish(w, t + 10, 3, 0) != LH_OK)
        abort();
    lh_writer_free(w);
    /* A fixed mtime: the sidecar header (and so every seed) is the same in every run. */
    struct timespec times[2] = { { 1700000000, 123456789 }, { 1700000000, 123456789 } };
    if (futimens(fd, times) != 0 || close(fd) != 0)
        abort();
}

static uint8_t *read_whole(const char *path, size_t *size)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    uint8_t *buf = NULL;
    size_t n = 0, cap = 0, got;
    do {
        if (n == cap && !(buf = realloc(buf, cap = cap ? cap * 2 : 65536)))
            abort();
        got = fread(buf + n, 1, cap - n, f);
        n += got;
    } while (got);
    fclose(f);
    *size = n;
    return buf;
}

/* Sidecar of a full pass writing a checkpoint every `every` events, in memory. */
static uint8_t *real_sidecar(uint64_t every, size_t *size)
{
    char err[512];
    unlink(ckpt_path);
    lh_replay *r = lh_replay_open(trace_path, err, sizeof err);
    if (!r)
        abort();
    lh_replay_checkpoint_every(r, trace_path, every);
    if (lh_replay_advance(r, LH_AT_END, 0, NULL) != 1)
        abort();
    lh_replay_free(r);
    uint8_t *s = read_whole(ckpt_path, size);
    if (!s) {
        fprintf(stderr, "fuzz_checkpoint: a full pass left no %s\n", ckpt_path);
        abort();
    }
    unlink(ckpt_path);
    return s;
}

/* --- reading a sidecar as list_checkpoints does ------------------------------------ */

typedef struct {
    const uint8_t *at;   /* the record; its state follows */
    ck_record rec;
    uint64_t state_len;  /* bytes of state after the record */
    int sum_ok;          /* the state is all there and its XXH64 holds */
} ck_item;

typedef struct {
    size_t n;            /* checkpoints */
    ck_item item[CK_MAX];
    ck_item end;
    int header_ok, ended;
} ck_walk;

static uint64_t state_len(const ck_record *r)
{
    return r->n_live * sizeof(live_block) + r->n_nodes * sizeof(lh_site) + r->n_regions * sizeof(region)
           + r->n_tids * sizeof(uint32_t);
}

/* Walk d as list_checkpoints does. With seal set, write the right sum after
 * every record whose state is all there first (d must be writable then). */
static void walk(uint8_t *d, size_t size, ck_walk *w, int seal)
{
    memset(w, 0, sizeof *w);
    w->header_ok = size >= sizeof header && !memcmp(d, header, sizeof header);
    size_t pos = sizeof header;
    while (w->header_ok && size >= pos && size - pos >= sizeof(ck_record)) {
        ck_item it = { .at = d + pos };
        memcpy(&it.rec, d + pos, sizeof it.rec);
        const ck_record *r = &it.rec;
        if (r->tag == 'E') {
            if (size - pos - sizeof *r >= sizeof(uint64_t)) {
                uint64_t sum = XXH64(d + pos, sizeof *r, 0), got;
                if (seal)
                    memcpy(d + pos + sizeof *r, &sum, sizeof sum);
                memcpy(&got, d + pos + sizeof *r, sizeof got);
                it.sum_ok = w->ended = got == sum;
            }
            w->end = it;
            break;
        }
        if (r->tag != 'C' || w->n == CK_MAX || r->n_live > (1ull << 34) || r->n_nodes > (1ull << 32)
            || r->n_regions > (1ull << 32) || r->n_tids > (1ull << 20))
            break;
        it.state_len = state_len(r);
        uint64_t left = size - pos - sizeof *r;
        if (it.state_len <= left && left - it.state_len >= sizeof(uint64_t)) {
            uint64_t sum = XXH64(d + pos, sizeof *r + it.state_len, 0), got;
            if (seal)
                memcpy(d + pos + sizeof *r + it.state_len, &sum, sizeof sum);
            memcpy(&got, d + pos + sizeof *r + it.state_len, sizeof got);
            it.sum_ok = got == sum;
        }
        w->item[w->n++] = it;
        if (it.state_len > left || left - it.state_len < sizeof(uint64_t))
            break; /* fseek past the end, then no end record */
        pos += sizeof *r + it.state_len + sizeof(uint64_t);
    }
}

static int cmp_block(const void *a, const void *b)
{
    const live_block *x = a, *y = b;
    if (x->addr != y->addr)
        return x->addr < y->addr ? -1 : 1;
    if (x->size != y->size)
        return x->size < y->size ? -1 : 1;
    if (x->time_us != y->time_us)
        return x->time_us < y->time_us ? -1 : 1;
    return x->stack < y->stack ? -1 : x->stack > y->stack;
}

/* Live blocks of a checkpoint, sorted (compare them with cmp_block: the
 * padding is whatever the writer's stack held). */
static live_block *blocks_of(const ck_item *it)
{
    size_t n = (size_t)it->rec.n_live;
    live_block *b = malloc((n ? n : 1) * sizeof *b);
    if (!b)
        abort();
    memcpy(b, it->at + sizeof(ck_record), n * sizeof *b);
    qsort(b, n, sizeof *b, cmp_block);
    return b;
}

static ck_walk real; /* every checkpoint the engine can write for the trace */
static uint8_t *real_bytes;
static size_t real_size;

static int same_record(const ck_record *a, const ck_record *b)
{
    return a->tag == b->tag && a->offset == b->offset && a->n_live == b->n_live && a->n_nodes == b->n_nodes
           && a->n_regions == b->n_regions && a->n_tids == b->n_tids && !memcmp(&a->c, &b->c, sizeof a->c);
}

/* Is the checkpoint the state the engine really had at its offset? Its
 * bytes may differ where nothing is read (padding) or in the order of the
 * live blocks. */
static int is_real(const ck_item *it)
{
    const ck_item *g = NULL;
    for (size_t i = 0; i < real.n && !g; i++)
        if (real.item[i].rec.offset == it->rec.offset)
            g = &real.item[i];
    if (!g || !same_record(&it->rec, &g->rec))
        return 0;
    live_block *a = blocks_of(it), *b = blocks_of(g);
    int same = 1;
    for (size_t i = 0; same && i < g->rec.n_live; i++)
        same = !cmp_block(&a[i], &b[i]);
    free(a);
    free(b);
    const uint8_t *p = it->at + sizeof(ck_record) + g->rec.n_live * sizeof(live_block);
    const uint8_t *q = g->at + sizeof(ck_record) + g->rec.n_live * sizeof(live_block);
    size_t sites = (size_t)g->rec.n_nodes * sizeof(lh_site);
    same = same && !memcmp(p, q, sites);
    p += sites, q += sites;
    for (size_t i = 0; same && i < g->rec.n_regions; i++) {
        region x, y;
        memcpy(&x, p + i * sizeof x, sizeof x);
        memcpy(&y, q + i * sizeof y, sizeof y);
        same = x.start == y.start && x.end == y.end && x.stack == y.stack;
    }
    p += g->rec.n_regions * sizeof(region), q += g->rec.n_regions * sizeof(region);
    return same && !memcmp(p, q, (size_t)g->rec.n_tids * sizeof(uint32_t));
}

/* --- moments and their answers without a sidecar ------------------------------------ */

typedef struct {
    const char *name;
    int kind;
    uint64_t value;
    const char *label;
    int time_chunk;      /* LH_AT_TIME: the time of this chunk's last event (from 1), */
    int64_t time_plus;   /* plus this */
    int restores;        /* from the engine's own sidecar */
    int rc;
    lh_counters c;
    lh_site *sites;
    size_t n_sites;
    lh_marker *marks;
    size_t n_marks, n_rss, n_maps, threads;
    uint64_t end_time;
    int complete;
} moment;

/* Between them the moments pick every checkpoint of the engine's own
 * sidecar; some sit exactly at a checkpoint, some one event or one µs
 * before one (which must not be taken), one at a marker just where a
 * checkpoint resumes. Times are set up from the generated events. */
static moment moments[] = {
    { .name = "an event before the first checkpoint", .kind = LH_AT_EVENT, .value = CHUNK_EVENTS / 2 },
    { .name = "the event of the first checkpoint", .kind = LH_AT_EVENT, .value = CHUNK_EVENTS, .restores = 1 },
    { .name = "mark:warm", .kind = LH_AT_MARK, .value = 0, .label = "warm", .restores = 1 },
    { .name = "the event before the second checkpoint", .kind = LH_AT_EVENT, .value = 2 * CHUNK_EVENTS - 1,
      .restores = 1 },
    { .name = "an event inside the third chunk", .kind = LH_AT_EVENT, .value = 2 * CHUNK_EVENTS + 5, .restores = 1 },
    { .name = "a time just before the third checkpoint's", .kind = LH_AT_TIME, .time_chunk = 3, .time_plus = -1,
      .restores = 1 },
    { .name = "the time of the third checkpoint", .kind = LH_AT_TIME, .time_chunk = 3, .restores = 1 },
    { .name = "mark:warm#2", .kind = LH_AT_MARK, .value = 1, .label = "warm", .restores = 1 },
    { .name = "a time inside the fifth chunk", .kind = LH_AT_TIME, .time_chunk = 5, .time_plus = -10, .restores = 1 },
    { .name = "mark:loaded", .kind = LH_AT_MARK, .value = 0, .label = "loaded", .restores = 1 },
    { .name = "an event inside the last chunk", .kind = LH_AT_EVENT, .value = 6 * CHUNK_EVENTS + 5, .restores = 1 },
    { .name = "mark:never", .kind = LH_AT_MARK, .value = 0, .label = "never" },
    { .name = "end", .kind = LH_AT_END, .restores = 1 },
};
#define N_MOMENTS (sizeof moments / sizeof *moments)
static lh_counters final_counters;

static lh_replay *open_trace(void)
{
    char err[512];
    lh_replay *r = lh_replay_open(trace_path, err, sizeof err);
    if (!r) {
        fprintf(stderr, "fuzz_checkpoint: %s\n", err);
        abort();
    }
    return r;
}

static void take_reference(moment *m)
{
    lh_replay *r = open_trace();
    m->rc = lh_replay_advance(r, m->kind, m->value, m->label);
    m->c = *lh_replay_counters(r);
    const lh_site *s = lh_replay_sites(r, &m->n_sites);
    m->sites = malloc(m->n_sites * sizeof *s);
    const lh_marker *k = lh_replay_markers(r, &m->n_marks);
    m->marks = calloc(m->n_marks + 1, sizeof *k);
    if (!m->sites || !m->marks)
        abort();
    memcpy(m->sites, s, m->n_sites * sizeof *s);
    for (size_t i = 0; i < m->n_marks; i++) {
        m->marks[i] = k[i];
        if (!(m->marks[i].label = strdup(k[i].label)))
            abort();
    }
    (void)lh_replay_rss(r, &m->n_rss);
    (void)lh_replay_module_maps(r, &m->n_maps);
    m->threads = lh_replay_thread_count(r);
    m->end_time = lh_replay_end_time(r);
    m->complete = lh_replay_complete(r);
    if (lh_replay_damage(r, NULL))
        abort();
    if (m->kind == LH_AT_END) {
        final_counters = m->c;
        final_counters.time_us = m->end_time;
    }
    lh_replay_free(r);
}

static void cleanup(void);

static void wrong(const char *form, const char *at, const char *what)
{
    fprintf(stderr, "fuzz_checkpoint: %s sidecar, at %s: %s\n", form, at, what);
    cleanup(); /* abort() skips atexit; libFuzzer keeps the input */
    abort();
}

static void differs(const char *form, const char *at, const char *what)
{
    char msg[200];
    snprintf(msg, sizeof msg, "%s differs from the replay without a sidecar", what);
    wrong(form, at, msg);
}

/* r, advanced to m (after moment `after`, if set), against the reference. */
static void check_same(const lh_replay *r, int rc, const moment *m, const moment *after, const char *form)
{
    char at[200];
    if (after)
        snprintf(at, sizeof at, "%s after %s", m->name, after->name);
    else
        snprintf(at, sizeof at, "%s", m->name);
    size_t n;
    if (rc != m->rc)
        differs(form, at, "the advance's result");
    if (memcmp(lh_replay_counters(r), &m->c, sizeof m->c))
        differs(form, at, "lh_counters");
    const lh_site *s = lh_replay_sites(r, &n);
    if (n != m->n_sites || memcmp(s, m->sites, n * sizeof *s))
        differs(form, at, "lh_replay_sites");
    const lh_marker *k = lh_replay_markers(r, &n);
    if (n != m->n_marks)
        differs(form, at, "the marker count");
    for (size_t i = 0; i < n; i++)
        if (strcmp(k[i].label, m->marks[i].label) || k[i].time_us != m->marks[i].time_us
            || k[i].event != m->marks[i].event)
            differs(form, at, "a marker");
    (void)lh_replay_rss(r, &n);
    if (n != m->n_rss)
        differs(form, at, "the RSS sample count");
    (void)lh_replay_module_maps(r, &n);
    if (n != m->n_maps)
        differs(form, at, "the module map count");
    if (lh_replay_thread_count(r) != m->threads)
        differs(form, at, "the thread count");
    if (lh_replay_end_time(r) != m->end_time || lh_replay_complete(r) != m->complete)
        differs(form, at, "the end time");
    if (lh_replay_damage(r, NULL))
        differs(form, at, "damage");
}

/* --- one sidecar --------------------------------------------------------------------- */

static void put_sidecar(const uint8_t *d, size_t size)
{
    if (ftruncate(ckpt_fd, 0) != 0 || (size && pwrite(ckpt_fd, d, size, 0) != (ssize_t)size))
        abort();
}

/* Every moment with d as the sidecar; restored[i] gets restore's result. */
static void replay_with(uint8_t *d, size_t size, const char *form, int *restored)
{
    put_sidecar(d, size);
    ck_walk w;
    walk(d, size, &w, 0);
    int forged = 0;
    for (size_t i = 0; w.ended && i < w.n; i++)
        if (w.item[i].sum_ok && !is_real(&w.item[i]))
            forged = 1;

    /* A sidecar list_checkpoints turns down as a whole leaves every moment
     * to start from the first event: one moment says all (a replay costs
     * two page-faulted live tables, the harness's main expense). */
    int listed = w.header_ok && w.ended;
    for (size_t i = 0; i < N_MOMENTS; i++) {
        const moment *m = &moments[i];
        if (!listed && m->kind != LH_AT_END)
            continue;
        lh_replay *r = open_trace();
        int got = lh_replay_restore(r, trace_path, m->kind, m->value, m->label);
        if (!listed && got != 0)
            wrong(form, m->name, "restore did not turn down a sidecar without a usable end record");
        if (got < 0) { /* half-loaded: start over, as leakhunt-replay does */
            lh_replay_free(r);
            r = open_trace();
        }
        if (restored)
            restored[i] = got;
        int rc = lh_replay_advance(r, m->kind, m->value, m->label);
        if (!forged)
            check_same(r, rc, m, NULL, form);
        /* On to the end, as leakhunt-replay does when it leaves a sidecar:
         * a block the checkpoint got wrong shows when the trace frees it. */
        if (m->kind != LH_AT_END) {
            rc = lh_replay_advance(r, LH_AT_END, 0, NULL);
            if (!forged)
                check_same(r, rc, &moments[N_MOMENTS - 1], m, form);
        }
        lh_replay_free(r);
    }

    /* The end record is checksummed on its own: only a real one must agree. */
    lh_counters fin;
    if (lh_checkpoint_final(trace_path, &fin)) {
        if (!w.ended)
            wrong(form, "end", "lh_checkpoint_final used an end record whose checksum fails");
        if (same_record(&w.end.rec, &real.end.rec) && memcmp(&fin, &final_counters, sizeof fin))
            differs(form, "end", "what lh_checkpoint_final read");
    }
}

/* --- setup ------------------------------------------------------------------------- */

/* A sidecar that is not a regular file. Tried in a child: a restore that
 * waits on the FIFO fails the harness after 10 s instead of hanging it. */
static void fifo_sidecar(void)
{
    unlink(ckpt_path);
    if (mkfifo(ckpt_path, 0600) != 0)
        abort();
    pid_t pid = fork();
    if (pid < 0)
        abort();
    if (pid == 0) {
        lh_replay *r = open_trace();
        lh_counters fin;
        _exit(lh_replay_restore(r, trace_path, LH_AT_END, 0, NULL) == 0 && !lh_checkpoint_final(trace_path, &fin)
                  ? 0 : 1);
    }
    int status = 0;
    pid_t done = 0;
    for (int i = 0; i < 1000 && !(done = waitpid(pid, &status, WNOHANG)); i++)
        usleep(10000);
    if (!done) {
        kill(pid, SIGKILL);
        waitpid(pid, &status, 0);
        fprintf(stderr, "fuzz_checkpoint: with a FIFO as the sidecar, restore waits for a writer\n");
        abort();
    }
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
        fprintf(stderr, "fuzz_checkpoint: a FIFO as the sidecar was not turned down\n");
        abort();
    }
    unlink(ckpt_path);
}

static void cleanup(void)
{
    if (ckpt_fd >= 0)
        close(ckpt_fd);
    unlink(ckpt_path);
    unlink(trace_path);
    rmdir(dir);
}

static void write_seed(const char *seed_dir, const char *name, const uint8_t *d, size_t size)
{
    char path[4200];
    snprintf(path, sizeof path, "%s/%s", seed_dir, name);
    FILE *f = fopen(path, "wb");
    if (!f || fwrite(d, 1, size, f) != size || fclose(f) != 0) {
        perror(path);
        exit(1);
    }
    printf("seeded %s (%zu bytes)\n", path, size);
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    const char *tmp = getenv("TMPDIR");
    snprintf(dir, sizeof dir, "%s/lh-fuzz-ckpt.XXXXXX", tmp && *tmp ? tmp : "/tmp");
    if (!mkdtemp(dir)) {
        perror(dir);
        abort();
    }
    snprintf(trace_path, sizeof trace_path, "%s/t.lht", dir);
    snprintf(ckpt_path, sizeof ckpt_path, "%s/t.lht.ckpt", dir);
    atexit(cleanup);
    write_trace();
    for (size_t i = 0; i < N_MOMENTS; i++) {
        moment *m = &moments[i];
        if (m->time_chunk)
            m->value = chunk_end_time[m->time_chunk - 1] + (uint64_t)m->time_plus;
        take_reference(m);
    }

    /* A checkpoint after every events chunk: all the engine can write. */
    real_bytes = real_sidecar(1, &real_size);
    memcpy(header, real_bytes, sizeof header);
    ck_header h;
    memcpy(&h, header, sizeof h);
    struct stat st;
    if (memcmp(h.magic, CK_MAGIC, 8) || h.sizes[0] != sizeof(lh_site) || h.sizes[1] != sizeof(live_block)
        || h.sizes[2] != sizeof(region) || h.sizes[3] != sizeof(lh_counters) || stat(trace_path, &st)
        || h.trace_size != (uint64_t)st.st_size || h.trace_ino != (uint64_t)st.st_ino || !h.footer_offset)
        goto layout;
    walk(real_bytes, real_size, &real, 0);
    if (!real.ended || real.n != N_CHUNKS || !real.end.sum_ok
        || real.end.at + sizeof(ck_record) + 8 != real_bytes + real_size)
        goto layout;
    for (size_t i = 0; i < real.n; i++)
        if (!real.item[i].sum_ok || real.item[i].rec.c.events != (i + 1) * CHUNK_EVENTS)
            goto layout;

    const char *seeds = getenv("FUZZ_CHECKPOINT_SEEDS");
    if (seeds) {
        write_seed(seeds, "every_chunk.ckpt", real_bytes, real_size);
        size_t n;
        uint8_t *s = real_sidecar(2 * CHUNK_EVENTS, &n); /* the spacing leakhunt-replay uses, in small */
        write_seed(seeds, "every_2nd_chunk.ckpt", s, n);
        free(s);
        exit(0);
    }

    fifo_sidecar();
    /* The engine's own sidecar must be used, and change nothing. */
    if ((ckpt_fd = open(ckpt_path, O_RDWR | O_CREAT | O_TRUNC, 0644)) < 0)
        abort();
    int restored[N_MOMENTS];
    replay_with(real_bytes, real_size, "the engine's own", restored);
    for (size_t i = 0; i < N_MOMENTS; i++)
        if (restored[i] != moments[i].restores) {
            fprintf(stderr, "fuzz_checkpoint: at %s, restore from the engine's own sidecar returned %d\n",
                    moments[i].name, restored[i]);
            abort();
        }
    lh_counters fin;
    if (!lh_checkpoint_final(trace_path, &fin))
        abort();
    return 0;
layout:
    fprintf(stderr, "fuzz_checkpoint: the sidecar the engine wrote does not have the layout this harness "
                    "knows (analyze/checkpoint.c changed?)\n");
    abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    uint8_t *copy = malloc(size + sizeof header);
    if (!copy)
        abort();
    memcpy(copy, data, size);
    replay_with(copy, size, "the input as", NULL);

    /* The trace's header, over one naming another trace or before anything else. */
    size_t n = size;
    if (size >= sizeof header && !memcmp(data, CK_MAGIC, 8)) {
        memcpy(copy, header, sizeof header);
    } else {
        memcpy(copy, header, sizeof header);
        memcpy(copy + sizeof header, data, size);
        n += sizeof header;
    }
    if (n != size || memcmp(copy, data, n))
        replay_with(copy, n, "the input with the trace's header as", NULL);

    /* Checksums that hold: what restore and the engine do with any state. */
    uint8_t *sealed = malloc(n ? n : 1);
    if (!sealed)
        abort();
    memcpy(sealed, copy, n);
    ck_walk w;
    walk(sealed, n, &w, 1);
    if (memcmp(sealed, copy, n))
        replay_with(sealed, n, "the input with its checksums recomputed as", NULL);
    free(sealed);
    free(copy);
    return 0;
}
