/*
 * fuzz_events.c - libFuzzer harness: the input is one packed EventBatch,
 * of either encoding (FORMAT.md 4.1.1 varint columns, 4.1.2 predicted
 * bit-packed columns).
 *
 * lh__event_batch__unpack, then lh_events_decode. When the batch decodes
 * and its events are encodable (times non-decreasing, at most one writer
 * batch), they are encoded again in both encodings (lh_events_encode,
 * lh_packed_encode), through the wire and both parsers, and decoded once
 * more: the result must be the same events (abort otherwise).
 *
 * Every encoding-2 decode runs three ways that must agree on the result
 * and on every byte of the events: the fast decoder with a fresh state,
 * the same with one state kept across all inputs (as a reader keeps it),
 * and the reference decoder (lh_packed_decode_ref, FORMAT.md value by
 * value).
 *
 * The input also reads as a stream of events (synth_events: each few
 * bytes an allocation, a free of a recent block, a realloc, a mapping...,
 * shaped so that encoding 2's predictions hit and miss), which goes
 * through both encoders and back the same way: a decoder that reads the
 * encoder's columns differently is caught even when no mutation of a
 * batch reaches it.
 *
 * The same bytes also go through lh_batch_parse (the reader's own parser):
 * whatever it returns is decoded too, and when protobuf-c accepts the
 * message as well the two results must be equal field by field. When the
 * readers would decode the batch straight from the wire
 * (lh_batch_wire_decode), that must give the same events or error.
 *
 * Run over regression inputs: build-fuzz/fuzz_events tests/fuzz/regress/events/FILE...
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "lh_events.h"
#include "lh_trace.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void *columns_block, *packed_block;
static lh_batch_columns columns;
static struct lh_packed_enc *packed;

static int same_events(const lh_event *a, const lh_event *b, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (a[i].time_us != b[i].time_us || a[i].addr != b[i].addr || a[i].old_addr != b[i].old_addr ||
            a[i].size != b[i].size || a[i].stack != b[i].stack || a[i].thread != b[i].thread ||
            a[i].kind != b[i].kind)
            return 0;
    return 1;
}

/* lh_events_decode, and for encoding 2 the kept state and the reference
 * too: any disagreement aborts. */
static int decode_checked(const Lh__EventBatch *b, lh_event *out, size_t cap)
{
    static struct lh_packed_dec *kept;
    int rc = lh_events_decode(b, out, cap);
    if (!(b->has_encoding && b->encoding == LH_BATCH_PACKED))
        return rc;
    if (!kept && !(kept = lh_packed_dec_new()))
        abort();
    lh_event *other = malloc((cap ? cap : 1) * sizeof *other);
    if (!other)
        abort();
    int rc_ref = lh_packed_decode_ref(b, other, cap);
    if (rc_ref != rc || (rc > 0 && memcmp(out, other, (size_t)rc * sizeof *out)))
        abort();
    int rc_kept = lh_packed_decode_with(kept, b, other, cap);
    if (rc_kept != rc || (rc > 0 && memcmp(out, other, (size_t)rc * sizeof *out)))
        abort();
    free(other);
    return rc;
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

#define SAME_BYTES(a, b, f) ((a)->has_##f == (b)->has_##f && (a)->f.len == (b)->f.len && \
    (!(a)->f.len || !memcmp((a)->f.data, (b)->f.data, (a)->f.len)))

static int same_batch(const Lh__EventBatch *a, const Lh__EventBatch *b)
{
    return a->has_first_time_us == b->has_first_time_us && a->first_time_us == b->first_time_us &&
           a->has_addr_shift == b->has_addr_shift && a->addr_shift == b->addr_shift &&
           SAME_COLUMN(a, b, kinds) && SAME_COLUMN(a, b, threads) && SAME_COLUMN(a, b, time_deltas) &&
           SAME_COLUMN(a, b, addr_deltas) && SAME_COLUMN(a, b, sizes) && SAME_COLUMN(a, b, stacks) &&
           SAME_COLUMN(a, b, old_addr_deltas) && SAME_COLUMN(a, b, addr_refs) &&
           a->has_encoding == b->has_encoding && a->encoding == b->encoding &&
           a->has_n_events == b->has_n_events && a->n_events == b->n_events &&
           SAME_BYTES(a, b, kind_codes) && SAME_BYTES(a, b, thread_codes) && SAME_BYTES(a, b, time_gaps) &&
           SAME_BYTES(a, b, time_steps) && SAME_BYTES(a, b, alloc_codes) && SAME_BYTES(a, b, free_codes) &&
           SAME_BYTES(a, b, explicit_addrs) && SAME_BYTES(a, b, size_codes) &&
           SAME_BYTES(a, b, explicit_sizes) && SAME_BYTES(a, b, stack_dict) && SAME_BYTES(a, b, stack_codes);
}

/* The readers' way for a batch the scan finds fused: its events straight
 * from the wire, which must be what the arrays gave (rc: lh_batch_parse's
 * error, else lh_events_decode's count or error; ev: those events). */
static void check_wire(const uint8_t *data, size_t size, int rc, const lh_event *ev)
{
    lh_batch_wire w;
    int scanned = lh_batch_scan(data, size, &w);
    if (scanned != LH_OK) {
        if (scanned != rc) /* the scan is the parser's first pass */
            abort();
        return;
    }
    if (!w.fused)
        return;
    size_t cap = lh_batch_wire_events(&w); /* as the reader makes room */
    lh_event *mine = malloc((cap ? cap : 1) * sizeof *mine);
    if (!mine)
        abort();
    int got = lh_batch_wire_decode(&w, mine, cap);
    if (got != rc || (got > 0 && memcmp(mine, ev, (size_t)got * sizeof *mine)))
        abort();
    free(mine);
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
        size_t want = lh_batch_events(mine);
        if (want <= 4096) {
            lh_event *ev = malloc((want ? want : 1) * sizeof *ev);
            if (!ev)
                abort();
            int n = decode_checked(mine, ev, want);
            if (n >= 0 && (size_t)n != want)
                abort();
            check_wire(data, size, n, ev);
            free(ev);
        }
    } else if (rc != LH_E_DECODE && rc != LH_E_TOO_LARGE && rc != LH_E_NOMEM) {
        abort();
    } else if (rc != LH_E_NOMEM) {
        check_wire(data, size, rc, NULL);
    }
    arena_reset();
}

/* Encode n events in the encoding asked for, pack, parse with protobuf-c
 * and with lh_batch_parse, decode both: the same events, or abort. Events
 * the encoders refuse (times going back) are skipped. */
static void round_trip(const lh_event *ev, size_t n, int encoding)
{
    if (!columns_block) {
        columns_block = malloc(lh_batch_columns_bytes());
        packed_block = malloc(lh_packed_bytes());
        if (!columns_block || !packed_block)
            abort();
        lh_batch_columns_init(&columns, columns_block);
        packed = lh_packed_init(packed_block);
    }
    Lh__EventBatch again;
    int rc = encoding == LH_BATCH_PACKED ? lh_packed_encode(ev, n, packed, &again)
                                         : lh_events_encode(ev, n, &columns, &again);
    if (rc != LH_OK)
        return;
    size_t len = lh__event_batch__get_packed_size(&again);
    uint8_t *buf = malloc(len + 1);
    lh_event *ev2 = malloc((n ? n : 1) * sizeof *ev2);
    if (!buf || !ev2)
        abort();
    lh__event_batch__pack(&again, buf);
    Lh__EventBatch *b2 = lh__event_batch__unpack(NULL, len, buf);
    if (!b2 || lh_batch_events(b2) != n || decode_checked(b2, ev2, n) != (int)n || !same_events(ev, ev2, n))
        abort();
    ProtobufCAllocator a = { arena_alloc, arena_free, NULL };
    Lh__EventBatch *mine = NULL;
    if (lh_batch_parse(buf, len, &a, &mine) != LH_OK || !same_batch(b2, mine) ||
        lh_events_decode(mine, ev2, n) != (int)n || !same_events(ev, ev2, n))
        abort();
    lh_batch_wire w; /* encoding 1 as written: the readers decode it from the wire */
    if (lh_batch_scan(buf, len, &w) != LH_OK || w.fused != (encoding != LH_BATCH_PACKED) ||
        (w.fused && (lh_batch_wire_decode(&w, ev2, n) != (int)n || !same_events(ev, ev2, n))))
        abort();
    arena_reset();
    lh__event_batch__free_unpacked(b2, NULL);
    free(ev2);
    free(buf);
}

/* The input read as events: two bytes of opcode and operand each (the
 * rest of the bytes feed sizes and addresses), a few threads, a few
 * stacks, recent blocks freed and their addresses handed out again, as a
 * malloc would, and now and then anything at all. */
static size_t synth_events(const uint8_t *d, size_t size, lh_event *ev, size_t cap)
{
    uint64_t t = 1000, top = 0x555555550000ull, live[4][16] = { { 0 } }, live_size[4][16] = { { 0 } };
    uint64_t freed[4][4] = { { 0 } };
    size_t n = 0;
    for (size_t i = 0; i + 2 <= size && n < cap; i += 2) {
        uint8_t op = d[i], x = d[i + 1];
        unsigned th = op & 3, k = (op >> 2) & 7, j = x & 15;
        lh_event *e = &ev[n];
        memset(e, 0, sizeof *e);
        t += (op >> 5) == 7 ? (uint64_t)x << 8 : (op >> 5) > 4;
        e->time_us = t;
        e->thread = th == 3 ? 3u + x : th; /* thread 3: many threads, slots collide */
        uint64_t size_v = (x >> 4) < 12 ? 16u * (1 + (x >> 4)) : (uint64_t)x * x * x;
        switch (k) {
        case 0: case 1: case 2: /* allocate: a freed block of its class, or the top */
            e->kind = LH_EV_ALLOC;
            e->size = size_v;
            e->stack = (uint32_t)(x >> 5) + 1;
            e->addr = freed[th][j & 3] && (x & 1) ? freed[th][j & 3] : (top += 16 * (1 + (size_v + 23) / 16));
            freed[th][j & 3] = 0;
            live[th][j] = e->addr;
            live_size[th][j] = e->size;
            break;
        case 3: case 4: /* free a live block (or an unknown one) */
            e->kind = LH_EV_FREE;
            e->addr = live[th][j] ? live[th][j] : top + 4096 * x;
            freed[th][(live_size[th][j] >> 4) & 3] = e->addr;
            live[th][j] = 0;
            break;
        case 5: /* realloc in place or moved */
            e->kind = LH_EV_REALLOC;
            e->old_addr = live[th][j] ? live[th][j] : top;
            e->size = size_v;
            e->stack = 7;
            e->addr = x & 1 ? e->old_addr : (top += 16 * (1 + (size_v + 23) / 16));
            live[th][j] = e->addr;
            live_size[th][j] = e->size;
            break;
        case 6: /* a mapping and (later) its unmapping */
            e->kind = x & 1 ? LH_EV_MUNMAP : LH_EV_MMAP;
            e->addr = 0x7f0000000000ull + 4096ull * (x >> 1);
            e->size = 4096ull * (1 + (x & 7));
            e->stack = e->kind == LH_EV_MMAP ? 9 : 0;
            break;
        default: { /* anything: the rest of the input's bytes */
            uint64_t v = 0;
            for (size_t b = 0; b < 8 && i + 2 + b < size; b++)
                v |= (uint64_t)d[i + 2 + b] << (8 * b);
            e->kind = x % LH_EV_KIND_COUNT;
            e->addr = v;
            e->size = lh_kind_has_size(e->kind) ? v >> (x & 63) : 0;
            e->stack = lh_kind_has_stack(e->kind) ? (uint32_t)(v >> 32) : 0;
            e->old_addr = e->kind == LH_EV_REALLOC ? v * 3 : 0;
            e->thread = x & 0x80 ? (uint32_t)v : e->thread;
            break;
        }
        }
        n++;
    }
    return n;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static lh_event synth[1024]; /* more costs the harness speed, not coverage */
    size_t ns = synth_events(data, size, synth, sizeof synth / sizeof *synth);
    round_trip(synth, ns, LH_BATCH_VARINT);
    round_trip(synth, ns, LH_BATCH_PACKED);

    Lh__EventBatch *b = lh__event_batch__unpack(NULL, size, data);
    check_parser(data, size, b);
    if (!b)
        return 0;
    size_t want = lh_batch_events(b);
    size_t cap = want <= LH_MAX_BATCH_EVENTS ? want : 1;
    lh_event *ev = malloc((cap ? cap : 1) * sizeof *ev);
    if (!ev) {
        lh__event_batch__free_unpacked(b, NULL);
        return 0;
    }
    int n = decode_checked(b, ev, cap);
    if (n > (int)cap)
        abort();
    if (n >= 0 && (size_t)n != want)
        abort();
    if (n > 0 && (size_t)n <= LH_WRITER_BATCH) {
        round_trip(ev, (size_t)n, LH_BATCH_VARINT);
        round_trip(ev, (size_t)n, LH_BATCH_PACKED);
    }
    free(ev);
    lh__event_batch__free_unpacked(b, NULL);
    return 0;
}
