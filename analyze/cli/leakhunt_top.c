/*
 * leakhunt-top - watch the heap of a recording grow, while it runs.
 *
 *   leakhunt-top PID      the process leakhunt-record (or -p) records
 *   leakhunt-top TRACE    a trace being written (or a finished one)
 *
 * The program under observation is neither slowed nor touched: this reads
 * the trace file the collector writes anyway (analyze/top.h follows it,
 * each byte once, memory bounded by the live set), and asks the collector
 * two things over its control socket: once, where the trace of PID is
 * ("trace PID", ctl_client.h), and a marker when `m` is pressed (the
 * request leakhunt-mark sends). The collector's answer names the file's
 * device and inode; the path is opened without following a link or
 * blocking, and used only if it is that very regular file, owned by the
 * collector's user (SO_PEERCRED) and writable by nobody else.
 *
 * The screen is curses (top_screen.c); -b prints the same screens as
 * plain text (top_text.c), like top -b.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "ctl_client.h"
#include "lh_trace.h"
#include "top_cli.h"

static const char *prog = "leakhunt-top";

static void usage(FILE *f)
{
    fprintf(f,
        "usage: leakhunt-top [options] PID\n"
        "       leakhunt-top [options] TRACE\n"
        "\n"
        "Watch the heap of a recording while it runs: PID is a process that\n"
        "leakhunt-record records (started by it, or attached with -p); TRACE is a\n"
        "trace file being written (or a finished one). A full-screen view, refreshed\n"
        "every second: heap now, peak, RSS, events per second, time since the start,\n"
        "the heap over time, and the sites holding memory with their growth since\n"
        "the baseline (the start, then the last marker).\n"
        "\n"
        "Options:\n"
        "  -d SECONDS           refresh interval (default 1; 0.1 to 3600)\n"
        "  -b                   batch mode: screens as plain text on stdout, no escape\n"
        "                       codes, sizes in bytes (for logs and CI), like top -b\n"
        "  -n N                 stop after N screens (batch mode; default: until the\n"
        "                       recording ends)\n"
        "  --by line|function|stack|module   grouping to start with (default line)\n"
        "  --filter TEXT        only stacks with a function, file or module containing TEXT\n"
        "  --top N              rows of a batch screen (default 20, 0 = all)\n"
        "  -h, --help           this text\n"
        "  --version            print the version\n"
        "\n"
        "Keys: m drop a marker (as leakhunt-mark does; the baseline moves to it),\n"
        "b baseline = now, l f s M group by line, function, stack, module,\n"
        "/ filter, p pause, ? help, q quit. The recording goes on after q.\n"
        "\n"
        "A PID made of digits only is a process; name a trace called 123 as ./123.\n"
        "When the recording ends, leakhunt-top says so and shows the final table\n"
        "(batch mode stops there).\n"
        "\n"
        "Exit status: 0 quit, N screens shown, or the recording ended; 1 the trace\n"
        "is damaged or stopped without its end (what was written was shown);\n"
        "2 usage or input error (no such process, not recorded, not a trace);\n"
        "4 out of memory.\n");
}

static void die(const char *fmt, ...) __attribute__((noreturn, format(printf, 1, 2)));
static void die(const char *fmt, ...)
{
    va_list ap;
    fprintf(stderr, "%s: ", prog);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
    exit(2);
}

uint64_t top_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

static void sleep_ms(uint64_t ms)
{
    struct timespec ts = { (time_t)(ms / 1000), (long)(ms % 1000) * 1000000L };
    while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
        ;
}

/* --- finding and opening the trace --------------------------------------------- */

static int is_pid(const char *s)
{
    if (!*s || strlen(s) > 9)
        return 0;
    for (const char *p = s; *p; p++)
        if (*p < '0' || *p > '9')
            return 0;
    return 1;
}

static struct stat trace_st; /* the trace's file, as opened */

/* The trace the collector of pid writes: opened without following a link
 * or blocking, and only if it is the file the collector named. */
static int open_pid_trace(pid_t pid, char *path, size_t cap, uid_t *owner)
{
    char err[8192];
    lh_ctl_trace t;
    if (kill(pid, 0) < 0 && errno == ESRCH)
        die("no process %d", (int)pid);
    if (lh_ctl_trace_of(pid, &t, err, sizeof(err)) < 0)
        die("%s", err);
    snprintf(path, cap, "%s", t.path);
    int fd = open(t.path, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
    if (fd < 0)
        die("process %d: cannot open its trace %s: %s%s", (int)pid, t.path, strerror(errno),
            errno == EACCES ? " (it is another user's: run leakhunt-top as that user or root)" : "");
    if (fstat(fd, &trace_st) < 0)
        die("%s: %s", t.path, strerror(errno));
    if (!S_ISREG(trace_st.st_mode) || (unsigned long long)trace_st.st_dev != t.dev
        || (unsigned long long)trace_st.st_ino != t.ino)
        die("process %d: %s is not the file its collector writes (replaced by someone?): not read", (int)pid, t.path);
    if (trace_st.st_uid != t.owner || (trace_st.st_mode & 022))
        die("process %d: %s belongs to uid %d (mode %03o), not to its collector's uid %d alone: not read", (int)pid,
            t.path, (int)trace_st.st_uid, trace_st.st_mode & 0777, (int)t.owner);
    *owner = t.owner;
    return fd;
}

/* A trace named on the command line: as given (a link you chose is
 * followed), never waited on as a FIFO, a regular file only. */
static int open_trace_path(const char *path, uid_t *owner)
{
    int fd = open(path, O_RDONLY | O_NONBLOCK | O_CLOEXEC);
    if (fd < 0)
        die("%s: %s", path, strerror(errno));
    if (fstat(fd, &trace_st) < 0)
        die("%s: %s", path, strerror(errno));
    if (!S_ISREG(trace_st.st_mode))
        die("%s: not a regular file, so not a trace", path);
    *owner = trace_st.st_uid;
    return fd;
}

/* A trace is born with its 16-byte header: a file shorter than that may
 * be a collector's between its create and its first write. */
static void wait_for_header(int fd)
{
    struct stat st;
    for (int i = 0; i < 50; i++) {
        if (fstat(fd, &st) == 0 && st.st_size >= 16 /* FORMAT.md 1 */)
            return;
        sleep_ms(100);
    }
}

/* Whether the process the trace names records into this very file, so
 * that m marks it and its RSS is read from /proc: pid, or 0. */
static pid_t recorded_here(const top_view *v)
{
    const Lh__ProcessInfo *pi = lh_replay_process(lh_top_replay(v->top));
    lh_ctl_trace t;
    char err[8192];
    if (!pi || !pi->pid || lh_ctl_trace_of((pid_t)pi->pid, &t, err, sizeof(err)) < 0)
        return 0;
    return t.dev == (unsigned long long)trace_st.st_dev && t.ino == (unsigned long long)trace_st.st_ino
           ? (pid_t)pi->pid : 0;
}

/* --- refresh and keys ------------------------------------------------------------- */

void top_refresh(top_view *v, unsigned budget_ms)
{
    if (v->paused)
        return;
    int state = lh_top_poll(v->top, budget_ms);
    if (state == LH_E_NOMEM)
        top_nomem();
    v->state = state;
    const lh_counters *c = lh_top_counters(v->top);
    uint64_t now = top_now_ms();
    if (!v->rate_at_ms) { /* the first look: the average so far */
        v->rate = c->time_us ? (double)c->events * 1e6 / (double)c->time_us : 0;
        v->rate_events = c->events;
        v->rate_at_ms = now;
        v->last_grow_ms = now;
    } else if (now - v->rate_at_ms >= 250 && lh_top_caught_up(v->top)) {
        v->rate = (double)(c->events - v->rate_events) * 1000.0 / (double)(now - v->rate_at_ms);
        v->rate_events = c->events;
        v->rate_at_ms = now;
    }
    if (v->state != LH_TOP_LIVE) {
        v->rate = 0;
        return;
    }
    /* A process gone with its trace still short of its end: the collector
     * died too (the footer comes within milliseconds of an exit). */
    uint64_t size = lh_replay_file_size(lh_top_replay(v->top));
    if (c->events != v->last_events || size != v->last_size) {
        v->last_grow_ms = now;
        v->last_events = c->events;
        v->last_size = size;
    }
    if (v->pid && lh_top_caught_up(v->top) && kill(v->pid, 0) < 0 && errno == ESRCH && now - v->last_grow_ms > 3000)
        v->stalled = 1;
}

void top_mark(top_view *v)
{
    char err[8192], label[32];
    if (v->state != LH_TOP_LIVE || v->stalled) {
        snprintf(v->message, sizeof(v->message), "m: the recording has ended; no marker can be added");
        return;
    }
    if (!v->pid) {
        snprintf(v->message, sizeof(v->message), "m: no collector here records the process of this trace");
        return;
    }
    snprintf(label, sizeof(label), "top%u", v->marks_made + 1);
    if (lh_ctl_mark(v->pid, label, err, sizeof(err)) < 0) {
        snprintf(v->message, sizeof(v->message), "m: %.480s", err);
        return;
    }
    v->marks_made++;
    snprintf(v->message, sizeof(v->message), "marker %s is in the trace (leakhunt-replay TRACE --diff mark:%s end)",
             label, label);
}

/* --- batch mode ---------------------------------------------------------------------- */

static int run_batch(top_view *v, long screens)
{
    for (long i = 0;; i++) {
        uint64_t start = top_now_ms();
        top_refresh(v, 0);
        top_line *l;
        size_t n = top_compose(v, 0, 0, 1, 0, &l);
        if (i)
            putchar('\n');
        for (size_t k = 0; k < n; k++)
            printf("%s\n", l[k].text);
        free(l);
        fflush(stdout);
        v->message[0] = 0;
        if (v->state != LH_TOP_LIVE || v->stalled || (screens && i + 1 >= screens))
            break;
        uint64_t spent = top_now_ms() - start, want = (uint64_t)(v->delay * 1000);
        sleep_ms(spent < want ? want - spent : 0);
    }
    if (ferror(stdout))
        die("cannot write the screens to stdout");
    return v->state == LH_TOP_DAMAGED || v->stalled ? 1 : 0;
}

/* --- options ---------------------------------------------------------------------- */

static long parse_long(const char *opt, const char *s, long lo, long hi)
{
    char *end;
    errno = 0;
    long x = strtol(s, &end, 10);
    if (errno || end == s || *end || x < lo || x > hi)
        die("%s '%s': expected a whole number from %ld to %ld", opt, s, lo, hi);
    return x;
}

int main(int argc, char **argv)
{
    enum { O_BY = 256, O_FILTER, O_TOP, O_VERSION };
    static const struct option longopts[] = {
        { "by", required_argument, 0, O_BY },
        { "filter", required_argument, 0, O_FILTER },
        { "top", required_argument, 0, O_TOP },
        { "help", no_argument, 0, 'h' },
        { "version", no_argument, 0, O_VERSION },
        { 0, 0, 0, 0 },
    };
    top_view v = { .by = LH_BY_LINE, .rows = 20, .delay = 1.0 };
    int batch = 0;
    long screens = 0;
    int c;
    opterr = 0;
    while ((c = getopt_long(argc, argv, "+bn:d:h", longopts, NULL)) != -1) {
        switch (c) {
        case 'b': batch = 1; break;
        case 'n': screens = parse_long("-n", optarg, 1, 1000000000); break;
        case 'd': {
            char *end;
            errno = 0;
            v.delay = strtod(optarg, &end);
            if (errno || end == optarg || *end || !(v.delay >= 0.1 && v.delay <= 3600))
                die("-d '%s': expected seconds from 0.1 to 3600, such as 1 or 0.5", optarg);
            break;
        }
        case O_BY:
            v.by = lh_by_parse(optarg);
            if (v.by < 0)
                die("--by '%s': expected stack, function, line or module", optarg);
            break;
        case O_FILTER: snprintf(v.filter, sizeof(v.filter), "%s", optarg); break;
        case O_TOP: v.rows = parse_long("--top", optarg, 0, 100000000); break;
        case 'h': usage(stdout); return 0;
        case O_VERSION: printf("%s " LH_VERSION_LINE "\n", prog); return 0;
        default:
            if (optopt == 'n' || optopt == 'd')
                die("option '-%c' needs a value (see --help)", optopt);
            if (optopt && optopt < 256)
                die("unknown option '-%c' (see --help)", optopt);
            die("unknown option '%s' (see --help)", argv[optind - 1]);
        }
    }
    if (optind >= argc)
        die("no process or trace given (usage: leakhunt-top PID|TRACE; see --help)");
    if (optind + 1 < argc)
        die("one process or trace at a time ('%s' is one too many)", argv[optind + 1]);
    if (screens && !batch)
        die("-n counts the screens of batch mode: use it with -b");
    if (!batch && (!isatty(STDIN_FILENO) || !isatty(STDOUT_FILENO)))
        die("the screen needs a terminal: for text on a pipe or in a log, use -b (batch mode)");

    const char *arg = argv[optind];
    char path[4096];
    uid_t owner;
    int fd;
    if (is_pid(arg)) {
        v.pid = (pid_t)parse_long("PID", arg, 1, 4194304);
        v.pid_mode = 1;
        fd = open_pid_trace(v.pid, path, sizeof(path), &owner);
    } else {
        snprintf(path, sizeof(path), "%s", arg);
        fd = open_trace_path(path, &owner);
    }
    v.name = path;
    wait_for_header(fd);
    char err[4600];
    v.top = lh_top_open(fd, path, (uint32_t)owner, err, sizeof(err));
    if (!v.top)
        die("%s", err);
    top_refresh(&v, batch ? 0 : 300);
    if (!v.pid_mode && v.state == LH_TOP_LIVE)
        v.pid = recorded_here(&v);

    int rc = batch ? run_batch(&v, screens) : top_screen_run(&v);
    lh_top_free(v.top);
    return rc;
}
