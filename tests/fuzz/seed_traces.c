/*
 * seed_traces.c - writes the seed corpora for the fuzz harnesses:
 *   DIR/reader/NAME.lht small traces (every chunk kind, with and without footer)
 *   DIR/events/NAME.pb packed EventBatch messages, in encoding 1
 *                      (NAME.pb) and 2 (NAME_packed.pb), random and
 *                      malloc-like (loop_*: encoding 2's predictions hit)
 *   traces in encoding 2 (the writer's default) and 1 (NAME_enc1.lht)
 * Usage: seed_traces DIR   (DIR/reader and DIR/events must exist)
 *        seed_traces DIR N [MODULE]  only DIR/reader/deep_N.lht, one stack N
 *                           nodes deep (for make asan: deeper than any recorder
 *                           writes), its code in MODULE (a FIFO, say)
 */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "lh_events.h"
#include "lh_trace.h"
#include "fixture.h"

static const char *dir;
static uint64_t rng = 88172645463325252ull;
static uint32_t deep; /* > 0: one chain of this many stack nodes, events on its deep end */
static const char *module_path = "/bin/app"; /* its segment covers every ip when not /bin/app */
static int encoding;  /* lh_writer_io.batch_encoding: 0 = the default (2) */

static uint64_t rnd(void)
{
    rng ^= rng << 13;
    rng ^= rng >> 7;
    rng ^= rng << 17;
    return rng;
}

static int create(const char *sub, const char *name)
{
    char path[1024];
    snprintf(path, sizeof path, "%s/%s/%s", dir, sub, name);
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    if (fd < 0) {
        perror(path);
        exit(1);
    }
    return fd;
}

static void gen_loop(lh_event *ev, size_t n, uint32_t n_threads);

/* n events over n_threads threads, every kind, addresses reused (big < 0:
 * a malloc-like loop instead, gen_loop). */
static void gen(lh_event *ev, size_t n, uint32_t n_threads, int big)
{
    if (big < 0) {
        gen_loop(ev, n, n_threads);
        return;
    }
    uint64_t t = 1000, live[64] = { 0 };
    for (size_t i = 0; i < n; i++) {
        lh_event *e = &ev[i];
        memset(e, 0, sizeof *e);
        t += rnd() % 3;
        e->time_us = t;
        e->thread = (uint32_t)(rnd() % n_threads);
        e->kind = (uint32_t)(i < LH_EV_KIND_COUNT ? i : rnd() % LH_EV_KIND_COUNT);
        e->addr = i && rnd() % 2 ? live[rnd() % 64]
                                 : (big ? 0xfffffffffff00000ull : 0x555555550000ull) + (rnd() % 4096) * 16;
        live[i % 64] = e->addr;
        if (lh_kind_has_size(e->kind))
            e->size = rnd() % 3 ? 32 : rnd();
        if (lh_kind_has_stack(e->kind))
            e->stack = deep ? deep - (uint32_t)(rnd() % 8) : (uint32_t)(rnd() % 8);
        if (e->kind == LH_EV_REALLOC)
            e->old_addr = live[rnd() % 64];
    }
}

/* A malloc/free loop per thread: blocks freed at one age or LIFO, their
 * addresses handed back by size class, reallocs in place, a few sizes per
 * stack, time steps every few events: what encoding 2 predicts. */
static void gen_loop(lh_event *ev, size_t n, uint32_t n_threads)
{
    uint64_t t = 1000, top[16], live[16][8] = { { 0 } }, size_of[16][8] = { { 0 } }, last_free[16][4] = { { 0 } };
    for (unsigned i = 0; i < 16; i++)
        top[i] = 0x555555550000ull + ((uint64_t)i << 24);
    for (size_t i = 0; i < n; i++) {
        lh_event *e = &ev[i];
        memset(e, 0, sizeof *e);
        t += rnd() % 5 == 0;
        e->time_us = t;
        e->thread = (uint32_t)(rnd() % n_threads);
        unsigned s = e->thread % 16, j = (unsigned)(i / n_threads) % 8;
        if (live[s][j]) {
            e->kind = rnd() % 8 ? LH_EV_FREE : LH_EV_REALLOC;
            e->addr = live[s][j];
            if (e->kind == LH_EV_REALLOC) {
                e->old_addr = live[s][j];
                e->size = size_of[s][j];
                e->stack = 3;
                continue;
            }
            last_free[s][(size_of[s][j] >> 5) & 3] = e->addr;
            live[s][j] = 0;
            continue;
        }
        uint32_t stack = 1 + (uint32_t)(rnd() % 8);
        e->kind = rnd() % 50 ? LH_EV_ALLOC : LH_EV_MMAP;
        e->stack = stack;
        e->size = 32u * (stack % 4 + 1) + (rnd() % 4 == 0 ? 16 : 0);
        uint64_t *f = &last_free[s][(e->size >> 5) & 3];
        if (*f && rnd() % 4) {
            e->addr = *f;
            *f = 0;
        } else {
            e->addr = top[s];
            top[s] += (e->size + 23) & ~15ull;
        }
        if (e->kind == LH_EV_MMAP) {
            e->addr = 0x7f0000000000ull + (rnd() % 64) * 4096;
            e->size = 4096;
            continue;
        }
        live[s][j] = e->addr;
        size_of[s][j] = e->size;
    }
}

static void write_trace(const char *name, size_t n_events, uint32_t n_threads, int finish, int big)
{
    int rc, fd = create("reader", name);
    lh_writer_io io = { .batch_encoding = encoding };
    lh_writer *w = lh_writer_open(fd, &io, &rc);
    if (!w)
        exit(1);
    fixture_process_and_module(w, 1234, module_path, 0,
                               strcmp(module_path, "/bin/app") ? 1ull << 40 : 0x1000, big > 0);
    uint32_t parents[8] = { 0, 1, 2, 1, 4, 5, 0, 7 };
    uint64_t ips[8] = { 0x401000, 0x401010, 0x401020, 0x401030, 0x401040, 0x401050,
                        LH_PY_IP_BASE + 1 /* a Python frame */, 0x401070 };
    Lh__StackNodes s;
    lh__stack_nodes__init(&s);
    s.has_first_id = 1;
    s.first_id = 1;
    s.n_parents = s.n_ips = 8;
    s.parents = parents;
    s.ips = ips;
    uint32_t *chain_parents = NULL;
    uint64_t *chain_ips = NULL;
    if (deep) { /* node i + 1 calls... node i: a stack deep nodes long, every ip distinct */
        chain_parents = calloc(deep, sizeof *chain_parents);
        chain_ips = calloc(deep, sizeof *chain_ips);
        for (uint32_t i = 0; i < deep; i++)
            chain_parents[i] = i, chain_ips[i] = 0x400000 + 16ull * i;
        s.n_parents = s.n_ips = deep;
        s.parents = chain_parents;
        s.ips = chain_ips;
    }
    Lh__PyFrames py;
    char *py_files[2] = { "app.py", "lib/x.py" }, *py_functions[2] = { "<module>", "Cache.put" };
    uint32_t py_lines[2] = { 1, 42 };
    lh__py_frames__init(&py);
    py.has_first_id = 1;
    py.n_files = py.n_functions = py.n_lines = 2;
    py.files = py_files;
    py.functions = py_functions;
    py.lines = py_lines;
    lh_writer_put(w, LH_CHUNK_PYFRAMES, &py.base, 0, 0);
    lh_writer_put(w, LH_CHUNK_STACKS, &s.base, 0, 0);
    free(chain_parents);
    free(chain_ips);
    for (uint32_t i = 0; i < n_threads; i++) {
        Lh__ThreadInfo t;
        lh__thread_info__init(&t);
        t.has_index = t.has_tid = 1;
        t.index = i;
        t.tid = 1234 + i;
        t.name = "worker";
        lh_writer_put(w, LH_CHUNK_THREAD, &t.base, 0, 0);
    }
    lh_event *ev = calloc(n_events + 1, sizeof *ev);
    gen(ev, n_events, n_threads, big);
    lh_writer_events(w, ev, n_events / 2);
    Lh__Marker m;
    lh__marker__init(&m);
    m.has_time_us = 1;
    m.label = "mark";
    lh_writer_put(w, LH_CHUNK_MARKER, &m.base, 0, 0);
    Lh__RssSample r;
    lh__rss_sample__init(&r);
    r.has_rss_bytes = 1;
    r.rss_bytes = 1 << 20;
    lh_writer_put(w, LH_CHUNK_RSS, &r.base, 0, 0);
    Lh__Lost l;
    lh__lost__init(&l);
    l.has_count = 1;
    l.count = 7;
    lh_writer_put(w, LH_CHUNK_LOST, &l.base, 0, 0);
    lh_writer_put(w, 42, NULL, 0, 0); /* an unknown, empty chunk */
    lh_writer_events(w, ev + n_events / 2, n_events - n_events / 2);
    if (finish)
        lh_writer_finish(w, 5000, 7, 0);
    lh_writer_free(w);
    close(fd);
    free(ev);
}

/* NAME.pb in encoding 1, NAME_packed.pb in encoding 2 (big < 0: gen_loop). */
static void write_batch(const char *name, size_t n, uint32_t n_threads, int big)
{
    static void *block, *packed_block;
    static lh_batch_columns cols;
    static struct lh_packed_enc *pe;
    if (!block) {
        block = malloc(lh_batch_columns_bytes());
        lh_batch_columns_init(&cols, block);
        packed_block = malloc(lh_packed_bytes());
        pe = lh_packed_init(packed_block);
    }
    lh_event *ev = calloc(n + 1, sizeof *ev);
    gen(ev, n, n_threads, big);
    for (int enc = LH_BATCH_VARINT; enc <= LH_BATCH_PACKED; enc++) {
    Lh__EventBatch b;
    if (enc == LH_BATCH_VARINT ? lh_events_encode(ev, n, &cols, &b) : lh_packed_encode(ev, n, pe, &b))
        exit(1);
    size_t len = lh__event_batch__get_packed_size(&b);
    uint8_t *buf = malloc(len + 1);
    lh__event_batch__pack(&b, buf);
    char file[256];
    snprintf(file, sizeof file, "%.*s%s.pb", (int)(strlen(name) - 3), name, enc == LH_BATCH_PACKED ? "_packed" : "");
    int fd = create("events", file);
    if (len && write(fd, buf, len) != (ssize_t)len)
        exit(1);
    close(fd);
    free(buf);
    }
    free(ev);
}

int main(int argc, char **argv)
{
    if (argc < 2 || argc > 4) {
        fprintf(stderr, "usage: %s DIR [DEEP_NODES [MODULE]]\n", argv[0]);
        return 2;
    }
    dir = argv[1];
    if (argc >= 3) {
        char name[64];
        if (argc == 4)
            module_path = argv[3];
        deep = (uint32_t)strtoul(argv[2], NULL, 10);
        snprintf(name, sizeof name, "deep_%u.lht", deep);
        write_trace(name, 40, 2, 1, 0);
        return 0;
    }
    int fd = create("reader", "header_only.lht");
    int rc;
    lh_writer *w = lh_writer_open(fd, NULL, &rc);
    lh_writer_free(w);
    close(fd);
    for (encoding = 0; encoding <= LH_BATCH_VARINT; encoding++) {
        const char *sfx = encoding ? "_enc1" : "";
        char name[64];
#define TRACE(base, ...) (snprintf(name, sizeof name, base "%s.lht", sfx), write_trace(name, __VA_ARGS__))
        TRACE("small", 12, 3, 1, 0);
        TRACE("small_nofooter", 12, 3, 0, 0);
        TRACE("threads", 200, 20, 1, 1);
        TRACE("medium_nofooter", 600, 5, 0, 0);
        TRACE("loop", 900, 3, 1, -1);
        TRACE("loop_threads", 600, 24, 1, -1);
#undef TRACE
    }
    encoding = 0;
    deep = 1500;
    write_trace("deep_stacks.lht", 40, 2, 1, 0);
    deep = 0;
    write_batch("empty.pb", 0, 1, 0);
    write_batch("one.pb", 1, 1, 0);
    write_batch("kinds.pb", 10, 2, 0);
    write_batch("threads.pb", 300, 20, 1);
    write_batch("many.pb", 700, 4, 0);
    write_batch("loop.pb", 600, 2, -1);
    write_batch("loop_threads.pb", 800, 20, -1);
    return 0;
}
