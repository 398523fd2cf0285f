/*
 * fuzz_replay.c - libFuzzer harness for the whole analysis path of
 * leakhunt-replay: the input is a whole trace file.
 *
 * Every frame on the chain from the header is first sealed with a correct
 * checksum (as fuzz_reader does), so mutations reach the messages and the
 * replay engine instead of stopping at the checksum. The file then goes
 * through what the CLI does with it:
 *   lh_trace_summarize; lh_point_parse of fixed moments, of the markers of
 *   the summary and of a string carved from the input (its last 40 bytes,
 *   up to the first NUL);
 *   replay 1: advance to the parsed point, then a time, a marker of the
 *   summary and END, grouping the live heap at each (lh_replay_sites ->
 *   samples -> lh_group with an lh_symbols fed the trace's module maps;
 *   hostile module paths just fail to open);
 *   replay 2 (timeline, temporary threshold): straight to END;
 *   flame trees of the heap at END, its growth against replay 1's first
 *   point (a diff tree) and the temporary allocations, exported as folded,
 *   SVG, speedscope, pprof and an HTML report, all to /dev/null;
 *   replay 3 (--thread: thread index 0 or a tid carved from the input,
 *   with --histogram's allocation hook): straight to END, then the call
 *   tree of its heap from the sites, top-down and inverted, text and JSON.
 * Invariants checked (abort on failure): counters agree with the sites,
 * markers come back in order, the grouped rows sum to the samples.
 *
 * Run over regression inputs: build-fuzz/fuzz_replay tests/fuzz/regress/replay/FILE...
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "flame.h"
#include "histogram.h"
#include "lh_frame.h"
#include "lh_trace.h"
#include "points.h"
#include "replay.h"
#include "sites.h"
#include "symbols.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int mfd = -1;
static char path[64];
static FILE *devnull;

static void put_file(const uint8_t *data, size_t size)
{
    if (mfd < 0) {
        if ((mfd = memfd_create("fuzz_replay", 0)) < 0)
            abort();
        snprintf(path, sizeof path, "/proc/self/fd/%d", mfd);
        if (!(devnull = fopen("/dev/null", "w")))
            abort();
    }
    if (ftruncate(mfd, 0) != 0 || (size && pwrite(mfd, data, size, 0) != (ssize_t)size))
        abort();
}

/* Seal every frame on the chain from the header; returns the copy. */
static uint8_t *sealed_copy(const uint8_t *data, size_t size)
{
    uint8_t *copy = malloc(size ? size : 1);
    if (!copy)
        abort();
    memcpy(copy, data, size);
    uint64_t off = LH_HEADER_SIZE;
    while (size >= off && size - off >= LH_FRAME_SIZE) {
        lh_frame fr;
        lh_frame_decode(copy + off, &fr);
        if (fr.packed_size > size - off - LH_FRAME_SIZE)
            break;
        lh_frame_seal(&fr, copy + off + LH_FRAME_SIZE);
        lh_frame_encode(&fr, copy + off);
        off += LH_FRAME_SIZE + fr.packed_size;
    }
    return copy;
}

static void warn_cb(const char *msg, void *ctx)
{
    (void)ctx;
    if (!msg)
        abort();
}

/* Samples of the live heap of r (minus base when given), as the CLI builds them. */
static lh_sample *samples_of(const lh_replay *r, const lh_replay *base, lh_symbols *sym, size_t *n_out)
{
    size_t n, nb = 0;
    const lh_site *s = lh_replay_sites(r, &n);
    const lh_site *b = base ? lh_replay_sites(base, &nb) : NULL;
    lh_sample *out = calloc(n ? n : 1, sizeof(lh_sample));
    if (!out)
        abort();
    size_t k = 0;
    for (size_t i = 0; i < n; i++) {
        const lh_site *bs = b && i < nb ? &b[i] : NULL;
        lh_sample *o = &out[k];
        o->r = r;
        o->sym = sym;
        o->stack = (uint32_t)i;
        o->v[V_BYTES] = (int64_t)((uint64_t)s[i].live_bytes - (bs ? (uint64_t)bs->live_bytes : 0));
        o->v[V_COUNT] = (int64_t)((uint64_t)s[i].live_count - (bs ? (uint64_t)bs->live_count : 0));
        o->v[V_ALLOC_BYTES] = s[i].alloc_bytes;
        o->v[V_ALLOC_COUNT] = s[i].alloc_count;
        o->v[V_BASE_BYTES] = bs ? bs->live_bytes : 0;
        o->v[V_BASE_COUNT] = bs ? bs->live_count : 0;
        if (o->v[V_BYTES] || o->v[V_COUNT] || s[i].freed_soon_count || s[i].mmap_count)
            k++;
    }
    *n_out = k;
    return out;
}

static void check_counters(const lh_replay *r)
{
    size_t n;
    const lh_site *s = lh_replay_sites(r, &n);
    uint64_t count = 0;
    for (size_t i = 0; i < n; i++)
        count += (uint64_t)s[i].live_count;
    if (count != lh_replay_counters(r)->live_count)
        abort();
    size_t nm;
    const lh_marker *m = lh_replay_markers(r, &nm);
    for (size_t i = 1; i < nm; i++)
        if (m[i].event < m[i - 1].event)
            abort();
    for (size_t i = 0; i < nm; i++)
        if (!m[i].label)
            abort();
}

/* Group the samples the way every table view does. */
static void group(const lh_sample *s, size_t n, int by, const char *filter)
{
    size_t nr;
    lh_row *rows = lh_group(s, n, by, filter, &nr);
    if (nr > n)
        abort();
    uint64_t sum = 0, want = 0;
    for (size_t i = 0; i < nr; i++)
        sum += (uint64_t)rows[i].v[V_COUNT];
    for (size_t i = 0; i < n && !filter; i++)
        want += (uint64_t)s[i].v[V_COUNT];
    if (!filter && sum != want)
        abort();
    for (size_t i = 0; i < nr; i++)
        if (!rows[i].key)
            abort();
    lh_rows_free(rows, nr);
}

static void export_all(lh_flame *f, int value)
{
    if (lh_export_folded(f, value, devnull) < 0)
        abort();
    lh_svg_opts so = { value, 0, 0 };
    (void)lh_export_svg(f, &so, devnull);
    (void)lh_export_speedscope(f, value, devnull);
}

static lh_flame *flame_of(const lh_sample *s, size_t n, const char *title, int is_diff)
{
    lh_flame *f = lh_flame_new(title, is_diff);
    if (!f || lh_flame_from_samples(f, s, n) < 0)
        abort();
    return f;
}

static void add_maps(lh_symbols *sym, const lh_replay *r)
{
    size_t n;
    const Lh__ModuleMap *const *maps = lh_replay_module_maps(r, &n);
    for (size_t i = 0; i < n; i++)
        lh_symbols_add_map(sym, maps[i]);
    const Lh__PyFrames *const *py = lh_replay_pyframes(r, &n);
    for (size_t i = 0; i < n; i++)
        lh_symbols_add_pyframes(sym, py[i]);
    const Lh__ProcessInfo *pi = lh_replay_process(r);
    if (pi)
        lh_symbols_set_pid(sym, pi->pid);
}

static void parse_point(const char *spec, const lh_trace_summary *sum, lh_point *p, int *ok)
{
    char err[2048];
    lh_point q;
    int rc = lh_point_parse(spec, sum, &q, err, sizeof err);
    if (rc < 0) {
        if (!memchr(err, 0, sizeof err))
            abort();
        return;
    }
    if (!memchr(q.text, 0, sizeof q.text))
        abort();
    if (ok && !*ok && !q.is_peak) {
        *p = q;
        *ok = 1;
    }
}

static void replay_file(const uint8_t *data, size_t size)
{
    char err[512];
    lh_trace_summary sum;
    if (lh_trace_summarize(path, &sum, err, sizeof err) < 0)
        return;

    /* Moments: the carved one first (used if it parses), then fixed ones. */
    lh_point pt;
    int have_pt = 0;
    char spec[48];
    size_t k = size < 40 ? size : 40;
    memcpy(spec, data + size - k, k);
    spec[k] = 0;
    parse_point(spec, &sum, &pt, &have_pt);
    static const char *fixed[] = { "start", "peak", "end", "50%", "1ms", "0.5", "#1", "#99999999999",
                                   "mark:", "mark:mark#2", "7us", "-1", "nan", "1e400" };
    for (size_t i = 0; i < sizeof fixed / sizeof *fixed; i++)
        parse_point(fixed[i], &sum, &pt, NULL);
    for (size_t i = 0; i < sum.n_markers && i < 8; i++) {
        char m[300];
        snprintf(m, sizeof m, "mark:%s#%zu", sum.markers[i].label, i + 1);
        parse_point(m, &sum, &pt, NULL);
        snprintf(m, sizeof m, "mark:%s", sum.markers[i].label);
        parse_point(m, &sum, &pt, i == 0 && !have_pt ? &have_pt : NULL);
    }

    lh_symbols *sym = lh_symbols_new();
    if (!sym)
        abort();
    lh_replay *r1 = lh_replay_open(path, err, sizeof err);
    lh_replay *r2 = lh_replay_open(path, err, sizeof err);
    if (!r1 || !r2)
        abort(); /* summarize opened it */
    lh_replay_set_temporary_us(r2, 10);
    uint64_t every = sum.end_time_us / 64;
    lh_replay_set_timeline(r2, every ? every : 1);

    /* Replay 1: the parsed point, a time, the first marker, the end. */
    lh_sample *first = NULL;
    size_t n_first = 0;
    int rc = 0;
    uint64_t t_mid = sum.end_time_us / 2;
    for (int step = 0; step < 4 && rc >= 0; step++) {
        int kind = LH_AT_END;
        uint64_t value = 0;
        const char *label = NULL;
        if (step == 0) {
            if (!have_pt)
                continue;
            kind = pt.kind, value = pt.value, label = pt.label;
            if (kind == LH_AT_TIME && value > t_mid)
                t_mid = value;
        } else if (step == 1) {
            kind = LH_AT_TIME, value = t_mid;
        } else if (step == 2) {
            if (!sum.n_markers)
                continue;
            kind = LH_AT_MARK, label = sum.markers[0].label;
        }
        rc = lh_replay_advance(r1, kind, value, label);
        check_counters(r1);
        add_maps(sym, r1);
        size_t n;
        lh_sample *s = samples_of(r1, NULL, sym, &n);
        group(s, n, step, NULL);
        if (step == 3)
            group(s, n, LH_BY_FUNCTION, "app");
        if (!first) {
            first = s, n_first = n;
            continue;
        }
        free(s);
    }
    uint64_t off;
    (void)lh_replay_damage(r1, &off);

    /* Replay 2: the end, then the exports. */
    (void)lh_replay_advance(r2, LH_AT_END, 0, NULL);
    check_counters(r2);
    add_maps(sym, r2);
    size_t n;
    lh_sample *s = samples_of(r2, NULL, sym, &n);
    lh_flame *f = flame_of(s, n, "end", 0);
    export_all(f, LH_VAL_LIVE_BYTES);
    (void)lh_export_pprof(f, devnull);
    free(s);

    lh_report *rep = lh_report_new("fuzz");
    if (!rep)
        abort();
    if (lh_report_add_snapshot(rep, lh_replay_counters(r2)->time_us / 1e6, "end", f) < 0)
        lh_flame_free(f);
    size_t nt, nm;
    const uint64_t *tl = lh_replay_timeline(r2, &nt);
    for (size_t i = 0; i < nt && i < 256; i++)
        lh_report_add_point(rep, tl[2 * i] / 1e6, (int64_t)tl[2 * i + 1], -1);
    const lh_marker *mk = lh_replay_markers(r2, &nm);
    for (size_t i = 0; i < nm && i < 64; i++)
        lh_report_add_marker(rep, mk[i].time_us / 1e6, mk[i].label);
    const lh_counters *c = lh_replay_counters(r2);
    lh_report_set_peak(rep, c->peak_time_us / 1e6, (int64_t)c->peak_bytes);
    (void)lh_export_html(rep, devnull);
    lh_report_free(rep);

    /* Growth from replay 1's first point to the end: a diff tree. */
    if (first) {
        for (size_t i = 0; i < n_first; i++) /* negated, wrapping (hostile sizes) */
            for (int j = V_BYTES; j <= V_COUNT; j++)
                first[i].v[j] = (int64_t)(0 - (uint64_t)first[i].v[j]);
        lh_sample *g = samples_of(r2, NULL, sym, &n);
        lh_sample *both = calloc(n + n_first + 1, sizeof *both);
        if (!both)
            abort();
        memcpy(both, first, n_first * sizeof *both);
        memcpy(both + n_first, g, n * sizeof *both);
        group(both, n + n_first, LH_BY_LINE, NULL);
        f = flame_of(both, n + n_first, "growth", 1);
        export_all(f, LH_VAL_LIVE_COUNT);
        lh_flame_free(f);
        free(both);
        free(g);
    }

    /* Temporary allocations, as --temporary shows them. */
    size_t ns;
    const lh_site *sites = lh_replay_sites(r2, &ns);
    s = calloc(ns ? ns : 1, sizeof *s);
    size_t m = 0;
    for (size_t i = 0; s && i < ns; i++) {
        if (!sites[i].freed_soon_count)
            continue;
        s[m] = (lh_sample){ .r = r2, .sym = sym, .stack = (uint32_t)i };
        s[m].v[V_BYTES] = sites[i].freed_soon_bytes;
        s[m].v[V_COUNT] = sites[i].freed_soon_count;
        m++;
    }
    group(s, m, LH_BY_MODULE, NULL);
    f = flame_of(s, m, "temporary", 0);
    export_all(f, LH_VAL_LIVE_COUNT);
    lh_flame_free(f);
    free(s);

    /* Replay 3: one thread's heap, sizes through the allocation hook,
     * the sites' call tree. Counters must still agree with the sites. */
    lh_replay *r3 = lh_replay_open(path, err, sizeof err);
    if (!r3)
        abort();
    uint64_t ids[2] = { 0, size >= 4 ? (uint64_t)data[0] | (uint64_t)data[1] << 8 : 1 };
    lh_replay_set_threads(r3, ids, 2);
    lh_histogram *h = lh_histogram_new(NULL, NULL);
    lh_histogram_start(h, r3);
    (void)lh_replay_advance(r3, LH_AT_END, 0, NULL);
    lh_histogram_stop(h);
    check_counters(r3);
    const lh_hist_bucket *b = lh_histogram_buckets(h);
    uint64_t hist_count = 0;
    for (int i = 0; i < LH_HIST_BUCKETS; i++)
        hist_count += b[i].count;
    if (hist_count != lh_replay_counters(r3)->allocations)
        abort();
    lh_histogram_free(h);
    add_maps(sym, r3);
    s = samples_of(r3, NULL, sym, &n);
    for (int inverted = 0; inverted < 2; inverted++) {
        f = lh_flame_new("tree", 0);
        if (!f || lh_flame_from_site_samples(f, s, n, inverted) < 0)
            abort();
        for (int json = 0; json < 2; json++) {
            lh_tree_opts to = { .value = json ? LH_VAL_ALLOC_COUNT : LH_VAL_LIVE_BYTES, .min_value = 16,
                                .max_children = 3, .inverted = inverted, .json = json };
            (void)lh_export_tree(f, &to, devnull);
        }
        lh_flame_free(f);
    }
    free(s);
    lh_replay_free(r3);

    (void)lh_replay_end_time(r2);
    (void)lh_replay_thread_count(r2);
    lh_symbols_warnings(sym, warn_cb, NULL);
    free(first);
    lh_replay_free(r1);
    lh_replay_free(r2);
    lh_symbols_free(sym);
    lh_trace_summary_free(&sum);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    uint8_t *copy = sealed_copy(data, size);
    put_file(copy, size);
    replay_file(data, size);
    free(copy);
    return 0;
}
