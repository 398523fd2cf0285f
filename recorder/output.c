/*
 * output.c - the writer thread: turns the threads' buffers into a trace.
 *
 * Every flush interval (and at exit) one round:
 *   1. picks a cut-off W: now, or earlier if a realloc/mremap in flight
 *      stamped its free half before W;
 *   2. steals every thread's buffered events (each under that thread's lock,
 *      which the thread held while stamping, so every event stamped before
 *      W is in hand);
 *   3. writes new modules, stack nodes and threads, then the events stamped
 *      before W merged by stamp (ties: frees first) with the markers in
 *      place; events at or after W go back for the next round;
 *   4. adds an RSS sample and, if events were lost, a Lost chunk.
 * The trace therefore holds every event up to the last round, and a killed
 * process loses at most one flush interval.
 *
 * Markers from leakhunt-mark arrive on a FIFO, /tmp/.leakhunt-ctl.<pid>, as
 * "<CLOCK_MONOTONIC ns> <label>\n" lines, stamped by leakhunt-mark itself.
 * The line "!stop" (leakhunt-mark PID --stop) ends the trace as an exit
 * would, and the program runs on with the hooks passing through.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <link.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <signal.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "attach.h"
#include "rec.h"

#define OUT_BATCH 65536
#define MAX_PENDING_MARKS 256

typedef struct {
    uint64_t ns;
    char *label;
} pending_mark;

static pthread_mutex_t out_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t out_wake;
static pthread_t writer_tid;
static int writer_running, stopping, finished;

static lh_fd trace = { -1, 0, 0 }; /* the trace file (fdcheck.c) */
static lh_writer *writer;
static int write_errno;
/* When the last round finished (CLOCK_MONOTONIC ns). */
static uint64_t last_round_ns;
static int out_failed;        /* a write failed: the trace ends here */
static uint64_t events_written;
static char trace_path[4096];
static pending_mark marks[MAX_PENDING_MARKS];
static int n_marks;

/* t0: the trace's time 0, as a stamp and in ns; last_cut: stamp up to
 * which events are out; last_us: time of the last event written. */
static uint64_t t0_ns, last_cut_ns, last_rss_ns, lost_written, last_us;
static uint32_t parent_trace_pid;
static unsigned long long mod_adds, mod_subs;

static pthread_mutex_t mod_lock = PTHREAD_MUTEX_INITIALIZER;
static Lh__ModuleMap *queued_maps[16];
static int n_queued_maps;

static lh_event *batch;
static size_t batch_n;

static pid_t trace_pid;


/* A vfork child shares our memory but not our pid: it must leave the
 * parent's trace alone (it is about to exec or _exit). */
int lh_output_owned_by_caller(void) { return getpid() == trace_pid; }

/* Trace time of a stamp; never before what was written already, so a
 * refined tick ratio cannot make time run backwards. */
static uint64_t to_us(uint64_t stamp)
{
    uint64_t ns = lh_stamp_to_ns(stamp);
    uint64_t us = ns > t0_ns ? (ns - t0_ns) / 1000 : 0;
    if (us < last_us)
        us = last_us;
    last_us = us;
    return us;
}

/* --- writing ---------------------------------------------------------------- */

/* A write past RLIMIT_FSIZE raises SIGXFSZ, which would kill the program
 * (the final flush runs on its threads): held off here, then taken back. */
static ssize_t write_no_sigxfsz(int fd, const void *p, size_t len)
{
    sigset_t xfsz, old;
    sigemptyset(&xfsz);
    sigaddset(&xfsz, SIGXFSZ);
    pthread_sigmask(SIG_BLOCK, &xfsz, &old);
    ssize_t n = write(fd, p, len);
    int e = errno;
    if (n < 0 && e == EFBIG && !sigismember(&old, SIGXFSZ)) {
        struct timespec zero = { 0, 0 };
        sigtimedwait(&xfsz, NULL, &zero);
    }
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    errno = e;
    return n;
}

static int write_all_fd(void *ctx, const void *buf, size_t len)
{
    const char *p = buf;
    (void)ctx;
    if (!lh_fd_ours(&trace)) {
        write_errno = EBADF; /* "Bad file descriptor": closed or replaced */
        return -EBADF;
    }
    while (len) {
        ssize_t n = write_no_sigxfsz(trace.fd, p, len);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            write_errno = errno;
            return -errno;
        }
        if (n == 0) {
            write_errno = ENOSPC;
            return -ENOSPC;
        }
        p += n;
        len -= (size_t)n;
    }
    return 0;
}

static int check(int rc)
{
    if (rc < 0 && !out_failed) {
        out_failed = 1;
        /* Keep whole chunks only, so the trace stays verifiable. */
        if (writer && lh_fd_ours(&trace) && ftruncate(trace.fd, (off_t)lh_writer_offset(writer)) < 0)
            write_errno = write_errno ? write_errno : errno;
        __atomic_store_n(&lh_state, 2, __ATOMIC_RELEASE);
        lh_message("cannot write %s: %s; recording stopped, the program continues", trace_path,
                   rc == LH_E_IO || rc == LH_E_CLOSED ? strerror(write_errno ? write_errno : EIO)
                                                      : lh_rc_name(rc));
    }
    return rc;
}

static void flush_batch(void)
{
    if (batch_n && writer && !out_failed)
        events_written += batch_n, check(lh_writer_events(writer, batch, batch_n));
    batch_n = 0;
}

/* --- modules ----------------------------------------------------------------- */

typedef struct { unsigned long long adds, subs; } mod_counts;

static int read_counts(struct dl_phdr_info *info, size_t size, void *arg)
{
    mod_counts *c = arg;
    if (size >= offsetof(struct dl_phdr_info, dlpi_subs) + sizeof(info->dlpi_subs)) {
        c->adds = info->dlpi_adds;
        c->subs = info->dlpi_subs;
    }
    return 1;
}

/* A fresh snapshot if the loader's counters moved since the last one. */
static Lh__ModuleMap *snapshot_if_changed(int force)
{
    mod_counts c = { 0, 0 };
    dl_iterate_phdr(read_counts, &c);
    if (!force && c.adds == mod_adds && c.subs == mod_subs)
        return NULL;
    mod_adds = c.adds;
    mod_subs = c.subs;
    return lh_modules_snapshot(to_us(lh_stamp()));
}

void lh_output_modules_changed(void)
{
    pthread_mutex_lock(&mod_lock);
    Lh__ModuleMap *m = n_queued_maps < 16 ? snapshot_if_changed(0) : NULL;
    if (m)
        queued_maps[n_queued_maps++] = m;
    pthread_mutex_unlock(&mod_lock);
}

static void write_modules(int force)
{
    pthread_mutex_lock(&mod_lock);
    for (int i = 0; i < n_queued_maps; i++) {
        check(lh_writer_put(writer, LH_CHUNK_MODULES, &queued_maps[i]->base,
                            queued_maps[i]->time_us, queued_maps[i]->time_us));
        lh_modules_free(queued_maps[i]);
    }
    n_queued_maps = 0;
    Lh__ModuleMap *m = snapshot_if_changed(force);
    pthread_mutex_unlock(&mod_lock);
    if (m) {
        check(lh_writer_put(writer, LH_CHUNK_MODULES, &m->base, m->time_us, m->time_us));
        lh_modules_free(m);
    }
}

/* --- markers from leakhunt-mark ------------------------------------------- */

static int stop_requested;

/* A marker request from leakhunt-mark: held until its round. */
static void take_mark(uint64_t ns, const char *label)
{
    if (n_marks == MAX_PENDING_MARKS)
        return;
    size_t n = strlen(label);
    char *copy = lh_real_malloc(n + 1);
    if (!copy)
        return;
    memcpy(copy, label, n + 1);
    marks[n_marks].ns = lh_ns_to_stamp(ns);
    marks[n_marks].label = copy;
    n_marks++;
}

static void write_marker(uint64_t ns, const char *label, uint32_t thread)
{
    Lh__Marker m;
    lh__marker__init(&m);
    m.has_time_us = m.has_thread = 1;
    m.time_us = to_us(ns);
    m.label = (char *)label;
    m.thread = thread;
    flush_batch();
    check(lh_writer_put(writer, LH_CHUNK_MARKER, &m.base, m.time_us, m.time_us));
}

/* --- one round ------------------------------------------------------------------ */

typedef struct {
    lh_tbuf *tb;
    lh_seg *head;      /* stolen chain */
    lh_seg *seg;       /* cursor */
    size_t pos;
} run;

static inline int run_valid(const run *r) { return r->seg && r->pos < r->seg->n; }
static inline const lh_raw *run_ev(const run *r) { return &r->seg->ev[r->pos]; }

static void run_advance(run *r)
{
    if (++r->pos == r->seg->n) {
        r->seg = r->seg->next;
        r->pos = 0;
        while (r->seg && r->seg->n == 0)
            r->seg = r->seg->next;
    }
}

/* Merge order: stamp, then releases before allocations. */
static inline uint64_t ev_key(const lh_raw *e)
{
    int release = e->kind == LH_RAW_FREE || e->kind == LH_RAW_MUNMAP;
    return e->ns * 2 + !release;
}

static void heap_down(run **h, size_t n, size_t i)
{
    for (;;) {
        size_t l = 2 * i + 1, m = i;
        if (l < n && ev_key(run_ev(h[l])) < ev_key(run_ev(h[m]))) m = l;
        if (l + 1 < n && ev_key(run_ev(h[l + 1])) < ev_key(run_ev(h[m]))) m = l + 1;
        if (m == i) return;
        run *t = h[i]; h[i] = h[m]; h[m] = t;
        i = m;
    }
}

static void emit(const lh_raw *e, uint32_t thread)
{
    if (e->kind == LH_RAW_MARK) {
        char *label = (char *)(uintptr_t)e->addr;
        if (writer && !out_failed)
            write_marker(e->ns, label, thread);
        lh_real_free(label);
        return;
    }
    if (!writer || out_failed)
        return;
    lh_event *o = &batch[batch_n++];
    o->time_us = to_us(e->ns);
    o->addr = e->addr;
    o->old_addr = e->kind == LH_RAW_REALLOC ? e->old_addr : 0;
    o->size = e->kind == LH_RAW_FREE ? 0 : e->size;
    o->stack = e->stack;
    o->thread = thread;
    o->kind = e->kind;
    if (batch_n == OUT_BATCH)
        flush_batch();
}

static void write_thread_info(lh_tbuf *tb)
{
    char path[64], name[64] = "";
    snprintf(path, sizeof(path), "/proc/self/task/%u/comm", tb->tid);
    ssize_t n = lh_read_small(path, name, sizeof(name));
    if (n > 0 && name[n - 1] == '\n')
        name[n - 1] = 0;
    Lh__ThreadInfo ti;
    lh__thread_info__init(&ti);
    ti.has_index = ti.has_tid = ti.has_time_us = 1;
    ti.index = tb->index;
    ti.tid = tb->tid;
    ti.name = name;
    ti.time_us = to_us(last_cut_ns);
    check(lh_writer_put(writer, LH_CHUNK_THREAD, &ti.base, ti.time_us, ti.time_us));
}

static void write_rss(uint64_t now)
{
    char buf[128];
    if (lh_read_small("/proc/self/statm", buf, sizeof(buf)) <= 0)
        return;
    unsigned long long size, resident;
    if (sscanf(buf, "%llu %llu", &size, &resident) != 2)
        return;
    Lh__RssSample s;
    lh__rss_sample__init(&s);
    s.has_time_us = s.has_rss_bytes = 1;
    s.time_us = to_us(lh_ns_to_stamp(now));
    s.rss_bytes = resident * (unsigned long long)sysconf(_SC_PAGESIZE);
    check(lh_writer_put(writer, LH_CHUNK_RSS, &s.base, s.time_us, s.time_us));
}

/* Put events at or after the cut back in front of the thread's chain. */
static void requeue(run *r)
{
    size_t left = 0;
    for (lh_seg *s = r->seg; s; s = s->next)
        left += s->n - (s == r->seg ? r->pos : 0);
    if (left) {
        lh_seg *keep = lh_seg_new(left);
        if (keep) {
            for (lh_seg *s = r->seg; s; s = s->next)
                for (size_t i = (s == r->seg ? r->pos : 0); i < s->n; i++)
                    keep->ev[keep->n++] = s->ev[i];
            lh_tb_lock(r->tb);
            keep->next = r->tb->head;
            r->tb->head = keep;
            if (!r->tb->tail)
                r->tb->tail = keep;
            r->tb->queued += left;
            lh_tb_unlock(r->tb);
        } else {
            __atomic_add_fetch(&lh_lost_events, left, __ATOMIC_RELAXED);
        }
    }
    for (lh_seg *s = r->head; s;) {
        lh_seg *n = s->next;
        lh_seg_free(s);
        s = n;
    }
}

/* One round; out_lock held. final: take everything, whatever its stamp. */
static void round_locked(int final)
{
    enum { MAX_RUNS = 4096 };
    static run runs[MAX_RUNS];
    static run *heap[MAX_RUNS + 1];
    size_t n_runs = 0;

    lh_control_poll(take_mark, &stop_requested);
    lh_clock_refine();
    uint64_t cut = final ? UINT64_MAX : lh_stamp();

    lh_tbuf_lock_registry();
    if (!final) {
        for (lh_tbuf *tb = lh_tbuf_first(); tb; tb = tb->next) {
            lh_tb_lock(tb);
            if (tb->inflight_ns && tb->inflight_ns < cut)
                cut = tb->inflight_ns;
            lh_tb_unlock(tb);
        }
    }
    for (lh_tbuf *tb = lh_tbuf_first(); tb && n_runs < MAX_RUNS; tb = tb->next) {
        lh_tb_lock(tb);
        if (tb->head) {
            run *r = &runs[n_runs++];
            r->tb = tb;
            r->head = r->seg = tb->head;
            r->pos = 0;
            tb->head = tb->tail = NULL;
            tb->queued = 0;
        }
        lh_tb_unlock(tb);
    }
    lh_tbuf_unlock_registry();

    if (writer && !out_failed) {
        /* Everything the stolen events refer to goes first. */
        write_modules(0);
        Lh__PyFrames *py = lh_python_take_new(); /* before the nodes naming them */
        if (py) {
            uint64_t t = to_us(last_cut_ns);
            check(lh_writer_put(writer, LH_CHUNK_PYFRAMES, &py->base, t, t));
            lh_python_frames_free(py);
        }
        Lh__StackNodes *nodes = lh_stack_take_new();
        if (nodes) {
            uint64_t t = to_us(last_cut_ns);
            check(lh_writer_put(writer, LH_CHUNK_STACKS, &nodes->base, t, t));
            lh_stack_nodes_free(nodes);
        }
        for (size_t i = 0; i < n_runs; i++) {
            if (!runs[i].tb->announced) {
                write_thread_info(runs[i].tb);
                runs[i].tb->announced = 1;
            }
        }
    }

    size_t hn = 0;
    for (size_t i = 0; i < n_runs; i++) {
        while (runs[i].seg && runs[i].seg->n == 0)
            runs[i].seg = runs[i].seg->next;
        if (run_valid(&runs[i]) && run_ev(&runs[i])->ns < cut)
            heap[hn++] = &runs[i];
    }
    for (size_t i = hn / 2; i-- > 0;)
        heap_down(heap, hn, i);

    /* Marks from leakhunt-mark, in stamp order, never before what is out. */
    pending_mark *mk = marks;
    int mk_n = 0;
    for (int i = 1; i < n_marks; i++)
        for (int j = i; j > 0 && marks[j - 1].ns > marks[j].ns; j--) {
            pending_mark t = marks[j]; marks[j] = marks[j - 1]; marks[j - 1] = t;
        }
    while (mk_n < n_marks && mk[mk_n].ns < cut)
        mk_n++;
    int mk_i = 0;

    while (hn) {
        run *r = heap[0];
        const lh_raw *e = run_ev(r);
        while (mk_i < mk_n && mk[mk_i].ns <= e->ns) {
            uint64_t ns = mk[mk_i].ns < last_cut_ns ? last_cut_ns : mk[mk_i].ns;
            if (writer && !out_failed)
                write_marker(ns, mk[mk_i].label, 0);
            mk_i++;
        }
        emit(e, r->tb->index);
        run_advance(r);
        if (!run_valid(r) || run_ev(r)->ns >= cut)
            heap[0] = heap[--hn];
        heap_down(heap, hn, 0);
    }
    for (; mk_i < mk_n; mk_i++) {
        uint64_t ns = mk[mk_i].ns < last_cut_ns ? last_cut_ns : mk[mk_i].ns;
        if (writer && !out_failed)
            write_marker(ns, mk[mk_i].label, 0);
    }
    for (int i = 0; i < mk_n; i++)
        lh_real_free(marks[i].label);
    memmove(marks, marks + mk_n, (size_t)(n_marks - mk_n) * sizeof(*marks));
    n_marks -= mk_n;
    flush_batch();

    for (size_t i = 0; i < n_runs; i++)
        requeue(&runs[i]);
    if (cut != UINT64_MAX && cut > last_cut_ns)
        last_cut_ns = cut;

    uint64_t now = lh_mono_ns();
    if (writer && !out_failed) {
        if (lh_cfg.rss_interval_ms && (final || now - last_rss_ns >= (uint64_t)lh_cfg.rss_interval_ms * 1000000u)) {
            write_rss(now);
            last_rss_ns = now;
        }
        uint64_t lost = __atomic_load_n(&lh_lost_events, __ATOMIC_RELAXED);
        if (lost != lost_written) {
            Lh__Lost l;
            lh__lost__init(&l);
            l.has_time_us = l.has_count = 1;
            l.time_us = to_us(last_cut_ns);
            l.count = lost;
            l.reason = "recorder out of memory for event buffers";
            check(lh_writer_put(writer, LH_CHUNK_LOST, &l.base, l.time_us, l.time_us));
            lost_written = lost;
        }
    }
    lh_tbuf_lock_registry();
    lh_tbuf_reclaim_exited();
    lh_tbuf_unlock_registry();
    __atomic_store_n(&last_round_ns, lh_mono_ns(), __ATOMIC_RELAXED);
}

/* The writer is more than two flush intervals late: starved of CPU on a
 * busy machine. Then a thread whose buffer is filling does a round itself,
 * so a SIGKILL still loses little and memory stays bounded; the program
 * slows down instead. */
int lh_output_overdue(void)
{
    uint64_t last = __atomic_load_n(&last_round_ns, __ATOMIC_RELAXED);
    return writer_running && last && lh_mono_ns() - last > 2 * (uint64_t)lh_cfg.flush_ms * 1000000u;
}

void lh_output_help(void)
{
    if (pthread_mutex_trylock(&out_lock) != 0)
        return; /* the writer (or another helper) is at it */
    if (!stopping && !finished && writer && !out_failed && lh_output_overdue())
        round_locked(0);
    pthread_mutex_unlock(&out_lock);
}

void lh_output_kick(void)
{
    /* No lock: a wake-up lost to a race costs one flush interval, and
     * taking out_lock here would make the thread wait for a whole round. */
    pthread_cond_signal(&out_wake);
}

static void *writer_main(void *arg)
{
    (void)arg;
    lh_guard = 1;
    /* So top, perf and gdb show what this thread is. */
    prctl(PR_SET_NAME, "leakhunt-writer", 0, 0, 0);
    pthread_mutex_lock(&out_lock);
    while (!stopping) {
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        uint64_t ns = (uint64_t)ts.tv_nsec + (uint64_t)lh_cfg.flush_ms * 1000000u;
        ts.tv_sec += (time_t)(ns / 1000000000u);
        ts.tv_nsec = (long)(ns % 1000000000u);
        pthread_cond_timedwait(&out_wake, &out_lock, &ts);
        if (stopping)
            break;
        lh_attach_tick();
        round_locked(0);
        if (out_failed || stop_requested)
            break;
    }
    writer_running = 0;
    pthread_mutex_unlock(&out_lock);
    if (stop_requested) {
        lh_output_finish(-1);
        lh_attach_stopped();
    }
    return NULL;
}

/* --- opening the trace --------------------------------------------------------- */

static const char *exe_name(char *buf, size_t cap)
{
    ssize_t n = readlink("/proc/self/exe", buf, cap - 1);
    buf[n > 0 ? n : 0] = 0;
    const char *slash = strrchr(buf, '/');
    return slash ? slash + 1 : buf;
}

static int expand_template(char *out, size_t cap)
{
    char exe[4096];
    const char *name = exe_name(exe, sizeof(exe));
    size_t o = 0;
    for (const char *p = lh_cfg.output; *p; p++) {
        char tmp[32];
        const char *add = tmp;
        if (*p == '%' && p[1] == 'p') { snprintf(tmp, sizeof(tmp), "%d", (int)getpid()); p++; }
        else if (*p == '%' && p[1] == 'e') { add = name; p++; }
        else if (*p == '%' && p[1] == '%') { tmp[0] = '%'; tmp[1] = 0; p++; }
        else { tmp[0] = *p; tmp[1] = 0; }
        size_t n = strlen(add);
        if (o + n >= cap)
            return -1;
        memcpy(out + o, add, n);
        o += n;
    }
    out[o] = 0;
    return 0;
}

/* Never overwrite: a process tree, or exec within one pid, gets distinct
 * names ("x.lht", then "x.1.lht" ...). */
static int open_trace(void)
{
    char base[4096];
    if (expand_template(base, sizeof(base)) < 0) {
        lh_message("output path too long; not recording");
        return -1;
    }
    const char *dot = strrchr(base, '.');
    const char *slash = strrchr(base, '/');
    size_t stem = dot && (!slash || dot > slash) ? (size_t)(dot - base) : strlen(base);
    for (int i = 0; i < 1000; i++) {
        if (i == 0)
            snprintf(trace_path, sizeof(trace_path), "%s", base);
        else
            snprintf(trace_path, sizeof(trace_path), "%.*s.%d%s", (int)stem, base, i, base + stem);
        if (lh_fd_remember(&trace, open(trace_path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644)) == 0)
            return 0;
        if (errno != EEXIST)
            break;
    }
    lh_message("cannot create %s: %s; not recording", trace_path, strerror(errno));
    return -1;
}

static void manifest_line(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void manifest_line(const char *fmt, ...)
{
    if (!lh_cfg.manifest[0])
        return;
    char line[4600];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(line, sizeof(line), fmt, ap);
    va_end(ap);
    if (n <= 0 || n >= (int)sizeof(line))
        return;
    lh_fd f;
    if (lh_fd_remember(&f, open(lh_cfg.manifest, O_WRONLY | O_APPEND | O_CLOEXEC)) == 0) {
        if (lh_fd_ours(&f)) {
            ssize_t w = write(f.fd, line, (size_t)n);
            (void)w;
        }
        lh_fd_close(&f);
    }
}

static void write_process_info(void)
{
    char exe[4096], host[256] = "", cmd[8192];
    char *argv[256];
    size_t argc = 0;
    ssize_t n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
    exe[n > 0 ? n : 0] = 0;
    gethostname(host, sizeof(host) - 1);
    ssize_t len = lh_read_small("/proc/self/cmdline", cmd, sizeof(cmd));
    if (len > 0) {
        for (ssize_t i = 0; i < len && argc < 256; i += (ssize_t)strlen(cmd + i) + 1)
            argv[argc++] = cmd + i;
    }
    struct timespec rt;
    clock_gettime(CLOCK_REALTIME, &rt);

    Lh__ProcessInfo pi;
    lh__process_info__init(&pi);
    pi.has_pid = pi.has_ppid = pi.has_start_realtime_ns = pi.has_page_size = 1;
    pi.has_stack_depth = pi.has_parent_trace_pid = 1;
    pi.pid = (uint32_t)getpid();
    pi.ppid = (uint32_t)getppid();
    pi.exe = exe;
    pi.n_argv = argc;
    pi.argv = argv;
    pi.start_realtime_ns = (uint64_t)rt.tv_sec * 1000000000u + (uint64_t)rt.tv_nsec
                           - (lh_mono_ns() - t0_ns);
    pi.page_size = (uint32_t)sysconf(_SC_PAGESIZE);
    pi.hostname = host;
    pi.recorder_version = "leakhunt 0.1";
    pi.unwind_mode = lh_cfg.unwind_fp ? "fp" : "libunwind";
    pi.stack_depth = (uint32_t)lh_cfg.depth;
    pi.parent_trace_pid = parent_trace_pid;
    pi.has_attached = pi.attached = lh_attached;
    check(lh_writer_put(writer, LH_CHUNK_PROCESS, &pi.base, 0, 0));
}

int lh_output_start(void)
{
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&out_wake, &ca);
    pthread_condattr_destroy(&ca);

    t0_ns = last_rss_ns = lh_mono_ns();
    last_cut_ns = lh_ns_to_stamp(t0_ns);
    last_us = 0;
    trace_pid = getpid();
    if (open_trace() < 0)
        return -1;
    int rc;
    lh_writer_io io = { .write_all = write_all_fd };
    writer = lh_writer_open(trace.fd, &io, &rc);
    batch = writer ? lh_real_malloc(OUT_BATCH * sizeof(lh_event)) : NULL;
    if (!writer || !batch) {
        lh_message("cannot start a trace in %s: %s; not recording", trace_path,
                   writer ? "out of memory" : strerror(write_errno ? write_errno : ENOMEM));
        lh_writer_free(writer);
        writer = NULL;
        lh_fd_close(&trace);
        unlink(trace_path);
        return -1;
    }
    write_process_info();
    write_modules(1);
    lh_control_open();
    manifest_line("start %d %s\n", (int)getpid(), trace_path);
    stopping = finished = out_failed = 0;
    events_written = 0;
    writer_running = 1;
    pthread_attr_t attr;
    pthread_attr_init(&attr);
    pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
    /* The writer takes no signals: a handler of the program's (say one
     * that allocates) would run with the recursion guard set and go
     * unrecorded, and a SIGXFSZ from a write must not kill the program. */
    sigset_t all, old;
    sigfillset(&all);
    pthread_sigmask(SIG_BLOCK, &all, &old);
    int started = pthread_create(&writer_tid, &attr, writer_main, NULL);
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    if (started != 0) {
        writer_running = 0;
        lh_message("cannot start the writer thread; events are written at exit only");
    }
    pthread_attr_destroy(&attr);
    return 0;
}

void lh_output_finish(int exit_status)
{
    pthread_mutex_lock(&out_lock);
    if (finished) {
        pthread_mutex_unlock(&out_lock);
        return;
    }
    finished = 1;
    /* From here on hooks pass through; what is buffered goes out now.
     * A thread still inside a hook may add one more event after the final
     * round: it is lost with the process, like anything after exit. */
    __atomic_store_n(&lh_state, 2, __ATOMIC_RELEASE);
    stopping = 1;
    pthread_cond_signal(&out_wake);
    if (writer && !out_failed) {
        round_locked(1);
        uint64_t end = to_us(lh_stamp());
        check(lh_writer_finish(writer, end, __atomic_load_n(&lh_lost_events, __ATOMIC_RELAXED),
                               exit_status));
        manifest_line("end %d %llu %llu %s\n", (int)getpid(), (unsigned long long)events_written,
                      (unsigned long long)lh_writer_offset(writer), trace_path);
    }
    __atomic_store_n(&lh_state, 2, __ATOMIC_RELEASE);
    struct stat st;
    if (lh_fd_ours(&trace) && !out_failed && fstat(trace.fd, &st) == 0 && st.st_nlink == 0)
        lh_message("%s was removed while recording; the trace is lost", trace_path);
    lh_fd_close(&trace);
    lh_control_close();
    pthread_mutex_unlock(&out_lock);
}

/* Remove libleakhunt.so from LD_PRELOAD (--no-follow children). */
static void drop_preload(void)
{
    const char *v = getenv("LD_PRELOAD");
    if (!v)
        return;
    char out[4096];
    size_t o = 0;
    for (const char *p = v; *p;) {
        size_t len = strcspn(p, ": ");
        int ours = len >= 14 && !strncmp(p + len - 14, "libleakhunt.so", 14);
        if (!ours && len && o + len + 1 < sizeof(out)) {
            if (o)
                out[o++] = ':';
            memcpy(out + o, p, len);
            o += len;
        }
        p += len;
        while (*p == ':' || *p == ' ')
            p++;
    }
    out[o] = 0;
    if (o)
        setenv("LD_PRELOAD", out, 1);
    else
        unsetenv("LD_PRELOAD");
}

void lh_output_fork_child(void)
{
    pthread_mutex_init(&out_lock, NULL);
    pthread_mutex_init(&mod_lock, NULL);
    /* The parent's trace, writer and control FIFO stay the parent's. */
    uint32_t parent = (uint32_t)getppid();
    lh_fd_close(&trace);
    lh_control_forget();
    /* fork does not wait for the writer (a round can take a while on a
     * busy machine) and the child needs nothing it owns: its structures
     * may be mid-update, so they are abandoned, not freed, and the child
     * starts its own. */
    writer = NULL;
    batch = NULL;
    batch_n = 0;
    n_marks = 0;
    n_queued_maps = 0;
    mod_adds = mod_subs = 0;
    lost_written = 0;
    __atomic_store_n(&lh_lost_events, 0, __ATOMIC_RELAXED);
    writer_running = 0;
    if (lh_state != 1 || !lh_cfg.follow_fork) {
        lh_state = 2;
        if (!lh_cfg.follow_fork)
            drop_preload(); /* nor what it execs */
        return;
    }
    parent_trace_pid = parent;
    if (lh_output_start() < 0)
        lh_state = 2;
}
