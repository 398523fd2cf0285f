/*
 * histogram.h - allocation sizes in power-of-two buckets, as
 * heaptrack_print -H and memray stats show them (leakhunt-replay
 * --histogram). Counted from the replay engine's allocation hook while a
 * window of the trace is replayed: the per-stack totals hold no sizes.
 */
#ifndef LH_HISTOGRAM_H
#define LH_HISTOGRAM_H

#include <stddef.h>
#include <stdint.h>

#include "replay.h"

/* Bucket 0 holds size 0; bucket k (1..64) sizes 2^(k-1) .. 2^k - 1. */
#define LH_HIST_BUCKETS 65

typedef struct {
    uint64_t count, bytes;   /* bytes wrap rather than overflow */
} lh_hist_bucket;

/* Whether allocations of a stack count (--filter, --exclude,
 * --suppressions): 1 or 0, or -1 when memory ran out (the histogram then
 * fails); asked once per stack id, the answer is kept. */
typedef int (*lh_hist_keep_fn)(void *ctx, const lh_replay *r, uint32_t stack);

typedef struct lh_histogram lh_histogram;

/* keep NULL: every allocation counts. NULL when out of memory. */
lh_histogram *lh_histogram_new(lh_hist_keep_fn keep, void *ctx);
void lh_histogram_free(lh_histogram *h); /* accepts NULL */

/* Count every allocation r applies from now on (through
 * lh_replay_set_alloc_hook) until lh_histogram_stop, which returns 0, or
 * -1 with errno ENOMEM when memory ran out on the way (the buckets are
 * short then, not an answer). */
void lh_histogram_start(lh_histogram *h, lh_replay *r);
int lh_histogram_stop(lh_histogram *h);

/* The buckets (LH_HIST_BUCKETS of them) and a bucket's size range. */
const lh_hist_bucket *lh_histogram_buckets(const lh_histogram *h);
void lh_hist_bucket_range(int k, uint64_t *lo, uint64_t *hi);

#endif
