/*
 * replay_cli.h - what leakhunt-replay's files share: its options, the
 * traces it was given, and the renderers of render.c.
 */
#ifndef LH_REPLAY_CLI_H
#define LH_REPLAY_CLI_H

#include <stdint.h>
#include <stdio.h>

#include "flame.h"
#include "histogram.h"
#include "lh_json.h"
#include "points.h"
#include "replay.h"
#include "select.h"
#include "sites.h"
#include "symbols.h"
#include "views.h"
#include "xalloc.h"

enum { VIEW_LEAKS = LH_VIEW_LEAKS, VIEW_AT = LH_VIEW_AT, VIEW_DIFF = LH_VIEW_DIFF, VIEW_PEAK = LH_VIEW_PEAK,
       VIEW_STATS = LH_VIEW_STATS, VIEW_GROWTH = LH_VIEW_GROWTH, VIEW_TEMPORARY = LH_VIEW_TEMPORARY };

typedef struct {
    int view, view_set;
    const char *at, *from, *to;
    int by;
    long top;
    const lh_select *select;           /* --filter, --exclude, --suppressions */
    const lh_alloc_fns *alloc_fns;     /* --alloc-fn, NULL if none */
    int64_t min_bytes;
    int json;
    const char *folded, *flamegraph, *pprof, *speedscope, *html;
    int value;
    long temporary_ms;
    int quiet;
    int windows;
    int tree, inverted;      /* --tree [--inverted] instead of the table */
    int histogram;           /* --histogram instead of the table */
    int64_t fail_over;       /* --fail-over bytes, -1 if not given */
    int no_checkpoints;      /* --no-checkpoints, or --thread */
    uint64_t threads[64];    /* --thread: dense indexes or kernel tids */
    size_t n_threads;
} options;

/* Arithmetic on a trace's values wraps rather than overflowing (UB): a
 * hostile trace can carry sizes near 2^64. */
#define wadd lh_wadd
#define wsub lh_wsub

/* --- render.c: tables and JSON --------------------------------------------- */

/* "1.5 MiB", "+4096 B" (sign: show + for growth). */
const char *human(int64_t b, char *buf, size_t cap, int sign);
/* --sample: the trace's interval in bytes, 0 when every event was recorded. */
uint64_t sample_interval_of(const lh_replay *r);
/* The view's JSON head fields, "\"trace\": ..., ..." (caller frees). */
char *view_json_head(const lh_view *v);
/* "12,345", "+3" */
const char *count_str(int64_t v, char *buf, size_t cap, int sign);
/* Whether the view's table ranks by what was allocated, freed or not
 * (--value alloc_bytes|alloc_count with --leaks, --at, --peak, --diff). */
int ranks_by_allocations(const options *o);
/* A view's rows as an aligned table (title first) or one JSON object
 * whose head fields are json_head; honours --top, --min-bytes, quiet.
 * Returns the view's total: bytes live (or grown), or allocated when it
 * ranks by allocations. */
int64_t print_rows(const options *o, lh_row *rows, size_t n, const char *title, const char *json_head);
/* --histogram: the buckets from the first to the last one used; returns
 * the bytes allocated in all. */
int64_t print_histogram(const options *o, const lh_histogram *h, const char *title, const char *json_head);
/* --stats of one trace replayed to its end. */
void stats_json(FILE *f, const lh_view_trace *t, lh_replay *r);
void stats_text(const lh_view_trace *t, lh_replay *r);

#endif
