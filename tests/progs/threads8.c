/*
 * threads8 - 8 threads; each allocates 1000 blocks of 48 bytes that the
 * next thread frees (cross-thread frees), and leaks 5 blocks of 80 bytes.
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>

#define THREADS 8
#define BLOCKS 1000

static void *slots[THREADS][BLOCKS];
static pthread_barrier_t made;
static void *leaked[THREADS][5];

void thread_make(int me)
{
    for (int i = 0; i < BLOCKS; i++)
        slots[me][i] = malloc(48);
}

void thread_leak(int me)
{
    for (int i = 0; i < 5; i++)
        leaked[me][i] = malloc(80);
}

static void *worker(void *arg)
{
    int me = (int)(long)arg;
    thread_make(me);
    thread_leak(me);
    pthread_barrier_wait(&made);
    int other = (me + 1) % THREADS;
    for (int i = 0; i < BLOCKS; i++)
        free(slots[other][i]);
    return NULL;
}

int main(void)
{
    pthread_t t[THREADS];
    pthread_barrier_init(&made, NULL, THREADS);
    for (long i = 0; i < THREADS; i++)
        pthread_create(&t[i], NULL, worker, (void *)i);
    for (int i = 0; i < THREADS; i++)
        pthread_join(t[i], NULL);
    printf("threads8: %d threads done\n", THREADS);
    return 0;
}
