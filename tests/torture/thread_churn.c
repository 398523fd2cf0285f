/* thread_churn - 1000 threads created and joined in a loop (up to 8 alive
 * at a time); each allocates 5 blocks and frees 4, one frees a block made
 * by the previous batch. */
#include <pthread.h>
#include "tt.h"

static void *worker(void *arg)
{
    void **slot = arg;
    void *p[5];
    for (int i = 0; i < 5; i++)
        p[i] = tt_alloc(40 + (size_t)i);
    for (int i = 0; i < 4; i++)
        tt_free(p[i]);
    *slot = p[4];
    return NULL;
}

int main(int argc, char **argv)
{
    int n = argc > 1 ? atoi(argv[1]) : 1000;
    void *slots[8];
    for (int done = 0; done < n;) {
        pthread_t t[8];
        int k = n - done < 8 ? n - done : 8;
        for (int i = 0; i < k; i++)
            if (pthread_create(&t[i], NULL, worker, &slots[i]) != 0)
                return 1;
        for (int i = 0; i < k; i++)
            pthread_join(t[i], NULL);
        for (int i = 0; i < k; i++)
            if ((done + i) % 2)
                tt_free(slots[i]); /* main frees half of what the threads kept */
        done += k;
    }
    tt_report();
    return 0;
}
