/*
 * lh_events.c - event batches as columns.
 *
 * Why columns: each column holds values of one kind (small kinds, small
 * thread indexes, mostly-zero time deltas, sizes from a small set), so LZ4
 * finds long matches inside each column that it would miss in interleaved
 * records.
 *
 * Why an address history: LZ4 has no entropy coder, so raw addresses, which
 * look random, would cost 3-6 bytes each. But a free almost always names a
 * block this thread allocated a little earlier, and an allocator hands back
 * blocks freed a little earlier. So each thread slot keeps its last 256
 * addresses; an event whose address is among them stores only how far back
 * it is (one byte, and for a steady loop the same byte again and again).
 * Other addresses are stored as a delta from the slot's previous address.
 * Both sides start each batch with an empty history, so every chunk decodes
 * on its own.
 */
#include <stdlib.h>
#include <string.h>

#include "lh_events.h"

#define MAX_ADDR_SHIFT 6
#define SEEN_BITS 12

struct lh_addr_seen {
    uint64_t addr;
    uint64_t push;  /* value of hist->pushed[slot] when it was pushed */
    uint32_t slot;
    uint32_t valid;
};

size_t lh_batch_columns_bytes(void)
{
    return (size_t)LH_WRITER_BATCH * (4 * sizeof(uint32_t) + 4 * sizeof(uint64_t)) +
           sizeof(lh_addr_history) + ((size_t)1 << SEEN_BITS) * sizeof(struct lh_addr_seen);
}

void lh_batch_columns_init(lh_batch_columns *c, void *block)
{
    uint64_t *p64 = block;
    c->time_deltas = p64;
    c->sizes = p64 + LH_WRITER_BATCH;
    c->addr_deltas = (int64_t *)(p64 + 2 * LH_WRITER_BATCH);
    c->old_addr_deltas = (int64_t *)(p64 + 3 * LH_WRITER_BATCH);
    c->hist = (lh_addr_history *)(p64 + 4 * LH_WRITER_BATCH);
    c->seen = (struct lh_addr_seen *)(c->hist + 1);
    uint32_t *p32 = (uint32_t *)(c->seen + ((size_t)1 << SEEN_BITS));
    c->kinds = p32;
    c->threads = p32 + LH_WRITER_BATCH;
    c->stacks = p32 + 2 * LH_WRITER_BATCH;
    c->addr_refs = p32 + 3 * LH_WRITER_BATCH;
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

static inline void hist_push(lh_addr_history *h, unsigned slot, uint64_t a)
{
    h->ring[slot][h->pushed[slot] % LH_HIST_DEPTH] = a;
    h->pushed[slot]++;
    h->prev[slot] = a;
}

static inline size_t seen_index(uint64_t a)
{
    return (size_t)((a * 0x9E3779B97F4A7C15ull) >> (64 - SEEN_BITS));
}

int lh_events_encode(const lh_event *ev, size_t n, lh_batch_columns *c, Lh__EventBatch *b)
{
    if (n > LH_WRITER_BATCH)
        return LH_E_ARG;
    lh__event_batch__init(b);
    memset(c->hist, 0, sizeof *c->hist);
    memset(c->seen, 0, ((size_t)1 << SEEN_BITS) * sizeof *c->seen);
    lh_addr_history *h = c->hist;
    unsigned shift = common_shift(ev, n);
    uint64_t prev_time = n ? ev[0].time_us : 0;
    size_t n_sizes = 0, n_stacks = 0, n_old = 0, n_explicit = 0;

    for (size_t i = 0; i < n; i++) {
        const lh_event *e = &ev[i];
        if (e->kind >= LH_EV_KIND_COUNT || e->time_us < prev_time)
            return LH_E_ARG;
        unsigned slot = e->thread % LH_HIST_SLOTS;
        c->kinds[i] = e->kind;
        c->threads[i] = e->thread;
        c->time_deltas[i] = e->time_us - prev_time;
        prev_time = e->time_us;

        uint64_t a = e->addr >> shift;
        struct lh_addr_seen *s = &c->seen[seen_index(a)];
        uint64_t back = h->pushed[slot] - s->push + 1; /* s->push is 1 + its index */
        if (s->valid && s->addr == a && s->slot == slot && back <= LH_HIST_DEPTH) {
            c->addr_refs[i] = (uint32_t)back;
        } else {
            c->addr_refs[i] = 0;
            c->addr_deltas[n_explicit++] = (int64_t)(a - h->prev[slot]);
        }
        /* Remember where the push we are about to make lands. */
        s->addr = a;
        s->push = h->pushed[slot] + 1;
        s->slot = slot;
        s->valid = 1;
        hist_push(h, slot, a);

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
    b->n_kinds = n;               b->kinds = c->kinds;
    b->n_threads = n;             b->threads = c->threads;
    b->n_time_deltas = n;         b->time_deltas = c->time_deltas;
    b->n_addr_refs = n;           b->addr_refs = c->addr_refs;
    b->n_addr_deltas = n_explicit; b->addr_deltas = c->addr_deltas;
    b->n_sizes = n_sizes;         b->sizes = c->sizes;
    b->n_stacks = n_stacks;       b->stacks = c->stacks;
    b->n_old_addr_deltas = n_old; b->old_addr_deltas = c->old_addr_deltas;
    return LH_OK;
}

/* Either encoding's events, without the domains column; d (may be NULL)
 * keeps an encoding-2 decoder's state from batch to batch. */
static int decode_encoded(struct lh_packed_dec **d, const Lh__EventBatch *b, lh_event *out, size_t cap)
{
    if (b->has_encoding && b->encoding == LH_BATCH_PACKED) {
        if (!d)
            return lh_packed_decode(b, out, cap);
        if (!*d && !(*d = lh_packed_dec_new()))
            return LH_E_NOMEM;
        return lh_packed_decode_with(*d, b, out, cap);
    }
    if (b->has_encoding && b->encoding != LH_BATCH_VARINT)
        return LH_E_DECODE;
    size_t n = b->n_kinds;
    if (n > LH_MAX_BATCH_EVENTS || n > cap)
        return LH_E_TOO_LARGE;
    if (b->n_threads != n || b->n_time_deltas != n || b->n_addr_refs != n)
        return LH_E_DECODE;
    if (b->addr_shift > 63)
        return LH_E_DECODE;

    /* Count what the kinds and references promise before reading the
     * optional columns, so a batch whose columns disagree is refused whole. */
    size_t want_sizes = 0, want_stacks = 0, want_old = 0, want_explicit = 0;
    for (size_t i = 0; i < n; i++) {
        uint32_t k = b->kinds[i];
        if (k >= LH_EV_KIND_COUNT || b->addr_refs[i] > LH_HIST_DEPTH)
            return LH_E_DECODE;
        want_sizes += lh_kind_has_size(k);
        want_stacks += lh_kind_has_stack(k);
        want_old += k == LH_EV_REALLOC;
        want_explicit += b->addr_refs[i] == 0;
    }
    if (b->n_sizes != want_sizes || b->n_stacks != want_stacks || b->n_old_addr_deltas != want_old ||
        b->n_addr_deltas != want_explicit)
        return LH_E_DECODE;

    lh_addr_history *h = malloc(sizeof *h);
    if (!h)
        return LH_E_NOMEM;
    memset(h, 0, sizeof *h);
    unsigned shift = b->addr_shift;
    uint64_t t = b->first_time_us;
    size_t is = 0, ik = 0, io = 0, ie = 0;
    for (size_t i = 0; i < n; i++) {
        lh_event *e = &out[i];
        memset(e, 0, sizeof *e);
        uint32_t k = b->kinds[i];
        unsigned slot = b->threads[i] % LH_HIST_SLOTS;
        e->kind = k;
        e->thread = b->threads[i];
        t += b->time_deltas[i];
        e->time_us = t;
        uint64_t a, back = b->addr_refs[i];
        if (back) {
            if (back > h->pushed[slot]) {
                free(h);
                return LH_E_DECODE; /* refers to before the batch began */
            }
            a = h->ring[slot][(h->pushed[slot] - back) % LH_HIST_DEPTH];
        } else {
            a = h->prev[slot] + (uint64_t)b->addr_deltas[ie++];
        }
        hist_push(h, slot, a);
        e->addr = a << shift;
        if (lh_kind_has_size(k))
            e->size = b->sizes[is++];
        if (lh_kind_has_stack(k))
            e->stack = b->stacks[ik++];
        if (k == LH_EV_REALLOC)
            e->old_addr = (a + (uint64_t)b->old_addr_deltas[io++]) << shift;
    }
    free(h);
    return (int)n;
}

/* --- domains (format 1.5): one column beside either encoding ------------ */

int lh_events_any_domain(const lh_event *ev, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (ev[i].domain)
            return 1;
    return 0;
}

void lh_events_put_domains(const lh_event *ev, size_t n, uint32_t *col, Lh__EventBatch *b)
{
    b->n_domains = 0;
    b->domains = NULL;
    if (!col || !lh_events_any_domain(ev, n))
        return;
    for (size_t i = 0; i < n; i++)
        col[i] = ev[i].domain;
    b->n_domains = n;
    b->domains = col;
}

int lh_events_decode_with(struct lh_packed_dec **d, const Lh__EventBatch *b, lh_event *out, size_t cap)
{
    int n = decode_encoded(d, b, out, cap);
    if (n < 0)
        return n;
    if (b->n_domains && b->n_domains != (size_t)n)
        return LH_E_DECODE; /* neither none nor one per event */
    for (int i = 0; i < n; i++)
        out[i].domain = b->n_domains ? b->domains[i] : LH_DOM_LIBC;
    return n;
}

int lh_events_decode(const Lh__EventBatch *b, lh_event *out, size_t cap)
{
    return lh_events_decode_with(NULL, b, out, cap);
}
