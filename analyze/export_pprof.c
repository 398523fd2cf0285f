/*
 * export_pprof.c - the tree as a gzip-compressed pprof profile.proto
 * (analyze/profile.proto, generated C from protoc-c), readable by
 * `go tool pprof` and friends.
 *
 * Tables: a Function per (name, file); a Location per (module, address,
 * inline chain): one physical frame, whose Line list holds the inlined
 * frames innermost first and the physical caller last, each at its own
 * line. The tree merges frames by (name, file, line), so the calls of two
 * inlined lines of one function hang under one node of their physical
 * caller: the chain, not the caller's address, tells their Locations apart
 * (one Location per caller address made `pprof -lines` add metrics.c:67 of
 * the demo to metrics.c:63). A Mapping per module with its build id in hex;
 * the main executable's first, as pprof calls the first one the program.
 * Each stack that ends at a node is one Sample with four values in the
 * order of sample_type: inuse_space, inuse_objects, alloc_space,
 * alloc_objects (what the caller put in the tree: leakhunt-replay adds the
 * sites that allocated in the window and freed it all, so alloc_* count
 * every allocation of the window).
 */
#include "flame_int.h"
#include "profile.pb-c.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

/* A map from a pair of 64-bit keys to an id (> 0): an idtable over its
 * own entries. It is sized once for the tree (every table is at most one
 * entry per node, the strings four), so it never grows. */
typedef struct {
    lh_idtable t;
    uint64_t *a, *b, *id;  /* entry i's keys and id */
    uint32_t n, room;
} map_t;

static int map_init(map_t *m, uint32_t n)
{
    m->room = n + 32;
    m->n = 0;
    m->a = malloc(m->room * sizeof *m->a);
    m->b = malloc(m->room * sizeof *m->b);
    m->id = malloc(m->room * sizeof *m->id);
    return lh_idtable_init(&m->t, m->room) == 0 && m->a && m->b && m->id ? 0 : -ENOMEM;
}

static void map_free(map_t *m)
{
    lh_idtable_release(&m->t);
    free(m->a), free(m->b), free(m->id);
}

/* Full avalanche: addresses and pointers differ mostly in high bits. */
static uint64_t mix(uint64_t a, uint64_t b)
{
    return lh_hash_mix(a ^ (b * 0x9e3779b97f4a7c15ull));
}

/* The id of (a, b), 0 when absent: then *slot is where map_put puts it. */
static uint64_t map_get(const map_t *m, uint64_t a, uint64_t b, uint32_t *slot)
{
    uint32_t j = lh_idtable_start(&m->t, mix(a, b));
    for (; m->t.slot[j] != LH_ID_NONE; j = lh_idtable_next(&m->t, j)) {
        uint32_t e = m->t.slot[j];
        if (m->a[e] == a && m->b[e] == b)
            return m->id[e];
    }
    *slot = j;
    return 0;
}

/* Record id for (a, b) at the slot map_get gave (a full map, which its
 * sizing rules out, just forgets it). */
static void map_put(map_t *m, uint32_t slot, uint64_t a, uint64_t b, uint64_t id)
{
    if (m->n == m->room || lh_idtable_full(&m->t))
        return;
    m->a[m->n] = a, m->b[m->n] = b, m->id[m->n] = id;
    lh_idtable_put(&m->t, slot, m->n++);
}

typedef Perftools__Profiles__Profile Profile;
typedef Perftools__Profiles__Sample Sample;
typedef Perftools__Profiles__Location Location;
typedef Perftools__Profiles__Line Line;
typedef Perftools__Profiles__Function Function;
typedef Perftools__Profiles__Mapping Mapping;
typedef Perftools__Profiles__ValueType ValueType;

typedef struct {
    const lh_flame *f;
    map_t strs, funcs, locs, maps;
    char **str;  size_t nstr;
    Function *fn;  Function **fnp;  size_t nfn;
    Mapping *mp;   Mapping **mpp;   size_t nmp;
    Location *loc; Location **locp; size_t nloc;
    Line *line;    Line **linep;    size_t nline, cline;  /* grows: a node can be */
    size_t *loc_first;  /* in several locations' inline chains; pointers set at the end */
    uint64_t *loc_of;   /* per innermost node: its location id, 0 = not yet */
} pb_t;

/* Index of s in the string table; strings are interned in the tree, so the
 * pointer is the key. NULL is "" (index 0). */
static int64_t str_id(pb_t *p, const char *s)
{
    if (!s || !*s)
        return 0;
    uint32_t j;
    uint64_t id = map_get(&p->strs, (uintptr_t)s, 0, &j);
    if (!id) {
        p->str[p->nstr] = (char *)s;
        id = p->nstr++;
        map_put(&p->strs, j, (uintptr_t)s, 0, id);
    }
    return (int64_t)id;
}

static uint64_t func_id(pb_t *p, const lh_fnode *nd)
{
    uint32_t j;
    uint64_t id = map_get(&p->funcs, (uintptr_t)nd->name, (uintptr_t)nd->file, &j);
    if (!id) {
        Function *fn = &p->fn[p->nfn];
        perftools__profiles__function__init(fn);
        fn->id = p->nfn + 1;
        fn->name = fn->system_name = str_id(p, nd->name);
        fn->filename = str_id(p, nd->file);
        p->fnp[p->nfn++] = fn;
        id = fn->id;
        map_put(&p->funcs, j, (uintptr_t)nd->name, (uintptr_t)nd->file, id);
    }
    return id;
}

static uint64_t mapping_id(pb_t *p, const lh_fnode *nd)
{
    if (!nd->module)
        return 0;
    uint32_t j;
    uint64_t id = map_get(&p->maps, (uintptr_t)nd->module, 0, &j);
    Mapping *mp;
    if (!id) {
        mp = &p->mp[p->nmp];
        perftools__profiles__mapping__init(mp);
        mp->id = p->nmp + 1;
        mp->filename = str_id(p, nd->module);
        /* The load bias as start with offset 0, so a reader computes
         * address - start = the module offset we looked the symbol up by. */
        mp->memory_start = nd->address - nd->module_offset;
        mp->memory_limit = nd->address + 1;
        mp->has_functions = mp->has_filenames = mp->has_line_numbers = 1;
        p->mpp[p->nmp++] = mp;
        id = mp->id;
        map_put(&p->maps, j, (uintptr_t)nd->module, 0, id);
    }
    mp = p->mpp[id - 1];
    if (nd->build_id && !mp->build_id)
        mp->build_id = str_id(p, nd->build_id);
    if (nd->address >= mp->memory_limit)
        mp->memory_limit = nd->address + 1;
    return mp->id;
}

/* Whether location index li holds the chain of frames from node n up to
 * outer, line for line. */
static int same_chain(pb_t *p, size_t li, uint32_t n, uint32_t outer)
{
    const lh_fnode *nodes = p->f->nodes;
    const Line *ln = &p->line[p->loc_first[li]];
    size_t k = 0;
    for (uint32_t i = n;; i = nodes[i].parent, k++) {
        if (k == p->loc[li].n_line || ln[k].function_id != func_id(p, &nodes[i]) ||
            ln[k].line != nodes[i].line)
            return 0;
        if (i == outer)
            return k + 1 == p->loc[li].n_line;
    }
}

/* The location of the physical frame whose innermost (inlined) frame is
 * node n; *next is the node above that physical frame. 0 on ENOMEM. */
static uint64_t location(pb_t *p, uint32_t n, uint32_t *next)
{
    const lh_fnode *nodes = p->f->nodes;
    uint32_t outer = n;
    while (nodes[outer].inlined && nodes[outer].parent != 0)
        outer = nodes[outer].parent;
    *next = nodes[outer].parent;
    if (p->loc_of[n])
        return p->loc_of[n];
    /* Keyed by (module, address, chain): the innermost frame's address is
     * the one looked up for the whole chain (the caller's node kept the
     * address of whichever of its inlined calls came first). Without an
     * address only the node says where. */
    const lh_fnode *in = &nodes[n];
    uint64_t a = in->address ^ (uintptr_t)in->module, b = 0;
    for (uint32_t i = n;; i = nodes[i].parent) {
        b = mix(b ^ (uintptr_t)nodes[i].name, (uintptr_t)nodes[i].file ^ ((uint64_t)nodes[i].line << 40));
        if (i == outer)
            break;
    }
    if (!in->address)
        a = (uintptr_t)nodes, b = n;
    /* Equal keys are not yet the same location: the chain decides. */
    map_t *m = &p->locs;
    uint32_t j = lh_idtable_start(&m->t, mix(a, b));
    for (; m->t.slot[j] != LH_ID_NONE; j = lh_idtable_next(&m->t, j)) {
        uint32_t e = m->t.slot[j];
        size_t li = m->id[e] - 1;
        if (m->a[e] == a && m->b[e] == b && p->loc[li].address == in->address &&
            p->loc[li].mapping_id == mapping_id(p, in) && same_chain(p, li, n, outer))
            return p->loc_of[n] = m->id[e];
    }
    Location *l = &p->loc[p->nloc];
    perftools__profiles__location__init(l);
    l->id = p->nloc + 1;
    l->mapping_id = mapping_id(p, in);
    l->address = in->address;
    p->loc_first[p->nloc] = p->nline;
    for (uint32_t i = n;; i = nodes[i].parent) {
        if (p->nline == p->cline) {
            Line *grown = realloc(p->line, 2 * p->cline * sizeof *grown);
            if (!grown)
                return 0;
            p->line = grown, p->cline *= 2;
        }
        Line *ln = &p->line[p->nline];
        perftools__profiles__line__init(ln);
        ln->function_id = func_id(p, &nodes[i]);
        ln->line = nodes[i].line;
        p->nline++;
        l->n_line++;
        if (i == outer)
            break;
    }
    if (l->n_line > 1 && l->mapping_id)
        p->mpp[l->mapping_id - 1]->has_inline_frames = 1;
    p->locp[p->nloc++] = l;
    map_put(m, j, a, b, l->id);
    return p->loc_of[n] = l->id;
}

/* buf as one gzip member on out (fast level: pprof files are big and
 * short-lived). */
static int write_gz(FILE *out, const uint8_t *buf, size_t len)
{
    z_stream z;
    memset(&z, 0, sizeof z);
    if (deflateInit2(&z, 1, Z_DEFLATED, 15 + 16 /* gzip wrapper */, 8, Z_DEFAULT_STRATEGY) != Z_OK)
        return -ENOMEM;
    uint8_t chunk[1 << 16];
    size_t off = 0;
    int zrc = Z_OK;
    while (zrc != Z_STREAM_END) {
        if (z.avail_in == 0 && off < len) {
            size_t n = len - off > (1u << 30) ? 1u << 30 : len - off;
            z.next_in = (Bytef *)(buf + off);
            z.avail_in = (uInt)n;
            off += n;
        }
        z.next_out = chunk;
        z.avail_out = sizeof chunk;
        zrc = deflate(&z, off == len ? Z_FINISH : Z_NO_FLUSH);
        if (zrc == Z_STREAM_ERROR)
            break;
        size_t have = sizeof chunk - z.avail_out;
        if (have && fwrite(chunk, 1, have, out) != have) {
            zrc = Z_ERRNO;
            break;
        }
    }
    deflateEnd(&z);
    if (zrc != Z_STREAM_END)
        return -EIO;
    return fflush(out) || ferror(out) ? -EIO : 0;
}

int lh_export_pprof(const lh_flame *f, FILE *out)
{
    if (!f || !out)
        return -EINVAL;
    uint32_t n = f->n;
    pb_t p = { .f = f };
    static const char *const fixed[] = { "", "inuse_space", "bytes", "inuse_objects",
                                         "count", "alloc_space", "alloc_objects" };
    size_t nfixed = sizeof fixed / sizeof *fixed;
    size_t nsamples = 0;
    for (uint32_t i = 1; i < n; i++)
        for (int v = 0; v < LH_VAL_COUNT; v++)
            if (f->nodes[i].self[v]) {
                nsamples++;
                break;
            }
    Sample *samples = calloc(nsamples + 1, sizeof *samples);
    Sample **samplep = calloc(nsamples + 1, sizeof *samplep);
    int64_t *values = calloc((nsamples + 1) * LH_VAL_COUNT, sizeof *values);
    uint64_t *locids = NULL;
    size_t nlocids = 0;
    /* Location ids of all samples, sized by the sum of their depths. */
    for (uint32_t i = 1; i < n; i++)
        for (int v = 0; v < LH_VAL_COUNT; v++)
            if (f->nodes[i].self[v]) {
                nlocids += f->nodes[i].depth;
                break;
            }
    locids = malloc((nlocids + 1) * sizeof *locids);
    /* name, file, module, build id per node; the title and the main module */
    p.str = malloc((4 * (size_t)n + nfixed + 2) * sizeof *p.str);
    p.fn = malloc(n * sizeof *p.fn), p.fnp = malloc(n * sizeof *p.fnp);
    p.mp = malloc(n * sizeof *p.mp), p.mpp = malloc(n * sizeof *p.mpp);
    p.loc = malloc(n * sizeof *p.loc), p.locp = malloc(n * sizeof *p.locp);
    p.cline = n, p.line = malloc(n * sizeof *p.line), p.loc_first = malloc(n * sizeof *p.loc_first);
    p.loc_of = calloc(n, sizeof *p.loc_of);
    int rc = -ENOMEM;
    uint8_t *buf = NULL;
    if (!samples || !samplep || !values || !locids || !p.str || !p.fn || !p.fnp || !p.mp ||
        !p.mpp || !p.loc || !p.locp || !p.line || !p.loc_first || !p.loc_of ||
        map_init(&p.strs, 4 * n + 16) || map_init(&p.funcs, n) || map_init(&p.locs, n) ||
        map_init(&p.maps, n))
        goto out;
    for (size_t i = 0; i < nfixed; i++)
        p.str[p.nstr++] = (char *)fixed[i];
    /* The main executable's mapping first: pprof's header names the
     * program after the first one ("File: libc.so.6" otherwise). Named even
     * when none of its code is in the tree. */
    if (f->main_module) {
        uint32_t i = 1;
        while (i < n && f->nodes[i].module != f->main_module)
            i++;
        if (i < n) {
            mapping_id(&p, &f->nodes[i]);
        } else {
            Mapping *mp = &p.mp[p.nmp];
            perftools__profiles__mapping__init(mp);
            mp->id = p.nmp + 1;
            mp->filename = str_id(&p, f->main_module);
            p.mpp[p.nmp++] = mp;
            uint32_t j;
            if (!map_get(&p.maps, (uintptr_t)f->main_module, 0, &j))
                map_put(&p.maps, j, (uintptr_t)f->main_module, 0, mp->id);
        }
    }

    size_t ns = 0, nl = 0;
    for (uint32_t i = 1; i < n; i++) {
        const lh_fnode *nd = &f->nodes[i];
        int any = 0;
        for (int v = 0; v < LH_VAL_COUNT; v++)
            any |= nd->self[v] != 0;
        if (!any)
            continue;
        Sample *s = &samples[ns];
        perftools__profiles__sample__init(s);
        s->location_id = &locids[nl];
        for (uint32_t at = i; at != 0;) {
            if (!(locids[nl++] = location(&p, at, &at)))
                goto out;
            s->n_location_id++;
        }
        s->value = &values[ns * LH_VAL_COUNT];
        s->n_value = LH_VAL_COUNT;
        memcpy(s->value, nd->self, sizeof nd->self);
        samplep[ns++] = s;
    }

    if (!(p.linep = malloc((p.nline + 1) * sizeof *p.linep)))
        goto out;
    for (size_t i = 0; i < p.nline; i++)
        p.linep[i] = &p.line[i];
    for (size_t i = 0; i < p.nloc; i++)
        p.loc[i].line = &p.linep[p.loc_first[i]];

    ValueType vt[LH_VAL_COUNT], *vtp[LH_VAL_COUNT];
    static const int64_t vt_names[LH_VAL_COUNT][2] = { { 1, 2 }, { 3, 4 }, { 5, 2 }, { 6, 4 } };
    for (int v = 0; v < LH_VAL_COUNT; v++) {
        perftools__profiles__value_type__init(&vt[v]);
        vt[v].type = vt_names[v][0], vt[v].unit = vt_names[v][1];
        vtp[v] = &vt[v];
    }
    ValueType period = vt[LH_VAL_LIVE_BYTES];
    Profile prof;
    perftools__profiles__profile__init(&prof);
    prof.n_sample_type = LH_VAL_COUNT, prof.sample_type = vtp;
    prof.n_sample = ns, prof.sample = samplep;
    prof.n_mapping = p.nmp, prof.mapping = p.mpp;
    prof.n_location = p.nloc, prof.location = p.locp;
    prof.n_function = p.nfn, prof.function = p.fnp;
    prof.period_type = &period;
    prof.period = 1;
    prof.default_sample_type = 1;   /* inuse_space */
    int64_t comment = str_id(&p, f->title[0] ? f->title : NULL);
    if (comment)
        prof.n_comment = 1, prof.comment = &comment;
    prof.n_string_table = p.nstr, prof.string_table = p.str;

    size_t len = perftools__profiles__profile__get_packed_size(&prof);
    if (!(buf = malloc(len ? len : 1)))
        goto out;
    perftools__profiles__profile__pack(&prof, buf);
    rc = write_gz(out, buf, len);
out:
    free(buf);
    map_free(&p.strs), map_free(&p.funcs), map_free(&p.locs), map_free(&p.maps);
    free(p.str), free(p.fn), free(p.fnp), free(p.mp), free(p.mpp);
    free(p.loc), free(p.locp), free(p.line), free(p.linep), free(p.loc_first), free(p.loc_of);
    free(samples), free(samplep), free(values), free(locids);
    return rc;
}
