/*
 * top.c - the live view of a recording (top.h).
 *
 * Work per poll is the events appended since the last one: the replay
 * goes on from where it stopped, in steps of STEP_EVENTS (so a poll keeps
 * to its time budget while it catches up with a long trace) that also stop
 * at each marker, where the baseline is taken. Symbols are looked up once
 * per address (lh_symbols caches), so a refresh costs the grouping of the
 * stacks that hold something, not their symbolization again.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "top.h"

#define STEP_EVENTS 65536
#define HISTORY 512   /* heap history buckets */

struct lh_top {
    lh_replay *r;
    lh_symbols *sym;
    size_t maps_added, py_added;
    int state, caught_up;
    /* baseline: live bytes and blocks per stack (stacks after n_base: 0) */
    int64_t *base_bytes, *base_count;
    size_t n_base;
    char base_label[256];
    uint64_t base_time;
    /* heap history: hist[i] is the highest heap in [i*width, (i+1)*width) µs */
    uint64_t hist[HISTORY];
    uint64_t width;
    size_t n_hist;
};

static uint64_t mono_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

lh_top *lh_top_open(int fd, const char *name, uint32_t owner_uid, char *err, size_t errcap)
{
    lh_replay *r = lh_replay_open_follow(fd, name, err, errcap);
    if (!r)
        return NULL;
    lh_top *t = calloc(1, sizeof(*t));
    lh_symbols *sym = lh_symbols_new();
    if (!t || !sym) {
        free(t);
        lh_symbols_free(sym);
        lh_replay_free(r);
        snprintf(err, errcap, "out of memory");
        return NULL;
    }
    t->r = r;
    t->sym = sym;
    t->width = 100000; /* 0.1 s per bucket to begin with */
    lh_symbols_set_owner(sym, owner_uid);
    snprintf(t->base_label, sizeof(t->base_label), "start");
    return t;
}

void lh_top_free(lh_top *t)
{
    if (!t)
        return;
    lh_replay_free(t->r);
    lh_symbols_free(t->sym);
    free(t->base_bytes);
    free(t->base_count);
    free(t);
}

/* 0, or LH_E_NOMEM with the baseline as it was. */
static int take_baseline(lh_top *t, const char *label)
{
    size_t n;
    const lh_site *s = lh_replay_sites(t->r, &n);
    int64_t *bytes = realloc(t->base_bytes, (n ? n : 1) * sizeof(int64_t));
    if (bytes)
        t->base_bytes = bytes;
    int64_t *count = bytes ? realloc(t->base_count, (n ? n : 1) * sizeof(int64_t)) : NULL;
    if (count)
        t->base_count = count;
    if (!count) /* each array still holds n_base numbers */
        return LH_E_NOMEM;
    for (size_t i = 0; i < n; i++) {
        t->base_bytes[i] = s[i].live_bytes;
        t->base_count[i] = s[i].live_count;
    }
    t->n_base = n;
    t->base_time = lh_replay_counters(t->r)->time_us;
    snprintf(t->base_label, sizeof(t->base_label), "%s", label);
    return 0;
}

int lh_top_set_baseline(lh_top *t)
{
    char label[64];
    snprintf(label, sizeof(label), "%.1fs", lh_replay_counters(t->r)->time_us / 1e6);
    return take_baseline(t, label);
}

const char *lh_top_baseline(const lh_top *t, uint64_t *time_us)
{
    if (time_us)
        *time_us = t->base_time;
    return t->base_label;
}

/* The heap at trace time now goes into its bucket; when the buckets run
 * out, pairs merge and each covers twice the time. */
static void note_history(lh_top *t)
{
    const lh_counters *c = lh_replay_counters(t->r);
    uint64_t i = c->time_us / t->width;
    while (i >= HISTORY) {
        for (size_t k = 0; k < HISTORY / 2; k++)
            t->hist[k] = t->hist[2 * k] > t->hist[2 * k + 1] ? t->hist[2 * k] : t->hist[2 * k + 1];
        memset(t->hist + HISTORY / 2, 0, sizeof(t->hist) / 2);
        t->n_hist = (t->n_hist + 1) / 2;
        t->width *= 2;
        i = c->time_us / t->width;
    }
    if (c->live_bytes > t->hist[i])
        t->hist[i] = c->live_bytes;
    /* A bucket with nothing in it holds on to the heap before it. */
    for (size_t k = t->n_hist ? t->n_hist : 1; k < i; k++)
        if (!t->hist[k])
            t->hist[k] = t->hist[k - 1];
    if (i + 1 > t->n_hist)
        t->n_hist = (size_t)i + 1;
}

/* New module maps and Python frames go to the symbolizer as they come.
 * 0, or LH_E_NOMEM. */
static int feed_symbols(lh_top *t)
{
    size_t n;
    const Lh__ModuleMap *const *maps = lh_replay_module_maps(t->r, &n);
    for (; t->maps_added < n; t->maps_added++)
        if (lh_symbols_add_map(t->sym, maps[t->maps_added], (uint32_t)t->maps_added + 1) < 0)
            return LH_E_NOMEM;
    const Lh__PyFrames *const *py = lh_replay_pyframes(t->r, &n);
    for (; t->py_added < n; t->py_added++)
        if (lh_symbols_add_pyframes(t->sym, py[t->py_added]) < 0)
            return LH_E_NOMEM;
    const Lh__ProcessInfo *pi = lh_replay_process(t->r);
    if (pi)
        lh_symbols_set_pid(t->sym, pi->pid);
    return 0;
}

int lh_top_poll(lh_top *t, unsigned budget_ms)
{
    uint64_t start = mono_ms();
    t->caught_up = 0;
    while (t->state == LH_TOP_LIVE) {
        size_t marks_before;
        lh_replay_markers(t->r, &marks_before);
        int rc = lh_replay_advance(t->r, LH_AT_NEXT_MARK, lh_replay_counters(t->r)->events + STEP_EVENTS, NULL);
        if (rc == LH_E_NOMEM)
            return rc;
        note_history(t);
        size_t n_marks;
        const lh_marker *m = lh_replay_markers(t->r, &n_marks);
        if (n_marks > marks_before) {
            char label[256];
            snprintf(label, sizeof(label), "mark:%s", m[n_marks - 1].label);
            if (take_baseline(t, label) < 0)
                return LH_E_NOMEM;
        }
        if (rc < 0 || lh_replay_damage(t->r, NULL)) {
            t->state = LH_TOP_DAMAGED;
        } else if (rc == 0) {
            t->state = LH_TOP_ENDED;
        } else if (rc == LH_REPLAY_PENDING) {
            t->caught_up = 1;
            break;
        }
        if (budget_ms && mono_ms() - start >= budget_ms)
            break;
    }
    if (t->state != LH_TOP_LIVE)
        t->caught_up = 1;
    if (feed_symbols(t) < 0)
        return LH_E_NOMEM;
    return t->state;
}

int lh_top_caught_up(const lh_top *t) { return t->caught_up; }
const char *lh_top_damage(const lh_top *t) { return lh_replay_damage(t->r, NULL); }
const lh_replay *lh_top_replay(const lh_top *t) { return t->r; }
const lh_counters *lh_top_counters(const lh_top *t) { return lh_replay_counters(t->r); }
uint64_t lh_top_time_us(const lh_top *t) { return lh_replay_counters(t->r)->time_us; }

uint64_t lh_top_trace_rss(const lh_top *t)
{
    size_t n;
    const lh_rss *s = lh_replay_rss(t->r, &n);
    return n ? s[n - 1].rss_bytes : 0;
}

const uint64_t *lh_top_history(const lh_top *t, size_t *n)
{
    *n = t->n_hist;
    return t->hist;
}

static int by_growth_desc(const void *a, const void *b)
{
    const lh_row *x = a, *y = b;
    int64_t gx = x->v[V_BYTES] - x->v[V_BASE_BYTES], gy = y->v[V_BYTES] - y->v[V_BASE_BYTES];
    if (gx != gy)
        return gx > gy ? -1 : 1;
    if (x->v[V_BYTES] != y->v[V_BYTES])
        return x->v[V_BYTES] > y->v[V_BYTES] ? -1 : 1;
    return strcmp(x->key, y->key);
}

lh_row *lh_top_rows(lh_top *t, int by, const char *filter, size_t *n_rows)
{
    size_t n;
    const lh_site *s = lh_replay_sites(t->r, &n);
    lh_sample *smp = malloc((n ? n : 1) * sizeof(lh_sample));
    if (!smp)
        return NULL;
    size_t k = 0;
    for (size_t i = 0; i < n; i++) {
        int64_t bb = i < t->n_base ? t->base_bytes[i] : 0, bc = i < t->n_base ? t->base_count[i] : 0;
        if (!s[i].live_bytes && !s[i].live_count && !bb && !bc)
            continue;
        lh_sample *o = &smp[k++];
        memset(o, 0, sizeof(*o));
        o->r = t->r;
        o->sym = t->sym;
        o->stack = (uint32_t)i;
        o->v[V_BYTES] = s[i].live_bytes;
        o->v[V_COUNT] = s[i].live_count;
        o->v[V_ALLOC_BYTES] = s[i].alloc_bytes;
        o->v[V_ALLOC_COUNT] = s[i].alloc_count;
        o->v[V_BASE_BYTES] = bb;
        o->v[V_BASE_COUNT] = bc;
    }
    lh_row *rows = lh_group(smp, k, by, filter && *filter ? filter : NULL, n_rows);
    free(smp);
    if (rows)
        qsort(rows, *n_rows, sizeof(lh_row), by_growth_desc);
    return rows;
}
