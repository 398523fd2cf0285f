/*
 * xalloc.h - allocation for the analysis programs. leakhunt-replay cannot
 * answer with half a heap, so running out of memory ends it with one
 * message and exit status LH_EXIT_NOMEM (4: leakhunt-replay's 3 is
 * --fail-over's "the view is over the limit", which a CI gate must never
 * confuse with a crash of the tool). The engine returns the failure
 * instead (-ENOMEM, LH_E_NOMEM or NULL with errno ENOMEM) and the program
 * calls lh_nomem; the symbolizer, the selections and the histogram still
 * use lh_xrealloc and lh_xcalloc.
 */
#ifndef LH_XALLOC_H
#define LH_XALLOC_H

#include <stddef.h>

#define LH_EXIT_NOMEM 4

/* Say "leakhunt: out of memory" and exit with LH_EXIT_NOMEM. */
void lh_nomem(void) __attribute__((noreturn));

/* realloc that never returns NULL (n = 0 allocates one byte). */
void *lh_xrealloc(void *p, size_t n);
/* Zeroed n * size bytes that are never NULL (n = 0 allocates one byte). */
void *lh_xcalloc(size_t n, size_t size);

#endif
