/*
 * test_follow.c - reading a trace while it is being written (follow mode,
 * what leakhunt-top stands on).
 *
 * A reference trace is made in memory, then copied into a file in pieces,
 * as a collector appends it, and read while it grows:
 * (a) reader, every split: the file grows one cut at a time (every offset
 *     of the trace is a cut in one of the runs, so chunks are split inside
 *     their frames and inside their payloads, across two appends); after
 *     each append the reader hands out every complete chunk, then says
 *     LH_READER_PENDING, never damage; at the end every chunk came back
 *     unchanged, in order, once, and the footer ends the stream;
 * (b) reader: a file that holds its footer when opened is read to it and
 *     finished, no waiting; a file cut back below the reader's position is
 *     damage; a chunk whose bytes are all there and wrong is damage, as
 *     when not following; without follow mode the same torn tail is
 *     LH_E_TRUNCATED (what leakhunt-replay says of a trace still written);
 * (c) replay: a followed replay over the growing file, advanced after every
 *     append, ends with the very counters, sites and markers of a replay
 *     of the finished file; it reads the file once from its start (the
 *     chunks it decoded are the trace's chunks, no more); LH_AT_NEXT_MARK
 *     stops at each marker, whatever its label, and at an event limit.
 */
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "lh_frame.h"
#include "fuzz/fixture.h"
#include "lh_trace.h"
#include "replay.h"
#include "tap.h"

static uint8_t *trace;
static size_t trace_len;
static uint64_t chunk_end[256]; /* file offset where each chunk ends */
static size_t n_chunks;

static int mem_write(void *ctx, const void *buf, size_t len)
{
    (void)ctx;
    trace = realloc(trace, trace_len + len);
    memcpy(trace + trace_len, buf, len);
    trace_len += len;
    return 0;
}

/* 6 event batches of 50 events, markers "a" and "b" between them, RSS
 * samples, a stack table and a thread: 2 allocations live per batch. */
static void build_trace(void)
{
    int rc;
    lh_writer_io io = { .write_all = mem_write };
    lh_writer *w = lh_writer_open(-1, &io, &rc);
    if (!w)
        abort();
    Lh__ProcessInfo p;
    lh__process_info__init(&p);
    p.has_pid = 1;
    p.pid = 4242;
    p.exe = "/bin/grower";
    lh_writer_put(w, LH_CHUNK_PROCESS, &p.base, 0, 0);
    uint32_t parents[2] = { 0, 1 };
    uint64_t ips[2] = { 0x401000, 0x401100 };
    fixture_stacks(w, 1, parents, ips, 2);
    Lh__ThreadInfo t;
    lh__thread_info__init(&t);
    t.has_index = t.has_tid = 1;
    t.tid = 4242;
    t.name = "main";
    lh_writer_put(w, LH_CHUNK_THREAD, &t.base, 0, 0);
    uint64_t time = 100;
    for (int b = 0; b < 6; b++) {
        lh_event ev[50];
        memset(ev, 0, sizeof ev);
        for (int i = 0; i < 50; i++) {
            lh_event *e = &ev[i];
            e->time_us = time++;
            uint64_t n = (uint64_t)b * 50 + (uint64_t)i;
            if (i < 48 && i % 2) { /* free the block allocated just before */
                e->kind = LH_EV_FREE;
                e->addr = 0x10000000ull + (n - 1) * 64;
            } else {
                e->kind = LH_EV_ALLOC;
                e->addr = 0x10000000ull + n * 64;
                e->size = 48;
                e->stack = i >= 48 ? 2 : 1;
            }
        }
        lh_writer_events(w, ev, 50);
        if (b == 1 || b == 3) {
            Lh__Marker m;
            lh__marker__init(&m);
            m.has_time_us = 1;
            m.time_us = time;
            m.label = b == 1 ? "a" : "b";
            lh_writer_put(w, LH_CHUNK_MARKER, &m.base, time, time);
        }
        Lh__RssSample r;
        lh__rss_sample__init(&r);
        r.has_time_us = r.has_rss_bytes = 1;
        r.time_us = time;
        r.rss_bytes = (uint64_t)(b + 1) << 20;
        lh_writer_put(w, LH_CHUNK_RSS, &r.base, time, time);
    }
    if (lh_writer_finish(w, time, 0, 0))
        abort();
    lh_writer_free(w);
    /* Where the chunks end, from a plain read of the finished trace. */
    int fd = memfd_create("ref", MFD_CLOEXEC);
    if (fd < 0 || pwrite(fd, trace, trace_len, 0) != (ssize_t)trace_len)
        abort();
    lh_reader *rd = lh_reader_open_fd(fd, &rc);
    lh_chunk c;
    while (rd && lh_reader_next(rd, &c) > 0)
        chunk_end[n_chunks++] = c.offset + LH_FRAME_SIZE + c.packed_size;
    lh_reader_free(rd);
    close(fd);
}

/* A file holding the first len bytes of the trace, to append to. */
static int grown_file(size_t len)
{
    int fd = memfd_create("follow", MFD_CLOEXEC);
    if (fd < 0 || (len && pwrite(fd, trace, len, 0) != (ssize_t)len))
        abort();
    return fd;
}

static void append(int fd, size_t from, size_t to)
{
    if (to > from && pwrite(fd, trace + from, to - from, (off_t)from) != (ssize_t)(to - from))
        abort();
}

/* --- (a) ------------------------------------------------------------------ */

/* Grow the file by step bytes at a time (the last piece shorter), reading
 * after each append; returns 1 if everything came as it should. */
static int follow_in_steps(size_t step, size_t first)
{
    int rc, ok = 1;
    int fd = grown_file(first);
    lh_reader *r = lh_reader_open_fd(fd, &rc);
    if (!r)
        return 0;
    lh_reader_set_follow(r, 1);
    size_t have = first, got = 0;
    int ended = 0;
    while (!ended) {
        lh_chunk c;
        while ((rc = lh_reader_next(r, &c)) == 1) {
            uint64_t end = c.offset + LH_FRAME_SIZE + c.packed_size;
            if (got >= n_chunks || end != chunk_end[got] || end > have)
                ok = 0;
            got++;
        }
        if (rc == 0) {
            ended = 1;
        } else if (rc != LH_READER_PENDING) {
            printf("#   step %zu: rc %d (%s) at %zu of %zu bytes\n", step, rc, lh_rc_name(rc), have, trace_len);
            ok = 0;
            break;
        } else {
            /* Pending only while a chunk is incomplete: every chunk that is
             * all there was handed out. */
            if (got < n_chunks && chunk_end[got] <= have)
                ok = 0;
            if (have == trace_len) { /* all there and still waiting */
                ok = 0;
                break;
            }
            size_t next = have + step < trace_len ? have + step : trace_len;
            append(fd, have, next);
            have = next;
        }
    }
    if (got != n_chunks)
        printf("#   step %zu: %zu chunks, want %zu\n", step, got, n_chunks), ok = 0;
    lh_reader_free(r);
    close(fd);
    return ok;
}

static void follow_every_split(void)
{
    /* Steps 1..40 make every offset a cut; 997 and the whole rest too. */
    size_t steps[] = { 1, 2, 3, 5, 7, 11, 13, 16, 17, 31, 40, 97, 997, 1 << 20 };
    for (size_t i = 0; i < sizeof steps / sizeof steps[0]; i++)
        CHECK(follow_in_steps(steps[i], LH_HEADER_SIZE));
    /* Started with part of the first chunk already there. */
    CHECK(follow_in_steps(9, LH_HEADER_SIZE + 5));
}

/* A chunk split across two appends exactly: the frame and half the
 * payload, then the rest. */
static void follow_chunk_split_in_two(void)
{
    int rc;
    size_t mid = (size_t)(chunk_end[2] + chunk_end[3]) / 2; /* inside chunk 3 */
    int fd = grown_file(chunk_end[2] + LH_FRAME_SIZE / 2); /* inside chunk 3's frame */
    lh_reader *r = lh_reader_open_fd(fd, &rc);
    lh_reader_set_follow(r, 1);
    lh_chunk c;
    for (int i = 0; i < 3; i++)
        CHECK(lh_reader_next(r, &c) == 1);
    CHECK(lh_reader_next(r, &c) == LH_READER_PENDING);
    CHECK_U64(lh_reader_tell(r), chunk_end[2]);
    append(fd, chunk_end[2] + LH_FRAME_SIZE / 2, mid);
    CHECK(lh_reader_next(r, &c) == LH_READER_PENDING);
    CHECK(lh_reader_next(r, &c) == LH_READER_PENDING); /* asking again changes nothing */
    CHECK_U64(lh_reader_damage_offset(r), UINT64_MAX);
    append(fd, mid, chunk_end[3]);
    CHECK(lh_reader_next(r, &c) == 1);
    CHECK_U64(c.offset, chunk_end[2]);
    CHECK(lh_reader_next(r, &c) == LH_READER_PENDING);
    lh_reader_free(r);
    close(fd);
}

/* --- (b) ------------------------------------------------------------------ */

static void follow_finished_file(void)
{
    int rc;
    int fd = grown_file(trace_len);
    lh_reader *r = lh_reader_open_fd(fd, &rc);
    lh_reader_set_follow(r, 1);
    lh_chunk c;
    size_t n = 0;
    while ((rc = lh_reader_next(r, &c)) == 1)
        n++;
    CHECK(rc == 0);
    CHECK_U64(n, n_chunks);
    CHECK(lh_reader_next(r, &c) == 0);
    lh_reader_free(r);
    close(fd);
}

static void follow_file_cut_back(void)
{
    int rc;
    int fd = grown_file(chunk_end[4]);
    lh_reader *r = lh_reader_open_fd(fd, &rc);
    lh_reader_set_follow(r, 1);
    lh_chunk c;
    for (int i = 0; i < 5; i++)
        CHECK(lh_reader_next(r, &c) == 1);
    CHECK(lh_reader_next(r, &c) == LH_READER_PENDING);
    if (ftruncate(fd, (off_t)chunk_end[2]) != 0)
        abort();
    CHECK(lh_reader_next(r, &c) == LH_E_TRUNCATED);
    CHECK(lh_reader_next(r, &c) == LH_E_TRUNCATED); /* stays at the damage */
    CHECK_U64(lh_reader_damage_offset(r), chunk_end[4]);
    lh_reader_free(r);
    close(fd);
}

static void follow_bad_bytes_are_damage(void)
{
    int rc;
    int fd = grown_file(chunk_end[3]);
    uint8_t flip = trace[chunk_end[2] + LH_FRAME_SIZE + 1] ^ 0x40; /* in chunk 3's payload */
    if (pwrite(fd, &flip, 1, (off_t)(chunk_end[2] + LH_FRAME_SIZE + 1)) != 1)
        abort();
    lh_reader *r = lh_reader_open_fd(fd, &rc);
    lh_reader_set_follow(r, 1);
    lh_chunk c;
    for (int i = 0; i < 3; i++)
        CHECK(lh_reader_next(r, &c) == 1);
    CHECK(lh_reader_next(r, &c) == LH_E_CHECKSUM);
    CHECK_U64(lh_reader_damage_offset(r), chunk_end[2]);
    lh_reader_free(r);
    close(fd);
}

static void no_follow_torn_tail_is_truncated(void)
{
    int rc;
    int fd = grown_file(chunk_end[3] + 3);
    lh_reader *r = lh_reader_open_fd(fd, &rc);
    lh_chunk c;
    for (int i = 0; i < 4; i++)
        CHECK(lh_reader_next(r, &c) == 1);
    CHECK(lh_reader_next(r, &c) == LH_E_TRUNCATED);
    lh_reader_free(r);
    close(fd);
}

/* --- (c) ------------------------------------------------------------------ */

static void replay_follow_matches_finished(void)
{
    char err[256], path[64];
    int ref_fd = grown_file(trace_len);
    snprintf(path, sizeof path, "/proc/self/fd/%d", ref_fd);
    lh_replay *ref = lh_replay_open(path, err, sizeof err);
    CHECK(ref && lh_replay_advance(ref, LH_AT_END, 0, NULL) == 1);

    int fd = grown_file(LH_HEADER_SIZE);
    lh_read_stats st = { 0 };
    lh_replay *r = lh_replay_open_follow(fd, "grown", err, sizeof err);
    CHECK(r != NULL);
    if (!r || !ref)
        return;
    lh_replay_set_read_stats(r, &st);
    size_t have = LH_HEADER_SIZE;
    int rc, pendings = 0;
    while ((rc = lh_replay_advance(r, LH_AT_END, 0, NULL)) == LH_REPLAY_PENDING) {
        pendings++;
        CHECK(have < trace_len);
        if (have >= trace_len)
            break;
        size_t next = have + 23 < trace_len ? have + 23 : trace_len;
        append(fd, have, next);
        have = next;
        /* The heap so far: every complete batch, never more. */
        CHECK(lh_replay_counters(r)->events % 50 == 0);
    }
    CHECK(rc == 1);
    CHECK(pendings > 10);
    CHECK(lh_replay_complete(r));
    const lh_counters *a = lh_replay_counters(r), *b = lh_replay_counters(ref);
    CHECK_U64(a->events, 300);
    CHECK_U64(a->live_count, 12);
    CHECK_U64(a->live_bytes, 12 * 48);
    CHECK(!memcmp(a, b, sizeof *a));
    size_t na, nb;
    const lh_site *sa = lh_replay_sites(r, &na), *sb = lh_replay_sites(ref, &nb);
    CHECK(na == nb && !memcmp(sa, sb, na * sizeof *sa));
    const lh_marker *ma = lh_replay_markers(r, &na);
    CHECK_U64(na, 2);
    if (na == 2) {
        CHECK_STR(ma[0].label, "a");
        CHECK_U64(ma[0].event, 100);
        CHECK_STR(ma[1].label, "b");
        CHECK_U64(ma[1].event, 200);
    }
    lh_replay_rss(r, &na);
    CHECK_U64(na, 6);
    lh_replay_free(r); /* closes fd */
    CHECK_U64(st.chunks, n_chunks);
    lh_replay_free(ref);
    close(ref_fd);
}

static void replay_next_mark(void)
{
    char err[256];
    int fd = grown_file(trace_len);
    lh_replay *r = lh_replay_open_follow(fd, "grown", err, sizeof err);
    CHECK(r != NULL);
    if (!r)
        return;
    CHECK(lh_replay_advance(r, LH_AT_NEXT_MARK, 0, NULL) == 1);
    CHECK_U64(lh_replay_counters(r)->events, 100);
    CHECK(lh_replay_advance(r, LH_AT_NEXT_MARK, 130, NULL) == 1); /* the event limit first */
    CHECK_U64(lh_replay_counters(r)->events, 130);
    CHECK(lh_replay_advance(r, LH_AT_NEXT_MARK, 1000, NULL) == 1);
    CHECK_U64(lh_replay_counters(r)->events, 200);
    size_t n;
    lh_replay_markers(r, &n);
    CHECK_U64(n, 2);
    CHECK(lh_replay_advance(r, LH_AT_NEXT_MARK, 0, NULL) == 0); /* no more: the end */
    CHECK_U64(lh_replay_counters(r)->events, 300);
    lh_replay_free(r);
}

int main(void)
{
    build_trace();
    TEST(follow_every_split);
    TEST(follow_chunk_split_in_two);
    TEST(follow_finished_file);
    TEST(follow_file_cut_back);
    TEST(follow_bad_bytes_are_damage);
    TEST(no_follow_torn_tail_is_truncated);
    TEST(replay_follow_matches_finished);
    TEST(replay_next_mark);
    free(trace);
    return TAP_DONE();
}
