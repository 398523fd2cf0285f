/*
 * exit_while_allocating [MS] - 6 threads malloc and free in loops (a ring
 * of 64 live blocks each); after MS (50) ms a seventh thread calls exit(0)
 * while main waits in pthread_join. Natively that takes about 0.06 s in
 * all: exit must not wait long for anything the allocating threads hold.
 */
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <unistd.h>

static void *churn(void *arg)
{
    unsigned x = (unsigned)(uintptr_t)arg * 2654435761u + 1;
    void *ring[64] = { 0 };
    for (unsigned i = 0;; i++) {
        x = x * 1103515245u + 12345u;
        free(ring[i % 64]);
        ring[i % 64] = malloc(16 + (x >> 16) % 2048);
    }
    return NULL;
}

static int exit_ms = 50;

static void *exiter(void *arg)
{
    (void)arg;
    usleep((useconds_t)exit_ms * 1000u);
    exit(0);
}

int main(int argc, char **argv)
{
    if (argc > 1)
        exit_ms = atoi(argv[1]);
    pthread_t t;
    for (int k = 0; k < 6; k++)
        if (pthread_create(&t, NULL, churn, (void *)(uintptr_t)k) != 0)
            return 2;
    if (pthread_create(&t, NULL, exiter, NULL) != 0)
        return 2;
    pthread_join(t, NULL);
    return 1;
}
