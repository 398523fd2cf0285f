/*
 * replay_int.h - the replay engine's state, shared by replay.c and
 * checkpoint.c (which saves and restores it). Not for other users.
 */
#ifndef LH_REPLAY_INT_H
#define LH_REPLAY_INT_H

#include "replay.h"

typedef struct {
    uint64_t addr;   /* 0 = empty slot */
    uint64_t size;
    uint64_t time_us;
    uint32_t stack;  /* LH_HIDDEN_STACK: a thread lh_replay_set_threads leaves out */
} live_block;

/* Blocks of threads left out stay in the live set under this stack, so
 * their frees are known as theirs (not counted as frees of unknown
 * blocks); a replay with a thread filter writes no checkpoint, so none
 * ever holds it. */
#define LH_HIDDEN_STACK UINT32_MAX

typedef struct {
    uint64_t start, end;
    uint32_t stack;
    uint32_t arena;  /* a CPython allocator's own mapping (domain py-arena): kept apart */
} region;

struct lh_ckpt_writer;

struct lh_replay {
    lh_reader *rd;
    uint64_t sample;       /* ProcessInfo.sample_interval: 0 = every event recorded */
    lh_chunk chunk;
    size_t pos;            /* next event of chunk when it is an EVENTS chunk */
    int have_events;
    int ended;
    int damage_rc;
    int nomem;             /* memory ran out: lh_replay_advance says LH_E_NOMEM from then on */
    uint64_t damage_off;
    char damage_msg[160];
    /* A Lost chunk marked damaged: the recording could not write the rest. */
    int write_damaged;
    uint64_t write_damage_off;
    char write_damage_msg[200];

    live_block *live;
    size_t live_mask, live_n;

    uint32_t *node_parent;
    uint64_t *node_ip;
    size_t n_nodes, cap_nodes;
    lh_site *sites;        /* cap_nodes entries */

    region *regions;
    size_t n_regions, cap_regions;

    lh_counters c;
    lh_marker *marks;
    size_t n_marks, cap_marks;
    lh_rss *rss;
    size_t n_rss, cap_rss;
    uint64_t *timeline;
    size_t n_timeline, cap_timeline;
    uint64_t timeline_every, timeline_last;
    uint64_t temporary_us;

    Lh__ModuleMap **maps;
    size_t n_maps;
    Lh__PyFrames **pyframes;
    size_t n_pyframes;
    Lh__ProcessInfo *process;
    uint32_t *tids;        /* by thread index */
    size_t n_tids, cap_tids;
    uint32_t *tids_sorted; /* cap_tids: lh_replay_thread_count's room, allocated with tids */
    uint64_t *only_threads;      /* lh_replay_set_threads: indexes or tids */
    size_t n_only_threads;
    lh_alloc_hook alloc_hook;    /* lh_replay_set_alloc_hook */
    void *alloc_hook_ctx;
    int complete;
    uint64_t footer_end_us;
    struct lh_ckpt_writer *ckpt; /* checkpoint.c, while a sidecar is written */
    struct lh_prefetch *pf;      /* prefetch.c, once the first chunk is asked for */
    int pf_off;                  /* prefetching could not start: read here */
    char *path;                  /* NULL when following (lh_replay_open_follow) */
    int follow_fd;               /* the followed trace, closed at free; -1 none */
    lh_read_stats read;          /* chunks this replay's own reader decoded */
    lh_read_stats *read_out;     /* lh_replay_set_read_stats */
    int progress, progress_shown;   /* lh_replay_set_progress */
    uint64_t progress_chunks, progress_start, progress_last;
};

/* Apply non-event chunks (process, modules, stacks, threads, markers, RSS,
 * lost, footer) as a replay would; 1 if it is the marker asked for, a
 * negative lh_rc when it is damage (stack nodes that do not continue the
 * table; damage_rc, damage_off and damage_msg are set) or LH_E_NOMEM (the
 * replay is then out of memory for good), else 0. */
int lh_replay_take_chunk(lh_replay *r, const lh_chunk *ch, int kind, const char *label, uint64_t nth);

/* Put b in the live set (room for it is the caller's concern); the one
 * insertion both the engine and a checkpoint restore use. */
void lh_replay_live_insert(lh_replay *r, const live_block *b);

/* checkpoint.c hooks for the engine. */
void lh_replay_checkpoint_maybe(lh_replay *r, uint64_t next_offset);
void lh_replay_checkpoint_finish(lh_replay *r);
void lh_replay_checkpoint_free(lh_replay *r);

#endif
