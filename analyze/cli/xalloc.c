/* xalloc.c - see xalloc.h. */
#include <stdio.h>
#include <stdlib.h>

#include "xalloc.h"

void lh_nomem(void)
{
    fprintf(stderr, "leakhunt: out of memory\n");
    exit(LH_EXIT_NOMEM);
}

void *lh_xcalloc(size_t n, size_t size)
{
    void *p = calloc(n ? n : 1, size ? size : 1);
    if (!p)
        lh_nomem();
    return p;
}
