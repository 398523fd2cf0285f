/*
 * flame.c - the aggregated stack tree behind every export (see flame.h).
 *
 * Frames are merged by (name, file, line) under the same parent; a single
 * hash table (idtable.h) over all nodes keyed by (parent, name, file, line) finds a
 * child in O(1) however wide the parent is (a hot allocator can have tens
 * of thousands of distinct callers). Strings are interned so keys compare
 * by pointer.
 */
#include "flame_int.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

static const char *const value_names[LH_VAL_COUNT] = {
    "live_bytes", "live_count", "alloc_bytes", "alloc_count",
};

const char *lh_flame_value_name(int value)
{
    return value >= 0 && value < LH_VAL_COUNT ? value_names[value] : NULL;
}

int lh_flame_value_parse(const char *name)
{
    for (int i = 0; name && i < LH_VAL_COUNT; i++)
        if (!strcmp(name, value_names[i]))
            return i;
    return -1;
}

int lh_value_is_bytes(int value)
{
    return value == LH_VAL_LIVE_BYTES || value == LH_VAL_ALLOC_BYTES;
}

/* --- string interning ---------------------------------------------------- */

struct lh_fchunk {
    lh_fchunk *next;
    size_t used, size;
    char data[];
};

static char *arena_alloc(lh_flame *f, size_t n)
{
    lh_fchunk *c = f->arena;
    if (!c || c->size - c->used < n) {
        size_t size = n > 65536 ? n : 65536;
        c = malloc(sizeof *c + size);
        if (!c)
            return NULL;
        c->next = f->arena, c->used = 0, c->size = size;
        f->arena = c;
    }
    char *p = c->data + c->used;
    c->used += n;
    return p;
}

static uint64_t str_hash(const void *ctx, uint32_t id)
{
    const char *s = ((const lh_flame *)ctx)->strv[id];
    return lh_hash_bytes(s, strlen(s));
}

/* The tree's copy of s (NULL stays NULL); *err set on out of memory. */
static const char *intern(lh_flame *f, const char *s, int *err)
{
    if (!s)
        return NULL;
    size_t len = strlen(s);
    uint64_t h = lh_hash_bytes(s, len);
    uint32_t j = lh_idtable_start(&f->strs, h);
    for (; f->strs.slot[j] != LH_ID_NONE; j = lh_idtable_next(&f->strs, j))
        if (!strcmp(f->strv[f->strs.slot[j]], s))
            return f->strv[f->strs.slot[j]];
    if (f->strs.n == f->strv_cap) {
        uint32_t cap = f->strv_cap ? 2 * f->strv_cap : 1024;
        const char **v = realloc(f->strv, (size_t)cap * sizeof(*v));
        if (!v) {
            *err = -ENOMEM;
            return NULL;
        }
        f->strv = v, f->strv_cap = cap;
    }
    if (lh_idtable_full(&f->strs)) {
        if (lh_idtable_grow(&f->strs, str_hash, f) < 0) {
            *err = -ENOMEM;
            return NULL;
        }
        j = lh_idtable_free_slot(&f->strs, h);
    }
    char *copy = arena_alloc(f, len + 1);
    if (!copy) {
        *err = -ENOMEM;
        return NULL;
    }
    memcpy(copy, s, len + 1);
    f->strv[f->strs.n] = copy;
    lh_idtable_put(&f->strs, j, f->strs.n);
    return copy;
}

/* --- the tree ------------------------------------------------------------ */

static uint64_t child_hash(uint32_t parent, const char *name, const char *file, unsigned line)
{
    uint64_t h = lh_hash_mix(parent ^ ((uint64_t)line << 32));
    h = lh_hash_mix(h ^ (uint64_t)(uintptr_t)name);
    return (uint32_t)lh_hash_mix(h ^ (uint64_t)(uintptr_t)file);
}

static uint64_t node_hash(const void *ctx, uint32_t id)
{
    const lh_fnode *nd = &((const lh_flame *)ctx)->nodes[id];
    return child_hash(nd->parent, nd->name, nd->file, nd->line);
}

lh_flame *lh_flame_new(const char *title, int is_diff)
{
    lh_flame *f = calloc(1, sizeof *f);
    if (!f)
        return NULL;
    f->is_diff = is_diff;
    f->title = strdup(title ? title : "");
    f->cap = 1024;
    f->nodes = calloc(f->cap, sizeof *f->nodes);
    if (!f->title || !f->nodes || lh_idtable_init(&f->kids, 512) || lh_idtable_init(&f->strs, 512)) {
        lh_flame_free(f);
        return NULL;
    }
    f->n = 1;
    f->nodes[0].name = "all";
    f->nodes[0].parent = f->nodes[0].first_child = f->nodes[0].next_sibling = LH_NONE;
    return f;
}

void lh_flame_free(lh_flame *f)
{
    if (!f)
        return;
    while (f->arena) {
        lh_fchunk *next = f->arena->next;
        free(f->arena);
        f->arena = next;
    }
    lh_idtable_release(&f->strs);
    lh_idtable_release(&f->kids);
    free(f->strv);
    free(f->nodes);
    free(f->title);
    free(f);
}

static void hex(char *dst, const uint8_t *p, size_t n)
{
    static const char digits[] = "0123456789abcdef";
    for (size_t i = 0; i < n; i++) {
        dst[2 * i] = digits[p[i] >> 4];
        dst[2 * i + 1] = digits[p[i] & 15];
    }
    dst[2 * n] = 0;
}

/* The child of parent for frame fr, created if missing; LH_NONE on ENOMEM. */
static uint32_t child(lh_flame *f, uint32_t parent, const lh_flame_frame *fr)
{
    int err = 0;
    const char *name = intern(f, fr->name ? fr->name : "[unknown]", &err);
    const char *file = intern(f, fr->file, &err);
    if (err)
        return LH_NONE;
    uint64_t h = child_hash(parent, name, file, fr->line);
    uint32_t j = lh_idtable_start(&f->kids, h);
    for (; f->kids.slot[j] != LH_ID_NONE; j = lh_idtable_next(&f->kids, j)) {
        const lh_fnode *nd = &f->nodes[f->kids.slot[j]];
        if (nd->parent == parent && nd->name == name && nd->file == file && nd->line == fr->line)
            return f->kids.slot[j];
    }
    if (lh_idtable_full(&f->kids)) {
        if (lh_idtable_grow(&f->kids, node_hash, f) < 0)
            return LH_NONE;
        j = lh_idtable_free_slot(&f->kids, h);
    }
    const char *module = intern(f, fr->module, &err);
    const char *build_id = NULL;
    if (fr->build_id && fr->build_id_len) {
        char *buf = malloc(2 * fr->build_id_len + 1);
        if (!buf)
            return LH_NONE;
        hex(buf, fr->build_id, fr->build_id_len);
        build_id = intern(f, buf, &err);
        free(buf);
    }
    if (err)
        return LH_NONE;
    if (f->n == f->cap) {
        lh_fnode *nodes = realloc(f->nodes, 2 * (size_t)f->cap * sizeof *nodes);
        if (!nodes)
            return LH_NONE;
        f->nodes = nodes, f->cap *= 2;
    }
    uint32_t id = f->n++;
    lh_fnode *nd = &f->nodes[id];
    memset(nd, 0, sizeof *nd);
    nd->name = name, nd->file = file, nd->line = fr->line;
    nd->module = module, nd->build_id = build_id;
    nd->address = fr->address, nd->module_offset = fr->module_offset;
    nd->inlined = fr->inlined;
    nd->parent = parent, nd->depth = f->nodes[parent].depth + 1;
    nd->first_child = LH_NONE;
    nd->next_sibling = f->nodes[parent].first_child;
    f->nodes[parent].first_child = id;
    lh_idtable_put(&f->kids, j, id);
    return id;
}

int lh_flame_add(lh_flame *f, const lh_flame_frame *frames, size_t depth,
                 const int64_t values[LH_VAL_COUNT])
{
    /* Find or make the whole path first so a failure adds no values. */
    uint32_t at = 0;
    for (size_t i = 0; i < depth; i++)
        if ((at = child(f, at, &frames[i])) == LH_NONE)
            return -ENOMEM;
    /* Sums wrap rather than overflow (UB): a hostile trace can carry
     * sizes near 2^64. */
    for (int v = 0; v < LH_VAL_COUNT; v++)
        f->nodes[at].self[v] = (int64_t)((uint64_t)f->nodes[at].self[v] + (uint64_t)values[v]);
    for (uint32_t n = at; n != LH_NONE; n = f->nodes[n].parent)
        for (int v = 0; v < LH_VAL_COUNT; v++)
            f->nodes[n].total[v] = (int64_t)((uint64_t)f->nodes[n].total[v] + (uint64_t)values[v]);
    return 0;
}

int lh_flame_set_main_module(lh_flame *f, const char *path)
{
    int err = 0;
    const char *m = intern(f, path && *path ? path : NULL, &err);
    if (err)
        return err;
    f->main_module = m;
    return 0;
}

int64_t lh_flame_total(const lh_flame *f, int value)
{
    if (!f || value < 0 || value >= LH_VAL_COUNT)
        return 0;
    return f->nodes[0].total[value];
}

/* --- sorted children ----------------------------------------------------- */

static int str_cmp(const char *a, const char *b)
{
    if (a == b)
        return 0;
    return strcmp(a ? a : "", b ? b : "");
}

static int kid_cmp(const void *pa, const void *pb, void *ctx)
{
    const lh_fnode *nodes = ctx;
    const lh_fnode *a = &nodes[*(const uint32_t *)pa], *b = &nodes[*(const uint32_t *)pb];
    if (a->parent != b->parent)
        return a->parent < b->parent ? -1 : 1;
    int c = str_cmp(a->name, b->name);
    if (!c)
        c = str_cmp(a->file, b->file);
    if (!c)
        c = (a->line > b->line) - (a->line < b->line);
    return c;
}

int lh_flame_kids(const lh_flame *f, lh_fkids *k)
{
    k->start = calloc((size_t)f->n + 1, sizeof *k->start);
    k->list = malloc(((size_t)f->n + 1) * sizeof *k->list);
    if (!k->start || !k->list) {
        lh_flame_kids_free(k);
        return -ENOMEM;
    }
    /* One sort by (parent, name, file, line) groups and orders every
     * sibling list at once. */
    for (uint32_t i = 1; i < f->n; i++)
        k->list[i - 1] = i;
    qsort_r(k->list, f->n - 1, sizeof *k->list, kid_cmp, f->nodes);
    for (uint32_t i = 1; i < f->n; i++)
        k->start[f->nodes[i].parent + 1]++;
    for (uint32_t i = 0; i < f->n; i++)
        k->start[i + 1] += k->start[i];
    return 0;
}

void lh_flame_kids_free(lh_fkids *k)
{
    free(k->start);
    free(k->list);
    k->start = k->list = NULL;
}

/* --- escaping -------------------------------------------------------------- */

void lh_put_xml(FILE *out, const char *str)
{
    const unsigned char *s = (const unsigned char *)str;
    while (*s) {
        int n = lh_utf8_len((const char *)s);
        if (n == 0) {
            fputs("\xef\xbf\xbd", out), s++;
            continue;
        }
        switch (*s) {
        case '<': fputs("&lt;", out); break;
        case '>': fputs("&gt;", out); break;
        case '&': fputs("&amp;", out); break;
        case '"': fputs("&quot;", out); break;
        case '\'': fputs("&#39;", out); break;
        case '\n': fputs("&#10;", out); break;
        case '\t': fputs("&#9;", out); break;
        default:
            /* XML 1.0 forbids other C0 controls even as references. */
            if (*s < 0x20)
                fputs("\xef\xbf\xbd", out);
            else
                fwrite(s, 1, n, out);
        }
        s += n;
    }
}
