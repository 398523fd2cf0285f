/*
 * tt.h - counters shared by the torture programs.
 *
 * Every block a torture program counts goes through tt_alloc()/tt_free(),
 * never inlined, so the trace's site for it is the function tt_alloc and
 * run.sh can compare exactly: allocations at tt_alloc = allocs, allocations
 * minus live blocks = frees, allocated bytes = bytes. What libc allocates by
 * itself (stdio buffers, thread stacks' TLS) is not counted on either side.
 * tt_report() prints "allocs=N frees=M bytes=B" with write(2), so it is safe
 * after fork and in any exit path.
 */
#ifndef TT_H
#define TT_H
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static unsigned long tt_allocs, tt_frees, tt_bytes;

__attribute__((noinline, used)) void *tt_alloc(size_t n);
__attribute__((noinline, used)) void *tt_alloc(size_t n)
{
    void *p = malloc(n);
    if (p) {
        __atomic_add_fetch(&tt_allocs, 1, __ATOMIC_RELAXED);
        __atomic_add_fetch(&tt_bytes, n, __ATOMIC_RELAXED);
    }
    __asm__ volatile("" ::: "memory"); /* no tail call: keep this frame */
    return p;
}

__attribute__((noinline, used)) void tt_free(void *p);
__attribute__((noinline, used)) void tt_free(void *p)
{
    if (p)
        __atomic_add_fetch(&tt_frees, 1, __ATOMIC_RELAXED);
    free(p);
    __asm__ volatile("" ::: "memory");
}

static inline void tt_say(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
#include <stdarg.h>
static inline void tt_say(const char *fmt, ...)
{
    char buf[512];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(buf, sizeof(buf), fmt, ap);
    va_end(ap);
    if (n > (int)sizeof(buf) - 1)
        n = sizeof(buf) - 1;
    for (int off = 0; n > 0;) {
        ssize_t w = write(1, buf + off, (size_t)n);
        if (w <= 0)
            break;
        off += (int)w;
        n -= (int)w;
    }
}

/* After fork: the child's trace starts empty, so do its counters. */
static inline void tt_reset(void) { tt_allocs = tt_frees = tt_bytes = 0; }

static inline void tt_report(void)
{
    tt_say("allocs=%lu frees=%lu bytes=%lu\n", __atomic_load_n(&tt_allocs, __ATOMIC_RELAXED),
           __atomic_load_n(&tt_frees, __ATOMIC_RELAXED), __atomic_load_n(&tt_bytes, __ATOMIC_RELAXED));
}
#endif
