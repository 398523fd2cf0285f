/*
 * output.h - the one writer of the analysis tools' text tables and JSON:
 * a view's rows as an aligned table or one JSON object, its call tree, its
 * size histogram, the statistics of a trace, and the sizes and counts in
 * them (lh_human and lh_count_str of lh_units.h). Every JSON string goes
 * through lh_json_str (lh_json.h), the one escaper, so the output is
 * valid UTF-8 whatever a path, symbol or label holds.
 *
 * Writers print to the stream they are given and return; write errors
 * stay on the stream (ferror) for the program to report.
 */
#ifndef LH_OUTPUT_H
#define LH_OUTPUT_H

#include <stdint.h>
#include <stdio.h>

#include "lh_json.h"
#include "lh_units.h"
#include "views.h"

/* How a view is written (leakhunt-replay's presentation options). */
typedef struct {
    int json;              /* one JSON object instead of the table */
    long top;              /* rows (or children per frame) shown, 0 = all */
    int64_t min_bytes;     /* rows (subtrees) smaller than this are hidden */
    int value;             /* LH_VAL_*: the tree's values, what a table ranks by */
    int by;                /* LH_BY_*: the JSON's group_by */
    int inverted;          /* the tree bottom-up */
    int quiet;             /* write nothing, only return the total */
} lh_out_opts;

/* The view's JSON head fields, "\"trace\": ..., ..." without braces
 * (caller frees); NULL when out of memory. */
char *lh_out_json_head(const lh_view *v);

/* The view's rows as an aligned table (title first) or one JSON object;
 * honours top, min_bytes and quiet. Returns the view's total
 * (lh_view_total). */
int64_t lh_out_rows(FILE *out, const lh_out_opts *o, const lh_view *v);

/* The merged call tree of the view's samples (--tree), text or JSON, and
 * its total bytes (allocated with value alloc_*) in *total. 0, -ENOMEM,
 * or lh_export_tree's -errno when writing failed. */
int lh_out_tree(FILE *out, const lh_out_opts *o, const lh_view *v, int64_t *total);

/* The histogram of a view of lh_view_histogram, from its first to its
 * last bucket used; returns the bytes allocated in all. */
int64_t lh_out_histogram(FILE *out, const lh_out_opts *o, const lh_view *v);

/* The table, tree (when tree) or histogram of any view but stats, and its
 * total in *total; 0 or lh_out_tree's error. */
int lh_out_view(FILE *out, const lh_out_opts *o, const lh_view *v, int tree, int64_t *total);

/* --stats of one trace replayed to its end: the JSON object the design
 * guide promises (stable keys), or the text summary. */
void lh_out_stats_json(FILE *out, const lh_view_trace *t, const lh_replay *r);
void lh_out_stats_text(FILE *out, const lh_view_trace *t, const lh_replay *r);

#endif
