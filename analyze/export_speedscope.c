/*
 * export_speedscope.c - speedscope's file format
 * (https://www.speedscope.app/file-format-schema.json): shared frames plus a
 * "sampled" profile whose samples are the tree's stacks (root first) and
 * whose weights are their values. speedscope cannot draw negative weights,
 * so a diff tree becomes two profiles, growth and shrink (as magnitudes).
 */
#include "flame_int.h"

#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>

static uint64_t frame_hash(const lh_fnode *nd)
{
    uint64_t h = (uint64_t)(uintptr_t)nd->name * 0x9e3779b97f4a7c15ull;
    h ^= ((uint64_t)(uintptr_t)nd->file + nd->line) * 0xc2b2ae3d27d4eb4full;
    return h ^ (h >> 29);
}

/* fidx[node] = index into the shared frame list; distinct frames are
 * (name, file, line), compared by interned pointer. Returns frame count. */
static int64_t number_frames(const lh_flame *f, uint32_t *fidx, uint32_t *first)
{
    lh_idtable ht; /* sized for every node: it never grows */
    if (lh_idtable_init(&ht, f->n) < 0)
        return -ENOMEM;
    uint32_t nframes = 0;
    for (uint32_t i = 1; i < f->n; i++) {
        const lh_fnode *nd = &f->nodes[i];
        uint32_t j = lh_idtable_start(&ht, frame_hash(nd));
        for (; ht.slot[j] != LH_ID_NONE; j = lh_idtable_next(&ht, j)) {
            const lh_fnode *o = &f->nodes[first[ht.slot[j]]];
            if (o->name == nd->name && o->file == nd->file && o->line == nd->line)
                break;
        }
        if (ht.slot[j] == LH_ID_NONE) {
            first[nframes] = i;
            lh_idtable_put(&ht, j, nframes++);
        }
        fidx[i] = ht.slot[j];
    }
    lh_idtable_release(&ht);
    return nframes;
}

/* v * sign, and sums of them, wrap rather than overflow (UB) on the
 * values of a hostile trace. */
static int64_t signed_val(int64_t v, int sign) { return sign > 0 ? v : (int64_t)(0 - (uint64_t)v); }

/* One "sampled" profile; sign picks positive (1) or negative (-1) weights. */
static void profile(const lh_flame *f, int value, int sign, const char *name,
                    const uint32_t *fidx, uint32_t *path, FILE *out)
{
    int64_t end = 0;
    for (uint32_t i = 1; i < f->n; i++)
        if (signed_val(f->nodes[i].self[value], sign) > 0)
            end = (int64_t)((uint64_t)end + (uint64_t)signed_val(f->nodes[i].self[value], sign));
    fputs("{\"type\":\"sampled\",\"name\":", out);
    lh_json_str(out, name);
    fprintf(out, ",\"unit\":\"%s\",\"startValue\":0,\"endValue\":%" PRId64 ",\"samples\":[",
            lh_value_is_bytes(value) ? "bytes" : "none", end);
    int first = 1;
    for (uint32_t i = 1; i < f->n; i++) {
        if (signed_val(f->nodes[i].self[value], sign) <= 0)
            continue;
        uint32_t d = 0;
        for (uint32_t n = i; n; n = f->nodes[n].parent)
            path[d++] = fidx[n];
        fputs(first ? "\n[" : ",\n[", out);
        first = 0;
        while (d--)
            fprintf(out, d ? "%u," : "%u", path[d]);
        putc(']', out);
    }
    fputs("],\"weights\":[", out);
    first = 1;
    for (uint32_t i = 1; i < f->n; i++) {
        int64_t v = signed_val(f->nodes[i].self[value], sign);
        if (v <= 0)
            continue;
        fprintf(out, first ? "%" PRId64 : ",%" PRId64, v);
        first = 0;
    }
    fputs("]}", out);
}

int lh_export_speedscope(const lh_flame *f, int value, FILE *out)
{
    if (!f || !out || value < 0 || value >= LH_VAL_COUNT)
        return -EINVAL;
    uint32_t *fidx = malloc((size_t)f->n * sizeof *fidx);
    uint32_t *first = malloc((size_t)f->n * sizeof *first);
    uint32_t *path = malloc((size_t)f->n * sizeof *path);  /* depth < node count */
    int64_t nframes = fidx && first && path ? number_frames(f, fidx, first) : -ENOMEM;
    if (nframes < 0) {
        free(fidx), free(first), free(path);
        return -ENOMEM;
    }
    fputs("{\"$schema\":\"https://www.speedscope.app/file-format-schema.json\",\n"
          "\"shared\":{\"frames\":[", out);
    for (int64_t i = 0; i < nframes; i++) {
        const lh_fnode *nd = &f->nodes[first[i]];
        fputs(i ? ",\n{\"name\":" : "\n{\"name\":", out);
        lh_json_str(out, nd->name);
        if (nd->file) {
            fputs(",\"file\":", out);
            lh_json_str(out, nd->file);
        }
        if (nd->line)
            fprintf(out, ",\"line\":%u", nd->line);
        putc('}', out);
    }
    fputs("]},\n\"profiles\":[", out);
    const char *title = f->title[0] ? f->title : lh_flame_value_name(value);
    if (f->is_diff) {
        char *grow = NULL, *shrink = NULL;
        if (asprintf(&grow, "%s (growth)", title) < 0)
            grow = NULL;
        if (asprintf(&shrink, "%s (shrink)", title) < 0)
            shrink = NULL;
        profile(f, value, 1, grow ? grow : "growth", fidx, path, out);
        fputs(",\n", out);
        profile(f, value, -1, shrink ? shrink : "shrink", fidx, path, out);
        free(grow), free(shrink);
    } else {
        profile(f, value, 1, title, fidx, path, out);
    }
    fputs("],\n\"name\":", out);
    lh_json_str(out, title);
    fputs(",\"activeProfileIndex\":0,\"exporter\":\"leakhunt\"}\n", out);
    free(fidx), free(first), free(path);
    return fflush(out) || ferror(out) ? -EIO : 0;
}
