/*
 * test_packed - event batch encoding 2 (format 1.4, lh_packed.c): every
 * event comes back exactly through encode, protobuf pack, the batch
 * parser and decode, for allocator-like and for random streams, and the
 * same events decode the same from encoding 1; a hostile column (a width,
 * a count, an exception, a code out of range, bytes left over, a torn
 * column) is refused as a whole and never read out of bounds. Every
 * decode runs three ways, which must agree on the result and the events:
 * the reference decoder (lh_packed_decode_ref, FORMAT.md read value by
 * value), the fast one with a fresh state, and the fast one with a state
 * kept across every batch of the test, failed ones included (what the
 * reader does).
 */
#include <stdlib.h>

#include "lh_events.h"
#include "tap.h"

static uint64_t rng = 0x9E3779B97F4A7C15ull;
static uint64_t next(void) { rng ^= rng << 13; rng ^= rng >> 7; rng ^= rng << 17; return rng; }

static void *plain_alloc(void *d, size_t n) { (void)d; return malloc(n ? n : 1); }
static void plain_free(void *d, void *p) { (void)d; free(p); }

#define N LH_WRITER_BATCH
static lh_event ev[N], got[N], ref[N];
static struct lh_packed_dec *kept; /* one decoder state for the whole test */
static int disagreements;

/* lh_events_decode, checked against the reference and a kept state. */
static int decode3(const Lh__EventBatch *b, lh_event *out, size_t cap)
{
    int rc = lh_events_decode(b, out, cap);
    if (!(b->has_encoding && b->encoding == LH_BATCH_PACKED))
        return rc;
    int rc_ref = lh_packed_decode_ref(b, ref, cap);
    int same = rc == rc_ref && (rc <= 0 || !memcmp(out, ref, (size_t)rc * sizeof *out));
    int rc_kept = lh_packed_decode_with(kept, b, ref, cap);
    same = same && rc_kept == rc && (rc <= 0 || !memcmp(out, ref, (size_t)rc * sizeof *out));
    if (!same && disagreements++ < 5)
        printf("#   decoders disagree: fast %d, reference %d, kept state %d\n", rc, rc_ref, rc_kept);
    return rc;
}
static void *enc_block, *old_block;
static struct lh_packed_enc *enc;
static lh_batch_columns old_cols;
static uint8_t wire[64 << 20];

/* A malloc/free loop like a program's: per-thread LIFO reuse by size
 * class, FIFO and random frees, reallocs in place and moved, mmaps,
 * munmaps, time steps of 0, 1 and sometimes far. */
static size_t allocator_like(int threads, int random_times)
{
    static uint64_t live[16][64], live_size[16][64];
    static uint64_t freed[16][40][8];
    static int nfreed[16][40];
    memset(live, 0, sizeof live);
    memset(nfreed, 0, sizeof nfreed);
    uint64_t t = 1000 + next() % 5000, top = 0x55550000000ull;
    size_t n = 0;
    for (int it = 0; n + 3 < N; it++) {
        int th = (int)(next() % (uint64_t)threads);
        int slot = (int)(next() % 64);
        t += random_times ? next() % 3 == 0 ? (next() % 4 == 0 ? next() % 100000 : 1) : 0 : it % 5 == 0;
        if (live[th][slot]) {
            lh_event *e = &ev[n++];
            memset(e, 0, sizeof *e);
            e->kind = LH_EV_FREE;
            e->thread = (uint32_t)th + 1;
            e->time_us = t;
            e->addr = live[th][slot];
            int cls = (int)((live_size[th][slot] + 23) >> 4) % 40;
            if (nfreed[th][cls] < 8)
                freed[th][cls][nfreed[th][cls]++] = live[th][slot];
            live[th][slot] = 0;
        }
        uint64_t size = 16 + next() % 300;
        int cls = (int)((size + 23) >> 4) % 40;
        lh_event *e = &ev[n++];
        memset(e, 0, sizeof *e);
        e->thread = (uint32_t)th + 1;
        e->time_us = t;
        e->size = size;
        e->stack = 1 + (uint32_t)(next() % 50) * 7;
        uint64_t r = next() % 100;
        if (r < 3) {
            e->kind = LH_EV_MMAP;
            e->addr = 0x7f0000000000ull + (next() % 1000) * 4096;
            e->size = 4096 * (1 + next() % 8);
            lh_event *u = &ev[n++];
            *u = *e;
            u->kind = LH_EV_MUNMAP;
            u->stack = 0;
            continue;
        }
        e->kind = r < 10 ? LH_EV_REALLOC : LH_EV_ALLOC;
        if (nfreed[th][cls] && next() % 10)
            e->addr = freed[th][cls][--nfreed[th][cls]];
        else
            e->addr = top, top += ((size + 23) & ~15ull);
        if (e->kind == LH_EV_REALLOC)
            e->old_addr = next() % 2 ? e->addr : top + 4096 * (next() % 9);
        live[th][slot] = e->addr;
        live_size[th][slot] = size;
    }
    return n;
}

/* Anything at all: kinds, threads, addresses, sizes, stacks of every width. */
static uint64_t any(void)
{
    switch (next() % 5) {
    case 0: return next() % 4;
    case 1: return next() % 300;
    case 2: return next() % 70000;
    case 3: return 0;
    default: return next();
    }
}
static size_t random_events(size_t n)
{
    uint64_t t = any();
    for (size_t i = 0; i < n; i++) {
        lh_event *e = &ev[i];
        memset(e, 0, sizeof *e);
        e->kind = (uint32_t)(next() % LH_EV_KIND_COUNT);
        e->thread = (uint32_t)any();
        t += next() % 4 ? 0 : any() % (1ull << 40);
        e->time_us = t;
        e->addr = any() << (next() % 2 ? 4 : 0);
        if (lh_kind_has_size(e->kind))
            e->size = any();
        if (lh_kind_has_stack(e->kind))
            e->stack = (uint32_t)any();
        if (e->kind == LH_EV_REALLOC)
            e->old_addr = next() % 3 ? e->addr : any() << 4;
    }
    return n;
}

static size_t pack(Lh__EventBatch *b)
{
    size_t len = protobuf_c_message_get_packed_size(&b->base);
    if (len > sizeof wire)
        return 0;
    protobuf_c_message_pack(&b->base, wire);
    return len;
}

/* encode with encoding enc_kind, pack, parse with lh_batch_parse, decode. */
static int roundtrip(size_t n, int enc_kind, size_t *wire_len)
{
    Lh__EventBatch b;
    int rc = enc_kind == LH_BATCH_PACKED ? lh_packed_encode(ev, n, enc, &b) : lh_events_encode(ev, n, &old_cols, &b);
    if (rc)
        return -100 + rc;
    size_t len = pack(&b);
    if (wire_len)
        *wire_len = len;
    ProtobufCAllocator pa = { plain_alloc, plain_free, NULL };
    Lh__EventBatch *p = NULL;
    /* lh_batch_parse allocates pieces; keep them in a list freed here */
    rc = lh_batch_parse(wire, len, &pa, &p);
    if (rc)
        return -200 + rc;
    memset(got, 0xA5, sizeof(lh_event) * n);
    rc = decode3(p, got, N);
    /* the packed columns point into wire; the arrays were malloc'd */
    free(p->kinds); free(p->threads); free(p->time_deltas); free(p->addr_deltas); free(p->sizes);
    free(p->stacks); free(p->old_addr_deltas); free(p->addr_refs); free(p);
    return rc;
}

static int same_events(size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (ev[i].time_us != got[i].time_us || ev[i].addr != got[i].addr || ev[i].old_addr != got[i].old_addr ||
            ev[i].size != got[i].size || ev[i].stack != got[i].stack || ev[i].thread != got[i].thread ||
            ev[i].kind != got[i].kind) {
            printf("#   event %zu differs: kind %u/%u addr %llx/%llx old %llx/%llx size %llu/%llu t %llu/%llu\n", i,
                   ev[i].kind, got[i].kind, (unsigned long long)ev[i].addr, (unsigned long long)got[i].addr,
                   (unsigned long long)ev[i].old_addr, (unsigned long long)got[i].old_addr,
                   (unsigned long long)ev[i].size, (unsigned long long)got[i].size,
                   (unsigned long long)ev[i].time_us, (unsigned long long)got[i].time_us);
            return 0;
        }
    return 1;
}

static void test_allocator_like_roundtrip(void)
{
    for (int threads = 1; threads <= 16; threads *= 4) {
        size_t n = allocator_like(threads, 0), len2 = 0, len1 = 0;
        CHECK_U64(roundtrip(n, LH_BATCH_PACKED, &len2), n);
        CHECK(same_events(n));
        CHECK_U64(roundtrip(n, LH_BATCH_VARINT, &len1), n);
        CHECK(same_events(n));
        CHECK(len2 < len1); /* smaller before LZ4 already */
    }
}

static void test_random_times_roundtrip(void)
{
    size_t n = allocator_like(3, 1);
    CHECK_U64(roundtrip(n, LH_BATCH_PACKED, NULL), n);
    CHECK(same_events(n));
}

static void test_random_streams_roundtrip(void)
{
    for (int round = 0; round < 200; round++) {
        size_t n = round < 5 ? (size_t)round : 1 + next() % (round % 10 == 0 ? N : 700);
        random_events(n);
        int rc = roundtrip(n, LH_BATCH_PACKED, NULL);
        CHECK_U64(rc, n);
        if (rc != (int)n || !same_events(n)) {
            CHECK(0);
            printf("#   round %d, %zu events\n", round, n);
            break;
        }
    }
}

static void test_empty_batch(void)
{
    CHECK_U64(roundtrip(0, LH_BATCH_PACKED, NULL), 0);
}

static void test_encoder_refuses(void)
{
    Lh__EventBatch b;
    allocator_like(1, 0);
    ev[3].kind = LH_EV_KIND_COUNT;
    CHECK_U64(lh_packed_encode(ev, 10, enc, &b), (uint64_t)LH_E_ARG);
    allocator_like(1, 0);
    ev[4].time_us = ev[3].time_us - 1;
    CHECK_U64(lh_packed_encode(ev, 10, enc, &b), (uint64_t)LH_E_ARG);
    CHECK_U64(lh_packed_encode(ev, N + 1, enc, &b), (uint64_t)LH_E_ARG);
}

/* The batch of a small stream, to spoil one field at a time. */
static Lh__EventBatch good;
static uint8_t copy[11][1 << 16];
static size_t good_n;
static ProtobufCBinaryData *field(Lh__EventBatch *b, int i)
{
    ProtobufCBinaryData *f[11] = { &b->kind_codes, &b->thread_codes, &b->time_gaps, &b->time_steps,
                                   &b->alloc_codes, &b->free_codes, &b->explicit_addrs, &b->size_codes,
                                   &b->explicit_sizes, &b->stack_dict, &b->stack_codes };
    return f[i];
}
static void make_good(void)
{
    good_n = allocator_like(2, 1);
    if (good_n > 2000)
        good_n = 2000;
    lh_packed_encode(ev, good_n, enc, &good);
    for (int i = 0; i < 11; i++) {
        ProtobufCBinaryData *d = field(&good, i);
        memcpy(copy[i], d->data, d->len);
        d->data = copy[i];
    }
}

static int decode_spoiled(Lh__EventBatch *b)
{
    return decode3(b, got, N);
}

/* Many small batches through one kept state: each decodes as alone. */
static void test_kept_state(void)
{
    size_t n = allocator_like(5, 1), at = 0, k = 1;
    int ok = 1;
    while (ok && at < n) {
        size_t m = k < n - at ? k : n - at;
        Lh__EventBatch b;
        ok = lh_packed_encode(ev + at, m, enc, &b) == LH_OK && lh_packed_decode_with(kept, &b, got, N) == (int)m &&
             !memcmp(got, ev + at, m * sizeof *got) && decode3(&b, got, N) == (int)m;
        at += m;
        k = k * 3 + 1;
    }
    CHECK(ok);
    CHECK(at == n);
}

static void test_decoders_agree(void)
{
    CHECK_U64(disagreements, 0);
}

static void test_hostile_columns(void)
{
    make_good();
    CHECK_U64(decode_spoiled(&good), good_n);
    for (int i = 0; i < 11; i++) {
        ProtobufCBinaryData *d = field(&good, i);
        size_t len = d->len;
        if (!len)
            continue;
        /* torn: every shorter length is refused (or, rarely, still exact) */
        for (size_t cut = 0; cut < len; cut++) {
            d->len = cut;
            int rc = decode_spoiled(&good);
            CHECK(rc == LH_E_DECODE);
            if (rc != LH_E_DECODE) {
                printf("#   column %d cut at %zu of %zu: %d\n", i, cut, len, rc);
                break;
            }
        }
        d->len = len;
        /* every byte flipped: refused or decoded, never out of bounds (ASan) */
        for (size_t at = 0; at < len; at++) {
            uint8_t keep = copy[i][at];
            copy[i][at] ^= (uint8_t)(1u << (next() % 8));
            int rc = decode_spoiled(&good);
            CHECK(rc == (int)good_n || rc == LH_E_DECODE);
            copy[i][at] = keep;
        }
        /* a byte too many */
        uint8_t extra[1 << 16];
        memcpy(extra, copy[i], len);
        extra[len] = 0;
        d->data = extra;
        d->len = len + 1;
        CHECK_U64(decode_spoiled(&good), (uint64_t)LH_E_DECODE);
        d->data = copy[i];
        d->len = len;
    }
    CHECK_U64(decode_spoiled(&good), good_n);
}

/* Columns made by hand: widths, counts and exceptions out of range. */
static void test_hostile_headers(void)
{
    make_good();
    ProtobufCBinaryData *k = &good.kind_codes, keep = *k;
    uint8_t buf[64];
    /* width 65 */
    size_t p = 0;
    buf[p++] = (uint8_t)good_n; /* count (as one varint byte if < 128) */
    if (good_n >= 128) { buf[0] = (uint8_t)(0x80 | (good_n & 0x7f)); buf[p++] = (uint8_t)(good_n >> 7); }
    size_t hdr = p;
    buf[p++] = 0; buf[p++] = 65;
    k->data = buf; k->len = p;
    CHECK_U64(decode_spoiled(&good), (uint64_t)LH_E_DECODE);
    /* width 0, base 0 with a trailing byte */
    p = hdr; buf[p++] = 0; buf[p++] = 0; buf[p++] = 7;
    k->len = p;
    CHECK_U64(decode_spoiled(&good), (uint64_t)LH_E_DECODE);
    /* width 64 needs count * 8 bytes */
    p = hdr; buf[p++] = 0; buf[p++] = 64;
    k->len = p;
    CHECK_U64(decode_spoiled(&good), (uint64_t)LH_E_DECODE);
    /* base 7: every kind rank is 7 >= 5 */
    p = hdr; buf[p++] = 7; buf[p++] = 0;
    k->len = p;
    CHECK_U64(decode_spoiled(&good), (uint64_t)LH_E_DECODE);
    /* a count of 2^63 */
    uint8_t big[] = { 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x40, 0, 0 };
    k->data = big; k->len = sizeof big;
    CHECK_U64(decode_spoiled(&good), (uint64_t)LH_E_DECODE);
    *k = keep;
    /* n_events that disagrees with the columns, and beyond the limit */
    good.n_events++;
    CHECK_U64(decode_spoiled(&good), (uint64_t)LH_E_DECODE);
    good.n_events = LH_MAX_BATCH_EVENTS + 1;
    CHECK_U64(decode_spoiled(&good), (uint64_t)LH_E_TOO_LARGE);
    good.n_events = (uint32_t)good_n;
    /* an unknown encoding, and 1.x columns beside encoding 2's */
    good.encoding = 3;
    CHECK_U64(decode_spoiled(&good), (uint64_t)LH_E_DECODE);
    good.encoding = LH_BATCH_PACKED;
    uint32_t one = 0;
    good.n_kinds = 1; good.kinds = &one;
    CHECK_U64(decode_spoiled(&good), (uint64_t)LH_E_DECODE);
    good.n_kinds = 0; good.kinds = NULL;
    good.addr_shift = 64;
    CHECK_U64(decode_spoiled(&good), (uint64_t)LH_E_DECODE);
    good.addr_shift = 4;
    CHECK(decode_spoiled(&good) == (int)good_n || decode_spoiled(&good) == LH_E_DECODE);
    good.addr_shift = 0;
    lh_packed_encode(ev, good_n, enc, &good);
    CHECK_U64(decode_spoiled(&good), good_n);
}

int main(void)
{
    enc_block = malloc(lh_packed_bytes());
    old_block = malloc(lh_batch_columns_bytes());
    if (!enc_block || !old_block)
        return 1;
    enc = lh_packed_init(enc_block);
    lh_batch_columns_init(&old_cols, old_block);
    kept = lh_packed_dec_new();
    if (!kept)
        return 1;
    TEST(test_allocator_like_roundtrip);
    TEST(test_random_times_roundtrip);
    TEST(test_random_streams_roundtrip);
    TEST(test_empty_batch);
    TEST(test_encoder_refuses);
    TEST(test_hostile_columns);
    TEST(test_hostile_headers);
    TEST(test_kept_state);
    TEST(test_decoders_agree);
    lh_packed_dec_free(kept);
    free(enc_block);
    free(old_block);
    return TAP_DONE();
}
