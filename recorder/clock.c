/*
 * clock.c - event stamps.
 *
 * A stamp is read twice per allocation, so it must be cheap. When the
 * kernel itself keeps time with the TSC (clocksource "tsc": it checked the
 * counter is invariant and synchronised across CPUs), a stamp is RDTSCP,
 * about a third of the cost of clock_gettime; otherwise it is
 * CLOCK_MONOTONIC nanoseconds. RDTSCP waits until every earlier
 * instruction has executed and its loads are visible, and later stores
 * become visible only after it retires, so "stamped before the real free"
 * and "stamped after malloc returned" hold across CPUs as they do with the
 * kernel clock.
 *
 * While the process has one thread, events need no stamp order across
 * threads: the collector merges each thread's events in the order they were
 * pushed, and what else it places by time (RSS samples, markers sent by
 * leakhunt-mark) has no order with the program's events finer than the
 * time itself, where a few instructions do not matter. Then a stamp is
 * plain RDTSC, which does not wait for earlier instructions and costs half
 * as much (9 ns against 17 here); it can land a few instructions early,
 * never out of the thread's own order (lh_tbuf_push keeps a thread's stamps
 * non-decreasing). The first pthread_create, or a second thread's first
 * event (a thread made some other way), switches to RDTSCP for good.
 *
 * Stamps become nanoseconds only in the collector, which reads the same
 * counter: it starts from the ratio measured here and refines it against
 * CLOCK_MONOTONIC once per round until 100 ms have passed (fixed from then
 * on, so converted times never go backwards).
 */
#include <fcntl.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#ifdef __x86_64__
#include <cpuid.h>
#include <x86intrin.h>
#endif

#include "rec.h"

static int use_tsc;
LH_HIDDEN int lh_clock_one_thread = 1;
static uint64_t tsc0, ns0;
static double ns_per_tick = 1.0;

uint64_t lh_mono_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

uint64_t lh_stamp(void)
{
#ifdef __x86_64__
    if (LH_LIKELY(use_tsc)) {
        unsigned aux;
        return __rdtscp(&aux);
    }
#endif
    return lh_mono_ns();
}

uint64_t lh_stamp_event(void)
{
#ifdef __x86_64__
    if (LH_LIKELY(use_tsc) && __atomic_load_n(&lh_clock_one_thread, __ATOMIC_RELAXED))
        return __rdtsc();
#endif
    return lh_stamp();
}

void lh_clock_threads(void)
{
    if (__atomic_load_n(&lh_clock_one_thread, __ATOMIC_RELAXED))
        __atomic_store_n(&lh_clock_one_thread, 0, __ATOMIC_SEQ_CST);
}

static int kernel_uses_tsc(void)
{
    char buf[32] = "";
    int fd = open("/sys/devices/system/clocksource/clocksource0/current_clocksource", O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return 0;
    ssize_t n = read(fd, buf, sizeof(buf) - 1);
    close(fd);
    return n >= 3 && !strncmp(buf, "tsc", 3) && (n == 3 || buf[3] == '\n');
}

static void measure_ratio(void)
{
    uint64_t t = lh_stamp(), n = lh_mono_ns();
    if (t > tsc0 && n > ns0)
        ns_per_tick = (double)(n - ns0) / (double)(t - tsc0);
}

void lh_clock_init(void)
{
#ifdef __x86_64__
    unsigned a, b, c, d;
    /* invariant TSC (CPUID 0x80000007 EDX bit 8) and RDTSCP (0x80000001 EDX bit 27) */
    int invariant = __get_cpuid(0x80000007, &a, &b, &c, &d) && (d & (1u << 8));
    int rdtscp = __get_cpuid(0x80000001, &a, &b, &c, &d) && (d & (1u << 27));
    if (invariant && rdtscp && kernel_uses_tsc() && !getenv("LEAKHUNT_NO_TSC")) {
        use_tsc = 1;
        ns0 = lh_mono_ns();
        tsc0 = lh_stamp();
        /* A first ratio over ~100 µs; refined by the collector. */
        while (lh_mono_ns() - ns0 < 100000)
            ;
        measure_ratio();
        return;
    }
#endif
    use_tsc = 0;
    ns0 = lh_mono_ns();
}

void lh_clock_describe(int32_t *tsc, uint64_t *t0, uint64_t *n0, double *ratio)
{
    *tsc = use_tsc;
    *t0 = tsc0;
    *n0 = ns0;
    *ratio = ns_per_tick;
}
