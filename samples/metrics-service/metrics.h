/* metrics.h - per-request timing, the "harmless" decorator.
 *
 * with_metrics() wraps a handler: it times the call and records the duration
 * under the request's full arguments ("price?item=apple&qty=17"). The table
 * behind it is never trimmed, so every distinct request a client ever sends
 * stays in memory for the life of the process. That is the leak this sample
 * exists to show.
 */
#ifndef METRICS_SERVICE_METRICS_H
#define METRICS_SERVICE_METRICS_H

#include <stddef.h>
#include "http.h"

/* What the table holds, by malloc request size (not usable size), so a heap
 * profiler's numbers can be checked against it exactly. */
struct metrics_stats {
	size_t entries;		/* distinct keys */
	size_t samples;		/* durations recorded */
	size_t entry_bytes;	/* entries * sizeof(struct metric) */
	size_t key_bytes;	/* key strings, with their NULs */
	size_t sample_bytes;	/* sample arrays at their current capacity */
	size_t table_bytes;	/* the sum of the three above */
	size_t failures;	/* durations not recorded: out of memory */
};

/* Runs handler(req, resp), timing it, and records the time under the request
 * target (without its "/api/" prefix). Returns what the handler returned;
 * a failure to record is counted but never fails the request. */
int with_metrics(handler_fn handler, const struct request *req, struct response *resp);

/* Adds one duration (milliseconds) under key. Returns 0, or -1 when out of
 * memory (nothing is recorded then). */
int metrics_record(const char *key, double ms);

/* Copies the table's current size into *out. */
void metrics_get_stats(struct metrics_stats *out);

#endif
