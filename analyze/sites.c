/*
 * sites.c - symbolize stacks and group samples into rows.
 */
#include <errno.h>
#include <fnmatch.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sites.h"

int lh_by_parse(const char *name)
{
    static const char *names[] = { "stack", "function", "line", "module" };
    for (int i = 0; i < 4; i++)
        if (!strcmp(name, names[i]))
            return i;
    return -1;
}

const char *lh_by_name(int by)
{
    static const char *names[] = { "stack", "function", "line", "module" };
    return by >= 0 && by < 4 ? names[by] : "?";
}

/* Stack nodes walked per stack, innermost first: 4x the recorder's deepest
 * (LH_MAX_DEPTH 1024). A hostile trace can chain millions of nodes, and the
 * exporters recurse once per frame. */
#define MAX_STACK_NODES 4096

ssize_t lh_stack_frames(const lh_replay *r, lh_symbols *sym, uint32_t stack, const lh_sym_frame ***out)
{
    size_t n = 0, cap = 0;
    const lh_sym_frame **v = NULL;
    uint32_t id = stack, parent, map = lh_replay_stack_map(r, stack);
    uint64_t ip;
    size_t guard = 0;
    *out = NULL;
    while (lh_replay_node(r, id, &parent, &ip) && guard++ < MAX_STACK_NODES) {
        size_t k;
        const lh_sym_frame *f = lh_symbols_lookup(sym, ip, map, &k);
        if (!f)
            goto nomem;
        if (n + k > cap) {
            size_t c = (n + k) * 2;
            const lh_sym_frame **w = realloc(v, c * sizeof(*v));
            if (!w)
                goto nomem;
            v = w;
            cap = c;
        }
        for (size_t i = 0; i < k; i++)
            v[n++] = &f[i];
        id = parent;
    }
    *out = v;
    return (ssize_t)n;
nomem:
    free(v);
    errno = ENOMEM;
    return -1;
}

static int starts(const char *s, const char *prefix)
{
    return s && !strncmp(s, prefix, strlen(prefix));
}

/* Where the qualified name starts in a demangled C++ name. A function
 * template's name begins with its return type ("void std::vector<int>::
 * _M_realloc_insert<int>(...)"): the name is the last space-separated
 * token at template depth 0 before the parameter list. */
static const char *qualified_name(const char *name)
{
    const char *start = name;
    int depth = 0;
    for (const char *p = name; *p; p++) {
        if (*p == '<')
            depth++;
        else if (*p == '>' && depth > 0)
            depth--;
        else if (*p == '(' && depth == 0 && p != name)
            break;
        else if (*p == ' ' && depth == 0 && strncmp(p + 1, "const", 5) && strncmp(p + 1, "[", 1))
            start = p + 1;
    }
    return start;
}

/* Modules that are all plumbing: libc, libstdc++, the loader, ourselves. */
static int is_plumbing_module(const char *path)
{
    const char *base = path ? strrchr(path, '/') : NULL;
    base = base ? base + 1 : path;
    return base && (starts(base, "libc.so") || starts(base, "libstdc++.so") || starts(base, "ld-linux")
                    || starts(base, "libleakhunt"));
}

/* Allocator plumbing: frames a user would not call "the allocation site". */
static int is_plumbing(const lh_sym_frame *f)
{
    if (is_plumbing_module(f->module))
        return 1;
    const char *q = qualified_name(f->name);
    if (starts(q, "std::") || starts(q, "__gnu_cxx::") || starts(q, "operator new"))
        return 1;
    return starts(f->name, "operator new") || starts(f->name, "std::") || starts(f->name, "__gnu_cxx::")
        || starts(f->name, "__cxa_") || starts(f->name, "PyMem_") || starts(f->name, "_PyMem_")
        || starts(f->name, "PyObject_Malloc") || starts(f->name, "_PyObject_Malloc")
        || starts(f->name, "g_malloc") || starts(f->name, "xmalloc");
}

struct lh_alloc_fns {
    char **globs;
    size_t n;
};

lh_alloc_fns *lh_alloc_fns_new(void)
{
    return calloc(1, sizeof(lh_alloc_fns));
}

void lh_alloc_fns_free(lh_alloc_fns *a)
{
    if (!a)
        return;
    for (size_t i = 0; i < a->n; i++)
        free(a->globs[i]);
    free(a->globs);
    free(a);
}

int lh_alloc_fns_add(lh_alloc_fns *a, const char *glob)
{
    if (!glob || !*glob) {
        errno = EINVAL;
        return -1;
    }
    char **v = realloc(a->globs, (a->n + 1) * sizeof(*a->globs));
    if (!v)
        return -1; /* errno ENOMEM */
    a->globs = v;
    if (!(a->globs[a->n] = strdup(glob)))
        return -1;
    a->n++;
    return 0;
}

int lh_alloc_fns_match(const lh_alloc_fns *a, const char *name)
{
    if (!a || !a->n || !name)
        return 0;
    /* The name without its parameter list, for C++ ("ns::f(int) const"). */
    const char *q = qualified_name(name);
    const char *paren = strchr(q, '(');
    size_t len = paren && paren != q ? (size_t)(paren - q) : strlen(q);
    char *bare = malloc(len + 1);
    if (!bare)
        return -1; /* errno ENOMEM */
    memcpy(bare, q, len);
    bare[len] = 0;
    int hit = 0;
    for (size_t i = 0; i < a->n && !hit; i++)
        hit = !fnmatch(a->globs[i], name, 0) || !fnmatch(a->globs[i], bare, 0);
    free(bare);
    return hit;
}

/* A Python frame (recorded from CPython, FORMAT.md 4.4): never plumbing. */
static int is_python_frame(const lh_sym_frame *f)
{
    return f->address >= LH_PY_IP_BASE && f->module && !strcmp(f->module, "python");
}

/* The interpreter itself (python3.x, libpython3.x.so): plumbing when the
 * stack has a Python frame to name instead (list_resize, unicode_new ...). */
static int is_interpreter_module(const char *path)
{
    const char *base = path ? strrchr(path, '/') : NULL;
    base = base ? base + 1 : path;
    return base && (starts(base, "python") || starts(base, "libpython"));
}

static int is_interpreter(const lh_sym_frame *f) { return is_interpreter_module(f->module); }

/* The site frame of a stack without symbolizing more of it than needed:
 * frames are looked up innermost first and the walk stops at the first
 * that is not plumbing. Python frames are known by address alone. *site
 * is NULL for the empty stack. 0, or -1 (errno ENOMEM). */
static int site_of_stack(const lh_replay *r, lh_symbols *sym, uint32_t stack, const lh_sym_frame **site)
{
    uint64_t ips[MAX_STACK_NODES];
    size_t n = 0;
    int python = 0;
    uint32_t id = stack, parent, map = lh_replay_stack_map(r, stack);
    uint64_t ip;
    while (n < MAX_STACK_NODES && lh_replay_node(r, id, &parent, &ip)) {
        ips[n++] = ip;
        python |= ip >= LH_PY_IP_BASE;
        id = parent;
    }
    for (size_t i = 0; i < n; i++) {
        /* A frame in a plumbing module is skipped without reading its
         * debug information (libc's is large and compressed). */
        if (ips[i] < LH_PY_IP_BASE) {
            const char *mod = lh_symbols_module_path(sym, ips[i], map);
            if (is_plumbing_module(mod) || (python && is_interpreter_module(mod)))
                continue;
        }
        size_t k;
        const lh_sym_frame *f = lh_symbols_lookup(sym, ips[i], map, &k);
        if (!f)
            return -1;
        for (size_t j = 0; j < k; j++)
            if (is_python_frame(&f[j]) || (!is_plumbing(&f[j]) && !(python && is_interpreter(&f[j])))) {
                *site = &f[j];
                return 0;
            }
    }
    size_t k; /* all plumbing: the innermost frame */
    *site = n ? lh_symbols_lookup(sym, ips[0], map, &k) : NULL;
    return n && !*site ? -1 : 0;
}

/* The site when the program names its allocator wrappers: the whole stack
 * is symbolized (the outermost wrapper can be anywhere in it, as massif
 * looks for it), and the site is the first frame outside the outermost
 * match that is not plumbing; NULL when no frame matches. 0, or -1
 * (errno ENOMEM). */
static int site_past_alloc_fns(const lh_sample *s, const lh_sym_frame **site)
{
    const lh_sym_frame **f;
    ssize_t nf = lh_stack_frames(s->r, s->sym, s->stack, &f);
    if (nf < 0)
        return -1;
    size_t n = (size_t)nf, outer = n;
    int rc = 0;
    for (size_t i = 0; i < n && rc >= 0; i++)
        if ((rc = lh_alloc_fns_match(s->alloc_fns, f[i]->name)) > 0)
            outer = i;
    *site = NULL;
    if (rc >= 0 && outer < n) {
        for (size_t i = outer + 1; i < n && !*site; i++)
            if (!is_plumbing(f[i]))
                *site = f[i];
        if (!*site) /* nothing but plumbing outside it: its caller, else itself */
            *site = f[outer + 1 < n ? outer + 1 : outer];
    }
    free(f);
    return rc < 0 ? -1 : 0;
}

/* 0, or -1 (errno ENOMEM). */
static int site_of_sample(const lh_sample *s, const lh_sym_frame **site)
{
    if (s->alloc_fns && site_past_alloc_fns(s, site) < 0)
        return -1;
    return s->alloc_fns && *site ? 0 : site_of_stack(s->r, s->sym, s->stack, site);
}

ssize_t lh_stack_site_frames(const lh_sample *s, const lh_sym_frame ***out)
{
    ssize_t nf = lh_stack_frames(s->r, s->sym, s->stack, out);
    if (nf <= 0) /* out of memory, or the empty stack (*out may be NULL) */
        return nf;
    size_t n = (size_t)nf;
    const lh_sym_frame *site;
    if (site_of_sample(s, &site) < 0) {
        free(*out);
        *out = NULL;
        return -1;
    }
    size_t at = 0;
    while (at < n && (*out)[at] != site) /* frames and site share the symbol cache */
        at++;
    if (at == n) /* cannot happen (the site is one of the frames); keep them all */
        at = 0;
    memmove(*out, *out + at, (n - at) * sizeof(**out));
    return (ssize_t)(n - at);
}

static const char *basename_of(const char *p)
{
    const char *s = p ? strrchr(p, '/') : NULL;
    return s ? s + 1 : p;
}

/* The row's key (malloc'ed), or NULL when memory ran out. */
static char *make_key(int by, const lh_sym_frame **f, size_t n, const lh_sym_frame *site)
{
    char *buf = NULL;
    size_t len = 0;
    FILE *m = open_memstream(&buf, &len);
    if (!m)
        return NULL;
    if (!site) {
        fputs("(no stack)", m);
    } else if (by == LH_BY_FUNCTION) {
        fputs(site->name, m);
    } else if (by == LH_BY_LINE) {
        if (site->file)
            fprintf(m, "%s:%u %s", site->file, site->line, site->name);
        else
            fprintf(m, "%s", site->name);
    } else if (by == LH_BY_MODULE) {
        fputs(site->module ? basename_of(site->module) : "(unknown module)", m);
    } else {
        for (size_t i = 0; i < n; i++) {
            if (i)
                fputs("\n", m);
            fputs(f[i]->name, m);
            if (f[i]->file)
                fprintf(m, " (%s:%u)", f[i]->file, f[i]->line);
            if (f[i]->inlined)
                fputs(" [inlined]", m);
        }
    }
    if (fclose(m) != 0) { /* the stream could not grow */
        free(buf);
        return NULL;
    }
    return buf;
}

static int mentions(const lh_sym_frame **f, size_t n, const char *text)
{
    for (size_t i = 0; i < n; i++) {
        if ((f[i]->name && strstr(f[i]->name, text)) || (f[i]->file && strstr(f[i]->file, text))
            || (f[i]->module && strstr(f[i]->module, text)))
            return 1;
    }
    return 0;
}

static int by_key(const void *a, const void *b)
{
    return strcmp(((const lh_row *)a)->key, ((const lh_row *)b)->key);
}

lh_row *lh_group(const lh_sample *s, size_t n, int by, const char *filter, size_t *n_rows)
{
    lh_row *rows = malloc((n ? n : 1) * sizeof(lh_row));
    if (!rows)
        return NULL;
    size_t k = 0;
    /* Only --by stack and --filter need whole stacks symbolized. */
    int whole = by == LH_BY_STACK || filter;
    for (size_t i = 0; i < n; i++) {
        const lh_sym_frame **f = NULL;
        ssize_t nf = 0;
        const lh_sym_frame *site;
        if (whole && (nf = lh_stack_frames(s[i].r, s[i].sym, s[i].stack, &f)) < 0)
            goto nomem;
        if (filter && !mentions(f, (size_t)nf, filter)) {
            free(f);
            continue;
        }
        rows[k].key = site_of_sample(&s[i], &site) < 0 ? NULL : make_key(by, f, (size_t)nf, site);
        free(f);
        if (!rows[k].key)
            goto nomem;
        rows[k].site = site;
        rows[k].first = s[i];
        memcpy(rows[k].v, s[i].v, sizeof(rows[k].v));
        memset(rows[k].extra, 0, sizeof(rows[k].extra));
        k++;
    }
    qsort(rows, k, sizeof(lh_row), by_key);
    size_t out = 0;
    for (size_t i = 0; i < k; i++) {
        if (out && !strcmp(rows[out - 1].key, rows[i].key)) {
            for (int j = 0; j < V_N; j++) /* wraps on hostile sizes rather than overflow */
                rows[out - 1].v[j] = (int64_t)((uint64_t)rows[out - 1].v[j] + (uint64_t)rows[i].v[j]);
            /* keep the stack with the most bytes as the representative */
            if (rows[i].first.v[V_BYTES] > rows[out - 1].first.v[V_BYTES])
                rows[out - 1].first = rows[i].first, rows[out - 1].site = rows[i].site;
            free(rows[i].key);
        } else {
            rows[out++] = rows[i];
        }
    }
    *n_rows = out;
    return rows;
nomem:
    lh_rows_free(rows, k);
    errno = ENOMEM;
    return NULL;
}

void lh_rows_free(lh_row *rows, size_t n)
{
    for (size_t i = 0; i < n; i++)
        free(rows[i].key);
    free(rows);
}

/* Each sample's stack into fl, root first (site first when inverted):
 * from its site outwards (site_only, the table's sites) or every frame. */
static int add_samples(lh_flame *fl, const lh_sample *s, size_t n, int site_only, int inverted)
{
    lh_flame_frame *frames = NULL;
    size_t cap = 0;
    int rc = 0;
    for (size_t i = 0; i < n && rc == 0; i++) {
        const lh_sym_frame **f; /* site first */
        ssize_t got = site_only ? lh_stack_site_frames(&s[i], &f) : lh_stack_frames(s[i].r, s[i].sym, s[i].stack, &f);
        if (got < 0) {
            rc = -ENOMEM;
            break;
        }
        size_t nf = (size_t)got;
        if (nf + 1 > cap) {
            size_t c = (nf + 1) * 2;
            lh_flame_frame *v = realloc(frames, c * sizeof(*frames));
            if (!v) {
                free(f);
                rc = -ENOMEM;
                break;
            }
            frames = v;
            cap = c;
        }
        size_t d = nf;
        if (!nf) {
            memset(&frames[0], 0, sizeof(frames[0]));
            frames[0].name = "(no stack)";
            d = 1;
        }
        for (size_t j = 0; j < nf; j++)
            frames[inverted ? j : nf - 1 - j] = *f[j];
        int64_t v[LH_VAL_COUNT] = { s[i].v[V_BYTES], s[i].v[V_COUNT], s[i].v[V_ALLOC_BYTES],
                                    s[i].v[V_ALLOC_COUNT] };
        rc = lh_flame_add(fl, frames, d, v);
        free(f);
    }
    free(frames);
    return rc;
}

int lh_flame_from_site_samples(lh_flame *fl, const lh_sample *s, size_t n, int inverted)
{
    return add_samples(fl, s, n, 1, inverted);
}

int lh_flame_from_samples(lh_flame *fl, const lh_sample *s, size_t n)
{
    /* The program's own executable (of the first sample's trace), for
     * pprof's main mapping. */
    const Lh__ProcessInfo *pi = n && s[0].r ? lh_replay_process(s[0].r) : NULL;
    int rc = pi && pi->exe ? lh_flame_set_main_module(fl, pi->exe) : 0;
    return rc < 0 ? rc : add_samples(fl, s, n, 0, 0);
}
