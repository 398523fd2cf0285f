/*
 * grow_cache - a cache that grows one entry every 50 ms and never evicts,
 * for leakhunt-top (tests/scenario/top.sh).
 *
 *   grow_cache N [MS]   add N entries, one every MS ms (default 50), then
 *                       free nothing and exit 0
 *
 * Each entry is one malloc of ENTRY_SIZE bytes at the line marked GROW
 * below (the test looks the line up by that mark); each step also makes
 * and frees a short-lived buffer, so the heap has a site that does not
 * grow. Prints "entries K" every 10 entries and "done N entries, B bytes"
 * at the end: the same output whoever watches.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define ENTRY_SIZE 1000

struct entry {
    struct entry *next;
    char data[ENTRY_SIZE - sizeof(struct entry *)];
};

static struct entry *cache;

__attribute__((noinline)) static void cache_add(int key)
{
    struct entry *e = malloc(sizeof(*e)); /* GROW */
    memset(e->data, key & 0xff, sizeof(e->data));
    e->next = cache;
    cache = e;
}

__attribute__((noinline)) static void scratch(int key)
{
    char *tmp = malloc(300);
    snprintf(tmp, 300, "request %d", key);
    free(tmp);
}

int main(int argc, char **argv)
{
    int n = argc > 1 ? atoi(argv[1]) : 100;
    long ms = argc > 2 ? atol(argv[2]) : 50;
    setvbuf(stdout, NULL, _IOLBF, 0);
    for (int i = 1; i <= n; i++) {
        struct timespec ts = { ms / 1000, (ms % 1000) * 1000000L };
        nanosleep(&ts, NULL);
        cache_add(i);
        scratch(i);
        if (i % 10 == 0)
            printf("entries %d\n", i);
    }
    printf("done %d entries, %ld bytes\n", n, (long)n * (long)sizeof(struct entry));
    return 0;
}
