/* lru.c - a least-recently-used cache, bounded at a fixed number of entries.
 *
 * A hash table finds entries; a doubly linked list orders them from most to
 * least recently used. Inserting into a full cache first evicts (and frees)
 * the entry at the tail. So the cache's heap grows while it fills, then
 * stays level however long the program runs: growth, but not a leak.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lru.h"

struct entry {
	unsigned long id;
	char *name;			/* the cached value */
	size_t name_size;		/* its allocation */
	struct entry *hnext;		/* hash chain */
	struct entry *prev, *next;	/* recency list, head = most recent */
};

struct lru {
	size_t capacity, nbuckets;
	struct entry **buckets;
	struct entry *head, *tail;
	struct lru_stats stats;
};

struct lru *lru_create(size_t capacity)
{
	struct lru *c;

	if (capacity == 0)
		return NULL;
	c = calloc(1, sizeof *c);
	if (!c)
		return NULL;
	c->capacity = capacity;
	c->nbuckets = capacity * 2;
	c->buckets = calloc(c->nbuckets, sizeof *c->buckets);
	if (!c->buckets) {
		free(c);
		return NULL;
	}
	return c;
}

static void list_unlink(struct lru *c, struct entry *e)
{
	if (e->prev)
		e->prev->next = e->next;
	else
		c->head = e->next;
	if (e->next)
		e->next->prev = e->prev;
	else
		c->tail = e->prev;
}

static void list_push_front(struct lru *c, struct entry *e)
{
	e->prev = NULL;
	e->next = c->head;
	if (c->head)
		c->head->prev = e;
	c->head = e;
	if (!c->tail)
		c->tail = e;
}

static void entry_free(struct lru *c, struct entry *e)
{
	c->stats.entries--;
	c->stats.bytes -= sizeof *e + e->name_size;
	free(e->name);
	free(e);
}

/* Removes and frees the least recently used entry. */
static void evict_one(struct lru *c)
{
	struct entry *e = c->tail, **pp;

	for (pp = &c->buckets[e->id % c->nbuckets]; *pp != e; pp = &(*pp)->hnext)
		;
	*pp = e->hnext;
	list_unlink(c, e);
	entry_free(c, e);
	c->stats.evictions++;
}

/* "Loads" a profile: in a real service, a database round trip. The name's
 * length (32 to 79 characters) varies with the id, as real values do. */
static char *load_profile(unsigned long id, size_t *size)
{
	size_t len = 32 + id % 48;
	char *name = malloc(len + 1);
	int n;

	if (!name)
		return NULL;
	n = snprintf(name, len + 1, "user-%lu ", id);	/* at most 26 characters */
	memset(name + n, '.', len - (size_t)n);
	name[len] = '\0';
	*size = len + 1;
	return name;
}

const char *lru_get(struct lru *c, unsigned long id)
{
	struct entry **bucket = &c->buckets[id % c->nbuckets], *e;

	for (e = *bucket; e; e = e->hnext) {
		if (e->id == id) {
			c->stats.hits++;
			list_unlink(c, e);
			list_push_front(c, e);
			return e->name;
		}
	}

	c->stats.misses++;
	if (c->stats.entries == c->capacity)
		evict_one(c);
	e = malloc(sizeof *e);
	if (!e)
		return NULL;
	e->name = load_profile(id, &e->name_size);
	if (!e->name) {
		free(e);
		return NULL;
	}
	e->id = id;
	e->hnext = *bucket;
	*bucket = e;
	list_push_front(c, e);
	c->stats.entries++;
	c->stats.bytes += sizeof *e + e->name_size;
	return e->name;
}

void lru_get_stats(const struct lru *c, struct lru_stats *out)
{
	*out = c->stats;
}

void lru_free(struct lru *c)
{
	if (!c)
		return;
	while (c->head) {
		struct entry *e = c->head;

		c->head = e->next;
		entry_free(c, e);
	}
	free(c->buckets);
	free(c);
}
