/* exits MODE - 50 blocks, 20 freed, counters printed, then: return 0,
 * exit(11), _exit(12), abort() (after 2 flush intervals, so all is out),
 * or exit(13) from a second thread while main waits in join. */
#include <pthread.h>
#include "tt.h"

static void *exiter(void *arg)
{
    (void)arg;
    tt_report();
    exit(13);
}

int main(int argc, char **argv)
{
    const char *m = argc > 1 ? argv[1] : "return";
    void *p[50];
    for (int i = 0; i < 50; i++)
        p[i] = tt_alloc(48);
    for (int i = 0; i < 20; i++)
        tt_free(p[i]);
    if (!strcmp(m, "thread")) {
        pthread_t t;
        pthread_create(&t, NULL, exiter, NULL);
        pthread_join(t, NULL);
        return 1;
    }
    tt_report();
    if (!strcmp(m, "exit"))
        exit(11);
    if (!strcmp(m, "_exit"))
        _exit(12);
    if (!strcmp(m, "abort")) {
        usleep(600000);
        abort();
    }
    return 0;
}
