/*
 * lh_reader.c - streaming trace reader.
 *
 * Holds one chunk at a time. Every length is checked against the limits of
 * FORMAT.md and against the bytes the file really has before anything is
 * allocated or read, so a hostile file can make the reader refuse but never
 * read out of bounds or allocate what a length field claims. A message
 * that decodes but breaks a rule it can be checked against alone (an event
 * batch's columns, a stack table's parents) is damage too. The first
 * damaged chunk ends the stream; everything before it stays usable.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <lz4.h>

#include "lh_events.h"
#include "lh_frame.h"
#include "lh_trace.h"

struct lh_reader {
    int fd;
    int own_fd;
    unsigned major, minor;
    uint64_t file_size;
    uint64_t end;           /* where chunks stop: footer end or file size */
    uint64_t pos;
    int finished;           /* footer chunk returned */
    int has_footer;
    int follow;             /* lh_reader_set_follow: the file may still grow */
    uint64_t footer_offset;
    uint64_t damage_offset;

    uint8_t *packed;
    size_t packed_cap;
    uint8_t *raw;
    size_t raw_cap;
    ProtobufCMessage *msg;
    lh_event *events;
    size_t events_cap;
    struct lh_packed_dec *dec; /* encoding 2's decoder state, kept from chunk to chunk */
    int arrays;             /* lh_reader_set_arrays: never decode from the wire */

    Lh__Footer *index;      /* unpacked footer, or built by scanning */
    int index_built;        /* index was built here (free by hand) */

    /* Messages are unpacked into an arena reset at every chunk: an event
     * batch's columns would otherwise cost several large mallocs (and, at
     * their size, mmap/munmap and page faults) per chunk. */
    ProtobufCAllocator arena_alloc;
    uint8_t *arena;
    size_t arena_cap, arena_used, arena_wanted;
    void **spill;           /* allocations that did not fit, freed at reset */
    size_t n_spill, cap_spill;
    int arena_failed;       /* an allocation of this message failed: not damage */
};

static void *arena_get(void *data, size_t size)
{
    lh_reader *r = data;
    size = (size + 15) & ~(size_t)15;
    r->arena_wanted += size;
    if (r->arena_used + size <= r->arena_cap) {
        void *p = r->arena + r->arena_used;
        r->arena_used += size;
        return p;
    }
    if (r->n_spill == r->cap_spill) {
        size_t cap = r->cap_spill ? r->cap_spill * 2 : 16;
        void **ns = realloc(r->spill, cap * sizeof(void *));
        if (!ns) {
            r->arena_failed = 1;
            return NULL;
        }
        r->spill = ns;
        r->cap_spill = cap;
    }
    void *p = malloc(size);
    if (p)
        r->spill[r->n_spill++] = p;
    else
        r->arena_failed = 1;
    return p;
}

static void arena_put(void *data, void *p)
{
    (void)data;
    (void)p; /* released all at once by arena_reset */
}

/* Forget the last message; grow the arena to what it needed. */
static void arena_reset(lh_reader *r)
{
    for (size_t i = 0; i < r->n_spill; i++)
        free(r->spill[i]);
    r->n_spill = 0;
    if (r->arena_wanted > r->arena_cap) {
        size_t cap = r->arena_wanted + r->arena_wanted / 4;
        uint8_t *na = malloc(cap);
        if (na) {
            free(r->arena);
            r->arena = na;
            r->arena_cap = cap;
        }
    }
    r->arena_used = 0;
    r->arena_wanted = 0;
    r->arena_failed = 0;
}

static const ProtobufCMessageDescriptor *descriptor_for(uint32_t type)
{
    switch (type) {
    case LH_CHUNK_PROCESS: return &lh__process_info__descriptor;
    case LH_CHUNK_MODULES: return &lh__module_map__descriptor;
    case LH_CHUNK_STACKS:  return &lh__stack_nodes__descriptor;
    case LH_CHUNK_THREAD:  return &lh__thread_info__descriptor;
    case LH_CHUNK_EVENTS:  return &lh__event_batch__descriptor;
    case LH_CHUNK_MARKER:  return &lh__marker__descriptor;
    case LH_CHUNK_RSS:     return &lh__rss_sample__descriptor;
    case LH_CHUNK_FOOTER:  return &lh__footer__descriptor;
    case LH_CHUNK_LOST:    return &lh__lost__descriptor;
    case LH_CHUNK_PYFRAMES: return &lh__py_frames__descriptor;
    }
    return NULL;
}

static int read_at(lh_reader *r, void *buf, size_t len, uint64_t off)
{
    uint8_t *p = buf;
    while (len) {
        ssize_t n = pread(r->fd, p, len, (off_t)off);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            return LH_E_IO;
        }
        if (n == 0)
            return LH_E_TRUNCATED; /* the file shrank under us */
        p += n;
        len -= (size_t)n;
        off += (uint64_t)n;
    }
    return LH_OK;
}

static int grow(uint8_t **buf, size_t *cap, size_t need)
{
    if (*cap >= need)
        return LH_OK;
    uint8_t *nb = realloc(*buf, need);
    if (!nb)
        return LH_E_NOMEM;
    *buf = nb;
    *cap = need;
    return LH_OK;
}

static void drop_message(lh_reader *r)
{
    r->msg = NULL;
    arena_reset(r);
}

/* A footer is trusted only if the trailer points at a frame of type footer
 * that fits the file; its payload is checked when it is read. */
static void find_footer(lh_reader *r)
{
    uint8_t t[LH_TRAILER_SIZE], fb[LH_FRAME_SIZE];
    uint64_t off;
    lh_frame f;
    if (r->file_size < LH_HEADER_SIZE + LH_FRAME_SIZE + LH_TRAILER_SIZE)
        return;
    if (read_at(r, t, sizeof t, r->file_size - LH_TRAILER_SIZE) || lh_trailer_decode(t, &off))
        return;
    if (off < LH_HEADER_SIZE || off > r->file_size - LH_TRAILER_SIZE - LH_FRAME_SIZE)
        return;
    if (read_at(r, fb, sizeof fb, off))
        return;
    lh_frame_decode(fb, &f);
    if (f.type != LH_CHUNK_FOOTER || off + LH_FRAME_SIZE + f.packed_size != r->file_size - LH_TRAILER_SIZE)
        return;
    r->has_footer = 1;
    r->footer_offset = off;
    r->end = r->file_size - LH_TRAILER_SIZE;
}

lh_reader *lh_reader_open_fd(int fd, int *rc)
{
    struct stat st;
    uint8_t h[LH_HEADER_SIZE];
    lh_reader *r = calloc(1, sizeof *r);
    if (!r) {
        *rc = LH_E_NOMEM;
        return NULL;
    }
    r->fd = fd;
    r->damage_offset = UINT64_MAX;
    if (fstat(fd, &st) < 0) {
        *rc = LH_E_IO;
        goto fail;
    }
    r->file_size = (uint64_t)st.st_size;
    r->end = r->file_size;
    if (r->file_size < LH_HEADER_SIZE) {
        /* Too short for a header: say "not a trace" unless the bytes there
         * are the start of our magic, which is a trace torn at birth. */
        uint8_t part[LH_HEADER_SIZE] = { 0 };
        *rc = LH_E_MAGIC;
        if (r->file_size && !read_at(r, part, r->file_size, 0) &&
            !memcmp(part, LH_FILE_MAGIC, r->file_size < 8 ? r->file_size : 8))
            *rc = LH_E_TRUNCATED;
        goto fail;
    }
    if ((*rc = read_at(r, h, sizeof h, 0)))
        goto fail;
    if ((*rc = lh_header_decode(h, &r->major, &r->minor)))
        goto fail;
    r->pos = LH_HEADER_SIZE;
    find_footer(r);
    *rc = LH_OK;
    return r;
fail:
    free(r);
    return NULL;
}

lh_reader *lh_reader_open(const char *path, int *rc)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        *rc = LH_E_IO;
        return NULL;
    }
    lh_reader *r = lh_reader_open_fd(fd, rc);
    if (!r) {
        close(fd);
        return NULL;
    }
    r->own_fd = 1;
    return r;
}

static int damaged(lh_reader *r, uint64_t at, int rc)
{
    if (r->damage_offset == UINT64_MAX || at < r->damage_offset)
        r->damage_offset = at;
    return rc;
}

void lh_reader_set_follow(lh_reader *r, int on)
{
    if (r)
        r->follow = on != 0;
}

/* Follow mode: whether need bytes from at are in the file now (1), not
 * yet (0), or the file shrank below at (a negative lh_rc, damage). The
 * size is looked at again only when what was known falls short. */
static int follow_has(lh_reader *r, uint64_t at, uint64_t need)
{
    struct stat st;
    if (r->end >= at && r->end - at >= need)
        return 1;
    if (fstat(r->fd, &st) < 0)
        return damaged(r, at, LH_E_IO);
    if ((uint64_t)st.st_size < r->file_size || (uint64_t)st.st_size < at)
        return damaged(r, at, LH_E_TRUNCATED); /* cut back under us */
    r->file_size = r->end = (uint64_t)st.st_size;
    return r->end - at >= need;
}

/* Read, verify and decompress the chunk at r->pos into r->raw; in follow
 * mode LH_READER_PENDING when it is not all written yet. */
static int load_chunk(lh_reader *r, lh_frame *f)
{
    uint8_t fb[LH_FRAME_SIZE];
    uint64_t at = r->pos;
    int rc;
    if (r->follow && !r->has_footer && (rc = follow_has(r, at, LH_FRAME_SIZE)) <= 0)
        return rc < 0 ? rc : LH_READER_PENDING;
    if (r->end - at < LH_FRAME_SIZE)
        return damaged(r, at, LH_E_TRUNCATED);
    if ((rc = read_at(r, fb, sizeof fb, at)))
        return damaged(r, at, rc);
    lh_frame_decode(fb, f);
    if ((rc = lh_frame_check_sizes(f)))
        return damaged(r, at, rc);
    if (r->follow && !r->has_footer && (rc = follow_has(r, at, LH_FRAME_SIZE + (uint64_t)f->packed_size)) <= 0)
        return rc < 0 ? rc : LH_READER_PENDING;
    if (r->end - at - LH_FRAME_SIZE < f->packed_size)
        return damaged(r, at, LH_E_TRUNCATED);
    if ((rc = grow(&r->packed, &r->packed_cap, f->packed_size + 1)) ||
        (rc = grow(&r->raw, &r->raw_cap, f->raw_size + 1)))
        return rc;
    if ((rc = read_at(r, r->packed, f->packed_size, at + LH_FRAME_SIZE)))
        return damaged(r, at, rc);
    if ((rc = lh_frame_verify(f, r->packed)))
        return damaged(r, at, rc);
    if (f->raw_size) {
        int n = LZ4_decompress_safe((const char *)r->packed, (char *)r->raw,
                                    (int)f->packed_size, (int)f->raw_size);
        if (n != (int)f->raw_size)
            return damaged(r, at, LH_E_DECOMPRESS);
    }
    return LH_OK;
}

void lh_reader_set_arrays(lh_reader *r, int on)
{
    if (r)
        r->arrays = on != 0;
}

/* Room for n events in r->events. */
static int events_room(lh_reader *r, size_t n)
{
    if (n > LH_MAX_BATCH_EVENTS)
        return LH_E_TOO_LARGE;
    if (n > r->events_cap) {
        lh_event *ne = realloc(r->events, n * sizeof *ne);
        if (!ne)
            return LH_E_NOMEM;
        r->events = ne;
        r->events_cap = n;
    }
    return LH_OK;
}

/* An events chunk's message (r->msg) and events: LH_OK or an error, the
 * message then left for the caller to drop. A batch as leakhunt writes it
 * is decoded straight from its wire bytes (lh_batch_wire_decode); any
 * other through lh_batch_parse's arrays. */
static int take_events(lh_reader *r, const lh_frame *f, lh_chunk *out)
{
    lh_batch_wire w;
    Lh__EventBatch *b;
    int got, rc = lh_batch_scan(r->raw, f->raw_size, &w);
    if (rc)
        return rc;
    if (w.fused && !r->arrays) {
        if (!(b = arena_get(r, sizeof *b)))
            return LH_E_NOMEM;
        *b = w.head; /* the scalar fields; the columns stay empty */
        r->msg = &b->base;
        if ((rc = events_room(r, lh_batch_wire_events(&w))))
            return rc;
        got = lh_batch_wire_decode(&w, r->events, r->events_cap);
    } else {
        if ((rc = lh_batch_parse_scanned(r->raw, f->raw_size, &w, &r->arena_alloc, &b)))
            return rc;
        r->msg = &b->base;
        if ((rc = events_room(r, lh_batch_events(b))))
            return rc;
        got = lh_events_decode_with(&r->dec, b, r->events, r->events_cap);
    }
    if (got < 0)
        return got;
    out->msg = r->msg;
    out->events = r->events;
    out->n_events = (size_t)got;
    return LH_OK;
}

int lh_reader_next(lh_reader *r, lh_chunk *out)
{
    lh_frame f;
    int rc;
    if (!r || !out)
        return LH_E_ARG;
    drop_message(r);
    memset(out, 0, sizeof *out);
    if (r->finished || (r->pos == r->end && (!r->follow || r->has_footer)))
        return 0;
    uint64_t at = r->pos;
    if ((rc = load_chunk(r, &f)))
        return rc;

    out->type = f.type;
    out->offset = at;
    out->packed_size = f.packed_size;
    out->raw_size = f.raw_size;
    const ProtobufCMessageDescriptor *d = descriptor_for(f.type);
    if (d) {
        r->arena_alloc.alloc = arena_get;
        r->arena_alloc.free = arena_put;
        r->arena_alloc.allocator_data = r;
        if (f.type == LH_CHUNK_EVENTS) {
            if ((rc = take_events(r, &f, out))) {
                drop_message(r);
                out->msg = NULL;
                out->events = NULL;
                out->n_events = 0;
                return rc == LH_E_NOMEM ? rc : damaged(r, at, rc);
            }
        } else {
            r->msg = protobuf_c_message_unpack(d, &r->arena_alloc, f.raw_size, r->raw);
            if (!r->msg) /* protobuf-c says NULL for both */
                return r->arena_failed ? LH_E_NOMEM : damaged(r, at, LH_E_DECODE);
            if (f.type == LH_CHUNK_STACKS && (rc = lh_stack_nodes_check((const Lh__StackNodes *)r->msg))) {
                drop_message(r);
                return damaged(r, at, rc);
            }
            out->msg = r->msg;
        }
    }
    r->pos = at + LH_FRAME_SIZE + f.packed_size;
    if (f.type == LH_CHUNK_FOOTER)
        r->finished = 1;
    return 1;
}

uint64_t lh_reader_damage_offset(const lh_reader *r) { return r ? r->damage_offset : UINT64_MAX; }
int lh_reader_has_footer(const lh_reader *r) { return r && r->has_footer; }
uint64_t lh_reader_file_size(const lh_reader *r) { return r ? r->file_size : 0; }

void lh_reader_version(const lh_reader *r, unsigned *major, unsigned *minor)
{
    *major = r->major;
    *minor = r->minor;
}

int lh_reader_seek(lh_reader *r, uint64_t offset)
{
    if (!r || offset < LH_HEADER_SIZE || offset > r->end)
        return LH_E_ARG;
    drop_message(r);
    r->pos = offset;
    r->finished = 0;
    return LH_OK;
}

uint64_t lh_reader_tell(const lh_reader *r) { return r ? r->pos : 0; }

int lh_reader_peek_next(lh_reader *r, uint64_t at, uint64_t *next, uint32_t *type)
{
    uint8_t fb[LH_FRAME_SIZE];
    lh_frame f;
    int rc;
    if (!r || at < LH_HEADER_SIZE || at > r->end)
        return LH_E_ARG;
    if (at == r->end)
        return 0;
    if (r->end - at < LH_FRAME_SIZE)
        return LH_E_TRUNCATED;
    if ((rc = read_at(r, fb, sizeof fb, at)))
        return rc;
    lh_frame_decode(fb, &f);
    if ((rc = lh_frame_check_sizes(&f)))
        return rc;
    if (r->end - at - LH_FRAME_SIZE < f.packed_size)
        return LH_E_TRUNCATED;
    *next = at + LH_FRAME_SIZE + f.packed_size;
    if (type)
        *type = f.type;
    return 1;
}

static void free_index(lh_reader *r)
{
    if (!r->index)
        return;
    if (r->index_built) {
        for (size_t i = 0; i < r->index->n_index; i++)
            free(r->index->index[i]);
        free(r->index->index);
        free(r->index);
    } else {
        protobuf_c_message_free_unpacked(&r->index->base, NULL);
    }
    r->index = NULL;
}

/* Time range of a chunk's content, for the rebuilt index. */
static void chunk_times(const lh_chunk *c, uint64_t *t0, uint64_t *t1)
{
    *t0 = *t1 = 0;
    switch (c->type) {
    case LH_CHUNK_EVENTS:
        if (c->n_events) {
            *t0 = c->events[0].time_us;
            *t1 = c->events[c->n_events - 1].time_us;
        }
        break;
    case LH_CHUNK_MARKER:  *t0 = *t1 = ((Lh__Marker *)c->msg)->time_us; break;
    case LH_CHUNK_RSS:     *t0 = *t1 = ((Lh__RssSample *)c->msg)->time_us; break;
    case LH_CHUNK_MODULES: *t0 = *t1 = ((Lh__ModuleMap *)c->msg)->time_us; break;
    case LH_CHUNK_THREAD:  *t0 = *t1 = ((Lh__ThreadInfo *)c->msg)->time_us; break;
    case LH_CHUNK_LOST:    *t0 = *t1 = ((Lh__Lost *)c->msg)->time_us; break;
    }
}

static int rebuild_index(lh_reader *r)
{
    Lh__Footer *f = calloc(1, sizeof *f);
    if (!f)
        return LH_E_NOMEM;
    lh__footer__init(f);
    r->index = f;
    r->index_built = 1;
    size_t cap = 0;
    uint64_t saved = r->pos;
    int saved_finished = r->finished, saved_follow = r->follow;
    lh_chunk c;
    int rc;
    r->pos = LH_HEADER_SIZE;
    r->finished = 0;
    r->follow = 0; /* the index of what is there now: no waiting */
    while ((rc = lh_reader_next(r, &c)) > 0) {
        if (f->n_index == cap) {
            size_t ncap = cap ? cap * 2 : 256;
            Lh__IndexEntry **ni = realloc(f->index, ncap * sizeof *ni);
            if (!ni) {
                rc = LH_E_NOMEM;
                break;
            }
            f->index = ni;
            cap = ncap;
        }
        Lh__IndexEntry *e = malloc(sizeof *e);
        if (!e) {
            rc = LH_E_NOMEM;
            break;
        }
        lh__index_entry__init(e);
        e->has_offset = e->has_type = e->has_first_time_us = e->has_last_time_us = 1;
        e->offset = c.offset;
        e->type = c.type;
        chunk_times(&c, &e->first_time_us, &e->last_time_us);
        e->has_events = c.n_events != 0;
        e->events = (uint32_t)c.n_events;
        f->index[f->n_index++] = e;
        f->events += c.n_events;
        if (e->last_time_us > f->end_time_us)
            f->end_time_us = e->last_time_us;
        if (c.type == LH_CHUNK_LOST)
            f->lost_events = ((Lh__Lost *)c.msg)->count;
    }
    f->has_events = f->has_end_time_us = f->has_lost_events = 1;
    drop_message(r);
    r->pos = saved;
    r->finished = saved_finished;
    r->follow = saved_follow;
    return rc < 0 ? rc : LH_OK;
}

const Lh__Footer *lh_reader_index(lh_reader *r, int *rc)
{
    *rc = LH_OK;
    if (!r)
        return NULL;
    if (r->index)
        return r->index;
    if (r->has_footer) {
        uint64_t saved = r->pos;
        lh_chunk c;
        r->pos = r->footer_offset;
        r->finished = 0;
        int got = lh_reader_next(r, &c);
        if (got > 0 && c.type == LH_CHUNK_FOOTER) {
            /* The reader keeps it beyond the next call: out of the arena. */
            r->index = lh__footer__unpack(NULL, c.raw_size, r->raw);
            drop_message(r);
            if (!r->index) {
                *rc = LH_E_NOMEM;
                return NULL;
            }
            r->pos = saved;
            r->finished = 0;
            return r->index;
        }
        /* A trailer whose footer does not decode: treat as no footer. */
        r->has_footer = 0;
        r->end = r->file_size;
        r->pos = saved;
        r->finished = 0;
    }
    *rc = rebuild_index(r);
    return r->index;
}

void lh_reader_free(lh_reader *r)
{
    if (!r)
        return;
    drop_message(r);
    free_index(r);
    free(r->arena);
    free(r->spill);
    free(r->packed);
    free(r->raw);
    free(r->events);
    lh_packed_dec_free(r->dec);
    if (r->own_fd)
        close(r->fd);
    free(r);
}
