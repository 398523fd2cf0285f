/*
 * test_view_nomem.c - out of memory, the engine returns instead of ending
 * the program (the exit status is leakhunt-replay's to choose): this
 * program's malloc, calloc and realloc fail on demand.
 * (a) The replay, every allocation in turn ("succeed N, fail the next",
 *     SQLite's test_malloc.c): lh_replay_open fails with errno ENOMEM, or
 *     lh_replay_advance returns LH_E_NOMEM and keeps returning it; with
 *     enough memory the counters are the trace's. A replay that exited
 *     would end this program before its TAP lines.
 * (b) The views: with blocks of 4 MiB or more refused, the live set of a
 *     trace with 200,000 live blocks cannot grow, and lh_view_point,
 *     lh_view_growth and lh_view_stats return NULL, errno ENOMEM and "out
 *     of memory"; given the memory, the same views answer.
 * (c) Symbols, selection and the histogram, every allocation in turn: a
 *     trace whose stacks are this program's own functions (its module map
 *     names this executable), asked by function with --filter, --thread
 *     and suppressions, as a table, a histogram and a flame tree. Each
 *     attempt either fails (NULL, ENOMEM, "out of memory"; -ENOMEM for the
 *     flame tree) or answers with the function's name: never a name left
 *     out, never an exit (the symbolizer and the selections used to end
 *     the program with status 4).
 * (d) Suppression files, every allocation in turn, and a line too long to
 *     allocate (getline stopping short is no end of file): -1, ENOMEM,
 *     "out of memory", nothing kept.
 * Skipped under AddressSanitizer, whose allocator this cannot stand in for.
 */
#include <dlfcn.h>
#include <errno.h>
#include <link.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "fuzz/fixture.h"
#include "lh_trace.h"
#include "tap.h"
#include "histogram.h"
#include "suppress.h"
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

/* elfutils' own allocations are left alone: libdw ends the program on
 * some of them (__libdw_oom), which is not leakhunt's to change. */
static int in_elfutils(const void *caller)
{
    Dl_info di;
    return dladdr(caller, &di) && di.dli_fname && (strstr(di.dli_fname, "libdw") || strstr(di.dli_fname, "libelf"));
}

static int refuse(size_t n, const void *caller)
{
    if (refuse_from && n >= refuse_from)
        return 1;
    if (countdown < 0 || in_elfutils(caller))
        return 0;
    return __atomic_fetch_sub(&countdown, 1, __ATOMIC_RELAXED) <= 0;
}
#define CALLER __builtin_return_address(0)
void *malloc(size_t n) { return refuse(n, CALLER) ? (errno = ENOMEM, NULL) : __libc_malloc(n); }
void *calloc(size_t n, size_t size)
{
    return refuse(size && n > SIZE_MAX / size ? SIZE_MAX : n * size, CALLER) ? (errno = ENOMEM, NULL)
                                                                             : __libc_calloc(n, size);
}
void *realloc(void *p, size_t n) { return refuse(n, CALLER) ? (errno = ENOMEM, NULL) : __libc_realloc(p, n); }
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

/* --- (c) symbols, selection, histogram ------------------------------------------ */

static char sym_path[] = "/tmp/lh_test_view_nomem_sym_XXXXXX";
static char supp_path[] = "/tmp/lh_test_view_nomem_supp_XXXXXX";

/* The frames the trace's stacks name: an allocation in nomem_leaf, called
 * from nomem_caller. Never called; their addresses are what counts. */
__attribute__((noinline, used)) void nomem_leaf(void);
__attribute__((noinline, used)) void nomem_caller(void);
__attribute__((noinline, used)) void nomem_leaf(void) { __asm__ volatile(""); }
__attribute__((noinline, used)) void nomem_caller(void) { nomem_leaf(); __asm__ volatile(""); }

static int first_bias(struct dl_phdr_info *info, size_t size, void *data)
{
    (void)size;
    *(uint64_t *)data = info->dlpi_addr; /* the first object is the executable */
    return 1;
}

/* Two stacks (leaf <- caller, and caller alone), 64 live blocks each, on
 * thread 4321; the module is this executable, at its link-time addresses. */
static void write_sym_trace(void)
{
    char exe[4096];
    ssize_t len = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
    if (len <= 0)
        abort();
    exe[len] = 0;
    uint64_t bias = 0;
    dl_iterate_phdr(first_bias, &bias);
    int fd;
    lh_writer *w = fixture_open(sym_path, &fd);
    fixture_process_and_module(w, 4321, exe, 0, 1ull << 40, 0);
    uint32_t parents[2] = { 0, 1 };
    uint64_t ips[2] = { (uint64_t)(uintptr_t)nomem_caller - bias + 1, (uint64_t)(uintptr_t)nomem_leaf - bias + 1 };
    fixture_stacks(w, 1, parents, ips, 2);
    fixture_thread(w, 4321);
    lh_event ev[128];
    for (size_t k = 0; k < 128; k++)
        ev[k] = (lh_event){ .time_us = k, .kind = LH_EV_ALLOC, .addr = 0x10000000ull + k * 64, .size = 32,
                            .stack = k % 2 ? 1 : 2 };
    lh_writer_events(w, ev, 128);
    lh_writer_finish(w, 129, 0, 0);
    lh_writer_free(w);
    close(fd);
    fd = mkstemp(supp_path);
    FILE *f = fd >= 0 ? fdopen(fd, "w") : NULL;
    if (!f)
        abort();
    fprintf(f, "# nothing of this trace\nleak:no_such_function\nleak:^libno_such*.so$\n");
    fclose(f);
}

enum { ASK_TABLE, ASK_HIST, ASK_FLAME };

/* One attempt with allocation n failing: -1 failed as it must, 1
 * answered (and checked) although an allocation failed (one the code
 * can do without), 0 answered with no allocation failed (n is past the
 * last). Everything is new each time (trace, symbolizer, selection). */
static int ask_symbols(int how, long n)
{
    lh_view_trace t;
    char err[1024] = "";
    if (lh_view_trace_open(&t, sym_path, err, sizeof err) < 0) {
        printf("# %s\n", err);
        abort();
    }
    static const uint64_t threads[1] = { 4321 };
    lh_view_opts o = { .view = LH_VIEW_LEAKS, .by = LH_BY_FUNCTION, .value = LH_VAL_LIVE_BYTES,
                       .threads = threads, .n_threads = 1, .no_checkpoints = 1, .exports = how == ASK_FLAME };
    int answered = -1;
    countdown = n;
    lh_suppressions *sup = lh_suppressions_new();
    lh_select *sel = lh_select_new();
    char serr[512] = "";
    int rc = !sup || !sel ? -1 : lh_suppressions_load(sup, supp_path, serr, sizeof serr);
    if (rc < 0 || lh_select_include(sel, "nomem_") < 0 || lh_select_exclude(sel, "no_such") < 0) {
        countdown = -1;
        CHECK(errno == ENOMEM);
        if (rc < 0 && sup && sel)
            CHECK_STR(serr, "out of memory");
        goto out;
    }
    lh_select_suppressions(sel, sup);
    o.select = sel;
    lh_view *v = how == ASK_HIST ? lh_view_histogram(&o, &t, NULL, NULL, NULL, err, sizeof err)
                                 : lh_view_point(&o, &t, "end", err, sizeof err);
    int e = errno;
    lh_flame *fl = NULL;
    int frc = 0;
    if (v && how == ASK_FLAME) {
        fl = lh_flame_new("nomem", 0);
        frc = fl ? lh_flame_from_samples(fl, v->flame, v->n_flame) : -ENOMEM;
    }
    int injected = countdown < 0;
    countdown = -1;
    if (!v) {
        CHECK(e == ENOMEM);
        if (!strstr(err, "out of memory")) /* the replay's say the trace too */
            CHECK_STR(err, "out of memory");
    } else if (how == ASK_FLAME && frc < 0) {
        CHECK(frc == -ENOMEM);
    } else if (how == ASK_HIST) {
        CHECK_U64(lh_view_total(v), 128 * 32);
        answered = injected;
    } else {
        CHECK_U64(lh_view_total(v), 128 * 32);
        CHECK_U64(v->n_rows, 2);
        int leaf = 0, caller = 0;
        for (size_t i = 0; i < v->n_rows; i++) {
            leaf += !strcmp(v->rows[i].key, "nomem_leaf");
            caller += !strcmp(v->rows[i].key, "nomem_caller");
        }
        CHECK(leaf == 1 && caller == 1);
        if (how == ASK_FLAME)
            CHECK_U64(lh_flame_total(fl, LH_VAL_LIVE_BYTES), 128 * 32);
        answered = injected;
    }
    lh_flame_free(fl);
    lh_view_free(v);
out:
    countdown = -1;
    lh_select_free(sel);
    lh_suppressions_free(sup);
    lh_view_opts none = { 0 };
    lh_view_trace_release(&t, &none);
    return answered;
}

static void symbols_every_allocation(void)
{
    static const char *const names[] = { "table", "histogram", "flame tree" };
    for (int how = ASK_TABLE; how <= ASK_FLAME; how++) {
        long failed = 0, n = 0;
        int rc = -1;
        for (; n < 200000 && rc; n++)
            failed += (rc = ask_symbols(how, n)) < 0;
        CHECK(rc == 0);
        CHECK(failed > 0);
        printf("# %s: %ld of %ld allocations failed it\n", names[how], failed, n - 1);
    }
}

/* --- (d) suppression files ------------------------------------------------------ */

static void suppressions_every_allocation(void)
{
    int answered = 0, failed = 0;
    for (long n = 0; n < 1000 && !answered; n++) {
        char err[512] = "";
        countdown = n;
        lh_suppressions *s = lh_suppressions_new();
        int rc = s ? lh_suppressions_load(s, supp_path, err, sizeof err) : -1;
        int e = errno;
        answered = countdown >= 0; /* no allocation failed: n is past the last */
        countdown = -1;
        if (rc < 0) {
            CHECK(e == ENOMEM);
            if (s) {
                CHECK_STR(err, "out of memory");
                CHECK_U64(lh_suppressions_count(s), 0);
            }
            failed++;
        } else {
            CHECK_U64(lh_suppressions_count(s), 2);
        }
        lh_suppressions_free(s);
    }
    CHECK(answered);
    CHECK(failed > 0);
}

/* A 2 MiB line with blocks of 1 MiB or more refused: getline gives up
 * before the end of the file, which is out of memory, not its end. */
static void suppressions_long_line(void)
{
    char path[] = "/tmp/lh_test_view_nomem_long_XXXXXX";
    int fd = mkstemp(path);
    FILE *f = fd >= 0 ? fdopen(fd, "w") : NULL;
    if (!f)
        abort();
    fputs("leak:first\nleak:", f);
    for (int i = 0; i < (2 << 20); i++)
        fputc('x', f);
    fputs("\nleak:last\n", f);
    fclose(f);
    lh_suppressions *s = lh_suppressions_new();
    char err[512] = "";
    refuse_from = 1u << 20;
    int rc = lh_suppressions_load(s, path, err, sizeof err);
    int e = errno;
    refuse_from = 0;
    CHECK(rc == -1);
    CHECK(e == ENOMEM);
    CHECK_STR(err, "out of memory");
    CHECK_U64(lh_suppressions_count(s), 0);
    CHECK(lh_suppressions_load(s, path, err, sizeof err) == 0);
    CHECK_U64(lh_suppressions_count(s), 3);
    lh_suppressions_free(s);
    unlink(path);
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
    write_sym_trace();
    TEST(symbols_every_allocation);
    TEST(suppressions_every_allocation);
    TEST(suppressions_long_line);
    unlink(sym_path);
    unlink(supp_path);
    return TAP_DONE();
#endif
}
