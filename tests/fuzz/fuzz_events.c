/*
 * fuzz_events.c - libFuzzer harness: the input is one packed EventBatch.
 *
 * lh__event_batch__unpack, then lh_events_decode. When the batch decodes
 * and its events are encodable (times non-decreasing, at most one writer
 * batch), they are encoded again with lh_events_encode and decoded once
 * more: the result must be the same events (abort otherwise).
 *
 * The same bytes also go through lh_batch_parse (the reader's own parser):
 * whatever it returns is decoded too, and when protobuf-c accepts the
 * message as well the two results must be equal field by field.
 *
 * Run over regression inputs: build-fuzz/fuzz_events tests/fuzz/regress/events/FILE...
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "lh_events.h"
#include "lh_trace.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void *columns_block;
static lh_batch_columns columns;

static int same_events(const lh_event *a, const lh_event *b, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (a[i].time_us != b[i].time_us || a[i].addr != b[i].addr || a[i].old_addr != b[i].old_addr ||
            a[i].size != b[i].size || a[i].stack != b[i].stack || a[i].thread != b[i].thread ||
            a[i].kind != b[i].kind)
            return 0;
    return 1;
}

/* An allocator that frees everything at once, like the reader's arena. */
static void *blocks[64];
static size_t n_blocks;

static void *arena_alloc(void *ctx, size_t n)
{
    (void)ctx;
    if (n_blocks == sizeof blocks / sizeof *blocks)
        return NULL;
    return blocks[n_blocks++] = malloc(n ? n : 1);
}

static void arena_free(void *ctx, void *p) { (void)ctx, (void)p; }

static void arena_reset(void)
{
    while (n_blocks)
        free(blocks[--n_blocks]);
}

#define SAME_COLUMN(a, b, f) ((a)->n_##f == (b)->n_##f && \
    (!(a)->n_##f || !memcmp((a)->f, (b)->f, (a)->n_##f * sizeof *(a)->f)))

static int same_batch(const Lh__EventBatch *a, const Lh__EventBatch *b)
{
    return a->has_first_time_us == b->has_first_time_us && a->first_time_us == b->first_time_us &&
           a->has_addr_shift == b->has_addr_shift && a->addr_shift == b->addr_shift &&
           SAME_COLUMN(a, b, kinds) && SAME_COLUMN(a, b, threads) && SAME_COLUMN(a, b, time_deltas) &&
           SAME_COLUMN(a, b, addr_deltas) && SAME_COLUMN(a, b, sizes) && SAME_COLUMN(a, b, stacks) &&
           SAME_COLUMN(a, b, old_addr_deltas) && SAME_COLUMN(a, b, addr_refs);
}

/* lh_batch_parse against protobuf-c (pb may be NULL: it refused). */
static void check_parser(const uint8_t *data, size_t size, const Lh__EventBatch *pb)
{
    ProtobufCAllocator a = { arena_alloc, arena_free, NULL };
    Lh__EventBatch *mine = NULL;
    int rc = lh_batch_parse(data, size, &a, &mine);
    if (rc == LH_OK) {
        if (!mine || (pb && !same_batch(pb, mine)))
            abort();
        if (mine->n_kinds <= 4096) {
            lh_event *ev = malloc((mine->n_kinds ? mine->n_kinds : 1) * sizeof *ev);
            if (!ev)
                abort();
            int n = lh_events_decode(mine, ev, mine->n_kinds);
            if (n >= 0 && (size_t)n != mine->n_kinds)
                abort();
            free(ev);
        }
    } else if (rc != LH_E_DECODE && rc != LH_E_TOO_LARGE && rc != LH_E_NOMEM) {
        abort();
    }
    arena_reset();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    Lh__EventBatch *b = lh__event_batch__unpack(NULL, size, data);
    check_parser(data, size, b);
    if (!b)
        return 0;
    size_t cap = b->n_kinds <= LH_MAX_BATCH_EVENTS ? b->n_kinds : 1;
    lh_event *ev = malloc((cap ? cap : 1) * sizeof *ev);
    if (!ev) {
        lh__event_batch__free_unpacked(b, NULL);
        return 0;
    }
    int n = lh_events_decode(b, ev, cap);
    if (n > (int)cap)
        abort();
    if (n >= 0 && (size_t)n != b->n_kinds)
        abort();
    if (n > 0 && (size_t)n <= LH_WRITER_BATCH) {
        if (!columns_block) {
            columns_block = malloc(lh_batch_columns_bytes());
            if (!columns_block)
                abort();
            lh_batch_columns_init(&columns, columns_block);
        }
        Lh__EventBatch again;
        if (lh_events_encode(ev, (size_t)n, &columns, &again) == LH_OK) {
            /* Through the wire format too. */
            size_t len = lh__event_batch__get_packed_size(&again);
            uint8_t *buf = malloc(len + 1);
            if (!buf)
                abort();
            lh__event_batch__pack(&again, buf);
            Lh__EventBatch *b2 = lh__event_batch__unpack(NULL, len, buf);
            lh_event *ev2 = malloc((size_t)n * sizeof *ev2);
            if (!b2 || !ev2 || lh_events_decode(b2, ev2, (size_t)n) != n || !same_events(ev, ev2, (size_t)n))
                abort();
            free(ev2);
            lh__event_batch__free_unpacked(b2, NULL);
            free(buf);
        }
    }
    free(ev);
    lh__event_batch__free_unpacked(b, NULL);
    return 0;
}
