/*
 * select.c - which stacks a view keeps (see select.h).
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "select.h"

struct lh_select {
    const char **include, **exclude;
    size_t n_include, n_exclude;
    const lh_suppressions *sup;
};

lh_select *lh_select_new(void)
{
    return calloc(1, sizeof(lh_select));
}

void lh_select_free(lh_select *s)
{
    if (!s)
        return;
    free(s->include);
    free(s->exclude);
    free(s);
}

static int push(const char ***v, size_t *n, const char *text)
{
    const char **w = realloc(*v, (*n + 1) * sizeof(**v));
    if (!w)
        return -1; /* errno ENOMEM */
    *v = w;
    (*v)[(*n)++] = text;
    return 0;
}

int lh_select_include(lh_select *s, const char *text) { return push(&s->include, &s->n_include, text); }
int lh_select_exclude(lh_select *s, const char *text) { return push(&s->exclude, &s->n_exclude, text); }
void lh_select_suppressions(lh_select *s, const lh_suppressions *sup) { s->sup = sup; }

int lh_select_active(const lh_select *s)
{
    return s && (s->n_include || s->n_exclude || lh_suppressions_count(s->sup));
}

/* A function, file or module name of one of the frames contains text. */
static int mentions(const lh_sym_frame *const *f, size_t n, const char *text)
{
    for (size_t i = 0; i < n; i++)
        if ((f[i]->name && strstr(f[i]->name, text)) || (f[i]->file && strstr(f[i]->file, text))
            || (f[i]->module && strstr(f[i]->module, text)))
            return 1;
    return 0;
}

int lh_select_keeps(const lh_select *s, const lh_sym_frame *const *f, size_t n)
{
    if (!s)
        return 1;
    for (size_t i = 0; i < s->n_include; i++)
        if (!mentions(f, n, s->include[i]))
            return 0;
    for (size_t i = 0; i < s->n_exclude; i++)
        if (mentions(f, n, s->exclude[i]))
            return 0;
    return !lh_suppressions_match(s->sup, f, n);
}

int lh_select_keeps_stack(const lh_select *s, const lh_replay *r, lh_symbols *sym, uint32_t stack)
{
    if (!lh_select_active(s))
        return 1;
    const lh_sym_frame **f;
    ssize_t nf = lh_stack_frames(r, sym, stack, &f);
    if (nf < 0)
        return -1;
    int keep = lh_select_keeps(s, f, (size_t)nf);
    free(f);
    return keep;
}

ssize_t lh_select_samples(const lh_select *s, lh_sample *samples, size_t n)
{
    if (!lh_select_active(s))
        return (ssize_t)n;
    size_t k = 0;
    for (size_t i = 0; i < n; i++) {
        const lh_sym_frame **f;
        ssize_t nf = lh_stack_frames(samples[i].r, samples[i].sym, samples[i].stack, &f);
        if (nf < 0)
            return -1; /* the array is left part sorted: the caller drops it */
        if (lh_select_keeps(s, f, (size_t)nf))
            samples[k++] = samples[i];
        free(f);
    }
    return (ssize_t)k;
}
