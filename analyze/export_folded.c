/*
 * export_folded.c - Brendan Gregg's folded stacks, "a;b;c value\n".
 *
 * The format has no escape syntax: every consumer (flamegraph.pl, inferno,
 * speedscope) splits on ';' and on the last space. So a ';' inside a name
 * becomes ':' (it must not split the frame in two) and a newline becomes
 * the two characters "\n" (it must not end the line). Two tree nodes can
 * fold to the same text (same name, different file or line), so lines are
 * sorted and equal ones summed.
 */
#include "flame_int.h"

#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

typedef struct {
    char *text;
    int64_t value;
} line_t;

typedef struct {
    char *buf;      /* the current path, root first */
    size_t len, cap;
    line_t *lines;
    size_t n, lcap;
    int err;
} walk_t;

static int reserve(walk_t *w, size_t more)
{
    if (w->len + more + 1 <= w->cap)
        return 0;
    size_t cap = (w->len + more + 1) * 2;
    char *b = realloc(w->buf, cap);
    if (!b)
        return -ENOMEM;
    w->buf = b, w->cap = cap;
    return 0;
}

static int append_name(walk_t *w, const char *s)
{
    if (reserve(w, 2 * strlen(s) + 1))
        return -ENOMEM;
    if (w->len)
        w->buf[w->len++] = ';';
    for (; *s; s++) {
        if (*s == ';')
            w->buf[w->len++] = ':';
        else if (*s == '\n' || *s == '\r')
            w->buf[w->len++] = '\\', w->buf[w->len++] = *s == '\n' ? 'n' : 'r';
        else
            w->buf[w->len++] = *s;
    }
    w->buf[w->len] = 0;
    return 0;
}

static int add_line(walk_t *w, int64_t value)
{
    if (w->n == w->lcap) {
        size_t cap = w->lcap ? 2 * w->lcap : 1024;
        line_t *l = realloc(w->lines, cap * sizeof *l);
        if (!l)
            return -ENOMEM;
        w->lines = l, w->lcap = cap;
    }
    if (!(w->lines[w->n].text = strdup(w->buf)))
        return -ENOMEM;
    w->lines[w->n++].value = value;
    return 0;
}

static int line_cmp(const void *a, const void *b)
{
    return strcmp(((const line_t *)a)->text, ((const line_t *)b)->text);
}

int lh_export_folded(const lh_flame *f, int value, FILE *out)
{
    if (!f || !out || value < 0 || value >= LH_VAL_COUNT)
        return -EINVAL;
    walk_t w = {0};
    int rc = 0;
    /* Iterative DFS (stacks can be thousands deep): descend via
     * first_child, climb back via parent, trimming the path text. */
    uint32_t n = f->nodes[0].first_child;
    size_t *mark = malloc(((size_t)f->n + 1) * sizeof *mark); /* path length before node, by depth */
    if (!mark)
        return -ENOMEM;
    while (n != LH_NONE && !rc) {
        const lh_fnode *nd = &f->nodes[n];
        mark[nd->depth] = w.len;
        if ((rc = append_name(&w, nd->name)))
            break;
        if (nd->self[value] && (rc = add_line(&w, nd->self[value])))
            break;
        if (nd->first_child != LH_NONE) {
            n = nd->first_child;
            continue;
        }
        /* Climb until a node with a next sibling. */
        while (n != LH_NONE && f->nodes[n].next_sibling == LH_NONE) {
            w.len = mark[f->nodes[n].depth];
            n = f->nodes[n].parent;
            if (n == 0)
                n = LH_NONE;
        }
        if (n != LH_NONE) {
            w.len = mark[f->nodes[n].depth];
            n = f->nodes[n].next_sibling;
        }
    }
    free(mark);
    if (!rc) {
        if (w.n)
            qsort(w.lines, w.n, sizeof *w.lines, line_cmp);
        for (size_t i = 0; i < w.n;) {
            int64_t sum = 0;
            size_t j = i;
            for (; j < w.n && !strcmp(w.lines[j].text, w.lines[i].text); j++)
                sum = (int64_t)((uint64_t)sum + (uint64_t)w.lines[j].value); /* wraps, no UB */
            if (sum)
                fprintf(out, "%s %" PRId64 "\n", w.lines[i].text, sum);
            i = j;
        }
        if (fflush(out) || ferror(out))
            rc = -EIO;
    }
    for (size_t i = 0; i < w.n; i++)
        free(w.lines[i].text);
    free(w.lines);
    free(w.buf);
    return rc;
}
