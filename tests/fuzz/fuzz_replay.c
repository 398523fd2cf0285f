/*
 * fuzz_replay.c - libFuzzer harness for the whole analysis path of
 * leakhunt-replay: the input is a whole trace file.
 *
 * Every frame on the chain from the header is first sealed with a correct
 * checksum (as fuzz_reader does), so mutations reach the messages and the
 * replay engine instead of stopping at the checksum. The file then goes
 * through the functions leakhunt-replay calls (analyze/views.h and
 * analyze/output.h), not a copy of them:
 *   lh_view_trace_open (the summary); lh_point_parse of fixed moments, of
 *   the markers of the summary and of a string carved from the input (its
 *   last 40 bytes, up to the first NUL);
 *   every view: --leaks, --at (the carved moment when it parses), --peak,
 *   --diff start..moment, --growth (3 windows), --temporary, --stats and
 *   --histogram (of a diff), grouped by each LH_BY_* in turn, the last
 *   ones filtered (--filter app) and for one thread (index 0 or a tid
 *   carved from the input); each written by lh_out_view as a table and as
 *   JSON, as a top-down and an inverted call tree, and --stats by
 *   lh_out_stats_*, all to /dev/null;
 *   the flame exports of each view's samples (folded, SVG, speedscope,
 *   pprof) and the HTML report of lh_view_report.
 * Invariants checked (abort on failure): counters agree with the sites,
 * markers come back in order, the rows of an unfiltered view sum to its
 * samples, a histogram of the whole run counts every allocation, and every
 * note line is a string.
 *
 * Run over regression inputs: build-fuzz/fuzz_replay tests/fuzz/regress/replay/FILE...
 */
#include <errno.h>
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
#include "output.h"
#include "points.h"
#include "replay.h"
#include "select.h"
#include "sites.h"
#include "symbols.h"
#include "views.h"

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

static void note_cb(void *ctx, const char *line)
{
    (void)ctx;
    if (!line || !memchr(line, 0, 1 << 16))
        abort();
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

/* The rows of a view group its samples: without a filter every count is
 * in some row (growth's rows are its windows', temporary's its own). */
static void check_rows(const lh_view *v, int filtered)
{
    if (!v->rows || filtered || v->view == LH_VIEW_GROWTH)
        return;
    if (v->n_rows > v->n_samples)
        abort();
    uint64_t sum = 0, want = 0;
    for (size_t i = 0; i < v->n_rows; i++) {
        if (!v->rows[i].key)
            abort();
        sum += (uint64_t)v->rows[i].v[V_COUNT];
    }
    for (size_t i = 0; i < v->n_samples; i++)
        want += (uint64_t)v->samples[i].v[V_COUNT];
    if (sum != want)
        abort();
}

static void export_all(const lh_view *v, int value)
{
    lh_flame *f = lh_flame_new(v->title, v->view == LH_VIEW_DIFF);
    if (!f || lh_flame_from_samples(f, v->flame, v->n_flame) < 0)
        abort();
    if (lh_export_folded(f, value, devnull) < 0)
        abort();
    lh_svg_opts so = { value, 0, 0 };
    (void)lh_export_svg(f, &so, devnull);
    (void)lh_export_speedscope(f, value, devnull);
    if (v->view == LH_VIEW_LEAKS)
        (void)lh_export_pprof(f, devnull);
    lh_flame_free(f);
}

/* Write a view every way leakhunt-replay can, then free it. */
static void write_view(lh_view *v, const lh_view_opts *vo, int step)
{
    if (!v)
        return;
    if (v->ra)
        check_counters(v->ra);
    if (v->rb)
        check_counters(v->rb);
    check_rows(v, vo->select != NULL);
    for (int json = 0; json < 2; json++) {
        lh_out_opts oo = { .json = json, .top = step % 3 ? 10 : 0, .min_bytes = step & 1 ? 16 : 0,
                           .value = vo->value, .by = vo->by, .inverted = step & 2 };
        int64_t total;
        if (v->replay) { /* --stats */
            if (json)
                lh_out_stats_json(devnull, v->ta, v->replay);
            else
                lh_out_stats_text(devnull, v->ta, v->replay);
            continue;
        }
        if (lh_out_view(devnull, &oo, v, vo->tree, &total) == -ENOMEM)
            abort();
    }
    if (!v->replay && !v->hist)
        export_all(v, step & 1 ? LH_VAL_LIVE_COUNT : LH_VAL_LIVE_BYTES);
    (void)lh_view_total(v);
    lh_view_free(v);
}

static void parse_point(const char *spec, const lh_trace_summary *sum, const char **ok_spec, const char *cand)
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
    if (ok_spec && !*ok_spec)
        *ok_spec = cand;
}

static void replay_file(const uint8_t *data, size_t size)
{
    char err[4400];
    lh_view_trace t;
    if (lh_view_trace_open(&t, path, err, sizeof err) < 0) {
        if (!memchr(err, 0, sizeof err))
            abort();
        return;
    }

    /* Moments: the carved one first (used if it parses), then fixed ones. */
    static char spec[48];
    size_t k = size < 40 ? size : 40;
    memcpy(spec, data + size - k, k);
    spec[k] = 0;
    const char *at = NULL;
    parse_point(spec, &t.sum, &at, spec);
    static const char *fixed[] = { "start", "peak", "end", "50%", "1ms", "0.5", "#1", "#99999999999",
                                   "mark:", "mark:mark#2", "7us", "-1", "nan", "1e400" };
    for (size_t i = 0; i < sizeof fixed / sizeof *fixed; i++)
        parse_point(fixed[i], &t.sum, NULL, NULL);
    static char first_mark[300];
    for (size_t i = 0; i < t.sum.n_markers && i < 8; i++) {
        char m[300];
        snprintf(m, sizeof m, "mark:%s#%zu", t.sum.markers[i].label, i + 1);
        parse_point(m, &t.sum, NULL, NULL);
        snprintf(m, sizeof m, "mark:%s", t.sum.markers[i].label);
        if (i == 0)
            snprintf(first_mark, sizeof first_mark, "%s", m);
        parse_point(m, &t.sum, i == 0 && !at ? &at : NULL, first_mark);
    }
    if (!at)
        at = "50%";

    lh_select *app = lh_select_new();
    if (!app || lh_select_include(app, "app") < 0)
        abort();
    uint64_t ids[2] = { 0, size >= 4 ? (uint64_t)data[0] | (uint64_t)data[1] << 8 : 1 };
    lh_view_opts vo = { .by = LH_BY_LINE, .value = LH_VAL_LIVE_BYTES, .windows = 3, .temporary_ms = 1,
                        .no_checkpoints = 1, .exports = 1, .note = note_cb };
    static const int views[] = { LH_VIEW_LEAKS, LH_VIEW_AT, LH_VIEW_PEAK, LH_VIEW_DIFF, LH_VIEW_GROWTH,
                                  LH_VIEW_TEMPORARY, LH_VIEW_STATS, LH_VIEW_LEAKS, LH_VIEW_DIFF, LH_VIEW_AT };
    for (int step = 0; step < (int)(sizeof views / sizeof *views); step++) {
        vo.view = views[step];
        vo.by = step % 4;
        vo.value = step == 8 ? LH_VAL_ALLOC_BYTES : step == 9 ? LH_VAL_ALLOC_COUNT : LH_VAL_LIVE_BYTES;
        vo.tree = step >= 7;
        vo.select = step == 7 ? app : NULL;
        vo.threads = step == 9 ? ids : NULL;
        vo.n_threads = step == 9 ? 2 : 0;
        lh_view *v = NULL;
        switch (vo.view) {
        case LH_VIEW_AT: v = lh_view_point(&vo, &t, at, err, sizeof err); break;
        case LH_VIEW_PEAK: v = lh_view_point(&vo, &t, "peak", err, sizeof err); break;
        case LH_VIEW_LEAKS: v = lh_view_point(&vo, &t, "end", err, sizeof err); break;
        case LH_VIEW_DIFF: v = lh_view_diff(&vo, &t, &t, "start", at, err, sizeof err); break;
        case LH_VIEW_GROWTH: v = lh_view_growth(&vo, &t, err, sizeof err); break;
        case LH_VIEW_TEMPORARY: v = lh_view_temporary(&vo, &t, err, sizeof err); break;
        case LH_VIEW_STATS: v = lh_view_stats(&vo, &t, err, sizeof err); break;
        }
        if (!v && !memchr(err, 0, sizeof err))
            abort();
        write_view(v, &vo, step);
    }

    /* --histogram: the whole run counts every allocation; a diff's window
     * and a filtered one (the selection's hook runs mid-pass). */
    vo.tree = 0;
    for (int step = 0; step < 3; step++) {
        vo.view = step == 0 ? LH_VIEW_STATS : LH_VIEW_DIFF;
        vo.select = step == 2 ? app : NULL;
        vo.threads = step == 1 ? ids : NULL;
        vo.n_threads = step == 1 ? 2 : 0;
        lh_view *v = lh_view_histogram(&vo, &t, NULL, "start", at, err, sizeof err);
        if (!v)
            continue;
        if (step == 0) {
            const lh_hist_bucket *b = lh_histogram_buckets(v->hist);
            uint64_t hist_count = 0;
            for (int i = 0; i < LH_HIST_BUCKETS; i++)
                hist_count += b[i].count;
            if (hist_count != lh_replay_counters(v->ra)->allocations)
                abort();
        }
        write_view(v, &vo, step);
    }

    vo.select = NULL;
    vo.threads = NULL;
    vo.n_threads = 0;
    lh_report *rep = lh_view_report(&vo, &t, err, sizeof err);
    if (rep)
        (void)lh_export_html(rep, devnull);
    lh_report_free(rep);

    lh_view_trace_release(&t, &vo);
    lh_select_free(app);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    uint8_t *copy = sealed_copy(data, size);
    put_file(copy, size);
    replay_file(data, size);
    free(copy);
    return 0;
}
