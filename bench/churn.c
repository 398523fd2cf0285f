/*
 * churn - the allocation-heavy workload of `make bench`.
 *
 * THREADS threads each run ITERS iterations; an iteration frees the oldest
 * of a window of 64 live blocks and allocates a new one through one of 64
 * leaf functions at a call depth of 0-15 (1,024 distinct stacks), with a
 * size from a small set. Every block is freed before exit; the program
 * prints how many allocations it made, so a tracer's count can be checked.
 *
 * usage: churn [THREADS [ITERS]]     (defaults 2 and 2000000)
 */
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#define WINDOW 64
#define LEAVES 64

typedef void *(*leaf_fn)(size_t);

#define LEAF(n) __attribute__((noinline)) static void *leaf_##n(size_t s) \
    { void *p = malloc(s + n); __asm__ volatile("" ::: "memory"); return p; }
#define LEAF8(a) LEAF(a##0) LEAF(a##1) LEAF(a##2) LEAF(a##3) LEAF(a##4) LEAF(a##5) LEAF(a##6) LEAF(a##7)
LEAF8(1) LEAF8(2) LEAF8(3) LEAF8(4) LEAF8(5) LEAF8(6) LEAF8(7) LEAF8(8)
#define REF8(a) leaf_##a##0, leaf_##a##1, leaf_##a##2, leaf_##a##3, leaf_##a##4, leaf_##a##5, leaf_##a##6, leaf_##a##7
static leaf_fn leaves[LEAVES] = { REF8(1), REF8(2), REF8(3), REF8(4), REF8(5), REF8(6), REF8(7), REF8(8) };

/* The asm after the call keeps the compiler from turning it into a tail
 * call, so every level is a real frame on the stack. */
__attribute__((noinline)) static void *descend(int depth, int leaf, size_t size)
{
    if (depth == 0)
        return leaves[leaf](size);
    void *p = descend(depth - 1, leaf, size);
    __asm__ volatile("" ::: "memory");
    return p;
}

static long iters = 2000000;

static void *worker(void *arg)
{
    uintptr_t seed = (uintptr_t)arg * 2654435761u + 1;
    void *window[WINDOW] = { 0 };
    static const size_t sizes[] = { 16, 24, 32, 48, 64, 96, 128, 256 };
    for (long i = 0; i < iters; i++) {
        seed = seed * 6364136223846793005ull + 1442695040888963407ull;
        unsigned r = (unsigned)(seed >> 33);
        int slot = (int)(i % WINDOW);
        free(window[slot]);
        window[slot] = descend((int)(r % 16), (int)((r >> 4) % LEAVES), sizes[(r >> 10) % 8]);
    }
    for (int i = 0; i < WINDOW; i++)
        free(window[i]);
    return NULL;
}

int main(int argc, char **argv)
{
    int threads = argc > 1 ? atoi(argv[1]) : 2;
    if (argc > 2)
        iters = atol(argv[2]);
    if (threads < 1 || threads > 256 || iters < 1) {
        fprintf(stderr, "usage: churn [THREADS 1-256 [ITERS]]\n");
        return 2;
    }
    pthread_t tid[256];
    for (int t = 0; t < threads; t++)
        pthread_create(&tid[t], NULL, worker, (void *)(uintptr_t)(t + 1));
    for (int t = 0; t < threads; t++)
        pthread_join(tid[t], NULL);
    printf("churn: %ld allocations\n", (long)threads * iters);
    return 0;
}
