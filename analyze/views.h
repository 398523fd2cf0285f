/*
 * views.h - leakhunt-replay's answers as a library: every view (the heap
 * at a moment, a diff, leaks, peak, growth, temporary allocations, stats,
 * a size histogram) is a function that replays what it needs and returns
 * typed rows, samples and metadata; the HTML report is assembled here too.
 * The programs parse options, call these, and print the result through
 * output.h (lz4's lib/ and programs/, git's builtins over its library).
 *
 * Errors: a view returns NULL with a message in err (a moment that does
 * not parse, a trace that cannot be opened) and errno EINVAL, or, when
 * memory ran out, "out of memory" and errno ENOMEM (the replay's
 * LH_E_NOMEM included); the caller decides to exit (leakhunt-replay: status
 * 2, or LH_EXIT_NOMEM through lh_nomem). A half-built answer is never
 * returned. lh_view_trace_open and lh_view_report say so alike. Warnings and
 * notes (a damaged trace, a marker not reached, a sidecar left alone,
 * LEAKHUNT_SHOW_* debug lines) go to the options' note callback as whole
 * lines without the program's name ("warning: ...").
 *
 * Checkpoints: a trace with LH_CKPT_MIN_EVENTS or more events gets a
 * sidecar (TRACE.ckpt) from its first full pass, and later views start
 * from the checkpoint nearest before their moment (checkpoint.c).
 */
#ifndef LH_VIEWS_H
#define LH_VIEWS_H

#include <stddef.h>
#include <stdint.h>

#include "flame.h"
#include "histogram.h"
#include "points.h"
#include "replay.h"
#include "select.h"
#include "sites.h"
#include "symbols.h"

enum { LH_VIEW_LEAKS, LH_VIEW_AT, LH_VIEW_DIFF, LH_VIEW_PEAK, LH_VIEW_STATS, LH_VIEW_GROWTH,
       LH_VIEW_TEMPORARY, LH_VIEW_COUNT };

/* "leaks", "at", ... (the option's name without "--"). */
const char *lh_view_name(int view);

/* Arithmetic on a trace's values wraps rather than overflowing (UB): a
 * hostile trace can carry sizes near 2^64. */
static inline int64_t lh_wadd(int64_t a, int64_t b) { return (int64_t)((uint64_t)a + (uint64_t)b); }
static inline int64_t lh_wsub(int64_t a, int64_t b) { return (int64_t)((uint64_t)a - (uint64_t)b); }

/* How views are asked (leakhunt-replay's options that change an answer). */
typedef struct {
    int view;                       /* LH_VIEW_* */
    int by;                         /* LH_BY_* */
    int value;                      /* LH_VAL_*: alloc_* also ranks the table (lh_view_ranks_by_allocations) */
    const lh_select *select;        /* --filter, --exclude, --suppressions; NULL keeps all */
    const lh_alloc_fns *alloc_fns;  /* --alloc-fn, NULL if none */
    const uint64_t *threads;        /* --thread: dense indexes or kernel tids */
    size_t n_threads;
    int windows;                    /* --growth's windows (2 or more) */
    long temporary_ms;              /* --temporary's threshold */
    int no_checkpoints;             /* neither use nor write TRACE.ckpt */
    int tree;                       /* the caller builds a tree from the samples: no rows */
    int exports;                    /* the caller exports flame graphs: fill flame samples */
    int progress;                   /* the replay's progress meter on stderr */
    void (*note)(void *ctx, const char *line);
    void *note_ctx;
} lh_view_opts;

/* A trace views are asked about, and what they learnt of it on the way. */
typedef struct {
    const char *path;
    lh_trace_summary sum;
    lh_symbols *sym;
    int damaged;             /* a view met damage (the readable prefix was used) */
    int ckpt;                /* TRACE.ckpt: 0 not looked at yet, 1 usable (or none), -1 left alone */
    int sidecar_pass;        /* a replay of this run writes TRACE.ckpt */
    uint64_t threads_found;  /* bit k: --thread value k names one of its threads */
    uint32_t *tids;          /* its threads' tids by index, from its longest replay */
    size_t n_tids;
} lh_view_trace;

/* Summarize path into t (path is borrowed). 0, or -1 with a message in err. */
int lh_view_trace_open(lh_view_trace *t, const char *path, char *err, size_t cap);
/* Note each --thread value no view found in t (with the threads there
 * are), then free what t holds. */
void lh_view_trace_release(lh_view_trace *t, const lh_view_opts *o);

/* One answer. Strings and arrays belong to the view; samples point into
 * its replays, which stay open until lh_view_free. */
typedef struct {
    int view;                /* LH_VIEW_* */
    char title[1024];        /* the text table's first line (sampling noted) */
    /* JSON head, in this order when set: trace, trace_b, view, at + time,
     * from + to + from_time + to_time, windows, within_ms, estimated. */
    const char *trace, *trace_b;
    const char *at, *from, *to;   /* point texts, NULL when not part of the view */
    double time, from_time, to_time;
    int windows;             /* growth: > 0 */
    long within_ms;          /* temporary: >= 0, else -1 */
    uint64_t sample_interval; /* --sample: one per this many bytes; 0 exact */
    int ranks_by_allocations;
    lh_row *rows;            /* sorted for the view (NULL with opts.tree) */
    size_t n_rows;
    lh_sample *samples;      /* the table's samples, before grouping */
    size_t n_samples;
    lh_sample *flame;        /* opts.exports: the exports' samples (alloc_* of the window too) */
    size_t n_flame;
    lh_histogram *hist;      /* lh_view_histogram */
    lh_replay *replay;       /* stats: the replay at the end */
    /* private */
    lh_replay *ra, *rb;
    lh_view_trace *ta, *tb;
    lh_view_opts opts;
    int end_on_free;         /* end_replay (a sidecar pass reads on), else close_replay */
    int rows_borrowed;
    lh_row **win;
    size_t *nwin;
    char point_text[3][160];
} lh_view;

/* --leaks (spec "end"), --at spec, --peak (spec "peak"): the live heap at
 * the moment, by opts.by. */
lh_view *lh_view_point(const lh_view_opts *o, lh_view_trace *t, const char *spec, char *err, size_t cap);
/* --diff A B: growth from A to B of one trace (tb == ta), or from A of ta
 * to B of tb. */
lh_view *lh_view_diff(const lh_view_opts *o, lh_view_trace *ta, lh_view_trace *tb, const char *a,
                      const char *b, char *err, size_t cap);
/* --growth: every site's trend over opts.windows windows (lh_growth_classify). */
lh_view *lh_view_growth(const lh_view_opts *o, lh_view_trace *t, char *err, size_t cap);
/* --temporary: allocations freed within opts.temporary_ms. */
lh_view *lh_view_temporary(const lh_view_opts *o, lh_view_trace *t, char *err, size_t cap);
/* --stats: t replayed to its end (v->replay). */
lh_view *lh_view_stats(const lh_view_opts *o, lh_view_trace *t, char *err, size_t cap);
/* --histogram: sizes of the allocations made in opts.view's window: from
 * the start to the moment (at for LH_VIEW_AT, the peak, else the end), or
 * from a to b (LH_VIEW_DIFF). */
lh_view *lh_view_histogram(const lh_view_opts *o, lh_view_trace *t, const char *at, const char *a,
                           const char *b, char *err, size_t cap);
/* End the view's replays (a replay writing a sidecar reads on to the end
 * first) and free it. Accepts NULL. */
void lh_view_free(lh_view *v);

/* The view's total, the figure --fail-over gates: the bytes its rows
 * total (live, grown, short-lived; allocated when it ranks by
 * allocations), the histogram's bytes, or the leaked bytes of stats. */
int64_t lh_view_total(const lh_view *v);

/* Whether a view's table ranks by what was allocated, freed or not
 * (value alloc_bytes|alloc_count with --leaks, --at, --peak, --diff). */
int lh_view_ranks_by_allocations(int view, int value);

/* The growth classifier of one site: series[1..m] are its live bytes at
 * the end of each window (m >= 1). out[0] growth from the first window
 * where the site exists to the last, out[1] steps that rose by more than
 * 1%, out[2] 1 when still growing (the end clearly above everything up to
 * two thirds of the way: 5% and at least 1 KiB), out[3] m - 1. */
void lh_growth_classify(const int64_t *series, int m, int64_t out[4]);

/* The HTML report of t (one pass with a timeline, a flame graph at every
 * marker and at the end). NULL with err on failure. */
lh_report *lh_view_report(const lh_view_opts *o, lh_view_trace *t, char *err, size_t cap);

/* Row orders: bytes, count, growth verdict, what was allocated. */
int lh_rows_by_bytes(const void *a, const void *b);
int lh_rows_by_count(const void *a, const void *b);
int lh_rows_by_growth(const void *a, const void *b);
int lh_rows_by_alloc_bytes(const void *a, const void *b);
int lh_rows_by_alloc_count(const void *a, const void *b);

#endif
