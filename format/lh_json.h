/*
 * lh_json.h - the one JSON string writer: every JSON leakhunt writes
 * (leakhunt-replay's views and --stats, the speedscope export and the HTML
 * report's data, leakhunt-dump --json) puts its strings through it, so each
 * is valid UTF-8 JSON whatever bytes a path, a symbol or a label holds.
 *
 * It writes only to the stream it is given; like the rest of format/ it
 * never prints a message of its own.
 */
#ifndef LH_JSON_H
#define LH_JSON_H

#include <stdio.h>

/* Length (1 to 4) of the well-formed UTF-8 sequence s starts with, or 0
 * when it starts none: a stray continuation byte, 0xc0, 0xc1 or 0xf5 and
 * above, an overlong form, a surrogate, a code point past U+10FFFF, or a
 * sequence cut short (by the terminating NUL too; s is NUL-terminated and
 * never read past it). */
int lh_utf8_len(const char *s);

/* Write s as one JSON string, quotes included. Escaped: '"' and '\\';
 * control characters (U+0000 to U+001F and U+007F) as \n, \r, \t, \b, \f
 * or \u00XX; '<', '>' and '&' as \u003c, \u003e, \u0026, so the JSON can
 * sit inside an HTML <script>. Each byte that is not part of well-formed
 * UTF-8 (lh_utf8_len) becomes U+FFFD, written \ufffd; everything else is
 * copied. NULL is written as "". Write errors stay on out (ferror). */
void lh_json_str(FILE *out, const char *s);

#endif
