/*
 * test_checkpoint_stale - a checkpoint sidecar is never trusted for a
 * trace that was rewritten, even one of the same size, modification time
 * and totals (events, end time, lost events) as the trace it was made
 * for: nearly the same events (one block 8 bytes larger) in other chunks, put in place by rename (cp -p,
 * mv) or written over the old file (lht-recode, a recorder's -o), the
 * mtime set back (touch -r, a filesystem with coarse times). Its
 * checkpoints' offsets would land inside other chunks of the new trace:
 * a replay reported damage that a fresh copy of the same trace did not
 * have. The sidecar's identity now holds the trace's inode, change time
 * and footer frame too; before, this test failed on both rewrites
 * (lh_checkpoint_final answered from the stale sidecar, restore seeked
 * to the old offsets).
 */
#include <fcntl.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include "replay.h"
#include "tap.h"

#define EVENTS 1200

static char dir[] = "/tmp/lh-ckpt-stale.XXXXXX";
static char path[256], other[256], ckpt[300];
static lh_event ev[EVENTS];

/* EVENTS events in chunks of chunk events, then an unknown chunk whose
 * payload is pad bytes long (it evens out the file sizes); other: one
 * allocation 8 bytes larger. */
static void write_trace(const char *p, size_t chunk, size_t pad, int other_sizes)
{
    ev[EVENTS / 2 + 2].size += other_sizes ? 8 : 0;
    int rc, fd = open(p, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    lh_writer *w = fd >= 0 ? lh_writer_open(fd, NULL, &rc) : NULL;
    if (!w)
        exit(1);
    Lh__ProcessInfo pi;
    lh__process_info__init(&pi);
    pi.has_pid = 1;
    pi.pid = 42;
    lh_writer_put(w, LH_CHUNK_PROCESS, &pi.base, 0, 0);
    uint32_t parents[4] = { 0, 1, 1, 2 };
    uint64_t ips[4] = { 0x401000, 0x401010, 0x401020, 0x401030 };
    Lh__StackNodes s;
    lh__stack_nodes__init(&s);
    s.has_first_id = 1;
    s.first_id = 1;
    s.n_parents = s.n_ips = 4;
    s.parents = parents;
    s.ips = ips;
    lh_writer_put(w, LH_CHUNK_STACKS, &s.base, 0, 0);
    for (size_t at = 0; at < EVENTS; at += chunk)
        lh_writer_events(w, ev + at, EVENTS - at < chunk ? EVENTS - at : chunk);
    char *label = malloc(pad + 1);
    uint64_t x = 12345;
    for (size_t i = 0; i < pad; i++) /* nothing for LZ4 to shorten */
        x = x * 6364136223846793005ull + 1, label[i] = (char)('!' + (x >> 33) % 90);
    label[pad] = 0;
    Lh__Marker m;
    lh__marker__init(&m);
    m.label = label;
    lh_writer_put(w, 42, &m.base, 0, 0);
    free(label);
    lh_writer_finish(w, ev[EVENTS - 1].time_us + 5, 0, 0);
    ev[EVENTS / 2 + 2].size -= other_sizes ? 8 : 0;
    lh_writer_free(w);
    close(fd);
}

static off_t size_of(const char *p)
{
    struct stat st;
    return stat(p, &st) == 0 ? st.st_size : -1;
}

static void end_counters(const char *p, lh_counters *c, uint64_t ckpt_every, int *restored)
{
    char err[256];
    lh_replay *r = lh_replay_open(p, err, sizeof err);
    if (!r)
        exit(1);
    *restored = 0;
    if (ckpt_every)
        lh_replay_checkpoint_every(r, p, ckpt_every);
    else
        *restored = lh_replay_restore(r, p, LH_AT_END, 0, NULL);
    lh_replay_advance(r, LH_AT_END, 0, NULL);
    *c = *lh_replay_counters(r);
    if (lh_replay_damage(r, NULL))
        c->lost_events = 999999; /* damage: differs from any good answer */
    lh_replay_free(r);
}

/* Make path's trace and its sidecar (a checkpoint every 300 events), then
 * a trace of the same events in chunks of 200, padded to the same size. */
static void setup(struct timespec *mtime)
{
    write_trace(path, 300, 600, 0);
    lh_counters c;
    int restored;
    end_counters(path, &c, 300, &restored);
    struct stat st;
    if (stat(path, &st) || size_of(ckpt) <= 0)
        exit(1);
    *mtime = st.st_mtim;
    for (size_t pad = 0; pad < 4000; pad++) {
        write_trace(other, 200, pad, 1);
        if (size_of(other) == st.st_size)
            return;
    }
    printf("# no padding gives the same size\n");
    exit(1);
}

/* from's bytes into to, opened with mode ("wb": a new file; "r+b": the
 * same inode, written over). */
static void copy_bytes(const char *from, const char *to, const char *mode)
{
    FILE *in = fopen(from, "rb"), *out = fopen(to, mode);
    char buf[4096];
    size_t n;
    while (in && out && (n = fread(buf, 1, sizeof buf, in)) > 0)
        fwrite(buf, 1, n, out);
    if (in)
        fclose(in);
    if (out)
        fclose(out);
}

static void set_mtime(const char *p, const struct timespec *m)
{
    struct timespec t[2] = { *m, *m };
    if (utimensat(AT_FDCWD, p, t, 0))
        exit(1);
}

static void check_not_trusted(void)
{
    lh_counters want, got, fin;
    int restored;
    end_counters(other, &want, 0, &restored); /* other has no sidecar: the truth */
    int trusted = lh_checkpoint_final(path, &fin);
    CHECK(trusted == 0);
    if (trusted) /* what --stats and --peak would then say */
        CHECK_U64(fin.bytes_allocated, want.bytes_allocated);
    end_counters(path, &got, 0, &restored);
    CHECK(restored == 0);
    CHECK(!memcmp(&want, &got, sizeof want));
}

/* Renamed over the trace (a new inode), mtime set back. */
static void test_renamed_over(void)
{
    struct timespec m;
    setup(&m);
    char copy[300];
    snprintf(copy, sizeof copy, "%s/copy.lht", dir);
    copy_bytes(other, copy, "wb");
    set_mtime(copy, &m);
    CHECK(rename(copy, path) == 0);
    CHECK(size_of(path) == size_of(other));
    check_not_trusted();
}

/* Written over the old file in place (the same inode), mtime set back. */
static void test_rewritten_in_place(void)
{
    struct timespec m;
    setup(&m);
    struct stat before, after;
    stat(path, &before);
    copy_bytes(other, path, "r+b");
    set_mtime(path, &m);
    stat(path, &after);
    CHECK(before.st_ino == after.st_ino && before.st_size == after.st_size);
    check_not_trusted();
}

/* The sidecar of an untouched trace is still used. */
static void test_untouched_trusted(void)
{
    struct timespec m;
    setup(&m);
    lh_counters fin, want, got;
    int restored;
    CHECK(lh_checkpoint_final(path, &fin) == 1);
    end_counters(path, &got, 0, &restored);
    CHECK(restored == 1);
    end_counters(other, &want, 0, &restored);
    CHECK(want.events == got.events && want.frees == got.frees);
}

int main(void)
{
    if (!mkdtemp(dir))
        return 1;
    snprintf(path, sizeof path, "%s/t.lht", dir);
    snprintf(other, sizeof other, "%s/other.lht", dir);
    snprintf(ckpt, sizeof ckpt, "%s.ckpt", path);
    uint64_t live[32] = { 0 }, t = 100, top = 0x555555550000ull;
    for (size_t i = 0; i < EVENTS; i++) {
        lh_event *e = &ev[i];
        size_t j = i % 32;
        memset(e, 0, sizeof *e);
        e->time_us = t += i % 3 == 0;
        if (live[j] && i % 2) {
            e->kind = LH_EV_FREE;
            e->addr = live[j];
            live[j] = 0;
        } else {
            e->kind = LH_EV_ALLOC;
            e->addr = live[j] = top += 48;
            e->size = 16 + 8 * (i % 5);
            e->stack = 1 + (uint32_t)(i % 4);
        }
    }
    TEST(test_untouched_trusted);
    TEST(test_renamed_over);
    TEST(test_rewritten_in_place);
    unlink(ckpt);
    unlink(path);
    unlink(other);
    rmdir(dir);
    return TAP_DONE();
}
