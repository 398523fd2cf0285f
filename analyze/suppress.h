/*
 * suppress.h - LeakSanitizer suppression files, read and matched as LSan
 * does, so a project's lsan.supp works unchanged with leakhunt-replay
 * --suppressions.
 *
 * A file is lines of "leak:PATTERN"; blank lines and lines starting with
 * '#' are skipped, leading and trailing white space is ignored. A stack
 * is suppressed when PATTERN matches the function, the source file or the
 * module of any of its frames. PATTERN matches as a substring, where '*'
 * stands for any run of characters, a leading '^' anchors it to the start
 * of the name and a trailing '$' to its end (sanitizer_common's
 * TemplateMatch).
 */
#ifndef LH_SUPPRESS_H
#define LH_SUPPRESS_H

#include <stddef.h>

#include "symbols.h"

typedef struct lh_suppressions lh_suppressions;

lh_suppressions *lh_suppressions_new(void); /* NULL when out of memory */
void lh_suppressions_free(lh_suppressions *s); /* accepts NULL */

/* Add the patterns of a file. 0, or -1 with a message in err naming the
 * file (and the line, for a line that is not "leak:PATTERN"); nothing of
 * a bad file is kept. errno is ENOMEM when memory ran out (err says "out
 * of memory"), EINVAL otherwise. */
int lh_suppressions_load(lh_suppressions *s, const char *path, char *err, size_t errcap);

/* Number of patterns loaded. */
size_t lh_suppressions_count(const lh_suppressions *s);

/* 1 if a pattern matches a name of one of the frames, else 0. */
int lh_suppressions_match(const lh_suppressions *s, const lh_sym_frame *const *f, size_t n);

/* LSan's TemplateMatch: 1 if pattern matches str (NULL or "" never). */
int lh_template_match(const char *pattern, const char *str);

#endif
