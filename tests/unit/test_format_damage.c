/*
 * test_format_damage.c - the reader against damaged and hostile files.
 *
 * (a) a small valid trace cut at every offset: every complete chunk before
 *     the cut comes back unchanged, then a clean end (cut on a chunk
 *     boundary) or LH_E_TRUNCATED with the damage offset at the torn chunk;
 * (b) one byte flipped (three patterns) at every offset: no crash, every
 *     chunk before the damaged one comes back unchanged, the damaged one is
 *     refused at its offset (header and trailer bytes have their own rules);
 * (c) hand-made hostile frames: absurd lengths, empty chunks, bad checksums,
 *     bad LZ4, bad protobuf, event batches whose columns disagree and
 *     stack tables that are wrong on their own (unequal lengths, a parent
 *     cycle, a parent at or after its node, node 0 defined, ids past 2^32);
 * (d) lh_stack_nodes_continue, the rule the reader leaves to its caller:
 *     a table's first_id is the number of nodes defined before it.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include <lz4.h>

#include "lh_frame.h"
#include "lh_trace.h"
#include "tap.h"

static int mfd = -1; /* one memfd reused for every file */

static int file_with(const uint8_t *data, size_t len)
{
    if (ftruncate(mfd, 0) != 0 || (len && pwrite(mfd, data, len, 0) != (ssize_t)len))
        abort();
    return mfd;
}

/* --- the reference trace -------------------------------------------------- */

static uint8_t *trace;
static size_t trace_len;

typedef struct {
    uint32_t type;
    uint64_t off, end;
    uint8_t *msg;    /* the decoded message packed again, NULL if none */
    size_t msg_len;
    lh_event *ev;
    size_t n_ev;
} ref_chunk;

static ref_chunk ref[64];
static size_t n_ref;
static uint64_t footer_off;

static void build_trace(void)
{
    int rc;
    lh_writer *w = lh_writer_open(file_with(NULL, 0), NULL, &rc);
    if (!w)
        abort();
    Lh__ProcessInfo p;
    lh__process_info__init(&p);
    p.has_pid = 1;
    p.pid = 99;
    p.exe = "/bin/true";
    lh_writer_put(w, LH_CHUNK_PROCESS, &p.base, 0, 0);
    uint32_t parents[3] = { 0, 1, 1 };
    uint64_t ips[3] = { 0x401000, 0x401100, 0xffffffffffff0000ull };
    Lh__StackNodes s;
    lh__stack_nodes__init(&s);
    s.has_first_id = 1;
    s.first_id = 1;
    s.n_parents = s.n_ips = 3;
    s.parents = parents;
    s.ips = ips;
    lh_writer_put(w, LH_CHUNK_STACKS, &s.base, 0, 0);
    for (uint32_t i = 0; i < 3; i++) {
        Lh__ThreadInfo t;
        lh__thread_info__init(&t);
        t.has_index = t.has_tid = 1;
        t.index = i;
        t.tid = 99 + i;
        t.name = "t";
        lh_writer_put(w, LH_CHUNK_THREAD, &t.base, 0, 0);
    }
    lh_event ev[60];
    memset(ev, 0, sizeof ev);
    for (int i = 0; i < 60; i++) {
        ev[i].time_us = 10 + (uint64_t)i / 3;
        ev[i].thread = (uint32_t)(i % 3);
        ev[i].kind = (uint32_t)(i % LH_EV_KIND_COUNT);
        ev[i].addr = 0x555555560000ull + (uint64_t)(i / 2) * 32;
        if (i % 11 == 0)
            ev[i].addr = 0xfffffffffffffff0ull;
        if (ev[i].kind != LH_EV_FREE)
            ev[i].size = (uint64_t)i * 8 + 1;
        if (ev[i].kind == LH_EV_ALLOC || ev[i].kind == LH_EV_REALLOC || ev[i].kind == LH_EV_MMAP)
            ev[i].stack = (uint32_t)(i % 4);
        if (ev[i].kind == LH_EV_REALLOC)
            ev[i].old_addr = ev[i].addr - 0x1000;
    }
    lh_writer_events(w, ev, 40);
    Lh__Marker m;
    lh__marker__init(&m);
    m.has_time_us = 1;
    m.time_us = 30;
    m.label = "mark";
    lh_writer_put(w, LH_CHUNK_MARKER, &m.base, 30, 30);
    Lh__RssSample r;
    lh__rss_sample__init(&r);
    r.has_time_us = r.has_rss_bytes = 1;
    r.time_us = 30;
    r.rss_bytes = 1 << 20;
    lh_writer_put(w, LH_CHUNK_RSS, &r.base, 30, 30);
    Lh__Lost l;
    lh__lost__init(&l);
    l.has_time_us = l.has_count = 1;
    l.time_us = 30;
    l.count = 2;
    lh_writer_put(w, LH_CHUNK_LOST, &l.base, 30, 30);
    lh_writer_events(w, ev + 40, 20);
    footer_off = lh_writer_offset(w);
    if (lh_writer_finish(w, 100, 2, 0))
        abort();
    trace_len = lh_writer_offset(w);
    lh_writer_free(w);
    trace = malloc(trace_len);
    if (pread(mfd, trace, trace_len, 0) != (ssize_t)trace_len)
        abort();
}

static uint8_t *pack_msg(const ProtobufCMessage *m, size_t *len)
{
    *len = protobuf_c_message_get_packed_size(m);
    uint8_t *b = malloc(*len + 1);
    protobuf_c_message_pack(m, b);
    return b;
}

static void load_reference(void)
{
    int rc;
    lh_reader *r = lh_reader_open_fd(file_with(trace, trace_len), &rc);
    if (!r)
        abort();
    lh_chunk c;
    while ((rc = lh_reader_next(r, &c)) > 0) {
        ref_chunk *x = &ref[n_ref++];
        x->type = c.type;
        x->off = c.offset;
        x->end = c.offset + LH_FRAME_SIZE + c.packed_size;
        x->msg = c.msg ? pack_msg(c.msg, &x->msg_len) : NULL;
        x->n_ev = c.n_events;
        x->ev = malloc((c.n_events + 1) * sizeof *x->ev);
        if (c.n_events)
            memcpy(x->ev, c.events, c.n_events * sizeof *x->ev);
    }
    if (rc != 0 || !lh_reader_has_footer(r))
        abort();
    lh_reader_free(r);
}

static int same_chunk(const lh_chunk *c, const ref_chunk *x)
{
    if (c->type != x->type || c->offset != x->off || c->offset + LH_FRAME_SIZE + c->packed_size != x->end ||
        !c->msg || c->n_events != x->n_ev)
        return 0;
    if (c->n_events && memcmp(c->events, x->ev, c->n_events * sizeof *x->ev))
        return 0;
    size_t len;
    uint8_t *b = pack_msg(c->msg, &len);
    int same = len == x->msg_len && !memcmp(b, x->msg, len);
    free(b);
    return same;
}

/* Read the whole file; check chunks [0, n_good) against the reference.
 * Returns the final rc of lh_reader_next (0 or negative), *n_read the
 * number of chunks delivered. */
static int read_all(lh_reader *r, size_t *n_read, int *all_same)
{
    lh_chunk c;
    int rc;
    *n_read = 0;
    *all_same = 1;
    while ((rc = lh_reader_next(r, &c)) > 0) {
        if (*n_read >= n_ref || !same_chunk(&c, &ref[*n_read]))
            *all_same = 0;
        if (++*n_read > 1000)
            return -1000; /* no loop forever */
    }
    /* The reader stays at the end or the damage. */
    int again = lh_reader_next(r, &c);
    if (again != rc)
        *all_same = 0;
    return rc;
}

/* --- (a) truncation -------------------------------------------------------- */

static void test_reference(void)
{
    CHECK(n_ref >= 10);
    CHECK_U64(ref[n_ref - 1].type, LH_CHUNK_FOOTER);
    CHECK_U64(ref[n_ref - 1].off, footer_off);
    CHECK_U64(ref[n_ref - 1].end + LH_TRAILER_SIZE, trace_len);
    CHECK(trace_len < 8192);
}

static void test_truncate_everywhere(void)
{
    for (size_t cut = 0; cut <= trace_len; cut++) {
        int rc, fail = 0;
        lh_reader *r = lh_reader_open_fd(file_with(trace, cut), &rc);
        if (cut < LH_HEADER_SIZE) {
            int want = cut == 0 ? LH_E_MAGIC : LH_E_TRUNCATED;
            if (r || rc != want) {
                printf("#   cut %zu: open rc %d, want %d\n", cut, rc, want);
                tap_case_failed = 1;
            }
            lh_reader_free(r);
            continue;
        }
        if (!r) {
            printf("#   cut %zu: open failed rc %d\n", cut, rc);
            tap_case_failed = 1;
            continue;
        }
        size_t complete = 0;
        int on_boundary = cut == LH_HEADER_SIZE;
        while (complete < n_ref && ref[complete].end <= cut) {
            on_boundary |= ref[complete].end == cut;
            complete++;
        }
        if (complete == n_ref)
            on_boundary = 1; /* after the footer: done, whatever follows */
        size_t n_read;
        int same;
        rc = read_all(r, &n_read, &same);
        if (!same || n_read != complete)
            fail = 1;
        if (on_boundary ? rc != 0 : rc != LH_E_TRUNCATED)
            fail = 1;
        uint64_t want_dmg = on_boundary ? UINT64_MAX : ref[complete].off;
        if (lh_reader_damage_offset(r) != want_dmg)
            fail = 1;
        if (lh_reader_has_footer(r) != (cut == trace_len))
            fail = 1;
        if (fail) {
            printf("#   cut %zu: rc %d read %zu (same %d) want %zu, damage %" PRIu64 " want %" PRIu64 "\n",
                   cut, rc, n_read, same, complete, lh_reader_damage_offset(r), want_dmg);
            tap_case_failed = 1;
        }
        lh_reader_free(r);

        /* The index: footer when complete, else rebuilt up to the cut. */
        r = lh_reader_open_fd(mfd, &rc);
        const Lh__Footer *f = r ? lh_reader_index(r, &rc) : NULL;
        size_t want_n = cut == trace_len ? n_ref - 1 : complete;
        if (!f || f->n_index != want_n || rc != (on_boundary ? LH_OK : LH_E_TRUNCATED)) {
            printf("#   cut %zu: index rc %d n %zu want %zu\n", cut, rc, f ? f->n_index : 0, want_n);
            tap_case_failed = 1;
        } else {
            for (size_t i = 0; i < want_n; i++)
                if (f->index[i]->offset != ref[i].off || f->index[i]->type != ref[i].type) {
                    printf("#   cut %zu: index entry %zu wrong\n", cut, i);
                    tap_case_failed = 1;
                }
        }
        lh_reader_free(r);
    }
}

/* --- (b) one flipped byte --------------------------------------------------- */

static void test_flip_everywhere(void)
{
    static const uint8_t patterns[] = { 0x01, 0x80, 0xFF };
    uint8_t *copy = malloc(trace_len);
    for (size_t off = 0; off < trace_len; off++) {
        for (size_t p = 0; p < sizeof patterns; p++) {
            memcpy(copy, trace, trace_len);
            copy[off] ^= patterns[p];
            int rc, fail = 0;
            lh_reader *r = lh_reader_open_fd(file_with(copy, trace_len), &rc);
            if (off < 8 || (off < 10 && !r)) {
                /* magic, or a major version other than ours */
                int want = off < 8 ? LH_E_MAGIC : LH_E_VERSION;
                if (r || rc != want) {
                    printf("#   flip %zu^%02x: open rc %d want %d\n", off, patterns[p], rc, want);
                    tap_case_failed = 1;
                }
                lh_reader_free(r);
                continue;
            }
            if (!r) {
                printf("#   flip %zu^%02x: open failed rc %d\n", off, patterns[p], rc);
                tap_case_failed = 1;
                continue;
            }
            /* Which chunk holds the byte (n_ref: header or trailer). */
            size_t k = 0;
            while (k < n_ref && !(off >= ref[k].off && off < ref[k].end))
                k++;
            size_t n_read;
            int same;
            rc = read_all(r, &n_read, &same);
            if (k == n_ref) { /* minor, flags or trailer: all chunks still good */
                if (rc != 0 || n_read != n_ref || !same)
                    fail = 1;
                if (off >= LH_HEADER_SIZE && lh_reader_has_footer(r))
                    fail = 1;
            } else {
                if (rc >= 0 || n_read != k || !same || lh_reader_damage_offset(r) != ref[k].off)
                    fail = 1;
            }
            if (fail) {
                printf("#   flip %zu^%02x (chunk %zu): rc %d read %zu same %d damage %" PRIu64 "\n",
                       off, patterns[p], k, rc, n_read, same, lh_reader_damage_offset(r));
                tap_case_failed = 1;
            }
            lh_reader_free(r);

            /* Index: never crashes; a scan stops at the damaged chunk. */
            r = lh_reader_open_fd(mfd, &rc);
            if (!r)
                continue;
            int had_footer = lh_reader_has_footer(r);
            const Lh__Footer *f = lh_reader_index(r, &rc);
            if (!f) {
                fail = 1;
            } else if (rc < 0) {
                if (k == n_ref || f->n_index != k || lh_reader_damage_offset(r) != ref[k].off)
                    fail = 1;
            } else {
                /* Footer intact (damage elsewhere), or no damage at all. */
                size_t want_n = had_footer ? n_ref - 1 : n_ref;
                if (f->n_index != want_n || k == n_ref - 1 || (k != n_ref && !had_footer))
                    fail = 1;
            }
            if (fail) {
                printf("#   flip %zu^%02x (chunk %zu): index rc %d n %zu\n", off, patterns[p], k, rc,
                       f ? f->n_index : 0);
                tap_case_failed = 1;
            }
            lh_reader_free(r);
        }
    }
    free(copy);
}

/* --- (c) hostile frames ------------------------------------------------------ */

static uint8_t hbuf[1 << 16];
static size_t hlen;

/* Header + the reference trace's first (process) chunk. */
static void hostile_start(void)
{
    memcpy(hbuf, trace, ref[0].end);
    hlen = ref[0].end;
}

/* Append a frame and payload bytes; sealed = correct checksum. */
static uint64_t append_frame(uint32_t type, uint32_t packed, uint32_t raw, const void *payload,
                             size_t payload_len, int sealed)
{
    lh_frame f = { .type = type, .packed_size = packed, .raw_size = raw, .checksum = 0x12345678 };
    if (sealed)
        lh_frame_seal(&f, payload);
    uint64_t at = hlen;
    lh_frame_encode(&f, hbuf + hlen);
    hlen += LH_FRAME_SIZE;
    if (payload_len)
        memcpy(hbuf + hlen, payload, payload_len);
    hlen += payload_len;
    return at;
}

/* Append a chunk holding raw bytes, LZ4-compressed, correct checksum. */
static uint64_t append_raw(uint32_t type, const void *raw, size_t raw_len)
{
    static uint8_t z[LZ4_COMPRESSBOUND(1 << 15)];
    int n = raw_len ? LZ4_compress_default(raw, (char *)z, (int)raw_len, (int)sizeof z) : 0;
    return append_frame(type, (uint32_t)n, (uint32_t)raw_len, z, (size_t)n, 1);
}

static uint64_t append_msg(uint32_t type, const ProtobufCMessage *m)
{
    size_t len;
    uint8_t *b = pack_msg(m, &len);
    uint64_t at = append_raw(type, b, len);
    free(b);
    return at;
}

/* Read the hostile file: the process chunk, then the chunk at `at` must
 * fail with want (sticky) or, with want >= 0, be delivered holding want
 * events, followed by a clean end. */
static void expect_hostile(const char *what, uint64_t at, int want)
{
    int rc;
    lh_reader *r = lh_reader_open_fd(file_with(hbuf, hlen), &rc);
    if (!r) {
        printf("#   %s: open failed %d\n", what, rc);
        tap_case_failed = 1;
        return;
    }
    lh_chunk c;
    rc = lh_reader_next(r, &c);
    if (rc != 1 || !same_chunk(&c, &ref[0])) {
        printf("#   %s: process chunk not delivered (%d)\n", what, rc);
        tap_case_failed = 1;
    }
    rc = lh_reader_next(r, &c);
    uint64_t got_at = c.offset;
    size_t got_n = c.n_events;
    int again = lh_reader_next(r, &c);
    if (want >= 0) {
        if (rc != 1 || got_at != at || got_n != (size_t)want || again != 0) {
            printf("#   %s: rc %d with %zu events, want a chunk with %d\n", what, rc, got_n, want);
            tap_case_failed = 1;
        }
    } else if (rc != want || again != want || lh_reader_damage_offset(r) != at) {
        printf("#   %s: rc %d then %d, want %d (%s); damage %" PRIu64 " want %" PRIu64 "\n", what, rc,
               again, want, lh_rc_name(want), lh_reader_damage_offset(r), at);
        tap_case_failed = 1;
    }
    /* The scanned index stops at the same place. */
    const Lh__Footer *f = lh_reader_index(r, &rc);
    if (want < 0 && (!f || rc != want || f->n_index != 1)) {
        printf("#   %s: index rc %d n %zu\n", what, rc, f ? f->n_index : 0);
        tap_case_failed = 1;
    }
    lh_reader_free(r);
}

static void test_hostile_lengths(void)
{
    uint8_t junk[256];
    for (size_t i = 0; i < sizeof junk; i++)
        junk[i] = (uint8_t)(i * 7 + 3);
    uint64_t at;

    hostile_start();
    at = append_frame(LH_CHUNK_EVENTS, 0xFFFFFFFFu, 100, junk, sizeof junk, 0);
    expect_hostile("packed_size 0xffffffff", at, LH_E_TOO_LARGE);

    hostile_start();
    at = append_frame(LH_CHUNK_EVENTS, 0xFFFFFFFFu, 0xFFFFFFFFu, junk, sizeof junk, 0);
    expect_hostile("both sizes 0xffffffff", at, LH_E_TOO_LARGE);

    hostile_start();
    at = append_frame(LH_CHUNK_EVENTS, 100, 0xFFFFFFFFu, junk, 100, 1);
    expect_hostile("raw_size 0xffffffff", at, LH_E_TOO_LARGE);

    hostile_start();
    at = append_frame(LH_CHUNK_EVENTS, 100, LH_MAX_CHUNK_RAW + 1, junk, 100, 1);
    expect_hostile("raw_size beyond LH_MAX_CHUNK_RAW", at, LH_E_TOO_LARGE);

    hostile_start();
    at = append_frame(LH_CHUNK_MARKER, 5, 0, junk, 5, 1);
    expect_hostile("raw 0, packed 5", at, LH_E_TOO_LARGE);

    hostile_start();
    at = append_frame(LH_CHUNK_MARKER, 0, 10, junk, 0, 1);
    expect_hostile("raw 10, packed 0", at, LH_E_TOO_LARGE);

    hostile_start();
    at = append_frame(LH_CHUNK_MARKER, 200, 10, junk, 200, 1);
    expect_hostile("packed beyond compressBound", at, LH_E_TOO_LARGE);

    hostile_start();
    at = append_frame(LH_CHUNK_MARKER, 1000, 4000, junk, 100, 0);
    expect_hostile("payload beyond end of file", at, LH_E_TRUNCATED);

    hostile_start();
    at = append_frame(LH_CHUNK_MARKER, 100, 4000, junk, 100, 0);
    expect_hostile("bad checksum", at, LH_E_CHECKSUM);

    /* Full-size raw claim with junk LZ4: allowed size, fails to inflate. */
    hostile_start();
    at = append_frame(LH_CHUNK_EVENTS, 100, LH_MAX_CHUNK_RAW, junk, 100, 1);
    expect_hostile("junk lz4 at max raw size", at, LH_E_DECOMPRESS);

    /* Valid LZ4 of 64 bytes claimed as 65 and as 63. */
    uint8_t raw[64] = { 0 };
    static uint8_t z[LZ4_COMPRESSBOUND(64)];
    int n = LZ4_compress_default((const char *)raw, (char *)z, 64, (int)sizeof z);
    hostile_start();
    at = append_frame(LH_CHUNK_MARKER, (uint32_t)n, 65, z, (size_t)n, 1);
    expect_hostile("raw_size one too many", at, LH_E_DECOMPRESS);
    hostile_start();
    at = append_frame(LH_CHUNK_MARKER, (uint32_t)n, 63, z, (size_t)n, 1);
    expect_hostile("raw_size one too few", at, LH_E_DECOMPRESS);

    /* Inflates fine, but is no protobuf message. */
    uint8_t bad_pb[16];
    memset(bad_pb, 0xFF, sizeof bad_pb);
    hostile_start();
    at = append_raw(LH_CHUNK_MARKER, bad_pb, sizeof bad_pb);
    expect_hostile("bad protobuf", at, LH_E_DECODE);

    /* A frame torn inside its 16 bytes. */
    hostile_start();
    at = append_frame(LH_CHUNK_MARKER, 0, 0, junk, 0, 1);
    hlen -= 3;
    expect_hostile("torn frame", at, LH_E_TRUNCATED);
}

static void test_hostile_empty_and_unknown(void)
{
    int rc;
    lh_chunk c;
    /* Zero-length chunks of every known type decode to empty messages; an
     * unknown type (with or without payload) comes back with msg NULL. */
    hostile_start();
    uint64_t at[12];
    for (uint32_t t = 1; t <= 9; t++)
        if (t != LH_CHUNK_FOOTER)
            at[t] = append_frame(t, 0, 0, NULL, 0, 1);
    at[10] = append_frame(77, 0, 0, NULL, 0, 1);
    uint8_t text[40] = "an unknown chunk's payload, skipped";
    at[11] = append_raw(0xFFFFFFFFu, text, sizeof text);
    Lh__Marker m;
    lh__marker__init(&m);
    m.label = "after";
    uint64_t last = append_msg(LH_CHUNK_MARKER, &m.base);

    lh_reader *r = lh_reader_open_fd(file_with(hbuf, hlen), &rc);
    CHECK(r != NULL);
    if (!r)
        return;
    CHECK_U64(lh_reader_next(r, &c), 1);
    for (uint32_t t = 1; t <= 9; t++) {
        if (t == LH_CHUNK_FOOTER)
            continue;
        CHECK_U64(lh_reader_next(r, &c), 1);
        CHECK_U64(c.type, t);
        CHECK_U64(c.offset, at[t]);
        CHECK(c.msg != NULL);
        CHECK_U64(c.n_events, 0);
    }
    CHECK_U64(lh_reader_next(r, &c), 1);
    CHECK_U64(c.type, 77);
    CHECK(c.msg == NULL);
    CHECK_U64(lh_reader_next(r, &c), 1);
    CHECK_U64(c.type, 0xFFFFFFFFu);
    CHECK_U64(c.offset, at[11]);
    CHECK_U64(c.raw_size, sizeof text);
    CHECK(c.msg == NULL);
    CHECK_U64(lh_reader_next(r, &c), 1);
    CHECK_U64(c.offset, last);
    CHECK(c.msg && !strcmp(((Lh__Marker *)c.msg)->label, "after"));
    CHECK_U64(lh_reader_next(r, &c), 0);
    const Lh__Footer *f = lh_reader_index(r, &rc);
    CHECK_U64(rc, LH_OK);
    CHECK(f && f->n_index == 12);
    lh_reader_free(r);
}

/* Header-level hostility and lying trailers. */
static void test_hostile_header_trailer(void)
{
    int rc;
    lh_reader *r;
    uint8_t h[LH_HEADER_SIZE];
    memcpy(h, trace, sizeof h);
    for (size_t n = 1; n < sizeof h; n++) {
        r = lh_reader_open_fd(file_with(h, n), &rc);
        CHECK(!r && rc == LH_E_TRUNCATED);
    }
    r = lh_reader_open_fd(file_with((const uint8_t *)"LHTRACX", 7), &rc);
    CHECK(!r && rc == LH_E_MAGIC);
    h[8] = 2;
    r = lh_reader_open_fd(file_with(h, sizeof h), &rc);
    CHECK(!r && rc == LH_E_VERSION);
    h[8] = 1;
    h[10] = 9; /* newer minor, flags set: accepted */
    h[15] = 0x80;
    r = lh_reader_open_fd(file_with(h, sizeof h), &rc);
    CHECK(r != NULL);
    if (r) {
        unsigned major, minor;
        lh_reader_version(r, &major, &minor);
        CHECK_U64(minor, 9);
        lh_chunk c;
        CHECK_U64(lh_reader_next(r, &c), 0);
        lh_reader_free(r);
    }

    /* Trailers pointing at: offset 0, past the end, a non-footer chunk, a
     * footer frame of the wrong length. None is trusted. */
    uint64_t targets[] = { 0, UINT64_MAX, UINT64_MAX - 20, ref[1].off, footer_off + 1, 16 };
    for (size_t i = 0; i < sizeof targets / sizeof *targets; i++) {
        memcpy(hbuf, trace, trace_len);
        lh_trailer_encode(targets[i], hbuf + trace_len - LH_TRAILER_SIZE);
        r = lh_reader_open_fd(file_with(hbuf, trace_len), &rc);
        CHECK(r != NULL);
        if (!r)
            continue;
        CHECK(!lh_reader_has_footer(r));
        size_t n_read;
        int same;
        rc = read_all(r, &n_read, &same);
        CHECK_U64(rc, 0); /* footer chunk ends the stream */
        CHECK(same && n_read == n_ref);
        const Lh__Footer *f = lh_reader_index(r, &rc);
        CHECK(f && rc == LH_OK && f->n_index == n_ref);
        lh_reader_free(r);
    }

    /* A trailer and footer frame that look right, over a corrupt footer
     * payload: the index falls back to scanning and reports the damage. */
    memcpy(hbuf, trace, trace_len);
    hbuf[footer_off + LH_FRAME_SIZE] ^= 0x55;
    r = lh_reader_open_fd(file_with(hbuf, trace_len), &rc);
    CHECK(r && lh_reader_has_footer(r));
    if (r) {
        const Lh__Footer *f = lh_reader_index(r, &rc);
        CHECK_U64(rc, LH_E_CHECKSUM);
        CHECK(f && f->n_index == n_ref - 1);
        CHECK_U64(lh_reader_damage_offset(r), footer_off);
        lh_reader_free(r);
    }
}

/* --- event batches whose columns disagree --------------------------------- */

typedef struct {
    uint32_t kinds[8], threads[8], stacks[8], refs[8];
    uint64_t deltas[8], sizes[8];
    int64_t addr[8], old[8];
    Lh__EventBatch b;
} batch_buf;

/* A valid batch: ALLOC, REALLOC, FREE (by reference), MMAP, MUNMAP. */
static void good_batch(batch_buf *x)
{
    memset(x, 0, sizeof *x);
    lh__event_batch__init(&x->b);
    Lh__EventBatch *b = &x->b;
    static const uint32_t kinds[5] = { LH_EV_ALLOC, LH_EV_REALLOC, LH_EV_FREE, LH_EV_MMAP, LH_EV_MUNMAP };
    memcpy(x->kinds, kinds, sizeof kinds);
    for (int i = 0; i < 5; i++) {
        x->threads[i] = (uint32_t)(i == 2 ? 0 : i * 16); /* all in slot 0 */
        x->deltas[i] = (uint64_t)i;
    }
    x->refs[2] = 1; /* FREE the address REALLOC just made */
    x->addr[0] = 0x1000;  /* slot 0: 0 -> 0x1000 */
    x->addr[1] = 0x100;   /* 0x1100 */
    x->addr[2] = -0x1000; /* MMAP at 0x100 */
    x->addr[3] = -0x100;  /* MUNMAP at 0 */
    x->sizes[0] = 10; x->sizes[1] = 20; x->sizes[2] = 4096; x->sizes[3] = 4096;
    x->stacks[0] = 1; x->stacks[1] = 2; x->stacks[2] = 3;
    x->old[0] = -0x100; /* realloc from 0x1000 */
    b->has_first_time_us = 1;
    b->first_time_us = 1000;
    b->has_addr_shift = 1;
    b->addr_shift = 4;
    b->n_kinds = 5;        b->kinds = x->kinds;
    b->n_threads = 5;      b->threads = x->threads;
    b->n_time_deltas = 5;  b->time_deltas = x->deltas;
    b->n_addr_refs = 5;    b->addr_refs = x->refs;
    b->n_addr_deltas = 4;  b->addr_deltas = x->addr;
    b->n_sizes = 4;        b->sizes = x->sizes;
    b->n_stacks = 3;       b->stacks = x->stacks;
    b->n_old_addr_deltas = 1; b->old_addr_deltas = x->old;
}

static void test_good_crafted_batch(void)
{
    batch_buf x;
    good_batch(&x);
    lh_event ev[8];
    CHECK_U64(lh_events_decode(&x.b, ev, 8), 5);
    CHECK_U64(lh_events_decode(&x.b, ev, 4), (uint64_t)(int64_t)LH_E_TOO_LARGE);
    CHECK_U64(ev[0].kind, LH_EV_ALLOC);
    CHECK_U64(ev[0].addr, 0x10000);
    CHECK_U64(ev[0].time_us, 1000);
    CHECK_U64(ev[0].stack, 1);
    CHECK_U64(ev[1].addr, 0x11000);
    CHECK_U64(ev[1].old_addr, 0x10000);
    CHECK_U64(ev[1].size, 20);
    CHECK_U64(ev[1].thread, 16);
    CHECK_U64(ev[2].kind, LH_EV_FREE);
    CHECK_U64(ev[2].addr, 0x11000);
    CHECK_U64(ev[2].time_us, 1003);
    CHECK_U64(ev[2].size, 0);
    CHECK_U64(ev[3].addr, 0x1000);
    CHECK_U64(ev[3].stack, 3);
    CHECK_U64(ev[4].addr, 0);
    CHECK_U64(ev[4].size, 4096);
    CHECK_U64(ev[4].stack, 0);
    CHECK_U64(ev[4].time_us, 1010);

    /* The same through a file. */
    hostile_start();
    uint64_t at = append_msg(LH_CHUNK_EVENTS, &x.b.base);
    expect_hostile("good crafted batch", at, 5);
}

static void test_hostile_batches(void)
{
    batch_buf x;
    lh_event ev[8];
#define BAD(what, change, want) do { \
        good_batch(&x); \
        Lh__EventBatch *b = &x.b; \
        change; \
        int got_ = lh_events_decode(b, ev, 8); \
        if (got_ != (want)) { \
            printf("#   %s: lh_events_decode %d want %d\n", what, got_, (want)); \
            tap_case_failed = 1; \
        } \
        hostile_start(); \
        uint64_t at_ = append_msg(LH_CHUNK_EVENTS, &b->base); \
        expect_hostile(what, at_, (want)); \
    } while (0)

    BAD("threads short", b->n_threads = 4, LH_E_DECODE);
    BAD("threads long", (b->n_threads = 6, x.threads[5] = 1), LH_E_DECODE);
    BAD("time deltas short", b->n_time_deltas = 4, LH_E_DECODE);
    BAD("addr refs short", b->n_addr_refs = 0, LH_E_DECODE);
    BAD("addr refs long", b->n_addr_refs = 6, LH_E_DECODE);
    BAD("sizes short", b->n_sizes = 3, LH_E_DECODE);
    BAD("sizes long", b->n_sizes = 5, LH_E_DECODE);
    BAD("stacks short", b->n_stacks = 2, LH_E_DECODE);
    BAD("stacks long", b->n_stacks = 4, LH_E_DECODE);
    BAD("old addr missing", b->n_old_addr_deltas = 0, LH_E_DECODE);
    BAD("old addr extra", b->n_old_addr_deltas = 2, LH_E_DECODE);
    BAD("addr deltas short", b->n_addr_deltas = 3, LH_E_DECODE);
    BAD("addr deltas long", b->n_addr_deltas = 5, LH_E_DECODE);
    BAD("kinds short", b->n_kinds = 4, LH_E_DECODE);
    BAD("no kinds, other columns", b->n_kinds = 0, LH_E_DECODE);
    BAD("kind 5", x.kinds[4] = LH_EV_KIND_COUNT, LH_E_DECODE);
    BAD("kind 0xffffffff", x.kinds[0] = 0xFFFFFFFFu, LH_E_DECODE);
    BAD("ref 257", (x.refs[2] = 257), LH_E_DECODE);
    BAD("ref before the batch", (x.refs[2] = 3), LH_E_DECODE);
    BAD("ref into an empty slot", (x.refs[2] = 1, x.threads[2] = 5), LH_E_DECODE);
    BAD("ref as first event", (x.refs[0] = 1, x.addr[0] = x.addr[1], x.addr[1] = x.addr[2],
                               x.addr[2] = x.addr[3], b->n_addr_deltas = 3), LH_E_DECODE);
    BAD("addr_shift 64", b->addr_shift = 64, LH_E_DECODE);
    BAD("addr_shift 0xffffffff", b->addr_shift = 0xFFFFFFFFu, LH_E_DECODE);
    /* Not errors: shift 63, huge deltas and times wrap modulo 2^64. */
    BAD("addr_shift 63", b->addr_shift = 63, 5);
    BAD("wrapping values", (x.addr[0] = INT64_MIN, x.old[0] = INT64_MAX, x.deltas[1] = UINT64_MAX), 5);
    BAD("empty batch", (b->n_kinds = b->n_threads = b->n_time_deltas = b->n_addr_refs = 0,
                        b->n_addr_deltas = b->n_sizes = b->n_stacks = b->n_old_addr_deltas = 0), 0);
#undef BAD
}

/* More events than a batch may hold: refused before decoding. */
static void test_hostile_batch_too_many(void)
{
    size_t n = LH_MAX_BATCH_EVENTS + 1;
    uint32_t *zeros = calloc(n, sizeof *zeros);
    uint64_t *zeros64 = calloc(n, sizeof *zeros64);
    int64_t *zs = calloc(n, sizeof *zs);
    CHECK(zeros && zeros64 && zs);
    if (!zeros || !zeros64 || !zs)
        return;
    Lh__EventBatch b;
    lh__event_batch__init(&b);
    for (size_t i = 0; i < n; i++)
        zeros[i] = LH_EV_FREE;
    b.n_kinds = b.n_threads = b.n_time_deltas = b.n_addr_refs = b.n_addr_deltas = n;
    b.kinds = zeros;
    b.threads = zeros;
    b.time_deltas = zeros64;
    b.addr_refs = zeros;
    b.addr_deltas = zs;
    lh_event one;
    CHECK_U64(lh_events_decode(&b, &one, 1), (uint64_t)(int64_t)LH_E_TOO_LARGE);
    size_t len;
    uint8_t *raw = pack_msg(&b.base, &len);
    CHECK(len < LH_MAX_CHUNK_RAW);
    /* Compress into a big enough buffer and frame it by hand. */
    int bound = LZ4_compressBound((int)len);
    uint8_t *file = malloc(ref[0].end + LH_FRAME_SIZE + (size_t)bound);
    memcpy(file, trace, ref[0].end);
    int z = LZ4_compress_default((const char *)raw, (char *)file + ref[0].end + LH_FRAME_SIZE, (int)len, bound);
    CHECK(z > 0);
    lh_frame f = { .type = LH_CHUNK_EVENTS, .packed_size = (uint32_t)z, .raw_size = (uint32_t)len };
    lh_frame_seal(&f, file + ref[0].end + LH_FRAME_SIZE);
    lh_frame_encode(&f, file + ref[0].end);
    int rc;
    lh_reader *r = lh_reader_open_fd(file_with(file, ref[0].end + LH_FRAME_SIZE + (size_t)z), &rc);
    CHECK(r != NULL);
    if (r) {
        lh_chunk c;
        CHECK_U64(lh_reader_next(r, &c), 1);
        CHECK_U64(lh_reader_next(r, &c), (uint64_t)(int64_t)LH_E_TOO_LARGE);
        CHECK_U64(lh_reader_damage_offset(r), ref[0].end);
        lh_reader_free(r);
    }
    free(file);
    free(raw);
    free(zeros);
    free(zeros64);
    free(zs);
}

/* Stack tables (FORMAT.md 4.2) the reader must refuse by themselves, and
 * ones it must hand out; the file is the process chunk, then the table. */
static void test_hostile_stack_tables(void)
{
    uint32_t parents[4];
    uint64_t ips[4] = { 0x401000, 0x401100, 0x401200, 0x401300 };
    Lh__StackNodes m;
#define TABLE(what, first, np, ni, p0, p1, p2, want) do { \
        lh__stack_nodes__init(&m); \
        m.has_first_id = strcmp(what, "no first_id") != 0; \
        m.first_id = (first); \
        parents[0] = (p0), parents[1] = (p1), parents[2] = (p2), parents[3] = 0; \
        m.n_parents = (np), m.parents = parents; \
        m.n_ips = (ni), m.ips = ips; \
        int got_ = lh_stack_nodes_check(&m); \
        if (got_ != ((want) < 0 ? (want) : LH_OK)) { \
            printf("#   %s: lh_stack_nodes_check %d\n", what, got_); \
            tap_case_failed = 1; \
        } \
        hostile_start(); \
        expect_hostile(what, append_msg(LH_CHUNK_STACKS, &m.base), (want)); \
    } while (0)

    TABLE("a good table", 1, 3, 3, 0, 1, 1, 0);
    TABLE("a good table after others", 40, 3, 3, 39, 0, 41, 0);
    TABLE("an empty table", 7, 0, 0, 0, 0, 0, 0);
    TABLE("more parents than ips", 1, 3, 2, 0, 1, 1, LH_E_STACKS);
    TABLE("more ips than parents", 1, 2, 3, 0, 1, 1, LH_E_STACKS);
    TABLE("a parent cycle", 1, 3, 3, 0, 3, 2, LH_E_STACKS);        /* 2 -> 3 -> 2 */
    TABLE("a node its own parent", 1, 3, 3, 0, 2, 1, LH_E_STACKS);
    TABLE("a parent after its node", 5, 2, 2, 4, 9, 0, LH_E_STACKS);
    TABLE("node 0 defined", 0, 2, 2, 0, 0, 0, LH_E_STACKS);
    TABLE("no first_id", 0, 1, 1, 0, 0, 0, LH_E_STACKS);
    TABLE("ids past 2^32", UINT32_MAX, 2, 2, 0, 1, 0, LH_E_STACKS);
    TABLE("the last id, 2^32 - 1", UINT32_MAX, 1, 1, 7, 0, 0, 0);
#undef TABLE
}

/* A table continues only from the number of nodes defined so far. */
static void test_stack_table_continues(void)
{
    uint32_t parents[3] = { 0, 1, 2 };
    uint64_t ips[3] = { 1, 2, 3 };
    Lh__StackNodes m;
    lh__stack_nodes__init(&m);
    m.has_first_id = 1;
    m.n_parents = m.n_ips = 3;
    m.parents = parents;
    m.ips = ips;
    uint64_t next = 1;
    m.first_id = 1;
    CHECK(lh_stack_nodes_continue(&m, &next) == LH_OK);
    CHECK_U64(next, 4);
    m.first_id = 6; /* a gap: 4 and 5 were never defined */
    CHECK(lh_stack_nodes_continue(&m, &next) == LH_E_STACKS);
    CHECK_U64(next, 4);
    m.first_id = 2; /* a repeat: 2 and 3 again */
    CHECK(lh_stack_nodes_continue(&m, &next) == LH_E_STACKS);
    CHECK_U64(next, 4);
    m.first_id = 4;
    CHECK(lh_stack_nodes_continue(&m, &next) == LH_OK);
    CHECK_U64(next, 7);
    m.n_parents = m.n_ips = 0; /* an empty table continues too */
    m.first_id = 7;
    CHECK(lh_stack_nodes_continue(&m, &next) == LH_OK);
    CHECK_U64(next, 7);
    next = 1ull << 32; /* the table is full: nothing continues it */
    m.first_id = 0;
    CHECK(lh_stack_nodes_continue(&m, &next) == LH_E_STACKS);
    CHECK(strcmp(lh_rc_name(LH_E_STACKS), "unknown error") != 0);
}

int main(void)
{
    mfd = memfd_create("lh_damage", 0);
    if (mfd < 0) {
        perror("memfd_create");
        return 2;
    }
    build_trace();
    load_reference();
    TEST(test_reference);
    TEST(test_truncate_everywhere);
    TEST(test_flip_everywhere);
    TEST(test_hostile_lengths);
    TEST(test_hostile_empty_and_unknown);
    TEST(test_hostile_header_trailer);
    TEST(test_good_crafted_batch);
    TEST(test_hostile_batches);
    TEST(test_hostile_batch_too_many);
    TEST(test_hostile_stack_tables);
    TEST(test_stack_table_continues);
    for (size_t i = 0; i < n_ref; i++) {
        free(ref[i].msg);
        free(ref[i].ev);
    }
    free(trace);
    close(mfd);
    return TAP_DONE();
}
