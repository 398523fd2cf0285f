/*
 * collect.c - the collector: ring files in, traces out, in a process of
 * its own (leakhunt-record), so nothing a traced program does to itself
 * can stop its trace from being written.
 *
 * A process, seen from here:
 *
 *   (ring.P.N appears) --> LIVE --ENDED in the header, or the pid is gone,
 *                            |      or a newer ring of the same pid--> FINAL
 *                            |                                           |
 *                            +--stop request--> STOPPING                 |
 *                                 (drained and discarded until           v
 *                                  the process notices)          footer, ring file
 *                                                                 removed: DONE
 *
 * Every step (lh_collect_step) drains each ring into this process's
 * memory, which frees the program's ring at once, and writes when enough
 * has gathered, a flush interval has passed, a marker is waiting, or the
 * process is in FINAL. A write merges the threads' records by stamp up to
 * the cut (ring.h): now, or the stamp a thread is about to publish.
 *
 * Markers from leakhunt-mark come on the session's control socket, are
 * placed at their stamp, and answered once they are in the trace file.
 * Requests (one SOCK_SEQPACKET message each, one answer "ok..." or
 * "err WHY"; only from our own user or root; ctl_client.h asks them):
 *   mark PID NS LABEL   a marker at CLOCK_MONOTONIC NS, answered once written
 *   stop PID            end PID's recording, answered once the trace is complete
 *   trace PID           "ok DEV INO PATH": where PID's trace is being written
 *                       (absolute), its st_dev and st_ino (leakhunt-top)
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <linux/membarrier.h>
#include <poll.h>
#include <signal.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/random.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>
#ifdef __x86_64__
#include <x86intrin.h>
#endif

#include "collect.h"
#include "../procfs_read.h"
#include "lh_contract.h" /* the control protocol */
#include "lh_trace.h"
#include "../ring.h"

#define WRITE_BATCH 65536         /* events per lh_writer_events call */
#define KEEP_FORCE (1u << 18)     /* records held before a write is forced */
#define FORK_WAIT_NS 2000000000ull /* how long a forked child's ring may take */
#define ENDED_GRACE_NS 20000000ull /* after ENDED, for hooks still under way */
#define MAX_CLIENTS 32
#define DRAIN_EVERY 16384          /* records merged between drains during a write */

typedef struct {
    uint32_t gen, index, tid;
    uint64_t start_ticks;  /* the thread's start time, to tell a reused tid */
    uint64_t checked_ns;   /* when a USED slot's thread was last checked for life */
    int announced;
    uint64_t clear_stamp;  /* cut bound while the thread sits at entry == 1 */
    lh_raw *keep;          /* drained, not yet written, in order */
    size_t keep_n, keep_pos, keep_cap;
} slot_state;

typedef struct mark_req {
    uint64_t stamp;
    char label[512];
    int client;            /* socket to answer, -1 = none */
    struct mark_req *next;
} mark_req;

enum { P_LIVE, P_STOPPING, P_DONE };

typedef struct proc {
    char ring_path[PATH_MAX + 256];
    lh_ring_header *h;
    uint64_t map_bytes;
    int pid, pidfd, state, dead, wait_status;
    uint64_t children_seen;   /* rings of processes forked from this one */
    uint64_t ended_seen_ns;
    slot_state *slots;
    slot_state *retired;      /* threads gone, their slot given back, records not yet written */
    size_t n_retired, cap_retired;
    /* the trace */
    int fd;
    lh_writer *w;
    lh_collect_trace info;
    char trace_path[PATH_MAX];
    uint32_t nodes_written, py_written;
    uint64_t py_read;
    uint64_t last_cut, last_us, t0_ns, last_write_ns, last_rss_ns, lost_written;
    uint64_t drained;         /* records taken from the rings, all told */
    uint64_t emitted;         /* events handed to the writer or, after a failure, discarded */
    double ns_per_tick;
    int ratio_fixed;
    int membarrier;           /* its threads' entries rely on our membarrier calls (ring.h) */
    mark_req *marks;
    int write_errno;
    struct proc *next;
} proc;

struct lh_collector {
    lh_collect_options opt;
    char session[PATH_MAX], output[PATH_MAX];
    int listen_fd;
    int wake_fd;              /* lh_collect_wake_on: -1 = none */
    int clients[MAX_CLIENTS];
    int n_clients;
    proc *procs, **tail;
    lh_collect_trace *traces;
    int n_traces;
    lh_event *batch;
    size_t batch_n;
    uint64_t rings_seen;
    uint64_t drained_before;  /* all procs' drained at the last step: busy if it moved */
};

static uint64_t mono_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static uint64_t stamp_now(const lh_ring_header *h)
{
#ifdef __x86_64__
    if (h->use_tsc) {
        unsigned aux;
        return __rdtscp(&aux);
    }
#endif
    return mono_ns();
}

/* --- time ------------------------------------------------------------------ */

static uint64_t stamp_to_ns(const proc *p, uint64_t s)
{
    const lh_ring_header *h = p->h;
    if (!h->use_tsc)
        return s;
    if (s >= h->tsc0)
        return h->ns0 + (uint64_t)((double)(s - h->tsc0) * p->ns_per_tick);
    uint64_t back = (uint64_t)((double)(h->tsc0 - s) * p->ns_per_tick);
    return back < h->ns0 ? h->ns0 - back : 0;
}

static uint64_t ns_to_stamp(const proc *p, uint64_t ns)
{
    const lh_ring_header *h = p->h;
    if (!h->use_tsc)
        return ns;
    if (ns >= h->ns0)
        return h->tsc0 + (uint64_t)((double)(ns - h->ns0) / p->ns_per_tick);
    uint64_t back = (uint64_t)((double)(h->ns0 - ns) / p->ns_per_tick);
    return back < h->tsc0 ? h->tsc0 - back : 0;
}

/* The ratio from the process's first estimate, refined against our own
 * reading of the same counter until 100 ms have passed, then fixed. */
static void refine_ratio(proc *p)
{
    const lh_ring_header *h = p->h;
    if (!h->use_tsc || p->ratio_fixed)
        return;
    uint64_t t = stamp_now(h), n = mono_ns();
    if (t > h->tsc0 && n > h->ns0 + 1000000)
        p->ns_per_tick = (double)(n - h->ns0) / (double)(t - h->tsc0);
    if (n - h->ns0 >= 100000000u)
        p->ratio_fixed = 1;
}

/* Trace time of a stamp, never before what was written already. */
static uint64_t to_us(proc *p, uint64_t stamp)
{
    uint64_t ns = stamp_to_ns(p, stamp);
    uint64_t us = ns > p->t0_ns ? (ns - p->t0_ns) / 1000 : 0;
    if (us < p->last_us)
        us = p->last_us;
    p->last_us = us;
    return us;
}

/* --- the trace file ----------------------------------------------------------- */

static int write_all_fd(void *ctx, const void *buf, size_t len)
{
    proc *p = ctx;
    const char *s = buf;
    while (len) {
        ssize_t n = write(p->fd, s, len);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0) {
            p->write_errno = n < 0 ? errno : ENOSPC;
            return -p->write_errno;
        }
        s += n;
        len -= (size_t)n;
    }
    return 0;
}

/* A failed write ends the trace where its last whole chunk ends; the rest
 * of the process's events are counted as not written. */
static int check(proc *p, int rc)
{
    if (rc < 0 && !p->info.failed) {
        p->info.failed = 1;
        /* Whole chunks only; finish() makes room and notes the damage. */
        if (ftruncate(p->fd, (off_t)lh_writer_offset(p->w)) < 0) {
            /* the reader stops at the torn chunk anyway */
        }
        /* said once, with the count, when the trace is finished (finish) */
    }
    return rc;
}

static void expand_template(const lh_collector *c, const proc *p, char *out, size_t cap)
{
    const char *exe = strrchr(p->h->exe, '/');
    exe = exe ? exe + 1 : p->h->exe;
    size_t o = 0;
    for (const char *s = c->output; *s && o + 1 < cap; s++) {
        char tmp[32];
        const char *add = tmp;
        if (*s == '%' && s[1] == 'p') { snprintf(tmp, sizeof(tmp), "%d", p->pid); s++; }
        else if (*s == '%' && s[1] == 'e') { add = exe; s++; }
        else if (*s == '%' && s[1] == '%') { tmp[0] = '%'; tmp[1] = 0; s++; }
        else { tmp[0] = *s; tmp[1] = 0; }
        size_t n = strlen(add);
        if (o + n >= cap)
            break;
        memcpy(out + o, add, n);
        o += n;
    }
    out[o] = 0;
}

static int open_trace(lh_collector *c, proc *p)
{
    char base[PATH_MAX];
    expand_template(c, p, base, sizeof(base));
    const char *dot = strrchr(base, '.'), *slash = strrchr(base, '/');
    size_t stem = dot && (!slash || dot > slash) ? (size_t)(dot - base) : strlen(base);
    p->fd = -1;
    /* A name that is taken (another process's trace, or one planted in a
     * shared directory) gives way to one nobody can guess, NAME.<8 random
     * letters>.lht, so no one can take them all; the summary names it. */
    for (int i = 0; i < 100 && p->fd < 0; i++) {
        unsigned char r[8];
        char tag[9];
        if (i && getrandom(r, sizeof(r), 0) != (ssize_t)sizeof(r))
            break;
        for (size_t k = 0; i && k < sizeof(r); k++)
            tag[k] = "abcdefghijklmnopqrstuvwxyz234567"[r[k] & 31];
        tag[8] = 0;
        if (i == 0)
            snprintf(p->trace_path, sizeof(p->trace_path), "%s", base);
        else
            snprintf(p->trace_path, sizeof(p->trace_path), "%.*s.%s%s", (int)stem, base, tag, base + stem);
        p->fd = open(p->trace_path, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
        if (p->fd < 0 && errno != EEXIST)
            break;
    }
    if (p->fd < 0) {
        fprintf(stderr, "leakhunt: cannot create %s: %s; not recording (pid %d)\n", p->trace_path,
                strerror(errno), p->pid);
        return -1;
    }
    /* A sampled recording's few events are irregular (random addresses and
     * gaps), which encoding 2's packed columns hold in two thirds of the
     * space; its slower replay does not matter at that size. */
    int encoding = c->opt.batch_encoding ? c->opt.batch_encoding : p->h->sample_interval ? 2 : 1;
    lh_writer_io io = { .write_all = write_all_fd, .ctx = p, .batch_encoding = encoding };
    int rc;
    p->w = lh_writer_open(p->fd, &io, &rc);
    if (!p->w) {
        fprintf(stderr, "leakhunt: cannot start a trace in %s: %s\n", p->trace_path, lh_rc_name(rc));
        close(p->fd);
        unlink(p->trace_path);
        p->fd = -1;
        return -1;
    }
    return 0;
}

static void write_process_info(proc *p)
{
    const lh_ring_header *h = p->h;
    char host[256] = "";
    char *argv[256];
    size_t argc = 0;
    static char cmd[sizeof(h->cmdline) + 1];
    uint32_t len = h->cmdline_len < sizeof(h->cmdline) ? h->cmdline_len : sizeof(h->cmdline);
    memcpy(cmd, h->cmdline, len);
    cmd[len] = 0;
    for (uint32_t i = 0; i < len && argc < 256; i += (uint32_t)strlen(cmd + i) + 1)
        argv[argc++] = cmd + i;
    gethostname(host, sizeof(host) - 1);
    static char exe[sizeof(h->exe)];
    memcpy(exe, h->exe, sizeof(exe));
    exe[sizeof(exe) - 1] = 0;
    static char unwind[sizeof(h->unwind) + 1];
    memcpy(unwind, h->unwind, sizeof(h->unwind));
    unwind[sizeof(h->unwind)] = 0;

    Lh__ProcessInfo pi;
    lh__process_info__init(&pi);
    pi.has_pid = pi.has_ppid = pi.has_start_realtime_ns = pi.has_page_size = 1;
    pi.has_stack_depth = pi.has_parent_trace_pid = 1;
    pi.pid = (uint32_t)h->pid;
    pi.ppid = (uint32_t)h->ppid;
    pi.exe = exe;
    pi.n_argv = argc;
    pi.argv = argv;
    pi.start_realtime_ns = h->start_realtime_ns;
    pi.page_size = (uint32_t)sysconf(_SC_PAGESIZE);
    pi.hostname = host;
    pi.recorder_version = "leakhunt " LH_VERSION;
    pi.unwind_mode = unwind;
    pi.stack_depth = (uint32_t)h->depth;
    pi.parent_trace_pid = (uint32_t)h->parent_trace_pid;
    pi.has_attached = pi.attached = h->attached != 0;
    pi.has_sample_interval = h->sample_interval != 0;
    pi.sample_interval = h->sample_interval;
    check(p, lh_writer_put(p->w, LH_CHUNK_PROCESS, &pi.base, 0, 0));
}

/* --- finding rings ---------------------------------------------------------------- */

static uint64_t stat_start_ticks(const char *path)
{
    char buf[1024];
    const char *f = lh_read_text(path, buf, sizeof(buf)) > 0 ? lh_stat_field(buf, 22) : NULL;
    return f ? strtoull(f, NULL, 10) : 0;
}

static uint64_t proc_start_ticks(int pid)
{
    char path[64];
    snprintf(path, sizeof(path), "/proc/%d/stat", pid);
    return stat_start_ticks(path);
}

static uint64_t thread_start_ticks(int pid, uint32_t tid)
{
    char path[96];
    snprintf(path, sizeof(path), "/proc/%d/task/%u/stat", pid, tid);
    return stat_start_ticks(path);
}

static proc *find_proc(lh_collector *c, const char *path)
{
    for (proc *p = c->procs; p; p = p->next)
        if (!strcmp(p->ring_path, path))
            return p;
    return NULL;
}

/* A full barrier on every running thread of the processes registered for
 * it (ring.h: what it stands in for). 0 or -1. */
static int membarrier_all(void)
{
    return syscall(SYS_membarrier, MEMBARRIER_CMD_GLOBAL_EXPEDITED, 0, 0) == 0 ? 0 : -1;
}


static void add_ring(lh_collector *c, const char *name)
{
    char path[PATH_MAX + 256];
    snprintf(path, sizeof(path), "%s/%s", c->session, name);
    if (find_proc(c, path))
        return;
    int fd = open(path, O_RDWR | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
    if (fd < 0)
        return;
    struct stat st;
    lh_ring_header *h = NULL;
    if (fstat(fd, &st) == 0 && S_ISREG(st.st_mode) && st.st_uid == c->opt.ring_uid && !(st.st_mode & 022)
        && (uint64_t)st.st_size >= LH_RING_HEADER) {
        void *m = mmap(NULL, (size_t)st.st_size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
        if (m != MAP_FAILED)
            h = m;
    }
    close(fd);
    if (!h)
        return;
    /* Only what the recorder made: every offset inside the file. */
    uint64_t slot_bytes = lh_ring_slot_bytes(h->ring_records);
    if (__atomic_load_n(&h->magic, __ATOMIC_ACQUIRE) != LH_RING_MAGIC || h->version != LH_RING_VERSION
        || h->file_size != (uint64_t)st.st_size || !h->n_slots || h->n_slots > LH_RING_SLOTS
        || !h->ring_records || (h->ring_records & (h->ring_records - 1))
        || h->slots_off + (uint64_t)h->n_slots * slot_bytes > h->nodes_off
        || h->nodes_off + (uint64_t)h->node_cap * 12 > h->pylog_off
        || h->pylog_off + h->pylog_cap > h->file_size) {
        munmap(h, (size_t)st.st_size);
        return;
    }
    proc *p = calloc(1, sizeof(*p));
    slot_state *ss = p ? calloc(h->n_slots, sizeof(*ss)) : NULL;
    if (!ss) {
        free(p);
        munmap(h, (size_t)st.st_size);
        return;
    }
    snprintf(p->ring_path, sizeof(p->ring_path), "%s", path);
    p->h = h;
    p->map_bytes = (uint64_t)st.st_size;
    p->pid = h->pid;
    p->slots = ss;
    p->wait_status = -1;
    p->nodes_written = 1; /* id 0 is the empty stack */
    p->ns_per_tick = h->ns_per_tick > 0 ? h->ns_per_tick : 1.0;
    refine_ratio(p);
    p->t0_ns = stamp_to_ns(p, h->t0_stamp);
    p->last_cut = h->t0_stamp;
    p->last_write_ns = p->last_rss_ns = mono_ns();
    p->pidfd = (int)syscall(SYS_pidfd_open, p->pid, 0);
    if (p->pidfd < 0 || proc_start_ticks(p->pid) != h->start_ticks)
        p->dead = 1; /* gone already (or its pid reused) */
    __atomic_store_n(&h->collector_pid, (int32_t)getpid(), __ATOMIC_RELAXED);
    __atomic_store_n(&h->heartbeat_ns, mono_ns(), __ATOMIC_RELAXED);
    /* A call that works once works for the life of the process: from now
     * on every cut is preceded by one, and its threads may drop their own
     * barrier. */
    if (__atomic_load_n(&h->membarrier, __ATOMIC_RELAXED) == 1 && membarrier_all() == 0) {
        p->membarrier = 1;
        __atomic_store_n(&h->membarrier_ok, 1, __ATOMIC_RELEASE);
    }
    /* Its parent (the newest ring of that pid) expected it. */
    proc *parent = NULL;
    for (proc *o = c->procs; o; o = o->next)
        if (h->parent_trace_pid && o->pid == h->parent_trace_pid)
            parent = o;
    if (parent)
        parent->children_seen++;
    /* An older ring of the same pid belongs to the image before an exec. */
    for (proc *o = c->procs; o; o = o->next)
        if (o->pid == p->pid && o->state == P_LIVE && !o->dead)
            o->dead = 1;
    if (open_trace(c, p) == 0)
        write_process_info(p);
    else
        p->state = P_STOPPING; /* drained and discarded: the program must not wait */
    p->info.pid = p->pid;
    p->info.order = ++c->rings_seen;
    *c->tail = p;
    c->tail = &p->next;
}

typedef struct {
    uint64_t made_ns;
    char name[256];
} ring_name;

static int by_made(const void *a, const void *b)
{
    uint64_t x = ((const ring_name *)a)->made_ns, y = ((const ring_name *)b)->made_ns;
    return x < y ? -1 : x > y;
}

/* When the ring's process started its recording (CLOCK_MONOTONIC ns, from
 * its header's own clock): the file times are too coarse to order a
 * parent and a child forked the same millisecond. */
static uint64_t ring_made_ns(const char *path)
{
    int fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
    if (fd < 0)
        return UINT64_MAX;
    lh_ring_header h;
    ssize_t n = pread(fd, &h, offsetof(lh_ring_header, exe), 0);
    close(fd);
    if (n != (ssize_t)offsetof(lh_ring_header, exe) || h.magic != LH_RING_MAGIC)
        return UINT64_MAX;
    if (!h.use_tsc)
        return h.t0_stamp;
    double ratio = h.ns_per_tick > 0 ? h.ns_per_tick : 1.0;
    return h.t0_stamp >= h.tsc0 ? h.ns0 + (uint64_t)((double)(h.t0_stamp - h.tsc0) * ratio) : h.ns0;
}

/* New rings, oldest first: traces are named in the order their processes
 * started (parent before child, an image before the one it exec'd). */
static void scan_session(lh_collector *c)
{
    DIR *d = opendir(c->session);
    if (!d)
        return;
    ring_name *list = NULL;
    size_t n = 0, cap = 0;
    struct dirent *e;
    while ((e = readdir(d))) {
        if (strncmp(e->d_name, "ring.", 5) || strlen(e->d_name) >= sizeof(list->name))
            continue;
        char path[PATH_MAX + 256];
        snprintf(path, sizeof(path), "%s/%s", c->session, e->d_name);
        struct stat st;
        if (find_proc(c, path) || lstat(path, &st) < 0)
            continue;
        if (n == cap) {
            ring_name *l = realloc(list, (cap = cap ? 2 * cap : 16) * sizeof(*l));
            if (!l)
                break;
            list = l;
        }
        list[n].made_ns = ring_made_ns(path);
        snprintf(list[n].name, sizeof(list[n].name), "%s", e->d_name);
        n++;
    }
    closedir(d);
    qsort(list, n, sizeof(*list), by_made);
    for (size_t i = 0; i < n; i++)
        add_ring(c, list[i].name);
    free(list);
}

/* --- draining and writing ------------------------------------------------------------- */


static lh_ring_slot *slot_at(const proc *p, uint32_t i)
{
    return (lh_ring_slot *)((char *)p->h + p->h->slots_off + (uint64_t)i * lh_ring_slot_bytes(p->h->ring_records));
}

/* Only slots a thread has claimed are read (ring.h, claimed[]). */
static int slot_claimed(const proc *p, uint32_t i)
{
    return (int)((__atomic_load_n(&p->h->claimed[i / 64], __ATOMIC_ACQUIRE) >> (i % 64)) & 1);
}

/* Everything published in slot i into our memory; the program's ring
 * space is free again as soon as tail moves. */
static void retire(proc *p, slot_state *ss);

/* The thread that held ss has ended: no such tid, or another thread's. */
static int thread_gone(const proc *p, const slot_state *ss)
{
    if (p->dead)
        return 1;
    if (syscall(SYS_tgkill, p->pid, ss->tid, 0) < 0 && errno == ESRCH)
        return 1;
    uint64_t t = thread_start_ticks(p->pid, ss->tid);
    return !t || (ss->start_ticks && t != ss->start_ticks);
}

static void drain_slot(proc *p, uint32_t i, uint64_t now, int may_retire)
{
    lh_ring_slot *s = slot_at(p, i);
    slot_state *ss = &p->slots[i];
    uint32_t gen = __atomic_load_n(&s->gen, __ATOMIC_ACQUIRE);
    if (gen != ss->gen && ss->keep_n == ss->keep_pos) {
        ss->gen = gen;
        ss->index = s->index;
        ss->tid = s->tid;
        ss->announced = 0;
        ss->clear_stamp = p->last_cut;
        ss->start_ticks = thread_start_ticks(p->pid, ss->tid);
        ss->checked_ns = now;
    }
    /* Gone before head is read: whatever it published is all there is.
     * EXITING threads are looked at every step; a USED one (a thread that
     * ended without running key destructors) once a second. */
    /* Only a thread we know: a slot just claimed (state USED, its gen not
     * bumped yet) has no tid to check, and must not be taken back. */
    uint32_t state = __atomic_load_n(&s->state, __ATOMIC_ACQUIRE);
    int exited = 0;
    if (may_retire && gen == ss->gen && gen != 0 && ss->tid
        && (state == LH_SLOT_EXITING || (state == LH_SLOT_USED && now - ss->checked_ns > 1000000000ull))) {
        ss->checked_ns = now;
        exited = thread_gone(p, ss);
    }
    uint64_t head = __atomic_load_n(&s->head, __ATOMIC_ACQUIRE), tail = s->tail;
    uint64_t n = head - tail, cap = p->h->ring_records;
    if (n > cap)
        return; /* a head no recorder wrote */
    if (p->state == P_STOPPING)
        n = 0, __atomic_store_n(&s->tail, head, __ATOMIC_RELEASE);
    if (!n) {
        if (exited)
            retire(p, ss), __atomic_store_n(&s->state, LH_SLOT_FREE, __ATOMIC_RELEASE);
        return;
    }
    /* Drop what the merge has taken. A busy thread always has records past
     * the cut, so waiting for the buffer to empty would keep every record
     * ever drained (40 bytes an event, without bound); moving the rest down
     * at every drain, though, copied a round's records again and again
     * (18% of the collector's time on the churn). Once the taken part is as
     * large as the rest, or room is short, each record moves at most once
     * per taken one. */
    if (ss->keep_pos && (ss->keep_pos >= ss->keep_n - ss->keep_pos || ss->keep_n + n > ss->keep_cap)) {
        memmove(ss->keep, ss->keep + ss->keep_pos, (ss->keep_n - ss->keep_pos) * sizeof(*ss->keep));
        ss->keep_n -= ss->keep_pos;
        ss->keep_pos = 0;
    }
    if (ss->keep_n + n > ss->keep_cap) {
        size_t want = ss->keep_cap ? ss->keep_cap : 4096;
        while (want < ss->keep_n + n)
            want *= 2;
        lh_raw *k = realloc(ss->keep, want * sizeof(*k));
        if (!k)
            return; /* try again next step: the program waits a little */
        ss->keep = k; /* may move: the merge looks records up through ss, never keeps a pointer */
        ss->keep_cap = want;
    }
    const lh_raw *rec = (const lh_raw *)(s + 1);
    uint64_t mask = cap - 1;
    for (uint64_t k = tail; k < head; k++)
        ss->keep[ss->keep_n++] = rec[k & mask];
    p->drained += n;
    __atomic_store_n(&s->tail, head, __ATOMIC_RELEASE);
    /* A thread that has gone gives its slot back at once (threads may come
     * and go faster than we write); its records wait with the retired. */
    if (exited) {
        retire(p, ss);
        __atomic_store_n(&s->state, LH_SLOT_FREE, __ATOMIC_RELEASE);
    }
}

/* The slot's records (if any) move to the retired list; the slot state is
 * ready for the next thread. */
static void retire(proc *p, slot_state *ss)
{
    if (ss->keep_n > ss->keep_pos) {
        if (p->n_retired == p->cap_retired) {
            size_t cap = p->cap_retired ? 2 * p->cap_retired : 16;
            slot_state *r = realloc(p->retired, cap * sizeof(*r));
            if (!r)
                return; /* kept in the slot: it is not freed this time */
            p->retired = r;
            p->cap_retired = cap;
        }
        p->retired[p->n_retired++] = *ss;
        ss->keep = NULL;
        ss->keep_cap = 0;
    }
    ss->keep_n = ss->keep_pos = 0;
    ss->gen = (uint32_t)-1; /* whoever claims it next is someone new */
}

static int slot_active(const proc *p, uint32_t i)
{
    const lh_ring_slot *s = slot_at(p, i);
    return __atomic_load_n(&s->state, __ATOMIC_ACQUIRE) != LH_SLOT_FREE
        || __atomic_load_n(&s->head, __ATOMIC_ACQUIRE) != s->tail || p->slots[i].keep_n != p->slots[i].keep_pos;
}

/* may_retire 0: in the middle of a merge, which holds pointers to the
 * slot states (a thread that is gone is retired at the next drain). */
static void drain_some(proc *p, int may_retire)
{
    uint64_t now = mono_ns();
    for (uint32_t i = 0; i < p->h->n_slots; i++)
        if (slot_claimed(p, i) && slot_active(p, i))
            drain_slot(p, i, now, may_retire);
}

static void drain(proc *p) { drain_some(p, 1); }

/* The stamp below which every event is in our hands (ring.h). */
static uint64_t find_cut(proc *p, int final)
{
    if (final)
        return UINT64_MAX;
    uint64_t cut = stamp_now(p->h);
    __atomic_thread_fence(__ATOMIC_SEQ_CST);
    if (p->membarrier && membarrier_all() != 0)
        return p->last_cut; /* no barrier, no bound: nothing moves this round (never seen) */
    for (uint32_t i = 0; i < p->h->n_slots; i++) {
        if (!slot_claimed(p, i)) /* after the fence: claimed later, stamped after the cut */
            continue;
        lh_ring_slot *s = slot_at(p, i);
        if (__atomic_load_n(&s->state, __ATOMIC_ACQUIRE) == LH_SLOT_FREE)
            continue;
        uint64_t e = __atomic_load_n(&s->entry, __ATOMIC_ACQUIRE);
        for (int spin = 0; e == 1 && spin < 2000; spin++) {
#ifdef __x86_64__
            __builtin_ia32_pause();
#endif
            e = __atomic_load_n(&s->entry, __ATOMIC_ACQUIRE);
        }
        slot_state *ss = &p->slots[i];
        if (e == 1) {
            /* Between its two stores (preempted there): it entered after the
             * last time we saw it clear. */
            if (ss->clear_stamp < cut)
                cut = ss->clear_stamp;
        } else {
            ss->clear_stamp = cut;
            if (e && e < cut)
                cut = e;
        }
    }
    return cut < p->last_cut ? p->last_cut : cut;
}

static void flush_batch(lh_collector *c, proc *p)
{
    if (c->batch_n && p->w && !p->info.failed) {
        p->info.events += c->batch_n;
        check(p, lh_writer_events(p->w, c->batch, c->batch_n));
    }
    c->batch_n = 0;
}

static void write_marker(lh_collector *c, proc *p, uint64_t stamp, const char *label, size_t len, uint32_t thread)
{
    flush_batch(c, p);
    if (!p->w || p->info.failed)
        return;
    char text[4096];
    if (len >= sizeof(text))
        len = sizeof(text) - 1;
    memcpy(text, label, len);
    text[len] = 0;
    Lh__Marker m;
    lh__marker__init(&m);
    m.has_time_us = m.has_thread = 1;
    m.time_us = to_us(p, stamp);
    m.label = text;
    m.thread = thread;
    check(p, lh_writer_put(p->w, LH_CHUNK_MARKER, &m.base, m.time_us, m.time_us));
}

static void write_blob(lh_collector *c, proc *p, const lh_raw *hdr, uint32_t thread)
{
    const uint8_t *bytes = (const uint8_t *)(hdr + 1);
    if (hdr->addr == LH_BLOB_MARK) {
        write_marker(c, p, hdr->ns, (const char *)bytes, hdr->size, thread);
    } else if (hdr->addr == LH_BLOB_NOTE) {
        /* a warning, said even with -q: something is missing from the recording */
        int n = hdr->size < 4096 ? (int)hdr->size : 4096;
        fprintf(stderr, "leakhunt: pid %d %.*s\n", p->pid, n, (const char *)bytes);
    } else if (hdr->addr == LH_BLOB_MODULES) {
        flush_batch(c, p);
        Lh__ModuleMap *m = lh__module_map__unpack(NULL, hdr->size, bytes);
        if (m && p->w && !p->info.failed) {
            m->has_time_us = 1;
            m->time_us = to_us(p, hdr->ns);
            check(p, lh_writer_put(p->w, LH_CHUNK_MODULES, &m->base, m->time_us, m->time_us));
        }
        if (m)
            lh__module_map__free_unpacked(m, NULL);
    }
}

static void emit(lh_collector *c, proc *p, const lh_raw *e, uint32_t thread)
{
    p->emitted++; /* written, or counted missing */
    if (!p->w || p->info.failed)
        return;
    lh_event *o = &c->batch[c->batch_n++];
    o->time_us = to_us(p, e->ns);
    o->addr = e->addr;
    o->old_addr = e->kind == LH_EV_REALLOC ? e->old_addr : 0;
    o->size = e->kind == LH_EV_FREE ? 0 : e->size;
    o->stack = e->stack;
    o->thread = thread;
    o->kind = e->kind;
    o->domain = e->domain;
    if (c->batch_n == WRITE_BATCH)
        flush_batch(c, p);
}

static void write_tables(proc *p)
{
    const lh_ring_header *h = p->h;
    uint32_t py_count = __atomic_load_n(&h->py_count, __ATOMIC_ACQUIRE);
    uint64_t py_len = __atomic_load_n(&h->pylog_len, __ATOMIC_ACQUIRE);
    uint64_t t = to_us(p, p->last_cut);
    if (py_count > p->py_written && py_len <= h->pylog_cap) {
        uint32_t n = py_count - p->py_written;
        char **names = calloc(2 * (size_t)n, sizeof(char *));
        uint32_t *lines = calloc(n, sizeof(uint32_t));
        const char *log = (const char *)h + h->pylog_off;
        uint32_t got = 0;
        uint64_t at = p->py_read;
        while (names && lines && got < n && at + sizeof(lh_ring_pyframe) <= py_len) {
            lh_ring_pyframe r;
            memcpy(&r, log + at, sizeof(r));
            uint64_t need = (sizeof(r) + r.file_len + r.func_len + 3) & ~(uint64_t)3;
            if (r.id != p->py_written + got || at + need > py_len)
                break;
            names[got] = strndup(log + at + sizeof(r), r.file_len);
            names[n + got] = strndup(log + at + sizeof(r) + r.file_len, r.func_len);
            lines[got] = r.line;
            at += need;
            got++;
        }
        if (got && names[got - 1] && names[n + got - 1]) {
            Lh__PyFrames m;
            lh__py_frames__init(&m);
            m.has_first_id = 1;
            m.first_id = p->py_written;
            m.n_files = m.n_functions = m.n_lines = got;
            m.files = names;
            m.functions = names + n;
            m.lines = lines;
            check(p, lh_writer_put(p->w, LH_CHUNK_PYFRAMES, &m.base, t, t));
            p->py_written += got;
            p->py_read = at;
        }
        for (uint32_t i = 0; names && i < got; i++) {
            free(names[i]);
            free(names[n + i]);
        }
        free(names);
        free(lines);
    }
    uint32_t count = __atomic_load_n(&h->node_count, __ATOMIC_ACQUIRE);
    if (count > h->node_cap)
        count = h->node_cap;
    if (count > p->nodes_written && p->nodes_written >= 1) {
        uint32_t from = p->nodes_written;
        const uint32_t *par = (const uint32_t *)((const char *)h + h->nodes_off);
        const uint64_t *ips = (const uint64_t *)((const char *)h + h->nodes_off + (uint64_t)h->node_cap * 4);
        Lh__StackNodes m;
        lh__stack_nodes__init(&m);
        m.has_first_id = 1;
        m.first_id = from;
        m.n_parents = m.n_ips = count - from;
        m.parents = (uint32_t *)par + from;
        m.ips = (uint64_t *)ips + from;
        check(p, lh_writer_put(p->w, LH_CHUNK_STACKS, &m.base, t, t));
        p->nodes_written = count;
    }
}

static void write_thread_info(proc *p, slot_state *ss)
{
    char path[64], name[64] = "";
    snprintf(path, sizeof(path), "/proc/%d/task/%u/comm", p->pid, ss->tid);
    if (lh_read_text(path, name, sizeof(name)) > 0)
        name[strcspn(name, "\n")] = 0;
    Lh__ThreadInfo ti;
    lh__thread_info__init(&ti);
    ti.has_index = ti.has_tid = ti.has_time_us = 1;
    ti.index = ss->index;
    ti.tid = ss->tid;
    ti.name = name;
    ti.time_us = to_us(p, p->last_cut);
    check(p, lh_writer_put(p->w, LH_CHUNK_THREAD, &ti.base, ti.time_us, ti.time_us));
    ss->announced = 1;
}

static void write_rss(proc *p)
{
    char path[64], buf[128];
    snprintf(path, sizeof(path), "/proc/%d/statm", p->pid);
    unsigned long long size, resident;
    if (lh_read_text(path, buf, sizeof(buf)) <= 0 || sscanf(buf, "%llu %llu", &size, &resident) != 2)
        return;
    Lh__RssSample s;
    lh__rss_sample__init(&s);
    s.has_time_us = s.has_rss_bytes = 1;
    s.time_us = to_us(p, p->last_cut);
    s.rss_bytes = resident * (unsigned long long)sysconf(_SC_PAGESIZE);
    check(p, lh_writer_put(p->w, LH_CHUNK_RSS, &s.base, s.time_us, s.time_us));
}

static uint64_t lost_now(const proc *p)
{
    uint64_t lost = __atomic_load_n(&p->h->lost, __ATOMIC_RELAXED);
    for (uint32_t i = 0; i < p->h->n_slots; i++)
        if (slot_claimed(p, i))
            lost += __atomic_load_n(&slot_at(p, i)->lost, __ATOMIC_RELAXED);
    return lost;
}

static inline uint64_t merge_key(const lh_raw *e)
{
    int release = e->kind == LH_EV_FREE || e->kind == LH_EV_MUNMAP;
    return e->ns * 2 + !release;
}

/* Thread ss has a record stamped before the cut next. */
static inline int head_before(const slot_state *ss, uint64_t cut)
{
    return ss->keep_pos < ss->keep_n && ss->keep[ss->keep_pos].ns < cut;
}

static inline uint64_t head_key(slot_state *const *h, size_t i)
{
    return merge_key(&h[i]->keep[h[i]->keep_pos]);
}

static void sift_down(slot_state **h, size_t n, size_t i)
{
    for (;;) {
        size_t l = 2 * i + 1, m = i;
        if (l < n && head_key(h, l) < head_key(h, m))
            m = l;
        if (l + 1 < n && head_key(h, l + 1) < head_key(h, m))
            m = l + 1;
        if (m == i)
            return;
        slot_state *t = h[i];
        h[i] = h[m];
        h[m] = t;
        i = m;
    }
}

static void answer(int client, const char *text)
{
    if (client >= 0) {
        ssize_t w = send(client, text, strlen(text), MSG_NOSIGNAL);
        (void)w;
    }
}

/* One write: everything stamped before the cut, merged by stamp. */
static void write_round(lh_collector *c, proc *p, int final)
{
    refine_ratio(p);
    uint64_t cut = find_cut(p, final);
    drain(p);
    if (!p->w || p->info.failed) {
        /* Nothing can be written: drained and counted, so the program
         * never waits and the trace can say how much it misses. */
        for (uint32_t i = 0; i < p->h->n_slots; i++) {
            slot_state *ss = &p->slots[i];
            for (size_t k = ss->keep_pos; k < ss->keep_n; k++) {
                const lh_raw *e = &ss->keep[k];
                if (e->kind == LH_RAW_BLOB)
                    k += LH_RAW_BLOB_RECORDS(e->size < LH_BLOB_MAX ? e->size : 0);
                else if (e->kind < LH_EV_KIND_COUNT)
                    p->emitted++;
            }
            ss->keep_n = ss->keep_pos = 0;
        }
        for (size_t i = 0; i < p->n_retired; i++) {
            for (size_t k = p->retired[i].keep_pos; k < p->retired[i].keep_n; k++)
                p->emitted += p->retired[i].keep[k].kind < LH_EV_KIND_COUNT;
            free(p->retired[i].keep);
        }
        p->n_retired = 0;
    } else {
        write_tables(p);
        /* Merge: a binary heap of the threads by their next record's key. */
        size_t cap_act = p->h->n_slots + p->n_retired, na = 0;
        slot_state **act = malloc((cap_act ? cap_act : 1) * sizeof(*act));
        for (size_t i = 0; act && i < p->n_retired; i++)
            act[na++] = &p->retired[i];
        for (uint32_t i = 0; act && i < p->h->n_slots; i++)
            if (p->slots[i].keep_n > p->slots[i].keep_pos)
                act[na++] = &p->slots[i];
        for (size_t k = 0; k < na; k++)
            if (!act[k]->announced)
                write_thread_info(p, act[k]);
        size_t hn = 0, since_drain = 0;
        for (size_t k = 0; k < na; k++)
            if (head_before(act[k], cut))
                act[hn++] = act[k];
        for (size_t i = hn / 2; i-- > 0;)
            sift_down(act, hn, i);
        for (;;) {
            uint64_t bk = hn ? merge_key(&act[0]->keep[act[0]->keep_pos]) : UINT64_MAX;
            mark_req *m = p->marks;
            if (m && m->stamp < cut && (!hn || m->stamp <= bk / 2)) {
                write_marker(c, p, m->stamp < p->last_cut ? p->last_cut : m->stamp, m->label, strlen(m->label), 0);
                m->stamp = UINT64_MAX; /* written; answered below */
                p->marks = m->next;
                m->next = NULL;
                flush_batch(c, p);
                answer(m->client, p->info.failed ? "err the trace could not be written" : "ok");
                free(m);
                continue;
            }
            if (!hn)
                break;
            slot_state *ss = act[0];
            const lh_raw *e = &ss->keep[ss->keep_pos];
            if (e->kind == LH_RAW_BLOB) {
                uint64_t k = LH_RAW_BLOB_RECORDS(e->size);
                if (e->size > LH_BLOB_MAX || ss->keep_pos + 1 + k > ss->keep_n) {
                    ss->keep_pos = ss->keep_n; /* not a recorder's blob */
                } else {
                    write_blob(c, p, e, ss->index);
                    ss->keep_pos += 1 + k;
                }
            } else {
                if (e->kind < LH_EV_KIND_COUNT)
                    emit(c, p, e, ss->index);
                ss->keep_pos++;
            }
            /* A long write must not leave the program's rings full: what they
             * got meanwhile is stamped after the cut and waits for the next. */
            if (++since_drain == DRAIN_EVERY) {
                since_drain = 0;
                drain_some(p, 0);
                __atomic_store_n(&p->h->heartbeat_ns, mono_ns(), __ATOMIC_RELAXED);
            }
            if (!head_before(ss, cut))
                act[0] = act[--hn];
            sift_down(act, hn, 0);
        }
        flush_batch(c, p);
        free(act);
        /* Retired threads whose records are all out. */
        size_t kept = 0;
        for (size_t i = 0; i < p->n_retired; i++) {
            if (p->retired[i].keep_pos < p->retired[i].keep_n)
                p->retired[kept++] = p->retired[i];
            else
                free(p->retired[i].keep);
        }
        p->n_retired = kept;
    }
    if (cut != UINT64_MAX && cut > p->last_cut)
        p->last_cut = cut;
    uint64_t now = mono_ns();
    if (p->w && !p->info.failed) {
        if (c->opt.rss_interval_ms && !p->dead
            && (final || now - p->last_rss_ns >= (uint64_t)c->opt.rss_interval_ms * 1000000u)) {
            write_rss(p);
            p->last_rss_ns = now;
        }
        uint64_t lost = lost_now(p);
        if (lost != p->lost_written) {
            Lh__Lost l;
            lh__lost__init(&l);
            l.has_time_us = l.has_count = 1;
            l.time_us = to_us(p, p->last_cut);
            l.count = lost;
            l.reason = "the collector fell behind (ring full) or no thread slot was free";
            check(p, lh_writer_put(p->w, LH_CHUNK_LOST, &l.base, l.time_us, l.time_us));
            p->lost_written = lost;
        }
    }
    p->last_write_ns = now;
}

static void record_trace(lh_collector *c, proc *p)
{
    lh_collect_trace *t = realloc(c->traces, (size_t)(c->n_traces + 1) * sizeof(*t));
    if (!t)
        return;
    c->traces = t;
    p->info.path = strdup(p->trace_path);
    if (p->h)
        p->info.py_alloc = __atomic_load_n(&p->h->py_alloc, __ATOMIC_ACQUIRE);
    c->traces[c->n_traces++] = p->info;
}

/* The end of p's trace: what was drained written (final: whatever its
 * stamp), then the footer, or after a failed write the note of how much is
 * missing; markers still waiting answered with unplaced; the file closed
 * and the trace listed. */
static void close_trace(lh_collector *c, proc *p, int final, int status, const char *unplaced)
{
    if (p->w && !p->info.failed) {
        write_round(c, p, final);
        uint64_t end = to_us(p, stamp_now(p->h));
        uint64_t lost = lost_now(p);
        if (__atomic_load_n(&p->h->gave_up_ns, __ATOMIC_ACQUIRE)) {
            /* The process stopped recording early: say so (damaged), never complete. */
            Lh__Lost l;
            lh__lost__init(&l);
            l.has_time_us = l.has_count = l.has_damaged = 1;
            l.time_us = p->last_us;
            l.count = lost;
            l.damaged = 1;
            l.reason = "the program stopped recording early: it saw no sign of its collector for 2 s";
            check(p, lh_writer_put(p->w, LH_CHUNK_LOST, &l.base, l.time_us, l.time_us));
        }
        check(p, lh_writer_finish(p->w, end, lost, status));
        p->info.finished = !p->info.failed;
        p->info.lost = lost;
    }
    if (p->w && p->info.failed) { /* the footer's write included */
        /* Drain to the end (counting), then make room and say what is missing. */
        write_round(c, p, 1);
        uint64_t unwritten = lost_now(p) + p->emitted - lh_writer_events_written(p->w);
        char reason[256];
        snprintf(reason, sizeof(reason), "writing the trace failed (%s); it ends early",
                 strerror(p->write_errno ? p->write_errno : EIO));
        uint64_t before = lh_writer_events_written(p->w);
        if (lh_writer_salvage(p->w, 8 << 10, to_us(p, stamp_now(p->h)), unwritten, reason) == 0) {
            p->info.lost = unwritten + (before - lh_writer_events_written(p->w));
            p->info.events = lh_writer_events_written(p->w);
        } else {
            p->info.lost = unwritten;
            fprintf(stderr, "leakhunt: %s: could not even note in it that it is damaged\n", p->trace_path);
        }
    }
    if (p->w)
        p->info.bytes = lh_writer_offset(p->w);
    for (mark_req *m = p->marks, *n; m; m = n) {
        n = m->next;
        answer(m->client, unplaced);
        free(m);
    }
    p->marks = NULL;
    if (p->fd >= 0) {
        struct stat st;
        if (p->info.failed)
            fprintf(stderr, "leakhunt: cannot write %s: %s; the trace ends early, %llu events are missing "
                            "(pid %d ran on unchanged)\n", p->trace_path,
                    strerror(p->write_errno ? p->write_errno : EIO), (unsigned long long)p->info.lost, p->pid);
        else if (fstat(p->fd, &st) == 0 && st.st_nlink == 0)
            fprintf(stderr, "leakhunt: %s was removed while recording; the trace is lost\n", p->trace_path);
        close(p->fd);
        p->fd = -1;
    }
    if (p->w || p->info.failed)
        record_trace(c, p);
    lh_writer_free(p->w);
    p->w = NULL;
}

/* FINAL: the process is gone (or exec'd, or ended): its trace ends. A
 * stopped one's ended at the stop; one that never had a trace has none. */
static void finish(lh_collector *c, proc *p)
{
    if (p->state == P_LIVE)
        close_trace(c, p, 1, p->wait_status >= 0 ? p->wait_status : p->h->exit_status,
                    "err the process ended before the marker could be placed");
    p->state = P_DONE;
}

static void release_proc(proc *p)
{
    unlink(p->ring_path);
    if (p->pidfd >= 0)
        close(p->pidfd);
    for (uint32_t i = 0; i < p->h->n_slots; i++)
        free(p->slots[i].keep);
    for (size_t i = 0; i < p->n_retired; i++)
        free(p->retired[i].keep);
    free(p->retired);
    free(p->slots);
    munmap(p->h, p->map_bytes);
}

/* --- control socket --------------------------------------------------------------- */

static proc *live_proc_of(lh_collector *c, int pid)
{
    proc *found = NULL;
    for (proc *p = c->procs; p; p = p->next)
        if (p->pid == pid && p->state == P_LIVE)
            found = p; /* the newest ring of that pid */
    return found;
}

static void request(lh_collector *c, int client, char *line)
{
    int pid = 0, off = 0;
    unsigned long long ns = 0;
    if (sscanf(line, LH_CTL_MARK " %d %llu %n", &pid, &ns, &off) == 2 && off) {
        proc *p = live_proc_of(c, pid);
        if (!p) {
            answer(client, "err that process is not being recorded (any more)");
            return;
        }
        mark_req *m = calloc(1, sizeof(*m));
        if (!m) {
            answer(client, "err out of memory");
            return;
        }
        snprintf(m->label, sizeof(m->label), "%s", line + off);
        m->stamp = ns_to_stamp(p, ns);
        m->client = client;
        mark_req **pp = &p->marks; /* in stamp order */
        while (*pp && (*pp)->stamp <= m->stamp)
            pp = &(*pp)->next;
        m->next = *pp;
        *pp = m;
    } else if (sscanf(line, LH_CTL_TRACE " %d", &pid) == 1) {
        /* Where pid's trace is being written (leakhunt-top): its device
         * and inode too, so the asker opens exactly that file. */
        proc *p = live_proc_of(c, pid);
        struct stat st;
        char out[PATH_MAX + 64];
        if (!p || p->fd < 0 || !p->w || fstat(p->fd, &st) < 0) {
            answer(client, "err that process is not being recorded (any more)");
            return;
        }
        snprintf(out, sizeof(out), "ok %llu %llu %s", (unsigned long long)st.st_dev,
                 (unsigned long long)st.st_ino, p->trace_path);
        answer(client, out);
    } else if (sscanf(line, LH_CTL_STOP " %d", &pid) == 1) {
        answer(client, lh_collect_stop(c, pid) == 0 ? "ok" : "err that process is not being recorded (any more)");
    } else {
        answer(client, "err unknown request");
    }
}

static void forget_client(lh_collector *c, int k)
{
    int fd = c->clients[k];
    for (proc *p = c->procs; p; p = p->next)
        for (mark_req *m = p->marks; m; m = m->next)
            if (m->client == fd)
                m->client = -1;
    close(fd);
    c->clients[k] = c->clients[--c->n_clients];
}

static void serve(lh_collector *c, struct pollfd *pf, int n)
{
    for (int i = 0; i < n; i++) {
        if (!pf[i].revents)
            continue;
        if (pf[i].fd == c->listen_fd) {
            int fd = accept4(c->listen_fd, NULL, NULL, SOCK_CLOEXEC | SOCK_NONBLOCK);
            if (fd < 0)
                continue;
            struct ucred cr;
            socklen_t len = sizeof(cr);
            /* Only our own user (or root) may mark or stop our recordings. */
            if (c->n_clients == MAX_CLIENTS || getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cr, &len) < 0
                || (cr.uid != geteuid() && cr.uid != 0)) {
                close(fd);
                continue;
            }
            c->clients[c->n_clients++] = fd;
            continue;
        }
        for (int k = 0; k < c->n_clients; k++) {
            if (c->clients[k] != pf[i].fd)
                continue;
            char buf[1024];
            ssize_t got = recv(pf[i].fd, buf, sizeof(buf) - 1, 0);
            if (got <= 0) {
                forget_client(c, k);
                break;
            }
            buf[got] = 0;
            buf[strcspn(buf, "\n")] = 0;
            request(c, pf[i].fd, buf);
            break;
        }
    }
}

/* --- the loop ------------------------------------------------------------------ */

static void on_wake(int sig) { (void)sig; }

lh_collector *lh_collect_open(const lh_collect_options *opt)
{
    lh_collector *c = calloc(1, sizeof(*c));
    if (!c)
        return NULL;
    c->opt = *opt;
    snprintf(c->session, sizeof(c->session), "%s", opt->session);
    snprintf(c->output, sizeof(c->output), "%s", opt->output);
    c->opt.session = c->session;
    c->opt.output = c->output;
    c->tail = &c->procs;
    c->wake_fd = -1;
    c->batch = malloc(WRITE_BATCH * sizeof(lh_event));
    struct sockaddr_un sa = { .sun_family = AF_UNIX };
    int n = snprintf(sa.sun_path, sizeof(sa.sun_path), "%s/ctl", c->session);
    c->listen_fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    if (!c->batch || c->listen_fd < 0 || n >= (int)sizeof(sa.sun_path)
        || bind(c->listen_fd, (struct sockaddr *)&sa, sizeof(sa)) < 0 || listen(c->listen_fd, 16) < 0) {
        fprintf(stderr, "leakhunt-record: cannot listen on %s/ctl: %s\n", c->session, strerror(errno));
        if (c->listen_fd >= 0)
            close(c->listen_fd);
        free(c->batch);
        free(c);
        return NULL;
    }
    /* One descriptor per traced process (its trace and its pidfd). */
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
        rl.rlim_cur = rl.rlim_max;
        setrlimit(RLIMIT_NOFILE, &rl);
    }
    struct sigaction wake = { .sa_handler = on_wake };
    sigemptyset(&wake.sa_mask);
    sigaction(SIGURG, &wake, NULL); /* a program's nudge: interrupts poll */
    return c;
}

/* An exec began a while ago and this image is gone: the process no
 * longer maps our ring (the new image's ring, if any, makes add_ring end
 * this one sooner). */
static int exec_done(proc *p, uint64_t now)
{
    uint64_t at = __atomic_load_n(&p->h->exec_ns, __ATOMIC_ACQUIRE);
    if (!at || p->dead || now < at + ENDED_GRACE_NS)
        return 0;
    char path[64];
    snprintf(path, sizeof(path), "/proc/%d/maps", p->pid);
    FILE *f = fopen(path, "r");
    if (!f)
        return 1;
    const char *name = strrchr(p->ring_path, '/');
    char line[8192];
    int mapped = 0;
    while (!mapped && fgets(line, sizeof(line), f))
        mapped = strstr(line, name) != NULL;
    fclose(f);
    return !mapped;
}

static int fork_pending(const lh_collector *c, const proc *p, uint64_t now)
{
    (void)c;
    uint64_t forks = __atomic_load_n(&p->h->forks, __ATOMIC_RELAXED);
    return forks > p->children_seen && now - p->ended_seen_ns <= FORK_WAIT_NS;
}

void lh_collect_step(lh_collector *c, int timeout_ms)
{
    /* Busy (the last step drained something): look again at once, the
     * rings fill in milliseconds; idle: sleep up to timeout_ms (a program
     * whose ring fills half way nudges us with SIGURG anyway). */
    uint64_t drained = 0;
    for (proc *p = c->procs; p; p = p->next)
        drained += p->drained;
    if (drained != c->drained_before && timeout_ms > 1)
        timeout_ms = 1;
    c->drained_before = drained;
    struct pollfd pf[MAX_CLIENTS + 2];
    int n = 0;
    pf[n++] = (struct pollfd){ c->listen_fd, POLLIN, 0 };
    for (int k = 0; k < c->n_clients; k++)
        pf[n++] = (struct pollfd){ c->clients[k], POLLIN, 0 };
    /* Last, so serve() never sees it: it only ends the wait. */
    struct pollfd *wake = &pf[n];
    *wake = (struct pollfd){ c->wake_fd, POLLIN, 0 };
    if (poll(pf, (nfds_t)n + (c->wake_fd >= 0), timeout_ms) > 0)
        serve(c, pf, n);
    if (c->wake_fd >= 0 && wake->revents)
        c->wake_fd = -1; /* once: a pidfd stays readable */
    uint64_t now = mono_ns();
    scan_session(c);
    for (proc **pp = &c->procs; *pp;) {
        proc *p = *pp;
        if (p->state == P_DONE) {
            /* kept until its children's rings came, then released */
            if (!fork_pending(c, p, now)) {
                *pp = p->next;
                if (c->tail == &p->next)
                    c->tail = pp;
                release_proc(p);
                free(p);
                continue;
            }
            pp = &p->next;
            continue;
        }
        /* Signs of life, and where to send a nudge (a lingering collector is
         * another process than the one that found the ring). */
        __atomic_store_n(&p->h->collector_pid, (int32_t)getpid(), __ATOMIC_RELAXED);
        __atomic_store_n(&p->h->heartbeat_ns, now, __ATOMIC_RELAXED);
        if (!p->dead && p->pidfd >= 0) {
            struct pollfd d = { p->pidfd, POLLIN, 0 };
            if (poll(&d, 1, 0) > 0)
                p->dead = 1;
        }
        int ended = __atomic_load_n(&p->h->state, __ATOMIC_ACQUIRE) == LH_PROC_ENDED
                 || exec_done(p, now);
        if (ended && !p->ended_seen_ns)
            p->ended_seen_ns = now;
        if (p->dead && !p->ended_seen_ns)
            p->ended_seen_ns = now;
        int final = p->dead || (ended && now - p->ended_seen_ns >= ENDED_GRACE_NS);
        if (p->state == P_STOPPING) {
            drain(p);
            if (final)
                finish(c, p);
        } else if (final) {
            finish(c, p);
        } else {
            drain(p);
            size_t kept = 0;
            for (uint32_t i = 0; i < p->h->n_slots; i++)
                kept += p->slots[i].keep_n - p->slots[i].keep_pos;
            for (size_t i = 0; i < p->n_retired; i++)
                kept += p->retired[i].keep_n - p->retired[i].keep_pos;
            if (p->marks || kept >= KEEP_FORCE || now - p->last_write_ns >= (uint64_t)c->opt.flush_ms * 1000000u)
                write_round(c, p, 0);
        }
        pp = &p->next;
    }
}

void lh_collect_wake_on(lh_collector *c, int fd) { c->wake_fd = fd; }

void lh_collect_exit_status(lh_collector *c, int pid, int wait_status)
{
    for (proc *p = c->procs; p; p = p->next)
        if (p->pid == pid && p->state != P_DONE) {
            p->wait_status = wait_status;
            p->dead = 1;
        }
}

static int pid_state(lh_collector *c, int pid)
{
    int seen = 0;
    for (proc *p = c->procs; p; p = p->next)
        if (p->pid == pid) {
            if (p->state == P_LIVE)
                return 0;
            seen = 1; /* done, or stopped: its trace is complete */
        }
    for (int i = 0; i < c->n_traces; i++)
        if (c->traces[i].pid == pid)
            seen = 1;
    return seen ? 1 : -1;
}

int lh_collect_pid_done(lh_collector *c, int pid)
{
    /* Done is decided after one more look at the session: an image the
     * process exec'd just before it ended may have published its ring
     * after the last step's scan (the step that finished the old one). */
    int done = pid_state(c, pid);
    if (done == 1) {
        scan_session(c);
        done = pid_state(c, pid);
    }
    return done;
}

int lh_collect_live(lh_collector *c)
{
    int live = 0;
    uint64_t now = mono_ns();
    for (proc *p = c->procs; p; p = p->next)
        live += p->state != P_DONE || fork_pending(c, p, now);
    return live;
}

int lh_collect_stop(lh_collector *c, int pid)
{
    proc *p = live_proc_of(c, pid);
    if (!p)
        return -1;
    __atomic_store_n(&p->h->stop, 1, __ATOMIC_RELEASE);
    p->info.stopped = 1;
    close_trace(c, p, 0, -1, "err the recording was stopped");
    p->state = P_STOPPING; /* drained and discarded until the process notices */
    return 0;
}

int lh_collect_traces(lh_collector *c, const lh_collect_trace **out)
{
    *out = c->traces;
    return c->n_traces;
}

void lh_collect_close(lh_collector *c)
{
    if (!c)
        return;
    for (proc *p = c->procs, *n; p; p = n) {
        n = p->next;
        if (p->state != P_DONE)
            finish(c, p);
        release_proc(p);
        free(p);
    }
    for (int k = 0; k < c->n_clients; k++)
        close(c->clients[k]);
    close(c->listen_fd);
    char path[PATH_MAX + 8];
    snprintf(path, sizeof(path), "%s/ctl", c->session);
    unlink(path);
    rmdir(c->session);
    for (int i = 0; i < c->n_traces; i++)
        free((char *)c->traces[i].path);
    free(c->traces);
    free(c->batch);
    free(c);
}
