/*
 * lh_trace.h - read and write leakhunt trace files (.lht).
 *
 * One small library used by both halves: the recorder writes with
 * lh_writer_*, the analysis tools read with lh_reader_*. The byte layout is
 * specified in format/FORMAT.md; message layouts come from format/trace.proto.
 *
 * The library never prints, never exits and keeps no global state. Every
 * call that can fail returns an lh_rc (0 on success, negative on error);
 * lh_rc_name() turns one into a short lower-case message.
 *
 * Memory: the writer holds one chunk being built and the index of chunks
 * written so far; the reader holds one chunk. Neither grows with the trace.
 */
#ifndef LH_TRACE_H
#define LH_TRACE_H

#include <stddef.h>
#include <stdint.h>

#include "trace.pb-c.h"

#ifdef __cplusplus
extern "C" {
#endif

#define LH_FORMAT_VERSION_MAJOR 1
#define LH_FORMAT_VERSION_MINOR 5

/* leakhunt's own version: what every tool's --version prints, as
 * printf("%s " LH_VERSION_LINE "\n", tool), "leakhunt-dump 0.2 (trace
 * format 1.2)", and what a trace's ProcessInfo.recorder_version names. */
#define LH_VERSION "0.2"
#define LH_STR_(x) #x
#define LH_STR(x) LH_STR_(x)
#define LH_VERSION_LINE LH_VERSION " (trace format " LH_STR(LH_FORMAT_VERSION_MAJOR) "." \
    LH_STR(LH_FORMAT_VERSION_MINOR) ")"

/* Limits a reader enforces before it allocates anything (FORMAT.md). */
#define LH_MAX_CHUNK_RAW   (16u << 20) /* decompressed chunk payload */
#define LH_MAX_CHUNK_PACKED (LH_MAX_CHUNK_RAW + LH_MAX_CHUNK_RAW / 255 + 16)
#define LH_MAX_BATCH_EVENTS (1u << 20)

/* --- errors ------------------------------------------------------------- */

#define LH_ERROR_LIST(X) \
    X(LH_OK,             0, "ok") \
    X(LH_E_IO,          -1, "i/o error") \
    X(LH_E_NOMEM,       -2, "out of memory") \
    X(LH_E_MAGIC,       -3, "not a leakhunt trace (bad magic)") \
    X(LH_E_VERSION,     -4, "unsupported trace format version") \
    X(LH_E_TRUNCATED,   -5, "truncated chunk") \
    X(LH_E_CHECKSUM,    -6, "chunk checksum mismatch") \
    X(LH_E_TOO_LARGE,   -7, "chunk length beyond limits") \
    X(LH_E_DECOMPRESS,  -8, "lz4 decompression failed") \
    X(LH_E_DECODE,      -9, "malformed message") \
    X(LH_E_ARG,        -10, "invalid argument") \
    X(LH_E_CLOSED,     -11, "writer already failed or closed") \
    X(LH_E_STACKS,     -12, "stack table damaged")

typedef enum {
#define LH_X_ENUM(name, value, text) name = value,
    LH_ERROR_LIST(LH_X_ENUM)
#undef LH_X_ENUM
} lh_rc;

static inline int lh_is_error(int rc) { return rc < 0; }
/* Short description of rc; never NULL. */
const char *lh_rc_name(int rc);

/* --- chunk types -------------------------------------------------------- */

typedef enum {
    LH_CHUNK_PROCESS = 1, /* Lh__ProcessInfo */
    LH_CHUNK_MODULES = 2, /* Lh__ModuleMap */
    LH_CHUNK_STACKS  = 3, /* Lh__StackNodes */
    LH_CHUNK_THREAD  = 4, /* Lh__ThreadInfo */
    LH_CHUNK_EVENTS  = 5, /* Lh__EventBatch, decoded to lh_event[] */
    LH_CHUNK_MARKER  = 6, /* Lh__Marker */
    LH_CHUNK_RSS     = 7, /* Lh__RssSample */
    LH_CHUNK_FOOTER  = 8, /* Lh__Footer */
    LH_CHUNK_LOST    = 9, /* Lh__Lost */
    LH_CHUNK_PYFRAMES = 10, /* Lh__PyFrames (format 1.1) */
} lh_chunk_type;

/* Stack node ips from LH_PY_IP_BASE up stand for Python frames: ip =
 * LH_PY_IP_BASE + PyFrames id. Kernel space, so never a user-space code
 * address; symbolize them by id, not as ip - 1. */
#define LH_PY_IP_BASE 0xFFFF800000000000ull
#define LH_PY_IP_LIMIT (LH_PY_IP_BASE + 0x100000000ull)

/* Name of a chunk type ("events"), or "unknown". */
const char *lh_chunk_type_name(uint32_t type);

/* --- events ------------------------------------------------------------- */

typedef enum {
    LH_EV_ALLOC   = 0, /* addr, size, stack */
    LH_EV_FREE    = 1, /* addr */
    LH_EV_REALLOC = 2, /* old_addr freed, addr allocated with size, stack */
    LH_EV_MMAP    = 3, /* anonymous mapping: addr, size, stack */
    LH_EV_MUNMAP  = 4, /* addr, size (may cover part of a mapping) */
    LH_EV_KIND_COUNT
} lh_event_kind;

/* One event with absolute values. Fields a kind does not use are 0. */
typedef struct {
    uint64_t time_us;  /* microseconds since the trace's time 0 */
    uint64_t addr;
    uint64_t old_addr; /* LH_EV_REALLOC only */
    uint64_t size;
    uint32_t stack;    /* stack node id, 0 = unknown/empty */
    uint32_t thread;   /* ThreadInfo.index */
    uint32_t kind;     /* lh_event_kind */
    uint32_t domain;   /* lh_event_domain (format 1.5), 0 = libc */
} lh_event;

/* Which allocator an event went through (format 1.5, FORMAT.md 4.1.4). */
typedef enum {
    LH_DOM_LIBC     = 0, /* the malloc family, anonymous mmap: everything before 1.5 */
    LH_DOM_PY_RAW   = 1, /* CPython's PyMem_RawMalloc domain, hooked (PEP 445) */
    LH_DOM_PY_MEM   = 2, /* PyMem_Malloc domain, hooked */
    LH_DOM_PY_OBJ   = 3, /* PyObject_Malloc domain, hooked */
    LH_DOM_PY_ARENA = 4, /* a mapping CPython's allocator made for itself inside a hooked call */
    LH_DOM_COUNT
} lh_event_domain;

/* --- writer ------------------------------------------------------------- */

typedef struct lh_writer lh_writer;

typedef struct {
    /* Write the whole buffer or fail; returns 0 or -errno. Lets the
     * recorder route output through its own syscall layer (and tests
     * inject failures). NULL = write(2) to fd, retrying EINTR. */
    int (*write_all)(void *ctx, const void *buf, size_t len);
    void *ctx;
    /* Allocation hooks for the writer's buffers; NULL = malloc/realloc/free. */
    void *(*alloc)(void *ctx, size_t size);
    void (*release)(void *ctx, void *ptr, size_t size);
    void *alloc_ctx;
    /* Cut the file to size bytes and go on writing there (lh_writer_salvage);
     * NULL = ftruncate and lseek on fd. */
    int (*truncate)(void *ctx, uint64_t size);
    int lz4_acceleration; /* 0 = default (1) */
    int lz4hc_level;      /* > 0: LZ4HC at this level (smaller, slower) */
    /* Event batch encoding: 0 = the current one (2, format 1.4's packed
     * columns); 1 = the 1.0-1.3 varint columns, which every 1.x reader
     * reads (for comparisons and tests). Anything else: lh_writer_events
     * returns LH_E_ARG. */
    int batch_encoding;
} lh_writer_io;

/* Start a trace on fd (file header written immediately). io may be NULL.
 * Returns NULL with *rc set on failure. The writer does not own fd. */
lh_writer *lh_writer_open(int fd, const lh_writer_io *io, int *rc);

/* Pack msg (a message of the type's kind), compress and append one chunk.
 * time range and event count feed the footer index. After the first write
 * error every call returns LH_E_CLOSED: a failed writer never writes again,
 * so the file stays a valid prefix. */
int lh_writer_put(lh_writer *w, uint32_t type, const ProtobufCMessage *msg,
                  uint64_t first_time_us, uint64_t last_time_us);

/* Encode events (in replay order, times non-decreasing) as one or more
 * EVENTS chunks. */
int lh_writer_events(lh_writer *w, const lh_event *ev, size_t n);

/* Write the footer (index, totals) and trailer. exit_status < 0 = unknown.
 * Does not close fd. */
int lh_writer_finish(lh_writer *w, uint64_t end_time_us, uint64_t lost_events,
                     int exit_status);

/* After a write failed (a full disk): cut the file back to a chunk
 * boundary at least free_bytes before its end, so there is room again,
 * and append one Lost chunk marked damaged whose count is lost_events
 * (the events never written, known to the caller) plus the events of the
 * chunks cut off. Returns 0 when that chunk was written (the trace then
 * says how much is missing; no footer follows), or a negative lh_rc. */
int lh_writer_salvage(lh_writer *w, uint64_t free_bytes, uint64_t time_us, uint64_t lost_events,
                      const char *reason);

/* Bytes written so far (header + chunks). */
uint64_t lh_writer_offset(const lh_writer *w);

/* Events in the chunks written so far. */
uint64_t lh_writer_events_written(const lh_writer *w);

/* Free the writer. Accepts NULL. Does not write anything. */
void lh_writer_free(lh_writer *w);

/* --- reader ------------------------------------------------------------- */

typedef struct lh_reader lh_reader;

/* One chunk as the reader hands it out. Everything it points to belongs to
 * the reader and stays valid until the next lh_reader_next(),
 * lh_reader_seek(), lh_reader_index() (which reads chunks itself) or free. */
typedef struct {
    uint32_t type;        /* lh_chunk_type, or an unknown type (msg NULL) */
    uint64_t offset;      /* file offset of the chunk frame */
    uint32_t packed_size; /* compressed payload bytes */
    uint32_t raw_size;    /* decompressed payload bytes */
    ProtobufCMessage *msg;/* decoded message; NULL for unknown types */
    const lh_event *events; /* LH_CHUNK_EVENTS: decoded events */
    size_t n_events;
} lh_chunk;

/* Open path for reading and check the file header. NULL with *rc on error. */
lh_reader *lh_reader_open(const char *path, int *rc);

/* Same on an fd the caller keeps owning (must be seekable). */
lh_reader *lh_reader_open_fd(int fd, int *rc);

/* Next chunk: returns 1 with *out filled, 0 at a clean end (footer seen or
 * end of file on a chunk boundary), LH_READER_PENDING only in follow mode
 * (lh_reader_set_follow), or a negative lh_rc when the chunk at
 * lh_reader_damage_offset() is torn or corrupt. After an error the reader
 * stays at the damage: every later call returns the same error. Unknown
 * chunk types are returned with msg NULL so callers can skip them. */
int lh_reader_next(lh_reader *r, lh_chunk *out);

/* Follow a trace that is still being written (leakhunt-top). With on, the
 * end of the file is not the end of the trace: whenever lh_reader_next
 * reaches the end of what it knew of the file, it looks at the file's size
 * again (fstat), and a chunk the file ends inside (its frame or payload
 * not all written yet) is neither damage nor an end: lh_reader_next returns
 * LH_READER_PENDING, keeps its position, and a later call reads the chunk
 * once it is complete. Only the footer chunk ends a followed trace (0).
 * Bytes that are there and wrong (a checksum, a limit, LZ4, protobuf) are
 * damage as always, and so is a file that shrank below the position. A
 * reader that found a footer when it was opened is finished anyway. The
 * reader never sleeps: the caller decides how long to wait. Off by
 * default; set before the first lh_reader_next. */
#define LH_READER_PENDING 2
void lh_reader_set_follow(lh_reader *r, int on);

/* Offset of the first damaged byte range found, or UINT64_MAX if none. */
uint64_t lh_reader_damage_offset(const lh_reader *r);

/* Whether a valid footer + trailer were seen at the end of the file. */
int lh_reader_has_footer(const lh_reader *r);

/* Total file size in bytes. */
uint64_t lh_reader_file_size(const lh_reader *r);

/* Format version found in the header. */
void lh_reader_version(const lh_reader *r, unsigned *major, unsigned *minor);

/* Seek to a chunk offset obtained from the index or a previous lh_chunk
 * (used by checkpointed replay). Clears nothing but the position. */
int lh_reader_seek(lh_reader *r, uint64_t offset);

/* Where the chunk after the one at offset at begins, from that chunk's
 * frame alone (its payload is neither read nor checked, so a reader can
 * hand chunks to several threads without decoding them first): 1 with
 * *next set (and *type the chunk's type, when type is not NULL), 0 when
 * at is where the chunks end (the footer's end or the file's), or a
 * negative lh_rc when the frame is torn or breaks a limit (reading the
 * chunk there gives the damage). Does not move the reader. */
int lh_reader_peek_next(lh_reader *r, uint64_t at, uint64_t *next, uint32_t *type);

/* Offset of the next chunk lh_reader_next() would read. */
uint64_t lh_reader_tell(const lh_reader *r);

/* The footer index if the file has one, otherwise rebuilt by scanning every
 * chunk frame (without decoding payloads beyond what the times need).
 * Returned footer belongs to the reader. On damage, the rebuilt index holds
 * every chunk before it and *rc gets the damage error (still returning the
 * partial index). */
const Lh__Footer *lh_reader_index(lh_reader *r, int *rc);

void lh_reader_free(lh_reader *r);

/* --- stack table (FORMAT.md 4.2) ---------------------------------------- */

/* Whether a StackNodes message is well formed on its own: parents and ips
 * of equal length, first_id >= 1 when it holds nodes (node 0 is the empty
 * stack, never written), every id below 2^32, and each node's parent an id
 * below its own (so no chain of parents can loop or lead forward). LH_OK
 * or LH_E_STACKS. lh_reader_next refuses a stacks chunk that fails it as
 * damage (LH_E_STACKS at the chunk's offset), so every StackNodes a reader
 * hands out has passed. */
int lh_stack_nodes_check(const Lh__StackNodes *m);

/* Whether m continues a table whose ids 0 .. *next_id - 1 are defined
 * (*next_id starts at 1, node 0 being the empty stack): its first_id must
 * be *next_id. LH_OK with *next_id moved past m's nodes, or LH_E_STACKS
 * with *next_id unchanged. Together with lh_stack_nodes_check this makes
 * every parent a node defined before. The reader cannot ask it (it may be
 * seeked to any chunk): a caller that takes every stacks chunk in file
 * order, as a replay does, must, and call a chunk that fails damage. */
int lh_stack_nodes_continue(const Lh__StackNodes *m, uint64_t *next_id);

/* --- low level, for tests and fuzzers ----------------------------------- */

/* Decode one packed EventBatch into events (caller-owned array of at least
 * LH_MAX_BATCH_EVENTS or batch length). Returns count or negative lh_rc. */
int lh_events_decode(const Lh__EventBatch *b, lh_event *out, size_t cap);

#ifdef __cplusplus
}
#endif
#endif
