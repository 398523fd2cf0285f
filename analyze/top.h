/*
 * top.h - the live view of a recording, as data: what leakhunt-top shows,
 * without a terminal (so the batch mode, the curses screen and a test all
 * read the same rows).
 *
 * A view follows one trace while it is written (lh_replay_open_follow):
 * each lh_top_poll applies what was appended since the last, once, from
 * where it stopped, so its memory is the replay's (the live set and the
 * per-stack totals) plus a baseline (two numbers per stack) and a heap
 * history of fixed size. The baseline is the start of the trace, then each
 * marker as the replay passes it (its state exactly there), or whatever
 * moment lh_top_set_baseline names; growth is live minus baseline.
 */
#ifndef LH_TOP_H
#define LH_TOP_H

#include <stddef.h>
#include <stdint.h>

#include "replay.h"
#include "sites.h"
#include "symbols.h"

typedef struct lh_top lh_top;

/* States of a followed recording, as lh_top_poll finds it. */
enum {
    LH_TOP_LIVE,     /* being written: more may come */
    LH_TOP_ENDED,    /* the footer was read: the recording ended, complete */
    LH_TOP_DAMAGED,  /* damage, or the recording could not write the rest */
};

/* Follow the trace on fd (checked by the caller; owned by the view from
 * here, on failure too); name is for messages, owner_uid the trace's
 * owner (for perf maps, symbols.h). NULL with a message in err. */
lh_top *lh_top_open(int fd, const char *name, uint32_t owner_uid, char *err, size_t errcap);
void lh_top_free(lh_top *t);

/* Apply what is new, for at most budget_ms of work (0 = until caught
 * up); returns the state, or LH_E_NOMEM when memory ran out (the view is
 * then of no more use). A chunk still being written is waited for by the
 * next call, never read twice. */
int lh_top_poll(lh_top *t, unsigned budget_ms);
/* Whether the last poll applied everything written so far. */
int lh_top_caught_up(const lh_top *t);
/* Damage or the recording's own note of failure, NULL if none. */
const char *lh_top_damage(const lh_top *t);

/* The baseline is now (the `b` key). 0, or LH_E_NOMEM (the baseline
 * stays where it was). */
int lh_top_set_baseline(lh_top *t);
/* What the baseline is: "start", "mark:LABEL" or "12.3s", and its trace
 * time in µs. */
const char *lh_top_baseline(const lh_top *t, uint64_t *time_us);

const lh_replay *lh_top_replay(const lh_top *t);
const lh_counters *lh_top_counters(const lh_top *t);
/* The last RSS sample in the trace (0 if none). */
uint64_t lh_top_trace_rss(const lh_top *t);
/* Trace time of the last event applied, in µs. */
uint64_t lh_top_time_us(const lh_top *t);

/* Heap over trace time: n values (live bytes), oldest first, evenly
 * spaced over the whole recording so far (a fixed number of buckets whose
 * width doubles as the recording goes on; each holds the highest heap of
 * its span). The array belongs to t. */
const uint64_t *lh_top_history(const lh_top *t, size_t *n);

/* Rows of the heap now, grouped by (LH_BY_*), filtered (NULL = all),
 * biggest growth since the baseline first, then live bytes. Each row's
 * v[V_BYTES] and v[V_COUNT] are live now, v[V_BASE_BYTES] and
 * v[V_BASE_COUNT] at the baseline. Free with lh_rows_free. NULL when
 * memory ran out. */
lh_row *lh_top_rows(lh_top *t, int by, const char *filter, size_t *n);

#endif
