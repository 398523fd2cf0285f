/* sampled_allocs: allocations known exactly, for --sample's estimator.
 *   small_leak   100,000 x 64 B, never freed        (6,400,000 B)
 *   big_leak     40 x 1 MiB, never freed            (41,943,040 B: always sampled)
 *   churn        200,000 x 48 B, each freed at once (nothing left)
 *   handoff      2 threads: one allocates 50,000 x 80 B, the other frees
 *                them all (a sampled block freed by another thread)
 *   grow         20,000 blocks realloc'd 16 -> 4000 B, then freed
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>

#define HANDOFF 50000
static void *keep[100000 + 40];
static void *box[HANDOFF];
static volatile int filled;

__attribute__((noinline)) static void small_leak(void)
{
    for (int i = 0; i < 100000; i++)
        keep[i] = malloc(64);
}

__attribute__((noinline)) static void big_leak(void)
{
    for (int i = 0; i < 40; i++)
        keep[100000 + i] = malloc(1 << 20);
}

__attribute__((noinline)) static void churn(void)
{
    for (int i = 0; i < 200000; i++)
        free(malloc(48));
}

static void *producer(void *arg)
{
    for (int i = 0; i < HANDOFF; i++)
        box[i] = malloc(80);
    __atomic_store_n(&filled, 1, __ATOMIC_RELEASE);
    return arg;
}

static void *consumer(void *arg)
{
    while (!__atomic_load_n(&filled, __ATOMIC_ACQUIRE))
        ;
    for (int i = 0; i < HANDOFF; i++)
        free(box[i]);
    return arg;
}

__attribute__((noinline)) static void handoff(void)
{
    pthread_t a, b;
    pthread_create(&b, NULL, consumer, NULL);
    pthread_create(&a, NULL, producer, NULL);
    pthread_join(a, NULL);
    pthread_join(b, NULL);
}

__attribute__((noinline)) static void grow(void)
{
    static void *g[20000];
    for (int i = 0; i < 20000; i++)
        g[i] = malloc(16);
    for (int i = 0; i < 20000; i++)
        g[i] = realloc(g[i], 4000);
    for (int i = 0; i < 20000; i++)
        free(g[i]);
}

int main(void)
{
    small_leak();
    big_leak();
    churn();
    handoff();
    grow();
    puts("sampled_allocs done");
    return 0;
}
