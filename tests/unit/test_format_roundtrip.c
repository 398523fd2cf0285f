/*
 * test_format_roundtrip.c - write a trace with every chunk kind and every
 * event kind, read it back and compare every field; check the footer index
 * and the index rebuilt by scanning once the footer is cut away; inject
 * write failures and check the writer closes and leaves a valid prefix.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "lh_trace.h"
#include "tap.h"

#define N_THREADS 21
#define MAX_CHUNKS 64

/* What the test wrote, chunk by chunk, to compare against the reader. */
typedef struct {
    uint32_t type;
    uint64_t t0, t1;
    uint32_t events;
    const ProtobufCMessage *msg; /* non-event chunks */
    const lh_event *ev;          /* event chunks: first event */
} expect_chunk;

static expect_chunk want[MAX_CHUNKS];
static size_t n_want;
static lh_event *all_ev;
static size_t n_all_ev;

static uint64_t rng_state = 0x9E3779B97F4A7C15ull;
static uint64_t rnd(void)
{
    rng_state ^= rng_state << 13;
    rng_state ^= rng_state >> 7;
    rng_state ^= rng_state << 17;
    return rng_state;
}

static char tmp_path[256];

static int make_temp(void)
{
    const char *dir = getenv("TMPDIR");
    snprintf(tmp_path, sizeof tmp_path, "%s/lh_roundtrip_XXXXXX", dir && *dir ? dir : "/tmp");
    return mkstemp(tmp_path);
}

/* --- the messages written ------------------------------------------------ */

static char *argv_s[] = { "./app", "--flag", "a b c" };
static Lh__ProcessInfo proc;
static Lh__Segment segs[3];
static Lh__Segment *segp0[2], *segp1[1];
static Lh__Module mods[2];
static Lh__Module *modp[2];
static Lh__ModuleMap mmap_msg;
static uint8_t build_id[20];
static uint32_t parents[5] = { 0, 1, 2, 1, 4 };
static uint64_t ips[5] = { 0x401000, 0x7fffffffffff1234ull, 0xffffffffffffffffull, 0x1, 0x8000000000000000ull };
static Lh__StackNodes stacks;
static Lh__ThreadInfo threads[N_THREADS];
static char thread_names[N_THREADS][16];
static Lh__Marker markers[2];
static Lh__RssSample rss;
static Lh__Lost lost[2];

static void build_messages(void)
{
    lh__process_info__init(&proc);
    proc.has_pid = proc.has_ppid = 1;
    proc.pid = 4242;
    proc.ppid = 0xFFFFFFFFu;
    proc.exe = "/usr/bin/app";
    proc.n_argv = 3;
    proc.argv = argv_s;
    proc.has_start_realtime_ns = 1;
    proc.start_realtime_ns = 1700000000123456789ull;
    proc.has_page_size = 1;
    proc.page_size = 4096;
    proc.hostname = "host.example";
    proc.recorder_version = "0.1-test";
    proc.unwind_mode = "fp";
    proc.has_stack_depth = 1;
    proc.stack_depth = 64;
    proc.has_parent_trace_pid = 1;
    proc.parent_trace_pid = 77;
    proc.has_follows_exec = 1;
    proc.follows_exec = 1;

    for (int i = 0; i < 3; i++) {
        lh__segment__init(&segs[i]);
        segs[i].has_vaddr = segs[i].has_memsz = segs[i].has_flags = segs[i].has_offset = 1;
        segs[i].vaddr = 0x1000ull * (uint64_t)(i + 1) + (i == 2 ? 0xffff000000000000ull : 0);
        segs[i].memsz = 0x2345 + (uint64_t)i;
        segs[i].flags = (uint32_t)(4 | i);
        segs[i].offset = 0x100ull * (uint64_t)i;
    }
    segp0[0] = &segs[0];
    segp0[1] = &segs[1];
    segp1[0] = &segs[2];
    for (int i = 0; i < 20; i++)
        build_id[i] = (uint8_t)(i * 13 + 1);
    for (int i = 0; i < 2; i++) {
        lh__module__init(&mods[i]);
        modp[i] = &mods[i];
    }
    mods[0].path = "/usr/bin/app";
    mods[0].has_build_id = 1;
    mods[0].build_id.len = 20;
    mods[0].build_id.data = build_id;
    mods[0].has_load_bias = 1;
    mods[0].load_bias = 0x555555554000ull;
    mods[0].n_segments = 2;
    mods[0].segments = segp0;
    mods[1].path = "/lib/x86_64-linux-gnu/libc.so.6";
    mods[1].has_load_bias = 1;
    mods[1].load_bias = 0xfffffffffffff000ull;
    mods[1].n_segments = 1;
    mods[1].segments = segp1;
    lh__module_map__init(&mmap_msg);
    mmap_msg.has_time_us = 1;
    mmap_msg.time_us = 5;
    mmap_msg.n_modules = 2;
    mmap_msg.modules = modp;

    lh__stack_nodes__init(&stacks);
    stacks.has_first_id = 1;
    stacks.first_id = 1;
    stacks.n_parents = 5;
    stacks.parents = parents;
    stacks.n_ips = 5;
    stacks.ips = ips;

    for (int i = 0; i < N_THREADS; i++) {
        lh__thread_info__init(&threads[i]);
        threads[i].has_index = threads[i].has_tid = threads[i].has_time_us = 1;
        threads[i].index = (uint32_t)i;
        threads[i].tid = 4242u + (uint32_t)i * 1000u;
        snprintf(thread_names[i], sizeof thread_names[i], "worker-%d", i);
        threads[i].name = thread_names[i];
        threads[i].time_us = 10u + (uint64_t)i;
    }

    const char *labels[2] = { "phase one", "" };
    for (int i = 0; i < 2; i++) {
        lh__marker__init(&markers[i]);
        markers[i].has_time_us = markers[i].has_thread = 1;
        markers[i].label = (char *)labels[i];
        markers[i].thread = (uint32_t)(i * 19);
        lh__lost__init(&lost[i]);
        lost[i].has_time_us = lost[i].has_count = 1;
        lost[i].reason = i ? "buffer full" : "signal";
    }
    lh__rss_sample__init(&rss);
    rss.has_time_us = rss.has_rss_bytes = 1;
    rss.rss_bytes = 0xfffffffffffff000ull;
}

/* --- events --------------------------------------------------------------- */

/* Addresses of every flavour: tiny, odd, 16/64-aligned heap, top of the
 * address space, sign-bit set, and reused ones (so frees hit the history,
 * some within and some beyond its 256 entries). */
static uint64_t pick_addr(size_t i, uint64_t *live, size_t n_live, int align)
{
    uint64_t r = rnd();
    if (n_live && r % 3 == 0)
        return live[(rnd() % n_live)];
    switch (r % 7) {
    case 0: return 0xfffffffffffffff0ull - (uint64_t)(i % 8) * 64;
    case 1: return 0x8000000000000000ull + ((rnd() & 0xffffff) << 4);
    case 2: return 0x7f0000000000ull + ((rnd() & 0xffffffff) << 6);
    case 3: return (uint64_t)i * 64;
    default:
        return (0x555555560000ull + ((rnd() & 0xfffff) << 4)) | (align ? 0 : (rnd() & 15));
    }
}

/* Fill ev[0..n) with every kind, times non-decreasing from *t. */
static void gen_events(lh_event *ev, size_t n, uint64_t *t, int align)
{
    static uint64_t live[512];
    static size_t n_live;
    static unsigned batch;
    int with_domains = batch++ % 2; /* format 1.5: half the batches carry domains */
    for (size_t i = 0; i < n; i++) {
        lh_event *e = &ev[i];
        memset(e, 0, sizeof *e);
        uint64_t r = rnd();
        *t += r % 5 == 0 ? (r >> 8) % 100000 : r % 2;
        if (i == n / 2)
            *t += 0xffffffffull; /* a big jump */
        e->time_us = *t;
        e->thread = (uint32_t)(i < N_THREADS ? i : (rnd() % N_THREADS));
        if (i % 97 == 5)
            e->thread = (uint32_t)((rnd() % 2) ? 20 : 4); /* slots 4 shared by threads 4 and 20 */
        e->kind = (uint32_t)(i < LH_EV_KIND_COUNT ? i : rnd() % LH_EV_KIND_COUNT);
        e->addr = pick_addr(i, live, n_live, align);
        switch (e->kind) {
        case LH_EV_ALLOC:
        case LH_EV_MMAP:
            e->size = rnd() % 4 == 0 ? rnd() : rnd() % 4096;
            e->stack = (uint32_t)(rnd() % 6);
            break;
        case LH_EV_REALLOC:
            e->size = rnd() % 100000;
            e->stack = (uint32_t)(rnd() % 2 ? 5 : 0xFFFFFFFFu);
            e->old_addr = pick_addr(i + 1, live, n_live, align);
            break;
        case LH_EV_MUNMAP:
            e->size = rnd() % 3 ? 4096 : 0xffffffffffffffffull;
            break;
        }
        if (with_domains && rnd() % 3 == 0)
            e->domain = (uint32_t)(rnd() % LH_DOM_COUNT);
        if (n_live < 512)
            live[n_live++] = e->addr;
        else
            live[rnd() % 512] = e->addr;
    }
}

/* --- writing -------------------------------------------------------------- */

#define END_TIME_EXTRA 1234
#define EXIT_STATUS (3 << 8)

/* Write-failure injection: the fail_at-th write_all call (1 = header)
 * returns -ENOSPC; others write to the fd. */
typedef struct {
    int fd;
    int calls;
    int fail_at;
    int failed_in_api; /* api call number that saw the failure, or -1 */
} inject_ctx;

static int api_call;

static int inject_write_all(void *vctx, const void *buf, size_t len)
{
    inject_ctx *c = vctx;
    c->calls++;
    if (c->calls == c->fail_at) {
        c->failed_in_api = api_call;
        return -ENOSPC;
    }
    const char *p = buf;
    while (len) {
        ssize_t n = write(c->fd, p, len);
        if (n <= 0)
            return -EIO;
        p += n;
        len -= (size_t)n;
    }
    return 0;
}

/* Every API call's result, in order; api 0 is lh_writer_open. */
static int api_rc[MAX_CHUNKS + 8];
static uint64_t footer_lost, footer_end;

static void want_chunk(uint32_t type, const ProtobufCMessage *msg, uint64_t t0, uint64_t t1,
                       const lh_event *ev, uint32_t n)
{
    if (n_want >= MAX_CHUNKS)
        abort();
    want[n_want++] = (expect_chunk){ .type = type, .msg = msg, .t0 = t0, .t1 = t1, .ev = ev, .events = n };
}

static void put(lh_writer *w, uint32_t type, const ProtobufCMessage *msg, uint64_t t0, uint64_t t1)
{
    want_chunk(type, msg, t0, t1, NULL, 0);
    api_call++;
    api_rc[api_call] = lh_writer_put(w, type, msg, t0, t1);
}

static void events(lh_writer *w, size_t n, uint64_t *t, int align)
{
    lh_event *ev = all_ev + n_all_ev;
    gen_events(ev, n, t, align);
    for (size_t off = 0; off < n; off += 65536) {
        size_t k = n - off < 65536 ? n - off : 65536;
        want_chunk(LH_CHUNK_EVENTS, NULL, ev[off].time_us, ev[off + k - 1].time_us, ev + off, (uint32_t)k);
    }
    n_all_ev += n;
    api_call++;
    api_rc[api_call] = lh_writer_events(w, ev, n);
}

/* Writes the whole trace; returns lh_writer_offset at the end (0 if open
 * failed). *footer_off gets the footer chunk's offset. */
static uint64_t write_trace(int fd, const lh_writer_io *io, uint64_t *footer_off)
{
    int rc;
    n_want = 0;
    n_all_ev = 0;
    rng_state = 0x9E3779B97F4A7C15ull;
    api_call = 0;
    lh_writer *w = lh_writer_open(fd, io, &rc);
    api_rc[0] = rc;
    if (!w)
        return 0;
    uint64_t t = 0;
    put(w, LH_CHUNK_PROCESS, &proc.base, 0, 0);
    put(w, LH_CHUNK_MODULES, &mmap_msg.base, 5, 5);
    put(w, LH_CHUNK_STACKS, &stacks.base, 0, 0);
    for (int i = 0; i < N_THREADS; i++)
        put(w, LH_CHUNK_THREAD, &threads[i].base, threads[i].time_us, threads[i].time_us);
    t = 100;
    events(w, 40, &t, 1);
    markers[0].time_us = t;
    put(w, LH_CHUNK_MARKER, &markers[0].base, t, t);
    events(w, 70000, &t, 0); /* two chunks */
    rss.time_us = t;
    put(w, LH_CHUNK_RSS, &rss.base, t, t);
    lost[0].time_us = t;
    lost[0].count = 3;
    put(w, LH_CHUNK_LOST, &lost[0].base, t, t);
    events(w, 300, &t, 1);
    markers[1].time_us = t;
    put(w, LH_CHUNK_MARKER, &markers[1].base, t, t);
    lost[1].time_us = t + 1;
    lost[1].count = 0xfffffffffffull;
    put(w, LH_CHUNK_LOST, &lost[1].base, t + 1, t + 1);
    events(w, 0, &t, 1); /* no chunk */
    footer_lost = lost[1].count;
    footer_end = t + END_TIME_EXTRA;
    *footer_off = lh_writer_offset(w);
    api_call++;
    api_rc[api_call] = lh_writer_finish(w, footer_end, footer_lost, EXIT_STATUS);
    uint64_t off = lh_writer_offset(w);
    /* Finished: nothing more may be written. */
    api_call++;
    api_rc[api_call] = lh_writer_put(w, LH_CHUNK_RSS, &rss.base, t, t);
    lh_writer_free(w);
    return off;
}

/* --- reading -------------------------------------------------------------- */

static uint64_t chunk_off[MAX_CHUNKS];

static int same_packed(const ProtobufCMessage *a, const ProtobufCMessage *b)
{
    size_t na = protobuf_c_message_get_packed_size(a), nb = protobuf_c_message_get_packed_size(b);
    if (na != nb)
        return 0;
    uint8_t *pa = malloc(na + 1), *pb = malloc(nb + 1);
    protobuf_c_message_pack(a, pa);
    protobuf_c_message_pack(b, pb);
    int same = !memcmp(pa, pb, na);
    free(pa);
    free(pb);
    return same;
}

static int events_equal(const lh_event *a, const lh_event *b, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        if (a[i].time_us != b[i].time_us || a[i].addr != b[i].addr || a[i].old_addr != b[i].old_addr ||
            a[i].size != b[i].size || a[i].stack != b[i].stack || a[i].thread != b[i].thread ||
            a[i].kind != b[i].kind || a[i].domain != b[i].domain) {
            printf("#   event %zu differs: kind %u/%u addr %" PRIx64 "/%" PRIx64 " old %" PRIx64 "/%" PRIx64
                   " size %" PRIu64 "/%" PRIu64 " stack %u/%u thread %u/%u time %" PRIu64 "/%" PRIu64 "\n",
                   i, a[i].kind, b[i].kind, a[i].addr, b[i].addr, a[i].old_addr, b[i].old_addr,
                   a[i].size, b[i].size, a[i].stack, b[i].stack, a[i].thread, b[i].thread,
                   a[i].time_us, b[i].time_us);
            return 0;
        }
    }
    return 1;
}

/* Read the trace on fd: n_chunks of want[] then (with_footer) the footer
 * chunk, then a clean end. */
static void read_and_check(int fd, size_t n_chunks, int with_footer)
{
    int rc;
    lh_reader *r = lh_reader_open_fd(fd, &rc);
    CHECK_U64(rc, LH_OK);
    if (!r)
        return;
    unsigned major = 0, minor = 99;
    lh_reader_version(r, &major, &minor);
    CHECK_U64(major, LH_FORMAT_VERSION_MAJOR);
    CHECK_U64(minor, LH_FORMAT_VERSION_MINOR);
    lh_chunk c;
    uint64_t expect_off = 16;
    for (size_t i = 0; i < n_chunks; i++) {
        rc = lh_reader_next(r, &c);
        CHECK_U64(rc, 1);
        if (rc != 1)
            break;
        CHECK_U64(c.type, want[i].type);
        CHECK_U64(c.offset, expect_off);
        CHECK(c.msg != NULL);
        chunk_off[i] = c.offset;
        expect_off = c.offset + 16 + c.packed_size;
        if (!c.msg || c.type != want[i].type)
            break;
        if (c.type == LH_CHUNK_EVENTS) {
            CHECK_U64(c.n_events, want[i].events);
            CHECK(events_equal(c.events, want[i].ev, want[i].events));
        } else {
            CHECK(same_packed(c.msg, want[i].msg));
            CHECK_U64(c.raw_size, protobuf_c_message_get_packed_size(want[i].msg));
        }
        if (c.type == LH_CHUNK_PROCESS) { /* spot-check the decoded fields too */
            const Lh__ProcessInfo *p = (const Lh__ProcessInfo *)c.msg;
            CHECK_U64(p->pid, 4242);
            CHECK_U64(p->ppid, 0xFFFFFFFFu);
            CHECK_STR(p->exe, "/usr/bin/app");
            CHECK_U64(p->n_argv, 3);
            if (p->n_argv == 3)
                CHECK_STR(p->argv[2], "a b c");
            CHECK_U64(p->start_realtime_ns, 1700000000123456789ull);
            CHECK(p->has_follows_exec && p->follows_exec);
            CHECK_STR(p->unwind_mode, "fp");
        } else if (c.type == LH_CHUNK_MODULES) {
            const Lh__ModuleMap *m = (const Lh__ModuleMap *)c.msg;
            CHECK_U64(m->n_modules, 2);
            if (m->n_modules == 2) {
                CHECK_U64(m->modules[1]->load_bias, 0xfffffffffffff000ull);
                CHECK_U64(m->modules[0]->build_id.len, 20);
                CHECK(m->modules[0]->build_id.len == 20 && !memcmp(m->modules[0]->build_id.data, build_id, 20));
                CHECK_U64(m->modules[0]->n_segments, 2);
                CHECK_U64(m->modules[1]->segments[0]->vaddr, segs[2].vaddr);
            }
        } else if (c.type == LH_CHUNK_STACKS) {
            const Lh__StackNodes *s = (const Lh__StackNodes *)c.msg;
            CHECK_U64(s->n_ips, 5);
            if (s->n_ips == 5)
                CHECK_U64(s->ips[2], 0xffffffffffffffffull);
        }
    }
    if (with_footer) {
        rc = lh_reader_next(r, &c);
        CHECK_U64(rc, 1);
        CHECK_U64(c.type, LH_CHUNK_FOOTER);
        CHECK_U64(c.offset, expect_off);
        if (rc == 1 && c.msg) {
            const Lh__Footer *f = (const Lh__Footer *)c.msg;
            CHECK_U64(f->events, n_all_ev);
            CHECK_U64(f->lost_events, footer_lost);
            CHECK_U64(f->end_time_us, footer_end);
            CHECK(f->has_exit_status);
            CHECK_U64(f->exit_status, EXIT_STATUS);
            CHECK_U64(f->n_index, n_chunks);
        }
    }
    rc = lh_reader_next(r, &c);
    CHECK_U64(rc, 0);
    rc = lh_reader_next(r, &c);
    CHECK_U64(rc, 0);
    CHECK_U64(lh_reader_damage_offset(r), UINT64_MAX);
    lh_reader_free(r);
}

static void check_index(const Lh__Footer *f, size_t n, int rebuilt)
{
    CHECK(f != NULL);
    if (!f)
        return;
    CHECK_U64(f->n_index, n);
    if (f->n_index != n)
        return;
    uint64_t events = 0, end = 0, lost_count = 0;
    for (size_t i = 0; i < n; i++) {
        const Lh__IndexEntry *e = f->index[i];
        CHECK_U64(e->offset, chunk_off[i]);
        CHECK_U64(e->type, want[i].type);
        CHECK_U64(e->first_time_us, want[i].t0);
        CHECK_U64(e->last_time_us, want[i].t1);
        CHECK_U64(e->events, want[i].events);
        CHECK_U64(e->has_events, want[i].events != 0);
        events += want[i].events;
        if (want[i].t1 > end)
            end = want[i].t1;
        if (want[i].type == LH_CHUNK_LOST)
            lost_count = ((const Lh__Lost *)want[i].msg)->count;
    }
    CHECK_U64(f->events, events);
    CHECK_U64(f->lost_events, lost_count);
    CHECK_U64(f->end_time_us, rebuilt ? end : footer_end);
    if (!rebuilt) {
        CHECK(f->has_exit_status);
        CHECK_U64(f->exit_status, EXIT_STATUS);
    }
}

/* --- cases ---------------------------------------------------------------- */

static void test_roundtrip(void)
{
    int fd = make_temp();
    CHECK(fd >= 0);
    if (fd < 0)
        return;
    unlink(tmp_path);
    uint64_t footer_off;
    uint64_t size = write_trace(fd, NULL, &footer_off);
    for (int i = 0; i <= api_call; i++)
        if (i != api_call) /* the last one is a put after finish */
            CHECK_U64(api_rc[i], LH_OK);
    CHECK_U64(api_rc[api_call], LH_E_CLOSED);
    CHECK_U64(n_want, 33);
    CHECK_U64(n_all_ev, 70340);
    CHECK_U64((uint64_t)lseek(fd, 0, SEEK_END), size);

    read_and_check(fd, n_want, 1);

    /* Index from the footer. */
    int rc;
    lh_reader *r = lh_reader_open_fd(fd, &rc);
    CHECK(r != NULL);
    if (!r) {
        close(fd);
        return;
    }
    CHECK(lh_reader_has_footer(r));
    CHECK_U64(lh_reader_file_size(r), size);
    const Lh__Footer *f = lh_reader_index(r, &rc);
    CHECK_U64(rc, LH_OK);
    check_index(f, n_want, 0);
    CHECK(lh_reader_index(r, &rc) == f); /* cached */

    /* Seek by index and read one chunk: the second events chunk. */
    lh_chunk c;
    size_t k = 26; /* want[]: 24 meta, events, marker, events, events ... */
    CHECK_U64(want[k].type, LH_CHUNK_EVENTS);
    CHECK_U64(lh_reader_seek(r, f->index[k]->offset), LH_OK);
    CHECK_U64(lh_reader_next(r, &c), 1);
    CHECK_U64(c.type, LH_CHUNK_EVENTS);
    CHECK_U64(c.n_events, want[k].events);
    CHECK(c.n_events == want[k].events && events_equal(c.events, want[k].ev, c.n_events));
    CHECK_U64(lh_reader_seek(r, 3), LH_E_ARG);
    CHECK_U64(lh_reader_seek(r, size + 1), LH_E_ARG);
    lh_reader_free(r);

    /* Cut the footer and trailer away: the index is rebuilt by scanning. */
    CHECK(ftruncate(fd, (off_t)footer_off) == 0);
    read_and_check(fd, n_want, 0);
    r = lh_reader_open_fd(fd, &rc);
    CHECK(r != NULL);
    if (r) {
        CHECK(!lh_reader_has_footer(r));
        f = lh_reader_index(r, &rc);
        CHECK_U64(rc, LH_OK);
        check_index(f, n_want, 1);
        /* The reader still reads from the start after the scan. */
        CHECK_U64(lh_reader_next(r, &c), 1);
        CHECK_U64(c.type, LH_CHUNK_PROCESS);
        lh_reader_free(r);
    }

    /* One byte less: the last chunk is torn, the index holds the rest. */
    CHECK(ftruncate(fd, (off_t)footer_off - 1) == 0);
    r = lh_reader_open_fd(fd, &rc);
    CHECK(r != NULL);
    if (r) {
        f = lh_reader_index(r, &rc);
        CHECK_U64(rc, LH_E_TRUNCATED);
        CHECK(f != NULL);
        if (f)
            CHECK_U64(f->n_index, n_want - 1);
        CHECK_U64(lh_reader_damage_offset(r), chunk_off[n_want - 1]);
        lh_reader_free(r);
    }
    close(fd);
}

/* Fail the k-th write_all for every k: the failing API call returns
 * LH_E_IO, every later one LH_E_CLOSED, and the file is a valid prefix. */
static void test_write_failure(void)
{
    int total_writes = 1 + (int)n_want + 2; /* header, chunks, footer, trailer */
    for (int k = 1; k <= total_writes; k++) {
        int fd = make_temp();
        CHECK(fd >= 0);
        if (fd < 0)
            return;
        unlink(tmp_path);
        inject_ctx ctx = { .fd = fd, .fail_at = k, .failed_in_api = -1 };
        lh_writer_io io = { .write_all = inject_write_all, .ctx = &ctx };
        uint64_t footer_off;
        write_trace(fd, &io, &footer_off);
        CHECK_U64(ctx.calls, k); /* nothing written after the failure */
        CHECK(ctx.failed_in_api >= 0);
        int last = k == 1 ? 0 : api_call;
        for (int i = 0; i <= last; i++) {
            int expect = i < ctx.failed_in_api ? LH_OK : i == ctx.failed_in_api ? LH_E_IO : LH_E_CLOSED;
            if (api_rc[i] != expect) {
                printf("#   fail_at %d: api call %d returned %d, want %d\n", k, i, api_rc[i], expect);
                tap_case_failed = 1;
            }
        }
        if (k == 1) { /* header failed: no writer, empty file */
            CHECK_U64(lseek(fd, 0, SEEK_END), 0);
            close(fd);
            continue;
        }
        size_t complete = (size_t)k - 2; /* chunks before the failing write */
        int footer = complete > n_want;  /* the trailer write failed */
        if (footer)
            complete = n_want;
        read_and_check(fd, complete, footer);
        if (k == total_writes) {
            int rc;
            lh_reader *r = lh_reader_open_fd(fd, &rc);
            CHECK(r && !lh_reader_has_footer(r));
            if (r) {
                const Lh__Footer *f = lh_reader_index(r, &rc);
                CHECK_U64(rc, LH_OK);
                CHECK(f && f->n_index == n_want + 1); /* footer chunk scanned as a chunk */
                lh_reader_free(r);
            }
        }
        close(fd);
    }
}

int main(void)
{
    build_messages();
    all_ev = calloc(70340 + 16, sizeof *all_ev);
    if (!all_ev)
        return 2;
    TEST(test_roundtrip);
    TEST(test_write_failure);
    free(all_ev);
    return TAP_DONE();
}
