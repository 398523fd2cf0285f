/*
 * flame.h - the aggregated stack tree every export draws from.
 *
 * A view of leakhunt-replay (--at, --diff, --leaks, --peak, a time window,
 * temporary allocations) produces rows of (stack, values); the replay tool
 * adds each row here with its symbolized frames, and the exporters render
 * the tree: folded stacks, an interactive SVG, pprof, speedscope, and the
 * HTML report, which holds several trees (one per moment) plus the heap over
 * time. The tree merges equal frames (by name, file and line) under the same
 * parent, so exports never see duplicates.
 *
 * Exporters write to a FILE* and return 0 or -errno; they never print to
 * stderr or exit.
 */
#ifndef LH_FLAME_H
#define LH_FLAME_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "stack_frame.h"

/* One symbolized frame (stack_frame.h). Strings are copied by lh_flame_add. */
typedef lh_stack_frame lh_flame_frame;

/* The values every sample carries. For a diff tree they are deltas (B - A)
 * and may be negative. */
enum {
    LH_VAL_LIVE_BYTES,   /* inuse_space */
    LH_VAL_LIVE_COUNT,   /* inuse_objects */
    LH_VAL_ALLOC_BYTES,  /* alloc_space */
    LH_VAL_ALLOC_COUNT,  /* alloc_objects */
    LH_VAL_COUNT
};

/* Name of a value ("live_bytes", ...) and the value index of a name, -1 if
 * none. */
const char *lh_flame_value_name(int value);
int lh_flame_value_parse(const char *name);

typedef struct lh_flame lh_flame;

/* A new empty tree; title is shown by the SVG and HTML. is_diff marks a
 * differential tree (values are deltas). NULL on out of memory. */
lh_flame *lh_flame_new(const char *title, int is_diff);
void lh_flame_free(lh_flame *f); /* accepts NULL */

/* Add a stack with frames ordered root (outermost, e.g. main) first and the
 * allocating function last, and its values. 0 or -ENOMEM. */
int lh_flame_add(lh_flame *f, const lh_flame_frame *frames, size_t depth,
                 const int64_t values[LH_VAL_COUNT]);

/* The path of the traced program's own executable, as frames name their
 * module: exports that name a main binary (pprof's first mapping) name this
 * one. Copied; NULL clears it. 0 or -ENOMEM. */
int lh_flame_set_main_module(lh_flame *f, const char *path);

/* Sum of a value over every sample. */
int64_t lh_flame_total(const lh_flame *f, int value);

/* Brendan Gregg's folded format: "frame;frame;frame value\n", root first,
 * one line per distinct stack, lines sorted; stacks with value 0 omitted. */
int lh_export_folded(const lh_flame *f, int value, FILE *out);

typedef struct {
    int value;          /* LH_VAL_* to size frames by */
    double min_width;   /* px; narrower frames are merged away (0 = 0.1) */
    int width;          /* image width in px (0 = 1200) */
} lh_svg_opts;

/* Self-contained interactive SVG: click to zoom, search with highlight,
 * tooltips with bytes/count/percent, colours by module; for a diff tree,
 * growth and shrink in distinct colours. */
int lh_export_svg(const lh_flame *f, const lh_svg_opts *opts, FILE *out);

/* pprof profile.proto, gzip-compressed, with sample types inuse_space,
 * inuse_objects, alloc_space, alloc_objects and function, location and
 * mapping tables (with build ids). -EIO when out fails. */
int lh_export_pprof(const lh_flame *f, FILE *out);

/* speedscope file format (JSON, "sampled" profile weighted by value). */
int lh_export_speedscope(const lh_flame *f, int value, FILE *out);

/* The merged call tree as a person reads it (leakhunt-replay --tree): one
 * line per frame, indented under its caller, with total and self values
 * (self: stacks that end there), children biggest first (by the absolute
 * value asked for: a diff's shrinking subtrees rank too). A subtree whose total is
 * smaller than min_value (absolute) is left out, and only the
 * max_children biggest children of a node are shown (0 = all); what is
 * left out is summed in one "... N more" line (text) or in "omitted_bytes"
 * and "omitted_count" (JSON) so every level still adds up. JSON is one
 * object per node: function, file, line, module (where known), bytes,
 * count, self_bytes, self_count (top-down only), children. An inverted
 * tree (built from stacks site first) has no self columns: its roots are
 * the allocating sites and their children the callers. */
typedef struct {
    int value;              /* LH_VAL_*: bytes and counts shown are this kind's */
    int64_t min_value;      /* in bytes */
    size_t max_children;    /* 0 = all */
    int inverted;
    int json;
} lh_tree_opts;
int lh_export_tree(const lh_flame *f, const lh_tree_opts *opts, FILE *out);

/* --- HTML report --------------------------------------------------------- */

typedef struct lh_report lh_report;

lh_report *lh_report_new(const char *title);
void lh_report_free(lh_report *r);
/* Heap and RSS over time (seconds, bytes); rss < 0 when unknown. */
int lh_report_add_point(lh_report *r, double time_s, int64_t heap_bytes, int64_t rss_bytes);
int lh_report_add_marker(lh_report *r, double time_s, const char *label);
void lh_report_set_peak(lh_report *r, double time_s, int64_t heap_bytes);
/* A moment the reader can pick: the live heap at time_s as a tree. The
 * report takes ownership of f. label may be NULL ("at 12.3 s"). */
int lh_report_add_snapshot(lh_report *r, double time_s, const char *label, lh_flame *f);
/* One self-contained page (no network): heap/RSS chart with markers and
 * peak; picking a moment or a span between two snapshots shows its flame
 * graph and top sites. */
int lh_export_html(const lh_report *r, FILE *out);

#endif
