/*
 * top_text.c - leakhunt-top's screen as lines of text: the header (heap,
 * peak, RSS, events per second, time since start), the heap sparkline,
 * the baseline, and the table of sites. The batch mode prints these
 * lines; the curses screen draws them with attributes. No escape codes
 * ever: what the terminal needs is curses' business.
 */
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "lh_units.h" /* lh_human, lh_count_str */
#include "views.h" /* lh_wadd, lh_wsub */
#include "top_cli.h"

const char *const top_help_lines[] = {
    "leakhunt-top keys",
    "",
    "  m        drop a marker into the recording (as leakhunt-mark does);",
    "           the baseline moves to it once it is in the trace",
    "  b        baseline = now: growth counts from this moment",
    "  l f s M  group by line, function, stack, module",
    "  /        filter: only stacks with a function, file or module",
    "           containing the text (empty: all)",
    "  p        pause (the recording goes on; the screen stands still)",
    "  ?        this help",
    "  q        quit (the recording goes on)",
    "",
    "Columns: live bytes now, growth since the baseline, live blocks, share",
    "of the heap. The baseline is the start, then each marker as it passes.",
    "",
    "press any key",
    NULL,
};

static void add(top_line **v, size_t *n, size_t *cap, int kind, const char *fmt, ...)
    __attribute__((format(printf, 5, 6)));
static void add(top_line **v, size_t *n, size_t *cap, int kind, const char *fmt, ...)
{
    if (*n == *cap) {
        size_t c = *cap ? *cap * 2 : 32;
        top_line *w = realloc(*v, c * sizeof(**v));
        if (!w)
            top_nomem();
        *v = w;
        *cap = c;
    }
    top_line *l = &(*v)[(*n)++];
    l->kind = kind;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(l->text, sizeof(l->text), fmt, ap);
    va_end(ap);
}

/* Cut a line to width display columns (UTF-8 aware: a sparkline block is
 * three bytes and one column). */
static void fit(char *s, int width)
{
    if (width <= 0)
        return;
    int cols = 0;
    for (char *p = s; *p; p++) {
        if (((unsigned char)*p & 0xC0) == 0x80)
            continue;
        if (cols++ == width) {
            *p = 0;
            return;
        }
    }
}

static const char *size_str(int64_t b, int exact, int sign, char *buf, size_t cap)
{
    if (!exact)
        return lh_human(b, buf, cap, sign);
    return lh_count_str(b, buf, cap, sign);
}

static const char *dur(uint64_t us, char *buf, size_t cap)
{
    uint64_t s = us / 1000000;
    if (s >= 3600)
        snprintf(buf, cap, "%" PRIu64 "h%02" PRIu64 "m", s / 3600, s / 60 % 60);
    else if (s >= 60)
        snprintf(buf, cap, "%" PRIu64 "m%02" PRIu64 "s", s / 60, s % 60);
    else
        snprintf(buf, cap, "%.1fs", us / 1e6);
    return buf;
}

/* The heap history in cols characters: each the highest heap of its span,
 * scaled to the highest of all. */
static void sparkline(top_view *v, int cols, int utf8, char *out, size_t cap)
{
    static const char *const blocks[] = { "\u2581", "\u2582", "\u2583", "\u2584",
                                          "\u2585", "\u2586", "\u2587", "\u2588" };
    static const char ascii[] = "_.-:=+*#";
    size_t n;
    const uint64_t *h = lh_top_history(v->top, &n);
    size_t o = 0;
    out[0] = 0;
    if (!n || cols <= 0)
        return;
    size_t w = (size_t)cols < n ? (size_t)cols : n;
    uint64_t max = 0;
    for (size_t i = 0; i < n; i++)
        if (h[i] > max)
            max = h[i];
    for (size_t c = 0; c < w; c++) {
        size_t a = c * n / w, b = (c + 1) * n / w;
        uint64_t m = 0;
        for (size_t i = a; i < b; i++)
            if (h[i] > m)
                m = h[i];
        int level = max ? (int)((m * 7 + max / 2) / max) : 0;
        char one[2] = { ascii[level], 0 };
        const char *s = utf8 ? blocks[level] : one;
        size_t len = strlen(s);
        if (o + len + 1 > cap)
            break;
        memcpy(out + o, s, len + 1);
        o += len;
    }
}

/* A row's key on one line: a stack's frames joined by " < " (callers
 * after). */
static void one_line(const char *key, char *out, size_t cap)
{
    size_t o = 0;
    for (const char *p = key; *p && o + 4 < cap; p++) {
        if (*p == '\n') {
            memcpy(out + o, " < ", 3);
            o += 3;
        } else {
            out[o++] = (unsigned char)*p < 0x20 ? '?' : *p;
        }
    }
    out[o] = 0;
}

static uint64_t process_rss(pid_t pid)
{
    char path[64], buf[256];
    unsigned long long size, resident;
    snprintf(path, sizeof(path), "/proc/%d/statm", (int)pid);
    FILE *f = fopen(path, "re");
    if (!f)
        return 0;
    int ok = fgets(buf, sizeof(buf), f) && sscanf(buf, "%llu %llu", &size, &resident) == 2;
    fclose(f);
    return ok ? resident * (unsigned long long)sysconf(_SC_PAGESIZE) : 0;
}

size_t top_compose(top_view *v, int width, int height, int exact, int utf8, top_line **out)
{
    top_line *l = NULL;
    size_t n = 0, cap = 0;
    char a[48], b[48], c[48], d[48], e[48];
    const lh_counters *k = lh_top_counters(v->top);
    const lh_replay *r = lh_top_replay(v->top);
    const Lh__ProcessInfo *pi = lh_replay_process(r);
    const char *exe = pi && pi->exe ? strrchr(pi->exe, '/') : NULL;
    exe = exe ? exe + 1 : pi && pi->exe ? pi->exe : "?";
    const char *state = v->paused ? "paused" : v->state == LH_TOP_ENDED ? "ended"
                      : v->state == LH_TOP_DAMAGED || v->stalled ? "stopped" : "live";

    char sampled[64] = "";
    if (pi && pi->has_sample_interval && pi->sample_interval) {
        char every[32];
        snprintf(sampled, sizeof(sampled), "  estimated, sampled every %s",
                 lh_human((int64_t)pi->sample_interval, every, sizeof(every), 0));
    }
    add(&l, &n, &cap, TL_TITLE, "leakhunt-top: pid %u %s  [%s]%s  %s", pi ? pi->pid : 0, exe, state, sampled,
        v->name);

    /* time since the recording started: the wall clock while it runs,
     * the trace's end once it ended */
    uint64_t up = lh_replay_end_time(r);
    if (v->state == LH_TOP_LIVE && !v->stalled && pi && pi->start_realtime_ns) {
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        uint64_t now = (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
        if (now > pi->start_realtime_ns && (now - pi->start_realtime_ns) / 1000 > up)
            up = (now - pi->start_realtime_ns) / 1000;
    }
    uint64_t rss = v->pid && v->state == LH_TOP_LIVE ? process_rss(v->pid) : 0;
    if (!rss)
        rss = lh_top_trace_rss(v->top);
    add(&l, &n, &cap, TL_INFO, "heap %s  peak %s  rss %s  events/s %s  up %s",
        size_str((int64_t)k->live_bytes, exact, 0, a, sizeof(a)), size_str((int64_t)k->peak_bytes, exact, 0, b, sizeof(b)),
        rss ? size_str((int64_t)rss, exact, 0, c, sizeof(c)) : "-", lh_count_str((int64_t)(v->rate + 0.5), d, sizeof(d), 0),
        dur(up, e, sizeof(e)));

    char spark[4096];
    int spark_cols = width > 0 ? width - 18 : 64;
    sparkline(v, spark_cols, utf8, spark, sizeof(spark));
    add(&l, &n, &cap, TL_SPARK, "heap history  |%s|", spark);

    uint64_t base_us;
    const char *base = lh_top_baseline(v->top, &base_us);
    size_t n_marks;
    lh_replay_markers(r, &n_marks);
    add(&l, &n, &cap, TL_INFO, "baseline %s (%s)  by %s  filter %s  markers %zu", base, dur(base_us, a, sizeof(a)),
        lh_by_name(v->by), v->filter[0] ? v->filter : "-", n_marks);

    /* columns: live, growth, blocks, share; narrower on a screen (80
     * columns leave 40 for the site) than in batch mode's exact bytes */
    int wl = exact ? 12 : 10, wg = exact ? 12 : 11, wb = exact ? 9 : 8;
    add(&l, &n, &cap, TL_HEAD, "%*s %*s %*s %6s  site", wl, exact ? "live bytes" : "live", wg, "growth", wb, "blocks",
        "share");

    size_t nr;
    lh_row *rows = lh_top_rows(v->top, v->by, v->filter, &nr);
    if (!rows)
        top_nomem();
    int64_t tot = 0, tot_g = 0, tot_c = 0;
    for (size_t i = 0; i < nr; i++) {
        tot = lh_wadd(tot, rows[i].v[V_BYTES]);
        tot_g = lh_wadd(tot_g, lh_wsub(rows[i].v[V_BYTES], rows[i].v[V_BASE_BYTES]));
        tot_c = lh_wadd(tot_c, rows[i].v[V_COUNT]);
    }
    /* room: the lines so far, a note and (on a screen) the key line */
    size_t room = height > 0 ? (size_t)(height > (int)n + 3 ? height - (int)n - 3 : 0) : nr;
    if (height <= 0 && v->rows > 0 && (size_t)v->rows < room)
        room = (size_t)v->rows;
    for (size_t i = 0; i < nr && i < room; i++) {
        const lh_row *w = &rows[i];
        char site[900];
        one_line(w->key, site, sizeof(site));
        double share = k->live_bytes ? 100.0 * (double)w->v[V_BYTES] / (double)k->live_bytes : 0;
        add(&l, &n, &cap, TL_ROW, "%*s %*s %*s %5.1f%%  %s", wl, size_str(w->v[V_BYTES], exact, 0, a, sizeof(a)), wg,
            size_str(lh_wsub(w->v[V_BYTES], w->v[V_BASE_BYTES]), exact, 1, b, sizeof(b)), wb,
            lh_count_str(w->v[V_COUNT], c, sizeof(c), 0), share, site);
    }
    if (!nr)
        add(&l, &n, &cap, TL_ROW, "  (nothing live%s)", v->filter[0] ? " matches the filter" : "");
    else if (nr > room && height <= 0)
        add(&l, &n, &cap, TL_ROW, "  ... %zu more", nr - room);
    if (height <= 0)
        add(&l, &n, &cap, TL_ROW, "%*s %*s %*s %6s  total", wl, size_str(tot, exact, 0, a, sizeof(a)), wg,
            size_str(tot_g, exact, 1, b, sizeof(b)), wb, lh_count_str(tot_c, c, sizeof(c), 0), "");
    lh_rows_free(rows, nr);

    if (v->state == LH_TOP_ENDED)
        add(&l, &n, &cap, TL_NOTE, "the recording ended (the trace is complete): this is the final table");
    else if (v->state == LH_TOP_DAMAGED)
        add(&l, &n, &cap, TL_NOTE, "the recording ended early, the trace is damaged (%s): everything before it is shown",
            lh_top_damage(v->top) ? lh_top_damage(v->top) : "?");
    else if (v->stalled)
        add(&l, &n, &cap, TL_NOTE, "process %d is gone and its trace stopped without an end (was the collector "
            "killed?): everything written is shown", (int)v->pid);
    if (v->message[0])
        add(&l, &n, &cap, TL_NOTE, "%s", v->message);

    for (size_t i = 0; i < n; i++)
        fit(l[i].text, width);
    *out = l;
    return n;
}
