/*
 * leakhunt-replay - answers from a trace: the heap at a moment, what grew
 * between two moments (or two traces), leaks, peak, growth suspects,
 * temporary allocations, statistics; as text, JSON or flame graphs.
 */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "replay_cli.h"

static const char *prog = "leakhunt-replay";

static void usage(FILE *f)
{
    fprintf(f,
        "usage: leakhunt-replay TRACE... [view] [options]\n"
        "\n"
        "Views (one; default --leaks):\n"
        "  --leaks              what is still allocated at the end, by site\n"
        "  --at T               the live heap at moment T\n"
        "  --diff A B           what grew from A to B (live at B minus live at A);\n"
        "                       with two traces, A is read from the first, B from the second\n"
        "  --peak               the heap at its maximum, and when that was\n"
        "  --growth             leak suspects over the whole run: sites whose live bytes\n"
        "                       keep rising, and sites that levelled off (bounded caches)\n"
        "  --temporary          allocations freed almost at once (--temporary-ms, default 1)\n"
        "  --stats              totals: allocations, frees, peak, leaks, markers, lost events\n"
        "\n"
        "Moments T: 12.5, 12.5s, 300ms, 50%%, start, peak, end, mark:LABEL (mark:LABEL#2 for\n"
        "the second one), #EVENT (after that many events).\n"
        "\n"
        "Presentations of the view (instead of its table):\n"
        "  --tree               the merged call tree, top-down: total and self bytes and\n"
        "                       blocks per frame, callers above callees; --top N children\n"
        "                       per frame (biggest first), --min-bytes prunes subtrees\n"
        "  --inverted           with --tree: bottom-up, each allocating site, then its\n"
        "                       callers\n"
        "  --histogram          sizes of the allocations made in the view's window, in\n"
        "                       power-of-two buckets (allocations, bytes): from the start\n"
        "                       to the moment for --leaks, --stats (the whole run), --at T\n"
        "                       and --peak; from A to B for --diff A B; freed or not\n"
        "\n"
        "Options:\n"
        "  --by stack|function|line|module   grouping (default line)\n"
        "  --top N              rows to show (default 10, 0 = all)\n"
        "  --filter TEXT        only stacks with a function, file or module containing TEXT\n"
        "                       (repeatable: every TEXT)\n"
        "  --exclude TEXT       no stacks with a function, file or module containing TEXT\n"
        "                       (repeatable)\n"
        "  --suppressions FILE  LeakSanitizer suppressions: leak:PATTERN lines drop stacks\n"
        "                       with a function, file or module PATTERN matches (substring,\n"
        "                       * any run, ^ start, $ end; # comments); repeatable\n"
        "  --alloc-fn NAME      a function of the program that allocates for its callers\n"
        "                       (fnmatch glob, repeatable): it and what it calls are skipped,\n"
        "                       the site is its caller (built in: xmalloc, g_malloc*)\n"
        "  --thread N           only what thread N allocated: N is the index --stats lists\n"
        "                       (#N) or the kernel tid; repeatable; frees by any thread\n"
        "                       count, frees of other threads' blocks do not\n"
        "  --min-bytes N        hide rows smaller than N bytes (K, M, G suffixes)\n"
        "  --format text|json   output format (default text); JSON is UTF-8, and bytes of\n"
        "                       a path, symbol or label that are not UTF-8 become U+FFFD\n"
        "  --windows N          time windows for --growth (default 10)\n"
        "  --fail-over SIZE     exit status 3 when the view's total is over SIZE (K, M, G):\n"
        "                       the bytes its table totals (leaked, live at T, grown from A\n"
        "                       to B, short-lived; allocated with --value alloc_*), its\n"
        "                       tree's or histogram's, or the leaked bytes of --stats; for\n"
        "                       CI (e.g. --leaks --fail-over 0, --peak --fail-over 512M)\n"
        "  --no-checkpoints     neither use nor write TRACE.ckpt (kept beside traces of\n"
        "                       2M+ events so later questions start near their moment)\n"
        "\n"
        "Exports of the view (several allowed; FILE - is stdout, which then holds the\n"
        "export alone, for one export at a time):\n"
        "  --folded [FILE]      folded stacks for flamegraph.pl/inferno/speedscope (default -)\n"
        "  --flamegraph FILE    interactive SVG flame graph (differential for --diff)\n"
        "  --pprof FILE         pprof profile.proto, gzip (go tool pprof, speedscope)\n"
        "  --speedscope FILE    speedscope JSON\n"
        "  --html FILE          self-contained report: heap over time, markers, flame graphs\n"
        "  --value NAME         live_bytes (default), live_count, alloc_bytes, alloc_count;\n"
        "                       alloc_* also rank the table of --leaks, --at, --peak and\n"
        "                       --diff by what each site allocated in the view's window\n"
        "                       (from the start, or from A to B), freed or not\n"
        "\n"
        "  -h, --help           this text\n"
        "  --version            print the version\n"
        "\n"
        "Exit status: 0 answered, 1 the trace is damaged (the readable prefix was\n"
        "answered), 2 usage or input error, 3 the view's total is over --fail-over\n"
        "(before 1), 4 out of memory.\n");
}

/* The program's one way out with a message: status 2 (usage or input),
 * or LH_EXIT_NOMEM (4) for die_nomem. */
static void vdie(int status, const char *fmt, va_list ap) __attribute__((noreturn));
static void vdie(int status, const char *fmt, va_list ap)
{
    fprintf(stderr, "%s: ", prog);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    exit(status);
}

static void die(const char *fmt, ...) __attribute__((noreturn, format(printf, 1, 2)));
static void die(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vdie(2, fmt, ap);
}

static void die_nomem(const char *fmt, ...) __attribute__((noreturn, format(printf, 1, 2)));
static void die_nomem(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vdie(LH_EXIT_NOMEM, fmt, ap);
}

/* --- views ------------------------------------------------------------------------ */

static int over_limit; /* --fail-over: a view's total went over it (exit status 3) */
static const options *opts;
static lh_view_opts vo; /* what the views are asked with, from opts */

/* The views' warnings and notes, as whole lines. */
static void print_note(void *ctx, const char *line)
{
    (void)ctx;
    fprintf(stderr, "%s: %s\n", prog, line);
}

/* A view, or the message of why not (exit status 2). */
/* A view, or the way out its failure asks for (views.h: errno ENOMEM is
 * out of memory). */
static lh_view *checked(lh_view *v, const char *err)
{
    if (!v && errno == ENOMEM)
        lh_nomem();
    if (!v)
        die("%s", err);
    return v;
}

/* --fail-over SIZE: a CI gate (pytest-memray's limit_leaks and
 * limit_memory). The view's total is the bytes its table totals (live,
 * grown, short-lived, or allocated with --value alloc_*), its tree's root,
 * its histogram's bytes, or the leaked bytes of --stats. */
static void check_limit(const char *what, int64_t total)
{
    if (opts->fail_over < 0 || total <= opts->fail_over)
        return;
    char a[32], b[32];
    fprintf(stderr, "%s: %s: the view's total, %s (%" PRId64 " bytes), is over --fail-over %s (%" PRId64
                    " bytes)\n", prog, what,
            lh_human(total, a, sizeof(a), 0), total, lh_human(opts->fail_over, b, sizeof(b), 0), opts->fail_over);
    over_limit = 1;
}

/* --- exports ----------------------------------------------------------------------- */

/* Where an export goes: FILE, or stdout for "-" (the export alone there:
 * main() silences the view's own output). */
static FILE *export_open(const char *path, const char *mode)
{
    if (!strcmp(path, "-"))
        return stdout;
    FILE *out = fopen(path, mode);
    if (!out)
        die("cannot write %s: %s", path, strerror(errno));
    return out;
}

/* Done with an export: rc is the exporter's (0 or negative). */
static void export_close(const char *path, FILE *out, int rc)
{
    int err = rc < 0 ? -rc : 0;
    int failed = rc < 0;
    if (out == stdout ? fflush(stdout) != 0 || ferror(stdout) : fclose(out) != 0) {
        failed = 1;
        err = err ? err : errno;
    }
    if (failed)
        die("cannot write %s: %s", out == stdout ? "the export to stdout" : path,
            err > 1 ? strerror(err) : "i/o error");
}

static void export_flame(const options *o, const lh_view *v, int is_diff)
{
    if (!o->folded && !o->flamegraph && !o->pprof && !o->speedscope)
        return;
    lh_flame *f = lh_flame_new(v->title, is_diff);
    if (!f || lh_flame_from_samples(f, v->flame, v->n_flame) < 0)
        die_nomem("out of memory building the flame graph");
    if (o->folded) {
        FILE *out = export_open(o->folded, "w");
        export_close(o->folded, out, lh_export_folded(f, o->value, out));
    }
    if (o->flamegraph) {
        FILE *out = export_open(o->flamegraph, "w");
        lh_svg_opts so = { o->value, 0, 0 };
        export_close(o->flamegraph, out, lh_export_svg(f, &so, out));
    }
    if (o->pprof) {
        FILE *out = export_open(o->pprof, "wb");
        export_close(o->pprof, out, lh_export_pprof(f, out));
    }
    if (o->speedscope) {
        FILE *out = export_open(o->speedscope, "w");
        export_close(o->speedscope, out, lh_export_speedscope(f, o->value, out));
    }
    lh_flame_free(f);
}

static void export_html(const options *o, lh_view_trace *t)
{
    char err[512];
    lh_report *rep = lh_view_report(&vo, t, err, sizeof(err));
    if (!rep && errno == ENOMEM)
        lh_nomem();
    if (!rep)
        die("%s", err);
    FILE *out = export_open(o->html, "w");
    export_close(o->html, out, lh_export_html(rep, out));
    lh_report_free(rep);
}

/* --- printing the views ------------------------------------------------------------ */

/* A view's table (or tree, or histogram) on stdout; returns its total. */
static int64_t print_view(const options *o, const lh_view *v)
{
    lh_out_opts oo = { .json = o->json, .top = o->top, .min_bytes = o->min_bytes, .value = o->value,
                       .by = o->by, .inverted = o->inverted, .quiet = o->quiet };
    int64_t total = 0;
    int rc = lh_out_view(stdout, &oo, v, o->tree, &total);
    if (rc == -ENOMEM)
        die_nomem("out of memory building the call tree");
    if (rc < 0)
        die("cannot write the call tree: %s", strerror(-rc));
    return total;
}

/* --at, --leaks, --peak, --growth, --temporary of one trace. */
static void run_view(const options *o, lh_view_trace *t)
{
    char err[2400];
    lh_view *v;
    switch (o->view) {
    case VIEW_AT: v = lh_view_point(&vo, t, o->at, err, sizeof(err)); break;
    case VIEW_PEAK: v = lh_view_point(&vo, t, "peak", err, sizeof(err)); break;
    case VIEW_GROWTH: v = lh_view_growth(&vo, t, err, sizeof(err)); break;
    case VIEW_TEMPORARY: v = lh_view_temporary(&vo, t, err, sizeof(err)); break;
    default: v = lh_view_point(&vo, t, "end", err, sizeof(err)); break;
    }
    checked(v, err);
    int64_t total = print_view(o, v);
    if (o->view != VIEW_GROWTH)
        check_limit(t->path, total);
    export_flame(o, v, 0);
    lh_view_free(v);
}

static void run_histogram(const options *o, lh_view_trace *t)
{
    char err[2400];
    lh_view *v = checked(lh_view_histogram(&vo, t, o->at, o->from, o->to, err, sizeof(err)), err);
    check_limit(t->path, print_view(o, v));
    lh_view_free(v);
}

static void run_diff(const options *o, lh_view_trace *ts, size_t nt)
{
    char err[2400];
    lh_view_trace *ta = &ts[0], *tb = nt > 1 ? &ts[1] : &ts[0];
    lh_view *v = checked(lh_view_diff(&vo, ta, tb, o->from, o->to, err, sizeof(err)), err);
    check_limit(ta == tb ? ta->path : tb->path, print_view(o, v));
    export_flame(o, v, 1);
    lh_view_free(v);
}

static void run_stats(const options *o, lh_view_trace *ts, size_t nt)
{
    lh_counters sum;
    memset(&sum, 0, sizeof(sum));
    int show = !o->quiet; /* --html - has stdout */
    if (show && o->json && nt > 1)
        printf("{\"traces\": [\n");
    for (size_t i = 0; i < nt; i++) {
        char err[2400];
        lh_view *v = checked(lh_view_stats(&vo, &ts[i], err, sizeof(err)), err);
        const lh_counters *c = lh_replay_counters(v->replay);
        sum.allocations += c->allocations;
        sum.frees += c->frees;
        sum.bytes_allocated += c->bytes_allocated;
        sum.live_bytes += c->live_bytes;
        sum.live_count += c->live_count;
        sum.events += c->events;
        sum.lost_events += c->lost_events;
        if (show && o->json) {
            lh_out_stats_json(stdout, &ts[i], v->replay);
            printf("%s\n", nt > 1 && i + 1 < nt ? "," : "");
        } else if (show) {
            if (i)
                printf("\n");
            lh_out_stats_text(stdout, &ts[i], v->replay);
        }
        check_limit(ts[i].path, lh_view_total(v));
        lh_view_free(v);
    }
    if (show && nt > 1) {
        if (o->json)
            printf("], \"combined\": {\"allocations\": %" PRIu64 ", \"frees\": %" PRIu64
                   ", \"bytes_allocated\": %" PRIu64 ", \"leaked_allocations\": %" PRIu64
                   ", \"leaked_bytes\": %" PRIu64 ", \"events\": %" PRIu64 ", \"lost_events\": %" PRIu64 "}}\n",
                   sum.allocations, sum.frees, sum.bytes_allocated, sum.live_count, sum.live_bytes,
                   sum.events, sum.lost_events);
        else {
            char a[32], b[32];
            printf("\ncombined     %zu traces: %s allocations, %s leaked in %s blocks\n", nt,
                   lh_count_str((int64_t)sum.allocations, a, sizeof(a), 0),
                   lh_human((int64_t)sum.live_bytes, b, sizeof(b), 0),
                   lh_count_str((int64_t)sum.live_count, a, sizeof(a), 0));
        }
    }
}

/* --- options ----------------------------------------------------------------------- */

/* A size as every tool takes it (lh_parse_size: 4096, 64K, 1.5M, 2GiB). */
static int64_t parse_size(const char *opt, const char *v)
{
    uint64_t x;
    if (lh_parse_size(v, &x) < 0)
        die("%s '%s': expected a size such as 4096, 64K or 1.5M", opt, v);
    return (int64_t)x;
}

static long parse_long(const char *opt, const char *v, long lo, long hi)
{
    char *end;
    errno = 0;
    long x = strtol(v, &end, 10);
    if (errno || end == v || *end || x < lo || x > hi)
        die("%s '%s': expected a whole number from %ld to %ld", opt, v, lo, hi);
    return x;
}

static void set_view(options *o, int view, const char *opt)
{
    if (o->view_set && o->view != view)
        die("%s: choose one view (%s was given already)", opt, lh_view_name(o->view));
    o->view = view;
    o->view_set = 1;
}

/* The objects --filter, --exclude, --suppressions and --alloc-fn fill. */
typedef struct {
    lh_select *sel;
    lh_suppressions *sup;
    lh_alloc_fns *alloc_fns;
} selection;

/* Parse argv into o, sl and files (64 at most); returns how many traces. */
static size_t parse_options(int argc, char **argv, options *o, selection *sl, const char **files)
{
    enum { O_AT = 256, O_DIFF, O_LEAKS, O_PEAK, O_STATS, O_GROWTH, O_TEMP, O_BY, O_TOP, O_FILTER,
           O_MIN, O_FORMAT, O_FOLDED, O_FLAME, O_PPROF, O_SPEED, O_HTML, O_VALUE, O_TEMP_MS,
           O_WINDOWS, O_VERSION, O_NO_CKPT, O_ALLOC_FN, O_EXCLUDE, O_SUPP, O_THREAD, O_TREE, O_INVERTED, O_HIST, O_FAIL_OVER };
    static const struct option longopts[] = {
        { "at", required_argument, 0, O_AT },
        { "diff", required_argument, 0, O_DIFF },
        { "leaks", no_argument, 0, O_LEAKS },
        { "peak", no_argument, 0, O_PEAK },
        { "stats", no_argument, 0, O_STATS },
        { "growth", no_argument, 0, O_GROWTH },
        { "temporary", no_argument, 0, O_TEMP },
        { "temporary-ms", required_argument, 0, O_TEMP_MS },
        { "by", required_argument, 0, O_BY },
        { "top", required_argument, 0, O_TOP },
        { "filter", required_argument, 0, O_FILTER },
        { "min-bytes", required_argument, 0, O_MIN },
        { "format", required_argument, 0, O_FORMAT },
        { "folded", optional_argument, 0, O_FOLDED },
        { "flamegraph", required_argument, 0, O_FLAME },
        { "pprof", required_argument, 0, O_PPROF },
        { "speedscope", required_argument, 0, O_SPEED },
        { "html", required_argument, 0, O_HTML },
        { "value", required_argument, 0, O_VALUE },
        { "windows", required_argument, 0, O_WINDOWS },
        { "no-checkpoints", no_argument, 0, O_NO_CKPT },
        { "alloc-fn", required_argument, 0, O_ALLOC_FN },
        { "exclude", required_argument, 0, O_EXCLUDE },
        { "suppressions", required_argument, 0, O_SUPP },
        { "thread", required_argument, 0, O_THREAD },
        { "tree", no_argument, 0, O_TREE },
        { "inverted", no_argument, 0, O_INVERTED },
        { "histogram", no_argument, 0, O_HIST },
        { "fail-over", required_argument, 0, O_FAIL_OVER },
        { "help", no_argument, 0, 'h' },
        { "version", no_argument, 0, O_VERSION },
        { 0, 0, 0, 0 },
    };
    size_t nfiles = 0;
    int c;
    o->select = sl->sel;
    opterr = 0;
    while ((c = getopt_long(argc, argv, "-h", longopts, NULL)) != -1) {
        switch (c) {
        case 1:
            if (nfiles == 64)
                die("too many trace files (64 at most)");
            files[nfiles++] = optarg;
            break;
        case O_AT: set_view(o, VIEW_AT, "--at"); o->at = optarg; break;
        case O_DIFF:
            set_view(o, VIEW_DIFF, "--diff");
            o->from = optarg;
            if (optind >= argc || argv[optind][0] == '-')
                die("--diff needs two moments: --diff A B (for example --diff mark:warm mark:loaded)");
            o->to = argv[optind++];
            break;
        case O_LEAKS: set_view(o, VIEW_LEAKS, "--leaks"); break;
        case O_PEAK: set_view(o, VIEW_PEAK, "--peak"); break;
        case O_STATS: set_view(o, VIEW_STATS, "--stats"); break;
        case O_GROWTH: set_view(o, VIEW_GROWTH, "--growth"); break;
        case O_TEMP: set_view(o, VIEW_TEMPORARY, "--temporary"); break;
        case O_TEMP_MS: o->temporary_ms = parse_long("--temporary-ms", optarg, 0, 3600000); break;
        case O_BY:
            o->by = lh_by_parse(optarg);
            if (o->by < 0)
                die("--by '%s': expected stack, function, line or module", optarg);
            break;
        case O_TOP: o->top = parse_long("--top", optarg, 0, 100000000); break;
        case O_FILTER:
            if (!*optarg)
                die("--filter '': give a text that a function, file or module name contains");
            if (lh_select_include(sl->sel, optarg) < 0)
                lh_nomem();
            break;
        case O_EXCLUDE:
            if (!*optarg)
                die("--exclude '': give a text that a function, file or module name contains");
            if (lh_select_exclude(sl->sel, optarg) < 0)
                lh_nomem();
            break;
        case O_SUPP: {
            char err[1200];
            if (lh_suppressions_load(sl->sup, optarg, err, sizeof(err)) < 0) {
                if (errno == ENOMEM)
                    lh_nomem();
                die("%s", err);
            }
            break;
        }
        case O_TREE: o->tree = 1; break;
        case O_INVERTED: o->inverted = 1; break;
        case O_HIST: o->histogram = 1; break;
        case O_FAIL_OVER: o->fail_over = parse_size("--fail-over", optarg); break;
        case O_THREAD:
            if (o->n_threads == sizeof(o->threads) / sizeof(o->threads[0]))
                die("--thread: 64 threads at most");
            /* "#1" as --stats writes it, or 1 */
            o->threads[o->n_threads++] = (uint64_t)parse_long("--thread", optarg + (*optarg == '#'), 0, 0x7fffffff);
            /* Checkpoints hold every thread's heap. */
            o->no_checkpoints = 1;
            break;
        case O_ALLOC_FN:
            if (lh_alloc_fns_add(sl->alloc_fns, optarg) < 0) {
                if (errno == ENOMEM)
                    lh_nomem();
                die("--alloc-fn '': give a function name or a glob such as 'my_*alloc'");
            }
            o->alloc_fns = sl->alloc_fns;
            break;
        case O_MIN: o->min_bytes = parse_size("--min-bytes", optarg); break;
        case O_FORMAT:
            if (!strcmp(optarg, "json")) o->json = 1;
            else if (!strcmp(optarg, "text")) o->json = 0;
            else die("--format '%s': expected text or json", optarg);
            break;
        case O_FOLDED:
            if (!optarg && optind < argc && (argv[optind][0] != '-' || !strcmp(argv[optind], "-"))
                && !strstr(argv[optind], ".lht"))
                optarg = argv[optind++];
            o->folded = optarg ? optarg : "-";
            break;
        case O_FLAME: o->flamegraph = optarg; break;
        case O_PPROF: o->pprof = optarg; break;
        case O_SPEED: o->speedscope = optarg; break;
        case O_HTML: o->html = optarg; break;
        case O_VALUE:
            o->value = lh_flame_value_parse(optarg);
            if (o->value < 0)
                die("--value '%s': expected live_bytes, live_count, alloc_bytes or alloc_count", optarg);
            break;
        case O_WINDOWS: o->windows = (int)parse_long("--windows", optarg, 2, 1000); break;
        case O_NO_CKPT: o->no_checkpoints = 1; break;
        case 'h': usage(stdout); exit(0);
        case O_VERSION: printf("%s " LH_VERSION_LINE "\n", prog); exit(0);
        default:
            if (optopt >= 256 || optopt == 0)
                die("unknown option '%s' (see --help)", argv[optind - 1]);
            die("option '%s' needs a value (see --help)", argv[optind - 1]);
        }
    }
    return nfiles;
}

/* Options that make no sense together, and which output an export on
 * stdout silences. */
static void check_options(options *o, size_t nfiles)
{
    if (o->inverted && !o->tree)
        die("--inverted: only with --tree (--tree --inverted: the sites, then their callers)");
    if (o->tree && (o->view == VIEW_STATS || o->view == VIEW_GROWTH))
        die("--tree: not for --%s (use it with --leaks, --at, --peak, --diff or --temporary)", lh_view_name(o->view));
    if (o->fail_over >= 0 && o->view == VIEW_GROWTH)
        die("--fail-over: not for --growth (use --leaks, --diff A B, --peak or --stats)");
    if (o->histogram && o->tree)
        die("--histogram and --tree: choose one");
    if (o->histogram && (o->view == VIEW_GROWTH || o->view == VIEW_TEMPORARY))
        die("--histogram: not for --%s (use it with --leaks, --stats, --at, --peak or --diff)", lh_view_name(o->view));
    if (o->histogram && o->view == VIEW_DIFF && nfiles > 1)
        die("--histogram --diff: one trace (the allocations made between two of its moments)");
    if (!nfiles)
        die("no trace given (usage: leakhunt-replay TRACE [view] [options]; see --help)");
    /* An export on stdout replaces the view's own output there (--stats
     * makes no flame exports, so only --html - silences it). */
    const char *to_stdout[] = { o->folded, o->flamegraph, o->pprof, o->speedscope, o->html };
    static const char *const export_opts[] = { "--folded", "--flamegraph", "--pprof", "--speedscope", "--html" };
    int n_stdout = 0, first_stdout = -1;
    for (int i = 0; i < 5; i++) {
        if (!to_stdout[i] || strcmp(to_stdout[i], "-"))
            continue;
        if (n_stdout++)
            die("%s - and %s -: only one export can go to stdout", export_opts[first_stdout], export_opts[i]);
        first_stdout = i;
        if (i == 4 || o->view != VIEW_STATS)
            o->quiet = 1;
    }
    if (o->view == VIEW_DIFF && nfiles > 2)
        die("--diff takes one trace (two moments) or two traces (baseline, then the other)");

}

/* One view per trace (or one of both for --diff), or their histograms. */
static void run_views(const options *o, lh_view_trace *ts, size_t nfiles)
{
    if (o->histogram) {
        for (size_t i = 0; i < nfiles; i++) {
            if (i && !o->json && !o->quiet)
                printf("\n");
            run_histogram(o, &ts[i]);
        }
    } else switch (o->view) {
    case VIEW_STATS: run_stats(o, ts, nfiles); break;
    case VIEW_DIFF: run_diff(o, ts, nfiles); break;
    default:
        for (size_t i = 0; i < nfiles; i++) {
            if (i && !o->json && !o->quiet)
                printf("\n");
            run_view(o, &ts[i]);
        }
    }
}

int main(int argc, char **argv)
{
    options o = { .view = VIEW_LEAKS, .by = LH_BY_LINE, .top = 10, .value = LH_VAL_LIVE_BYTES,
                  .temporary_ms = 1, .windows = 10, .fail_over = -1 };
    selection sl = { lh_select_new(), lh_suppressions_new(), lh_alloc_fns_new() };
    if (!sl.sel || !sl.sup || !sl.alloc_fns)
        lh_nomem();
    lh_select_suppressions(sl.sel, sl.sup);
    const char *files[64];
    opts = &o;
    size_t nfiles = parse_options(argc, argv, &o, &sl, files);
    check_options(&o, nfiles);

    vo = (lh_view_opts){ .view = o.view, .by = o.by, .value = o.value, .select = sl.sel, .alloc_fns = o.alloc_fns,
                         .threads = o.threads, .n_threads = o.n_threads, .windows = o.windows,
                         .temporary_ms = o.temporary_ms, .no_checkpoints = o.no_checkpoints, .tree = o.tree,
                         .exports = o.folded || o.flamegraph || o.pprof || o.speedscope,
                         .progress = isatty(2), .note = print_note };
    lh_view_trace *ts = lh_xcalloc(nfiles, sizeof(lh_view_trace));
    for (size_t i = 0; i < nfiles; i++) {
        char err[4200];
        if (lh_view_trace_open(&ts[i], files[i], err, sizeof(err)) < 0) {
            if (errno == ENOMEM)
                lh_nomem();
            die("%s", err);
        }
    }
    run_views(&o, ts, nfiles);
    if (o.html)
        export_html(&o, &ts[0]);
    int exit_code = 0;
    for (size_t i = 0; i < nfiles; i++) {
        exit_code |= ts[i].damaged;
        lh_view_trace_release(&ts[i], &vo);
    }
    free(ts);
    lh_select_free(sl.sel);
    lh_suppressions_free(sl.sup);
    lh_alloc_fns_free(sl.alloc_fns);
    fflush(stdout);
    /* The gate failed: 3 whatever else (a damaged trace's prefix is over
     * the limit already). */
    return over_limit ? 3 : exit_code;
}
