/*
 * replay.c - the replay engine: events in, live heap and per-stack totals out.
 */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "grow.h"
#include "prefetch.h"
#include "replay_int.h"

/* Out of memory, the engine does not end the program: the replay is out
 * of memory for good (r->nomem), what failed is left undone, and
 * lh_replay_advance returns LH_E_NOMEM at the end of the chunk; the
 * program decides (leakhunt-replay: exit status 4). */

/* Room for element n of *arr (grow.h): 0, or -1 with *arr unchanged and
 * the replay out of memory. */
static int grow(lh_replay *r, void **arr, size_t n, size_t *cap, size_t sz, size_t init)
{
    if (lh_grow(arr, n, cap, sz, init) == 0)
        return 0;
    r->nomem = 1;
    return -1;
}
#define GROW(r, arr, n, cap, init) grow((r), (void **)&(arr), (n), &(cap), sizeof(*(arr)), (init))

/* Own a copy of a reader-owned message; NULL when memory ran out. */
static ProtobufCMessage *copy_message(const ProtobufCMessage *m)
{
    size_t len = protobuf_c_message_get_packed_size(m);
    uint8_t *buf = malloc(len ? len : 1);
    if (!buf)
        return NULL;
    protobuf_c_message_pack(m, buf);
    ProtobufCMessage *c = protobuf_c_message_unpack(m->descriptor, NULL, len, buf);
    free(buf);
    return c;
}

/* A replay over reader rd (which it owns from here, on failure too). */
static lh_replay *replay_new(lh_reader *rd, const char *path, int follow_fd, char *err, size_t errcap)
{
    lh_replay *r = calloc(1, sizeof(*r));
    if (!r) {
        lh_reader_free(rd);
        if (follow_fd >= 0)
            close(follow_fd);
        snprintf(err, errcap, "out of memory");
        errno = ENOMEM;
        return NULL;
    }
    r->rd = rd;
    r->follow_fd = follow_fd;
    r->path = path ? strdup(path) : NULL;
    /* Small at first, doubled when a quarter full: a 2 MB table for a live
     * set of a few hundred blocks cost a cache miss per event, and a table
     * half full long probe chains (python: 27% more mispredicted branches). */
    r->live_mask = (1u << 10) - 1;
    r->live = calloc(r->live_mask + 1, sizeof(live_block));
    r->temporary_us = 1000;
    r->n_nodes = 1; /* node 0: the empty stack */
    r->cap_nodes = 1024;
    r->node_parent = calloc(r->cap_nodes, sizeof(uint32_t));
    r->node_ip = calloc(r->cap_nodes, sizeof(uint64_t));
    r->sites = calloc(r->cap_nodes, sizeof(lh_site));
    if (!r->live || !r->node_parent || !r->node_ip || !r->sites || (path && !r->path)) {
        lh_replay_free(r);
        snprintf(err, errcap, "out of memory");
        errno = ENOMEM;
        return NULL;
    }
    return r;
}

lh_replay *lh_replay_open(const char *path, char *err, size_t errcap)
{
    int rc;
    lh_reader *rd = lh_reader_open(path, &rc);
    if (!rd) {
        snprintf(err, errcap, "%s: %s", path, rc == LH_E_IO ? "cannot open" : lh_rc_name(rc));
        errno = rc == LH_E_NOMEM ? ENOMEM : EINVAL;
        return NULL;
    }
    return replay_new(rd, path, -1, err, errcap);
}

lh_replay *lh_replay_open_follow(int fd, const char *name, char *err, size_t errcap)
{
    int rc;
    lh_reader *rd = lh_reader_open_fd(fd, &rc);
    if (!rd) {
        snprintf(err, errcap, "%s: %s", name, rc == LH_E_IO ? "cannot read" : lh_rc_name(rc));
        close(fd);
        errno = rc == LH_E_NOMEM ? ENOMEM : EINVAL;
        return NULL;
    }
    lh_reader_set_follow(rd, 1);
    return replay_new(rd, NULL, fd, err, errcap);
}

void lh_replay_free(lh_replay *r)
{
    if (!r)
        return;
    lh_replay_checkpoint_free(r);
    lh_prefetch_stop(r->pf, &r->read);
    if (r->read_out)
        *r->read_out = r->read;
    lh_reader_free(r->rd);
    if (r->follow_fd >= 0)
        close(r->follow_fd);
    free(r->path);
    free(r->live);
    free(r->node_parent);
    free(r->node_ip);
    free(r->sites);
    free(r->regions);
    for (size_t i = 0; i < r->n_marks; i++)
        free(r->marks[i].label);
    free(r->marks);
    free(r->rss);
    free(r->timeline);
    for (size_t i = 0; i < r->n_maps; i++)
        protobuf_c_message_free_unpacked(&r->maps[i]->base, NULL);
    free(r->maps);
    for (size_t i = 0; i < r->n_pyframes; i++)
        protobuf_c_message_free_unpacked(&r->pyframes[i]->base, NULL);
    free(r->pyframes);
    if (r->process)
        protobuf_c_message_free_unpacked(&r->process->base, NULL);
    free(r->tids);
    free(r->tids_sorted);
    free(r->only_threads);
    free(r);
}

void lh_replay_set_temporary_us(lh_replay *r, uint64_t us) { r->temporary_us = us; }

int lh_replay_set_threads(lh_replay *r, const uint64_t *ids, size_t n)
{
    free(r->only_threads);
    r->only_threads = NULL;
    r->n_only_threads = 0;
    if (!n)
        return 0;
    if (!(r->only_threads = malloc(n * sizeof(*ids))))
        return LH_E_NOMEM;
    memcpy(r->only_threads, ids, n * sizeof(*ids));
    r->n_only_threads = n;
    return 0;
}

void lh_replay_set_alloc_hook(lh_replay *r, lh_alloc_hook fn, void *ctx)
{
    r->alloc_hook = fn;
    r->alloc_hook_ctx = ctx;
}

/* Whether events of thread index t count (lh_replay_set_threads). A
 * ThreadInfo comes before the first event of its thread (FORMAT.md), so
 * the tid is known here; a short list, scanned per event only when set. */
static int thread_kept(const lh_replay *r, uint32_t t)
{
    if (!r->n_only_threads)
        return 1;
    uint32_t tid = t < r->n_tids ? r->tids[t] : 0;
    for (size_t i = 0; i < r->n_only_threads; i++)
        if (r->only_threads[i] == t || (tid && r->only_threads[i] == tid))
            return 1;
    return 0;
}
void lh_replay_set_timeline(lh_replay *r, uint64_t every) { r->timeline_every = every; }

/* --- live set: linear probing, backward-shift deletion ------------------ */

/* The per-event path's table keeps the blocks in its slots instead of
 * being an analyze/idtable.h of ids into an array of blocks: a probe here
 * compares in the slot it loaded, there it loads a slot, then the block.
 * Measured against idtable.h (a free list for the holes; --leaks
 * --no-checkpoints, task-clock medians of 15 alternating runs on a loaded
 * 2-core VM): the churn trace of 4 M events 315 ms here, 297 ms on
 * idtable.h (noise); the CPython bench trace (alloc_heavy.py, 3.5 M
 * events) 280 ms here, 349 ms at idtable.h's half load, 305 ms kept a
 * quarter full (cachegrind: 1.135, 1.258 and 1.213 G instructions). A
 * trace of 2 M blocks all live goes the other way, 1015 ms here against
 * 461 ms at half load: a block takes 128 bytes of this table a quarter
 * full, 40 there. */

static inline size_t slot_of(const lh_replay *r, uint64_t addr)
{
    return (size_t)((addr * 0x9E3779B97F4A7C15ull) >> 17) & r->live_mask;
}

void lh_replay_live_insert(lh_replay *r, const live_block *b)
{
    size_t j = slot_of(r, b->addr);
    while (r->live[j].addr)
        j = (j + 1) & r->live_mask;
    r->live[j] = *b;
    r->live_n++;
}

/* Twice the slots. 0, or -1 with the set unchanged (and r->nomem set). */
static int live_grow(lh_replay *r)
{
    size_t old_cap = r->live_mask + 1, cap = old_cap * 2;
    live_block *old = r->live;
    r->live = calloc(cap, sizeof(live_block));
    if (!r->live) {
        r->live = old;
        r->nomem = 1;
        return -1;
    }
    r->live_mask = cap - 1;
    for (size_t i = 0; i < old_cap; i++) {
        if (!old[i].addr)
            continue;
        size_t j = slot_of(r, old[i].addr);
        while (r->live[j].addr)
            j = (j + 1) & r->live_mask;
        r->live[j] = old[i];
    }
    free(old);
    return 0;
}

static live_block *live_find(lh_replay *r, uint64_t addr)
{
    size_t j = slot_of(r, addr);
    while (r->live[j].addr) {
        if (r->live[j].addr == addr)
            return &r->live[j];
        j = (j + 1) & r->live_mask;
    }
    return NULL;
}

static void live_remove(lh_replay *r, live_block *b)
{
    size_t i = (size_t)(b - r->live);
    r->live[i].addr = 0;
    r->live_n--;
    size_t j = i;
    for (;;) {
        j = (j + 1) & r->live_mask;
        if (!r->live[j].addr)
            return;
        size_t home = slot_of(r, r->live[j].addr);
        /* Move j back to i if its home is not in (i, j]. */
        if ((j > i && (home <= i || home > j)) || (j < i && (home <= i && home > j))) {
            r->live[i] = r->live[j];
            r->live[j].addr = 0;
            i = j;
        }
    }
}

/* Room for node id. 0, or LH_E_NOMEM (arrays that did grow are kept,
 * cap_nodes is not moved). */
static int ensure_site(lh_replay *r, uint32_t id)
{
    if (id < r->cap_nodes)
        return 0;
    size_t old = r->cap_nodes;
    size_t cap = old;
    while (cap <= id)
        cap *= 2;
    void *p;
    if (!(p = realloc(r->node_parent, cap * sizeof(uint32_t))))
        return LH_E_NOMEM;
    r->node_parent = p;
    if (!(p = realloc(r->node_ip, cap * sizeof(uint64_t))))
        return LH_E_NOMEM;
    r->node_ip = p;
    if (!(p = realloc(r->sites, cap * sizeof(lh_site))))
        return LH_E_NOMEM;
    r->sites = p;
    memset(r->node_parent + old, 0, (cap - old) * sizeof(uint32_t));
    memset(r->node_ip + old, 0, (cap - old) * sizeof(uint64_t));
    memset(r->sites + old, 0, (cap - old) * sizeof(lh_site));
    r->cap_nodes = cap;
    return 0;
}

/* Per-stack sums wrap rather than overflow (UB): a hostile trace can carry
 * sizes near 2^64. */
static inline void add64(int64_t *a, uint64_t b) { *a = (int64_t)((uint64_t)*a + b); }
static inline void sub64(int64_t *a, uint64_t b) { *a = (int64_t)((uint64_t)*a - b); }

static void note_peak(lh_replay *r, uint64_t time_us)
{
    if (r->c.live_bytes > r->c.peak_bytes) {
        r->c.peak_bytes = r->c.live_bytes;
        r->c.peak_time_us = time_us;
        r->c.peak_event = r->c.events + 1; /* after this event */
    }
}

/* What one recorded block stands for. Exact traces: itself. Sampled ones
 * (--sample T): a block of s < T bytes was recorded with probability
 * p = 1 - exp(-s/T), so it counts 1/p blocks and s/p bytes, the unbiased
 * estimator of pprof and tcmalloc; blocks of T or more were always
 * recorded. The same block always weighs the same, so a free takes away
 * exactly what its allocation added. */
static inline void weigh(const lh_replay *r, uint64_t size, uint64_t *bytes, uint64_t *count, int plain)
{
    if (plain || __builtin_expect(!r->sample, 1) || size >= r->sample || !size) {
        *bytes = size;
        *count = 1;
        return;
    }
    double w = -1.0 / expm1(-(double)size / (double)r->sample);
    *bytes = (uint64_t)llround((double)size * w);
    *count = (uint64_t)llround(w);
}

/* The per-event functions take PLAIN, a constant wherever they are
 * inlined: set for a replay without a thread filter, timeline, allocation
 * hook or sampling (nearly every one), which then skips their checks per
 * event (lh_replay_advance picks; 10% of a replay's instructions). */
#define PER_EVENT static inline __attribute__((always_inline))

PER_EVENT void do_alloc(lh_replay *r, uint64_t addr, uint64_t size, uint32_t stack, uint64_t t, uint32_t dom,
                        int plain)
{
    int hidden = stack == LH_HIDDEN_STACK;
    if ((r->live_n + 1) * 4 > r->live_mask && live_grow(r) < 0)
        return;
    /* One probe finds the address or the empty slot it goes to. */
    size_t j = slot_of(r, addr);
    while (r->live[j].addr && r->live[j].addr != addr)
        j = (j + 1) & r->live_mask;
    live_block *b = &r->live[j];
    uint64_t wb, wc;
    if (b->addr) { /* the trace missed a free: count it, keep the newer block */
        if (b->stack != LH_HIDDEN_STACK) {
            r->c.reused_live++;
            lh_site *s = &r->sites[b->stack];
            weigh(r, b->size, &wb, &wc, plain);
            sub64(&s->live_bytes, wb);
            s->live_count -= (int64_t)wc;
            r->c.live_bytes -= wb;
            r->c.live_count -= wc;
        }
        live_remove(r, b);
        lh_replay_live_insert(r, &(live_block){ addr, size, t, stack });
    } else {
        *b = (live_block){ addr, size, t, stack };
        r->live_n++;
    }
    if (hidden)
        return;
    weigh(r, size, &wb, &wc, plain);
    lh_site *s = &r->sites[stack];
    if (__builtin_expect(!s->map, 0))
        s->map = (uint32_t)r->n_maps;
    add64(&s->live_bytes, wb);
    s->live_count += (int64_t)wc;
    add64(&s->alloc_bytes, wb);
    s->alloc_count += (int64_t)wc;
    r->c.live_bytes += wb;
    r->c.live_count += wc;
    r->c.allocations += wc;
    r->c.bytes_allocated += wb;
    if (dom >= LH_DOM_PY_RAW && dom <= LH_DOM_PY_OBJ) {
        r->c.py_allocations += wc;
        r->c.py_bytes_allocated += wb;
    }
    note_peak(r, t);
    if (!plain && r->alloc_hook)
        r->alloc_hook(r->alloc_hook_ctx, size, wc, wb, stack);
}

/* A free: the blocks it stands for (1 when its address is unknown: a
 * block from before the recording), or -1 if it was a block of a thread
 * left out (released too, and counted nowhere). */
PER_EVENT int64_t do_free(lh_replay *r, uint64_t addr, uint64_t t, int plain)
{
    live_block *b = live_find(r, addr);
    if (!b) {
        r->c.unknown_frees++;
        return 1;
    }
    if (b->stack == LH_HIDDEN_STACK) {
        live_remove(r, b);
        return -1;
    }
    uint64_t wb, wc;
    weigh(r, b->size, &wb, &wc, plain);
    lh_site *s = &r->sites[b->stack];
    sub64(&s->live_bytes, wb);
    s->live_count -= (int64_t)wc;
    if (t - b->time_us <= r->temporary_us) {
        s->freed_soon_count += (int64_t)wc;
        add64(&s->freed_soon_bytes, wb);
    }
    r->c.live_bytes -= wb;
    r->c.live_count -= wc;
    live_remove(r, b);
    return (int64_t)wc;
}

/* --- anonymous mappings: sorted, non-overlapping regions ------------------ */

static void region_cut(lh_replay *r, uint64_t a, uint64_t b)
{
    for (size_t i = 0; i < r->n_regions;) {
        region *g = &r->regions[i];
        if (g->end <= a || g->start >= b) {
            i++;
            continue;
        }
        uint64_t lo = g->start > a ? g->start : a, hi = g->end < b ? g->end : b;
        if (g->arena) {
            r->c.arena_live_bytes -= hi - lo;
        } else {
            sub64(&r->sites[g->stack].mmap_bytes, hi - lo);
            r->c.mmap_live_bytes -= hi - lo;
        }
        if (g->start < a && g->end > b) { /* split in two */
            if (GROW(r, r->regions, r->n_regions + 1, r->cap_regions, 64) < 0)
                return;
            g = &r->regions[i];
            memmove(g + 1, g, (r->n_regions - i) * sizeof(region));
            r->n_regions++;
            g[0].end = a;
            g[1].start = b;
            return;
        }
        if (g->start < a) { g->end = a; i++; continue; }
        if (g->end > b) { g->start = b; i++; continue; }
        if (!g->arena)
            r->sites[g->stack].mmap_count--;
        memmove(g, g + 1, (r->n_regions - i - 1) * sizeof(region));
        r->n_regions--;
    }
}

/* An anonymous mapping; an arena (a CPython allocator's own, FORMAT.md
 * 4.1) is counted apart from the program's mappings and from every view. */
static void region_add(lh_replay *r, uint64_t a, uint64_t size, uint32_t stack, int arena)
{
    if (!size || a + size < a)
        return;
    region_cut(r, a, a + size);
    if (GROW(r, r->regions, r->n_regions + 1, r->cap_regions, 64) < 0)
        return;
    size_t i = r->n_regions;
    while (i > 0 && r->regions[i - 1].start > a)
        i--;
    memmove(&r->regions[i + 1], &r->regions[i], (r->n_regions - i) * sizeof(region));
    r->regions[i] = (region){ a, a + size, stack, arena != 0 };
    r->n_regions++;
    if (arena) {
        r->c.arena_regions++;
        r->c.arena_bytes += size;
        r->c.arena_live_bytes += size;
        if (r->c.arena_live_bytes > r->c.arena_peak_bytes)
            r->c.arena_peak_bytes = r->c.arena_live_bytes;
        return;
    }
    add64(&r->sites[stack].mmap_bytes, size);
    r->sites[stack].mmap_count++;
    if (!r->sites[stack].map)
        r->sites[stack].map = (uint32_t)r->n_maps;
    r->c.mmap_regions++;
    r->c.mmap_bytes += size;
    r->c.mmap_live_bytes += size;
}

/* --- events ------------------------------------------------------------------- */

PER_EVENT void apply(lh_replay *r, const lh_event *e, int plain)
{
    uint32_t stack = e->stack < r->n_nodes ? e->stack : 0;
    int kept = plain || thread_kept(r, e->thread);
    int64_t freed;
    switch (e->kind) {
    case LH_EV_ALLOC:
        do_alloc(r, e->addr, e->size, kept ? stack : LH_HIDDEN_STACK, e->time_us, e->domain, plain);
        break;
    case LH_EV_FREE:
        /* a free counts when its block does (or is unknown) */
        if ((freed = do_free(r, e->addr, e->time_us, plain)) >= 0)
            r->c.frees += (uint64_t)freed;
        break;
    case LH_EV_REALLOC:
        /* realloc is an allocation and a free, as valgrind counts it */
        if ((freed = do_free(r, e->old_addr, e->time_us, plain)) >= 0 && kept)
            r->c.frees += (uint64_t)freed;
        if (kept)
            r->c.reallocs++;
        do_alloc(r, e->addr, e->size, kept ? stack : LH_HIDDEN_STACK, e->time_us, e->domain, plain);
        break;
    case LH_EV_MMAP:
        if (kept)
            region_add(r, e->addr, e->size, stack, e->domain == LH_DOM_PY_ARENA);
        break;
    case LH_EV_MUNMAP:
        if (e->addr + e->size >= e->addr)
            region_cut(r, e->addr, e->addr + e->size);
        break;
    }
    r->c.events++;
    r->c.time_us = e->time_us;
    if (!plain && r->timeline_every && (r->n_timeline == 0 || e->time_us >= r->timeline_last + r->timeline_every)) {
        if (GROW(r, r->timeline, r->n_timeline * 2 + 2, r->cap_timeline, 1024) < 0)
            return;
        r->timeline[r->n_timeline * 2] = e->time_us;
        r->timeline[r->n_timeline * 2 + 1] = r->c.live_bytes;
        r->n_timeline++;
        r->timeline_last = e->time_us;
    }
}

/* Nodes that do not continue the table are damage (FORMAT.md 4.2), like a
 * chunk that does not decode: the replay ends before them, with a message.
 * The reader refuses tables that are wrong in themselves; checked again
 * here because every walk up node_parent relies on parents below ids. */
static int take_stacks(lh_replay *r, const lh_chunk *ch)
{
    const Lh__StackNodes *m = (const Lh__StackNodes *)ch->msg;
    uint64_t next = r->n_nodes;
    int bad = lh_stack_nodes_check(m) < 0;
    if (bad || lh_stack_nodes_continue(m, &next) < 0) {
        r->damage_rc = LH_E_STACKS;
        r->damage_off = ch->offset;
        if (bad)
            snprintf(r->damage_msg, sizeof(r->damage_msg), "%s at offset %llu", lh_rc_name(LH_E_STACKS),
                     (unsigned long long)ch->offset);
        else
            snprintf(r->damage_msg, sizeof(r->damage_msg),
                     "%s at offset %llu: its first id is %u, not %zu (ids must continue the table)",
                     lh_rc_name(LH_E_STACKS), (unsigned long long)ch->offset, m->first_id, r->n_nodes);
        return LH_E_STACKS;
    }
    if (next == r->n_nodes)
        return 0;
    if (ensure_site(r, (uint32_t)(next - 1)) < 0)
        return LH_E_NOMEM;
    for (size_t i = 0; i < m->n_parents; i++) {
        r->node_parent[r->n_nodes + i] = m->parents[i];
        r->node_ip[r->n_nodes + i] = m->ips[i];
    }
    r->n_nodes = next;
    return 0;
}

/* 0, or LH_E_NOMEM. */
static int take_thread(lh_replay *r, const Lh__ThreadInfo *t)
{
    if (t->index > 1u << 20)
        return 0;
    if (t->index >= r->n_tids) {
        size_t n = t->index + 1, cap = r->cap_tids;
        /* geometric: a trace may name a million; tids_sorted keeps up, so
         * counting them needs no memory */
        if (GROW(r, r->tids, n, r->cap_tids, 16) < 0)
            return LH_E_NOMEM;
        if (r->cap_tids != cap) {
            void *p = realloc(r->tids_sorted, r->cap_tids * sizeof(uint32_t));
            if (!p) {
                r->cap_tids = cap; /* the bigger tids is just not used */
                r->nomem = 1;
                return LH_E_NOMEM;
            }
            r->tids_sorted = p;
        }
        memset(r->tids + r->n_tids, 0, (n - r->n_tids) * sizeof(uint32_t));
        r->n_tids = n;
    }
    r->tids[t->index] = t->tid ? t->tid : 1;
    return 0;
}

static int label_matches(const char *a, const char *b) { return a && b && !strcmp(a, b); }

static int nomem(lh_replay *r)
{
    r->nomem = 1;
    return LH_E_NOMEM;
}

/* Append a copy of m to the array *arr of *n messages. 0, or LH_E_NOMEM. */
static int keep_copy(lh_replay *r, void ***arr, size_t *n, const ProtobufCMessage *m)
{
    void **a = realloc(*arr, (*n + 1) * sizeof(void *));
    if (!a)
        return nomem(r);
    *arr = a;
    if (!(a[*n] = copy_message(m)))
        return nomem(r);
    (*n)++;
    return 0;
}

/* Handle one non-event chunk. Returns 1 if it is the marker asked for, a
 * negative lh_rc if it is damage (lh_replay_damage says which), else 0. */
int lh_replay_take_chunk(lh_replay *r, const lh_chunk *ch, int kind, const char *label, uint64_t nth)
{
    switch (ch->type) {
    case LH_CHUNK_PROCESS:
        if (!r->process && ch->msg) {
            if (!(r->process = (Lh__ProcessInfo *)copy_message(ch->msg)))
                return nomem(r);
            r->sample = r->process->has_sample_interval ? r->process->sample_interval : 0;
        }
        break;
    case LH_CHUNK_MODULES:
        return ch->msg ? keep_copy(r, (void ***)&r->maps, &r->n_maps, ch->msg) : 0;
    case LH_CHUNK_PYFRAMES:
        return ch->msg ? keep_copy(r, (void ***)&r->pyframes, &r->n_pyframes, ch->msg) : 0;
    case LH_CHUNK_STACKS: {
        int rc = take_stacks(r, ch);
        return rc == LH_E_NOMEM ? nomem(r) : rc;
    }
    case LH_CHUNK_THREAD:
        if (take_thread(r, (const Lh__ThreadInfo *)ch->msg) < 0)
            return LH_E_NOMEM;
        break;
    case LH_CHUNK_MARKER: {
        const Lh__Marker *m = (const Lh__Marker *)ch->msg;
        if (GROW(r, r->marks, r->n_marks, r->cap_marks, 16) < 0)
            return LH_E_NOMEM;
        lh_marker *k = &r->marks[r->n_marks];
        if (!(k->label = strdup(m->label ? m->label : "")))
            return nomem(r);
        r->n_marks++;
        k->time_us = m->time_us;
        k->event = r->c.events;
        if (kind == LH_AT_NEXT_MARK)
            return 1;
        if (kind == LH_AT_MARK && label_matches(k->label, label)) {
            uint64_t seen = 0;
            for (size_t i = 0; i < r->n_marks; i++)
                seen += label_matches(r->marks[i].label, label);
            if (seen == nth + 1)
                return 1;
        }
        break;
    }
    case LH_CHUNK_RSS: {
        const Lh__RssSample *s = (const Lh__RssSample *)ch->msg;
        if (GROW(r, r->rss, r->n_rss, r->cap_rss, 64) < 0)
            return LH_E_NOMEM;
        r->rss[r->n_rss++] = (lh_rss){ s->time_us, s->rss_bytes };
        break;
    }
    case LH_CHUNK_LOST: {
        const Lh__Lost *l = (const Lh__Lost *)ch->msg;
        if (l->count > r->c.lost_events)
            r->c.lost_events = l->count;
        if (l->has_damaged && l->damaged && !r->write_damaged) {
            r->write_damaged = 1;
            r->write_damage_off = ch->offset;
            snprintf(r->write_damage_msg, sizeof(r->write_damage_msg), "%llu events were never written: %s",
                     (unsigned long long)l->count, l->reason ? l->reason : "the recorder could not write");
        }
        break;
    }
    case LH_CHUNK_FOOTER: {
        const Lh__Footer *f = (const Lh__Footer *)ch->msg;
        r->complete = 1;
        r->footer_end_us = f->end_time_us;
        if (f->lost_events > r->c.lost_events)
            r->c.lost_events = f->lost_events;
        break;
    }
    default:
        break;
    }
    return 0;
}

/* A long replay says how far it is, on a terminal, at most twice a second. */
static void show_progress(lh_replay *r)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    uint64_t now = (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
    if (!r->progress_start)
        r->progress_start = now;
    if (now - r->progress_start < 1000 || now - r->progress_last < 500)
        return;
    r->progress_last = now;
    uint64_t size = lh_reader_file_size(r->rd);
    fprintf(stderr, "\rleakhunt-replay: %3u%% of %s (%.1f M events)",
            size ? (unsigned)(r->chunk.offset * 100 / size) : 0, r->path ? r->path : "trace",
            r->c.events / 1e6);
    r->progress_shown = 1;
}

void lh_replay_set_progress(lh_replay *r, int on) { r->progress = on; }
void lh_replay_set_read_stats(lh_replay *r, lh_read_stats *out) { r->read_out = out; }
int lh_replay_checkpointing(const lh_replay *r) { return r->ckpt != NULL; }

int lh_replay_advance(lh_replay *r, int kind, uint64_t value, const char *label)
{
    for (;;) {
        if (r->nomem)
            return LH_E_NOMEM;
        if (r->have_events) {
            const lh_event *ev = r->chunk.events;
            size_t n = r->chunk.n_events, pos = r->pos;
            /* Up to the event asked for, if it is in this chunk (apply
             * counts one event each), or the first after the time. */
            size_t end = n;
            if (kind == LH_AT_EVENT || (kind == LH_AT_NEXT_MARK && value))
                end = r->c.events >= value ? pos : value - r->c.events < n - pos ? pos + (size_t)(value - r->c.events) : n;
            int plain = !r->n_only_threads && !r->timeline_every && !r->alloc_hook && !r->sample;
            if (plain && kind != LH_AT_TIME) {
                for (; pos < end; pos++)
                    apply(r, &ev[pos], 1);
            } else {
                for (; pos < end; pos++) {
                    if (kind == LH_AT_TIME && ev[pos].time_us > value)
                        break;
                    apply(r, &ev[pos], 0);
                }
            }
            r->pos = pos;
            if (r->nomem)
                return LH_E_NOMEM;
            if (pos < n)
                return 1;
            r->have_events = 0;
            if (r->ckpt)
                lh_replay_checkpoint_maybe(r, r->chunk.offset + 16 + r->chunk.packed_size);
        }
        if ((kind == LH_AT_EVENT || (kind == LH_AT_NEXT_MARK && value)) && r->c.events >= value)
            return 1;
        if (r->ended) {
            if (r->progress_shown) {
                fprintf(stderr, "\r%60s\r", "");
                r->progress_shown = 0;
            }
            if (r->ckpt)
                lh_replay_checkpoint_finish(r);
            return kind == LH_AT_END ? 1 : 0;
        }
        if (r->damage_rc)
            return r->damage_rc;
        /* Reading and decoding run ahead on a second thread. */
        if (!r->pf && !r->pf_off && r->path && !getenv("LEAKHUNT_NO_PREFETCH")) {
            r->pf = lh_prefetch_start(r->path, lh_reader_tell(r->rd));
            r->pf_off = !r->pf;
        }
        uint64_t damage = 0;
        int rc = r->pf ? lh_prefetch_next(r->pf, &r->chunk, &damage) : lh_reader_next(r->rd, &r->chunk);
        if (rc == LH_READER_PENDING) /* following: the rest is not written yet */
            return LH_REPLAY_PENDING;
        if (rc == 0) {
            r->ended = 1;
            continue;
        }
        if (rc == LH_E_NOMEM) /* not damage: the same chunk may read with more memory */
            return nomem(r);
        if (rc < 0) {
            r->damage_rc = rc;
            r->damage_off = r->pf ? damage : lh_reader_damage_offset(r->rd);
            snprintf(r->damage_msg, sizeof(r->damage_msg), "%s at offset %llu", lh_rc_name(rc),
                     (unsigned long long)r->damage_off);
            return rc;
        }
        if (!r->pf) /* the prefetch thread counts its own */
            lh_read_stats_add(&r->read, &r->chunk);
        if (r->chunk.type == LH_CHUNK_EVENTS) {
            r->pos = 0;
            r->have_events = 1;
            if (r->progress && (++r->progress_chunks & 63) == 0)
                show_progress(r);
        } else if (r->chunk.msg) {
            int got = lh_replay_take_chunk(r, &r->chunk, kind, label, value);
            if (got)
                return got; /* the marker, or damage */
        }
    }
}

const lh_counters *lh_replay_counters(const lh_replay *r) { return &r->c; }

const lh_site *lh_replay_sites(const lh_replay *r, size_t *n)
{
    *n = r->n_nodes;
    return r->sites;
}

uint32_t lh_replay_stack_map(const lh_replay *r, uint32_t id) { return id < r->n_nodes ? r->sites[id].map : 0; }

int lh_replay_node(const lh_replay *r, uint32_t id, uint32_t *parent, uint64_t *ip)
{
    if (id == 0 || id >= r->n_nodes)
        return 0;
    *parent = r->node_parent[id];
    *ip = r->node_ip[id];
    return 1;
}

const lh_marker *lh_replay_markers(const lh_replay *r, size_t *n) { *n = r->n_marks; return r->marks; }
const lh_rss *lh_replay_rss(const lh_replay *r, size_t *n) { *n = r->n_rss; return r->rss; }
const uint64_t *lh_replay_timeline(const lh_replay *r, size_t *n) { *n = r->n_timeline; return r->timeline; }

const Lh__ModuleMap *const *lh_replay_module_maps(const lh_replay *r, size_t *n)
{
    *n = r->n_maps;
    return (const Lh__ModuleMap *const *)r->maps;
}

const Lh__PyFrames *const *lh_replay_pyframes(const lh_replay *r, size_t *n)
{
    *n = r->n_pyframes;
    return (const Lh__PyFrames *const *)r->pyframes;
}

const Lh__ProcessInfo *lh_replay_process(const lh_replay *r) { return r->process; }

static int cmp_u32(const void *a, const void *b)
{
    uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
    return (x > y) - (x < y);
}

/* Distinct thread ids (a tid the kernel reused counts once). Sorted, not
 * compared pairwise: a hostile trace may name a million thread indexes. */
size_t lh_replay_thread_count(const lh_replay *r)
{
    if (!r->n_tids)
        return 0;
    uint32_t *t = r->tids_sorted; /* as big as tids (take_thread) */
    memcpy(t, r->tids, r->n_tids * sizeof(uint32_t));
    qsort(t, r->n_tids, sizeof(uint32_t), cmp_u32);
    size_t n = 0;
    for (size_t i = 0; i < r->n_tids; i++)
        n += t[i] && (i == 0 || t[i] != t[i - 1]);
    return n;
}

const uint32_t *lh_replay_threads(const lh_replay *r, size_t *n)
{
    *n = r->n_tids;
    return r->tids;
}

const char *lh_replay_damage(const lh_replay *r, uint64_t *offset)
{
    if (!r->damage_rc) {
        if (!r->write_damaged)
            return NULL;
        if (offset)
            *offset = r->write_damage_off;
        return r->write_damage_msg;
    }
    if (offset)
        *offset = r->damage_off;
    return r->damage_msg;
}

int lh_replay_complete(const lh_replay *r) { return r->complete; }

uint64_t lh_replay_end_time(const lh_replay *r)
{
    return r->complete && r->footer_end_us >= r->c.time_us ? r->footer_end_us : r->c.time_us;
}

uint64_t lh_replay_file_size(const lh_replay *r) { return lh_reader_file_size(r->rd); }

/* --- summary from the index ---------------------------------------------------- */

int lh_trace_summarize(const char *path, lh_trace_summary *s, char *err, size_t errcap)
{
    memset(s, 0, sizeof(*s));
    int rc;
    lh_reader *rd = lh_reader_open(path, &rc);
    if (!rd) {
        snprintf(err, errcap, "%s: %s", path, rc == LH_E_IO ? "cannot open" : lh_rc_name(rc));
        return rc;
    }
    const Lh__Footer *f = lh_reader_index(rd, &rc);
    s->complete = lh_reader_has_footer(rd);
    if (f) {
        for (size_t i = 0; i < f->n_index; i++) {
            const Lh__IndexEntry *e = f->index[i];
            if (e->last_time_us > s->end_time_us)
                s->end_time_us = e->last_time_us;
            s->events += e->events;
        }
        if (s->complete && f->end_time_us > s->end_time_us)
            s->end_time_us = f->end_time_us;
        /* Copy what we need: reading markers reuses the reader. */
        size_t n = f->n_index, nm = 0;
        uint64_t *offs = malloc((n ? n : 1) * sizeof(uint64_t));
        for (size_t i = 0; offs && i < n; i++)
            if (f->index[i]->type == LH_CHUNK_MARKER)
                offs[nm++] = f->index[i]->offset;
        if (nm)
            s->markers = calloc(nm, sizeof(lh_marker));
        for (size_t i = 0; s->markers && i < nm; i++) {
            lh_chunk ch;
            if (lh_reader_seek(rd, offs[i]) < 0 || lh_reader_next(rd, &ch) != 1
                || ch.type != LH_CHUNK_MARKER || !ch.msg)
                continue;
            const Lh__Marker *m = (const Lh__Marker *)ch.msg;
            s->markers[s->n_markers].label = strdup(m->label ? m->label : "");
            s->markers[s->n_markers].time_us = m->time_us;
            s->n_markers++;
        }
        free(offs);
    }
    lh_reader_free(rd);
    return 0;
}

void lh_trace_summary_free(lh_trace_summary *s)
{
    for (size_t i = 0; i < s->n_markers; i++)
        free(s->markers[i].label);
    free(s->markers);
    memset(s, 0, sizeof(*s));
}
