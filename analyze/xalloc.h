/*
 * xalloc.h - allocation for the analysis tools. leakhunt-replay cannot
 * answer with half a heap, so running out of memory ends it with one
 * message and exit status 3.
 */
#ifndef LH_XALLOC_H
#define LH_XALLOC_H

#include <stddef.h>

/* realloc that never returns NULL (n = 0 allocates one byte). */
void *lh_xrealloc(void *p, size_t n);

#endif
