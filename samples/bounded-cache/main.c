/* main.c - bounded-cache: a program whose heap grows, then levels off.
 *
 *   bounded-cache [--capacity N] [--ids N] [--lookups N] [--batches N] [--pace-ms N] [--keep]
 *
 * It looks up user profiles through an LRU cache bounded at --capacity
 * entries (default 2000), drawing ids from --ids (default 10000) with a
 * skew towards small ids, as real traffic has. --lookups (default 40000)
 * are made in --batches (default 20) with a --pace-ms pause (default 25)
 * between them, so the heap's shape over time is easy to see: it rises
 * while the cache fills, then stays flat. A heap profiler should call that
 * growth, not a leak.
 *
 * When run under leakhunt-record it marks "filled" when the cache first
 * holds --capacity entries and "end" after the last lookup; the cache is
 * freed before exit, so nothing is left at the end. With --keep it is not:
 * the program exits with the cache full, as a service stopped in the middle
 * of its life would, so the cache is what is live at the end.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "lru.h"

/* leakhunt's marker API (include/leakhunt.h): a weak reference to the
 * recorder, so the call does nothing unless the recorder is preloaded. */
#include "leakhunt.h"

static void mark(const char *label)
{
	leakhunt_mark(label);
}

/* xorshift64*: a small deterministic generator, so every run is the same. */
static unsigned long long rng_state = 0x9e3779b97f4a7c15ull;

static unsigned long long rng_next(void)
{
	rng_state ^= rng_state >> 12;
	rng_state ^= rng_state << 25;
	rng_state ^= rng_state >> 27;
	return rng_state * 2685821657736338717ull;
}

/* An id in [0, n), skewed: the product of two uniform draws favours small ids. */
static unsigned long skewed_id(unsigned long n)
{
	double a = (double)(rng_next() >> 11) / 9007199254740992.0;
	double b = (double)(rng_next() >> 11) / 9007199254740992.0;

	return (unsigned long)(a * b * (double)n);
}

static int parse_count(const char *opt, const char *text, unsigned long min, unsigned long *out)
{
	char *end;
	unsigned long v = strtoul(text, &end, 10);

	if (*end || end == text || text[0] == '-' || v < min) {
		fprintf(stderr, "bounded-cache: %s '%s': want a number >= %lu\n", opt, text, min);
		return -1;
	}
	*out = v;
	return 0;
}

int main(int argc, char **argv)
{
	unsigned long capacity = 2000, ids = 10000, lookups = 40000, batches = 20, pace_ms = 25;
	struct lru_stats s;
	struct lru *cache;
	int filled = 0, keep = 0;

	for (int i = 1; i < argc; i++) {
		unsigned long *num = NULL, min = 1;

		if (strcmp(argv[i], "--keep") == 0) {
			keep = 1;
			continue;
		}
		if (strcmp(argv[i], "--capacity") == 0)
			num = &capacity;
		else if (strcmp(argv[i], "--ids") == 0)
			num = &ids;
		else if (strcmp(argv[i], "--lookups") == 0)
			num = &lookups;
		else if (strcmp(argv[i], "--batches") == 0)
			num = &batches;
		else if (strcmp(argv[i], "--pace-ms") == 0)
			num = &pace_ms, min = 0;
		if (!num || i + 1 >= argc) {
			fprintf(stderr, "usage: bounded-cache [--capacity N] [--ids N] [--lookups N]"
					" [--batches N] [--pace-ms N] [--keep]\n");
			return 2;
		}
		if (parse_count(argv[i], argv[i + 1], min, num) != 0)
			return 2;
		i++;
	}

	cache = lru_create(capacity);
	if (!cache) {
		fprintf(stderr, "bounded-cache: out of memory\n");
		return 1;
	}
	for (unsigned long b = 0; b < batches; b++) {
		unsigned long n = lookups / batches + (b < lookups % batches);
		struct timespec pause = { (time_t)(pace_ms / 1000), (long)(pace_ms % 1000) * 1000000 };

		for (unsigned long i = 0; i < n; i++) {
			if (!lru_get(cache, skewed_id(ids))) {
				fprintf(stderr, "bounded-cache: out of memory\n");
				lru_free(cache);
				return 1;
			}
			lru_get_stats(cache, &s);
			if (!filled && s.entries == capacity) {
				filled = 1;
				mark("filled");
			}
		}
		lru_get_stats(cache, &s);
		printf("batch %lu/%lu: %zu entries, %zu bytes, %lu hits, %lu misses, %lu evictions\n",
		       b + 1, batches, s.entries, s.bytes, s.hits, s.misses, s.evictions);
		fflush(stdout);
		if (b + 1 < batches && pace_ms)
			nanosleep(&pause, NULL);
	}
	mark("end");
	if (!keep)
		lru_free(cache);
	return 0;
}
