/* xalloc.c - see xalloc.h. */
#include <stdio.h>
#include <stdlib.h>

#include "xalloc.h"

void *lh_xrealloc(void *p, size_t n)
{
    void *q = realloc(p, n ? n : 1);
    if (!q) {
        fprintf(stderr, "leakhunt: out of memory\n");
        exit(LH_EXIT_NOMEM);
    }
    return q;
}
