/*
 * lh_events.c - event batches as columns.
 *
 * Why columns: each column holds values of one kind (small kinds, small
 * thread indexes, mostly-zero time deltas, address deltas that repeat as
 * a churn reuses the same blocks), so LZ4 finds long matches inside each
 * column that it would miss in interleaved records.
 */
#include <string.h>

#include "lh_events.h"

#define MAX_ADDR_SHIFT 6

size_t lh_batch_columns_bytes(void)
{
    return (size_t)LH_WRITER_BATCH * (3 * sizeof(uint32_t) + 4 * sizeof(uint64_t));
}

void lh_batch_columns_init(lh_batch_columns *c, void *block)
{
    uint64_t *p64 = block;
    c->time_deltas = p64;
    c->sizes = p64 + LH_WRITER_BATCH;
    c->addr_deltas = (int64_t *)(p64 + 2 * LH_WRITER_BATCH);
    c->old_addr_deltas = (int64_t *)(p64 + 3 * LH_WRITER_BATCH);
    uint32_t *p32 = (uint32_t *)(p64 + 4 * LH_WRITER_BATCH);
    c->kinds = p32;
    c->threads = p32 + LH_WRITER_BATCH;
    c->stacks = p32 + 2 * LH_WRITER_BATCH;
}

/* The largest shift that loses no address bit: heap blocks are 16-byte
 * aligned, so dropping 4 zero bits saves most of a varint byte per delta. */
static unsigned common_shift(const lh_event *ev, size_t n)
{
    uint64_t bits = 0;
    for (size_t i = 0; i < n; i++)
        bits |= ev[i].addr | (ev[i].kind == LH_EV_REALLOC ? ev[i].old_addr : 0);
    unsigned shift = 0;
    while (shift < MAX_ADDR_SHIFT && !(bits & (1ull << shift)))
        shift++;
    return shift;
}

int lh_events_encode(const lh_event *ev, size_t n, lh_batch_columns *c, Lh__EventBatch *b)
{
    if (n > LH_WRITER_BATCH)
        return LH_E_ARG;
    lh__event_batch__init(b);
    unsigned shift = common_shift(ev, n);
    uint64_t prev_time = n ? ev[0].time_us : 0, prev_addr = 0;
    size_t n_sizes = 0, n_stacks = 0, n_old = 0;

    for (size_t i = 0; i < n; i++) {
        const lh_event *e = &ev[i];
        if (e->kind >= LH_EV_KIND_COUNT || e->time_us < prev_time)
            return LH_E_ARG;
        c->kinds[i] = e->kind;
        c->threads[i] = e->thread;
        c->time_deltas[i] = e->time_us - prev_time;
        prev_time = e->time_us;
        uint64_t a = e->addr >> shift;
        c->addr_deltas[i] = (int64_t)(a - prev_addr);
        prev_addr = a;
        if (lh_kind_has_size(e->kind))
            c->sizes[n_sizes++] = e->size;
        if (lh_kind_has_stack(e->kind))
            c->stacks[n_stacks++] = e->stack;
        if (e->kind == LH_EV_REALLOC)
            c->old_addr_deltas[n_old++] = (int64_t)((e->old_addr >> shift) - a);
    }
    b->has_first_time_us = 1;
    b->first_time_us = n ? ev[0].time_us : 0;
    b->has_addr_shift = shift != 0;
    b->addr_shift = shift;
    b->n_kinds = n;            b->kinds = c->kinds;
    b->n_threads = n;          b->threads = c->threads;
    b->n_time_deltas = n;      b->time_deltas = c->time_deltas;
    b->n_addr_deltas = n;      b->addr_deltas = c->addr_deltas;
    b->n_sizes = n_sizes;      b->sizes = c->sizes;
    b->n_stacks = n_stacks;    b->stacks = c->stacks;
    b->n_old_addr_deltas = n_old; b->old_addr_deltas = c->old_addr_deltas;
    return LH_OK;
}

int lh_events_decode(const Lh__EventBatch *b, lh_event *out, size_t cap)
{
    size_t n = b->n_kinds;
    if (n > LH_MAX_BATCH_EVENTS || n > cap)
        return LH_E_TOO_LARGE;
    if (b->n_threads != n || b->n_time_deltas != n || b->n_addr_deltas != n)
        return LH_E_DECODE;
    if (b->addr_shift > 63)
        return LH_E_DECODE;

    /* Count what the kinds promise before touching the optional columns, so
     * a batch whose columns disagree is refused as a whole. */
    size_t want_sizes = 0, want_stacks = 0, want_old = 0;
    for (size_t i = 0; i < n; i++) {
        uint32_t k = b->kinds[i];
        if (k >= LH_EV_KIND_COUNT)
            return LH_E_DECODE;
        want_sizes += lh_kind_has_size(k);
        want_stacks += lh_kind_has_stack(k);
        want_old += k == LH_EV_REALLOC;
    }
    if (b->n_sizes != want_sizes || b->n_stacks != want_stacks || b->n_old_addr_deltas != want_old)
        return LH_E_DECODE;

    unsigned shift = b->addr_shift;
    uint64_t t = b->first_time_us, prev_addr = 0;
    size_t is = 0, ik = 0, io = 0;
    for (size_t i = 0; i < n; i++) {
        lh_event *e = &out[i];
        memset(e, 0, sizeof *e);
        uint32_t k = b->kinds[i];
        e->kind = k;
        e->thread = b->threads[i];
        t += b->time_deltas[i];
        e->time_us = t;
        uint64_t a = prev_addr + (uint64_t)b->addr_deltas[i];
        prev_addr = a;
        e->addr = a << shift;
        if (lh_kind_has_size(k))
            e->size = b->sizes[is++];
        if (lh_kind_has_stack(k))
            e->stack = b->stacks[ik++];
        if (k == LH_EV_REALLOC)
            e->old_addr = (a + (uint64_t)b->old_addr_deltas[io++]) << shift;
    }
    return (int)n;
}
