/*
 * lh_batch_parse.c - unpack an EventBatch straight from protobuf wire bytes.
 *
 * Event batches are almost all of a trace, and a generic unpacker spends
 * most of replay's time walking field descriptors for them. This parser
 * knows the one message: two passes over the bytes, the first
 * (lh_batch_scan) counting the elements of each repeated column (packed or
 * not, several occurrences concatenate, as protobuf requires), the second
 * decoding them into arrays from the caller's allocator. Unknown fields are skipped; anything
 * malformed (a varint or length running past the end, a bad wire type) is
 * rejected as a whole (LH_E_DECODE), a column longer than a batch may be
 * is LH_E_TOO_LARGE before anything is allocated. The packed columns of
 * encoding 2 (bytes fields) are not copied: they point into buf, so they
 * live as long as the caller's buffer. The result is the same Lh__EventBatch that
 * protobuf-c would produce, so lh_events_decode() takes it unchanged; the
 * event fuzzer checks the two agree.
 *
 * Readers skip the arrays when they can (lh_batch_wire_decode): an
 * encoding-1 batch as leakhunt writes it has each column in one packed
 * run, and its events are then decoded from the runs in one pass, each
 * varint read once, instead of into eight arrays read back by
 * lh_events_decode (half of a replay's time went to the two). Every batch
 * gives the same events or the same error either way; the reader fuzzer
 * compares them.
 */
#include <string.h>

#include "lh_events.h"

enum { F_FIRST_TIME = 1, F_ADDR_SHIFT, F_KINDS, F_THREADS, F_TIME_DELTAS, F_ADDR_DELTAS, F_SIZES,
       F_STACKS, F_OLD_ADDR_DELTAS, F_ADDR_REFS, F_MAX,
       /* format 1.4, encoding 2: two counts and the packed columns */
       F_ENCODING = 11, F_N_EVENTS, F_PACKED_FIRST, F_PACKED_LAST = 23 };

static inline int get_varint(const uint8_t **pp, const uint8_t *end, uint64_t *out)
{
    const uint8_t *p = *pp;
    uint64_t v = 0;
    for (unsigned shift = 0; shift < 70; shift += 7) {
        if (p == end)
            return -1;
        uint8_t b = *p++;
        v |= (uint64_t)(b & 0x7f) << (shift < 64 ? shift : 63);
        if (!(b & 0x80)) {
            *pp = p;
            *out = v;
            return 0;
        }
    }
    return -1; /* more than 10 bytes */
}

static int skip_field(const uint8_t **pp, const uint8_t *end, unsigned wire)
{
    uint64_t v;
    switch (wire) {
    case 0: return get_varint(pp, end, &v);
    case 1: if (end - *pp < 8) return -1; *pp += 8; return 0;
    case 5: if (end - *pp < 4) return -1; *pp += 4; return 0;
    case 2:
        if (get_varint(pp, end, &v) < 0 || v > (uint64_t)(end - *pp))
            return -1;
        *pp += v;
        return 0;
    default: return -1;
    }
}

/* Elements in a packed run of varints: the bytes without the
 * continuation bit (a varint longer than 10 bytes is caught when decoding). */
static size_t count_varints(const uint8_t *p, size_t len)
{
    size_t high = 0, i = 0;
    for (; i + 8 <= len; i += 8) {
        uint64_t w;
        memcpy(&w, p + i, 8);
        /* continuation bits moved to the low bit of each byte, then summed
         * by a multiply (no popcount instruction needed) */
        high += (size_t)((((w & 0x8080808080808080ull) >> 7) * 0x0101010101010101ull) >> 56);
    }
    for (; i < len; i++)
        high += p[i] >> 7;
    return len - high;
}

/* Decode a run of varints into a column; NULL if one is malformed. One-byte
 * varints, by far the most common, take the short path. */
#define DECODE_RUN(name, type, convert)                                     \
    static const uint8_t *name(const uint8_t *p, const uint8_t *end, type *out) \
    {                                                                       \
        while (p < end) {                                                   \
            uint64_t v = *p;                                                \
            if (v < 0x80)                                                   \
                p++;                                                        \
            else if (get_varint(&p, end, &v) < 0)                           \
                return NULL;                                                \
            *out++ = convert(v);                                            \
        }                                                                   \
        return p;                                                           \
    }
#define AS_U32(v) ((uint32_t)(v))
#define AS_U64(v) (v)
#define AS_S64(v) ((int64_t)((v) >> 1) ^ -(int64_t)((v) & 1))
DECODE_RUN(decode_u32, uint32_t, AS_U32)
DECODE_RUN(decode_u64, uint64_t, AS_U64)
DECODE_RUN(decode_s64, int64_t, AS_S64)

static int is_column(unsigned f) { return f >= F_KINDS && f <= F_ADDR_REFS; }
static int is_32bit(unsigned f) { return f == F_KINDS || f == F_THREADS || f == F_STACKS || f == F_ADDR_REFS; }
static int is_signed(unsigned f) { return f == F_ADDR_DELTAS || f == F_OLD_ADDR_DELTAS; }


/* The bytes field of a packed column (last occurrence wins, as protobuf's). */
static ProtobufCBinaryData *packed_field(Lh__EventBatch *b, unsigned f)
{
    switch (f) {
    case 13: b->has_kind_codes = 1; return &b->kind_codes;
    case 14: b->has_thread_codes = 1; return &b->thread_codes;
    case 15: b->has_time_gaps = 1; return &b->time_gaps;
    case 16: b->has_time_steps = 1; return &b->time_steps;
    case 17: b->has_alloc_codes = 1; return &b->alloc_codes;
    case 18: b->has_free_codes = 1; return &b->free_codes;
    case 19: b->has_explicit_addrs = 1; return &b->explicit_addrs;
    case 20: b->has_size_codes = 1; return &b->size_codes;
    case 21: b->has_explicit_sizes = 1; return &b->explicit_sizes;
    case 22: b->has_stack_dict = 1; return &b->stack_dict;
    default: b->has_stack_codes = 1; return &b->stack_codes;
    }
}

/* Format 1.5's domains column (field 24), in a pass of its own over the
 * fields (the first pass skipped it as unknown), packed or not, several
 * occurrences concatenated. */
#define F_DOMAINS 24
static int parse_domains(const uint8_t *buf, size_t len, ProtobufCAllocator *a, Lh__EventBatch *b)
{
    const uint8_t *p = buf, *end = buf + len;
    uint64_t key, v;
    size_t n = 0;
    for (int pass = 0; pass < 2; pass++) {
        size_t at = 0;
        for (p = buf; p < end;) {
            get_varint(&p, end, &key); /* the first pass checked the framing */
            unsigned f = (unsigned)(key >> 3), wire = (unsigned)(key & 7);
            if (f != F_DOMAINS || (wire != 0 && wire != 2)) {
                skip_field(&p, end, wire);
                continue;
            }
            const uint8_t *run_end = p;
            if (wire == 2) {
                get_varint(&p, end, &v);
                run_end = p + v;
                if (v && (p[v - 1] & 0x80))
                    return LH_E_DECODE; /* packed run ends inside a varint */
            } else if (get_varint(&run_end, end, &v) < 0) {
                return LH_E_DECODE;
            }
            size_t k = count_varints(p, (size_t)(run_end - p));
            if (pass == 0) {
                n += k;
                if (n > LH_MAX_BATCH_EVENTS)
                    return LH_E_TOO_LARGE;
            } else if (k && !decode_u32(p, run_end, b->domains + at)) {
                return LH_E_DECODE;
            }
            at += k;
            p = run_end;
        }
        if (pass == 0) {
            if (!n)
                return LH_OK;
            if (!(b->domains = a->alloc(a->allocator_data, n * sizeof(uint32_t))))
                return LH_E_NOMEM;
            b->n_domains = n;
        }
    }
    return LH_OK;
}

int lh_batch_parse(const uint8_t *buf, size_t len, ProtobufCAllocator *a, Lh__EventBatch **out)
{
    lh_batch_wire w;
    int rc = lh_batch_scan(buf, len, &w);
    if (rc) {
        *out = NULL;
        return rc;
    }
    return lh_batch_parse_scanned(buf, len, &w, a, out);
}

/* The second pass: the columns into arrays, the packed fields pointing
 * into buf; the scalar fields are the scan's. */
int lh_batch_parse_scanned(const uint8_t *buf, size_t len, const lh_batch_wire *w, ProtobufCAllocator *a,
                           Lh__EventBatch **out)
{
    const uint8_t *p = buf, *end = buf + len;
    uint64_t key = 0, v = 0;
    size_t count[F_MAX] = { 0 };
    for (unsigned f = F_KINDS; f <= F_ADDR_REFS; f++)
        count[f] = w->count[f - F_KINDS];

    *out = NULL;
    Lh__EventBatch *b = a->alloc(a->allocator_data, sizeof(*b));
    if (!b)
        return LH_E_NOMEM;
    *b = w->head;
    void *col[F_MAX] = { 0 };
    for (unsigned f = F_KINDS; f <= F_ADDR_REFS; f++) {
        if (count[f]) {
            col[f] = a->alloc(a->allocator_data, count[f] * (is_32bit(f) ? 4 : 8));
            if (!col[f])
                return LH_E_NOMEM;
        }
    }
    b->n_kinds = count[F_KINDS];                 b->kinds = col[F_KINDS];
    b->n_threads = count[F_THREADS];             b->threads = col[F_THREADS];
    b->n_time_deltas = count[F_TIME_DELTAS];     b->time_deltas = col[F_TIME_DELTAS];
    b->n_addr_deltas = count[F_ADDR_DELTAS];     b->addr_deltas = col[F_ADDR_DELTAS];
    b->n_sizes = count[F_SIZES];                 b->sizes = col[F_SIZES];
    b->n_stacks = count[F_STACKS];               b->stacks = col[F_STACKS];
    b->n_old_addr_deltas = count[F_OLD_ADDR_DELTAS]; b->old_addr_deltas = col[F_OLD_ADDR_DELTAS];
    b->n_addr_refs = count[F_ADDR_REFS];         b->addr_refs = col[F_ADDR_REFS];

    size_t at[F_MAX] = { 0 };
    p = buf;
    while (p < end) {
        get_varint(&p, end, &key); /* the first pass checked the framing */
        unsigned f = (unsigned)(key >> 3), wire = (unsigned)(key & 7);
        if (is_column(f) && (wire == 0 || wire == 2)) { /* as the first pass: else skipped */
            const uint8_t *run_end = p, *q;
            if (wire == 2) {
                get_varint(&p, end, &v);
                run_end = p + v;
            } else {
                get_varint(&run_end, end, &v); /* one unpacked element */
            }
            size_t n = count_varints(p, (size_t)(run_end - p));
            if (!n) { /* an empty packed run: its column may be NULL */
                p = run_end;
                continue;
            }
            if (is_32bit(f))
                q = decode_u32(p, run_end, (uint32_t *)col[f] + at[f]);
            else if (is_signed(f))
                q = decode_s64(p, run_end, (int64_t *)col[f] + at[f]);
            else
                q = decode_u64(p, run_end, (uint64_t *)col[f] + at[f]);
            if (!q)
                return LH_E_DECODE;
            at[f] += n;
            p = run_end;
        } else if (f >= F_PACKED_FIRST && f <= F_PACKED_LAST) {
            get_varint(&p, end, &v); /* the first pass checked it fits */
            ProtobufCBinaryData *d = packed_field(b, f);
            d->len = (size_t)v;
            d->data = (uint8_t *)p;
            p += v;
        } else {
            skip_field(&p, end, wire);
        }
    }
    int rc = parse_domains(buf, len, a, b);
    if (rc)
        return rc;
    *out = b;
    return LH_OK;
}

/* --- encoding 1 straight from the wire ------------------------------------ */

#define W_DOMAINS (F_MAX - F_KINDS) /* lh_batch_wire's slot for field 24 */

/* The first pass of lh_batch_parse: the framing checked, each column's
 * elements counted, where its run lies and the scalar fields' values. */
int lh_batch_scan(const uint8_t *buf, size_t len, lh_batch_wire *w)
{
    const uint8_t *p = buf, *end = buf + len;
    uint64_t key = 0, v = 0;
    unsigned seen = 0;

    memset(w, 0, sizeof *w);
    lh__event_batch__init(&w->head);
    w->fused = 1;
    while (p < end) {
        if (get_varint(&p, end, &key) < 0 || key > 0xffffffffu)
            return LH_E_DECODE;
        unsigned f = (unsigned)(key >> 3), wire = (unsigned)(key & 7);
        if ((is_column(f) || f == F_DOMAINS) && wire == 2) {
            if (get_varint(&p, end, &v) < 0 || v > (uint64_t)(end - p))
                return LH_E_DECODE;
            unsigned c = f == F_DOMAINS ? W_DOMAINS : f - F_KINDS;
            if (v && (p[v - 1] & 0x80)) {
                if (f != F_DOMAINS)
                    return LH_E_DECODE; /* packed run ends inside a varint */
                w->fused = 0;           /* lh_batch_parse says so later */
            }
            w->count[c] += count_varints(p, (size_t)v);
            if (seen & (1u << c))
                w->fused = 0; /* a column in several runs: the arrays join them */
            seen |= 1u << c;
            w->run[c] = p;
            p += v;
            if (f == F_DOMAINS && w->count[c] > LH_MAX_BATCH_EVENTS)
                w->fused = 0;
        } else if (is_column(f) && wire == 0) {
            if (get_varint(&p, end, &v) < 0)
                return LH_E_DECODE;
            w->count[f - F_KINDS]++;
            w->fused = 0;
        } else if ((f == F_FIRST_TIME || f == F_ADDR_SHIFT || f == F_ENCODING || f == F_N_EVENTS) && wire != 0) {
            return LH_E_DECODE;
        } else if (f >= F_PACKED_FIRST && f <= F_PACKED_LAST && wire != 2) {
            return LH_E_DECODE;
        } else if (f == F_FIRST_TIME || f == F_ADDR_SHIFT || f == F_ENCODING || f == F_N_EVENTS) {
            if (get_varint(&p, end, &v) < 0)
                return LH_E_DECODE;
            if (f == F_FIRST_TIME) {
                w->head.has_first_time_us = 1;
                w->head.first_time_us = v;
            } else if (f == F_ADDR_SHIFT) {
                w->head.has_addr_shift = 1;
                w->head.addr_shift = (uint32_t)v;
            } else if (f == F_ENCODING) {
                w->head.has_encoding = 1;
                w->head.encoding = (uint32_t)v;
            } else {
                w->head.has_n_events = 1;
                w->head.n_events = (uint32_t)v;
            }
        } else {
            if (f == F_DOMAINS || (f >= F_PACKED_FIRST && f <= F_PACKED_LAST))
                w->fused = 0; /* domains one by one, or encoding 2's columns */
            if (skip_field(&p, end, wire) < 0)
                return LH_E_DECODE;
        }
        if (is_column(f) && w->count[f - F_KINDS] > LH_MAX_BATCH_EVENTS)
            return LH_E_TOO_LARGE;
    }
    if (w->head.has_encoding && w->head.encoding != LH_BATCH_VARINT)
        w->fused = 0;
    return LH_OK;
}

/* The next varint of a run that is known to hold another (lh_batch_scan
 * counted it): no bound to check, as every run ends with a varint's last
 * byte. Longer than 10 bytes sets *bad, as get_varint refuses it. (A
 * bounded read through get_varint costs the replay 8% more instructions.) */
static inline uint64_t run_next(const uint8_t **pp, int *bad)
{
    const uint8_t *p = *pp;
    uint64_t b = *p++;
    if (b < 0x80) {
        *pp = p;
        return b;
    }
    uint64_t v = b & 0x7f;
    for (unsigned shift = 7;; shift += 7) {
        b = *p++;
        v |= (b & 0x7f) << (shift < 64 ? shift : 63);
        if (!(b & 0x80))
            break;
        if (shift >= 63) {
            *bad = 1;
            break;
        }
    }
    *pp = p;
    return v;
}

enum { W_KINDS, W_THREADS, W_TIMES, W_ADDRS, W_SIZES, W_STACKS, W_OLD, W_REFS };

int lh_batch_wire_decode(const lh_batch_wire *w, lh_event *out, size_t cap)
{
    const size_t *c = w->count;
    size_t n = c[W_KINDS];
    if (!w->fused)
        return LH_E_ARG;
    if (n > LH_MAX_BATCH_EVENTS || n > cap)
        return LH_E_TOO_LARGE;
    if (c[W_THREADS] != n || c[W_TIMES] != n || c[W_REFS] != n || w->head.addr_shift > 63 ||
        (c[W_DOMAINS] && c[W_DOMAINS] != n))
        return LH_E_DECODE;
    const uint8_t *kp = w->run[W_KINDS], *tp = w->run[W_THREADS], *dp = w->run[W_TIMES];
    const uint8_t *rp = w->run[W_REFS], *ap = w->run[W_ADDRS], *sp = w->run[W_SIZES];
    const uint8_t *stp = w->run[W_STACKS], *op = w->run[W_OLD], *domp = w->run[W_DOMAINS];
    size_t left_addrs = c[W_ADDRS], left_sizes = c[W_SIZES], left_stacks = c[W_STACKS], left_old = c[W_OLD];
    int with_domains = c[W_DOMAINS] != 0, bad = 0;
    unsigned shift = w->head.addr_shift;
    uint64_t t = w->head.first_time_us;
    /* Only what a reference may reach is ever read: pushed[] and prev[]
     * start at 0, the ring is written before it is read. */
    uint64_t ring[LH_HIST_SLOTS][LH_HIST_DEPTH];
    uint64_t pushed[LH_HIST_SLOTS] = { 0 }, prev[LH_HIST_SLOTS] = { 0 };

    for (size_t i = 0; i < n; i++) {
        uint32_t k = (uint32_t)run_next(&kp, &bad);
        uint32_t thread = (uint32_t)run_next(&tp, &bad);
        uint32_t back = (uint32_t)run_next(&rp, &bad);
        t += run_next(&dp, &bad);
        if (k >= LH_EV_KIND_COUNT || back > LH_HIST_DEPTH)
            return LH_E_DECODE;
        unsigned slot = thread % LH_HIST_SLOTS;
        uint64_t a;
        if (back) {
            if (back > pushed[slot])
                return LH_E_DECODE; /* refers to before the batch began */
            a = ring[slot][(pushed[slot] - back) % LH_HIST_DEPTH];
        } else {
            if (!left_addrs--)
                return LH_E_DECODE;
            uint64_t z = run_next(&ap, &bad);
            a = prev[slot] + (uint64_t)AS_S64(z);
        }
        ring[slot][pushed[slot] % LH_HIST_DEPTH] = a;
        pushed[slot]++;
        prev[slot] = a;
        lh_event *e = &out[i];
        e->time_us = t;
        e->addr = a << shift;
        e->old_addr = 0;
        e->size = 0;
        e->stack = 0;
        e->thread = thread;
        e->kind = k;
        if (lh_kind_has_size(k)) {
            if (!left_sizes--)
                return LH_E_DECODE;
            e->size = run_next(&sp, &bad);
        }
        if (lh_kind_has_stack(k)) {
            if (!left_stacks--)
                return LH_E_DECODE;
            e->stack = (uint32_t)run_next(&stp, &bad);
        }
        if (k == LH_EV_REALLOC) {
            if (!left_old--)
                return LH_E_DECODE;
            uint64_t z = run_next(&op, &bad);
            e->old_addr = (a + (uint64_t)AS_S64(z)) << shift;
        }
        e->domain = LH_DOM_LIBC;
        if (bad)
            return LH_E_DECODE;
    }
    if (left_addrs || left_sizes || left_stacks || left_old)
        return LH_E_DECODE; /* more values than the kinds and references use */
    for (size_t i = 0; with_domains && i < n; i++) { /* format 1.5's, where there are any */
        out[i].domain = (uint32_t)run_next(&domp, &bad);
        if (bad)
            return LH_E_DECODE;
    }
    return (int)n;
}
