/*
 * select.c - which stacks a view keeps (see select.h).
 */
#include <stdlib.h>
#include <string.h>

#include "select.h"
#include "xalloc.h"

struct lh_select {
    const char **include, **exclude;
    size_t n_include, n_exclude;
    const lh_suppressions *sup;
};

lh_select *lh_select_new(void)
{
    lh_select *s = lh_xrealloc(NULL, sizeof(*s));
    memset(s, 0, sizeof(*s));
    return s;
}

void lh_select_free(lh_select *s)
{
    if (!s)
        return;
    free(s->include);
    free(s->exclude);
    free(s);
}

static void push(const char ***v, size_t *n, const char *text)
{
    *v = lh_xrealloc(*v, (*n + 1) * sizeof(**v));
    (*v)[(*n)++] = text;
}

void lh_select_include(lh_select *s, const char *text) { push(&s->include, &s->n_include, text); }
void lh_select_exclude(lh_select *s, const char *text) { push(&s->exclude, &s->n_exclude, text); }
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
    const lh_sym_frame **f = NULL;
    size_t nf = lh_stack_frames(r, sym, stack, &f);
    int keep = lh_select_keeps(s, f, nf);
    free(f);
    return keep;
}

size_t lh_select_samples(const lh_select *s, lh_sample *samples, size_t n)
{
    if (!lh_select_active(s))
        return n;
    size_t k = 0;
    for (size_t i = 0; i < n; i++) {
        const lh_sym_frame **f = NULL;
        size_t nf = lh_stack_frames(samples[i].r, samples[i].sym, samples[i].stack, &f);
        if (lh_select_keeps(s, f, nf))
            samples[k++] = samples[i];
        free(f);
    }
    return k;
}
