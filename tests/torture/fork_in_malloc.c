/* fork_in_malloc [N] - 3 threads never stop allocating and freeing while
 * main forks N (200) times; each child allocates 5 blocks, frees 2 and
 * exits. A recorder lock held across fork would hang the child. */
#include <pthread.h>
#include <sys/wait.h>
#include "tt.h"

static volatile int stop;

static void *churn(void *arg)
{
    unsigned i = (unsigned)(long)arg;
    while (!stop) {
        void *p = malloc(50 + i++ % 5000);
        free(realloc(p, 60 + i % 7000));
    }
    return NULL;
}

int main(int argc, char **argv)
{
    int n = argc > 1 ? atoi(argv[1]) : 200;
    pthread_t t[3];
    for (long i = 0; i < 3; i++)
        pthread_create(&t[i], NULL, churn, (void *)i);
    int bad = 0;
    for (int i = 0; i < n; i++) {
        tt_free(tt_alloc(111));
        pid_t pid = fork();
        if (pid == 0) {
            tt_reset();
            void *p[5];
            for (int j = 0; j < 5; j++)
                p[j] = tt_alloc(222);
            tt_free(p[0]);
            tt_free(p[1]);
            tt_report();
            exit(0);
        }
        int st;
        if (pid < 0 || waitpid(pid, &st, 0) < 0 || !WIFEXITED(st) || WEXITSTATUS(st))
            bad++;
    }
    stop = 1;
    for (int i = 0; i < 3; i++)
        pthread_join(t[i], NULL);
    tt_report();
    return bad ? 1 : 0;
}
