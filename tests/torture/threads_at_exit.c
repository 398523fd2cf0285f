/* threads_at_exit MODE - 8 threads allocate a known amount then wait
 * forever, 4 more churn malloc/free (uncounted sizes) without stop; main
 * then returns (MODE=return), calls exit (exit), or one of the waiting
 * threads calls exit (thread-exit). */
#include <pthread.h>
#include "tt.h"

static pthread_barrier_t ready;
static const char *mode;

static void *waiter(void *arg)
{
    long me = (long)arg;
    for (int i = 0; i < 100; i++)
        tt_free(tt_alloc(24));
    for (int i = 0; i < 10; i++)
        tt_alloc(56); /* live at exit */
    pthread_barrier_wait(&ready);
    if (me == 0 && !strcmp(mode, "thread-exit")) {
        usleep(20000);
        tt_report();
        exit(3);
    }
    for (;;)
        pause();
}

static void *churn(void *arg)
{
    (void)arg;
    for (unsigned i = 0;; i++)
        free(malloc(1000 + i % 3000));
    return NULL;
}

int main(int argc, char **argv)
{
    mode = argc > 1 ? argv[1] : "return";
    pthread_t t;
    pthread_barrier_init(&ready, NULL, 9);
    for (long i = 0; i < 8; i++)
        pthread_create(&t, NULL, waiter, (void *)i);
    for (int i = 0; i < 4; i++)
        pthread_create(&t, NULL, churn, NULL);
    pthread_barrier_wait(&ready);
    if (!strcmp(mode, "thread-exit"))
        for (;;)
            pause();
    usleep(20000);
    tt_report();
    if (!strcmp(mode, "exit"))
        exit(4);
    return 5;
}
