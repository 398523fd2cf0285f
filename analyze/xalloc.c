/* xalloc.c - see xalloc.h. */
#include <stdio.h>
#include <stdlib.h>

#include "xalloc.h"

static void nomem(void)
{
    fprintf(stderr, "leakhunt: out of memory\n");
    exit(LH_EXIT_NOMEM);
}

void *lh_xrealloc(void *p, size_t n)
{
    void *q = realloc(p, n ? n : 1);
    if (!q)
        nomem();
    return q;
}

void *lh_xcalloc(size_t n, size_t size)
{
    void *p = calloc(n ? n : 1, size ? size : 1);
    if (!p)
        nomem();
    return p;
}
