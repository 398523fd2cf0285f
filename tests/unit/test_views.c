/*
 * test_views.c - the views of analyze/views.h on a synthetic trace whose
 * every allocation is known, without leakhunt-replay:
 * (a) the growth classifier on series: a steady leak, a cache that filled
 *     and stayed, a leak in three bursts, allocator noise, a site that
 *     appears late, one that shrank, one near 2^63 (no overflow);
 * (b) moments: start, end, peak, 50%, 300ms, 1.5s, #EVENT, mark:LABEL and
 *     mark:LABEL#2, and the errors for a missing marker (which lists the
 *     markers there are), a time past the end, a bad unit, a too-big event;
 * (c) the views of a trace written here (tests/fuzz/fixture.h's opening
 *     chunks): a leak that allocates 1000 bytes every 0.5 s, a cache that
 *     fills in its first 3 s, short-lived blocks, and a block allocated
 *     through libc (allocator plumbing): --growth calls the leak still
 *     growing and the cache levelled off; --diff between markers counts
 *     exactly what was allocated between them; --temporary counts the
 *     short-lived blocks; the site of the libc stack is its caller in
 *     the program, not libc; --stats' counters are the trace's.
 */
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "fuzz/fixture.h"
#include "lh_trace.h"
#include "points.h"
#include "tap.h"
#include "views.h"

#define APP_BASE 0x400000ull
#define LIBC_BASE 0x7f0000000000ull
#define SEC 1000000ull

static char trace_path[] = "/tmp/lh_test_views_XXXXXX";

static void series_case(const int64_t *v, int m, int64_t out[4])
{
    int64_t s[16] = { 0 };
    for (int i = 1; i <= m; i++)
        s[i] = v[i - 1];
    lh_growth_classify(s, m, out);
}

static void growth_classifier(void)
{
    int64_t out[4];
    const int64_t leak[10] = { 1000, 2000, 3000, 4000, 5000, 6000, 7000, 8000, 9000, 10000 };
    series_case(leak, 10, out);
    CHECK_U64(out[0], 9000);
    CHECK_U64(out[1], 9);
    CHECK_U64(out[2], 1);
    CHECK_U64(out[3], 9);

    const int64_t cache[10] = { 10000, 20000, 30000, 30000, 30000, 30000, 30000, 30000, 30000, 30000 };
    series_case(cache, 10, out);
    CHECK_U64(out[0], 20000);
    CHECK_U64(out[1], 2);
    CHECK_U64(out[2], 0);

    /* three bursts in ten windows, the last in the last third */
    const int64_t bursts[10] = { 5000, 5000, 5000, 20000, 20000, 20000, 20000, 20000, 40000, 40000 };
    series_case(bursts, 10, out);
    CHECK_U64(out[1], 2);
    CHECK_U64(out[2], 1);

    /* under 1% a step, under 5% in all: noise, not growth */
    const int64_t noise[10] = { 100000, 100500, 100900, 101300, 101700, 102000, 102400, 102800, 103200, 103600 };
    series_case(noise, 10, out);
    CHECK_U64(out[1], 0);
    CHECK_U64(out[2], 0);

    /* growth counts from the first window the site exists in */
    const int64_t late[10] = { 0, 0, 0, 0, 0, 0, 2000, 4000, 6000, 8000 };
    series_case(late, 10, out);
    CHECK_U64(out[0], 6000);
    CHECK_U64(out[1], 3);
    CHECK_U64(out[2], 1);

    /* a small rise (under 1 KiB) is never "still growing" */
    const int64_t small[4] = { 100, 200, 300, 900 };
    series_case(small, 4, out);
    CHECK_U64(out[2], 0);

    /* a hostile trace's sizes near 2^63: compared without overflow */
    const int64_t huge[2] = { 8876381385368006086, INT64_MAX };
    series_case(huge, 2, out);
    CHECK_U64(out[1], 1);
    CHECK_U64(out[2], 0);

    const int64_t shrank[5] = { 5000, 4000, 3000, 2000, 1000 };
    series_case(shrank, 5, out);
    CHECK(out[0] == -4000);
    CHECK_U64(out[1], 0);
    CHECK_U64(out[2], 0);
}

/* --- the synthetic trace ------------------------------------------------------- */

static lh_event events[256];
static size_t n_events;
static uint64_t alloc_count, alloc_bytes, live_bytes;

static void ev(uint64_t t, int kind, uint64_t addr, uint64_t size, uint32_t stack)
{
    events[n_events++] = (lh_event){ .time_us = t, .kind = (uint32_t)kind, .addr = addr, .size = size,
                                     .stack = stack };
    if (kind == LH_EV_ALLOC) {
        alloc_count++;
        alloc_bytes += size;
        live_bytes += size;
    } else {
        live_bytes -= 64; /* only the short-lived blocks are freed */
    }
}

static int by_time(const void *a, const void *b)
{
    const lh_event *x = a, *y = b;
    return (x->time_us > y->time_us) - (x->time_us < y->time_us);
}

/* Stacks: 1 the leak, 2 the cache, 3 the short-lived blocks, 5 a libc
 * frame called from 4, a frame of the program (a parent comes first). */
static void write_trace(void)
{
    int fd;
    lh_writer *w = fixture_open(trace_path, &fd);
    fixture_process_and_module(w, 4321, "/nonexistent/app", APP_BASE, 0x10000, 0);
    Lh__Segment seg[2], *segp[2] = { &seg[0], &seg[1] };
    Lh__Module mod[2], *modp[2] = { &mod[0], &mod[1] };
    const char *paths[2] = { "/nonexistent/app", "/nonexistent/libc.so.6" };
    const uint64_t bases[2] = { APP_BASE, LIBC_BASE };
    for (int i = 0; i < 2; i++) {
        lh__segment__init(&seg[i]);
        seg[i].has_vaddr = seg[i].has_memsz = 1;
        seg[i].vaddr = bases[i];
        seg[i].memsz = 0x10000;
        lh__module__init(&mod[i]);
        mod[i].path = (char *)paths[i];
        mod[i].n_segments = 1;
        mod[i].segments = &segp[i];
    }
    Lh__ModuleMap mm;
    lh__module_map__init(&mm);
    mm.n_modules = 2;
    mm.modules = modp;
    lh_writer_put(w, LH_CHUNK_MODULES, &mm.base, 0, 0);
    uint32_t parents[5] = { 0, 0, 0, 0, 4 };
    uint64_t ips[5] = { APP_BASE + 0x1000, APP_BASE + 0x2000, APP_BASE + 0x3000, APP_BASE + 0x5000,
                        LIBC_BASE + 0x100 };
    fixture_stacks(w, 1, parents, ips, 5);
    fixture_thread(w, 4321);

    for (uint64_t i = 1; i <= 20; i++) { /* the leak: 0.5 s .. 10 s */
        ev(i * SEC / 2, LH_EV_ALLOC, 0x10000000 + i * 0x1000, 1000, 1);
        ev(i * SEC / 2 + 10, LH_EV_ALLOC, 0x30000000 + i * 0x1000, 64, 3);
        ev(i * SEC / 2 + 110, LH_EV_FREE, 0x30000000 + i * 0x1000, 0, 0);
    }
    for (uint64_t i = 1; i <= 30; i++) /* the cache: 0.1 s .. 3.0 s */
        ev(i * SEC / 10 + 20, LH_EV_ALLOC, 0x20000000 + i * 0x1000, 1000, 2);
    ev(5 * SEC + 50000, LH_EV_ALLOC, 0x40000000, 77, 5);
    qsort(events, n_events, sizeof(lh_event), by_time);
    /* markers: warm at 2.05 s and 4.05 s, loaded at 8.05 s */
    static const struct { const char *label; uint64_t t; } marks[] = {
        { "warm", 2 * SEC + 50000 }, { "warm", 4 * SEC + 50000 }, { "loaded", 8 * SEC + 50000 } };
    size_t done = 0;
    for (size_t m = 0; m < 3; m++) {
        size_t upto = done;
        while (upto < n_events && events[upto].time_us < marks[m].t)
            upto++;
        lh_writer_events(w, events + done, upto - done);
        fixture_marker(w, marks[m].label, marks[m].t);
        done = upto;
    }
    lh_writer_events(w, events + done, n_events - done);
    lh_writer_finish(w, 10 * SEC + 1000, 0, 0);
    lh_writer_free(w);
    close(fd);
}

static lh_view_trace trace;
static int n_notes;

static void count_note(void *ctx, const char *line)
{
    (void)ctx;
    printf("# unexpected note: %s\n", line);
    n_notes++;
}

static lh_view_opts opts(int view, int by)
{
    return (lh_view_opts){ .view = view, .by = by, .value = LH_VAL_LIVE_BYTES, .windows = 10, .temporary_ms = 1,
                           .no_checkpoints = 1, .note = count_note };
}

static void moments(void)
{
    const lh_trace_summary *s = &trace.sum;
    char err[2048];
    lh_point p;
    CHECK_U64(s->n_markers, 3);
    CHECK(lh_point_parse("start", s, &p, err, sizeof err) == 0 && p.kind == LH_AT_EVENT && p.value == 0);
    CHECK(lh_point_parse("end", s, &p, err, sizeof err) == 0 && p.kind == LH_AT_END);
    CHECK(lh_point_parse("peak", s, &p, err, sizeof err) == 0 && p.is_peak);
    CHECK(lh_point_parse("50%", s, &p, err, sizeof err) == 0 && p.kind == LH_AT_TIME);
    CHECK_U64(p.value, s->end_time_us / 2);
    CHECK(lh_point_parse("300ms", s, &p, err, sizeof err) == 0 && p.kind == LH_AT_TIME);
    CHECK_U64(p.value, 300000);
    CHECK(lh_point_parse("1.5s", s, &p, err, sizeof err) == 0);
    CHECK_U64(p.value, 1500000);
    CHECK(lh_point_parse("#7", s, &p, err, sizeof err) == 0 && p.kind == LH_AT_EVENT);
    CHECK_U64(p.value, 7);
    CHECK(lh_point_parse("mark:warm", s, &p, err, sizeof err) == 0 && p.kind == LH_AT_MARK);
    CHECK_U64(p.value, 0);
    CHECK_STR(p.text, "mark:warm (2.050 s)");
    CHECK(lh_point_parse("mark:warm#2", s, &p, err, sizeof err) == 0 && p.kind == LH_AT_MARK);
    CHECK_U64(p.value, 1);
    CHECK_STR(p.label, "warm");
    CHECK_STR(p.text, "mark:warm (4.050 s)");
    CHECK(lh_point_parse("mark:warm#3", s, &p, err, sizeof err) < 0);
    CHECK(strstr(err, "with that occurrence number") != NULL);
    CHECK(lh_point_parse("mark:cold", s, &p, err, sizeof err) < 0);
    CHECK_STR(err, "no marker 'cold'; markers in the trace: warm (2.050 s), warm (4.050 s), loaded (8.050 s)");
    CHECK(lh_point_parse("11s", s, &p, err, sizeof err) < 0 && strstr(err, "past the end"));
    CHECK(lh_point_parse("3h", s, &p, err, sizeof err) < 0 && strstr(err, "unknown unit"));
    CHECK(lh_point_parse("#100000", s, &p, err, sizeof err) < 0 && strstr(err, "past the end"));
    CHECK(lh_point_parse("150%", s, &p, err, sizeof err) < 0);
}

static const lh_row *row_with(const lh_view *v, const char *key_part)
{
    for (size_t i = 0; i < v->n_rows; i++)
        if (strstr(v->rows[i].key, key_part))
            return &v->rows[i];
    return NULL;
}

static void growth_view(void)
{
    char err[2048];
    lh_view_opts o = opts(LH_VIEW_GROWTH, LH_BY_STACK);
    lh_view *v = lh_view_growth(&o, &trace, err, sizeof err);
    CHECK(v != NULL);
    if (!v)
        return;
    const lh_row *leak = row_with(v, "app+0x400fff"), *cache = row_with(v, "app+0x401fff");
    CHECK(leak && cache);
    if (leak && cache) {
        CHECK_U64(leak->extra[2], 1); /* still growing */
        CHECK_U64(leak->v[V_BYTES], 20000);
        CHECK_U64(cache->extra[2], 0); /* levelled off */
        CHECK(cache->extra[0] > 0);
        CHECK(v->rows[0].extra[2] == 1); /* still growing ranks first */
    }
    CHECK_U64(v->windows, 10);
    lh_view_free(v);
}

static void diff_view(void)
{
    char err[2048];
    lh_view_opts o = opts(LH_VIEW_DIFF, LH_BY_LINE);
    lh_view *v = lh_view_diff(&o, &trace, &trace, "mark:warm", "mark:loaded", err, sizeof err);
    CHECK(v != NULL);
    if (!v)
        return;
    /* leak 2.5 .. 8.0 s: 12 blocks; cache 2.1 .. 3.0 s: 10; the libc one */
    CHECK_U64(lh_view_total(v), 12 * 1000 + 10 * 1000 + 77);
    CHECK_STR(v->from, "mark:warm (2.050 s)");
    CHECK_STR(v->to, "mark:loaded (8.050 s)");
    lh_view_free(v);
    v = lh_view_diff(&o, &trace, &trace, "mark:warm#2", "mark:loaded", err, sizeof err);
    CHECK(v && lh_view_total(v) == 8 * 1000 + 77);
    lh_view_free(v);
    CHECK(lh_view_diff(&o, &trace, &trace, "mark:cold", "end", err, sizeof err) == NULL);
    CHECK(strncmp(err, trace_path, strlen(trace_path)) == 0 && strstr(err, "no marker 'cold'"));
}

static void temporary_view(void)
{
    char err[2048];
    lh_view_opts o = opts(LH_VIEW_TEMPORARY, LH_BY_STACK);
    lh_view *v = lh_view_temporary(&o, &trace, err, sizeof err);
    CHECK(v && v->n_rows == 1);
    if (v && v->n_rows == 1) {
        CHECK(strstr(v->rows[0].key, "app+0x402fff") != NULL);
        CHECK_U64(v->rows[0].v[V_COUNT], 20);
        CHECK_U64(v->rows[0].v[V_BYTES], 20 * 64);
        CHECK_U64(v->within_ms, 1);
    }
    lh_view_free(v);
}

/* The site of a stack is its innermost frame that is not allocator
 * plumbing: libc's frame is skipped for its caller's. */
static void site_choice(void)
{
    char err[2048];
    lh_view_opts o = opts(LH_VIEW_LEAKS, LH_BY_MODULE);
    lh_view *v = lh_view_point(&o, &trace, "end", err, sizeof err);
    CHECK(v && v->n_rows == 1);
    if (v && v->n_rows) {
        CHECK_STR(v->rows[0].key, "app");
        CHECK_U64(v->rows[0].v[V_BYTES], 20 * 1000 + 30 * 1000 + 77);
    }
    lh_view_free(v);
    o.by = LH_BY_STACK;
    v = lh_view_point(&o, &trace, "end", err, sizeof err);
    const lh_row *r = v ? row_with(v, "libc.so.6+") : NULL; /* the whole stack, libc first */
    CHECK(r && r->v[V_BYTES] == 77);
    CHECK(r && r->site && r->site->address == APP_BASE + 0x5000 - 1);
    CHECK(r && r->site && !strcmp(r->site->name, "app+0x404fff"));
    CHECK(r && r->site && !strcmp(r->site->module, "/nonexistent/app"));
    lh_view_free(v);
}

static void stats_view(void)
{
    char err[2048];
    lh_view_opts o = opts(LH_VIEW_STATS, LH_BY_LINE);
    lh_view *v = lh_view_stats(&o, &trace, err, sizeof err);
    CHECK(v && v->replay);
    if (v) {
        const lh_counters *c = lh_replay_counters(v->replay);
        CHECK_U64(c->allocations, alloc_count);
        CHECK_U64(c->bytes_allocated, alloc_bytes);
        CHECK_U64(c->live_bytes, live_bytes);
        CHECK_U64(lh_view_total(v), live_bytes);
    }
    lh_view_free(v);
    CHECK(lh_view_point(&o, &trace, "nonsense", err, sizeof err) == NULL && strstr(err, "not a moment"));
    CHECK_U64(n_notes, 0);
}

int main(void)
{
    TEST(growth_classifier);
    write_trace();
    char err[4200];
    if (lh_view_trace_open(&trace, trace_path, err, sizeof err) < 0) {
        printf("# %s\n", err);
        return 1;
    }
    TEST(moments);
    TEST(growth_view);
    TEST(diff_view);
    TEST(temporary_view);
    TEST(site_choice);
    TEST(stats_view);
    lh_view_opts o = opts(LH_VIEW_LEAKS, LH_BY_LINE);
    lh_view_trace_release(&trace, &o);
    unlink(trace_path);
    return TAP_DONE();
}
