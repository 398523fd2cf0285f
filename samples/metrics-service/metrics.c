/* metrics.c - per-request timing behind with_metrics().
 *
 * Every API request is timed and its duration appended to an entry keyed by
 * the request's full arguments. The intent was "latency per endpoint"; the
 * key turned out to include the query string, so each distinct request adds
 * an entry, its key and a sample array, and nothing ever removes them. The
 * process grows with the number of distinct requests it has ever seen.
 *
 * The fix, for the record: key by route ("price"), keep a fixed-size
 * histogram instead of every sample, or bound the table. The sample keeps
 * the bug so leakhunt has something to find.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "metrics.h"

#define METRICS_BUCKETS 4096	/* fixed: chains just get longer */
#define METRICS_FIRST_CAP 4	/* samples in a new entry's array */

struct metric {
	struct metric *next;	/* hash chain */
	char *key;		/* "price?item=apple&qty=17" */
	unsigned long count;
	double total_ms, min_ms, max_ms;
	double *samples;	/* every duration ever recorded, oldest first */
	size_t nsamples, cap;
};

static struct metric *table[METRICS_BUCKETS];
static struct metrics_stats stats;

static uint32_t hash_key(const char *key)
{
	uint32_t h = 2166136261u;	/* FNV-1a */

	for (; *key; key++)
		h = (h ^ (unsigned char)*key) * 16777619u;
	return h;
}

static double now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

/* Finds the entry for key, or creates it. Returns NULL when out of memory. */
static struct metric *metrics_entry(const char *key)
{
	uint32_t b = hash_key(key) % METRICS_BUCKETS;
	struct metric *m;
	size_t klen;

	for (m = table[b]; m; m = m->next)
		if (strcmp(m->key, key) == 0)
			return m;

	m = malloc(sizeof *m); /* LEAK: one entry per distinct request, never trimmed */
	if (!m)
		return NULL;
	klen = strlen(key) + 1;
	m->key = malloc(klen);
	if (!m->key) {
		free(m);
		return NULL;
	}
	memcpy(m->key, key, klen);
	m->count = 0;
	m->total_ms = m->min_ms = m->max_ms = 0;
	m->samples = NULL;
	m->nsamples = m->cap = 0;
	m->next = table[b];
	table[b] = m;

	stats.entries++;
	stats.entry_bytes += sizeof *m;
	stats.key_bytes += klen;
	stats.table_bytes += sizeof *m + klen;
	return m;
}

int metrics_record(const char *key, double ms)
{
	struct metric *m = metrics_entry(key);

	if (!m)
		return -1;
	if (m->nsamples == m->cap) {
		size_t cap = m->cap ? m->cap * 2 : METRICS_FIRST_CAP;
		double *s = realloc(m->samples, cap * sizeof *s);

		if (!s)
			return -1;
		stats.sample_bytes += (cap - m->cap) * sizeof *s;
		stats.table_bytes += (cap - m->cap) * sizeof *s;
		m->samples = s;
		m->cap = cap;
	}
	m->samples[m->nsamples++] = ms;
	if (m->count == 0 || ms < m->min_ms)
		m->min_ms = ms;
	if (ms > m->max_ms)
		m->max_ms = ms;
	m->count++;
	m->total_ms += ms;
	stats.samples++;
	return 0;
}

int with_metrics(handler_fn handler, const struct request *req, struct response *resp)
{
	const char *key = req->target;
	double start = now_ms();
	int rc = handler(req, resp);

	if (strncmp(key, "/api/", 5) == 0)
		key += 5;
	if (metrics_record(key, now_ms() - start) != 0)
		stats.failures++;
	return rc;
}

void metrics_get_stats(struct metrics_stats *out)
{
	*out = stats;
}
