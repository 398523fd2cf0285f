/*
 * maptable.h - the recorder's one hash table: open addressing with linear
 * probing over a power-of-two array of nonzero 32-bit ids (0 is an empty
 * slot), each naming an entry of the caller's own arrays; kept at most
 * half full. It is analyze/idtable.h's shape, but the slots are mapped
 * with lh_map_grow and returned with munmap, never taken from the heap:
 * it runs inside malloc in the traced process. Users: the stack trie's
 * (parent, ip) -> node table (stacks.c) and Python's code position and
 * line tables (python.c), each under its own lock.
 *
 * sample.c's set of recorded addresses is not one of these: every free
 * reads it without a lock, so it is sharded behind sequence counts and
 * never unmaps a table a reader may be in.
 *
 *     uint32_t j = lh_maptable_start(t, h);
 *     for (; t->slot[j]; j = lh_maptable_next(t, j))
 *         if (equal(entry(t->slot[j]), key))
 *             return t->slot[j];
 *     if (lh_maptable_full(t)) { lh_maptable_grow(...), then j = lh_maptable_free_slot(t, h); }
 *     lh_maptable_put(t, j, id);
 */
#ifndef LH_MAPTABLE_H
#define LH_MAPTABLE_H

#include <stdint.h>
#include <sys/mman.h>

#include "rec.h"

typedef struct {
    uint32_t *slot; /* mask + 1 slots, NULL before the first grow */
    uint32_t mask, n;
} lh_maptable;

/* Whether the table needs lh_maptable_grow before one more id goes in
 * (no slots yet, or it would pass half load). */
static inline int lh_maptable_full(const lh_maptable *t)
{
    return !t->slot || 2 * ((uint64_t)t->n + 1) > t->mask;
}

static inline uint32_t lh_maptable_start(const lh_maptable *t, uint64_t hash) { return (uint32_t)hash & t->mask; }
static inline uint32_t lh_maptable_next(const lh_maptable *t, uint32_t j) { return (j + 1) & t->mask; }

/* The first empty slot of hash's probe sequence (there always is one). */
static inline uint32_t lh_maptable_free_slot(const lh_maptable *t, uint64_t hash)
{
    uint32_t j = lh_maptable_start(t, hash);
    while (t->slot[j])
        j = lh_maptable_next(t, j);
    return j;
}

/* Put id (nonzero) in empty slot j. */
static inline void lh_maptable_put(lh_maptable *t, uint32_t j, uint32_t id)
{
    t->slot[j] = id;
    t->n++;
}

/* first slots (a power of two) for a table without any, else twice as
 * many, every id re-placed by hash_of(ctx, id). 0, or -1 with t unchanged
 * when no mapping could be had. */
static inline int lh_maptable_grow(lh_maptable *t, uint32_t first, uint64_t (*hash_of)(const void *ctx, uint32_t id),
                                   const void *ctx)
{
    uint64_t cap = t->slot ? ((uint64_t)t->mask + 1) * 2 : first;
    if (cap > 1u << 31)
        return -1;
    lh_maptable g = { lh_map_grow(NULL, 0, cap * sizeof(uint32_t)), (uint32_t)cap - 1, 0 };
    if (!g.slot)
        return -1;
    for (uint32_t i = 0; t->slot && i <= t->mask; i++)
        if (t->slot[i])
            lh_maptable_put(&g, lh_maptable_free_slot(&g, hash_of(ctx, t->slot[i])), t->slot[i]);
    if (t->slot)
        munmap(t->slot, ((size_t)t->mask + 1) * sizeof(uint32_t));
    *t = g;
    return 0;
}

#endif
