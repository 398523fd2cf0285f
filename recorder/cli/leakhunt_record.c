/*
 * leakhunt-record - run a program with libleakhunt.so preloaded.
 *
 * Options become LEAKHUNT_* environment variables (validated here, so a bad
 * value is named before the program starts). This process is also the
 * collector (collect.c): every traced process of the tree fills a ring in
 * a private session directory, and we write the traces from outside them.
 * At the end it lists them with a one-line summary each and exits with the
 * program's status; processes the program left running are recorded on in
 * the background until they end.
 */
#include <elf.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "lh_trace.h" /* the format version --version reports */
#include "lh_contract.h" /* the option limits the recorder checks too */
#include "lh_units.h"
#include "../ring.h"
#include "collect.h"
#include "record.h"
#include "session_dir.h"

static const char *prog = "leakhunt-record";

static void usage(FILE *f)
{
    fprintf(f,
        "usage: leakhunt-record [options] [--] PROGRAM [ARGS...]\n"
        "       leakhunt-record -p PID [options]\n"
        "\n"
        "Run PROGRAM and record every allocation and free (malloc family and\n"
        "anonymous mmap) with its stack, thread and time into a trace file per\n"
        "process. Exit status is PROGRAM's (128+N if killed by signal N).\n"
        "\n"
        "With -p, attach to the running process PID instead (through ptrace: same\n"
        "user or root) and record from now on; blocks allocated before are\n"
        "of unknown origin. Ctrl-C, --duration or 'leakhunt-mark PID --stop' ends\n"
        "the trace; the process keeps running, its hooks passing calls through.\n"
        "\n"
        "Options:\n"
        "  -o, --output PATH        trace path or template: %%p pid, %%e program name\n"
        "                           (default leakhunt.%%e.%%p.lht in the current directory)\n"
        "      --unwind MODE        libunwind (default, any code) or fp (frame pointers,\n"
        "                           faster, for code built with -fno-omit-frame-pointer)\n"
        "      --depth N            frames kept per stack, 1..1024 (default 64)\n"
        "      --rss-interval MS    RSS sample period in ms, 0 = off (default 100)\n"
        "      --flush-interval MS  write buffered events at least this often (default 200)\n"
        "      --no-mmap            do not record anonymous mmap/munmap/mremap\n"
        "      --no-follow          trace the first process only, not forked children\n"
        "      --python-allocator MODE  how a CPython's objects are recorded: hook\n"
        "                           (default, 3.11-3.13: its allocator's domains are\n"
        "                           wrapped, pymalloc keeps serving them, every object\n"
        "                           is recorded with its Python stack; also with -p),\n"
        "                           malloc (PYTHONMALLOC=malloc for a Python program,\n"
        "                           the default until now) or off (objects show as\n"
        "                           pymalloc's arenas only)\n"
        "      --keep-pymalloc      never set PYTHONMALLOC: pymalloc stays on (as with\n"
        "                           the default hook mode; not with malloc)\n"
        "      --python-stacks MODE for CPython 3.11-3.13, how Python frames join the\n"
        "                           native ones: inner (default: the native frames\n"
        "                           inside the innermost Python call, then the Python\n"
        "                           stack), full (every native frame, each interpreter\n"
        "                           frame replaced by its Python frames; slower) or off\n"
        "      --sample SIZE        production mode: record a Poisson sample of the\n"
        "                           allocations, one per SIZE bytes allocated on average\n"
        "                           (512K, 1M; blocks of SIZE or more always), and the\n"
        "                           frees of those only; replay estimates the totals\n"
        "  -p, --pid PID            attach to a running process (see above)\n"
        "      --duration TIME      with -p: stop after TIME (60s, 500ms, 2m; plain = s)\n"
        "  -q, --quiet              no summary at the end\n"
        "  -h, --help               this help\n"
        "      --version            print the version\n"
        "\n"
        "Markers: leakhunt-mark PID LABEL from another shell, or leakhunt_mark(\"label\")\n"
        "from <leakhunt.h> in the program. Then: leakhunt-replay TRACE --diff mark:A mark:B\n");
}

static void die_usage(const char *fmt, const char *arg)
{
    fprintf(stderr, "%s: ", prog);
    fprintf(stderr, fmt, arg);
    fprintf(stderr, "\nTry '%s --help'.\n", prog);
    exit(2);
}

static long int_option(const char *name, const char *v, long lo, long hi)
{
    char *end;
    errno = 0;
    long x = strtol(v, &end, 10);
    if (!strcmp(end, "ms"))
        end += 2;
    if (errno || end == v || *end || x < lo || x > hi) {
        fprintf(stderr, "%s: %s '%s': expected a whole number from %ld to %ld\n", prog, name, v, lo, hi);
        exit(2);
    }
    return x;
}

/* build/bin/../lib/libleakhunt.so, or PREFIX/bin/../lib/leakhunt/. */
static int find_library(char *out, size_t cap)
{
    char self[PATH_MAX];
    ssize_t n = readlink("/proc/self/exe", self, sizeof(self) - 1);
    if (n <= 0)
        return -1;
    self[n] = 0;
    char *slash = strrchr(self, '/');
    if (!slash)
        return -1;
    *slash = 0;
    const char *tries[] = { "/../lib/libleakhunt.so", "/../lib/leakhunt/libleakhunt.so" };
    for (size_t i = 0; i < 2; i++) {
        char path[PATH_MAX + 64];
        snprintf(path, sizeof(path), "%s%s", self, tries[i]);
        if (access(path, R_OK) == 0 && realpath(path, out) && strlen(out) < cap)
            return 0;
    }
    return -1;
}

/* PROGRAM as execvp would find it: a path as given, or the first
 * executable NAME in $PATH. */
int resolve_program(const char *name, char *out, size_t cap)
{
    if (strchr(name, '/')) {
        snprintf(out, cap, "%s", name);
        return access(out, X_OK);
    }
    const char *path = getenv("PATH");
    if (!path || !*path)
        path = "/usr/bin:/bin";
    while (*path) {
        const char *colon = strchr(path, ':');
        size_t len = colon ? (size_t)(colon - path) : strlen(path);
        snprintf(out, cap, "%.*s/%s", (int)len, len ? path : ".", name);
        if (access(out, X_OK) == 0)
            return 0;
        path += len + (colon != NULL);
    }
    return -1;
}

/* --- Python programs ---------------------------------------------------------- */

/* CPython serves small objects from its own arenas (pymalloc), which the
 * malloc hooks see only as mmaps with whatever stack first needed one. By
 * default the recorder wraps its allocator's domains (recorder/pyalloc.c),
 * so every object is recorded at its domain with its Python stack and
 * pymalloc stays on. --python-allocator malloc is the old way: with
 * PYTHONMALLOC=malloc every object is a malloc (slower, and the heap laid
 * out differently). */
enum { O_KEEP_PYMALLOC = 1000, O_PYTHON_ALLOCATOR };
static int keep_pymalloc, python_allocator_malloc;

static int python_name(const char *path)
{
    const char *base = strrchr(path, '/');
    return !strncmp(base ? base + 1 : path, "python", 6);
}

/* A python* executable, or a script whose #! line runs one. */
static int is_python_program(const char *exe)
{
    if (python_name(exe))
        return 1;
    char line[256];
    int fd = open(exe, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return 0;
    ssize_t n = read(fd, line, sizeof(line) - 1);
    close(fd);
    if (n < 3 || line[0] != '#' || line[1] != '!')
        return 0;
    line[n] = 0;
    line[strcspn(line, "\n")] = 0;
    char *interp = strtok(line + 2, " \t"), *arg = strtok(NULL, " \t");
    if (!interp)
        return 0;
    const char *b = strrchr(interp, '/');
    if (arg && !strcmp(b ? b + 1 : interp, "env"))
        interp = arg;
    return python_name(interp);
}

static void python_malloc(const char *exe)
{
    if (python_allocator_malloc && !getenv("PYTHONMALLOC") && is_python_program(exe))
        setenv("PYTHONMALLOC", "malloc", 1);
}

/* 1 if path is an ELF executable without an interpreter (static). */
static int is_static_elf(const char *path)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return 0;
    Elf64_Ehdr eh;
    int result = 0;
    if (read(fd, &eh, sizeof(eh)) == (ssize_t)sizeof(eh) && !memcmp(eh.e_ident, ELFMAG, SELFMAG)
        && eh.e_ident[EI_CLASS] == ELFCLASS64 && eh.e_phentsize == sizeof(Elf64_Phdr)) {
        int interp = 0;
        for (int i = 0; i < eh.e_phnum; i++) {
            Elf64_Phdr ph;
            if (pread(fd, &ph, sizeof(ph), (off_t)(eh.e_phoff + (uint64_t)i * sizeof(ph))) != (ssize_t)sizeof(ph))
                break;
            interp |= ph.p_type == PT_INTERP;
        }
        result = !interp;
    }
    close(fd);
    return result;
}

static volatile pid_t child_pid;

/* Forward signals sent to us by another process (kill, a supervisor).
 * Ctrl-C at a terminal reaches the program already: it is in our process
 * group, and forwarding would deliver it twice. */
static void forward(int sig, siginfo_t *si, void *uc)
{
    (void)uc;
    if (child_pid > 0 && si && si->si_code <= 0 && si->si_pid != child_pid)
        kill(child_pid, sig);
}

static void human(unsigned long long b, char *out, size_t cap)
{
    if (b >= 10ull << 20) snprintf(out, cap, "%.1f MiB", b / 1048576.0);
    else if (b >= 10ull << 10) snprintf(out, cap, "%.1f KiB", b / 1024.0);
    else snprintf(out, cap, "%llu bytes", b);
}

/* One line per trace; returns how many. main_pid's line says it is the
 * program that was started (the rest are its descendants). */
/* What became of a traced CPython's allocator (ring.h LH_PYALLOC_*), for
 * the summary; NULL when the process ran no CPython. */
static const char *python_allocator_note(uint32_t state)
{
    switch (state) {
    case LH_PYALLOC_PENDING: return "not hooked: the interpreter never reached a safe point (objects as arenas)";
    case LH_PYALLOC_HOOKED: return "through CPython's allocator hooks (pymalloc kept)";
    case LH_PYALLOC_RESTORED: return "through CPython's allocator hooks (pymalloc kept), then unhooked";
    case LH_PYALLOC_UNSUPPORTED: return "not hooked: a CPython outside 3.11-3.13 (native tracing)";
    case LH_PYALLOC_FREE_THREADED: return "not hooked: a free-threaded CPython (native tracing)";
    case LH_PYALLOC_MALLOC: return "as mallocs (PYTHONMALLOC=malloc)";
    case LH_PYALLOC_OFF: return "not hooked (--python-allocator off: objects as arenas)";
    default: return NULL;
    }
}

int lh_record_summary(lh_collector *c, int quiet, int main_pid)
{
    const lh_collect_trace *t;
    int n = lh_collect_traces(c, &t), last = -1;
    /* The program is the last image of the pid we started: a shim (pyenv,
     * a wrapper script) execs the real one in the same process. */
    for (int i = 0; i < n; i++)
        if (t[i].pid == main_pid && (last < 0 || t[i].order > t[last].order))
            last = i;
    uint64_t sample = 0;
    const char *sv = getenv("LEAKHUNT_SAMPLE");
    if (!quiet && sv && *sv && lh_parse_size(sv, &sample) == 0 && sample) {
        char every[32];
        human(sample, every, sizeof(every));
        fprintf(stderr, "leakhunt: sampled: about one allocation per %s allocated was recorded "
                "(replay estimates the totals)\n", every);
    }
    for (int i = 0; i < n && !quiet; i++) {
        char size[32];
        human(t[i].bytes, size, sizeof(size));
        const char *who = i == last ? ", the program" : "";
        if (t[i].failed)
            fprintf(stderr, "leakhunt: pid %d: %s (DAMAGED: a write failed; %s written%s)\n", t[i].pid, t[i].path,
                    size, who);
        else if (t[i].lost)
            fprintf(stderr, "leakhunt: pid %d: %s (%llu events, %s; %llu events LOST%s)\n", t[i].pid, t[i].path,
                    (unsigned long long)t[i].events, size, (unsigned long long)t[i].lost, who);
        else
            fprintf(stderr, "leakhunt: pid %d: %s (%llu events, %s%s)\n", t[i].pid, t[i].path,
                    (unsigned long long)t[i].events, size, who);
        const char *py = python_allocator_note(t[i].py_alloc);
        if (py)
            fprintf(stderr, "leakhunt: pid %d: python objects %s\n", t[i].pid, py);
    }
    return n;
}

/* The trace template, absolute: resolved once, here, not in each
 * process's own working directory. */
int lh_record_output(const char *output, char *out, size_t cap)
{
    if (!output)
        output = "leakhunt.%e.%p.lht";
    if (output[0] == '/')
        return snprintf(out, cap, "%s", output) < (int)cap ? 0 : -1;
    char cwd[PATH_MAX];
    if (!getcwd(cwd, sizeof(cwd)))
        return -1;
    return snprintf(out, cap, "%s/%s", cwd, output) < (int)cap ? 0 : -1;
}

int lh_record_env_int(const char *name, int def)
{
    const char *v = getenv(name);
    return v && *v ? atoi(v) : def;
}

lh_collector *lh_record_collector(uid_t ring_uid, const char *out_template, char *session, size_t cap)
{
    char why[PATH_MAX + 128];
    /* LEAKHUNT_TRACE_ENCODING: 1, the default, writes event batches as
     * format 1.3 did; 2 writes 1.4's packed columns (half the size, but
     * their replay is still 5-20% slower: FORMAT.md 9.1), the default for
     * a --sample recording (collect.c). */
    const char *enc = getenv("LEAKHUNT_TRACE_ENCODING");
    if (enc && *enc && strcmp(enc, "1") && strcmp(enc, "2")) {
        fprintf(stderr, "%s: LEAKHUNT_TRACE_ENCODING must be 1 (format 1.3's event batches, the default) or 2 "
                        "(1.4's packed columns, the default with --sample), not '%s'\n", prog, enc);
        return NULL;
    }
    if (lh_session_dir_create(ring_uid, session, cap, why, sizeof(why)) < 0) {
        fprintf(stderr, "%s: %s\n", prog, why);
        return NULL;
    }
    lh_collect_options co = {
        .session = session,
        .output = out_template,
        .flush_ms = lh_record_env_int("LEAKHUNT_FLUSH_INTERVAL", 200),
        .rss_interval_ms = lh_record_env_int("LEAKHUNT_RSS_INTERVAL", 100),
        .ring_uid = ring_uid,
        .batch_encoding = !enc || !*enc ? 0 : !strcmp(enc, "2") ? 2 : 1,
    };
    lh_collector *c = lh_collect_open(&co);
    if (!c)
        lh_session_dir_remove(session);
    return c;
}

/* After the program ended, the processes it left behind (daemons) are
 * still recorded: a child of ours carries on with the collector, in a
 * session of its own so the terminal's signals leave it alone, until the
 * last of them is gone. */
static void linger(lh_collector *c)
{
    pid_t pid = fork();
    if (pid != 0) {
        if (pid < 0)
            fprintf(stderr, "%s: cannot keep recording in the background (fork: %s); "
                            "the traces of processes still running end here\n", prog, strerror(errno));
        return;
    }
    setsid();
    uint64_t quiet_since = 0;
    for (;;) {
        lh_collect_step(c, 20);
        if (lh_collect_live(c) > 0) {
            quiet_since = 0;
            continue;
        }
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        uint64_t now = (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
        if (!quiet_since)
            quiet_since = now;
        else if (now - quiet_since > 500)
            break;
    }
    lh_collect_close(c);
    _exit(0);
}

/* The command line's own settings; the recorder's go to its LEAKHUNT_*
 * environment as they are parsed. */
typedef struct {
    const char *output;
    int quiet;
    long attach_pid, duration_ms;
} record_opts;

/* Parse the options (the program's arguments start at the returned index). */
static int parse_options(int argc, char **argv, record_opts *o)
{
    enum { O_UNWIND = 256, O_DEPTH, O_RSS, O_FLUSH, O_NO_MMAP, O_NO_FOLLOW, O_VERSION, O_DURATION,
           O_PYTHON_STACKS, O_SAMPLE };
    static const struct option longopts[] = {
        { "output", required_argument, 0, 'o' },
        { "unwind", required_argument, 0, O_UNWIND },
        { "depth", required_argument, 0, O_DEPTH },
        { "rss-interval", required_argument, 0, O_RSS },
        { "flush-interval", required_argument, 0, O_FLUSH },
        { "no-mmap", no_argument, 0, O_NO_MMAP },
        { "no-follow", no_argument, 0, O_NO_FOLLOW },
        { "keep-pymalloc", no_argument, 0, O_KEEP_PYMALLOC },
        { "python-allocator", required_argument, 0, O_PYTHON_ALLOCATOR },
        { "python-stacks", required_argument, 0, O_PYTHON_STACKS },
        { "quiet", no_argument, 0, 'q' },
        { "help", no_argument, 0, 'h' },
        { "version", no_argument, 0, O_VERSION },
        { "pid", required_argument, 0, 'p' },
        { "duration", required_argument, 0, O_DURATION },
        { "sample", required_argument, 0, O_SAMPLE },
        { 0, 0, 0, 0 },
    };
    int c;
    char num[32];

    opterr = 0;
    while ((c = getopt_long(argc, argv, "+o:qhp:", longopts, NULL)) != -1) {
        switch (c) {
        case 'o':
            if (!*optarg) die_usage("-o needs a path%s", "");
            o->output = optarg;
            break;
        case O_UNWIND:
            if (strcmp(optarg, "libunwind") && strcmp(optarg, "fp"))
                die_usage("--unwind '%s': expected libunwind or fp", optarg);
            setenv("LEAKHUNT_UNWIND", optarg, 1);
            break;
        case O_DEPTH:
            snprintf(num, sizeof(num), "%ld", int_option("--depth", optarg, 1, LH_DEPTH_MAX));
            setenv("LEAKHUNT_DEPTH", num, 1);
            break;
        case O_RSS:
            snprintf(num, sizeof(num), "%ld", int_option("--rss-interval", optarg, 0, LH_RSS_INTERVAL_MAX_MS));
            setenv("LEAKHUNT_RSS_INTERVAL", num, 1);
            break;
        case O_FLUSH:
            snprintf(num, sizeof(num), "%ld", int_option("--flush-interval", optarg, 1, LH_FLUSH_INTERVAL_MAX_MS));
            setenv("LEAKHUNT_FLUSH_INTERVAL", num, 1);
            break;
        case O_NO_MMAP: setenv("LEAKHUNT_MMAP", "0", 1); break;
        case O_NO_FOLLOW: setenv("LEAKHUNT_FOLLOW_FORK", "0", 1); break;
        case O_KEEP_PYMALLOC: keep_pymalloc = 1; break;
        case O_PYTHON_ALLOCATOR:
            if (strcmp(optarg, "hook") && strcmp(optarg, "malloc") && strcmp(optarg, "off"))
                die_usage("--python-allocator '%s': expected hook, malloc or off", optarg);
            python_allocator_malloc = !strcmp(optarg, "malloc");
            setenv("LEAKHUNT_PYTHON_ALLOCATOR", optarg, 1);
            break;
        case O_PYTHON_STACKS:
            if (strcmp(optarg, "inner") && strcmp(optarg, "full") && strcmp(optarg, "off"))
                die_usage("--python-stacks '%s': expected inner, full or off", optarg);
            setenv("LEAKHUNT_PYTHON", optarg, 1);
            break;
        case O_SAMPLE: {
            uint64_t bytes;
            if (lh_parse_size(optarg, &bytes) < 0 || bytes < 1 || bytes > LH_SAMPLE_MAX)
                die_usage("--sample '%s': expected a size from 1 to 1T such as 512K or 2M", optarg);
            snprintf(num, sizeof(num), "%llu", (unsigned long long)bytes);
            setenv("LEAKHUNT_SAMPLE", num, 1);
            break;
        }
        case 'q': o->quiet = 1; setenv("LEAKHUNT_QUIET", "1", 1); break;
        case 'h': usage(stdout); exit(0);
        case O_VERSION: printf("%s " LH_VERSION_LINE "\n", prog); exit(0);
        case 'p': {
            char *end;
            errno = 0;
            o->attach_pid = strtol(optarg, &end, 10);
            if (errno || *end || o->attach_pid <= 0 || o->attach_pid > 4194304)
                die_usage("-p '%s': expected a process id", optarg);
            break;
        }
        case O_DURATION: {
            char *end;
            errno = 0;
            double v = strtod(optarg, &end);
            double unit = !strcmp(end, "ms") ? 1 : !strcmp(end, "m") ? 60000 : !strcmp(end, "h") ? 3600000
                        : (!*end || !strcmp(end, "s")) ? 1000 : -1;
            if (errno || end == optarg || unit < 0 || v <= 0 || v * unit > 1e12)
                die_usage("--duration '%s': expected a time such as 60s, 500ms or 2m", optarg);
            o->duration_ms = (long)(v * unit) > 0 ? (long)(v * unit) : 1;
            break;
        }
        case '?':
        default:
            if (optopt && optopt < 256)
                die_usage("unknown or incomplete option '-%c'", (char[]){ (char)optopt, 0 });
            die_usage("unknown or incomplete option '%s'", argv[optind - 1]);
        }
    }
    if (keep_pymalloc && python_allocator_malloc)
        die_usage("--keep-pymalloc and --python-allocator malloc contradict each other%s", "");
    if (o->attach_pid && python_allocator_malloc)
        die_usage("--python-allocator malloc cannot apply to a running process (its allocator was "
                  "chosen when it started): use hook or off with -p%s", "");
    return optind;
}

/* The program's path, checked: 0, or the exit status (127: cannot run). */
static int check_program(const char *arg, char *exe, size_t cap)
{
    if (resolve_program(arg, exe, cap) < 0) {
        fprintf(stderr, "%s: cannot run %s: %s\n", prog, arg, strchr(arg, '/') ? strerror(errno) : "command not found");
        return 127;
    }
    struct stat est;
    if (stat(exe, &est) == 0 && (est.st_mode & (S_ISUID | S_ISGID)) && geteuid() != est.st_uid)
        fprintf(stderr, "%s: warning: %s is setuid/setgid; the dynamic loader ignores LD_PRELOAD "
                        "for it, so no trace will be written\n", prog, exe);
    if (is_static_elf(exe))
        fprintf(stderr, "%s: warning: %s is statically linked; the recorder cannot be "
                        "preloaded into it, so no trace will be written\n", prog, exe);
    return 0;
}

/* Fork and exec the program (argv), with the collector forwarding the
 * signals it is sent and woken by the program's end (*child_fd, its
 * pidfd, -1 if none: the caller closes it); its pid, or -1 (said). */
static pid_t start_program(lh_collector *coll, char **argv, int *child_fd)
{
    *child_fd = -1;
    pid_t pid = fork();
    if (pid < 0) {
        fprintf(stderr, "%s: fork: %s\n", prog, strerror(errno));
        return -1;
    }
    if (pid == 0) {
        signal(SIGURG, SIG_DFL);
        execvp(argv[0], argv);
        fprintf(stderr, "%s: cannot run %s: %s\n", prog, argv[0], strerror(errno));
        _exit(127);
    }
    child_pid = pid;
    /* The program's end wakes the collector at once (no pidfd before Linux
     * 5.3: then at its next tick). */
    *child_fd = (int)syscall(SYS_pidfd_open, pid, 0);
    if (*child_fd >= 0)
        lh_collect_wake_on(coll, *child_fd);
    /* We write the traces: a write past RLIMIT_FSIZE must fail with EFBIG
     * (a damaged trace, said so), not kill the collector. Set after the
     * fork, so the program keeps its own disposition. */
    signal(SIGXFSZ, SIG_IGN);
    struct sigaction sa;
    memset(&sa, 0, sizeof(sa));
    sa.sa_sigaction = forward;
    sa.sa_flags = SA_SIGINFO | SA_RESTART;
    sigemptyset(&sa.sa_mask);
    int sigs[] = { SIGINT, SIGTERM, SIGHUP, SIGQUIT, SIGUSR1, SIGUSR2 };
    for (size_t i = 0; i < sizeof(sigs) / sizeof(sigs[0]); i++)
        sigaction(sigs[i], &sa, NULL);
    return pid;
}

/* Collect while the program runs, then until its ring is drained; its
 * exit status goes into its trace and *status. 0, or -1 (said). */
static int collect_program(lh_collector *coll, pid_t pid, int *status)
{
    int exited = 0, after_exit = 0;
    *status = 0;
    for (;;) {
        lh_collect_step(coll, exited ? 1 : 20);
        if (!exited) {
            pid_t w = waitpid(pid, status, WNOHANG);
            if (w == pid) {
                exited = 1;
                lh_collect_exit_status(coll, pid, *status);
            } else if (w < 0 && errno != EINTR) {
                fprintf(stderr, "%s: waitpid: %s\n", prog, strerror(errno));
                return -1;
            }
            if (!exited)
                continue;
            /* Its pidfd usually woke the step that finished the trace:
             * then there is nothing to wait for. */
        }
        /* The program's ring is finished, or it never made one (a few
         * steps after its death, its file would have been seen). */
        int done = lh_collect_pid_done(coll, pid);
        if (done == 1 || (done == -1 && ++after_exit > 20))
            return 0;
    }
}

/* The traces' summary, the collector's cost for make bench, and the
 * processes the program left running (recorded on in the background). */
static void finish_recording(lh_collector *coll, int quiet, pid_t pid)
{
    int traces = lh_record_summary(coll, quiet, pid);
    if (getenv("LEAKHUNT_COLLECTOR_CPU")) {
        /* For make bench: what collecting cost, apart from the program. */
        struct rusage ru;
        getrusage(RUSAGE_SELF, &ru);
        const lh_collect_trace *t;
        unsigned long long events = 0;
        for (int i = 0, n = lh_collect_traces(coll, &t); i < n; i++)
            events += t[i].events;
        fprintf(stderr, "leakhunt: collector cpu %.3f s user %.3f s system, %llu events\n",
                (double)ru.ru_utime.tv_sec + ru.ru_utime.tv_usec / 1e6,
                (double)ru.ru_stime.tv_sec + ru.ru_stime.tv_usec / 1e6, events);
    }
    if (lh_collect_live(coll) > 0) {
        if (!quiet)
            fprintf(stderr, "leakhunt: %d process%s left by the program still recorded in the background\n",
                    lh_collect_live(coll), lh_collect_live(coll) == 1 ? "" : "es");
        linger(coll);
    } else {
        lh_collect_close(coll);
    }
    if (!traces)
        fprintf(stderr, "%s: no trace was written (statically linked or setuid program, "
                        "or the recorder could not start: see messages above)\n", prog);
}

int main(int argc, char **argv)
{
    record_opts o = { 0 };
    int first = parse_options(argc, argv, &o);
    if (o.attach_pid) {
        if (first < argc)
            die_usage("-p attaches to a running process; no PROGRAM with it (got '%s')", argv[first]);
        char attach_lib[PATH_MAX];
        if (find_library(attach_lib, sizeof(attach_lib)) < 0) {
            fprintf(stderr, "%s: cannot find libleakhunt.so next to this program "
                            "(looked in ../lib and ../lib/leakhunt)\n", prog);
            return 2;
        }
        return lh_record_attach(o.attach_pid, attach_lib, o.output, o.quiet, o.duration_ms);
    }
    if (o.duration_ms)
        die_usage("--duration goes with -p PID%s", "");
    if (first >= argc)
        die_usage("no program to run%s", "");

    char lib[PATH_MAX];
    if (find_library(lib, sizeof(lib)) < 0) {
        fprintf(stderr, "%s: cannot find libleakhunt.so next to this program "
                        "(looked in ../lib and ../lib/leakhunt)\n", prog);
        return 2;
    }
    char exe[PATH_MAX];
    int rc = check_program(argv[first], exe, sizeof(exe));
    if (rc)
        return rc;

    char out_template[PATH_MAX + 256];
    if (lh_record_output(o.output, out_template, sizeof(out_template)) < 0) {
        fprintf(stderr, "%s: -o: path too long, or the working directory is gone\n", prog);
        return 2;
    }
    if (o.output && !strchr(o.output, '%')) {
        /* An explicit file is replaced, as users expect of -o; templates
         * never clobber (the collector opens with O_EXCL). */
        struct stat st;
        if (lstat(out_template, &st) == 0 && S_ISREG(st.st_mode))
            unlink(out_template);
    }
    char session[PATH_MAX];
    lh_collector *coll = lh_record_collector(geteuid(), out_template, session, sizeof(session));
    if (!coll)
        return 2;
    setenv("LEAKHUNT_SESSION", session, 1);

    const char *old = getenv("LD_PRELOAD");
    char *preload = malloc(strlen(lib) + (old ? strlen(old) : 0) + 2);
    if (!preload)
        return 2;
    sprintf(preload, "%s%s%s", lib, old && *old ? ":" : "", old && *old ? old : "");
    setenv("LD_PRELOAD", preload, 1);
    python_malloc(exe);

    int child_fd, status;
    pid_t pid = start_program(coll, argv + first, &child_fd);
    if (pid < 0 || collect_program(coll, pid, &status) < 0)
        return 2;
    if (child_fd >= 0)
        close(child_fd);
    finish_recording(coll, o.quiet, pid);
    if (WIFSIGNALED(status))
        return 128 + WTERMSIG(status);
    return WEXITSTATUS(status);
}
