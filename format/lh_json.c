/*
 * lh_json.c - JSON strings from arbitrary bytes (lh_json.h).
 *
 * Paths and symbols are bytes, not text: a file name may hold a quote, a
 * newline or Latin-1. JSON must be UTF-8 (RFC 8259 section 8.1), and
 * python's json, jq and browsers refuse anything else, so a byte that is
 * not part of well-formed UTF-8 is replaced by U+FFFD, one per byte, as
 * the Unicode standard recommends (3.9, "substitution of maximal
 * subparts" differs only in how many U+FFFD a cut-short sequence gives).
 */
#include "lh_json.h"

int lh_utf8_len(const char *str)
{
    const unsigned char *s = (const unsigned char *)str;
    if (s[0] < 0x80)
        return 1;
    int n = s[0] >= 0xc2 && s[0] <= 0xdf ? 2 : s[0] >= 0xe0 && s[0] <= 0xef ? 3
          : s[0] >= 0xf0 && s[0] <= 0xf4 ? 4 : 0;
    /* A NUL is not a continuation byte: the loop stops there. */
    for (int i = 1; i < n; i++)
        if ((s[i] & 0xc0) != 0x80)
            return 0;
    /* Overlong forms, surrogates, past U+10FFFF. */
    if ((s[0] == 0xe0 && s[1] < 0xa0) || (s[0] == 0xed && s[1] >= 0xa0) ||
        (s[0] == 0xf0 && s[1] < 0x90) || (s[0] == 0xf4 && s[1] >= 0x90))
        return 0;
    return n;
}

void lh_json_str(FILE *out, const char *str)
{
    const char *s = str ? str : "";
    putc('"', out);
    while (*s) {
        int n = lh_utf8_len(s);
        unsigned char c = (unsigned char)*s;
        if (n == 0) {
            fputs("\\ufffd", out);
            s++;
            continue;
        }
        switch (c) {
        case '"': fputs("\\\"", out); break;
        case '\\': fputs("\\\\", out); break;
        case '\n': fputs("\\n", out); break;
        case '\r': fputs("\\r", out); break;
        case '\t': fputs("\\t", out); break;
        case '\b': fputs("\\b", out); break;
        case '\f': fputs("\\f", out); break;
        default:
            if (c < 0x20 || c == 0x7f || c == '<' || c == '>' || c == '&')
                fprintf(out, "\\u%04x", c);
            else
                fwrite(s, 1, (size_t)n, out);
        }
        s += n;
    }
    putc('"', out);
}
