/*
 * lh_writer.c - streaming trace writer.
 *
 * Memory is bounded by one chunk (packed message + its LZ4 block) plus the
 * footer index, one small entry per chunk. Output goes through io->write_all
 * so the recorder can use its own syscall layer; after the first failure the
 * writer refuses every later call, so what reached the file stays a valid
 * prefix that readers accept.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <lz4.h>
#include <lz4hc.h>

#include "lh_events.h"
#include "lh_frame.h"
#include "lh_trace.h"

struct lh_writer {
    lh_writer_io io;
    int fd;
    int failed;
    uint64_t offset;
    uint64_t events;

    uint8_t *raw;      /* packed protobuf message */
    size_t raw_cap;
    uint8_t *out;      /* frame + LZ4 block, written in one call */
    size_t out_cap;

    void *columns_block;       /* encoding 1 */
    lh_batch_columns columns;
    void *packed_block;        /* encoding 2 */
    struct lh_packed_enc *packed;
    uint32_t *domains;         /* format 1.5's domains column, made when first needed */

    Lh__IndexEntry *index;
    size_t n_index, index_cap;
};

static void *default_alloc(void *ctx, size_t size) { return malloc(size); }
static void default_release(void *ctx, void *p, size_t size) { free(p); }

static int default_write_all(void *ctx, const void *buf, size_t len)
{
    int fd = *(int *)ctx;
    const char *p = buf;
    while (len) {
        ssize_t n = write(fd, p, len);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            return -errno;
        }
        if (n == 0)
            return -EIO;
        p += n;
        len -= (size_t)n;
    }
    return 0;
}

static int write_bytes(lh_writer *w, const void *buf, size_t len)
{
    void *ctx = w->io.write_all == default_write_all ? (void *)&w->fd : w->io.ctx;
    int err = w->io.write_all(ctx, buf, len);
    if (err) {
        w->failed = 1;
        return LH_E_IO;
    }
    w->offset += len;
    return LH_OK;
}

/* Grow *buf to at least need bytes, keeping nothing (callers refill it). */
static int reserve(lh_writer *w, uint8_t **buf, size_t *cap, size_t need)
{
    if (*cap >= need)
        return LH_OK;
    size_t ncap = *cap ? *cap : 4096;
    while (ncap < need)
        ncap *= 2;
    uint8_t *nb = w->io.alloc(w->io.alloc_ctx, ncap);
    if (!nb)
        return LH_E_NOMEM;
    if (*buf)
        w->io.release(w->io.alloc_ctx, *buf, *cap);
    *buf = nb;
    *cap = ncap;
    return LH_OK;
}

lh_writer *lh_writer_open(int fd, const lh_writer_io *io, int *rc)
{
    lh_writer_io def = { 0 };
    const lh_writer_io *use = io ? io : &def;
    void *(*alloc)(void *, size_t) = use->alloc ? use->alloc : default_alloc;
    lh_writer *w = alloc(use->alloc_ctx, sizeof *w);
    if (!w) {
        *rc = LH_E_NOMEM;
        return NULL;
    }
    memset(w, 0, sizeof *w);
    w->io = *use;
    if (!w->io.alloc || !w->io.release) {
        w->io.alloc = default_alloc;
        w->io.release = default_release;
    }
    if (!w->io.write_all)
        w->io.write_all = default_write_all;
    if (w->io.lz4_acceleration <= 0)
        w->io.lz4_acceleration = 1;
    w->fd = fd;

    uint8_t header[LH_HEADER_SIZE];
    lh_header_encode(header);
    *rc = write_bytes(w, header, sizeof header);
    if (*rc) {
        lh_writer_free(w);
        return NULL;
    }
    return w;
}

static int index_add(lh_writer *w, uint64_t offset, uint32_t type, uint64_t t0, uint64_t t1,
                     uint32_t events)
{
    if (w->n_index == w->index_cap) {
        size_t ncap = w->index_cap ? w->index_cap * 2 : 256;
        Lh__IndexEntry *ni = w->io.alloc(w->io.alloc_ctx, ncap * sizeof *ni);
        if (!ni)
            return LH_E_NOMEM;
        if (w->index) {
            memcpy(ni, w->index, w->n_index * sizeof *ni);
            w->io.release(w->io.alloc_ctx, w->index, w->index_cap * sizeof *ni);
        }
        w->index = ni;
        w->index_cap = ncap;
    }
    Lh__IndexEntry *e = &w->index[w->n_index++];
    lh__index_entry__init(e);
    e->has_offset = e->has_type = e->has_first_time_us = e->has_last_time_us = 1;
    e->offset = offset;
    e->type = type;
    e->first_time_us = t0;
    e->last_time_us = t1;
    e->has_events = events != 0;
    e->events = events;
    return LH_OK;
}

static int put_chunk(lh_writer *w, uint32_t type, const ProtobufCMessage *msg,
                     uint64_t t0, uint64_t t1, uint32_t events)
{
    if (w->failed)
        return LH_E_CLOSED;
    size_t raw_size = msg ? protobuf_c_message_get_packed_size(msg) : 0;
    if (raw_size > LH_MAX_CHUNK_RAW)
        return LH_E_TOO_LARGE;
    int rc = reserve(w, &w->raw, &w->raw_cap, raw_size ? raw_size : 1);
    if (!rc)
        rc = reserve(w, &w->out, &w->out_cap, LH_FRAME_SIZE + (size_t)LZ4_compressBound((int)raw_size));
    if (rc)
        return rc;
    if (raw_size)
        protobuf_c_message_pack(msg, w->raw);

    lh_frame f = { .type = type, .raw_size = (uint32_t)raw_size };
    uint8_t *payload = w->out + LH_FRAME_SIZE;
    if (raw_size) {
        int bound = LZ4_compressBound((int)raw_size);
        int n = w->io.lz4hc_level > 0
            ? LZ4_compress_HC((const char *)w->raw, (char *)payload, (int)raw_size, bound,
                              w->io.lz4hc_level)
            : LZ4_compress_fast((const char *)w->raw, (char *)payload, (int)raw_size, bound,
                                w->io.lz4_acceleration);
        if (n <= 0)
            return LH_E_TOO_LARGE;
        f.packed_size = (uint32_t)n;
    }
    lh_frame_seal(&f, payload);
    lh_frame_encode(&f, w->out);

    uint64_t offset = w->offset;
    if ((rc = index_add(w, offset, type, t0, t1, events)))
        return rc;
    return write_bytes(w, w->out, LH_FRAME_SIZE + f.packed_size);
}

int lh_writer_put(lh_writer *w, uint32_t type, const ProtobufCMessage *msg,
                  uint64_t first_time_us, uint64_t last_time_us)
{
    if (!w || type == LH_CHUNK_FOOTER || type == 0)
        return LH_E_ARG;
    return put_chunk(w, type, msg, first_time_us, last_time_us, 0);
}

int lh_writer_events(lh_writer *w, const lh_event *ev, size_t n)
{
    if (!w)
        return LH_E_ARG;
    if (w->failed)
        return LH_E_CLOSED;
    int varint = w->io.batch_encoding == LH_BATCH_VARINT;
    if (w->io.batch_encoding && !varint && w->io.batch_encoding != LH_BATCH_PACKED)
        return LH_E_ARG;
    if (varint && !w->columns_block) {
        w->columns_block = w->io.alloc(w->io.alloc_ctx, lh_batch_columns_bytes());
        if (!w->columns_block)
            return LH_E_NOMEM;
        lh_batch_columns_init(&w->columns, w->columns_block);
    }
    if (!varint && !w->packed_block) {
        w->packed_block = w->io.alloc(w->io.alloc_ctx, lh_packed_bytes());
        if (!w->packed_block)
            return LH_E_NOMEM;
        w->packed = lh_packed_init(w->packed_block);
    }
    while (n) {
        size_t k = n < LH_WRITER_BATCH ? n : LH_WRITER_BATCH;
        Lh__EventBatch b;
        int rc = varint ? lh_events_encode(ev, k, &w->columns, &b) : lh_packed_encode(ev, k, w->packed, &b);
        if (!rc && !w->domains && lh_events_any_domain(ev, k)
            && !(w->domains = w->io.alloc(w->io.alloc_ctx, LH_WRITER_BATCH * sizeof(uint32_t))))
            rc = LH_E_NOMEM;
        if (!rc)
            lh_events_put_domains(ev, k, w->domains, &b);
        if (!rc)
            rc = put_chunk(w, LH_CHUNK_EVENTS, &b.base, ev[0].time_us, ev[k - 1].time_us, (uint32_t)k);
        if (rc)
            return rc;
        w->events += k;
        ev += k;
        n -= k;
    }
    return LH_OK;
}

int lh_writer_finish(lh_writer *w, uint64_t end_time_us, uint64_t lost_events, int exit_status)
{
    if (!w)
        return LH_E_ARG;
    if (w->failed)
        return LH_E_CLOSED;
    Lh__Footer f;
    lh__footer__init(&f);
    Lh__IndexEntry **ptrs = NULL;
    size_t n = w->n_index;
    /* The index is a convenience: if it cannot be had (memory, or too many
     * chunks for one footer), a footer with totals alone is still valid and
     * readers rebuild the index by scanning. */
    if (n && n * 48 < LH_MAX_CHUNK_RAW)
        ptrs = w->io.alloc(w->io.alloc_ctx, n * sizeof *ptrs);
    if (ptrs) {
        for (size_t i = 0; i < n; i++)
            ptrs[i] = &w->index[i];
        f.n_index = n;
        f.index = ptrs;
    }
    f.has_end_time_us = f.has_events = f.has_lost_events = 1;
    f.end_time_us = end_time_us;
    f.events = w->events;
    f.lost_events = lost_events;
    if (exit_status >= 0) {
        f.has_exit_status = 1;
        f.exit_status = exit_status;
    }
    uint64_t footer_offset = w->offset;
    int rc = put_chunk(w, LH_CHUNK_FOOTER, &f.base, end_time_us, end_time_us, 0);
    if (ptrs)
        w->io.release(w->io.alloc_ctx, ptrs, n * sizeof *ptrs);
    if (rc)
        return rc;
    uint8_t trailer[LH_TRAILER_SIZE];
    lh_trailer_encode(footer_offset, trailer);
    rc = write_bytes(w, trailer, sizeof trailer);
    if (!rc)
        w->failed = 1; /* finished: nothing may follow the trailer */
    return rc;
}

/* Cut, and write on from the cut. */
static int default_truncate(void *ctx, uint64_t size)
{
    int fd = *(int *)ctx;
    if (ftruncate(fd, (off_t)size) < 0 || lseek(fd, (off_t)size, SEEK_SET) < 0)
        return -errno;
    return 0;
}

int lh_writer_salvage(lh_writer *w, uint64_t free_bytes, uint64_t time_us, uint64_t lost_events,
                      const char *reason)
{
    if (!w)
        return LH_E_ARG;
    /* Keep the first chunk (the process) whatever happens: a trace that
     * says what it was and that it is damaged. */
    size_t keep = w->n_index;
    uint64_t cut = w->offset, dropped = 0;
    /* The chunk whose write failed is in the index but not in the file. */
    while (keep > 1 && w->index[keep - 1].offset >= w->offset)
        keep--;
    while (keep > 1 && w->offset - cut < free_bytes) {
        keep--;
        cut = w->index[keep].offset;
        dropped += w->index[keep].events;
    }
    int (*trunc)(void *, uint64_t) = w->io.truncate ? w->io.truncate : default_truncate;
    void *ctx = w->io.truncate ? w->io.ctx : (void *)&w->fd;
    int rc = trunc(ctx, cut);
    if (rc < 0)
        return LH_E_IO;
    w->offset = cut;
    w->n_index = keep;
    w->events -= dropped < w->events ? dropped : w->events;
    w->failed = 0;
    Lh__Lost l;
    lh__lost__init(&l);
    l.has_time_us = l.has_count = l.has_damaged = 1;
    l.time_us = time_us;
    l.count = lost_events + dropped;
    l.reason = (char *)(reason ? reason : "the recorder could not write the trace");
    l.damaged = 1;
    rc = put_chunk(w, LH_CHUNK_LOST, &l.base, time_us, time_us, 0);
    w->failed = 1; /* nothing more: the trace ends with what it says is missing */
    return rc;
}

uint64_t lh_writer_offset(const lh_writer *w)
{
    return w ? w->offset : 0;
}

uint64_t lh_writer_events_written(const lh_writer *w)
{
    return w ? w->events : 0;
}

void lh_writer_free(lh_writer *w)
{
    if (!w)
        return;
    void (*rel)(void *, void *, size_t) = w->io.release;
    void *ctx = w->io.alloc_ctx;
    if (w->raw)
        rel(ctx, w->raw, w->raw_cap);
    if (w->out)
        rel(ctx, w->out, w->out_cap);
    if (w->columns_block)
        rel(ctx, w->columns_block, lh_batch_columns_bytes());
    if (w->packed_block)
        rel(ctx, w->packed_block, lh_packed_bytes());
    if (w->domains)
        rel(ctx, w->domains, LH_WRITER_BATCH * sizeof(uint32_t));
    if (w->index)
        rel(ctx, w->index, w->index_cap * sizeof *w->index);
    rel(ctx, w, sizeof *w);
}
