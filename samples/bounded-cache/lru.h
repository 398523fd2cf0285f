/* lru.h - a least-recently-used cache of user profiles, bounded at a fixed
 * number of entries. */
#ifndef BOUNDED_CACHE_LRU_H
#define BOUNDED_CACHE_LRU_H

#include <stddef.h>

struct lru;

struct lru_stats {
	size_t entries;		/* live entries, never more than the capacity */
	size_t bytes;		/* their allocations, by malloc request size */
	unsigned long hits, misses, evictions;
};

/* Creates an empty cache for capacity (>= 1) entries; NULL when out of memory. */
struct lru *lru_create(size_t capacity);

/* Frees the cache and every entry in it; accepts NULL. */
void lru_free(struct lru *c);

/* Returns the profile name for id: from the cache when present (a hit),
 * otherwise loaded and inserted, evicting the least recently used entry
 * when the cache is full. The string belongs to the cache and stays valid
 * until the next lru_get. NULL when out of memory. */
const char *lru_get(struct lru *c, unsigned long id);

/* Copies the cache's counters into *out. */
void lru_get_stats(const struct lru *c, struct lru_stats *out);

#endif
