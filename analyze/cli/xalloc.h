/*
 * xalloc.h - out of memory in the analysis programs (leakhunt-replay,
 * leakhunt-top): only programs use it. They cannot answer with half a
 * heap, so running out of memory ends them with one message and exit
 * status LH_EXIT_NOMEM (4: leakhunt-replay's 3 is --fail-over's "the view
 * is over the limit", which a CI gate must never confuse with a crash of
 * the tool). The engine under analyze/ never exits: it returns the
 * failure (-ENOMEM, LH_E_NOMEM, or NULL / -1 with errno ENOMEM) and the
 * program calls lh_nomem.
 */
#ifndef LH_XALLOC_H
#define LH_XALLOC_H

#include <stddef.h>

#define LH_EXIT_NOMEM 4

/* Say "leakhunt: out of memory" and exit with LH_EXIT_NOMEM. */
void lh_nomem(void) __attribute__((noreturn));

/* Zeroed n * size bytes that are never NULL (n = 0 allocates one byte). */
void *lh_xcalloc(size_t n, size_t size);

#endif
