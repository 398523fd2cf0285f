/*
 * views - known allocations for leakhunt-replay's views and knobs
 * (--alloc-fn, --exclude, --suppressions, --thread, --tree, --histogram,
 * --value alloc_*, --fail-over; tests/scenario/replay_views.sh). Every
 * application allocation goes through the wrapper my_alloc, as programs
 * with an xmalloc of their own do:
 *   load_config   5 x 1000 B, leaked          (bucket 512..1023)
 *   load_assets   3 x 4096 B, leaked          (bucket 4096..8191)
 *   scratch     100 x 24 B, each freed        (bucket 16..31)
 *   handoff       1 x 2000 B by main, freed by the worker (1024..2047)
 *   worker (a second thread, after the marker "threads"):
 *     worker_keep   4 x 300 B, leaked         (bucket 256..511)
 *     worker_temp  10 x 40 B, each freed      (bucket 32..63)
 *     worker_back   1 x 200 B, freed by main  (bucket 128..255)
 * Built -O0 -fno-inline, so each function is a frame of its own.
 */
#include <pthread.h>
#include <stdlib.h>

#include "leakhunt.h"

static void *keep[16];
static void *handed, *back;

void *my_alloc(size_t n)
{
    void *p = malloc(n); /* MY_ALLOC_LINE */
    if (!p)
        abort();
    return p;
}

void load_config(void)
{
    for (int i = 0; i < 5; i++)
        keep[i] = my_alloc(1000); /* CONFIG_LINE */
}

void load_assets(void)
{
    for (int i = 0; i < 3; i++)
        keep[5 + i] = my_alloc(4096); /* ASSETS_LINE */
}

void scratch(void)
{
    for (int i = 0; i < 100; i++) {
        char *p = my_alloc(24); /* SCRATCH_LINE */
        p[0] = (char)i;
        free(p);
    }
}

void worker_keep(void)
{
    for (int i = 0; i < 4; i++)
        keep[8 + i] = malloc(300); /* WORKER_KEEP_LINE */
}

void worker_temp(void)
{
    for (int i = 0; i < 10; i++)
        free(malloc(40)); /* WORKER_TEMP_LINE */
}

void handoff(void)
{
    handed = malloc(2000); /* HANDOFF_LINE */
}

void worker_back(void)
{
    back = malloc(200); /* WORKER_BACK_LINE */
}

static void *worker(void *arg)
{
    (void)arg;
    worker_keep();
    worker_temp();
    free(handed);
    worker_back();
    return NULL;
}

int main(void)
{
    load_config();
    load_assets();
    scratch();
    handoff();
    leakhunt_mark("threads");
    pthread_t t;
    if (pthread_create(&t, NULL, worker, NULL) != 0 || pthread_join(t, NULL) != 0)
        return 1;
    free(back);
    return 0;
}
