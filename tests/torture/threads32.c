/* threads32 - 32 threads; each makes 2000 blocks that the next thread frees
 * (cross-thread frees), frees 1000 of its own, and keeps 3. */
#include <pthread.h>
#include "tt.h"

#define THREADS 32
#define BLOCKS 2000
static void *made[THREADS][BLOCKS];
static void *kept[THREADS][3];
static pthread_barrier_t bar;

static void *worker(void *arg)
{
    int me = (int)(long)arg;
    for (int i = 0; i < BLOCKS; i++)
        made[me][i] = tt_alloc(16 + (size_t)(i % 200));
    for (int i = 0; i < 1000; i++)
        tt_free(tt_alloc(64));
    for (int i = 0; i < 3; i++)
        kept[me][i] = tt_alloc(100);
    pthread_barrier_wait(&bar);
    for (int i = 0; i < BLOCKS; i++)
        tt_free(made[(me + 1) % THREADS][i]);
    return NULL;
}

int main(void)
{
    pthread_t t[THREADS];
    pthread_barrier_init(&bar, NULL, THREADS);
    for (long i = 0; i < THREADS; i++)
        pthread_create(&t[i], NULL, worker, (void *)i);
    for (int i = 0; i < THREADS; i++)
        pthread_join(t[i], NULL);
    tt_report();
    return 0;
}
