/*
 * known_allocs - a program whose every allocation is known, for exact
 * checks of the recorder and the replay. Each phase sits in its own
 * function (built -O0 -fno-inline) so tests can find it by name and line.
 * Prints its own bookkeeping; exits 3 so tests see the status pass through.
 */
#include <malloc.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "leakhunt.h"

static void *keep[64];

void leak_small(void)
{
    for (int i = 0; i < 10; i++)
        keep[i] = malloc(100); /* LEAK_SMALL_LINE */
}

void churn(void)
{
    for (int i = 0; i < 1000; i++) {
        char *p = malloc(64);
        p[0] = (char)i;
        free(p);
    }
}

void realloc_chain(void)
{
    char *p = malloc(16);
    for (size_t n = 32; n <= 4096; n *= 2)
        p = realloc(p, n);
    free(p);
    /* realloc(NULL, n) is a malloc; realloc(p, 0) frees */
    p = realloc(NULL, 24);
    p = realloc(p, 0);
    (void)p;
}

void leak_aligned(void)
{
    void *a = NULL;
    if (posix_memalign(&a, 64, 200) != 0)
        abort();
    free(a);
    keep[20] = aligned_alloc(128, 256);
    free(memalign(32, 48));
    free(valloc(100));
}

void failures(void)
{
    volatile size_t huge = SIZE_MAX / 2;
    if (calloc(huge, 4) != NULL || malloc(huge * 2) != NULL || realloc(keep[0], huge * 2) != NULL)
        abort();
    free(NULL);
}

void grow_between_marks(void)
{
    for (int i = 0; i < 7; i++)
        keep[30 + i] = calloc(1, 1000); /* GROW_LINE */
}

int main(void)
{
    leakhunt_mark("start");
    leak_small();
    churn();
    realloc_chain();
    leak_aligned();
    failures();
    leakhunt_mark("before");
    grow_between_marks();
    leakhunt_mark("after");
    for (int i = 30; i < 33; i++)
        free(keep[i]);
    printf("known_allocs: leaked 10x100 in leak_small, 256 in leak_aligned, 4x1000 in grow_between_marks\n");
    return 3;
}
