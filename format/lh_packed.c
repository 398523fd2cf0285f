/*
 * lh_packed.c - event batch encoding 2 (format 1.4): predicted, bit-packed
 * columns.
 *
 * Why: LZ4 (the chunk codec) has no entropy stage, so the 1.x columns (one
 * varint byte or more per value) cost a byte wherever the value is not part
 * of a repeat: 3.4 bytes per churn event, 1.25x heaptrack's zstd trace.
 * Here every column holds what a model of the allocator and the program
 * could not predict, packed to the bits the batch needs (frame of
 * reference plus patched exceptions, as Parquet and ORC pack integers), and
 * LZ4 still squeezes the runs that remain (a column of zeros, a repeating
 * loop).
 *
 * The models (FORMAT.md 4.1.2 is the specification):
 * - kinds: a move-to-front list per thread slot and previous kind, so the
 *   alternation of a free/malloc loop is rank 0 again and again;
 * - times: the events whose time moves (one in five or six at today's event
 *   rates), as the count of events before each and the step - 1;
 * - allocation addresses: glibc's tcache and fastbins hand back the chunk
 *   the thread freed last in the size class, so an address is usually
 *   place 0 in the slot's list of recent frees of its class;
 * - free addresses: the age of the block in allocations of the freeing
 *   slot (a FIFO of live blocks is one constant age);
 * - sizes: a stack usually allocates one size: its rank in the stack's
 *   recent sizes;
 * - stacks: an index into the batch's stacks, most used first.
 * Everything the models hold starts empty with each batch, so every chunk
 * decodes on its own (seeks and checkpoints land on any chunk).
 */
#include <stdlib.h>
#include <string.h>

#include "lh_events.h"

#define MAX_ADDR_SHIFT 6
#define NO_KIND 5
#define KIND_CTX (LH_HIST_SLOTS * (NO_KIND + 1))
#define MAP_BITS 17             /* encoder: address -> allocation, > 2 * LH_WRITER_BATCH */
#define STK_BITS 17             /* encoder: stack -> count (the same bits a batch, as MAP_BITS) */
#define COLS_PER_EVENT 13       /* column values per event, at most (see lh_packed_bytes) */

/* ---- packed columns (FORMAT.md 4.1.3) ---------------------------------- */

static inline unsigned bitlen(uint64_t v) { return v ? 64u - (unsigned)__builtin_clzll(v) : 0; }
static inline uint64_t zz(int64_t v) { return ((uint64_t)v << 1) ^ (uint64_t)(v >> 63); }
static inline int64_t unzz(uint64_t v) { return (int64_t)(v >> 1) ^ -(int64_t)(v & 1); }
static inline uint64_t low_mask(unsigned w) { return w >= 64 ? ~0ull : (1ull << w) - 1; }

static uint8_t *put_varint(uint8_t *p, uint64_t v)
{
    while (v >= 0x80) {
        *p++ = (uint8_t)(v | 0x80);
        v >>= 7;
    }
    *p++ = (uint8_t)v;
    return p;
}

/* Bytes put_column may write for cnt values. */
static size_t column_bound(size_t cnt) { return 9 * cnt + 32; }

/* Write cnt values as one column at p: count, base, width, (if w > 0) the
 * number of exceptions, the low w bits of every value, then the exceptions (the values of more than w bits), as
 * (positions skipped since the last, the bits above w). The width is the
 * one that makes the column smallest. */
static uint8_t *put_column(uint8_t *p, const uint64_t *v, size_t cnt)
{
    uint64_t base = cnt ? v[0] : 0;
    for (size_t i = 1; i < cnt; i++)
        if (v[i] < base)
            base = v[i];
    size_t hist[65] = { 0 };
    for (size_t i = 0; i < cnt; i++)
        hist[bitlen(v[i] - base)]++;
    unsigned w = 0;
    if (hist[0] != cnt) {
        /* cost(w) = packed low bits + about 1 + (b - w) / 7 bytes per value of b > w bits */
        size_t best = SIZE_MAX;
        for (unsigned cw = 1; cw <= 64; cw++) {
            size_t cost = (cnt * cw + 7) / 8;
            for (unsigned b = cw + 1; b <= 64; b++)
                cost += hist[b] * (1 + (b - cw + 6) / 7);
            if (cost < best) {
                best = cost;
                w = cw;
            }
        }
    }
    size_t n_exc = 0;
    for (unsigned b = w + 1; b <= 64; b++)
        n_exc += hist[b];
    p = put_varint(p, cnt);
    p = put_varint(p, base);
    *p++ = (uint8_t)w;
    if (!w)
        return p;
    p = put_varint(p, n_exc);
    uint64_t mask = low_mask(w), acc = 0;
    unsigned have = 0;
    uint8_t *bits = p;
    for (size_t i = 0; i < cnt; i++) {
        uint64_t c = (v[i] - base) & mask;
        acc |= c << have;
        if (have + w >= 64) {
            memcpy(p, &acc, 8);
            p += 8;
            unsigned used = 64 - have; /* bits of c that fitted */
            acc = used >= 64 ? 0 : c >> used;
            have = have + w - 64;
        } else {
            have += w;
        }
    }
    while (have > 0) {
        *p++ = (uint8_t)acc;
        acc >>= 8;
        have = have >= 8 ? have - 8 : 0;
    }
    p = bits + (cnt * w + 7) / 8;
    if (w < 64) {
        size_t next = 0; /* first position the next exception may have */
        for (size_t i = 0; i < cnt; i++) {
            if ((v[i] - base) >> w) {
                p = put_varint(p, i - next);
                p = put_varint(p, (v[i] - base) >> w);
                next = i + 1;
            }
        }
    }
    return p;
}

/* A column being read: the codes from bits, exceptions from exc on. */
typedef struct {
    const uint8_t *bits, *exc, *end;
    size_t count, pos, nbytes;
    size_t exc_pos;        /* position of the next exception, SIZE_MAX if none */
    uint64_t exc_left;     /* exceptions not read yet */
    uint64_t exc_high;     /* its bits above w */
    uint64_t base, mask;
    unsigned w;
} col_rd;

static int get_varint(const uint8_t **pp, const uint8_t *end, uint64_t *out);

/* Read the next exception, from position at on. */
static int col_exception(col_rd *rd, size_t at)
{
    uint64_t skip, high;
    if (!rd->exc_left) {
        rd->exc_pos = SIZE_MAX;
        return 0;
    }
    rd->exc_left--;
    if (get_varint(&rd->exc, rd->end, &skip) || get_varint(&rd->exc, rd->end, &high) ||
        skip >= rd->count - at || !high || high >> (64 - rd->w))
        return -1; /* past the end, a zero or more than 64 bits: not one the encoder makes */
    rd->exc_pos = at + (size_t)skip;
    rd->exc_high = high;
    return 0;
}

static int get_varint(const uint8_t **pp, const uint8_t *end, uint64_t *out)
{
    const uint8_t *p = *pp;
    uint64_t v = 0;
    for (unsigned shift = 0; shift < 64; shift += 7) {
        if (p == end)
            return -1;
        uint8_t b = *p++;
        if (shift == 63 && b > 1)
            return -1;
        v |= (uint64_t)(b & 0x7f) << shift;
        if (!(b & 0x80)) {
            *pp = p;
            *out = v;
            return 0;
        }
    }
    return -1;
}

/* Open a column that must hold exactly want values (or any count when
 * want is SIZE_MAX; the count is then in rd->count, at most limit). */
static int col_open(col_rd *rd, const ProtobufCBinaryData *d, size_t want, size_t limit)
{
    uint64_t cnt, base;
    if (!d->data && d->len)
        return LH_E_DECODE;
    /* an empty field unpacks to a NULL pointer: no arithmetic on it */
    const uint8_t *p = d->data, *end = d->len ? d->data + d->len : d->data;
    if (!d->len) {
        if (want != 0 && want != SIZE_MAX)
            return LH_E_DECODE;
        memset(rd, 0, sizeof *rd);
        rd->exc_pos = SIZE_MAX;
        return LH_OK;
    }
    if (get_varint(&p, end, &cnt) || get_varint(&p, end, &base) || p == end)
        return LH_E_DECODE;
    unsigned w = *p++;
    uint64_t n_exc = 0;
    if (w > 64 || cnt > limit || (want != SIZE_MAX && cnt != want) || (w && get_varint(&p, end, &n_exc)) ||
        n_exc > cnt || (w == 64 && n_exc))
        return LH_E_DECODE;
    size_t nbytes = (size_t)(((uint64_t)cnt * w + 7) / 8);
    if (nbytes > (size_t)(end - p))
        return LH_E_DECODE;
    rd->bits = p;
    rd->nbytes = nbytes;
    rd->exc = p + nbytes;
    rd->end = end;
    rd->count = (size_t)cnt;
    rd->pos = 0;
    rd->base = base;
    rd->w = w;
    rd->mask = low_mask(w);
    rd->exc_pos = SIZE_MAX;
    rd->exc_left = n_exc;
    if ((w == 0 || w == 64) && rd->exc != end)
        return LH_E_DECODE;
    if (w && w < 64 && col_exception(rd, 0))
        return LH_E_DECODE;
    return LH_OK;
}

/* The next value; the caller has checked pos < count. */
static inline int col_next(col_rd *rd, uint64_t *out)
{
    unsigned w = rd->w;
    if (!w) {
        rd->pos++;
        *out = rd->base;
        return 0;
    }
    uint64_t bit = (uint64_t)rd->pos * w, c;
    size_t byte = (size_t)(bit >> 3);
    unsigned sh = (unsigned)(bit & 7);
    rd->pos++;
    if (w <= 56 && byte + 8 <= rd->nbytes) {
        uint64_t x;
        memcpy(&x, rd->bits + byte, 8);
        c = (x >> sh) & rd->mask;
    } else {
        c = 0;
        for (unsigned got = 0; got < w + sh; got += 8, byte++) {
            uint64_t b = byte < rd->nbytes ? rd->bits[byte] : 0;
            if (got >= sh)
                c |= got - sh < 64 ? b << (got - sh) : 0;
            else
                c |= b >> (sh - got);
        }
        c &= rd->mask;
    }
    if (rd->pos - 1 == rd->exc_pos) {
        c |= rd->exc_high << w;
        if (col_exception(rd, rd->pos))
            return -1;
    }
    *out = rd->base + c;
    return 0;
}

/* Every value read and nothing after the exceptions. */
static int col_done(const col_rd *rd) { return rd->pos == rd->count && rd->exc == rd->end && rd->exc_pos == SIZE_MAX; }

/* ---- the models, shared by both sides ---------------------------------- */

#define THR_DEPTH 8
#define FL_BITS 10
#define FL_DEPTH 8
#define SZ_BITS 10
#define SZ_DEPTH 8

typedef struct {
    uint64_t tag;     /* size class << 4 | slot */
    uint32_t head, n; /* top is addr[(head - 1) % FL_DEPTH] */
    uint64_t addr[FL_DEPTH];
} free_list;

typedef struct {
    uint32_t stack, n;
    uint64_t size[SZ_DEPTH]; /* most recent first */
} size_list;

struct lh_packed_model {
    uint8_t kind_mtf[KIND_CTX][NO_KIND];
    uint8_t prev_kind[LH_HIST_SLOTS];
    uint64_t prev_addr[LH_HIST_SLOTS];
    uint64_t bump[LH_HIST_SLOTS];     /* where the slot's last explicit allocation ends */
    unsigned shift;
    uint32_t thr[THR_DEPTH], n_thr;   /* recent threads, the last first */
    uint32_t allocs[LH_HIST_SLOTS];   /* allocation-like events so far per slot */
    free_list fl[1u << FL_BITS];
    size_list sz[1u << SZ_BITS];
};

static void model_reset(struct lh_packed_model *m)
{
    memset(m, 0, sizeof *m);
    for (unsigned c = 0; c < KIND_CTX; c++)
        for (unsigned k = 0; k < NO_KIND; k++)
            m->kind_mtf[c][k] = (uint8_t)k;
    for (unsigned s = 0; s < LH_HIST_SLOTS; s++)
        m->prev_kind[s] = NO_KIND;
}

/* glibc's chunk size for a request, in 16-byte units (at least 32 bytes). */
static inline uint64_t size_class(uint64_t size)
{
    return size + 23 < 32 ? 2 : (size + 23) >> 4;
}

static inline free_list *fl_get(struct lh_packed_model *m, unsigned slot, uint64_t size)
{
    uint64_t tag = size_class(size) << 4 | slot;
    free_list *f = &m->fl[(tag * 0x9E3779B97F4A7C15ull) >> (64 - FL_BITS)];
    if (f->tag != tag) {
        f->tag = tag;
        f->n = f->head = 0;
    }
    return f;
}

static inline void fl_push(free_list *f, uint64_t a)
{
    f->addr[f->head % FL_DEPTH] = a;
    f->head++;
    if (f->n < FL_DEPTH)
        f->n++;
}

/* Take place k (0 = the last pushed) out of the list. */
static inline uint64_t fl_take(free_list *f, uint32_t k)
{
    uint32_t top = f->head - 1;
    uint64_t a = f->addr[(top - k) % FL_DEPTH];
    for (uint32_t j = k; j > 0; j--)
        f->addr[(top - j) % FL_DEPTH] = f->addr[(top - j + 1) % FL_DEPTH];
    f->head--;
    f->n--;
    return a;
}

static inline size_list *sz_get(struct lh_packed_model *m, uint32_t stack)
{
    size_list *s = &m->sz[(stack * 0x9E3779B1u) >> (32 - SZ_BITS)];
    if (s->stack != stack) {
        s->stack = stack;
        s->n = 0;
    }
    return s;
}

/* Put size first, the entry at rank r (or a new one at r = n) moving up. */
static inline void sz_front(size_list *s, uint32_t r, uint64_t size)
{
    if (r == s->n && s->n < SZ_DEPTH)
        s->n++;
    if (r >= SZ_DEPTH)
        r = SZ_DEPTH - 1;
    memmove(&s->size[1], &s->size[0], r * sizeof s->size[0]);
    s->size[0] = size;
}

/* The code of thread t (rank, or THR_DEPTH + t), moving it first. */
static inline uint64_t thr_code(struct lh_packed_model *m, uint32_t t)
{
    uint32_t r = 0;
    while (r < m->n_thr && m->thr[r] != t)
        r++;
    uint64_t code = r < m->n_thr ? r : THR_DEPTH + (uint64_t)t;
    if (r == m->n_thr && m->n_thr < THR_DEPTH)
        m->n_thr++;
    if (r >= THR_DEPTH)
        r = THR_DEPTH - 1;
    memmove(&m->thr[1], &m->thr[0], r * sizeof m->thr[0]);
    m->thr[0] = t;
    return code;
}

/* An explicit allocation at a of size: the next one is expected after it. */
static inline void bump_past(struct lh_packed_model *m, unsigned slot, uint64_t a, uint64_t size)
{
    m->bump[slot] = a + ((size_class(size) << 4) >> m->shift);
}

static inline unsigned kind_ctx(const struct lh_packed_model *m, unsigned slot)
{
    return slot * (NO_KIND + 1) + m->prev_kind[slot];
}

/* ---- encoder ------------------------------------------------------------ */

struct map_entry { uint64_t addr, size; uint32_t gen, slot, seq, pad; };
struct stk_entry { uint32_t stack, gen, count, index; };

/* The tables are used to 2^bits entries a batch, the fewest that keep its
 * events at half load: a small batch (a --sample trace's, a short run's)
 * touches a few pages, not 6 MiB of them, and entries are zeroed only as
 * far as some batch has needed (clean). */
_Static_assert(MAP_BITS == STK_BITS, "one table size a batch for both");

struct lh_packed_enc {
    struct lh_packed_model model;
    uint32_t gen;
    unsigned bits;   /* this batch's table size: 2^bits */
    uint32_t clean;  /* map and stk entries zeroed so far */
    uint64_t *col[LH_PACKED_COLUMNS];
    size_t n_col[LH_PACKED_COLUMNS];
    uint8_t *bytes;
    size_t bytes_cap;
    uint32_t dict[LH_WRITER_BATCH];
    struct map_entry map[1u << MAP_BITS];
    struct stk_entry stk[1u << STK_BITS];
};

enum { C_KIND, C_THREAD, C_GAP, C_STEP, C_ACODE, C_FCODE, C_XADDR, C_SCODE, C_XSIZE, C_DICT, C_STK };

/* Values each column may hold, per event of the batch. */
static const unsigned col_per_event[LH_PACKED_COLUMNS] = { 1, 1, 1, 1, 1, 2, 2, 1, 1, 1, 1 };

size_t lh_packed_bytes(void)
{
    size_t vals = 0;
    for (unsigned c = 0; c < LH_PACKED_COLUMNS; c++)
        vals += col_per_event[c];
    return sizeof(struct lh_packed_enc) + vals * LH_WRITER_BATCH * sizeof(uint64_t) +
           column_bound(vals * LH_WRITER_BATCH) + LH_PACKED_COLUMNS * 32;
}

struct lh_packed_enc *lh_packed_init(void *block)
{
    struct lh_packed_enc *e = block;
    memset(e, 0, offsetof(struct lh_packed_enc, dict));
    uint64_t *p = (uint64_t *)(e + 1);
    size_t vals = 0;
    for (unsigned c = 0; c < LH_PACKED_COLUMNS; c++) {
        e->col[c] = p;
        p += col_per_event[c] * LH_WRITER_BATCH;
        vals += col_per_event[c];
    }
    e->bytes = (uint8_t *)p;
    e->bytes_cap = column_bound(vals * LH_WRITER_BATCH) + LH_PACKED_COLUMNS * 32;
    return e;
}

static struct map_entry *map_find(struct lh_packed_enc *e, uint64_t a, int insert)
{
    size_t mask = ((size_t)1 << e->bits) - 1, i = (size_t)((a * 0x9E3779B97F4A7C15ull) >> (64 - e->bits));
    for (;; i = (i + 1) & mask) {
        struct map_entry *m = &e->map[i];
        if (m->gen != e->gen) {
            if (!insert)
                return NULL;
            m->gen = e->gen;
            m->addr = a;
            return m;
        }
        if (m->addr == a)
            return m;
    }
}

static struct stk_entry *stk_find(struct lh_packed_enc *e, uint32_t stack)
{
    size_t mask = ((size_t)1 << e->bits) - 1, i = (stack * 0x9E3779B1u) >> (32 - e->bits);
    for (;; i = (i + 1) & mask) {
        struct stk_entry *s = &e->stk[i];
        if (s->gen != e->gen) {
            s->gen = e->gen;
            s->stack = stack;
            s->count = 0;
            return s;
        }
        if (s->stack == stack)
            return s;
    }
}

/* Most used first, then by id: keys (2^32 - 1 - uses) << 32 | stack. */
static int by_key(const void *pa, const void *pb)
{
    uint64_t a = *(const uint64_t *)pa, b = *(const uint64_t *)pb;
    return a < b ? -1 : a > b;
}

#define PUSH(c, v) (e->col[c][e->n_col[c]++] = (v))

/* Free the block at a (shifted) in slot: its age or an explicit delta. */
static void enc_free(struct lh_packed_enc *e, unsigned slot, uint64_t a, uint64_t prev)
{
    struct lh_packed_model *m = &e->model;
    struct map_entry *me = map_find(e, a, 0);
    if (me && me->slot == slot) {
        PUSH(C_FCODE, m->allocs[slot] - me->seq + 1); /* seq counts from 1 */
        fl_push(fl_get(m, slot, me->size), a);
    } else {
        PUSH(C_FCODE, 0);
        PUSH(C_XADDR, zz((int64_t)(a - prev)));
    }
}

/* An allocation-like event's address: its place in the free list of its
 * class, or an explicit delta from ref. */
static void enc_alloc(struct lh_packed_enc *e, unsigned slot, uint64_t a, uint64_t size, const uint64_t *old)
{
    struct lh_packed_model *m = &e->model;
    free_list *f = fl_get(m, slot, size);
    uint32_t k = 0;
    while (k < f->n && f->addr[(f->head - 1 - k) % FL_DEPTH] != a)
        k++;
    if (k < f->n) {
        fl_take(f, k);
        PUSH(C_ACODE, k + 1);
    } else {
        PUSH(C_ACODE, 0);
        PUSH(C_XADDR, zz((int64_t)(a - (old ? *old : m->bump[slot]))));
        bump_past(m, slot, a, size);
    }
    m->allocs[slot]++;
    struct map_entry *me = map_find(e, a, 1);
    me->slot = slot;
    me->seq = m->allocs[slot];
    me->size = size;
}

static void enc_size(struct lh_packed_enc *e, uint32_t stack, uint64_t size)
{
    size_list *s = sz_get(&e->model, stack);
    uint32_t r = 0;
    while (r < s->n && s->size[r] != size)
        r++;
    if (r < s->n) {
        PUSH(C_SCODE, r + 1);
    } else {
        PUSH(C_SCODE, 0);
        PUSH(C_XSIZE, size);
    }
    sz_front(s, r, size);
}

static void set_bytes(ProtobufCBinaryData *d, protobuf_c_boolean *has, uint8_t *from, uint8_t *to)
{
    d->data = from;
    d->len = (size_t)(to - from);
    *has = 1;
}

int lh_packed_encode(const lh_event *ev, size_t n, struct lh_packed_enc *e, Lh__EventBatch *b)
{
    if (n > LH_WRITER_BATCH)
        return LH_E_ARG;
    lh__event_batch__init(b);
    struct lh_packed_model *m = &e->model;
    model_reset(m);
    e->bits = 10;
    while (e->bits < MAP_BITS && ((size_t)1 << e->bits) < 2 * n)
        e->bits++;
    uint32_t used = 1u << e->bits;
    if (++e->gen == 0) {
        memset(e->map, 0, e->clean * sizeof e->map[0]);
        memset(e->stk, 0, e->clean * sizeof e->stk[0]);
        e->gen = 1;
    }
    if (used > e->clean) {
        memset(e->map + e->clean, 0, (used - e->clean) * sizeof e->map[0]);
        memset(e->stk + e->clean, 0, (used - e->clean) * sizeof e->stk[0]);
        e->clean = used;
    }
    memset(e->n_col, 0, sizeof e->n_col);

    /* Checks, the shift and the stacks' use counts. */
    uint64_t bits = 0, prev_time = n ? ev[0].time_us : 0;
    size_t nd = 0;
    for (size_t i = 0; i < n; i++) {
        if (ev[i].kind >= LH_EV_KIND_COUNT || ev[i].time_us < prev_time)
            return LH_E_ARG;
        prev_time = ev[i].time_us;
        bits |= ev[i].addr | (ev[i].kind == LH_EV_REALLOC ? ev[i].old_addr : 0);
        if (lh_kind_has_stack(ev[i].kind)) {
            struct stk_entry *s = stk_find(e, ev[i].stack);
            if (!s->count++)
                e->dict[nd++] = ev[i].stack;
        }
    }
    unsigned shift = 0;
    while (shift < MAX_ADDR_SHIFT && !(bits & (1ull << shift)))
        shift++;
    m->shift = shift;
    uint64_t *keys = e->col[C_STK]; /* filled only below */
    for (size_t j = 0; j < nd; j++)
        keys[j] = (uint64_t)(UINT32_MAX - stk_find(e, e->dict[j])->count) << 32 | e->dict[j];
    qsort(keys, nd, sizeof keys[0], by_key);
    for (size_t j = 0; j < nd; j++)
        e->dict[j] = (uint32_t)keys[j];
    int64_t last = 0;
    for (size_t j = 0; j < nd; j++) {
        stk_find(e, e->dict[j])->index = (uint32_t)j;
        PUSH(C_DICT, zz((int64_t)e->dict[j] - last));
        last = e->dict[j];
    }

    prev_time = n ? ev[0].time_us : 0;
    size_t run = 0;
    for (size_t i = 0; i < n; i++) {
        const lh_event *x = &ev[i];
        unsigned slot = x->thread % LH_HIST_SLOTS, k = x->kind;
        uint8_t *mtf = m->kind_mtf[kind_ctx(m, slot)];
        unsigned r = 0;
        while (mtf[r] != k)
            r++;
        memmove(mtf + 1, mtf, r);
        mtf[0] = (uint8_t)k;
        m->prev_kind[slot] = (uint8_t)k;
        PUSH(C_KIND, r);
        PUSH(C_THREAD, thr_code(m, x->thread));
        if (x->time_us != prev_time) {
            PUSH(C_GAP, run);
            PUSH(C_STEP, x->time_us - prev_time - 1);
            run = 0;
            prev_time = x->time_us;
        } else {
            run++;
        }

        uint64_t a = x->addr >> shift, prev = m->prev_addr[slot];
        if (lh_kind_has_stack(k)) {
            PUSH(C_STK, stk_find(e, x->stack)->index);
            enc_size(e, x->stack, x->size);
        }
        switch (k) {
        case LH_EV_FREE:
            enc_free(e, slot, a, prev);
            break;
        case LH_EV_REALLOC: {
            uint64_t old = x->old_addr >> shift;
            enc_free(e, slot, old, prev);
            enc_alloc(e, slot, a, x->size, &old);
            break;
        }
        case LH_EV_ALLOC:
        case LH_EV_MMAP:
            enc_alloc(e, slot, a, x->size, NULL);
            break;
        case LH_EV_MUNMAP:
            PUSH(C_XADDR, zz((int64_t)(a - prev)));
            PUSH(C_XSIZE, x->size);
            break;
        }
        m->prev_addr[slot] = a;
    }

    uint8_t *p = e->bytes, *start[LH_PACKED_COLUMNS], *stop[LH_PACKED_COLUMNS];
    for (unsigned c = 0; c < LH_PACKED_COLUMNS; c++) {
        start[c] = p;
        p = put_column(p, e->col[c], e->n_col[c]);
        stop[c] = p;
    }
    b->has_first_time_us = 1;
    b->first_time_us = n ? ev[0].time_us : 0;
    b->has_addr_shift = shift != 0;
    b->addr_shift = shift;
    b->has_encoding = 1;
    b->encoding = LH_BATCH_PACKED;
    b->has_n_events = 1;
    b->n_events = (uint32_t)n;
    set_bytes(&b->kind_codes, &b->has_kind_codes, start[C_KIND], stop[C_KIND]);
    set_bytes(&b->thread_codes, &b->has_thread_codes, start[C_THREAD], stop[C_THREAD]);
    set_bytes(&b->time_gaps, &b->has_time_gaps, start[C_GAP], stop[C_GAP]);
    set_bytes(&b->time_steps, &b->has_time_steps, start[C_STEP], stop[C_STEP]);
    set_bytes(&b->alloc_codes, &b->has_alloc_codes, start[C_ACODE], stop[C_ACODE]);
    set_bytes(&b->free_codes, &b->has_free_codes, start[C_FCODE], stop[C_FCODE]);
    set_bytes(&b->explicit_addrs, &b->has_explicit_addrs, start[C_XADDR], stop[C_XADDR]);
    set_bytes(&b->size_codes, &b->has_size_codes, start[C_SCODE], stop[C_SCODE]);
    set_bytes(&b->explicit_sizes, &b->has_explicit_sizes, start[C_XSIZE], stop[C_XSIZE]);
    set_bytes(&b->stack_dict, &b->has_stack_dict, start[C_DICT], stop[C_DICT]);
    set_bytes(&b->stack_codes, &b->has_stack_codes, start[C_STK], stop[C_STK]);
    return LH_OK;
}

/* ---- decoder ------------------------------------------------------------ */

/*
 * The fast decoder. Three things made the reference decoder slow (64% of a
 * churn replay, on the prefetch thread): every value was read alone (a
 * bit position, a branch for the slow path, one for exceptions); a free
 * looked up the 48-byte event of its allocation, scattered over the 3 MB
 * of decoded events; and the model's 150 KB of tables was cleared for
 * every batch. So here:
 * - a column is unpacked RUN values at a time into a small buffer by a
 *   tight loop (load 8 bytes, shift, mask, add the base), its exceptions
 *   patched in afterwards; taking a value is a load and a compare;
 * - kinds and threads go first into compact arrays (each slot's share of
 *   the allocation-like events decides where its entries go), then one
 *   forward pass resolves everything else, with each allocation-like
 *   event's address and free-list tag kept in a dense per-slot array;
 * - the free and size lists carry the generation they belong to, so a
 *   state kept across batches (lh_packed_dec) starts each one empty
 *   without clearing them.
 * It accepts exactly the batches the reference accepts and decodes them
 * to the same events (the fuzzer checks).
 */

#define RUN 256

typedef struct {
    uint64_t *cur, *lim;   /* unpacked values not taken yet */
    const uint8_t *bits, *exc, *end;
    size_t count, done;    /* values in the column; unpacked so far */
    size_t nbytes, fast;   /* bytes of low bits; values below fast may load 8 bytes at once */
    size_t exc_pos;        /* position of the next exception, SIZE_MAX if none */
    uint64_t exc_left, exc_high, base, mask;
    unsigned w;
    uint64_t buf[RUN];
} run_rd;

/* Read the next exception, at position at or later. */
static int run_exception(run_rd *rd, size_t at)
{
    uint64_t skip, high;
    if (!rd->exc_left) {
        rd->exc_pos = SIZE_MAX;
        return 0;
    }
    rd->exc_left--;
    if (get_varint(&rd->exc, rd->end, &skip) || get_varint(&rd->exc, rd->end, &high) ||
        skip >= rd->count - at || !high || high >> (64 - rd->w))
        return -1;
    rd->exc_pos = at + (size_t)skip;
    rd->exc_high = high;
    return 0;
}

/* As col_open (the same checks), for a run reader. */
static int run_open(run_rd *rd, const ProtobufCBinaryData *d, size_t want, size_t limit)
{
    col_rd c;
    if (col_open(&c, d, want, limit))
        return LH_E_DECODE;
    rd->cur = rd->lim = rd->buf;
    rd->bits = c.bits;
    rd->exc = c.exc;
    rd->end = c.end;
    rd->count = c.count;
    rd->done = 0;
    rd->nbytes = c.nbytes;
    rd->base = c.base;
    rd->mask = c.mask;
    rd->w = c.w;
    rd->exc_pos = c.exc_pos;
    rd->exc_left = c.exc_left;
    rd->exc_high = c.exc_high;
    /* value i may load 8 bytes from byte (i * w) >> 3 while that stays
     * inside the column and its bits fit the load (w <= 57) */
    rd->fast = 0;
    if (c.w && c.w <= 57 && c.nbytes >= 8)
        rd->fast = (size_t)(((uint64_t)(c.nbytes - 8) * 8 + 7) / c.w + 1);
    return LH_OK;
}

/* Value i's low bits, byte by byte (the column's last bytes, wide values). */
static uint64_t run_slow(const run_rd *rd, uint64_t bit)
{
    size_t byte = (size_t)(bit >> 3);
    unsigned sh = (unsigned)(bit & 7), w = rd->w;
    uint64_t c = 0;
    for (unsigned got = 0; got < w + sh; got += 8, byte++) {
        uint64_t b = byte < rd->nbytes ? rd->bits[byte] : 0;
        if (got >= sh)
            c |= got - sh < 64 ? b << (got - sh) : 0;
        else
            c |= b >> (sh - got);
    }
    return c & rd->mask;
}

/* Eight values of W bits from p (a multiple of 8 values in: p is where
 * they start, byte-aligned), W a constant in every caller, so every load
 * and shift is fixed. */
static inline __attribute__((always_inline)) void unpack8(const uint8_t *p, unsigned W, uint64_t base,
                                                          uint64_t mask, uint64_t *o)
{
#pragma GCC unroll 8
    for (unsigned j = 0; j < 8; j++) {
        uint64_t x;
        memcpy(&x, p + ((j * W) >> 3), 8);
        o[j] = base + ((x >> ((j * W) & 7)) & mask);
    }
}

/* Groups of 8 values from value i (a multiple of 8) while whole groups
 * fit the column with 8 bytes to spare; returns where it stopped. */
static size_t unpack_groups(const run_rd *rd, size_t i, size_t end, uint64_t *o)
{
    unsigned w = rd->w;
    uint64_t base = rd->base, mask = rd->mask;
    size_t spare = (7 * w >> 3) + 8;
    if (rd->nbytes < spare)
        return i;
    size_t last = rd->nbytes - spare; /* the last byte a group may start at */
    size_t groups = (end - i) / 8, room = i * w / 8 <= last ? (last - i * w / 8) / w + 1 : 0;
    if (groups > room)
        groups = room;
    const uint8_t *p = rd->bits + i * w / 8;
    switch (w) {
#define W_CASE(W) case W: for (size_t g = 0; g < groups; g++) unpack8(p + g * W, W, base, mask, o + 8 * g); break;
    W_CASE(1) W_CASE(2) W_CASE(3) W_CASE(4) W_CASE(5) W_CASE(6) W_CASE(7) W_CASE(8)
    W_CASE(9) W_CASE(10) W_CASE(11) W_CASE(12) W_CASE(13) W_CASE(14) W_CASE(15) W_CASE(16)
    W_CASE(17) W_CASE(18) W_CASE(19) W_CASE(20) W_CASE(21) W_CASE(22) W_CASE(23) W_CASE(24)
    W_CASE(28) W_CASE(32) W_CASE(40) W_CASE(48)
#undef W_CASE
    default:
        return i;
    }
    return i + 8 * groups;
}

/* Unpack the next run of values; -1 when the column has none left or an
 * exception is malformed. */
static __attribute__((noinline)) int run_fill(run_rd *rd)
{
    size_t i0 = rd->done, k = rd->count - i0;
    if (!k)
        return -1;
    if (k > RUN)
        k = RUN;
    size_t i1 = i0 + k;
    uint64_t *o = rd->buf, base = rd->base;
    unsigned w = rd->w;
    if (!w) {
        for (size_t i = 0; i < k; i++)
            o[i] = base;
    } else {
        const uint8_t *bits = rd->bits;
        size_t i = unpack_groups(rd, i0, i1, o); /* i0 is a multiple of RUN */
        uint64_t mask = rd->mask, bit = (uint64_t)i * w;
        size_t fast_end = i1 < rd->fast ? i1 : (rd->fast > i ? rd->fast : i);
        for (; i < fast_end; i++, bit += w) {
            uint64_t x;
            memcpy(&x, bits + (bit >> 3), 8);
            o[i - i0] = base + ((x >> (bit & 7)) & mask);
        }
        for (; i < i1; i++, bit += w)
            o[i - i0] = base + run_slow(rd, bit);
        while (rd->exc_pos < i1) { /* base + (low | high << w) = base + low + (high << w) */
            o[rd->exc_pos - i0] += rd->exc_high << w;
            if (run_exception(rd, rd->exc_pos + 1))
                return -1;
        }
    }
    rd->done = i1;
    rd->cur = o;
    rd->lim = o + k;
    return 0;
}

static int run_done(const run_rd *rd) { return rd->done == rd->count && rd->cur == rd->lim && rd->exc == rd->end; }

#define GET(rd, v)                                                                   \
    do {                                                                             \
        if (__builtin_expect((rd)->cur == (rd)->lim, 0) && run_fill(rd))           \
            goto bad;                                                                \
        (v) = *(rd)->cur++;                                                          \
    } while (0)

/* The model's lists, each valid only in the batch of its generation. */
typedef struct {
    uint64_t tag;
    uint32_t gen, head, n, pad;
    uint64_t addr[FL_DEPTH];
} gfree_list;

typedef struct {
    uint32_t stack, gen, n, pad;
    uint64_t size[SZ_DEPTH];
} gsize_list;

struct lh_packed_dec {
    uint32_t gen;
    gfree_list fl[1u << FL_BITS];
    gsize_list sz[1u << SZ_BITS];
    run_rd col[LH_PACKED_COLUMNS];
    uint8_t *kind;           /* per event */
    uint32_t *thread;
    uint64_t *times;         /* per event, and 8 to spare */
    size_t cap_events;
    uint64_t *a_addr, *a_tag; /* per allocation-like event, slot by slot */
    size_t cap_allocs;
    uint32_t *dict;
    size_t cap_dict;
};

struct lh_packed_dec *lh_packed_dec_new(void)
{
    return calloc(1, sizeof(struct lh_packed_dec));
}

void lh_packed_dec_free(struct lh_packed_dec *d)
{
    if (!d)
        return;
    free(d->kind);
    free(d->thread);
    free(d->times);
    free(d->a_addr);
    free(d->a_tag);
    free(d->dict);
    free(d);
}

static int want_room(void **p, size_t *cap, size_t need, size_t each)
{
    if (need <= *cap)
        return 0;
    size_t c = *cap ? *cap : 1024;
    while (c < need)
        c *= 2;
    void *n = malloc(c * each);
    if (!n)
        return -1;
    free(*p);
    *p = n;
    *cap = c;
    return 0;
}

static int dec_room(struct lh_packed_dec *d, size_t n, size_t allocs, size_t nd)
{
    size_t ce = d->cap_events, ca = d->cap_allocs;
    if (want_room((void **)&d->kind, &ce, n + 8, 1) ||
        (ce = d->cap_events, want_room((void **)&d->thread, &ce, n + 8, 4)) ||
        (ce = d->cap_events, want_room((void **)&d->times, &ce, n + 8, 8)))
        return -1;
    d->cap_events = ce;
    if (want_room((void **)&d->a_addr, &ca, allocs, 8) ||
        (ca = d->cap_allocs, want_room((void **)&d->a_tag, &ca, allocs, 8)))
        return -1;
    d->cap_allocs = ca;
    return want_room((void **)&d->dict, &d->cap_dict, nd, 4);
}

static inline gfree_list *gfl_get(struct lh_packed_dec *d, uint64_t tag)
{
    gfree_list *f = &d->fl[(tag * 0x9E3779B97F4A7C15ull) >> (64 - FL_BITS)];
    if (f->gen != d->gen || f->tag != tag) {
        f->gen = d->gen;
        f->tag = tag;
        f->n = f->head = 0;
    }
    return f;
}

static inline gsize_list *gsz_get(struct lh_packed_dec *d, uint32_t stack)
{
    gsize_list *s = &d->sz[(stack * 0x9E3779B1u) >> (32 - SZ_BITS)];
    if (s->gen != d->gen || s->stack != stack) {
        s->gen = d->gen;
        s->stack = stack;
        s->n = 0;
    }
    return s;
}

int lh_packed_decode_with(struct lh_packed_dec *d, const Lh__EventBatch *b, lh_event *out, size_t cap)
{
    size_t n = b->n_events;
    if (n > LH_MAX_BATCH_EVENTS || n > cap)
        return LH_E_TOO_LARGE;
    if (b->addr_shift > 63 || b->n_kinds || b->n_threads || b->n_time_deltas || b->n_addr_deltas ||
        b->n_sizes || b->n_stacks || b->n_old_addr_deltas || b->n_addr_refs)
        return LH_E_DECODE;
    run_rd *kind = &d->col[C_KIND], *thr = &d->col[C_THREAD], *gap = &d->col[C_GAP], *step = &d->col[C_STEP],
           *acode = &d->col[C_ACODE], *fcode = &d->col[C_FCODE], *xaddr = &d->col[C_XADDR],
           *scode = &d->col[C_SCODE], *xsize = &d->col[C_XSIZE], *dict = &d->col[C_DICT], *stk = &d->col[C_STK];
    if (run_open(kind, &b->kind_codes, n, n) || run_open(thr, &b->thread_codes, n, n) ||
        run_open(gap, &b->time_gaps, SIZE_MAX, n) || run_open(step, &b->time_steps, gap->count, n) ||
        run_open(acode, &b->alloc_codes, SIZE_MAX, n) || run_open(fcode, &b->free_codes, SIZE_MAX, 2 * n) ||
        run_open(xaddr, &b->explicit_addrs, SIZE_MAX, 2 * n) ||
        run_open(scode, &b->size_codes, acode->count, n) || run_open(xsize, &b->explicit_sizes, SIZE_MAX, n) ||
        run_open(dict, &b->stack_dict, SIZE_MAX, n) || run_open(stk, &b->stack_codes, acode->count, n))
        return LH_E_DECODE;
    size_t nd = dict->count;
    if (dec_room(d, n, acode->count, nd))
        return LH_E_NOMEM;
    if (++d->gen == 0) { /* once in 2^32 batches: every list forgets */
        memset(d->fl, 0, sizeof d->fl);
        memset(d->sz, 0, sizeof d->sz);
        d->gen = 1;
    }
    /* Move-to-front lists without a data-dependent branch (the ranks of a
     * churn are close to random, and a mispredicted branch costs more than
     * the whole update): a slot's kind list is 5 fields of 3 bits, the
     * thread and size lists shift with conditional moves. */
    uint16_t kind_mtf[KIND_CTX];
    uint8_t prev_kind[LH_HIST_SLOTS];
    for (unsigned c = 0; c < KIND_CTX; c++)
        kind_mtf[c] = 0 | 1 << 3 | 2 << 6 | 3 << 9 | 4 << 12;
    memset(prev_kind, NO_KIND, sizeof prev_kind);
    uint32_t thr_list[THR_DEPTH] = { 0 }, n_thr = 0;
    uint64_t v, c, last = 0;
    uint32_t *dct = d->dict;
    for (size_t j = 0; j < nd; j++) {
        GET(dict, v);
        last += (uint64_t)unzz(v);
        if (last > UINT32_MAX)
            goto bad;
        dct[j] = (uint32_t)last;
    }

    /* Kinds and threads: each slot's share of the allocations. */
    uint32_t per_slot[LH_HIST_SLOTS] = { 0 };
    uint8_t *kinds = d->kind;
    uint32_t *threads = d->thread;
    for (size_t i = 0; i < n; i++) {
        uint64_t r, t;
        GET(kind, r);
        GET(thr, t);
        if (r >= NO_KIND)
            goto bad;
        uint32_t rank;
        if (__builtin_expect(t < THR_DEPTH, 1)) {
            if (t >= n_thr)
                goto bad;
            rank = (uint32_t)t;
            t = thr_list[rank];
        } else {
            if (t - THR_DEPTH > UINT32_MAX)
                goto bad;
            t -= THR_DEPTH;
            rank = 0; /* an explicit thread may be in the list all the same */
            while (rank < n_thr && thr_list[rank] != t)
                rank++;
            if (rank == n_thr && n_thr < THR_DEPTH)
                n_thr++;
            if (rank >= THR_DEPTH)
                rank = THR_DEPTH - 1;
        }
        /* Ranks 0 and 1 (one thread or two taking turns) without a branch. */
        if (__builtin_expect(rank >= 2, 0))
            for (uint32_t j = rank; j >= 2; j--)
                thr_list[j] = thr_list[j - 1];
        uint32_t moved = (uint32_t)-(uint32_t)(rank != 0);
        thr_list[1] = (thr_list[1] & ~moved) | (thr_list[0] & moved);
        thr_list[0] = (uint32_t)t;
        unsigned slot = (unsigned)(t % LH_HIST_SLOTS), ctx = slot * (NO_KIND + 1) + prev_kind[slot];
        uint32_t m = kind_mtf[ctx], sh = 3 * (uint32_t)r, k = (m >> sh) & 7;
        kind_mtf[ctx] = (uint16_t)((m & ~((8u << sh) - 1)) | (m & ((1u << sh) - 1)) << 3 | k);
        prev_kind[slot] = (uint8_t)k;
        kinds[i] = (uint8_t)k;
        threads[i] = (uint32_t)t;
        per_slot[slot] += lh_kind_has_stack(k);
    }
    uint32_t base[LH_HIST_SLOTS], allocs[LH_HIST_SLOTS] = { 0 };
    size_t total = 0;
    for (unsigned sl = 0; sl < LH_HIST_SLOTS; sl++) {
        base[sl] = (uint32_t)total;
        total += per_slot[sl];
    }
    if (total != acode->count)
        goto bad;

    /* Times (step 2), all at once: each (gap, step) pair is a run of
     * events keeping the time, written 8 at a time whatever its length
     * (the next pair writes over the rest), then one event stepping. */
    uint64_t *times = d->times, t = b->first_time_us;
    size_t pos = 0;
    for (size_t j = 0; j < step->count; j++) {
        uint64_t g, st;
        GET(gap, g);
        GET(step, st);
        if (g >= n - pos)
            goto bad; /* the stepping event would be past the batch */
        for (unsigned q = 0; q < 8; q++)
            times[pos + q] = t;
        for (size_t q = 8; q < g; q++)
            times[pos + q] = t;
        pos += (size_t)g;
        t += st + 1;
        times[pos++] = t;
    }
    for (; pos < n; pos++)
        times[pos] = t;

    unsigned shift = b->addr_shift;
    uint64_t prev_addr[LH_HIST_SLOTS] = { 0 }, bump[LH_HIST_SLOTS] = { 0 };
    uint64_t *a_addr = d->a_addr, *a_tag = d->a_tag;

/* An allocation-like event's stack and size (FORMAT.md 4.1.2 step 3). */
#define STACK_AND_SIZE()                                                           \
    do {                                                                           \
        GET(stk, v);                                                               \
        if (v >= nd)                                                               \
            goto bad;                                                              \
        stack = dct[v];                                                            \
        gsize_list *sl = gsz_get(d, stack);                                        \
        GET(scode, c);                                                             \
        uint32_t r;                                                                \
        if (c) {                                                                   \
            if (c > sl->n)                                                         \
                goto bad;                                                          \
            r = (uint32_t)(c - 1);                                                 \
            size = sl->size[r];                                                    \
        } else {                                                                   \
            GET(xsize, size);                                                      \
            r = sl->n;                                                             \
            if (sl->n < SZ_DEPTH)                                                  \
                sl->n++;                                                           \
            if (r >= SZ_DEPTH)                                                     \
                r = SZ_DEPTH - 1;                                                  \
        }                                                                          \
        if (r) { /* a stack's one size: rank 0, nothing moves */                   \
            _Pragma("GCC unroll 8")                                                \
            for (unsigned j = SZ_DEPTH - 1; j > 0; j--) {                          \
                uint64_t keep = -(uint64_t)(j > r);                                \
                sl->size[j] = (sl->size[j] & keep) | (sl->size[j - 1] & ~keep);    \
            }                                                                      \
        }                                                                          \
        sl->size[0] = size;                                                        \
    } while (0)
/* A free's block (step 4): old. */
#define FREED()                                                                    \
    do {                                                                           \
        GET(fcode, c);                                                             \
        if (c) {                                                                   \
            if (c > allocs[slot])                                                  \
                goto bad;                                                          \
            size_t j = base[slot] + allocs[slot] - (size_t)c;                      \
            old = a_addr[j];                                                       \
            gfree_list *f = gfl_get(d, a_tag[j]);                                  \
            f->addr[f->head % FL_DEPTH] = old;                                     \
            f->head++;                                                             \
            f->n += f->n < FL_DEPTH;                                               \
        } else {                                                                   \
            GET(xaddr, v);                                                         \
            old = prev + (uint64_t)unzz(v);                                        \
        }                                                                          \
    } while (0)
/* An allocation-like event's address (step 5), explicit ones from ref. */
#define ALLOCATED(ref)                                                             \
    do {                                                                           \
        uint64_t cls = size_class(size), tag = cls << 4 | slot;                    \
        gfree_list *f = gfl_get(d, tag);                                           \
        GET(acode, c);                                                             \
        if (c) {                                                                   \
            if (c > f->n)                                                          \
                goto bad;                                                          \
            uint32_t top = f->head - 1, kk = (uint32_t)(c - 1);                    \
            a = f->addr[(top - kk) % FL_DEPTH];                                    \
            for (uint32_t j = kk; j > 0; j--)                                      \
                f->addr[(top - j) % FL_DEPTH] = f->addr[(top - j + 1) % FL_DEPTH]; \
            f->head--;                                                             \
            f->n--;                                                                \
        } else {                                                                   \
            GET(xaddr, v);                                                         \
            a = (ref) + (uint64_t)unzz(v);                                         \
            bump[slot] = a + ((cls << 4) >> shift);                                \
        }                                                                          \
        size_t j = base[slot] + allocs[slot]++;                                    \
        a_addr[j] = (a << shift) >> shift; /* what its event says, shifted back */ \
        a_tag[j] = tag;                                                            \
    } while (0)

    for (size_t i = 0; i < n; i++) {
        lh_event *e = &out[i];
        uint32_t k = kinds[i], th = threads[i];
        unsigned slot = th % LH_HIST_SLOTS;
        uint64_t prev = prev_addr[slot], a = 0, old = 0, size = 0;
        uint32_t stack = 0;
        switch (k) {
        case LH_EV_ALLOC:
        case LH_EV_MMAP:
            STACK_AND_SIZE();
            ALLOCATED(bump[slot]);
            break;
        case LH_EV_FREE:
            FREED();
            a = old;
            break;
        case LH_EV_REALLOC:
            STACK_AND_SIZE();
            FREED();
            ALLOCATED(old);
            break;
        default: /* LH_EV_MUNMAP */
            GET(xaddr, v);
            a = prev + (uint64_t)unzz(v);
            GET(xsize, size);
            break;
        }
#undef STACK_AND_SIZE
#undef FREED
#undef ALLOCATED
        prev_addr[slot] = a;
        memset(e, 0, sizeof *e); /* padding too: callers may compare events whole */
        e->time_us = times[i];
        e->addr = a << shift;
        e->old_addr = k == LH_EV_REALLOC ? old << shift : 0;
        e->size = size;
        e->stack = stack;
        e->thread = th;
        e->kind = k;
    }
    for (unsigned col = 0; col < LH_PACKED_COLUMNS; col++)
        if (!run_done(&d->col[col]))
            goto bad;
    return (int)n;
bad:
    return LH_E_DECODE;
}

int lh_packed_decode(const Lh__EventBatch *b, lh_event *out, size_t cap)
{
    struct lh_packed_dec *d = lh_packed_dec_new();
    if (!d)
        return LH_E_NOMEM;
    int rc = lh_packed_decode_with(d, b, out, cap);
    lh_packed_dec_free(d);
    return rc;
}

/* ---- reference decoder ------------------------------------------------- */

/* FORMAT.md 4.1.2 read as it is written, value by value (the first
 * decoder, kept as the oracle the fast one below is checked against by
 * tests/unit/test_packed.c and tests/fuzz/fuzz_events.c). */

struct dec_scratch {
    struct lh_packed_model model;
    uint32_t base[LH_HIST_SLOTS]; /* where each slot's allocations start in idx */
};

#define NEXT(rd, v) do { if ((rd)->pos >= (rd)->count || col_next((rd), &(v))) goto bad; } while (0)

int lh_packed_decode_ref(const Lh__EventBatch *b, lh_event *out, size_t cap)
{
    size_t n = b->n_events;
    if (n > LH_MAX_BATCH_EVENTS || n > cap)
        return LH_E_TOO_LARGE;
    if (b->addr_shift > 63 || b->n_kinds || b->n_threads || b->n_time_deltas || b->n_addr_deltas ||
        b->n_sizes || b->n_stacks || b->n_old_addr_deltas || b->n_addr_refs)
        return LH_E_DECODE;
    col_rd kind, thr, gap, step, acode, fcode, xaddr, scode, xsize, dict, stk;
    if (col_open(&kind, &b->kind_codes, n, n) || col_open(&thr, &b->thread_codes, n, n) ||
        col_open(&gap, &b->time_gaps, SIZE_MAX, n) || col_open(&step, &b->time_steps, gap.count, n) ||
        col_open(&acode, &b->alloc_codes, SIZE_MAX, n) || col_open(&fcode, &b->free_codes, SIZE_MAX, 2 * n) ||
        col_open(&xaddr, &b->explicit_addrs, SIZE_MAX, 2 * n) || col_open(&scode, &b->size_codes, acode.count, n) ||
        col_open(&xsize, &b->explicit_sizes, SIZE_MAX, n) || col_open(&dict, &b->stack_dict, SIZE_MAX, n) ||
        col_open(&stk, &b->stack_codes, acode.count, n))
        return LH_E_DECODE;

    /* One block: the model, then the stack dictionary, then the index of
     * each slot's allocation-like events (slot by slot). */
    size_t nd = dict.count;
    struct dec_scratch *s = malloc(sizeof *s + nd * sizeof(uint32_t) + acode.count * sizeof(uint32_t));
    if (!s)
        return LH_E_NOMEM;
    uint32_t *dct = (uint32_t *)(s + 1), *idx = dct + nd;
    struct lh_packed_model *m = &s->model;
    model_reset(m);
    m->shift = b->addr_shift;
    uint64_t v, last = 0;
    for (size_t j = 0; j < nd; j++) {
        NEXT(&dict, v);
        last += (uint64_t)unzz(v);
        if (last > UINT32_MAX)
            goto bad;
        dct[j] = (uint32_t)last;
    }

    /* Kinds and threads first: each slot's share of the allocations. */
    uint32_t per_slot[LH_HIST_SLOTS] = { 0 };
    size_t allocs = 0;
    for (size_t i = 0; i < n; i++) {
        uint64_t r, t;
        NEXT(&kind, r);
        NEXT(&thr, t);
        if (r >= NO_KIND)
            goto bad;
        if (t < THR_DEPTH) {
            if (t >= m->n_thr)
                goto bad;
            t = m->thr[t];
        } else if (t - THR_DEPTH > UINT32_MAX) {
            goto bad;
        } else {
            t -= THR_DEPTH;
        }
        thr_code(m, (uint32_t)t);
        unsigned slot = (unsigned)(t % LH_HIST_SLOTS);
        uint8_t *mtf = m->kind_mtf[kind_ctx(m, slot)];
        uint8_t k = mtf[r];
        memmove(mtf + 1, mtf, r);
        mtf[0] = k;
        m->prev_kind[slot] = k;
        memset(&out[i], 0, sizeof out[i]); /* padding too: callers may compare events whole */
        out[i].kind = k;
        out[i].thread = (uint32_t)t;
        if (lh_kind_has_stack(k)) {
            per_slot[slot]++;
            allocs++;
        }
    }
    if (allocs != acode.count)
        goto bad;
    for (unsigned sl = 0, at = 0; sl < LH_HIST_SLOTS; sl++) {
        s->base[sl] = at;
        at += per_slot[sl];
    }

    unsigned shift = b->addr_shift;
    /* The next event with a time step is next_step events on, if any. */
    uint64_t t = b->first_time_us, next_step = 0;
    int stepping = gap.count != 0;
    if (stepping)
        NEXT(&gap, next_step);
    for (size_t i = 0; i < n; i++) {
        lh_event *e = &out[i];
        uint32_t k = e->kind;
        unsigned slot = e->thread % LH_HIST_SLOTS;
        if (stepping && next_step == 0) {
            NEXT(&step, v);
            t += v + 1;
            stepping = gap.pos < gap.count;
            if (stepping)
                NEXT(&gap, next_step);
        } else if (stepping) {
            next_step--;
        }
        e->time_us = t;
        e->old_addr = 0;
        uint64_t prev = m->prev_addr[slot], a = 0, old = 0, c;
        if (lh_kind_has_stack(k)) {
            NEXT(&stk, v);
            if (v >= nd)
                goto bad;
            e->stack = dct[v];
            size_list *sl = sz_get(m, e->stack);
            NEXT(&scode, c);
            if (c) {
                if (c > sl->n)
                    goto bad;
                e->size = sl->size[c - 1];
                sz_front(sl, (uint32_t)(c - 1), e->size);
            } else {
                NEXT(&xsize, e->size);
                sz_front(sl, sl->n, e->size);
            }
        } else {
            e->stack = 0;
            e->size = 0;
        }
        if (k == LH_EV_FREE || k == LH_EV_REALLOC) {
            NEXT(&fcode, c);
            if (c) {
                if (c > m->allocs[slot])
                    goto bad;
                const lh_event *from = &out[idx[s->base[slot] + m->allocs[slot] - c]];
                old = from->addr >> shift;
                fl_push(fl_get(m, slot, from->size), old);
            } else {
                NEXT(&xaddr, v);
                old = prev + (uint64_t)unzz(v);
            }
            if (k == LH_EV_FREE) {
                a = old;
                e->size = 0;
                e->stack = 0;
            }
        }
        if (lh_kind_has_stack(k)) {
            free_list *f = fl_get(m, slot, e->size);
            NEXT(&acode, c);
            if (c) {
                if (c > f->n)
                    goto bad;
                a = fl_take(f, (uint32_t)(c - 1));
            } else {
                NEXT(&xaddr, v);
                a = (k == LH_EV_REALLOC ? old : m->bump[slot]) + (uint64_t)unzz(v);
                bump_past(m, slot, a, e->size);
            }
            idx[s->base[slot] + m->allocs[slot]] = (uint32_t)i;
            m->allocs[slot]++;
        } else if (k == LH_EV_MUNMAP) {
            NEXT(&xaddr, v);
            a = prev + (uint64_t)unzz(v);
            NEXT(&xsize, e->size);
        }
        m->prev_addr[slot] = a;
        e->addr = a << shift;
        if (k == LH_EV_REALLOC)
            e->old_addr = old << shift;
    }
    if (stepping || !col_done(&kind) || !col_done(&thr) || !col_done(&gap) || !col_done(&step) ||
        !col_done(&acode) || !col_done(&fcode) || !col_done(&xaddr) || !col_done(&scode) ||
        !col_done(&xsize) || !col_done(&dict) || !col_done(&stk))
        goto bad;
    free(s);
    return (int)n;
bad:
    free(s);
    return LH_E_DECODE;
}
