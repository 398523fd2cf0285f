/*
 * select.h - which stacks a view keeps: --filter (a stack must mention a
 * text), --exclude (a stack must not) and LeakSanitizer suppressions.
 * Applied to a view's samples before anything is grouped or exported, so
 * the table, the tree, the histogram and every export show the same
 * stacks.
 */
#ifndef LH_SELECT_H
#define LH_SELECT_H

#include <stddef.h>

#include "sites.h"
#include "suppress.h"

typedef struct lh_select lh_select;

lh_select *lh_select_new(void); /* NULL when out of memory */
void lh_select_free(lh_select *s); /* accepts NULL; not the suppressions */

/* A stack is kept when it mentions every include text, no exclude text
 * (a function, file or module name containing it) and no suppression
 * pattern matches it. Texts are borrowed (an argv string), as are the
 * suppressions (owned by the caller, which frees them after s). The
 * texts: 0, or -1 with errno ENOMEM. */
int lh_select_include(lh_select *s, const char *text);
int lh_select_exclude(lh_select *s, const char *text);
void lh_select_suppressions(lh_select *s, const lh_suppressions *sup);

/* Whether anything is asked (else every stack is kept). */
int lh_select_active(const lh_select *s);
/* Whether a stack of these frames (innermost first) is kept. */
int lh_select_keeps(const lh_select *s, const lh_sym_frame *const *f, size_t n);
/* Whether stack (of r, symbolized through sym) is kept: 1 or 0, or -1
 * with errno ENOMEM when it could not be symbolized. */
int lh_select_keeps_stack(const lh_select *s, const lh_replay *r, lh_symbols *sym, uint32_t stack);
/* Keep the samples whose stacks s keeps, in order, at the front of the
 * array; returns how many, or -1 with errno ENOMEM (the array is then
 * half sorted, for the caller to drop). */
ssize_t lh_select_samples(const lh_select *s, lh_sample *samples, size_t n);

#endif
