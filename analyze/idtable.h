/*
 * idtable.h - the analysis side's one hash table: open addressing with
 * linear probing over a power-of-two array of 32-bit ids, each naming an
 * entry of the caller's own array (nodes, strings, frames, locations).
 * The table holds no keys: the caller hashes a key, walks the probe
 * sequence and compares the entries the ids name. Kept at most half full,
 * so a probe ends at an empty slot within a few steps. (Redis keeps one
 * dict and git one hashmap; this is ours for analyze/. The replay's live
 * set keeps its own inline-entry table in the per-event hot path: replay.c
 * has the numbers. The recorder's tables run inside malloc in the traced
 * process: recorder/maptable.h.)
 *
 *     uint64_t h = hash(key);
 *     uint32_t j = lh_idtable_start(t, h);
 *     for (; t->slot[j] != LH_ID_NONE; j = lh_idtable_next(t, j))
 *         if (equal(&entries[t->slot[j]], key))
 *             return t->slot[j];
 *     if (lh_idtable_full(t)) { grow (lh_idtable_grow), then j = lh_idtable_free_slot(t, h); }
 *     lh_idtable_put(t, j, new_id);
 *
 * Header only: the flame archive, the symbolizer and the exporters each
 * inline it, so no archive depends on another for it.
 */
#ifndef LH_IDTABLE_H
#define LH_IDTABLE_H

#include <errno.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define LH_ID_NONE UINT32_MAX

typedef struct {
    uint32_t *slot;   /* cap slots: an id, or LH_ID_NONE */
    uint32_t cap, n;  /* cap a power of two; n ids in it */
} lh_idtable;

static inline uint32_t *lh_idtable_empty_slots_(uint32_t cap)
{
    uint32_t *s = malloc((size_t)cap * sizeof(*s));
    if (s)
        memset(s, 0xff, (size_t)cap * sizeof(*s)); /* LH_ID_NONE */
    return s;
}

/* An empty table with room for at least min_ids ids at half load (at
 * least 16 slots). 0, or -ENOMEM (t is then empty and may be released). */
static inline int lh_idtable_init(lh_idtable *t, uint64_t min_ids)
{
    uint64_t cap = 16;
    while (cap < 2 * min_ids && cap < (1ull << 31))
        cap *= 2;
    t->n = 0;
    t->cap = (uint32_t)cap;
    t->slot = lh_idtable_empty_slots_(t->cap);
    if (!t->slot) {
        t->cap = 0;
        return -ENOMEM;
    }
    return 0;
}

/* Accepts a zeroed or released table. */
static inline void lh_idtable_release(lh_idtable *t)
{
    free(t->slot);
    t->slot = NULL;
    t->cap = t->n = 0;
}

/* Whether one more id would pass half load. */
static inline int lh_idtable_full(const lh_idtable *t) { return 2 * ((uint64_t)t->n + 1) > t->cap; }

static inline uint32_t lh_idtable_start(const lh_idtable *t, uint64_t hash) { return (uint32_t)hash & (t->cap - 1); }
static inline uint32_t lh_idtable_next(const lh_idtable *t, uint32_t j) { return (j + 1) & (t->cap - 1); }

/* The first empty slot of hash's probe sequence (the table is never full). */
static inline uint32_t lh_idtable_free_slot(const lh_idtable *t, uint64_t hash)
{
    uint32_t j = lh_idtable_start(t, hash);
    while (t->slot[j] != LH_ID_NONE)
        j = lh_idtable_next(t, j);
    return j;
}

/* Put id in empty slot j. */
static inline void lh_idtable_put(lh_idtable *t, uint32_t j, uint32_t id)
{
    t->slot[j] = id;
    t->n++;
}

/* Twice the slots, every id re-placed by hash_of(ctx, id). 0, or -ENOMEM
 * with t unchanged. */
static inline int lh_idtable_grow(lh_idtable *t, uint64_t (*hash_of)(const void *ctx, uint32_t id), const void *ctx)
{
    if (t->cap >= (1u << 31))
        return -ENOMEM;
    lh_idtable g = { lh_idtable_empty_slots_(t->cap * 2), t->cap * 2, 0 };
    if (!g.slot)
        return -ENOMEM;
    for (uint32_t i = 0; i < t->cap; i++)
        if (t->slot[i] != LH_ID_NONE)
            lh_idtable_put(&g, lh_idtable_free_slot(&g, hash_of(ctx, t->slot[i])), t->slot[i]);
    free(t->slot);
    *t = g;
    return 0;
}

/* Hashes the tables use: FNV-1a of bytes, a 64-bit finalizer (murmur3's
 * fmix64: addresses and pointers differ mostly in high bits), and a pair. */
static inline uint64_t lh_hash_bytes(const void *p, size_t n)
{
    const unsigned char *s = p;
    uint64_t h = 1469598103934665603ull;
    while (n--)
        h = (h ^ *s++) * 1099511628211ull;
    return h;
}
static inline uint64_t lh_hash_mix(uint64_t x)
{
    x ^= x >> 33; x *= 0xff51afd7ed558ccdull;
    x ^= x >> 33; x *= 0xc4ceb9fe1a85ec53ull;
    return x ^ (x >> 33);
}

#endif
