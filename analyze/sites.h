/*
 * sites.h - from per-stack values to rows a person reads.
 *
 * A view (heap at T, diff, leaks, ...) is a list of samples: a stack of one
 * trace and its values. Grouping symbolizes each stack and sums samples
 * whose key is equal: the whole stack, the allocating function, its source
 * line, or its module. The allocating frame is the innermost one that is
 * not allocator plumbing (operator new, std:: containers, libc wrappers
 * such as strdup), so "by line" names the program's own line. The
 * program's own allocator wrappers join that plumbing by name
 * (lh_alloc_fns, leakhunt-replay --alloc-fn).
 */
#ifndef LH_SITES_H
#define LH_SITES_H

#include <stdint.h>
#include <stdio.h>
#include <sys/types.h>

#include "flame.h"
#include "replay.h"
#include "symbols.h"

enum { LH_BY_STACK, LH_BY_FUNCTION, LH_BY_LINE, LH_BY_MODULE };

/* Values of a sample / row. For diffs, BYTES and COUNT are B - A and
 * BASE_* hold A. */
enum { V_BYTES, V_COUNT, V_ALLOC_BYTES, V_ALLOC_COUNT, V_BASE_BYTES, V_BASE_COUNT, V_N };

/* Functions a program allocates through (--alloc-fn NAME, as valgrind
 * massif's): fnmatch(3) globs over function names. The site of a stack is
 * then the first frame that is not plumbing outside the outermost frame
 * that matches, so the wrapper and everything it calls are skipped and
 * the site is the wrapper's caller. */
typedef struct lh_alloc_fns lh_alloc_fns;
lh_alloc_fns *lh_alloc_fns_new(void);
void lh_alloc_fns_free(lh_alloc_fns *a); /* accepts NULL */
/* Add a glob (copied). 0, or -1 with errno EINVAL when glob is empty,
 * ENOMEM when memory ran out. */
int lh_alloc_fns_add(lh_alloc_fns *a, const char *glob);
/* Whether a function name matches one of the globs: the whole name, or a
 * C++ name without its parameter list ("ns::Pool::get(unsigned long)" is
 * matched by "ns::Pool::get" and by "ns::Pool::*"). 1 or 0, or -1 with
 * errno ENOMEM. */
int lh_alloc_fns_match(const lh_alloc_fns *a, const char *name);

typedef struct {
    const lh_replay *r;   /* trace the stack id belongs to */
    lh_symbols *sym;
    const lh_alloc_fns *alloc_fns; /* NULL: the built-in plumbing only */
    uint32_t stack;
    int64_t v[V_N];
} lh_sample;

typedef struct {
    char *key;            /* group key, also the display text */
    const lh_sym_frame *site; /* allocating frame (NULL for the empty stack) */
    lh_sample first;      /* a representative sample (for the stack) */
    int64_t v[V_N];
    int64_t extra[4];     /* view-specific numbers (growth windows, ...) */
} lh_row;

/* Symbolized frames of a stack, innermost first (inline frames expanded).
 * Returns the count; *out is a malloc'ed array of pointers. -1 with errno
 * ENOMEM (*out NULL) when memory ran out. */
ssize_t lh_stack_frames(const lh_replay *r, lh_symbols *sym, uint32_t stack, const lh_sym_frame ***out);

/* The frames of a stack from its site outwards (the site first, then its
 * callers up to the root): the allocator side is left out, as the rows
 * leave it out. Returns the count (0 for the empty stack); *out is a
 * malloc'ed array of pointers. -1 with errno ENOMEM as lh_stack_frames. */
ssize_t lh_stack_site_frames(const lh_sample *s, const lh_sym_frame ***out);

/* Group samples into rows (malloc'ed array, *n_rows). filter: keep samples
 * whose stack mentions it (function, file or module), NULL = all. NULL
 * when memory ran out. */
lh_row *lh_group(const lh_sample *s, size_t n, int by, const char *filter, size_t *n_rows);
void lh_rows_free(lh_row *rows, size_t n);

/* Add the samples to a flame tree, with values chosen for the view. 0, or
 * -ENOMEM (the tree's or the symbolizer's memory). */
int lh_flame_from_samples(lh_flame *f, const lh_sample *s, size_t n);

/* The same from each sample's site outwards (lh_stack_site_frames), root
 * first, or site first when inverted: the tree --tree prints, whose
 * leaves (or roots) are the sites the table lists. */
int lh_flame_from_site_samples(lh_flame *f, const lh_sample *s, size_t n, int inverted);

int lh_by_parse(const char *name);
const char *lh_by_name(int by);

#endif
