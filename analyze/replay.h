/*
 * replay.h - rebuild the heap of a traced process, moment by moment.
 *
 * The engine streams a trace once, applying events to the live set
 * (address -> size, stack, time) and to per-stack aggregates. Its memory
 * grows with the live set and the number of stacks, never with the length
 * of the trace. A caller advances it to points in increasing order and
 * reads the aggregates there (the heap "at" that point); events that make
 * no sense are counted, never fatal.
 */
#ifndef LH_REPLAY_H
#define LH_REPLAY_H

#include <stddef.h>
#include <stdint.h>

#include "lh_trace.h"

/* Per-stack totals at the current point. */
typedef struct {
    int64_t live_bytes, live_count;     /* malloc family */
    int64_t alloc_bytes, alloc_count;   /* since the start */
    int64_t freed_soon_count;           /* freed within the temporary threshold */
    int64_t freed_soon_bytes;
    int64_t mmap_bytes, mmap_count;     /* anonymous mappings live */
    /* The module map in effect at the stack's first allocation or mapping:
     * its number (1 + index in lh_replay_module_maps), 0 before any. Its
     * frames are code of that map's modules: a library unloaded and
     * another loaded at its address do not share a stack's meaning. */
    uint32_t map;
} lh_site;

typedef struct {
    char *label;
    uint64_t time_us;
    uint64_t event;      /* events applied before it */
} lh_marker;

typedef struct {
    uint64_t time_us, rss_bytes;
} lh_rss;

typedef struct {
    uint64_t allocations, frees, bytes_allocated;
    uint64_t reallocs;
    uint64_t live_bytes, live_count;
    uint64_t peak_bytes, peak_time_us, peak_event;
    uint64_t mmap_regions, mmap_bytes, mmap_live_bytes;
    uint64_t py_allocations, py_bytes_allocated; /* of those above, through a hooked CPython domain */
    uint64_t arena_regions, arena_bytes, arena_live_bytes, arena_peak_bytes; /* its arenas, apart */
    uint64_t unknown_frees;     /* free of an address not live (e.g. before recording) */
    uint64_t reused_live;       /* allocation at an address already live */
    uint64_t lost_events;
    uint64_t events, time_us;   /* applied so far, time of the last one */
} lh_counters;

typedef struct lh_replay lh_replay;

/* Open a trace. NULL with a message in err on failure, and errno ENOMEM
 * when memory ran out (EINVAL otherwise). */
lh_replay *lh_replay_open(const char *path, char *err, size_t errcap);
void lh_replay_free(lh_replay *r);

/* Follow a trace that is still being written (leakhunt-top). fd is the
 * trace, opened and checked by the caller (a regular file, whose); the
 * replay owns it from here (closed by lh_replay_free, on failure too) and
 * reads it once from the start, in the caller's thread: no read-ahead
 * thread, no checkpoints, nothing reopened by name. name is for messages.
 * lh_replay_advance then returns LH_REPLAY_PENDING when it applied every
 * chunk written so far without reaching its point (the next chunk is not
 * all there yet: lh_reader_set_follow); the state is then that of
 * everything written, and a later call goes on from there. The footer
 * ends a followed trace as it ends any. The file must hold at least its
 * 16-byte header. NULL with a message in err on failure (errno as for
 * lh_replay_open). */
lh_replay *lh_replay_open_follow(int fd, const char *name, char *err, size_t errcap);
#define LH_REPLAY_PENDING 2

/* Point kinds for lh_replay_advance. */
enum { LH_AT_TIME, LH_AT_EVENT, LH_AT_MARK, LH_AT_END, LH_AT_NEXT_MARK };

/* Apply events up to the point: TIME = every event with time <= value (µs),
 * EVENT = the first value events, MARK = up to the marker chunk of that
 * label (value-th occurrence, 0 = first), END = everything, NEXT_MARK = up
 * to the next marker chunk whatever its label, or until value events in
 * all are applied (0 = no such limit), whichever comes first (a follower
 * sees each marker as it passes, in bounded steps). Returns 1 when the
 * point was reached, 0 when the trace ended first, LH_REPLAY_PENDING
 * (following only, lh_replay_open_follow), negative lh_rc on damage
 * (everything before the damage was applied; see lh_replay_damage), or
 * LH_E_NOMEM when memory ran out (no damage: the replay's state is then
 * incomplete, and every later call returns LH_E_NOMEM too).
 * Points must not go backwards. */
int lh_replay_advance(lh_replay *r, int kind, uint64_t value, const char *label);

/* Free blocks within this many µs of their allocation count as temporary
 * (default 1000). Set before advancing. */
void lh_replay_set_temporary_us(lh_replay *r, uint64_t us);
/* Record heap samples for a time chart: one point per at least every
 * interval µs (0 = off). Set before advancing. */
void lh_replay_set_timeline(lh_replay *r, uint64_t interval_us);

/* Only what these threads allocate (leakhunt-replay --thread): each of
 * ids[0..n) names a thread by its dense index (ThreadInfo.index, as
 * --stats lists them) or by its kernel tid. An allocation by another
 * thread is kept apart, unseen by every counter and site, and so is its
 * free or realloc, whichever thread makes it; a block of a kept thread
 * freed by another is freed as usual. The counters (allocations, peak,
 * live) are then those threads'. ids is copied; n = 0 keeps every thread.
 * Set before advancing, on a replay that restores no checkpoint (their
 * states are of every thread). 0, or LH_E_NOMEM (then every thread is kept). */
int lh_replay_set_threads(lh_replay *r, const uint64_t *ids, size_t n);

/* Call fn(ctx, size, count, stack) for every allocation the replay counts
 * from now on (realloc included; none of the threads lh_replay_set_threads
 * leaves out), as it is applied: for figures the per-stack totals cannot
 * give, such as the sizes of each allocation (histogram.c). count is the
 * allocations it stands for: 1, or its weight in a sampled trace (its
 * bytes are size * count, rounded as the totals are). NULL stops. */
typedef void (*lh_alloc_hook)(void *ctx, uint64_t size, uint64_t count, uint64_t bytes, uint32_t stack);
void lh_replay_set_alloc_hook(lh_replay *r, lh_alloc_hook fn, void *ctx);

/* Print progress on stderr during long passes (for a terminal). */
void lh_replay_set_progress(lh_replay *r, int on);

/* What a replay read: every chunk it decoded, the read-ahead thread's
 * included (leakhunt-replay shows them with LEAKHUNT_SHOW_READS=1, so a
 * test can see a replay start late and stop early). */
typedef struct {
    uint64_t chunks;        /* chunks decoded, of any type */
    uint64_t event_chunks;  /* of them, EVENTS chunks */
    uint64_t events;        /* events those held */
} lh_read_stats;
/* Have lh_replay_free, once reading has stopped, store the figures in
 * *out (which must outlive the replay). */
void lh_replay_set_read_stats(lh_replay *r, lh_read_stats *out);

const lh_counters *lh_replay_counters(const lh_replay *r);
/* Per-stack sites, indexed by stack node id, n = node count. */
const lh_site *lh_replay_sites(const lh_replay *r, size_t *n);
/* Stack node (parent, ip) of id; 0 when id is out of range. */
int lh_replay_node(const lh_replay *r, uint32_t id, uint32_t *parent, uint64_t *ip);
/* lh_site.map of stack id (0 for an id the replay does not know). */
uint32_t lh_replay_stack_map(const lh_replay *r, uint32_t id);
/* Markers seen so far, in order. */
const lh_marker *lh_replay_markers(const lh_replay *r, size_t *n);
const lh_rss *lh_replay_rss(const lh_replay *r, size_t *n);
/* Timeline points (time µs, heap bytes) when enabled. */
const uint64_t *lh_replay_timeline(const lh_replay *r, size_t *n_pairs);
/* Module maps seen so far, for symbolization. */
const Lh__ModuleMap *const *lh_replay_module_maps(const lh_replay *r, size_t *n);
/* Python frame chunks seen so far (format 1.1), for lh_symbols_add_pyframes. */
const Lh__PyFrames *const *lh_replay_pyframes(const lh_replay *r, size_t *n);
const Lh__ProcessInfo *lh_replay_process(const lh_replay *r);
/* Distinct thread ids seen (needs no memory). */
size_t lh_replay_thread_count(const lh_replay *r);
/* Kernel tids of the threads seen so far, by dense index (*n entries;
 * 0 for an index no ThreadInfo named). */
const uint32_t *lh_replay_threads(const lh_replay *r, size_t *n);
/* Damage: offset and description, or NULL if the trace read cleanly. */
const char *lh_replay_damage(const lh_replay *r, uint64_t *offset);
int lh_replay_complete(const lh_replay *r); /* footer seen */
/* End time: from the footer, else the last event seen. */
uint64_t lh_replay_end_time(const lh_replay *r);
uint64_t lh_replay_file_size(const lh_replay *r);

/* Checkpoints (checkpoint.c). A pass that will reach the end can leave
 * TRACE.ckpt with the state every `every` events; a fresh replay restores
 * the checkpoint nearest before a point (1 restored, 0 none usable, -1
 * failed half-way: free the replay and open a new one). */
void lh_replay_checkpoint_every(lh_replay *r, const char *trace_path, uint64_t every);
/* Keep the sidecar's states within about max_bytes in all: by the time
 * the pass has replayed a share of total_events, it has written at most that
 * share of max_bytes (the state after the last event may go over). Call
 * after lh_replay_checkpoint_every; 0 = no budget (the default). */
void lh_replay_checkpoint_budget(lh_replay *r, uint64_t total_events, uint64_t max_bytes);
/* 1 while r is writing a sidecar: only such a pass needs to read on to the
 * end once its question is answered. */
int lh_replay_checkpointing(const lh_replay *r);
int lh_replay_restore(lh_replay *r, const char *trace_path, int kind, uint64_t value, const char *label);
/* Final counters (peak, totals) of a trace from its sidecar; 0 if none. */
int lh_checkpoint_final(const char *trace_path, lh_counters *out);
/* Whether TRACE.ckpt may be used and replaced: 1 when there is none, or it
 * is a regular file with one name, of the reader's or the trace's owner,
 * not writable by group or others; else 0 with why (which names the path)
 * and every call above leaves it alone: not read, never overwritten. why
 * may be NULL. */
int lh_checkpoint_sidecar_ok(const char *trace_path, char *why, size_t cap);

/* Quick pass over the index: duration, markers and event total without
 * replaying. Fills what it can; returns 0 or negative lh_rc. */
typedef struct {
    uint64_t end_time_us, events;
    lh_marker *markers;
    size_t n_markers;
    int complete;
} lh_trace_summary;
int lh_trace_summarize(const char *path, lh_trace_summary *s, char *err, size_t errcap);
void lh_trace_summary_free(lh_trace_summary *s);

#endif
