/*
 * suppress.c - LeakSanitizer suppression files (see suppress.h).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "suppress.h"

struct lh_suppressions {
    char **patterns;
    size_t n;
};

lh_suppressions *lh_suppressions_new(void)
{
    return calloc(1, sizeof(lh_suppressions));
}

void lh_suppressions_free(lh_suppressions *s)
{
    if (!s)
        return;
    for (size_t i = 0; i < s->n; i++)
        free(s->patterns[i]);
    free(s->patterns);
    free(s);
}

size_t lh_suppressions_count(const lh_suppressions *s) { return s ? s->n : 0; }

static int is_space(char c) { return c == ' ' || c == '\t' || c == '\r' || c == '\v' || c == '\f'; }

int lh_suppressions_load(lh_suppressions *s, const char *path, char *err, size_t errcap)
{
    FILE *f = fopen(path, "r");
    if (!f && errno == ENOMEM) {
        snprintf(err, errcap, "out of memory");
        return -1;
    }
    if (!f) {
        snprintf(err, errcap, "--suppressions %s: %s", path, strerror(errno));
        errno = EINVAL;
        return -1;
    }
    size_t first = s->n; /* a bad file leaves what was loaded before */
    char *line = NULL;
    size_t cap = 0;
    ssize_t len;
    unsigned lineno = 0;
    int rc = 0, nomem = 0;
    while ((len = getline(&line, &cap, f)) >= 0) {
        lineno++;
        char *p = line, *e = line + len;
        while (e > p && (e[-1] == '\n' || is_space(e[-1])))
            e--;
        *e = 0;
        while (is_space(*p))
            p++;
        if (!*p || *p == '#')
            continue;
        if ((size_t)(e - p) != strlen(p)) {
            snprintf(err, errcap, "%s:%u: a NUL byte in the line (a suppression file is text)", path, lineno);
            rc = -1;
            break;
        }
        char *colon = strchr(p, ':');
        if (!colon || colon == p) {
            snprintf(err, errcap, "%s:%u: '%.80s' is not a suppression (expected leak:PATTERN)", path, lineno, p);
            rc = -1;
            break;
        }
        if ((size_t)(colon - p) != 4 || strncmp(p, "leak", 4)) {
            snprintf(err, errcap, "%s:%u: suppression type '%.*s' is not supported (only leak:PATTERN)", path,
                     lineno, (int)(colon - p > 40 ? 40 : colon - p), p);
            rc = -1;
            break;
        }
        char *pat = colon + 1;
        while (is_space(*pat))
            pat++;
        if (!*pat) {
            snprintf(err, errcap, "%s:%u: leak: without a pattern", path, lineno);
            rc = -1;
            break;
        }
        char **v = realloc(s->patterns, (s->n + 1) * sizeof(*s->patterns));
        if (v)
            s->patterns = v;
        if (!v || !(s->patterns[s->n] = strdup(pat))) {
            nomem = 1;
            break;
        }
        s->n++;
    }
    /* getline stops short of the end without an error when a line cannot
     * be allocated: that is out of memory, not the end of the file. */
    if (!rc && !nomem && !feof(f) && !ferror(f))
        nomem = 1;
    if (nomem) {
        snprintf(err, errcap, "out of memory");
        rc = -1;
    } else if (!rc && ferror(f)) {
        snprintf(err, errcap, "--suppressions %s: read error", path);
        rc = -1;
    }
    free(line);
    fclose(f);
    if (rc < 0) {
        while (s->n > first)
            free(s->patterns[--s->n]);
        errno = nomem ? ENOMEM : EINVAL;
    }
    return rc;
}

/* Where the first len bytes of pat occur in str, or NULL. */
static const char *find(const char *str, const char *pat, size_t len)
{
    if (!len)
        return str;
    for (const char *p = strchr(str, pat[0]); p; p = strchr(p + 1, pat[0]))
        if (!strncmp(p, pat, len))
            return p;
    return NULL;
}

/* sanitizer_common's TemplateMatch, without writing into the pattern:
 * the pattern is cut at each '*' or '$' into pieces that must occur in
 * str in order; '^' pins the first piece to the start, '$' asks the str
 * to end there (or anything after a '*'). */
int lh_template_match(const char *t, const char *str)
{
    if (!str || !*str || !t)
        return 0;
    int start = 0, asterisk = 0;
    if (*t == '^')
        start = 1, t++;
    while (*t) {
        if (*t == '*') {
            t++;
            start = 0;
            asterisk = 1;
            continue;
        }
        if (*t == '$')
            return !*str || asterisk;
        if (!*str)
            return 0;
        size_t len = strcspn(t, "*$");
        const char *at = find(str, t, len);
        if (!at || (start && at != str))
            return 0;
        str = at + len;
        t += len;
        start = asterisk = 0;
    }
    return 1;
}

int lh_suppressions_match(const lh_suppressions *s, const lh_sym_frame *const *f, size_t n)
{
    if (!s)
        return 0;
    for (size_t k = 0; k < s->n; k++)
        for (size_t i = 0; i < n; i++)
            if (lh_template_match(s->patterns[k], f[i]->module) || lh_template_match(s->patterns[k], f[i]->name)
                || lh_template_match(s->patterns[k], f[i]->file))
                return 1;
    return 0;
}
