/*
 * histogram.c - allocation sizes in power-of-two buckets (see histogram.h).
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "histogram.h"

struct lh_histogram {
    lh_hist_bucket b[LH_HIST_BUCKETS];
    lh_hist_keep_fn keep;
    void *ctx;
    lh_replay *r;
    /* Per stack id: 0 not asked yet, 1 counts, 2 does not. A byte per
     * stack, as the engine keeps its per-stack totals. */
    uint8_t *verdict;
    size_t n_verdict;
    int nomem;   /* a verdict could not be kept or asked: the counts are short */
};

lh_histogram *lh_histogram_new(lh_hist_keep_fn keep, void *ctx)
{
    lh_histogram *h = calloc(1, sizeof(*h));
    if (!h)
        return NULL;
    h->keep = keep;
    h->ctx = ctx;
    return h;
}

void lh_histogram_free(lh_histogram *h)
{
    if (!h)
        return;
    lh_histogram_stop(h);
    free(h->verdict);
    free(h);
}

static int bucket_of(uint64_t size)
{
    return size ? 64 - __builtin_clzll(size) : 0;
}

static void on_alloc(void *ctx, uint64_t size, uint64_t count, uint64_t bytes, uint32_t stack)
{
    lh_histogram *h = ctx;
    if (h->nomem) /* the answer is lost already: the rest of the window is skipped */
        return;
    if (h->keep) {
        if (stack >= h->n_verdict) {
            size_t n = h->n_verdict ? h->n_verdict : 1024;
            while (n <= stack)
                n *= 2;
            uint8_t *v = realloc(h->verdict, n);
            if (!v) {
                h->nomem = 1;
                return;
            }
            h->verdict = v;
            memset(h->verdict + h->n_verdict, 0, n - h->n_verdict);
            h->n_verdict = n;
        }
        if (!h->verdict[stack]) {
            int keep = h->keep(h->ctx, h->r, stack);
            if (keep < 0) {
                h->nomem = 1;
                return;
            }
            h->verdict[stack] = keep ? 1 : 2;
        }
        if (h->verdict[stack] != 1)
            return;
    }
    lh_hist_bucket *b = &h->b[bucket_of(size)];
    b->count += count;
    b->bytes += bytes;
}

void lh_histogram_start(lh_histogram *h, lh_replay *r)
{
    h->r = r;
    lh_replay_set_alloc_hook(r, on_alloc, h);
}

int lh_histogram_stop(lh_histogram *h)
{
    if (h->r)
        lh_replay_set_alloc_hook(h->r, NULL, NULL);
    h->r = NULL;
    if (!h->nomem)
        return 0;
    errno = ENOMEM;
    return -1;
}

const lh_hist_bucket *lh_histogram_buckets(const lh_histogram *h) { return h->b; }

void lh_hist_bucket_range(int k, uint64_t *lo, uint64_t *hi)
{
    if (k <= 0) {
        *lo = *hi = 0;
        return;
    }
    *lo = 1ull << (k - 1);
    *hi = k == 64 ? UINT64_MAX : (1ull << k) - 1;
}
