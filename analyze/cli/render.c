/*
 * render.c - leakhunt-replay's output: aligned tables with human sizes,
 * the tree view of stacks, and the JSON of every view and of --stats
 * (every string through lh_json_str, the one JSON escaper).
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "replay_cli.h"

const char *human(int64_t b, char *buf, size_t cap, int sign)
{
    const char *s = b < 0 ? "-" : (sign && b > 0 ? "+" : "");
    uint64_t a = b < 0 ? 0 - (uint64_t)b : (uint64_t)b;
    if (a >= 10ull << 30) snprintf(buf, cap, "%s%.1f GiB", s, a / 1073741824.0);
    else if (a >= 10ull << 20) snprintf(buf, cap, "%s%.1f MiB", s, a / 1048576.0);
    else if (a >= 10ull << 10) snprintf(buf, cap, "%s%.1f KiB", s, a / 1024.0);
    else snprintf(buf, cap, "%s%" PRIu64 " B", s, a);
    return buf;
}

const char *count_str(int64_t v, char *buf, size_t cap, int sign)
{
    char digits[32], out[48];
    uint64_t a = v < 0 ? 0 - (uint64_t)v : (uint64_t)v;
    int n = snprintf(digits, sizeof(digits), "%" PRIu64, a), o = 0;
    for (int i = 0; i < n; i++) {
        out[o++] = digits[i];
        if ((n - i - 1) % 3 == 0 && i + 1 < n)
            out[o++] = ',';
    }
    out[o] = 0;
    snprintf(buf, cap, "%s%.29s", v < 0 ? "-" : (sign && v > 0 ? "+" : ""), out);
    return buf;
}

static int64_t abs64(int64_t v) { return v < 0 ? wsub(0, v) : v; }

int ranks_by_allocations(const options *o)
{
    return lh_view_ranks_by_allocations(o->view, o->value);
}

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
    if (view == VIEW_DIFF)
        fprintf(f, ", \"bytes_delta\": %" PRId64 ", \"count_delta\": %" PRId64
                   ", \"bytes_before\": %" PRId64 ", \"count_before\": %" PRId64
                   ", \"bytes_after\": %" PRId64 ", \"count_after\": %" PRId64,
                row->v[V_BYTES], row->v[V_COUNT], row->v[V_BASE_BYTES], row->v[V_BASE_COUNT],
                wadd(row->v[V_BASE_BYTES], row->v[V_BYTES]), wadd(row->v[V_BASE_COUNT], row->v[V_COUNT]));
    else if (view == VIEW_GROWTH)
        fprintf(f, ", \"growth_bytes\": %" PRId64 ", \"rising_windows\": %" PRId64
                   ", \"windows\": %" PRId64 ", \"still_growing\": %s, \"bytes\": %" PRId64,
                row->extra[0], row->extra[1], row->extra[3], row->extra[2] ? "true" : "false",
                row->v[V_BYTES]);
    else
        fprintf(f, ", \"bytes\": %" PRId64 ", \"count\": %" PRId64, row->v[V_BYTES], row->v[V_COUNT]);
    fprintf(f, ", \"allocated_bytes\": %" PRId64 ", \"allocations\": %" PRId64 "}",
            row->v[V_ALLOC_BYTES], row->v[V_ALLOC_COUNT]);
}

int64_t print_rows(const options *o, lh_row *rows, size_t n, const char *title, const char *json_head)
{
    size_t shown = 0, total_rows = 0;
    int64_t tot_bytes = 0, tot_count = 0, tot_ab = 0, tot_ac = 0;
    int allocs = ranks_by_allocations(o);
    for (size_t i = 0; i < n; i++) {
        tot_bytes = wadd(tot_bytes, rows[i].v[V_BYTES]);
        tot_count = wadd(tot_count, rows[i].v[V_COUNT]);
        tot_ab = wadd(tot_ab, rows[i].v[V_ALLOC_BYTES]);
        tot_ac = wadd(tot_ac, rows[i].v[V_ALLOC_COUNT]);
    }
    if (o->quiet)
        return allocs ? tot_ab : tot_bytes;
    if (o->json) {
        printf("{%s, \"group_by\": \"%s\", \"ranked_by\": \"%s\", \"total_bytes\": %" PRId64
               ", \"total_count\": %" PRId64 ", \"total_allocated_bytes\": %" PRId64
               ", \"total_allocations\": %" PRId64 ", \"rows\": [\n",
               json_head, lh_by_name(o->by), allocs ? lh_flame_value_name(o->value) : "live_bytes", tot_bytes,
               tot_count, tot_ab, tot_ac);
    } else {
        printf("%s%s\n", title, allocs ? ", ranked by what was allocated (freed or not)" : "");
    }
    char a[32], b[32], c[32];
    int indent = 0;
    for (size_t i = 0; i < n; i++) {
        const lh_row *row = &rows[i];
        int64_t size_key = o->view == VIEW_GROWTH ? row->extra[0] : allocs ? row->v[V_ALLOC_BYTES] : row->v[V_BYTES];
        if (o->min_bytes && abs64(size_key) < o->min_bytes)
            continue;
        if (o->view == VIEW_DIFF && !row->v[V_BYTES] && !row->v[V_COUNT]
            && !(allocs && row->v[V_ALLOC_COUNT]))
            continue;
        total_rows++;
        if (o->top && shown >= (size_t)o->top)
            continue;
        if (o->json) {
            if (shown)
                fputs(",\n", stdout);
            json_row(stdout, row, o->view);
        } else {
            if (!shown) {
                if (allocs)
                    printf("%12s %10s %12s  site\n", "allocated", "allocs",
                           o->view == VIEW_DIFF ? "growth" : "live"), indent = 37;
                else if (o->view == VIEW_DIFF)
                    printf("%12s %10s %12s  site\n", "growth", "count", "live after"), indent = 37;
                else if (o->view == VIEW_GROWTH)
                    printf("%12s %8s %-13s %12s  site\n", "growth", "rising", "trend", "live at end"), indent = 48;
                else if (o->view == VIEW_TEMPORARY)
                    printf("%12s %12s  site\n", "short-lived", "bytes"), indent = 26;
                else
                    printf("%12s %10s  site\n", "bytes", "blocks"), indent = 24;
            }
            if (allocs)
                printf("%12s %10s %12s  ", human(row->v[V_ALLOC_BYTES], a, sizeof(a), 0),
                       count_str(row->v[V_ALLOC_COUNT], b, sizeof(b), 0),
                       human(row->v[V_BYTES], c, sizeof(c), o->view == VIEW_DIFF));
            else if (o->view == VIEW_DIFF)
                printf("%12s %10s %12s  ", human(row->v[V_BYTES], a, sizeof(a), 1),
                       count_str(row->v[V_COUNT], b, sizeof(b), 1),
                       human(wadd(row->v[V_BASE_BYTES], row->v[V_BYTES]), c, sizeof(c), 0));
            else if (o->view == VIEW_GROWTH) {
                char rise[16];
                snprintf(rise, sizeof(rise), "%" PRId64 "/%" PRId64, row->extra[1], row->extra[3]);
                printf("%12s %8s %-13s %12s  ", human(row->extra[0], a, sizeof(a), 1), rise,
                       row->extra[2] ? "still growing" : (row->extra[0] > 0 ? "levelled off" : "flat/shrank"),
                       human(row->v[V_BYTES], c, sizeof(c), 0));
            } else if (o->view == VIEW_TEMPORARY)
                printf("%12s %12s  ", count_str(row->v[V_COUNT], a, sizeof(a), 0),
                       human(row->v[V_BYTES], b, sizeof(b), 0));
            else
                printf("%12s %10s  ", human(row->v[V_BYTES], a, sizeof(a), 0),
                       count_str(row->v[V_COUNT], b, sizeof(b), 0));
            print_key(stdout, row->key, indent);
        }
        shown++;
    }
    if (o->json) {
        printf("\n  ], \"rows_total\": %zu}\n", total_rows);
    } else {
        if (!total_rows)
            printf("  (nothing)\n");
        else if (shown < total_rows)
            printf("  ... %zu more (--top 0 shows all)\n", total_rows - shown);
        if (allocs)
            printf("%12s %10s %12s  total\n", human(tot_ab, a, sizeof(a), 0), count_str(tot_ac, b, sizeof(b), 0),
                   human(tot_bytes, c, sizeof(c), o->view == VIEW_DIFF));
        else if (o->view != VIEW_GROWTH)
            printf("%12s %10s  total\n", human(tot_bytes, a, sizeof(a), o->view == VIEW_DIFF),
                   count_str(tot_count, b, sizeof(b), o->view == VIEW_DIFF));
    }
    return allocs ? tot_ab : tot_bytes;
}

int64_t print_histogram(const options *o, const lh_histogram *h, const char *title, const char *json_head)
{
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
    if (o->json)
        printf("{%s, \"total_count\": %" PRIu64 ", \"total_bytes\": %" PRIu64 ", \"buckets\": [", json_head,
               count, bytes);
    else
        printf("%s\n%21s %10s %12s  share of allocations\n", title, "size (bytes)", "allocs", "bytes");
    char a[32], c[32];
    for (int k = first; k >= 0 && k <= last; k++) {
        uint64_t lo, hi;
        lh_hist_bucket_range(k, &lo, &hi);
        if (o->json) {
            printf("%s\n  {\"min\": %" PRIu64 ", \"max\": %" PRIu64 ", \"count\": %" PRIu64 ", \"bytes\": %" PRIu64
                   "}", k > first ? "," : "", lo, hi, b[k].count, b[k].bytes);
            continue;
        }
        char range[48];
        snprintf(range, sizeof(range), "%" PRIu64 " .. %" PRIu64, lo, hi);
        int bar = most ? (int)((b[k].count * 40 + most - 1) / most) : 0;
        printf("%21s %10s %12s  %.*s\n", range, count_str((int64_t)b[k].count, a, sizeof(a), 0),
               human((int64_t)b[k].bytes, c, sizeof(c), 0), bar,
               "########################################");
    }
    if (o->json)
        printf("\n]}\n");
    else if (first < 0)
        printf("  (nothing)\n");
    else
        printf("%21s %10s %12s\n", "total", count_str((int64_t)count, a, sizeof(a), 0),
               human((int64_t)bytes, c, sizeof(c), 0));
    return (int64_t)bytes;
}

uint64_t sample_interval_of(const lh_replay *r)
{
    const Lh__ProcessInfo *pi = lh_replay_process(r);
    return pi && pi->has_sample_interval ? pi->sample_interval : 0;
}

static void head_str(FILE *h, const char *key, const char *value)
{
    fprintf(h, "%s\"%s\": ", ftell(h) > 0 ? ", " : "", key);
    lh_json_str(h, value);
}

char *view_json_head(const lh_view *v)
{
    char *text = NULL;
    size_t len = 0;
    FILE *h = open_memstream(&text, &len);
    if (!h) {
        fprintf(stderr, "leakhunt: out of memory\n");
        exit(LH_EXIT_NOMEM);
    }
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
        fprintf(stderr, "leakhunt: out of memory\n");
        exit(LH_EXIT_NOMEM);
    }
    return text;
}

void stats_json(FILE *f, const lh_view_trace *t, lh_replay *r)
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
    fprintf(f, ", \"estimated\": %s, \"sample_interval\": %" PRIu64, sample_interval_of(r) ? "true" : "false",
            sample_interval_of(r));
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
    fprintf(f, ", \"file_bytes\": %" PRIu64 ",\n \"markers\": [", lh_replay_file_size(r));
    for (size_t i = 0; i < nm; i++) {
        fprintf(f, "%s{\"label\": ", i ? ", " : "");
        lh_json_str(f, mk[i].label);
        fprintf(f, ", \"time\": %.6f}", mk[i].time_us / 1e6);
    }
    fputs("]}", f);
}

void stats_text(const lh_view_trace *t, lh_replay *r)
{
    const lh_counters *c = lh_replay_counters(r);
    const Lh__ProcessInfo *pi = lh_replay_process(r);
    char a[32], b[32], d[32];
    uint64_t off;
    const char *damage = lh_replay_damage(r, &off);
    size_t nm;
    const lh_marker *mk = lh_replay_markers(r, &nm);
    printf("trace        %s (%s, %s, %.2f bytes/event)\n", t->path,
           damage ? "damaged" : lh_replay_complete(r) ? "complete" : "no footer: the process did not finish",
           human((int64_t)lh_replay_file_size(r), a, sizeof(a), 0),
           c->events ? (double)lh_replay_file_size(r) / c->events : 0.0);
    if (damage)
        printf("damage       %s; the prefix before it is used\n", damage);
    if (pi)
        printf("process      %u %s\n", pi->pid, pi->exe ? pi->exe : "");
    if (pi && pi->has_attached && pi->attached) {
        /* leakhunt-record -p: time 0 is the attach. */
        char when[64] = "?";
        time_t sec = (time_t)(pi->start_realtime_ns / 1000000000u);
        struct tm tm;
        if (pi->has_start_realtime_ns && localtime_r(&sec, &tm))
            strftime(when, sizeof(when), "%Y-%m-%d %H:%M:%S", &tm);
        printf("attached at %s: memory allocated before is of unknown origin (%" PRIu64 " frees of it)\n",
               when, c->unknown_frees);
    }
    if (sample_interval_of(r))
        printf("sampled      one allocation per %s allocated was recorded (--sample): counts and bytes "
               "below are estimates\n", human((int64_t)sample_interval_of(r), d, sizeof(d), 0));
    printf("duration     %.3f s, %zu thread%s, %s events\n", lh_replay_end_time(r) / 1e6,
           lh_replay_thread_count(r), lh_replay_thread_count(r) == 1 ? "" : "s",
           count_str((int64_t)c->events, d, sizeof(d), 0));
    size_t nt;
    const uint32_t *tids = lh_replay_threads(r, &nt);
    printf("threads     ");
    for (size_t i = 0, k = 0; i < nt; i++)
        if (tids[i])
            printf("%s #%zu tid %u", k++ ? "," : "", i, tids[i]);
    printf("%s (--thread takes #N or the tid)\n", nt ? "" : " none");
    printf("allocations  %s (%s), frees %s, reallocs %s\n", count_str((int64_t)c->allocations, a, sizeof(a), 0),
           human((int64_t)c->bytes_allocated, b, sizeof(b), 0), count_str((int64_t)c->frees, d, sizeof(d), 0),
           count_str((int64_t)c->reallocs, d + 16, 16, 0));
    printf("peak heap    %s at %.3f s\n", human((int64_t)c->peak_bytes, a, sizeof(a), 0), c->peak_time_us / 1e6);
    printf("leaked       %s blocks, %s still live at the end\n", count_str((int64_t)c->live_count, a, sizeof(a), 0),
           human((int64_t)c->live_bytes, b, sizeof(b), 0));
    printf("mmap         %s anonymous regions, %s mapped in total, %s still mapped\n",
           count_str((int64_t)c->mmap_regions, a, sizeof(a), 0), human((int64_t)c->mmap_bytes, b, sizeof(b), 0),
           human((int64_t)c->mmap_live_bytes, d, sizeof(d), 0));
    printf("markers     ");
    for (size_t i = 0; i < nm; i++)
        printf(" %s %.3f s%s", mk[i].label, mk[i].time_us / 1e6, i + 1 < nm ? "," : "");
    printf("%s\n", nm ? "" : " none");
    printf("lost         %" PRIu64 " events%s\n", c->lost_events,
           c->unknown_frees || c->reused_live ? "" : "");
    if (c->unknown_frees || c->reused_live)
        printf("unmatched    %" PRIu64 " frees of unknown blocks (allocated before recording), "
               "%" PRIu64 " reused live addresses\n", c->unknown_frees, c->reused_live);
}
