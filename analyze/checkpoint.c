/*
 * checkpoint.c - answer repeated questions about a big trace quickly.
 *
 * A full pass over a large trace leaves a sidecar, TRACE.ckpt, holding the
 * replay state (live set, per-stack totals, mappings, counters) every so
 * many events and after the last one, plus the final counters. A later
 * question (--at T, --diff, peak, end) starts from the nearest checkpoint
 * before its moment instead of the first event: the chunks before it that
 * are not events (stack nodes, modules, threads, markers) are read through
 * the index, the state is loaded, and the reader seeks to the chunk after
 * the checkpoint. Loading costs little next to replaying (a state is read
 * at hundreds of MB/s, events replay at 15-90 M/s), so checkpoints are
 * dense (leakhunt-replay: 1/128 of the events) within a budget of bytes
 * that spaces them out when the state is big.
 *
 * The sidecar is a cache: native byte order, tied to the trace file (its
 * device and inode, size, modification and change times, and the frame of
 * its footer chunk, whose checksum covers the chunk index: every chunk's
 * offset, type, times and events), each checkpoint followed by an XXH64 of its bytes
 * (a damaged one is never loaded), written to a temporary name and
 * renamed only when the pass reached the end. A sidecar that does not
 * match is ignored (and replaced by the next full pass); one that cannot
 * be written is skipped.
 *
 * The XXH64 is no seal: anyone who may write in the trace's directory
 * could make a sidecar that matches. So a sidecar is used (or replaced)
 * only when it is a regular file with one name, of the reader's or of the
 * trace's owner, that nobody else may write (lh_checkpoint_sidecar_ok);
 * anything else at TRACE.ckpt is left alone, and the program says so. And
 * its final totals must agree with the trace's own footer (events, end
 * time, lost events) before any of it is believed.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <xxhash.h>

#include "prefetch.h"
#include "replay_int.h"

#define CK_MAGIC "LHCKPT02" /* 01: the trace was known by its size and mtime alone */
#define CK_MAX 128
#define CK_MAX_BYTES (256u << 20) /* a checkpoint larger than this is skipped */

typedef struct {
    char magic[8];
    uint32_t sizes[4];      /* lh_site, live_block, region, lh_counters */
    uint64_t trace_size;
    int64_t trace_mtime_ns;
    /* Size and mtime alone let a trace rewritten in place (same size, the
     * mtime kept by cp -p, touch -r, or a filesystem of coarse times) pass
     * for the one the sidecar describes, and its checkpoints' offsets
     * then land inside other chunks ("damage"). The change time cannot be
     * set back, and the footer's frame differs whenever any chunk moved. */
    uint64_t trace_dev, trace_ino;
    int64_t trace_ctime_ns;
    uint8_t footer_frame[16]; /* type, sizes and checksum of the footer chunk; 0 without footer */
    uint64_t footer_offset;
} ck_header;

typedef struct {
    uint32_t tag;           /* 'C' checkpoint, 'E' end */
    uint32_t pad;
    uint64_t offset;        /* file offset of the chunk after the state */
    uint64_t n_live, n_nodes, n_regions, n_tids;
    lh_counters c;
} ck_record;

struct lh_ckpt_writer {
    FILE *f;
    char tmp[4200], path[4200], trace[4200];
    uint64_t every, last, count;
    uint64_t last_offset;   /* after the last EVENTS chunk applied */
    int saved_last;         /* the state there is saved already */
    uint64_t total_events, budget, written; /* lh_replay_checkpoint_budget */
};

/* The frame of the footer chunk the trailer names (FORMAT.md 5), as read:
 * a trace without a valid-looking trailer has none (and no sidecar is
 * used for it: matches_footer). */
static void footer_frame(int fd, uint64_t size, ck_header *h)
{
    uint8_t t[16];
    uint64_t off = 0;
    if (size < 48 || pread(fd, t, 16, (off_t)(size - 16)) != 16 || memcmp(t + 8, "LHTEND\r\n", 8))
        return;
    for (int i = 7; i >= 0; i--)
        off = off << 8 | t[i];
    if (off < 16 || off > size - 32 || pread(fd, h->footer_frame, 16, (off_t)off) != 16)
        return;
    h->footer_offset = off;
}

static int trace_identity(const char *trace, ck_header *h)
{
    struct stat st;
    int fd = open(trace, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
    if (fd < 0)
        return -1;
    if (fstat(fd, &st) < 0) {
        close(fd);
        return -1;
    }
    memset(h, 0, sizeof(*h));
    if (S_ISREG(st.st_mode))
        footer_frame(fd, (uint64_t)st.st_size, h);
    close(fd);
    h->trace_dev = (uint64_t)st.st_dev;
    h->trace_ino = (uint64_t)st.st_ino;
    h->trace_ctime_ns = (int64_t)st.st_ctim.tv_sec * 1000000000 + st.st_ctim.tv_nsec;
    memcpy(h->magic, CK_MAGIC, 8);
    h->sizes[0] = sizeof(lh_site);
    h->sizes[1] = sizeof(live_block);
    h->sizes[2] = sizeof(region);
    h->sizes[3] = sizeof(lh_counters);
    h->trace_size = (uint64_t)st.st_size;
    h->trace_mtime_ns = (int64_t)st.st_mtim.tv_sec * 1000000000 + st.st_mtim.tv_nsec;
    return 0;
}

/* May st (of path) be used and replaced as the sidecar of a trace owned
 * by trace_uid? 1, or 0 with why. */
static int sidecar_trusted(const struct stat *st, uid_t trace_uid, const char *path, char *why, size_t cap)
{
    if (!S_ISREG(st->st_mode))
        snprintf(why, cap, "%s is not a regular file (a link, FIFO or device someone put there?)", path);
    else if (st->st_uid != geteuid() && st->st_uid != trace_uid)
        snprintf(why, cap, "%s belongs to uid %d, neither you (uid %d) nor the trace's owner (uid %d)", path,
                 (int)st->st_uid, (int)geteuid(), (int)trace_uid);
    else if (st->st_mode & 022)
        snprintf(why, cap, "%s is writable by group or others (mode %03o)", path, (unsigned)(st->st_mode & 0777));
    else if (st->st_nlink != 1)
        snprintf(why, cap, "%s has other names (hard links)", path);
    else
        return 1;
    return 0;
}

/* -1 no sidecar, 1 one that may be used, 0 one that must be left alone. */
static int sidecar_state(const char *trace, char *why, size_t cap)
{
    char path[4200];
    struct stat tst, st;
    snprintf(path, sizeof(path), "%s.ckpt", trace);
    if (lstat(path, &st) < 0)
        return errno == ENOENT ? -1 : 0;
    if (stat(trace, &tst) < 0)
        return 0;
    return sidecar_trusted(&st, tst.st_uid, path, why, cap);
}

int lh_checkpoint_sidecar_ok(const char *trace, char *why, size_t cap)
{
    char tmp[4400];
    if (!why) {
        why = tmp;
        cap = sizeof(tmp);
    }
    why[0] = 0;
    return sidecar_state(trace, why, cap) != 0;
}

void lh_replay_checkpoint_every(lh_replay *r, const char *trace, uint64_t every)
{
    ck_header h;
    if (!every || trace_identity(trace, &h) < 0 || !lh_checkpoint_sidecar_ok(trace, NULL, 0))
        return; /* something we may not replace sits at TRACE.ckpt: no pass of ours overwrites it */
    struct lh_ckpt_writer *w = calloc(1, sizeof(*w));
    if (!w)
        return;
    snprintf(w->trace, sizeof(w->trace), "%s", trace);
    snprintf(w->path, sizeof(w->path), "%s.ckpt", trace);
    snprintf(w->tmp, sizeof(w->tmp), "%s.ckpt.%d", trace, (int)getpid());
    /* The name is ours, but the directory may be shared (/tmp): whatever
     * sits there (a leftover, or a planted link or FIFO) goes, and a new
     * file is made, never opened through a link. */
    unlink(w->tmp);
    int fd = open(w->tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
    w->f = fd >= 0 ? fdopen(fd, "wb") : NULL;
    if (fd >= 0 && !w->f)
        close(fd);
    if (!w->f || fwrite(&h, sizeof(h), 1, w->f) != 1) {
        if (w->f) {
            fclose(w->f);
            unlink(w->tmp);
        }
        free(w);
        return;
    }
    w->every = every;
    r->ckpt = w;
}

static void writer_drop(lh_replay *r)
{
    struct lh_ckpt_writer *w = r->ckpt;
    if (!w)
        return;
    if (w->f)
        fclose(w->f);
    unlink(w->tmp);
    free(w);
    r->ckpt = NULL;
}

void lh_replay_checkpoint_free(lh_replay *r) { writer_drop(r); }

/* Write n items and add them to the checkpoint's hash. */
static int put(FILE *f, XXH64_state_t *h, const void *p, size_t size, size_t n)
{
    if (!n)
        return 1;
    XXH64_update(h, p, size * n);
    return fwrite(p, size, n, f) == n;
}

/* Read n items and add them to the hash. */
static int get(FILE *f, XXH64_state_t *h, void *p, size_t size, size_t n)
{
    if (!n)
        return 1;
    if (fread(p, size, n, f) != n)
        return 0;
    XXH64_update(h, p, size * n);
    return 1;
}

/* Bytes of the state a checkpoint saves after its record. */
static uint64_t state_bytes(const lh_replay *r)
{
    return r->live_n * sizeof(live_block) + r->n_nodes * sizeof(lh_site) + r->n_regions * sizeof(region)
           + r->n_tids * sizeof(uint32_t);
}

/* Save the state as it is after the EVENTS chunk that ends at next_offset:
 * 1 saved, 0 skipped (too big, or CK_MAX saved already), -1 the sidecar
 * could not be written (the writer is gone then). */
static int save(lh_replay *r, uint64_t next_offset)
{
    struct lh_ckpt_writer *w = r->ckpt;
    uint64_t bytes = state_bytes(r);
    w->last = r->c.events;
    if (bytes > CK_MAX_BYTES || w->count >= CK_MAX)
        return 0;
    ck_record rec = { 'C', 0, next_offset, r->live_n, r->n_nodes, r->n_regions, r->n_tids, r->c };
    XXH64_state_t *h = XXH64_createState();
    int ok = h && XXH64_reset(h, 0) == XXH_OK;
    ok = ok && put(w->f, h, &rec, sizeof(rec), 1);
    for (size_t i = 0; ok && i <= r->live_mask; i++)
        if (r->live[i].addr)
            ok = put(w->f, h, &r->live[i], sizeof(live_block), 1);
    ok = ok && put(w->f, h, r->sites, sizeof(lh_site), r->n_nodes);
    ok = ok && put(w->f, h, r->regions, sizeof(region), r->n_regions);
    ok = ok && put(w->f, h, r->tids, sizeof(uint32_t), r->n_tids);
    uint64_t sum = ok ? XXH64_digest(h) : 0;
    ok = ok && fwrite(&sum, sizeof(sum), 1, w->f) == 1;
    XXH64_freeState(h);
    if (!ok) {
        writer_drop(r); /* a full disk costs the cache, nothing else */
        return -1;
    }
    w->count++;
    w->written += bytes;
    return 1;
}

/* Within the budget: the sidecar may have grown in proportion to the
 * events replayed so far, so a big state spaces the checkpoints out evenly
 * instead of spending the budget on the first part of the trace. */
static int within_budget(const struct lh_ckpt_writer *w, const lh_replay *r)
{
    if (!w->budget || !w->total_events)
        return 1;
    double share = r->c.events >= w->total_events ? 1.0 : (double)r->c.events / (double)w->total_events;
    return (double)(w->written + state_bytes(r)) <= (double)w->budget * share;
}

/* After an EVENTS chunk was applied: save the state if it is time to. */
void lh_replay_checkpoint_maybe(lh_replay *r, uint64_t next_offset)
{
    struct lh_ckpt_writer *w = r->ckpt;
    if (!w)
        return;
    w->last_offset = next_offset;
    w->saved_last = r->c.events - w->last >= w->every && within_budget(w, r) && save(r, next_offset) == 1;
}

void lh_replay_checkpoint_budget(lh_replay *r, uint64_t total_events, uint64_t max_bytes)
{
    if (r->ckpt) {
        r->ckpt->total_events = total_events;
        r->ckpt->budget = max_bytes;
    }
}

/* The pass reached the end: close the sidecar under its real name. */
void lh_replay_checkpoint_finish(lh_replay *r)
{
    struct lh_ckpt_writer *w = r->ckpt;
    if (!w)
        return;
    /* The state after the last event too: the end (--leaks, --stats, the
     * last moments) then starts there and reads only what follows it. */
    if (!r->damage_rc && w->last_offset && !w->saved_last && save(r, w->last_offset) < 0)
        return;
    ck_record rec = { 'E', 0, 0, 0, 0, 0, 0, r->c };
    rec.c.time_us = lh_replay_end_time(r);
    uint64_t sum = XXH64(&rec, sizeof(rec), 0);
    int ok = !r->damage_rc && fwrite(&rec, sizeof(rec), 1, w->f) == 1
             && fwrite(&sum, sizeof(sum), 1, w->f) == 1;
    ok = fclose(w->f) == 0 && ok;
    w->f = NULL;
    if (ok && w->count) {
        /* Only over a sidecar we may replace; where there is none, without
         * replacing one that appeared meanwhile. */
        char why[4400];
        int state = sidecar_state(w->trace, why, sizeof(why));
        if (state < 0)
            ok = renameat2(AT_FDCWD, w->tmp, AT_FDCWD, w->path, RENAME_NOREPLACE) == 0
                 || ((errno == EINVAL || errno == ENOSYS) && link(w->tmp, w->path) == 0 && unlink(w->tmp) == 0);
        else
            ok = state == 1 && rename(w->tmp, w->path) == 0;
    } else {
        ok = 0;
    }
    if (!ok)
        unlink(w->tmp);
    free(w);
    r->ckpt = NULL;
}

/* --- reading ------------------------------------------------------------------ */

typedef struct {
    long pos;               /* of the record in the sidecar */
    ck_record rec;
} ck_entry;

/* Do the sidecar's totals agree with the trace's footer? Its events (the
 * index's too), end time and lost events; the peak and every checkpoint
 * within them. */
static int matches_footer(const char *trace, const ck_record *end, const ck_entry *list, size_t n)
{
    int rc, ok = 0;
    lh_reader *rd = lh_reader_open(trace, &rc);
    const Lh__Footer *f = rd ? lh_reader_index(rd, &rc) : NULL;
    if (f && lh_reader_has_footer(rd)) {
        uint64_t events = 0, last_us = 0;
        for (size_t i = 0; i < f->n_index; i++) {
            events += f->index[i]->events;
            if (f->index[i]->last_time_us > last_us)
                last_us = f->index[i]->last_time_us;
        }
        const lh_counters *c = &end->c;
        ok = c->events == events && (!f->has_events || f->events == events)
             && (c->time_us == f->end_time_us || (c->time_us > f->end_time_us && c->time_us <= last_us))
             && c->lost_events >= f->lost_events && c->peak_event <= c->events && c->peak_time_us <= c->time_us
             && c->live_bytes <= c->peak_bytes;
        for (size_t i = 0; ok && i < n; i++)
            ok = list[i].rec.c.events <= events && list[i].rec.offset < lh_reader_file_size(rd);
    }
    lh_reader_free(rd);
    return ok;
}

/* Checkpoints of a matching sidecar (and its end record); 0 if none. */
static size_t list_checkpoints(const char *trace, FILE **fp, ck_entry *out, ck_record *end)
{
    char path[4200];
    ck_header want, got;
    *fp = NULL;
    if (trace_identity(trace, &want) < 0)
        return 0;
    snprintf(path, sizeof(path), "%s.ckpt", trace);
    /* Only a regular file (opening a FIFO, or reading a terminal, there
     * would wait forever for a cache the replay can do without), and one
     * we may trust (sidecar_trusted), checked on what was opened. */
    struct stat tst, st;
    if (stat(trace, &tst) < 0)
        return 0;
    int fd = open(path, O_RDONLY | O_NONBLOCK | O_NOCTTY | O_NOFOLLOW | O_CLOEXEC);
    if (fd < 0)
        return 0;
    char why[4400];
    FILE *f = fstat(fd, &st) == 0 && sidecar_trusted(&st, tst.st_uid, path, why, sizeof(why)) ? fdopen(fd, "rb")
                                                                                             : NULL;
    if (!f) {
        close(fd);
        return 0;
    }
    size_t n = 0;
    int ended = 0;
    if (fread(&got, sizeof(got), 1, f) == 1 && !memcmp(&got, &want, sizeof(got))) {
        ck_record rec;
        while (!ended && fread(&rec, sizeof(rec), 1, f) == 1) {
            if (rec.tag == 'E') {
                uint64_t sum;
                ended = fread(&sum, sizeof(sum), 1, f) == 1 && sum == XXH64(&rec, sizeof(rec), 0);
                *end = rec;
                break;
            }
            if (rec.tag != 'C' || n == CK_MAX || rec.n_live > (1ull << 34) || rec.n_nodes > (1ull << 32)
                || rec.n_regions > (1ull << 32) || rec.n_tids > (1ull << 20))
                break;
            out[n].pos = ftell(f) - (long)sizeof(rec);
            out[n].rec = rec;
            n++;
            uint64_t skip = rec.n_live * sizeof(live_block) + rec.n_nodes * sizeof(lh_site)
                            + rec.n_regions * sizeof(region) + rec.n_tids * sizeof(uint32_t)
                            + sizeof(uint64_t);
            if (fseek(f, (long)skip, SEEK_CUR) != 0)
                break;
        }
    }
    if (!ended || !matches_footer(trace, end, out, n)) {
        fclose(f);
        return 0;
    }
    *fp = f;
    return n;
}

int lh_checkpoint_final(const char *trace, lh_counters *out)
{
    FILE *f;
    static ck_entry list[CK_MAX];
    ck_record end;
    list_checkpoints(trace, &f, list, &end);
    if (!f)
        return 0;
    fclose(f);
    *out = end.c;
    return 1;
}

/* File offset of the nth marker labelled label, from the index. */
static int marker_offset(lh_replay *r, const Lh__Footer *idx, const char *label, uint64_t nth, uint64_t *off)
{
    uint64_t seen = 0;
    for (size_t i = 0; i < idx->n_index; i++) {
        if (idx->index[i]->type != LH_CHUNK_MARKER)
            continue;
        lh_chunk ch;
        if (lh_reader_seek(r->rd, idx->index[i]->offset) < 0 || lh_reader_next(r->rd, &ch) != 1 || !ch.msg)
            return -1;
        lh_read_stats_add(&r->read, &ch);
        const Lh__Marker *m = (const Lh__Marker *)ch.msg;
        if (m->label && !strcmp(m->label, label) && seen++ == nth) {
            *off = idx->index[i]->offset;
            return 0;
        }
    }
    return -1;
}

int lh_replay_restore(lh_replay *r, const char *trace, int kind, uint64_t value, const char *label)
{
    if (r->c.events || r->n_nodes > 1)
        return 0; /* only a fresh replay */
    FILE *f;
    static ck_entry list[CK_MAX];
    ck_record end;
    size_t n = list_checkpoints(trace, &f, list, &end);
    if (!f)
        return 0;
    int rc;
    const Lh__Footer *idx = lh_reader_index(r->rd, &rc);
    uint64_t limit_off = UINT64_MAX;
    if (!idx || (kind == LH_AT_MARK && marker_offset(r, idx, label, value, &limit_off) < 0)) {
        fclose(f);
        lh_reader_seek(r->rd, 16);
        return 0;
    }
    const ck_entry *best = NULL;
    for (size_t i = 0; i < n; i++) {
        const ck_record *c = &list[i].rec;
        int fits = kind == LH_AT_END || (kind == LH_AT_EVENT && c->c.events <= value)
                   || (kind == LH_AT_TIME && c->c.time_us <= value)
                   || (kind == LH_AT_MARK && c->offset <= limit_off);
        if (fits)
            best = &list[i];
    }
    if (!best) {
        fclose(f);
        lh_reader_seek(r->rd, 16);
        return 0;
    }

    /* Everything before the checkpoint that is not an event. */
    uint64_t events = 0;
    for (size_t i = 0; i < idx->n_index && idx->index[i]->offset < best->rec.offset; i++) {
        const Lh__IndexEntry *e = idx->index[i];
        if (e->type == LH_CHUNK_EVENTS) {
            events += e->events;
            continue;
        }
        lh_chunk ch;
        if (lh_reader_seek(r->rd, e->offset) < 0 || lh_reader_next(r->rd, &ch) != 1)
            goto fail;
        lh_read_stats_add(&r->read, &ch);
        r->c.events = events; /* markers remember where they sit */
        if (ch.msg && lh_replay_take_chunk(r, &ch, -1, NULL, 0) < 0)
            goto fail; /* damage before the checkpoint: not this sidecar's trace */
    }
    const ck_record *c = &best->rec;
    if (events != c->c.events || r->n_nodes != c->n_nodes)
        goto fail; /* the sidecar does not describe this trace */

    /* The state itself, hashed as it is read. */
    XXH64_state_t *h = XXH64_createState();
    if (!h || XXH64_reset(h, 0) != XXH_OK)
        goto fail_hash;
    XXH64_update(h, c, sizeof(*c));
    if (fseek(f, best->pos + (long)sizeof(ck_record), SEEK_SET) != 0)
        goto fail_hash;
    size_t cap = 1u << 16;
    while (cap < c->n_live * 4 + 4) /* a quarter full at most, as do_alloc keeps it */
        cap *= 2;
    free(r->live);
    r->live = calloc(cap, sizeof(live_block));
    if (!r->live)
        goto fail_hash;
    r->live_mask = cap - 1;
    r->live_n = 0;
    for (uint64_t i = 0; i < c->n_live; i++) {
        live_block b;
        if (!get(f, h, &b, sizeof(b), 1) || !b.addr || b.stack >= c->n_nodes)
            goto fail_hash;
        lh_replay_live_insert(r, &b);
    }
    if (!get(f, h, r->sites, sizeof(lh_site), c->n_nodes))
        goto fail_hash;
    if (c->n_regions) {
        region *g = realloc(r->regions, c->n_regions * sizeof(region));
        if (!g)
            goto fail_hash;
        r->regions = g;
        r->cap_regions = c->n_regions;
        if (!get(f, h, r->regions, sizeof(region), c->n_regions))
            goto fail_hash;
        /* The sidecar is a file like any other: every index it holds is
         * checked before use (sorted, non-overlapping, known stacks). */
        for (uint64_t i = 0; i < c->n_regions; i++) {
            const region *x = &r->regions[i];
            if (x->start >= x->end || x->stack >= c->n_nodes || (i && x->start < r->regions[i - 1].end))
                goto fail_hash;
        }
    }
    r->n_regions = c->n_regions;
    if (c->n_tids) {
        uint32_t *t = realloc(r->tids, c->n_tids * sizeof(uint32_t));
        if (!t)
            goto fail_hash;
        r->tids = t;
        r->cap_tids = c->n_tids;
        if (!get(f, h, r->tids, sizeof(uint32_t), c->n_tids))
            goto fail_hash;
    }
    r->n_tids = c->n_tids;
    uint64_t sum;
    if (fread(&sum, sizeof(sum), 1, f) != 1 || sum != XXH64_digest(h))
        goto fail_hash;
    XXH64_freeState(h);
    r->c = c->c;
    fclose(f);
    if (lh_reader_seek(r->rd, c->offset) < 0)
        return -1;
    r->have_events = 0;
    return 1;
fail_hash:
    XXH64_freeState(h);
fail:
    fclose(f);
    return -1; /* state is half-loaded: the caller starts over */
}
