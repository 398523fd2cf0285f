/*
 * replay_cli.h - leakhunt-replay's options. The views it dispatches to are
 * analyze/views.h's, the writer of their tables and JSON output.h's.
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
#include "output.h"
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

#endif
