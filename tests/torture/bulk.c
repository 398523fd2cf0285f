/* bulk [N [PAUSE_MS]] - N (200000) allocations of varied sizes from 64 call sites,
 * all freed; for output failures (the trace grows to a few MB). */
#include "tt.h"

#define SITE(k) static __attribute__((noinline)) void *site##k(size_t n) { void *p = tt_alloc(n + k); __asm__ volatile("" ::: "memory"); return p; }
#define S8(a) SITE(a##0) SITE(a##1) SITE(a##2) SITE(a##3) SITE(a##4) SITE(a##5) SITE(a##6) SITE(a##7)
S8(1) S8(2) S8(3) S8(4) S8(5) S8(6) S8(7) S8(8)
#define R8(a) site##a##0, site##a##1, site##a##2, site##a##3, site##a##4, site##a##5, site##a##6, site##a##7
static void *(*sites[64])(size_t) = { R8(1), R8(2), R8(3), R8(4), R8(5), R8(6), R8(7), R8(8) };

int main(int argc, char **argv)
{
    long n = argc > 1 ? atol(argv[1]) : 200000;
    int pause_ms = argc > 2 ? atoi(argv[2]) : 20;
    unsigned x = 12345;
    void *ring[512] = { 0 };
    for (long i = 0; i < n; i++) {
        x = x * 1103515245u + 12345u;
        tt_free(ring[i % 512]);
        ring[i % 512] = sites[(x >> 16) % 64]((x >> 8) % 4000);
        if (i % 20000 == 0)
            usleep((unsigned)pause_ms * 1000u);
    }
    for (int i = 0; i < 512; i++)
        tt_free(ring[i]);
    tt_report();
    return 0;
}
