/*
 * output.c - see output.h. The tables and JSON of leakhunt-replay's views
 * (once analyze/cli/render.c), written to any stream, so the fuzz harness
 * writes them too.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "output.h"

static int64_t abs64(int64_t v) { return v < 0 ? lh_wsub(0, v) : v; }

static void print_key(FILE *f, const char *key, int indent)
{
    const char *nl = strchr(key, '\n');
    if (!nl) {
        fprintf(f, "%s\n", key);
        return;
    }
    fprintf(f, "%.*s\n", (int)(nl - key), key);
    for (const char *p = nl + 1; *p;) {
        const char *e = strchr(p, '\n');
        size_t len = e ? (size_t)(e - p) : strlen(p);
        fprintf(f, "%*s  called from %.*s\n", indent, "", (int)len, p);
        p += len + (e != NULL);
    }
}

static void json_row(FILE *f, const lh_row *row, int view)
{
    fputs("    {\"site\": ", f);
    lh_json_str(f, row->key);
    if (row->site) {
        fputs(", \"function\": ", f);
        lh_json_str(f, row->site->name);
        if (row->site->file) {
            fputs(", \"file\": ", f);
            lh_json_str(f, row->site->file);
            fprintf(f, ", \"line\": %u", row->site->line);
        }
        if (row->site->module) {
            fputs(", \"module\": ", f);
            lh_json_str(f, row->site->module);
        }
    }
    if (view == LH_VIEW_DIFF)
        fprintf(f, ", \"bytes_delta\": %" PRId64 ", \"count_delta\": %" PRId64
                   ", \"bytes_before\": %" PRId64 ", \"count_before\": %" PRId64
                   ", \"bytes_after\": %" PRId64 ", \"count_after\": %" PRId64,
                row->v[V_BYTES], row->v[V_COUNT], row->v[V_BASE_BYTES], row->v[V_BASE_COUNT],
                lh_wadd(row->v[V_BASE_BYTES], row->v[V_BYTES]), lh_wadd(row->v[V_BASE_COUNT], row->v[V_COUNT]));
    else if (view == LH_VIEW_GROWTH)
        fprintf(f, ", \"growth_bytes\": %" PRId64 ", \"rising_windows\": %" PRId64
                   ", \"windows\": %" PRId64 ", \"still_growing\": %s, \"bytes\": %" PRId64,
                row->extra[0], row->extra[1], row->extra[3], row->extra[2] ? "true" : "false",
                row->v[V_BYTES]);
    else
        fprintf(f, ", \"bytes\": %" PRId64 ", \"count\": %" PRId64, row->v[V_BYTES], row->v[V_COUNT]);
    fprintf(f, ", \"allocated_bytes\": %" PRId64 ", \"allocations\": %" PRId64 "}",
            row->v[V_ALLOC_BYTES], row->v[V_ALLOC_COUNT]);
}

int64_t lh_out_rows(FILE *out, const lh_out_opts *o, const lh_view *v)
{
    const lh_row *rows = v->rows;
    size_t n = v->n_rows;
    int view = v->view;
    size_t shown = 0, total_rows = 0;
    int64_t tot_bytes = 0, tot_count = 0, tot_ab = 0, tot_ac = 0;
    int allocs = v->ranks_by_allocations;
    for (size_t i = 0; i < n; i++) {
        tot_bytes = lh_wadd(tot_bytes, rows[i].v[V_BYTES]);
        tot_count = lh_wadd(tot_count, rows[i].v[V_COUNT]);
        tot_ab = lh_wadd(tot_ab, rows[i].v[V_ALLOC_BYTES]);
        tot_ac = lh_wadd(tot_ac, rows[i].v[V_ALLOC_COUNT]);
    }
    if (o->quiet)
        return allocs ? tot_ab : tot_bytes;
    char *json_head = o->json ? lh_out_json_head(v) : NULL;
    if (o->json) {
        fprintf(out, "{%s, \"group_by\": \"%s\", \"ranked_by\": \"%s\", \"total_bytes\": %" PRId64
               ", \"total_count\": %" PRId64 ", \"total_allocated_bytes\": %" PRId64
               ", \"total_allocations\": %" PRId64 ", \"rows\": [\n",
               json_head ? json_head : "", lh_by_name(o->by), allocs ? lh_flame_value_name(o->value) : "live_bytes", tot_bytes,
               tot_count, tot_ab, tot_ac);
    } else {
        fprintf(out, "%s%s\n", v->title, allocs ? ", ranked by what was allocated (freed or not)" : "");
    }
    char a[32], b[32], c[32];
    int indent = 0;
    for (size_t i = 0; i < n; i++) {
        const lh_row *row = &rows[i];
        int64_t size_key = view == LH_VIEW_GROWTH ? row->extra[0] : allocs ? row->v[V_ALLOC_BYTES] : row->v[V_BYTES];
        if (o->min_bytes && abs64(size_key) < o->min_bytes)
            continue;
        if (view == LH_VIEW_DIFF && !row->v[V_BYTES] && !row->v[V_COUNT]
            && !(allocs && row->v[V_ALLOC_COUNT]))
            continue;
        total_rows++;
        if (o->top && shown >= (size_t)o->top)
            continue;
        if (o->json) {
            if (shown)
                fputs(",\n", out);
            json_row(out, row, view);
        } else {
            if (!shown) {
                if (allocs)
                    fprintf(out, "%12s %10s %12s  site\n", "allocated", "allocs",
                           view == LH_VIEW_DIFF ? "growth" : "live"), indent = 37;
                else if (view == LH_VIEW_DIFF)
                    fprintf(out, "%12s %10s %12s  site\n", "growth", "count", "live after"), indent = 37;
                else if (view == LH_VIEW_GROWTH)
                    fprintf(out, "%12s %8s %-13s %12s  site\n", "growth", "rising", "trend", "live at end"), indent = 48;
                else if (view == LH_VIEW_TEMPORARY)
                    fprintf(out, "%12s %12s  site\n", "short-lived", "bytes"), indent = 26;
                else
                    fprintf(out, "%12s %10s  site\n", "bytes", "blocks"), indent = 24;
            }
            if (allocs)
                fprintf(out, "%12s %10s %12s  ", lh_human(row->v[V_ALLOC_BYTES], a, sizeof(a), 0),
                       lh_count_str(row->v[V_ALLOC_COUNT], b, sizeof(b), 0),
                       lh_human(row->v[V_BYTES], c, sizeof(c), view == LH_VIEW_DIFF));
            else if (view == LH_VIEW_DIFF)
                fprintf(out, "%12s %10s %12s  ", lh_human(row->v[V_BYTES], a, sizeof(a), 1),
                       lh_count_str(row->v[V_COUNT], b, sizeof(b), 1),
                       lh_human(lh_wadd(row->v[V_BASE_BYTES], row->v[V_BYTES]), c, sizeof(c), 0));
            else if (view == LH_VIEW_GROWTH) {
                char rise[16];
                snprintf(rise, sizeof(rise), "%" PRId64 "/%" PRId64, row->extra[1], row->extra[3]);
                fprintf(out, "%12s %8s %-13s %12s  ", lh_human(row->extra[0], a, sizeof(a), 1), rise,
                       row->extra[2] ? "still growing" : (row->extra[0] > 0 ? "levelled off" : "flat/shrank"),
                       lh_human(row->v[V_BYTES], c, sizeof(c), 0));
            } else if (view == LH_VIEW_TEMPORARY)
                fprintf(out, "%12s %12s  ", lh_count_str(row->v[V_COUNT], a, sizeof(a), 0),
                       lh_human(row->v[V_BYTES], b, sizeof(b), 0));
            else
                fprintf(out, "%12s %10s  ", lh_human(row->v[V_BYTES], a, sizeof(a), 0),
                       lh_count_str(row->v[V_COUNT], b, sizeof(b), 0));
            print_key(out, row->key, indent);
        }
        shown++;
    }
    if (o->json) {
        fprintf(out, "\n  ], \"rows_total\": %zu}\n", total_rows);
    } else {
        if (!total_rows)
            fprintf(out, "  (nothing)\n");
        else if (shown < total_rows)
            fprintf(out, "  ... %zu more (--top 0 shows all)\n", total_rows - shown);
        if (allocs)
            fprintf(out, "%12s %10s %12s  total\n", lh_human(tot_ab, a, sizeof(a), 0), lh_count_str(tot_ac, b, sizeof(b), 0),
                   lh_human(tot_bytes, c, sizeof(c), view == LH_VIEW_DIFF));
        else if (view != LH_VIEW_GROWTH)
            fprintf(out, "%12s %10s  total\n", lh_human(tot_bytes, a, sizeof(a), view == LH_VIEW_DIFF),
                   lh_count_str(tot_count, b, sizeof(b), view == LH_VIEW_DIFF));
    }
    free(json_head);
    return allocs ? tot_ab : tot_bytes;
}

int64_t lh_out_histogram(FILE *out, const lh_out_opts *o, const lh_view *v)
{
    const lh_histogram *h = v->hist;
    const lh_hist_bucket *b = lh_histogram_buckets(h);
    uint64_t count = 0, bytes = 0, most = 0;
    int first = -1, last = -1;
    for (int k = 0; k < LH_HIST_BUCKETS; k++) {
        count += b[k].count;
        bytes += b[k].bytes;
        most = b[k].count > most ? b[k].count : most;
        if (b[k].count) {
            first = first < 0 ? k : first;
            last = k;
        }
    }
    if (o->quiet)
        return (int64_t)bytes;
    char *json_head = o->json ? lh_out_json_head(v) : NULL;
    if (o->json)
        fprintf(out, "{%s, \"total_count\": %" PRIu64 ", \"total_bytes\": %" PRIu64 ", \"buckets\": [", json_head ? json_head : "",
               count, bytes);
    else
        fprintf(out, "%s\n%21s %10s %12s  share of allocations\n", v->title, "size (bytes)", "allocs", "bytes");
    char a[32], c[32];
    for (int k = first; k >= 0 && k <= last; k++) {
        uint64_t lo, hi;
        lh_hist_bucket_range(k, &lo, &hi);
        if (o->json) {
            fprintf(out, "%s\n  {\"min\": %" PRIu64 ", \"max\": %" PRIu64 ", \"count\": %" PRIu64 ", \"bytes\": %" PRIu64
                   "}", k > first ? "," : "", lo, hi, b[k].count, b[k].bytes);
            continue;
        }
        char range[48];
        snprintf(range, sizeof(range), "%" PRIu64 " .. %" PRIu64, lo, hi);
        int bar = most ? (int)((b[k].count * 40 + most - 1) / most) : 0;
        fprintf(out, "%21s %10s %12s  %.*s\n", range, lh_count_str((int64_t)b[k].count, a, sizeof(a), 0),
               lh_human((int64_t)b[k].bytes, c, sizeof(c), 0), bar,
               "########################################");
    }
    if (o->json)
        fprintf(out, "\n]}\n");
    else if (first < 0)
        fprintf(out, "  (nothing)\n");
    else
        fprintf(out, "%21s %10s %12s\n", "total", lh_count_str((int64_t)count, a, sizeof(a), 0),
               lh_human((int64_t)bytes, c, sizeof(c), 0));
    free(json_head);
    return (int64_t)bytes;
}

static void head_str(FILE *h, const char *key, const char *value)
{
    fprintf(h, "%s\"%s\": ", ftell(h) > 0 ? ", " : "", key);
    lh_json_str(h, value);
}

char *lh_out_json_head(const lh_view *v)
{
    char *text = NULL;
    size_t len = 0;
    FILE *h = open_memstream(&text, &len);
    if (!h)
        return NULL;
    head_str(h, "trace", v->trace);
    if (v->trace_b)
        head_str(h, "trace_b", v->trace_b);
    head_str(h, "view", lh_view_name(v->view));
    if (v->at) {
        head_str(h, "at", v->at);
        fprintf(h, ", \"time\": %.6f", v->time);
    }
    if (v->from) {
        head_str(h, "from", v->from);
        head_str(h, "to", v->to);
        fprintf(h, ", \"from_time\": %.6f, \"to_time\": %.6f", v->from_time, v->to_time);
    }
    if (v->windows)
        fprintf(h, ", \"windows\": %d", v->windows);
    if (v->within_ms >= 0)
        fprintf(h, ", \"within_ms\": %ld", v->within_ms);
    fprintf(h, ", \"estimated\": %s, \"sample_interval\": %" PRIu64, v->sample_interval ? "true" : "false",
            v->sample_interval);
    if (fclose(h) != 0) {
        free(text);
        return NULL;
    }
    return text;
}

int lh_out_tree(FILE *out, const lh_out_opts *o, const lh_view *v, int64_t *total_out)
{
    lh_flame *f = lh_flame_new(v->title, v->view == LH_VIEW_DIFF);
    if (!f || lh_flame_from_site_samples(f, v->samples, v->n_samples, o->inverted) < 0) {
        lh_flame_free(f);
        return -ENOMEM;
    }
    int rc = 0;
    int alloc = o->value == LH_VAL_ALLOC_BYTES || o->value == LH_VAL_ALLOC_COUNT;
    int64_t total = lh_flame_total(f, alloc ? LH_VAL_ALLOC_BYTES : LH_VAL_LIVE_BYTES);
    if (!o->quiet) {
        lh_tree_opts to = { .value = o->value, .min_value = o->min_bytes, .max_children = (size_t)o->top,
                            .inverted = o->inverted, .json = o->json };
        char *json_head = o->json ? lh_out_json_head(v) : NULL;
        if (o->json)
            fprintf(out, "{%s, \"tree_kind\": \"%s\", \"values\": \"%s\", \"tree\": ", json_head ? json_head : "",
                    o->inverted ? "bottom-up" : "top-down", alloc ? "allocated" : "live");
        else
            fprintf(out, "%s%s\n", v->title, o->inverted ? ", bottom-up (allocating sites, then their callers)"
                                                         : ", top-down (callers, then callees)");
        free(json_head);
        rc = lh_export_tree(f, &to, out);
        if (o->json && rc == 0)
            fprintf(out, "}\n");
    }
    lh_flame_free(f);
    *total_out = total;
    return rc;
}

int lh_out_view(FILE *out, const lh_out_opts *o, const lh_view *v, int tree, int64_t *total)
{
    if (v->hist)
        *total = lh_out_histogram(out, o, v);
    else if (tree)
        return lh_out_tree(out, o, v, total);
    else
        *total = lh_out_rows(out, o, v);
    return 0;
}

static uint64_t interval_of(const lh_replay *r)
{
    const Lh__ProcessInfo *pi = lh_replay_process(r);
    return pi && pi->has_sample_interval ? pi->sample_interval : 0;
}

void lh_out_stats_json(FILE *f, const lh_view_trace *t, const lh_replay *r)
{
    const lh_counters *c = lh_replay_counters(r);
    const Lh__ProcessInfo *pi = lh_replay_process(r);
    uint64_t off;
    const char *damage = lh_replay_damage(r, &off);
    size_t nm;
    const lh_marker *mk = lh_replay_markers(r, &nm);
    fprintf(f, "{\"trace\": ");
    lh_json_str(f, t->path);
    fprintf(f, ", \"pid\": %u, \"exe\": ", pi ? pi->pid : 0);
    lh_json_str(f, pi ? pi->exe : "");
    fprintf(f, ", \"attached\": %s", pi && pi->has_attached && pi->attached ? "true" : "false");
    fprintf(f, ", \"estimated\": %s, \"sample_interval\": %" PRIu64, interval_of(r) ? "true" : "false",
            interval_of(r));
    fprintf(f, ",\n \"allocations\": %" PRIu64 ", \"frees\": %" PRIu64 ", \"reallocs\": %" PRIu64
               ", \"bytes_allocated\": %" PRIu64 ",\n \"peak_bytes\": %" PRIu64 ", \"peak_time\": %.6f"
               ", \"leaked_allocations\": %" PRIu64 ", \"leaked_bytes\": %" PRIu64 ",\n"
               " \"duration\": %.6f, \"threads\": %zu, \"events\": %" PRIu64 ", \"lost_events\": %" PRIu64
               ",\n \"mmap_regions\": %" PRIu64 ", \"mmap_bytes\": %" PRIu64 ", \"mmap_live_bytes\": %" PRIu64
               ",\n \"unknown_frees\": %" PRIu64 ", \"reused_live_addresses\": %" PRIu64
               ", \"complete\": %s, \"damaged\": ",
            c->allocations, c->frees, c->reallocs, c->bytes_allocated, c->peak_bytes, c->peak_time_us / 1e6,
            c->live_count, c->live_bytes, lh_replay_end_time(r) / 1e6, lh_replay_thread_count(r),
            c->events, c->lost_events, c->mmap_regions, c->mmap_bytes, c->mmap_live_bytes,
            c->unknown_frees, c->reused_live, lh_replay_complete(r) ? "true" : "false");
    if (damage) {
        fprintf(f, "{\"offset\": %" PRIu64 ", \"error\": ", off);
        lh_json_str(f, damage);
        fputs("}", f);
    } else {
        fputs("null", f);
    }
    size_t nt;
    const uint32_t *tids = lh_replay_threads(r, &nt);
    fputs(", \"thread_list\": [", f);
    for (size_t i = 0, k = 0; i < nt; i++)
        if (tids[i])
            fprintf(f, "%s{\"index\": %zu, \"tid\": %u}", k++ ? ", " : "", i, tids[i]);
    fputs("]", f);
    fprintf(f, ",\n \"python_allocations\": %" PRIu64 ", \"python_bytes_allocated\": %" PRIu64
               ", \"arena_regions\": %" PRIu64 ", \"arena_bytes\": %" PRIu64 ", \"arena_live_bytes\": %" PRIu64
               ", \"arena_peak_bytes\": %" PRIu64,
            c->py_allocations, c->py_bytes_allocated, c->arena_regions, c->arena_bytes, c->arena_live_bytes,
            c->arena_peak_bytes);
    fprintf(f, ", \"file_bytes\": %" PRIu64 ",\n \"markers\": [", lh_replay_file_size(r));
    for (size_t i = 0; i < nm; i++) {
        fprintf(f, "%s{\"label\": ", i ? ", " : "");
        lh_json_str(f, mk[i].label);
        fprintf(f, ", \"time\": %.6f}", mk[i].time_us / 1e6);
    }
    fputs("]}", f);
}

void lh_out_stats_text(FILE *out, const lh_view_trace *t, const lh_replay *r)
{
    const lh_counters *c = lh_replay_counters(r);
    const Lh__ProcessInfo *pi = lh_replay_process(r);
    char a[32], b[32], d[32];
    uint64_t off;
    const char *damage = lh_replay_damage(r, &off);
    size_t nm;
    const lh_marker *mk = lh_replay_markers(r, &nm);
    fprintf(out, "trace        %s (%s, %s, %.2f bytes/event)\n", t->path,
           damage ? "damaged" : lh_replay_complete(r) ? "complete" : "no footer: the process did not finish",
           lh_human((int64_t)lh_replay_file_size(r), a, sizeof(a), 0),
           c->events ? (double)lh_replay_file_size(r) / c->events : 0.0);
    if (damage)
        fprintf(out, "damage       %s; the prefix before it is used\n", damage);
    if (pi)
        fprintf(out, "process      %u %s\n", pi->pid, pi->exe ? pi->exe : "");
    if (pi && pi->has_attached && pi->attached) {
        /* leakhunt-record -p: time 0 is the attach. */
        char when[64] = "?";
        time_t sec = (time_t)(pi->start_realtime_ns / 1000000000u);
        struct tm tm;
        if (pi->has_start_realtime_ns && localtime_r(&sec, &tm))
            strftime(when, sizeof(when), "%Y-%m-%d %H:%M:%S", &tm);
        fprintf(out, "attached at %s: memory allocated before is of unknown origin (%" PRIu64 " frees of it)\n",
               when, c->unknown_frees);
    }
    if (interval_of(r))
        fprintf(out, "sampled      one allocation per %s allocated was recorded (--sample): counts and bytes "
               "below are estimates\n", lh_human((int64_t)interval_of(r), d, sizeof(d), 0));
    fprintf(out, "duration     %.3f s, %zu thread%s, %s events\n", lh_replay_end_time(r) / 1e6,
           lh_replay_thread_count(r), lh_replay_thread_count(r) == 1 ? "" : "s",
           lh_count_str((int64_t)c->events, d, sizeof(d), 0));
    size_t nt;
    const uint32_t *tids = lh_replay_threads(r, &nt);
    fprintf(out, "threads     ");
    for (size_t i = 0, k = 0; i < nt; i++)
        if (tids[i])
            fprintf(out, "%s #%zu tid %u", k++ ? "," : "", i, tids[i]);
    fprintf(out, "%s (--thread takes #N or the tid)\n", nt ? "" : " none");
    fprintf(out, "allocations  %s (%s), frees %s, reallocs %s\n", lh_count_str((int64_t)c->allocations, a, sizeof(a), 0),
           lh_human((int64_t)c->bytes_allocated, b, sizeof(b), 0), lh_count_str((int64_t)c->frees, d, sizeof(d), 0),
           lh_count_str((int64_t)c->reallocs, d + 16, 16, 0));
    fprintf(out, "peak heap    %s at %.3f s\n", lh_human((int64_t)c->peak_bytes, a, sizeof(a), 0), c->peak_time_us / 1e6);
    fprintf(out, "leaked       %s blocks, %s still live at the end\n", lh_count_str((int64_t)c->live_count, a, sizeof(a), 0),
           lh_human((int64_t)c->live_bytes, b, sizeof(b), 0));
    fprintf(out, "mmap         %s anonymous regions, %s mapped in total, %s still mapped\n",
           lh_count_str((int64_t)c->mmap_regions, a, sizeof(a), 0), lh_human((int64_t)c->mmap_bytes, b, sizeof(b), 0),
           lh_human((int64_t)c->mmap_live_bytes, d, sizeof(d), 0));
    if (c->py_allocations || c->arena_regions) {
        /* CPython's allocator hooked (format 1.5): objects in the heap above, arenas apart */
        fprintf(out, "python       %s objects (%s) through CPython's allocator, counted above\n",
                lh_count_str((int64_t)c->py_allocations, a, sizeof(a), 0),
                lh_human((int64_t)c->py_bytes_allocated, b, sizeof(b), 0));
        fprintf(out, "arenas       %s mapped by it for them, %s in total, %s still mapped",
                lh_count_str((int64_t)c->arena_regions, a, sizeof(a), 0),
                lh_human((int64_t)c->arena_bytes, b, sizeof(b), 0), lh_human((int64_t)c->arena_live_bytes, d, sizeof(d), 0));
        fprintf(out, " (peak %s)\n", lh_human((int64_t)c->arena_peak_bytes, a, sizeof(a), 0));
    }
    fprintf(out, "markers     ");
    for (size_t i = 0; i < nm; i++)
        fprintf(out, " %s %.3f s%s", mk[i].label, mk[i].time_us / 1e6, i + 1 < nm ? "," : "");
    fprintf(out, "%s\n", nm ? "" : " none");
    fprintf(out, "lost         %" PRIu64 " events%s\n", c->lost_events,
           c->unknown_frees || c->reused_live ? "" : "");
    if (c->unknown_frees || c->reused_live)
        fprintf(out, "unmatched    %" PRIu64 " frees of unknown blocks (allocated before recording), "
               "%" PRIu64 " reused live addresses\n", c->unknown_frees, c->reused_live);
}
