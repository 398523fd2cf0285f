/*
 * grow.h - the one growable-array step of analyze/: room for element n of
 * an array of *cap elements, doubling from init. Header only, for the
 * flame archive and the replay engine alike (both return the failure).
 */
#ifndef LH_GROW_H
#define LH_GROW_H

#include <errno.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

/* Make *arr hold at least n + 1 elements of size sz. 0, or -ENOMEM with
 * *arr and *cap unchanged (also when the size would overflow). */
static inline int lh_grow(void **arr, size_t n, size_t *cap, size_t sz, size_t init)
{
    if (n < *cap)
        return 0;
    size_t c = *cap ? *cap * 2 : init;
    while (c <= n)
        c *= 2;
    if (c > SIZE_MAX / sz)
        return -ENOMEM;
    void *p = realloc(*arr, c * sz);
    if (!p)
        return -ENOMEM;
    *arr = p, *cap = c;
    return 0;
}

#endif
