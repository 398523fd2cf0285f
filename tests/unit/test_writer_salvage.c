/*
 * test_writer_salvage.c - a trace whose disk fills up says so, exactly.
 *
 * A writer on a "disk" of C bytes (a memfd that refuses to grow past C,
 * keeping what fitted of the last write, as a real full disk does) writes
 * a process chunk and 40 batches of 500 events. For every C from the
 * header's size to the whole trace, in steps of 61 bytes: when a write
 * fails, the caller goes on counting what it could not write, then calls
 * lh_writer_salvage. The file must then read back without any reader error
 * and without a footer, and the events it holds plus the count in its
 * Lost chunk (marked damaged) must be exactly the events written. When C
 * is large enough for everything, the trace ends with a footer and no
 * damaged Lost chunk at all.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "lh_trace.h"
#include "tap.h"

#define BATCHES 40
#define PER_BATCH 500

typedef struct {
    int fd;
    uint64_t size, cap;
} disk;

static int disk_write(void *ctx, const void *buf, size_t len)
{
    disk *d = ctx;
    size_t fits = d->size + len <= d->cap ? len : (size_t)(d->cap - d->size);
    if (fits && pwrite(d->fd, buf, fits, (off_t)d->size) != (ssize_t)fits)
        abort();
    d->size += fits;
    return fits == len ? 0 : -ENOSPC;
}

static int disk_truncate(void *ctx, uint64_t size)
{
    disk *d = ctx;
    if (ftruncate(d->fd, (off_t)size) != 0)
        abort();
    d->size = size;
    return 0;
}

static lh_event events[PER_BATCH];

static void make_batch(int b)
{
    for (int i = 0; i < PER_BATCH; i++) {
        lh_event *e = &events[i];
        memset(e, 0, sizeof(*e));
        e->time_us = (uint64_t)(b * PER_BATCH + i);
        e->kind = i % 2 ? LH_EV_FREE : LH_EV_ALLOC;
        /* alloc then free of the same block, sizes and addresses varied
         * so that batches do not compress to nothing */
        e->addr = 0x10000 + (uint64_t)((b * PER_BATCH + i) / 2) * 48 + (uint64_t)(i * 7919 % 1024) * 4096;
        e->size = e->kind == LH_EV_ALLOC ? (uint64_t)(16 + (i * 37) % 4000) : 0;
        e->stack = (uint32_t)(i % 13);
    }
    /* a free names the block its alloc made */
    for (int i = 1; i < PER_BATCH; i += 2)
        events[i].addr = events[i - 1].addr;
}

typedef struct {
    int ok_salvage, rc_salvage, finished;
    uint64_t read_events, lost, damaged_chunks, reader_errors, footer;
} outcome;

static outcome write_and_read(int fd, uint64_t cap)
{
    outcome o = { 0 };
    disk d = { fd, 0, cap };
    if (ftruncate(fd, 0) != 0)
        abort();
    lh_writer_io io = { .write_all = disk_write, .ctx = &d, .truncate = disk_truncate };
    int rc;
    lh_writer *w = lh_writer_open(fd, &io, &rc);
    if (!w)
        return o; /* not even the header fits: nothing to read */
    Lh__ProcessInfo pi;
    lh__process_info__init(&pi);
    pi.has_pid = 1;
    pi.pid = 42;
    pi.exe = "/bin/salvage";
    int failed = lh_writer_put(w, LH_CHUNK_PROCESS, &pi.base, 0, 0) < 0;
    uint64_t handed = 0;
    for (int b = 0; b < BATCHES; b++) {
        make_batch(b);
        handed += PER_BATCH;
        if (!failed && lh_writer_events(w, events, PER_BATCH) < 0)
            failed = 1;
    }
    if (!failed)
        failed = !(o.finished = lh_writer_finish(w, BATCHES * PER_BATCH, 0, 0) == 0);
    if (failed) { /* the footer too: no room for it */
        uint64_t unwritten = handed - lh_writer_events_written(w);
        o.rc_salvage = lh_writer_salvage(w, 300, BATCHES * PER_BATCH, unwritten, "disk full (test)");
        o.ok_salvage = o.rc_salvage == 0;
    }
    lh_writer_free(w);

    lh_reader *r = lh_reader_open_fd(fd, &rc);
    if (!r)
        return o;
    lh_chunk c;
    while ((rc = lh_reader_next(r, &c)) == 1) {
        if (c.type == LH_CHUNK_EVENTS)
            o.read_events += c.n_events;
        if (c.type == LH_CHUNK_LOST) {
            const Lh__Lost *l = (const Lh__Lost *)c.msg;
            o.lost = l->count;
            o.damaged_chunks += l->has_damaged && l->damaged;
        }
    }
    o.reader_errors = rc < 0;
    o.footer = lh_reader_has_footer(r);
    lh_reader_free(r);
    return o;
}

static int fd;
static uint64_t whole;

static void test_whole_trace_fits(void)
{
    outcome o = write_and_read(fd, UINT64_MAX);
    CHECK(o.finished);
    CHECK(o.footer);
    CHECK_U64(o.read_events, BATCHES * PER_BATCH);
    CHECK_U64(o.damaged_chunks, 0);
    CHECK_U64(o.reader_errors, 0);
    whole = (uint64_t)lseek(fd, 0, SEEK_END);
    CHECK(whole > 4096);
}

/* Every cut: written + said missing = everything, and the file reads clean. */
static void test_full_disk_everywhere(void)
{
    int cases = 0, salvaged = 0;
    for (uint64_t cap = 16; cap < whole; cap += 61) {
        outcome o = write_and_read(fd, cap);
        cases++;
        if (!o.ok_salvage) {
            if (getenv("SALVAGE_DEBUG"))
                printf("# no note at %llu (rc %d)\n", (unsigned long long)cap, o.rc_salvage);
            continue; /* the disk was too small for even a note: checked below */
        }
        salvaged++;
        if (o.reader_errors || o.footer || o.damaged_chunks != 1
            || o.read_events + o.lost != (uint64_t)BATCHES * PER_BATCH) {
            CHECK(!o.reader_errors);
            CHECK(!o.footer);
            CHECK_U64(o.damaged_chunks, 1);
            CHECK_U64(o.read_events + o.lost, BATCHES * PER_BATCH);
            printf("#   at a %llu-byte disk\n", (unsigned long long)cap);
            return;
        }
    }
    printf("# %d disk sizes, %d salvaged with an exact count\n", cases, salvaged);
    /* All but the smallest disks (room for the header and process chunk
     * only) get the note. */
    CHECK(salvaged > cases - 8);
}

/* Salvage on a writer that never failed, or NULL: refused, nothing written. */
static void test_salvage_arguments(void)
{
    CHECK(lh_writer_salvage(NULL, 0, 0, 0, NULL) == LH_E_ARG);
}

int main(void)
{
    fd = memfd_create("lh_salvage", 0);
    if (fd < 0) {
        perror("memfd_create");
        return 2;
    }
    TEST(test_whole_trace_fits);
    TEST(test_full_disk_everywhere);
    TEST(test_salvage_arguments);
    close(fd);
    return TAP_DONE();
}
