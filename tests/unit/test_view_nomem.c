/*
 * test_view_nomem.c - out of memory, the engine returns instead of ending
 * the program (the exit status is leakhunt-replay's to choose): this
 * program's malloc, calloc and realloc fail on demand.
 * (a) The replay, every allocation in turn ("succeed N, then fail all",
 *     SQLite's test_malloc.c): lh_replay_open fails with errno ENOMEM, or
 *     lh_replay_advance returns LH_E_NOMEM and keeps returning it; with
 *     enough memory the counters are the trace's. A replay that exited
 *     would end this program before its TAP lines.
 * (b) The views: with blocks of 4 MiB or more refused, the live set of a
 *     trace with 200,000 live blocks cannot grow, and lh_view_point,
 *     lh_view_growth and lh_view_stats return NULL, errno ENOMEM and "out
 *     of memory"; given the memory, the same views answer.
 * Skipped under AddressSanitizer, whose allocator this cannot stand in for.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "fuzz/fixture.h"
#include "lh_trace.h"
#include "tap.h"
#include "views.h"

#if defined(__has_feature)
#if __has_feature(address_sanitizer)
#define NO_MALLOC_WRAP 1
#endif
#endif
#ifdef __SANITIZE_ADDRESS__
#define NO_MALLOC_WRAP 1
#endif

#define BLOCKS 200000
#define APP_BASE 0x400000ull

#ifndef NO_MALLOC_WRAP
/* glibc's own allocator under its exported names; free stays glibc's. */
void *__libc_malloc(size_t n);
void *__libc_calloc(size_t n, size_t size);
void *__libc_realloc(void *p, size_t n);

static long countdown = -1;   /* allocations left before failing; -1 never */
static size_t refuse_from;    /* fail every allocation of this size or more; 0 none */

static int refuse(size_t n)
{
    if (refuse_from && n >= refuse_from)
        return 1;
    if (countdown < 0)
        return 0;
    return __atomic_fetch_sub(&countdown, 1, __ATOMIC_RELAXED) <= 0;
}
void *malloc(size_t n) { return refuse(n) ? (errno = ENOMEM, NULL) : __libc_malloc(n); }
void *calloc(size_t n, size_t size)
{
    return refuse(size && n > SIZE_MAX / size ? SIZE_MAX : n * size) ? (errno = ENOMEM, NULL) : __libc_calloc(n, size);
}
void *realloc(void *p, size_t n) { return refuse(n) ? (errno = ENOMEM, NULL) : __libc_realloc(p, n); }
#endif

static char trace_path[] = "/tmp/lh_test_view_nomem_XXXXXX";

/* BLOCKS allocations of 16 bytes, one stack, none freed. */
static void write_trace(void)
{
    int fd;
    lh_writer *w = fixture_open(trace_path, &fd);
    fixture_process_and_module(w, 4321, "/nonexistent/app", APP_BASE, 0x10000, 0);
    uint32_t parents[1] = { 0 };
    uint64_t ips[1] = { APP_BASE + 0x1000 };
    fixture_stacks(w, 1, parents, ips, 1);
    fixture_thread(w, 4321);
    static lh_event ev[4096];
    for (uint64_t i = 0; i < BLOCKS; i += 4096) {
        size_t n = BLOCKS - i < 4096 ? (size_t)(BLOCKS - i) : 4096;
        for (size_t k = 0; k < n; k++)
            ev[k] = (lh_event){ .time_us = i + k, .kind = LH_EV_ALLOC, .addr = 0x10000000ull + (i + k) * 16,
                                .size = 16, .stack = 1 };
        lh_writer_events(w, ev, n);
    }
    lh_writer_finish(w, BLOCKS + 1, 0, 0);
    lh_writer_free(w);
    close(fd);
}

#ifndef NO_MALLOC_WRAP
static void replay_every_allocation(void)
{
    int failed_open = 0, failed_advance = 0, answered = 0;
    for (long n = 0; n < 100000 && !answered; n++) {
        char err[256] = "";
        countdown = n;
        lh_replay *r = lh_replay_open(trace_path, err, sizeof err);
        if (!r) {
            int e = errno;
            countdown = -1;
            CHECK(e == ENOMEM);
            failed_open++;
            continue;
        }
        int rc = lh_replay_advance(r, LH_AT_END, 0, NULL);
        int again = lh_replay_advance(r, LH_AT_END, 0, NULL);
        countdown = -1;
        if (rc == LH_E_NOMEM) {
            CHECK(again == LH_E_NOMEM);
            failed_advance++;
        } else {
            if (rc != 1) printf("# n=%ld rc=%d damage=%s\n", n, rc, lh_replay_damage(r, NULL) ? lh_replay_damage(r, NULL) : "-");
            CHECK(rc == 1);
            CHECK_U64(lh_replay_counters(r)->live_count, BLOCKS);
            answered = 1;
        }
        lh_replay_free(r);
    }
    CHECK(answered);
    CHECK(failed_open > 0);
    CHECK(failed_advance > 0);
    printf("# %d allocations failed lh_replay_open, %d lh_replay_advance\n", failed_open, failed_advance);
}

static lh_view_trace trace;

static lh_view *ask(int view)
{
    char err[1024] = "";
    lh_view_opts o = { .view = view, .by = LH_BY_FUNCTION, .value = LH_VAL_LIVE_BYTES, .windows = 4,
                       .temporary_ms = 1, .no_checkpoints = 1 };
    lh_view *v = view == LH_VIEW_GROWTH ? lh_view_growth(&o, &trace, err, sizeof err)
               : view == LH_VIEW_STATS  ? lh_view_stats(&o, &trace, err, sizeof err)
                                        : lh_view_point(&o, &trace, "end", err, sizeof err);
    if (!v) {
        CHECK(errno == ENOMEM);
        CHECK_STR(err, "out of memory");
    }
    return v;
}

static void views_refused_big_blocks(void)
{
    static const int views[] = { LH_VIEW_LEAKS, LH_VIEW_GROWTH, LH_VIEW_STATS };
    for (size_t i = 0; i < sizeof(views) / sizeof(views[0]); i++) {
        refuse_from = 4u << 20;
        lh_view *v = ask(views[i]);
        refuse_from = 0;
        CHECK(v == NULL);
        lh_view_free(v);
        v = ask(views[i]);
        CHECK(v != NULL);
        if (v && views[i] == LH_VIEW_LEAKS)
            CHECK_U64(lh_view_total(v), 16 * BLOCKS);
        lh_view_free(v);
    }
}
#endif

int main(void)
{
#ifdef NO_MALLOC_WRAP
    printf("1..0 # skip: AddressSanitizer's allocator\n");
    return 0;
#else
    setenv("LEAKHUNT_NO_PREFETCH", "1", 1); /* one thread: the Nth allocation is the same each run */
    write_trace();
    TEST(replay_every_allocation);
    char err[1024];
    if (lh_view_trace_open(&trace, trace_path, err, sizeof err) < 0) {
        printf("# %s\n", err);
        return 1;
    }
    TEST(views_refused_big_blocks);
    lh_view_opts o = { 0 };
    lh_view_trace_release(&trace, &o);
    unlink(trace_path);
    return TAP_DONE();
#endif
}
