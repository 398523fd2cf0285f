/*
 * lht-recode - write a trace again with another event batch encoding, and
 * show where its bytes go (bench experiment and test helper).
 *
 * usage: lht-recode [--encoding 1|2] [--columns] [--finish] IN.lht [OUT.lht]
 *
 * Every chunk of IN is copied in order; each event chunk is decoded and
 * encoded again as one batch (encoding 2 by default, 1 = format 1.3's), so
 * OUT holds the same events in the same chunks: replays of IN and OUT must
 * give the same answers (tests/scenario/trace_encoding.sh). --columns
 * prints, per event column, its bytes before LZ4 and after LZ4 on its own
 * (every chunk's copy compressed apart), per event. --finish gives OUT a
 * footer when IN has none (a recording that was killed), ending at its
 * last event: a big trace for replay benchmarks without recording again.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <fcntl.h>
#include <unistd.h>

#include <lz4.h>

#include "lh_events.h"
#include "lh_trace.h"

#define MAXCOL 25

static const char *names[MAXCOL] = {
    [3] = "kinds", [4] = "threads", [5] = "time_deltas", [6] = "addr_deltas", [7] = "sizes",
    [8] = "stacks", [9] = "old_addr_deltas", [10] = "addr_refs",
    [13] = "kind_codes", [14] = "thread_codes", [15] = "time_gaps", [16] = "time_steps",
    [17] = "alloc_codes", [18] = "free_codes", [19] = "explicit_addrs", [20] = "size_codes",
    [21] = "explicit_sizes", [22] = "stack_dict", [23] = "stack_codes", [24] = "domains",
};
static uint64_t col_raw[MAXCOL], col_lz4[MAXCOL];

static size_t lz4_size(const void *p, size_t n)
{
    if (!n)
        return 0;
    int bound = LZ4_compressBound((int)n);
    char *out = malloc((size_t)bound);
    int got = out ? LZ4_compress_default(p, out, (int)n, bound) : 0;
    free(out);
    return got > 0 ? (size_t)got : n;
}

/* One column's share: the message with only that field, packed. */
static void account(const Lh__EventBatch *b)
{
    for (unsigned f = 3; f < MAXCOL; f++) {
        if (!names[f])
            continue;
        Lh__EventBatch one;
        lh__event_batch__init(&one);
        switch (f) {
        case 3: one.n_kinds = b->n_kinds; one.kinds = b->kinds; break;
        case 4: one.n_threads = b->n_threads; one.threads = b->threads; break;
        case 5: one.n_time_deltas = b->n_time_deltas; one.time_deltas = b->time_deltas; break;
        case 6: one.n_addr_deltas = b->n_addr_deltas; one.addr_deltas = b->addr_deltas; break;
        case 7: one.n_sizes = b->n_sizes; one.sizes = b->sizes; break;
        case 8: one.n_stacks = b->n_stacks; one.stacks = b->stacks; break;
        case 9: one.n_old_addr_deltas = b->n_old_addr_deltas; one.old_addr_deltas = b->old_addr_deltas; break;
        case 10: one.n_addr_refs = b->n_addr_refs; one.addr_refs = b->addr_refs; break;
#define BYTES(n, fld) case n: one.has_##fld = b->has_##fld; one.fld = b->fld; break;
        BYTES(13, kind_codes) BYTES(14, thread_codes) BYTES(15, time_gaps) BYTES(16, time_steps)
        BYTES(17, alloc_codes) BYTES(18, free_codes) BYTES(19, explicit_addrs) BYTES(20, size_codes)
        BYTES(21, explicit_sizes) BYTES(22, stack_dict) BYTES(23, stack_codes)
        case 24: one.n_domains = b->n_domains; one.domains = b->domains; break;
        }
        size_t n = protobuf_c_message_get_packed_size(&one.base);
        uint8_t *buf = malloc(n + 1);
        if (!buf)
            continue;
        protobuf_c_message_pack(&one.base, buf);
        col_raw[f] += n;
        col_lz4[f] += lz4_size(buf, n);
        free(buf);
    }
}

static void chunk_times(const lh_chunk *c, uint64_t *t0, uint64_t *t1)
{
    *t0 = *t1 = 0;
    switch (c->type) {
    case LH_CHUNK_MARKER:  *t0 = *t1 = ((Lh__Marker *)c->msg)->time_us; break;
    case LH_CHUNK_RSS:     *t0 = *t1 = ((Lh__RssSample *)c->msg)->time_us; break;
    case LH_CHUNK_MODULES: *t0 = *t1 = ((Lh__ModuleMap *)c->msg)->time_us; break;
    case LH_CHUNK_THREAD:  *t0 = *t1 = ((Lh__ThreadInfo *)c->msg)->time_us; break;
    case LH_CHUNK_LOST:    *t0 = *t1 = ((Lh__Lost *)c->msg)->time_us; break;
    }
}

int main(int argc, char **argv)
{
    int encoding = LH_BATCH_PACKED, columns = 0, finish = 0, a = 1;
    for (; a < argc && argv[a][0] == '-'; a++) {
        if (!strcmp(argv[a], "--encoding") && a + 1 < argc)
            encoding = atoi(argv[++a]);
        else if (!strcmp(argv[a], "--columns"))
            columns = 1;
        else if (!strcmp(argv[a], "--finish"))
            finish = 1;
        else
            break;
    }
    if (a >= argc || argc - a > 2 || (encoding != 1 && encoding != 2)) {
        fprintf(stderr, "usage: lht-recode [--encoding 1|2] [--columns] [--finish] IN.lht [OUT.lht]\n");
        return 2;
    }
    int rc;
    lh_reader *r = lh_reader_open(argv[a], &rc);
    if (!r) {
        fprintf(stderr, "lht-recode: %s: %s\n", argv[a], lh_rc_name(rc));
        return 2;
    }
    lh_writer *w = NULL;
    int fd = -1;
    lh_writer_io io = { .batch_encoding = encoding };
    const char *out = a + 1 < argc ? argv[a + 1] : "/dev/null";
    fd = open(out, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    if (fd < 0 || !(w = lh_writer_open(fd, &io, &rc))) {
        fprintf(stderr, "lht-recode: cannot write %s\n", out);
        return 2;
    }
    /* The encoder state, to account for columns as the writer makes them. */
    void *blk1 = columns ? malloc(lh_batch_columns_bytes()) : NULL;
    void *blk2 = columns ? malloc(lh_packed_bytes()) : NULL;
    lh_batch_columns cols1;
    struct lh_packed_enc *cols2 = NULL;
    if (columns) {
        if (!blk1 || !blk2)
            return 2;
        lh_batch_columns_init(&cols1, blk1);
        cols2 = lh_packed_init(blk2);
    }
    uint64_t events = 0, event_bytes = 0, last_us = 0, lost = 0;
    int finished = 0;
    lh_chunk c;
    int got, status = 0;
    while ((got = lh_reader_next(r, &c)) > 0) {
        uint64_t t0, t1, before = lh_writer_offset(w);
        if (c.type == LH_CHUNK_EVENTS) {
            if (columns && c.n_events) {
                Lh__EventBatch b;
                if (encoding == 1 ? lh_events_encode(c.events, c.n_events, &cols1, &b)
                                  : lh_packed_encode(c.events, c.n_events, cols2, &b))
                    return 2;
                static uint32_t dom[LH_WRITER_BATCH];
                lh_events_put_domains(c.events, c.n_events, dom, &b); /* format 1.5, as the writer does */
                account(&b);
            }
            rc = c.n_events ? lh_writer_events(w, c.events, c.n_events) : LH_OK;
            events += c.n_events;
            if (c.n_events)
                last_us = c.events[c.n_events - 1].time_us;
            event_bytes += lh_writer_offset(w) - before;
        } else if (c.type == LH_CHUNK_FOOTER) {
            const Lh__Footer *f = (const Lh__Footer *)c.msg;
            rc = lh_writer_finish(w, f->end_time_us, f->lost_events, f->has_exit_status ? f->exit_status : -1);
            finished = 1;
        } else if (c.msg) {
            if (c.type == LH_CHUNK_LOST)
                lost = ((const Lh__Lost *)c.msg)->count;
            chunk_times(&c, &t0, &t1);
            rc = lh_writer_put(w, c.type, c.msg, t0, t1);
        } else {
            rc = LH_OK; /* a type this reader does not know: dropped */
        }
        if (rc) {
            fprintf(stderr, "lht-recode: writing %s: %s\n", out, lh_rc_name(rc));
            return 2;
        }
    }
    if (got < 0) {
        fprintf(stderr, "lht-recode: %s: damaged at %llu: %s (copied what came before)\n", argv[a],
                (unsigned long long)lh_reader_damage_offset(r), lh_rc_name(got));
        status = 1;
    }
    if (finish && !finished && lh_writer_finish(w, last_us, lost, -1)) {
        fprintf(stderr, "lht-recode: writing %s: cannot finish\n", out);
        return 2;
    }
    uint64_t size = lh_writer_offset(w);
    if (columns) {
        double ev = events ? (double)events : 1;
        printf("%s -> encoding %d: %llu events, file %llu B (%.3f B/event), event chunks %.3f B/event\n",
               argv[a], encoding, (unsigned long long)events, (unsigned long long)size, size / ev,
               event_bytes / ev);
        printf("  %-16s %12s %12s %10s\n", "column", "raw B", "LZ4 alone B", "B/event");
        for (unsigned f = 3; f < MAXCOL; f++)
            if (names[f] && col_raw[f])
                printf("  %-16s %12llu %12llu %10.3f\n", names[f], (unsigned long long)col_raw[f],
                       (unsigned long long)col_lz4[f], col_lz4[f] / ev);
    }
    lh_writer_free(w);
    lh_reader_free(r);
    close(fd);
    free(blk1);
    free(blk2);
    return status;
}
