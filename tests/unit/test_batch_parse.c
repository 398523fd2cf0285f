/*
 * test_batch_parse - the hand-written EventBatch parser against protobuf-c:
 * the same columns for every message both accept (random batches, unpacked
 * and split columns, unknown fields), and no crash on any mutation; and
 * the readers' decoding straight from the wire (lh_batch_wire_decode)
 * against the arrays and lh_events_decode: the same events or the same
 * error for every batch.
 */
#include <stdlib.h>

#include "lh_events.h"
#include "tap.h"

static void *plain_alloc(void *d, size_t n) { (void)d; return malloc(n ? n : 1); }
static void plain_free(void *d, void *p) { (void)d; free(p); }

/* A bump allocator the test frees at once, like the reader's arena. */
typedef struct { void *blocks[64]; int n; } pool;
static void *pool_alloc(void *d, size_t n)
{
    pool *p = d;
    if (p->n == 64) return NULL;
    return p->blocks[p->n++] = malloc(n ? n : 1);
}
static void pool_drain(pool *p) { while (p->n) free(p->blocks[--p->n]); }

static uint64_t rng = 88172645463325252ull;
static uint64_t next(void) { rng ^= rng << 13; rng ^= rng >> 7; rng ^= rng << 17; return rng; }
static uint64_t some(void)
{
    switch (next() % 4) { case 0: return next() % 128; case 1: return next() % 70000; case 2: return next(); default: return 0; }
}

#define SAME_COL(a, b, col) (a->n_##col == b->n_##col && \
    (!a->n_##col || !memcmp(a->col, b->col, a->n_##col * sizeof(*a->col))))

#define SAME_BYTES(a, b, f) (a->has_##f == b->has_##f && a->f.len == b->f.len && \
    (!a->f.len || !memcmp(a->f.data, b->f.data, a->f.len)))

static int same(const Lh__EventBatch *a, const Lh__EventBatch *b)
{
    return a->has_first_time_us == b->has_first_time_us && a->first_time_us == b->first_time_us
        && a->has_addr_shift == b->has_addr_shift && a->addr_shift == b->addr_shift
        && SAME_COL(a, b, kinds) && SAME_COL(a, b, threads) && SAME_COL(a, b, time_deltas)
        && SAME_COL(a, b, addr_deltas) && SAME_COL(a, b, sizes) && SAME_COL(a, b, stacks)
        && SAME_COL(a, b, old_addr_deltas) && SAME_COL(a, b, addr_refs)
        && a->has_encoding == b->has_encoding && a->encoding == b->encoding
        && a->has_n_events == b->has_n_events && a->n_events == b->n_events
        && SAME_BYTES(a, b, kind_codes) && SAME_BYTES(a, b, thread_codes) && SAME_BYTES(a, b, time_gaps)
        && SAME_BYTES(a, b, time_steps) && SAME_BYTES(a, b, alloc_codes) && SAME_BYTES(a, b, free_codes)
        && SAME_BYTES(a, b, explicit_addrs) && SAME_BYTES(a, b, size_codes) && SAME_BYTES(a, b, explicit_sizes)
        && SAME_BYTES(a, b, stack_dict) && SAME_BYTES(a, b, stack_codes) && SAME_COL(a, b, domains);
}

/* Both parsers on buf; returns 1 if both accept and agree, 0 if both
 * reject, -1 if they disagree about an accepted message. */
static int compare(const uint8_t *buf, size_t len)
{
    ProtobufCAllocator pa = { plain_alloc, plain_free, NULL };
    pool pl = { .n = 0 };
    ProtobufCAllocator ours = { pool_alloc, plain_free, &pl };
    Lh__EventBatch *ref = lh__event_batch__unpack(&pa, len, buf);
    Lh__EventBatch *got = NULL;
    int rc = lh_batch_parse(buf, len, &ours, &got);
    int result;
    if (ref && rc == LH_OK)
        result = same(ref, got) ? 1 : -1;
    else if (!ref && rc != LH_OK)
        result = 0;
    else
        result = ref ? 2 : 3; /* one side only: allowed, counted */
    if (ref)
        lh__event_batch__free_unpacked(ref, &pa);
    pool_drain(&pl);
    return result;
}

static size_t fill(uint64_t *v, size_t max) { size_t n = next() % max; for (size_t i = 0; i < n; i++) v[i] = some(); return n; }

static void test_random_batches_agree(void)
{
    static uint32_t k[300], t[300], s[300], r[300], dm[300];
    static uint64_t td[300], sz[300];
    static int64_t ad[300], od[300];
    static uint8_t buf[1 << 16];
    uint64_t tmp[300];
    int agreed = 0;
    for (int round = 0; round < 2000; round++) {
        Lh__EventBatch b = LH__EVENT_BATCH__INIT;
        size_t n;
        if (next() % 2) { b.has_first_time_us = 1; b.first_time_us = some(); }
        if (next() % 2) { b.has_addr_shift = 1; b.addr_shift = (uint32_t)some(); }
        n = fill(tmp, 300); for (size_t i = 0; i < n; i++) k[i] = (uint32_t)tmp[i]; b.n_kinds = n; b.kinds = k;
        n = fill(tmp, 300); for (size_t i = 0; i < n; i++) t[i] = (uint32_t)tmp[i]; b.n_threads = n; b.threads = t;
        n = fill(tmp, 300); for (size_t i = 0; i < n; i++) s[i] = (uint32_t)tmp[i]; b.n_stacks = n; b.stacks = s;
        n = fill(tmp, 300); for (size_t i = 0; i < n; i++) r[i] = (uint32_t)tmp[i]; b.n_addr_refs = n; b.addr_refs = r;
        b.n_time_deltas = fill(td, 300); b.time_deltas = td;
        b.n_sizes = fill(sz, 300); b.sizes = sz;
        n = fill(tmp, 300); for (size_t i = 0; i < n; i++) ad[i] = (int64_t)tmp[i]; b.n_addr_deltas = n; b.addr_deltas = ad;
        n = fill(tmp, 300); for (size_t i = 0; i < n; i++) od[i] = -(int64_t)tmp[i]; b.n_old_addr_deltas = n; b.old_addr_deltas = od;
        n = next() % 3 ? 0 : fill(tmp, 300); for (size_t i = 0; i < n; i++) dm[i] = (uint32_t)tmp[i]; b.n_domains = n; b.domains = dm;
        size_t len = lh__event_batch__pack(&b, buf);
        agreed += compare(buf, len) == 1;
    }
    CHECK_U64(agreed, 2000);
}

/* Format 1.4's fields (encoding, n_events, the packed columns as bytes,
 * some given twice: the last wins) agree with protobuf-c too. */
static void test_packed_fields_agree(void)
{
    static uint8_t bytes[11][64], buf[1 << 12];
    int agreed = 0;
    for (int round = 0; round < 500; round++) {
        Lh__EventBatch b = LH__EVENT_BATCH__INIT;
        if (next() % 2) { b.has_encoding = 1; b.encoding = (uint32_t)some(); }
        if (next() % 2) { b.has_n_events = 1; b.n_events = (uint32_t)some(); }
        ProtobufCBinaryData *f[11] = { &b.kind_codes, &b.thread_codes, &b.time_gaps, &b.time_steps,
                                       &b.alloc_codes, &b.free_codes, &b.explicit_addrs, &b.size_codes,
                                       &b.explicit_sizes, &b.stack_dict, &b.stack_codes };
        protobuf_c_boolean *h[11] = { &b.has_kind_codes, &b.has_thread_codes, &b.has_time_gaps,
                                      &b.has_time_steps, &b.has_alloc_codes, &b.has_free_codes,
                                      &b.has_explicit_addrs, &b.has_size_codes, &b.has_explicit_sizes,
                                      &b.has_stack_dict, &b.has_stack_codes };
        for (int i = 0; i < 11; i++) {
            if (next() % 3 == 0)
                continue;
            size_t n = next() % 64;
            for (size_t j = 0; j < n; j++)
                bytes[i][j] = (uint8_t)next();
            *h[i] = 1;
            f[i]->len = n;
            f[i]->data = bytes[i];
        }
        size_t len = lh__event_batch__pack(&b, buf);
        if (next() % 4 == 0 && b.has_stack_codes) { /* the column again, shorter: the last one wins */
            Lh__EventBatch again = LH__EVENT_BATCH__INIT;
            again.has_stack_codes = 1;
            again.stack_codes.len = b.stack_codes.len / 2;
            again.stack_codes.data = bytes[10];
            len += lh__event_batch__pack(&again, buf + len);
        }
        agreed += compare(buf, len) == 1;
    }
    CHECK_U64(agreed, 500);
}

static size_t put_varint(uint8_t *p, uint64_t v)
{
    size_t n = 0;
    while (v >= 0x80) { p[n++] = (uint8_t)(v | 0x80); v >>= 7; }
    p[n++] = (uint8_t)v;
    return n;
}

/* Unpacked elements, a column split in two packed runs, unknown fields of
 * every wire type: protobuf semantics, so both parsers must agree. */
static void test_unpacked_split_and_unknown_fields(void)
{
    uint8_t buf[256];
    size_t n = 0;
    n += put_varint(buf + n, (3 << 3) | 0); n += put_varint(buf + n, 1);          /* kinds: 1 */
    n += put_varint(buf + n, (3 << 3) | 2); n += put_varint(buf + n, 2);
    buf[n++] = 0; buf[n++] = 4;                                                    /* kinds: 0, 4 */
    n += put_varint(buf + n, (99 << 3) | 0); n += put_varint(buf + n, 12345);     /* unknown varint */
    n += put_varint(buf + n, (98 << 3) | 1); memset(buf + n, 7, 8); n += 8;       /* unknown fixed64 */
    n += put_varint(buf + n, (97 << 3) | 5); memset(buf + n, 7, 4); n += 4;       /* unknown fixed32 */
    n += put_varint(buf + n, (96 << 3) | 2); n += put_varint(buf + n, 3); n += 3; /* unknown bytes */
    n += put_varint(buf + n, (6 << 3) | 0); n += put_varint(buf + n, 3);          /* addr_delta -2 */
    n += put_varint(buf + n, (1 << 3) | 0); n += put_varint(buf + n, 1ull << 40); /* first time */
    CHECK(compare(buf, n) == 1);

    ProtobufCAllocator pa = { plain_alloc, plain_free, NULL };
    Lh__EventBatch *b = NULL;
    CHECK_U64(lh_batch_parse(buf, n, &pa, &b), LH_OK);
    if (b) {
        CHECK_U64(b->n_kinds, 3);
        CHECK_U64(b->kinds[0], 1);
        CHECK_U64(b->kinds[2], 4);
        CHECK_U64(b->n_addr_deltas, 1);
        CHECK(b->addr_deltas[0] == -2);
        CHECK_U64(b->first_time_us, 1ull << 40);
        /* the parser's arrays came from pa: free them by hand */
        free(b->kinds); free(b->addr_deltas); free(b);
    }
}

static void test_malformed_rejected(void)
{
    /* The parser leaves what it allocated before finding the damage to its
     * allocator (the reader's arena is reset per chunk): use a pool here. */
    pool pl = { .n = 0 };
    ProtobufCAllocator pa = { pool_alloc, plain_free, &pl };
    Lh__EventBatch *b = NULL;
    const uint8_t torn_varint[] = { 0x18, 0x80 };
    const uint8_t torn_run[] = { 0x1a, 0x05, 0x01 };
    const uint8_t run_ends_mid_varint[] = { 0x1a, 0x01, 0x81 };
    const uint8_t long_varint[] = { 0x1a, 0x0b, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x01 };
    const uint8_t bad_wire[] = { 0x1b, 0x00 };
    CHECK(lh_batch_parse(torn_varint, sizeof torn_varint, &pa, &b) == LH_E_DECODE);
    CHECK(lh_batch_parse(torn_run, sizeof torn_run, &pa, &b) == LH_E_DECODE);
    CHECK(lh_batch_parse(run_ends_mid_varint, sizeof run_ends_mid_varint, &pa, &b) == LH_E_DECODE);
    CHECK(lh_batch_parse(long_varint, sizeof long_varint, &pa, &b) == LH_E_DECODE);
    CHECK(lh_batch_parse(bad_wire, sizeof bad_wire, &pa, &b) == LH_E_DECODE);
    pool_drain(&pl);
}

/* Flip bytes of valid batches: never a crash, never a disagreement on a
 * message both accept. */
static void test_mutations_never_disagree(void)
{
    static uint8_t buf[4096];
    int disagree = 0;
    for (int round = 0; round < 20000; round++) {
        Lh__EventBatch b = LH__EVENT_BATCH__INIT;
        uint32_t k[20];
        uint64_t sz[20];
        for (int i = 0; i < 20; i++) { k[i] = (uint32_t)(next() % 5); sz[i] = some(); }
        b.n_kinds = 20; b.kinds = k; b.n_sizes = 20; b.sizes = sz;
        size_t len = lh__event_batch__pack(&b, buf);
        for (int f = 0; f < 3; f++)
            buf[next() % len] ^= (uint8_t)(1u << (next() % 8));
        if (next() % 4 == 0)
            len -= next() % len;
        disagree += compare(buf, len) == -1;
    }
    CHECK_U64(disagree, 0);
}

/* Format 1.5's domains column, with each encoding: left out when every
 * event is libc's, one entry per event otherwise; both parsers agree on
 * it; decoded into lh_event.domain (0 without it); any other length is
 * malformed. */
static void test_domains_column(void)
{
    void *block = malloc(lh_batch_columns_bytes()), *pblock = malloc(lh_packed_bytes());
    lh_batch_columns cols;
    lh_batch_columns_init(&cols, block);
    struct lh_packed_enc *pk = lh_packed_init(pblock);
    static uint32_t col[LH_WRITER_BATCH];
    static uint8_t buf[1 << 14];
    for (int enc = 1; enc <= 2; enc++) {
        lh_event ev[4] = {
            { .time_us = 1, .addr = 0x1000, .size = 56, .stack = 1, .kind = LH_EV_ALLOC },
            { .time_us = 2, .addr = 0x200000, .size = 1 << 20, .stack = 2, .kind = LH_EV_MMAP },
            { .time_us = 3, .addr = 0x1000, .kind = LH_EV_FREE },
            { .time_us = 4, .addr = 0x3000, .size = 80, .stack = 1, .kind = LH_EV_ALLOC },
        };
        Lh__EventBatch b;
        CHECK((enc == 1 ? lh_events_encode(ev, 4, &cols, &b) : lh_packed_encode(ev, 4, pk, &b)) == LH_OK);
        lh_events_put_domains(ev, 4, col, &b);
        CHECK_U64(b.n_domains, 0); /* libc only: the column stays out, bytes as 1.4 wrote */
        ev[0].domain = LH_DOM_PY_OBJ;
        ev[1].domain = LH_DOM_PY_ARENA;
        ev[2].domain = LH_DOM_PY_OBJ;
        ev[3].domain = LH_DOM_PY_MEM;
        CHECK((enc == 1 ? lh_events_encode(ev, 4, &cols, &b) : lh_packed_encode(ev, 4, pk, &b)) == LH_OK);
        lh_events_put_domains(ev, 4, col, &b);
        CHECK_U64(b.n_domains, 4);
        size_t len = lh__event_batch__pack(&b, buf);
        CHECK(compare(buf, len) == 1);
        pool pl = { .n = 0 };
        ProtobufCAllocator ours = { pool_alloc, plain_free, &pl };
        Lh__EventBatch *got = NULL;
        lh_event out[4];
        CHECK(lh_batch_parse(buf, len, &ours, &got) == LH_OK);
        CHECK(got && lh_events_decode(got, out, 4) == 4);
        for (int i = 0; got && i < 4; i++) {
            CHECK_U64(out[i].domain, ev[i].domain);
            CHECK_U64(out[i].addr, ev[i].addr);
            CHECK_U64(out[i].kind, ev[i].kind);
        }
        if (got) {
            got->n_domains = 3; /* neither none nor one per event */
            CHECK(lh_events_decode(got, out, 4) == LH_E_DECODE);
        }
        pool_drain(&pl);
    }
    free(block);
    free(pblock);
}

/* Events of buf by way of the arrays (lh_batch_parse, lh_events_decode)
 * and straight from the wire; *fused: whether the wire path applies.
 * Returns 1 when both give the same count or error and the same events. */
static int wire_agrees(const uint8_t *buf, size_t len, int *fused)
{
    static lh_event a[LH_WRITER_BATCH], w[LH_WRITER_BATCH];
    pool pl = { .n = 0 };
    ProtobufCAllocator ours = { pool_alloc, plain_free, &pl };
    Lh__EventBatch *b = NULL;
    int ra = lh_batch_parse(buf, len, &ours, &b);
    if (ra == LH_OK)
        ra = lh_events_decode(b, a, LH_WRITER_BATCH);
    pool_drain(&pl);
    lh_batch_wire wire;
    int rw = lh_batch_scan(buf, len, &wire);
    *fused = rw == LH_OK && wire.fused;
    if (rw == LH_OK && !wire.fused)
        return 1; /* readers take the arrays for it */
    if (rw == LH_OK)
        rw = lh_batch_wire_decode(&wire, w, LH_WRITER_BATCH);
    if (ra != rw)
        return 0;
    return ra <= 0 || !memcmp(a, w, (size_t)ra * sizeof *a);
}

/* Random events as the writer encodes them: fused, and the same events. */
static void test_wire_decode_agrees(void)
{
    void *block = malloc(lh_batch_columns_bytes());
    lh_batch_columns cols;
    lh_batch_columns_init(&cols, block);
    static lh_event ev[4096];
    static uint32_t dom[LH_WRITER_BATCH];
    static uint8_t buf[1 << 18];
    int agreed = 0, fused = 0, f;
    for (int round = 0; round < 300; round++) {
        size_t n = next() % 4096;
        uint64_t t = next() % 1000, live[64] = { 0 };
        for (size_t i = 0; i < n; i++) {
            lh_event *e = &ev[i];
            memset(e, 0, sizeof *e);
            t += next() % 3;
            e->time_us = t;
            e->thread = (uint32_t)(next() % 4 ? next() % 3 : next() % 40);
            e->kind = (uint32_t)(next() % LH_EV_KIND_COUNT);
            uint64_t *slot = &live[next() % 64];
            e->addr = next() % 3 ? (*slot ? *slot : 0x10000 + (next() % 4096) * 16) : next() << 4;
            if (lh_kind_has_size(e->kind))
                e->size = some();
            if (lh_kind_has_stack(e->kind))
                e->stack = (uint32_t)(next() % 3000);
            if (e->kind == LH_EV_REALLOC)
                e->old_addr = next() % 2 ? e->addr + 4096 : next() << 4;
            *slot = e->kind == LH_EV_FREE ? 0 : e->addr;
            e->domain = round % 3 == 0 ? (uint32_t)(next() % LH_DOM_COUNT) : 0;
        }
        Lh__EventBatch b;
        CHECK(lh_events_encode(ev, n, &cols, &b) == LH_OK);
        lh_events_put_domains(ev, n, dom, &b);
        size_t len = lh__event_batch__pack(&b, buf);
        agreed += wire_agrees(buf, len, &f);
        fused += f;
        static lh_event out[4096];
        lh_batch_wire w;
        CHECK(lh_batch_scan(buf, len, &w) == LH_OK);
        if (lh_batch_wire_decode(&w, out, 4096) != (int)n || (n && memcmp(out, ev, n * sizeof *ev))) {
            CHECK(!"the events round-trip");
            break;
        }
    }
    CHECK_U64(agreed, 300);
    CHECK_U64(fused, 300);
    /* Damaged copies of such batches: the same answer, error or events. */
    int disagree = 0;
    fused = 0;
    for (int round = 0; round < 20000; round++) {
        size_t n = 1 + next() % 40;
        for (size_t i = 0; i < n; i++) {
            lh_event *e = &ev[i];
            memset(e, 0, sizeof *e);
            e->time_us = i;
            e->thread = (uint32_t)(next() % 3);
            e->kind = (uint32_t)(next() % LH_EV_KIND_COUNT);
            e->addr = (0x1000 + next() % 8) << 4;
            e->size = lh_kind_has_size(e->kind) ? some() : 0;
            e->stack = lh_kind_has_stack(e->kind) ? (uint32_t)(next() % 9) : 0;
            e->old_addr = e->kind == LH_EV_REALLOC ? (0x1000 + next() % 8) << 4 : 0;
            e->domain = round % 2 ? (uint32_t)(next() % LH_DOM_COUNT) : 0;
        }
        Lh__EventBatch b;
        CHECK(lh_events_encode(ev, n, &cols, &b) == LH_OK);
        lh_events_put_domains(ev, n, dom, &b);
        size_t len = lh__event_batch__pack(&b, buf);
        for (int k = 0; k < 1 + (int)(next() % 3); k++)
            buf[next() % len] ^= (uint8_t)(1u << (next() % 8));
        if (next() % 8 == 0)
            len -= next() % len;
        disagree += !wire_agrees(buf, len, &f);
        fused += f;
    }
    CHECK_U64(disagree, 0);
    CHECK(fused > 5000); /* most damaged batches still go the wire's way */
    free(block);
}

/* Columns in two runs, unpacked, encoding 2's fields or domains one by
 * one: not for the wire path (the arrays join them); and every random
 * batch of test_random_batches_agree's kind gets the same answer. */
static void test_wire_decode_declines_and_agrees(void)
{
    uint8_t buf[64];
    size_t n = 0;
    lh_batch_wire w;
    n += put_varint(buf + n, (3 << 3) | 2); n += put_varint(buf + n, 1); buf[n++] = 0;
    n += put_varint(buf + n, (3 << 3) | 2); n += put_varint(buf + n, 1); buf[n++] = 1;
    CHECK(lh_batch_scan(buf, n, &w) == LH_OK && !w.fused && w.count[0] == 2);
    n = 0;
    n += put_varint(buf + n, (3 << 3) | 0); n += put_varint(buf + n, 1);
    CHECK(lh_batch_scan(buf, n, &w) == LH_OK && !w.fused);
    n = 0;
    n += put_varint(buf + n, (24 << 3) | 0); n += put_varint(buf + n, 1);
    CHECK(lh_batch_scan(buf, n, &w) == LH_OK && !w.fused);
    n = 0;
    n += put_varint(buf + n, (13 << 3) | 2); n += put_varint(buf + n, 0);
    CHECK(lh_batch_scan(buf, n, &w) == LH_OK && !w.fused);
    n = 0;
    n += put_varint(buf + n, (11 << 3) | 0); n += put_varint(buf + n, LH_BATCH_PACKED);
    CHECK(lh_batch_scan(buf, n, &w) == LH_OK && !w.fused);
    CHECK(lh_batch_wire_decode(&w, NULL, 0) == LH_E_ARG);
    n = 0; /* a long varint inside a run: refused, as by the arrays */
    n += put_varint(buf + n, (3 << 3) | 2); n += put_varint(buf + n, 11);
    memset(buf + n, 0x80, 10); n += 10; buf[n++] = 0;
    n += put_varint(buf + n, (4 << 3) | 2); n += put_varint(buf + n, 1); buf[n++] = 0;
    n += put_varint(buf + n, (5 << 3) | 2); n += put_varint(buf + n, 1); buf[n++] = 0;
    n += put_varint(buf + n, (10 << 3) | 2); n += put_varint(buf + n, 1); buf[n++] = 0;
    int f;
    CHECK(lh_batch_scan(buf, n, &w) == LH_OK && w.fused);
    CHECK(lh_batch_wire_decode(&w, (lh_event[1]){ { 0 } }, 1) == LH_E_DECODE);
    CHECK(wire_agrees(buf, n, &f) && f);

    static uint32_t k[300], t[300], s[300], r[300];
    static uint64_t td[300], sz[300];
    static int64_t ad[300];
    static uint8_t big[1 << 14];
    int agreed = 0, fused = 0;
    for (int round = 0; round < 3000; round++) {
        Lh__EventBatch b = LH__EVENT_BATCH__INIT;
        /* columns of one length, small values: many batches decode */
        size_t len = next() % 300;
        for (size_t i = 0; i < len; i++) {
            k[i] = (uint32_t)(next() % 6); t[i] = (uint32_t)(next() % 20);
            r[i] = (uint32_t)(next() % 3 ? 0 : next() % 4); td[i] = next() % 3;
        }
        b.n_kinds = b.n_threads = b.n_addr_refs = b.n_time_deltas = len;
        b.kinds = k; b.threads = t; b.addr_refs = r; b.time_deltas = td;
        b.n_sizes = next() % (len + 1); b.sizes = sz;
        b.n_stacks = next() % (len + 1); b.stacks = s;
        b.n_addr_deltas = next() % (len + 1); b.addr_deltas = ad;
        for (size_t i = 0; i < len; i++) { sz[i] = some(); s[i] = (uint32_t)some(); ad[i] = (int64_t)some(); }
        size_t blen = lh__event_batch__pack(&b, big);
        agreed += wire_agrees(big, blen, &f);
        fused += f;
    }
    CHECK_U64(agreed, 3000);
    CHECK_U64(fused, 3000);
}

int main(void)
{
    TEST(test_random_batches_agree);
    TEST(test_packed_fields_agree);
    TEST(test_domains_column);
    TEST(test_unpacked_split_and_unknown_fields);
    TEST(test_malformed_rejected);
    TEST(test_mutations_never_disagree);
    TEST(test_wire_decode_agrees);
    TEST(test_wire_decode_declines_and_agrees);
    return TAP_DONE();
}
