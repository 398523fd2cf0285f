/*
 * lh_events.h - column encoding of event batches (FORMAT.md 4.1).
 * Internal to format/; the public decoder is lh_events_decode().
 */
#ifndef LH_EVENTS_H
#define LH_EVENTS_H

#include "lh_trace.h"

/* Events per EVENTS chunk written by the writer. 64 Ki events stay far below
 * LH_MAX_CHUNK_RAW even when every column holds 10-byte varints. */
#define LH_WRITER_BATCH 65536

/* Address history (FORMAT.md 4.1): each of LH_HIST_SLOTS thread slots
 * remembers the last LH_HIST_DEPTH addresses its events touched. */
#define LH_HIST_SLOTS 16
#define LH_HIST_DEPTH 256

typedef struct {
    uint64_t ring[LH_HIST_SLOTS][LH_HIST_DEPTH];
    uint64_t pushed[LH_HIST_SLOTS];   /* pushes so far per slot */
    uint64_t prev[LH_HIST_SLOTS];     /* last explicit-or-referenced address */
} lh_addr_history;

/* Column arrays the encoder fills; each holds LH_WRITER_BATCH entries,
 * plus the encoder's address history and its lookup cache. */
typedef struct {
    uint32_t *kinds, *threads, *stacks, *addr_refs;
    uint64_t *time_deltas, *sizes;
    int64_t *addr_deltas, *old_addr_deltas;
    lh_addr_history *hist;
    struct lh_addr_seen *seen; /* direct-mapped: address -> last push */
} lh_batch_columns;

/* Bytes lh_batch_columns needs, in one block. */
size_t lh_batch_columns_bytes(void);
/* Point the columns into a block of lh_batch_columns_bytes(). */
void lh_batch_columns_init(lh_batch_columns *c, void *block);

/* Encode n <= LH_WRITER_BATCH events into *b, whose repeated fields point
 * into c. Returns 0 or LH_E_ARG (bad kind, time going backwards). */
int lh_events_encode(const lh_event *ev, size_t n, lh_batch_columns *c, Lh__EventBatch *b);

/* Batch encodings (EventBatch.encoding): 1, the 1.0-1.3 varint columns
 * (lh_events_encode); 2, format 1.4's predicted bit-packed columns
 * (lh_packed.c, FORMAT.md 4.1.2). */
#define LH_BATCH_VARINT 1
#define LH_BATCH_PACKED 2

/* Encoding 2's encoder state: its models, maps and column buffers, for
 * up to LH_WRITER_BATCH events. */
#define LH_PACKED_COLUMNS 11
struct lh_packed_enc;
/* Bytes the encoder state needs, in one block. */
size_t lh_packed_bytes(void);
/* Set up the state in a block of lh_packed_bytes(). */
struct lh_packed_enc *lh_packed_init(void *block);
/* Encode n <= LH_WRITER_BATCH events into *b, whose bytes fields point
 * into e (valid until the next call). Returns 0 or LH_E_ARG (bad kind,
 * time going backwards). */
int lh_packed_encode(const lh_event *ev, size_t n, struct lh_packed_enc *e, Lh__EventBatch *b);
/* Decode an encoding-2 batch; as lh_events_decode. */
int lh_packed_decode(const Lh__EventBatch *b, lh_event *out, size_t cap);
/* The same with a decoder state kept from batch to batch (its lists and
 * arrays are reused, never cleared: a stream of small batches costs no
 * more per event than one of big ones). NULL when out of memory; free
 * accepts NULL. */
struct lh_packed_dec;
struct lh_packed_dec *lh_packed_dec_new(void);
void lh_packed_dec_free(struct lh_packed_dec *d);
int lh_packed_decode_with(struct lh_packed_dec *d, const Lh__EventBatch *b, lh_event *out, size_t cap);
/* The reference decoder: FORMAT.md 4.1.2 value by value, slow; the same
 * results as lh_packed_decode for every batch (tests and fuzzers check). */
int lh_packed_decode_ref(const Lh__EventBatch *b, lh_event *out, size_t cap);

/* lh_events_decode with an encoding-2 decoder state (*d made on first
 * use; the caller frees it with lh_packed_dec_free). */
int lh_events_decode_with(struct lh_packed_dec **d, const Lh__EventBatch *b, lh_event *out, size_t cap);

/* Format 1.5's domains column, with either encoding: when some event of
 * ev[0..n) has a domain, col (LH_WRITER_BATCH entries) gets them all and
 * *b points at it; else *b has none (written as before 1.5). */
void lh_events_put_domains(const lh_event *ev, size_t n, uint32_t *col, Lh__EventBatch *b);
/* Whether ev[0..n) has an event of a domain other than libc. */
int lh_events_any_domain(const lh_event *ev, size_t n);

/* Events a batch holds, whatever its encoding. */
static inline size_t lh_batch_events(const Lh__EventBatch *b)
{ return b->has_encoding && b->encoding == LH_BATCH_PACKED ? b->n_events : b->n_kinds; }

/* One bit per kind: a test and a shift on the decoders' per-event path,
 * where four compares cost 6% of a replay's instructions. */
#define LH_KINDS_WITH_SIZE (1u << LH_EV_ALLOC | 1u << LH_EV_REALLOC | 1u << LH_EV_MMAP | 1u << LH_EV_MUNMAP)
#define LH_KINDS_WITH_STACK (1u << LH_EV_ALLOC | 1u << LH_EV_REALLOC | 1u << LH_EV_MMAP)
static inline int lh_kind_has_size(uint32_t k) { return k < LH_EV_KIND_COUNT && (LH_KINDS_WITH_SIZE >> k & 1); }
static inline int lh_kind_has_stack(uint32_t k) { return k < LH_EV_KIND_COUNT && (LH_KINDS_WITH_STACK >> k & 1); }

/* Unpack an EventBatch from wire bytes with allocator a (lh_batch_parse.c)
 * into *out: LH_OK, LH_E_DECODE, LH_E_TOO_LARGE or LH_E_NOMEM. Same result
 * as protobuf-c's unpack for every message both accept. */
int lh_batch_parse(const uint8_t *buf, size_t len, ProtobufCAllocator *a, Lh__EventBatch **out);

/* An event batch as it lies in its wire bytes: where each varint column
 * starts (fields 3-10 in field order, then field 24's domains), how many
 * values it holds, and the scalar fields (head: its columns are empty). */
typedef struct {
    const uint8_t *run[9];
    size_t count[9];
    int fused;            /* encoding 1, every column one packed run at most */
    Lh__EventBatch head;
} lh_batch_wire;
/* Events the scanned batch holds (its kinds column's length). */
static inline size_t lh_batch_wire_events(const lh_batch_wire *w) { return w->count[0]; }
/* lh_batch_parse's first pass, with its errors: LH_OK, LH_E_DECODE or
 * LH_E_TOO_LARGE. */
int lh_batch_scan(const uint8_t *buf, size_t len, lh_batch_wire *w);
/* lh_batch_parse of a batch already scanned into *w (buf unchanged). */
int lh_batch_parse_scanned(const uint8_t *buf, size_t len, const lh_batch_wire *w, ProtobufCAllocator *a,
                           Lh__EventBatch **out);
/* The events of a scanned batch with w->fused set, decoded from the wire
 * bytes (still in place) in one pass: as lh_batch_parse then
 * lh_events_decode would give them, or the same error. */
int lh_batch_wire_decode(const lh_batch_wire *w, lh_event *out, size_t cap);
/* Decode every event batch through lh_batch_parse's arrays, as before
 * lh_batch_wire_decode (lh_reader.c; tests compare the two). */
void lh_reader_set_arrays(lh_reader *r, int on);

#endif
