/*
 * export_tree.c - the call tree as indented text or nested JSON (see
 * lh_export_tree in flame.h): memray tree's and heaptrack_gui's top-down
 * and bottom-up views, from the same merged tree the flame graphs draw.
 */
#include "flame_int.h"

#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "lh_units.h" /* lh_human */

typedef struct {
    const lh_flame *f;
    const lh_tree_opts *o;
    lh_fkids k;
    int bytes, count;   /* value indexes: the bytes and the count of o->value's kind */
    FILE *out;
    uint32_t *order;    /* scratch for sorting children, one stretch per depth */
} tree_ctx;

static int64_t abs64(int64_t v) { return v < 0 ? (int64_t)(0 - (uint64_t)v) : v; }

/* Biggest total of the chosen value first (absolute), then by bytes and
 * name so output is stable. */
static int by_total(const void *pa, const void *pb, void *ctx)
{
    const tree_ctx *c = ctx;
    const lh_fnode *a = &c->f->nodes[*(const uint32_t *)pa], *b = &c->f->nodes[*(const uint32_t *)pb];
    int64_t x = abs64(a->total[c->o->value]), y = abs64(b->total[c->o->value]);
    if (x == y)
        x = abs64(a->total[c->bytes]), y = abs64(b->total[c->bytes]);
    if (x != y)
        return x > y ? -1 : 1;
    int by_name = strcmp(a->name, b->name);
    if (by_name)
        return by_name;
    return (a->line > b->line) - (a->line < b->line);
}

/* Bytes as every table writes them (lh_human), counts as plain numbers. */
static void human(int64_t b, char *buf, size_t cap, int is_bytes)
{
    if (is_bytes)
        lh_human(b, buf, cap, 0);
    else
        snprintf(buf, cap, "%s%" PRIu64, b < 0 ? "-" : "", (uint64_t)abs64(b));
}

/* Children of node shown, biggest first, into c->order + at; returns how
 * many are shown, and sums the others into omitted[]. */
static size_t shown_kids(tree_ctx *c, uint32_t node, size_t at, int64_t omitted[2], size_t *n_omitted)
{
    uint32_t from = c->k.start[node], to = c->k.start[node + 1];
    size_t n = to - from;
    memcpy(c->order + at, c->k.list + from, n * sizeof(uint32_t));
    qsort_r(c->order + at, n, sizeof(uint32_t), by_total, c);
    size_t shown = 0;
    omitted[0] = omitted[1] = 0;
    *n_omitted = 0;
    for (size_t i = 0; i < n; i++) {
        const lh_fnode *k = &c->f->nodes[c->order[at + i]];
        int small = c->o->min_value && abs64(k->total[c->bytes]) < c->o->min_value;
        int over = c->o->max_children && shown >= c->o->max_children;
        if (small || over || (!k->total[c->bytes] && !k->total[c->count])) {
            omitted[0] = (int64_t)((uint64_t)omitted[0] + (uint64_t)k->total[c->bytes]);
            omitted[1] = (int64_t)((uint64_t)omitted[1] + (uint64_t)k->total[c->count]);
            *n_omitted += k->total[c->bytes] || k->total[c->count];
            continue;
        }
        c->order[at + shown++] = c->order[at + i];
    }
    return shown;
}

static void text_node(tree_ctx *c, uint32_t node, unsigned depth, size_t at)
{
    const lh_fnode *x = &c->f->nodes[node];
    char a[32], b[32], d[32], e[32];
    human(x->total[c->bytes], a, sizeof(a), 1);
    human(x->total[c->count], d, sizeof(d), 0);
    if (c->o->inverted) {
        fprintf(c->out, "%12s %10s  %*s", a, d, (int)(2 * depth), "");
    } else {
        human(x->self[c->bytes], b, sizeof(b), 1);
        human(x->self[c->count], e, sizeof(e), 0);
        fprintf(c->out, "%12s %12s %10s %10s  %*s", a, b, d, e, (int)(2 * depth), "");
    }
    if (!node) {
        fputs("(all)\n", c->out);
    } else {
        fputs(x->name, c->out);
        if (x->file)
            fprintf(c->out, " (%s:%u)", x->file, x->line);
        fputs(x->inlined ? " [inlined]\n" : "\n", c->out);
    }
    int64_t omitted[2];
    size_t n_omitted;
    size_t n = shown_kids(c, node, at, omitted, &n_omitted);
    for (size_t i = 0; i < n; i++)
        text_node(c, c->order[at + i], depth + 1, at + n);
    if (n_omitted) {
        human(omitted[0], a, sizeof(a), 1);
        human(omitted[1], d, sizeof(d), 0);
        if (c->o->inverted)
            fprintf(c->out, "%12s %10s  %*s... %zu more\n", a, d, (int)(2 * depth + 2), "", n_omitted);
        else
            fprintf(c->out, "%12s %12s %10s %10s  %*s... %zu more\n", a, "", d, "", (int)(2 * depth + 2), "",
                    n_omitted);
    }
}

static void json_node(tree_ctx *c, uint32_t node, size_t at)
{
    const lh_fnode *x = &c->f->nodes[node];
    fputc('{', c->out);
    if (node) {
        fputs("\"function\": ", c->out);
        lh_json_str(c->out, x->name);
        if (x->file) {
            fputs(", \"file\": ", c->out);
            lh_json_str(c->out, x->file);
            fprintf(c->out, ", \"line\": %u", x->line);
        }
        if (x->module) {
            fputs(", \"module\": ", c->out);
            lh_json_str(c->out, x->module);
        }
        if (x->inlined)
            fputs(", \"inlined\": true", c->out);
        fputs(", ", c->out);
    }
    fprintf(c->out, "\"bytes\": %" PRId64 ", \"count\": %" PRId64, x->total[c->bytes], x->total[c->count]);
    if (!c->o->inverted)
        fprintf(c->out, ", \"self_bytes\": %" PRId64 ", \"self_count\": %" PRId64, x->self[c->bytes],
                x->self[c->count]);
    int64_t omitted[2];
    size_t n_omitted;
    size_t n = shown_kids(c, node, at, omitted, &n_omitted);
    if (n_omitted)
        fprintf(c->out, ", \"omitted\": %zu, \"omitted_bytes\": %" PRId64 ", \"omitted_count\": %" PRId64,
                n_omitted, omitted[0], omitted[1]);
    fputs(", \"children\": [", c->out);
    for (size_t i = 0; i < n; i++) {
        if (i)
            fputs(", ", c->out);
        json_node(c, c->order[at + i], at + n);
    }
    fputs("]}", c->out);
}

int lh_export_tree(const lh_flame *f, const lh_tree_opts *o, FILE *out)
{
    tree_ctx c = { .f = f, .o = o, .out = out };
    int alloc = o->value == LH_VAL_ALLOC_BYTES || o->value == LH_VAL_ALLOC_COUNT;
    c.bytes = alloc ? LH_VAL_ALLOC_BYTES : LH_VAL_LIVE_BYTES;
    c.count = alloc ? LH_VAL_ALLOC_COUNT : LH_VAL_LIVE_COUNT;
    if (lh_flame_kids(f, &c.k) < 0)
        return -ENOMEM;
    /* Each node's sorted children sit after its ancestors' in order[]: all
     * the levels of one path together hold at most every node once. */
    c.order = malloc(((size_t)f->n + 1) * sizeof(uint32_t));
    if (!c.order) {
        lh_flame_kids_free(&c.k);
        return -ENOMEM;
    }
    if (o->json) {
        json_node(&c, 0, 0);
    } else {
        if (o->inverted)
            fprintf(out, "%12s %10s  %s\n", "total", "blocks", "site, then its callers");
        else
            fprintf(out, "%12s %12s %10s %10s  %s\n", "total", "self", "blocks", "self", "call tree");
        text_node(&c, 0, 0, 0);
    }
    free(c.order);
    lh_flame_kids_free(&c.k);
    return ferror(out) ? -EIO : 0;
}
