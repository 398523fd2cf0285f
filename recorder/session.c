/*
 * session.c - the traced process's side of a recording: its ring file.
 *
 * The process's recorder lifecycle, one state at a time. lh_state holds
 * LH_STARTING, LH_RECORDING, LH_STOPPED (FAILED is STOPPED from the start,
 * a FORKED CHILD is RECORDING into a ring of its own, ATTACHED is
 * RECORDING with lh_attached set); the ring header's state tells the
 * collector (LH_PROC_RECORDING, LH_PROC_ENDED):
 *
 *   STARTING --lh_session_start--> RECORDING --lh_session_end--> STOPPED
 *                                   (exec: lh_session_exec_begin, and
 *                                    lh_session_exec_failed if it fails)
 *      |                              |  ^                          ^
 *      |  (no session, bad settings,  |  |  fork: the child makes    |
 *      |   no ring) ---> FAILED       |  |  its own ring             |
 *      |                              v  |  (lh_session_fork_child)  |
 *      +--leakhunt_attach (attach.c)--+  +-- FORKED CHILD            |
 *                                     |                              |
 *                                     +-- the collector's stop flag -+
 *                                         (seen by lh_session_check)
 *
 * RECORDING: hooks capture into the ring, up to the exec that replaces
 * the image (a failed exec records on). STOPPED: _exit or a stop
 * request; hooks pass every call through. FAILED: hooks pass through
 * from the start, with one message saying why. A process that is killed
 * or crashes never leaves RECORDING: the collector sees it die and drains
 * what the ring holds, which is every event whose hook returned.
 *
 * The ring file is made in the session directory leakhunt-record created
 * (LEAKHUNT_SESSION): checked to be a directory of ours that nobody else
 * can write, opened without following links, created with O_EXCL as
 * tmp.<pid>.<n>, sized, mapped, closed and linked as ring.<pid>.<n>. No
 * descriptor stays open in the program.
 */
#include <errno.h>
#include <fcntl.h>
#include <link.h>
#include <linux/membarrier.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "attach.h"
#include "rec.h"

LH_HIDDEN lh_ring_header *lh_ring;
static uint64_t ring_bytes;
static unsigned ring_seq;
static unsigned long long mod_adds, mod_subs;
static uint64_t ring_made_ns; /* when this process's ring was made */

/* Our start time, as the collector reads it from /proc/PID/stat: the two
 * must agree for it to take the ring as ours and not a reused pid's. */
static uint64_t start_ticks_of_self(void)
{
    char buf[1024];
    const char *f = lh_read_text("/proc/self/stat", buf, sizeof(buf)) > 0 ? lh_stat_field(buf, 22) : NULL;
    return f ? strtoull(f, NULL, 10) : 0;
}

/* The session directory: a directory, ours (or root's when we are root),
 * writable by nobody else. */
static int session_dir_ok(const char *dir)
{
    struct stat st;
    if (lstat(dir, &st) < 0 || !S_ISDIR(st.st_mode))
        return 0;
    if (st.st_uid != geteuid() && st.st_uid != 0)
        return 0;
    return !(st.st_mode & 022);
}

static void fill_identity(lh_ring_header *h, int parent_trace_pid)
{
    h->pid = (int32_t)getpid();
    h->ppid = (int32_t)getppid();
    h->parent_trace_pid = parent_trace_pid;
    h->attached = lh_attached;
    h->start_ticks = start_ticks_of_self();
    struct timespec rt;
    clock_gettime(CLOCK_REALTIME, &rt);
    h->t0_stamp = lh_stamp();
    h->start_realtime_ns = (uint64_t)rt.tv_sec * 1000000000u + (uint64_t)rt.tv_nsec;
    lh_clock_describe(&h->use_tsc, &h->tsc0, &h->ns0, &h->ns_per_tick);
    h->depth = lh_cfg.depth;
    h->sample_interval = lh_sample_bytes;
    snprintf(h->unwind, sizeof(h->unwind), "%s", lh_cfg.unwind_fp ? "fp" : "libunwind");
    h->exit_status = -1;
    h->py_alloc = lh_pyalloc_state;
    ssize_t n = readlink("/proc/self/exe", h->exe, sizeof(h->exe) - 1);
    h->exe[n > 0 ? n : 0] = 0;
    n = lh_read_text("/proc/self/cmdline", h->cmdline, sizeof(h->cmdline));
    h->cmdline_len = n > 0 ? (uint32_t)n : 0;
}

/* Whether this process is registered for MEMBARRIER_CMD_GLOBAL_EXPEDITED,
 * which lets the collector give its threads' entry stores the barrier they
 * would otherwise pay for on every event (ring.h). Per process image: a
 * fork's child and an exec's new image register again. */
static uint32_t register_membarrier(void)
{
#ifdef SYS_membarrier
    if (getenv("LEAKHUNT_NO_MEMBARRIER")) /* tests: the locked store on every event */
        return 0;
    long cmds = syscall(SYS_membarrier, MEMBARRIER_CMD_QUERY, 0, 0);
    if (cmds < 0 || !(cmds & MEMBARRIER_CMD_GLOBAL_EXPEDITED) || !(cmds & MEMBARRIER_CMD_REGISTER_GLOBAL_EXPEDITED))
        return 0;
    return syscall(SYS_membarrier, MEMBARRIER_CMD_REGISTER_GLOBAL_EXPEDITED, 0, 0) == 0;
#else
    return 0;
#endif
}

/* Make, map and publish a ring file; NULL (message printed) on failure. */
static lh_ring_header *make_ring(uint64_t *bytes_out)
{
    const char *dir = lh_cfg.session;
    if (!dir[0]) {
        lh_message("LEAKHUNT_SESSION is not set (start programs with leakhunt-record); not recording");
        return NULL;
    }
    if (!session_dir_ok(dir)) {
        lh_message("%s is not a private leakhunt session directory; not recording", dir);
        return NULL;
    }
    /* Fewer slots when the address space is short (RLIMIT_AS). */
    static const uint32_t slot_tries[] = { LH_RING_SLOTS, 64, 16, 4 };
    static const uint32_t node_tries[] = { LH_RING_NODES, LH_RING_NODES / 4, LH_RING_NODES / 16, 1u << 16 };
    char tmp[4200], final[4200];
    for (int attempt = 0; attempt < 100; attempt++) {
        unsigned seq = __atomic_fetch_add(&ring_seq, 1, __ATOMIC_RELAXED);
        snprintf(tmp, sizeof(tmp), "%s/tmp.%d.%u", dir, (int)getpid(), seq);
        snprintf(final, sizeof(final), "%s/ring.%d.%u", dir, (int)getpid(), seq);
        int fd = open(tmp, O_RDWR | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
        if (fd < 0 && errno == EEXIST)
            continue;
        if (fd < 0) {
            lh_message("cannot create %s: %s; not recording", tmp, strerror(errno));
            return NULL;
        }
        lh_ring_header *h = NULL;
        uint64_t bytes = 0;
        uint32_t slots = 0, nodes = 0;
        for (size_t t = 0; t < sizeof(slot_tries) / sizeof(slot_tries[0]) && !h; t++) {
            slots = slot_tries[t];
            nodes = node_tries[t];
            uint64_t slots_bytes = (uint64_t)slots * lh_ring_slot_bytes(LH_RING_EVENTS);
            bytes = LH_RING_HEADER + slots_bytes + (uint64_t)nodes * 12 + LH_RING_PYLOG;
            bytes = (bytes + 4095) & ~(uint64_t)4095;
            /* Past RLIMIT_FSIZE, ftruncate raises SIGXFSZ, which kills. */
            struct rlimit fs;
            if (getrlimit(RLIMIT_FSIZE, &fs) == 0 && fs.rlim_cur != RLIM_INFINITY && bytes > fs.rlim_cur) {
                errno = EFBIG;
                continue;
            }
            if (ftruncate(fd, (off_t)bytes) < 0)
                continue;
            void *p = mmap(NULL, bytes, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
            if (p != MAP_FAILED)
                h = p;
        }
        int err = errno;
        close(fd);
        if (!h) {
            unlink(tmp);
            lh_message("cannot make a ring file in %s: %s%s; not recording", dir, strerror(err),
                       err == EFBIG ? " (the file size limit, ulimit -f, is below what the ring needs)" : "");
            return NULL;
        }
        h->version = LH_RING_VERSION;
        h->header_size = LH_RING_HEADER;
        h->file_size = bytes;
        h->n_slots = slots;
        h->ring_records = LH_RING_EVENTS;
        h->node_cap = nodes;
        h->pylog_cap = LH_RING_PYLOG;
        h->slots_off = LH_RING_HEADER;
        h->nodes_off = h->slots_off + (uint64_t)slots * lh_ring_slot_bytes(LH_RING_EVENTS);
        h->pylog_off = h->nodes_off + (uint64_t)nodes * 12;
        h->state = LH_PROC_RECORDING;
        h->node_count = 1; /* id 0 is the empty stack */
        h->membarrier = register_membarrier();
        ring_made_ns = lh_mono_ns();
        *bytes_out = bytes;
        return h;
    }
    lh_message("cannot create a ring file in %s; not recording", dir);
    return NULL;
}

/* Visible to the collector: magic last, then the name. link(), not
 * rename(): the image before an exec may have left a ring of the same
 * name that the collector has not opened yet, and it must not be
 * replaced. */
static int publish_ring(lh_ring_header *h)
{
    char tmp[4200], final[4200];
    unsigned seq = ring_seq - 1;
    snprintf(tmp, sizeof(tmp), "%s/tmp.%d.%u", lh_cfg.session, (int)getpid(), seq);
    __atomic_store_n(&h->magic, LH_RING_MAGIC, __ATOMIC_RELEASE);
    for (int attempt = 0; attempt < 1000; attempt++, seq++) {
        snprintf(final, sizeof(final), "%s/ring.%d.%u", lh_cfg.session, (int)getpid(), seq);
        if (link(tmp, final) == 0) {
            unlink(tmp);
            ring_seq = seq + 1;
            return 0;
        }
        if (errno != EEXIST)
            break;
    }
    lh_message("cannot publish %s: %s; not recording", final, strerror(errno));
    unlink(tmp);
    return -1;
}

static void *ring_at(lh_ring_header *h, uint64_t off) { return (char *)h + off; }

lh_ring_slot *lh_ring_slot_at(lh_ring_header *h, uint32_t i)
{
    return ring_at(h, h->slots_off + (uint64_t)i * lh_ring_slot_bytes(h->ring_records));
}

static void bind_tables(lh_ring_header *h)
{
    lh_stack_bind(ring_at(h, h->nodes_off), (uint64_t *)ring_at(h, h->nodes_off + (uint64_t)h->node_cap * 4),
                  h->node_cap, &h->node_count);
    lh_python_bind(ring_at(h, h->pylog_off), h->pylog_cap, &h->pylog_len, &h->py_count);
}

int lh_session_start(int parent_trace_pid)
{
    if (lh_sample_init(lh_cfg.sample, lh_cfg.sample_seed) < 0) {
        lh_message("LEAKHUNT_SAMPLE: no memory for the set of sampled blocks; not recording");
        return -1;
    }
    uint64_t bytes;
    lh_ring_header *h = make_ring(&bytes);
    if (!h)
        return -1;
    fill_identity(h, parent_trace_pid);
    lh_ring = h;
    ring_bytes = bytes;
    bind_tables(h);
    if (publish_ring(h) < 0) {
        lh_ring = NULL;
        munmap(h, bytes);
        return -1;
    }
    lh_session_modules_changed(1);
    return 0;
}

void lh_session_end(int wait_status)
{
    lh_ring_header *h = lh_ring;
    if (!h)
        return;
    __atomic_store_n(&lh_state, LH_STOPPED, __ATOMIC_RELEASE);
    if (wait_status >= 0)
        h->exit_status = wait_status;
    __atomic_store_n(&h->state, LH_PROC_ENDED, __ATOMIC_RELEASE);
    lh_session_wake();
}

/* An exec is about to replace this image; if it fails, recording goes on. */
void lh_session_exec_begin(void)
{
    if (lh_ring)
        __atomic_store_n(&lh_ring->exec_ns, lh_mono_ns(), __ATOMIC_RELEASE);
}

void lh_session_exec_failed(void)
{
    if (lh_ring)
        __atomic_store_n(&lh_ring->exec_ns, 0, __ATOMIC_RELEASE);
}

/* Nudge the collector (a full ring, an end): a signal it ignores unless
 * it is the collector, sent only while it shows signs of life. */
void lh_session_wake(void)
{
    lh_ring_header *h = lh_ring;
    if (!h)
        return;
    pid_t c = __atomic_load_n(&h->collector_pid, __ATOMIC_RELAXED);
    uint64_t beat = __atomic_load_n(&h->heartbeat_ns, __ATOMIC_RELAXED);
    if (c > 0 && beat && lh_mono_ns() < beat + 10000000000ull) /* not a pid long reused */
        kill(c, SIGURG);
}

/* Alive: it beat lately, or its process is still there (a long write on
 * a loaded machine can leave seconds between beats; a gone process is
 * gone). Before its first round the collector has not found the ring yet:
 * it counts as alive for the first seconds. */
int lh_session_collector_alive(void)
{
    lh_ring_header *h = lh_ring;
    if (!h)
        return 0;
    uint64_t beat = __atomic_load_n(&h->heartbeat_ns, __ATOMIC_RELAXED), now = lh_mono_ns();
    if (!beat)
        return now - ring_made_ns < 5000000000ull;
    if (now < beat + 2000000000ull)
        return 1;
    pid_t c = __atomic_load_n(&h->collector_pid, __ATOMIC_RELAXED);
    return c > 0 && (kill(c, 0) == 0 || errno == EPERM);
}

/* Remove libleakhunt.so from LD_PRELOAD (--no-follow: nor what a child execs). */
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

/* Counted in the parent, before the child exists: a child that has not
 * run yet when its parent ends (a daemon's double fork on a busy machine)
 * is still waited for. A fork that fails keeps the collector waiting for
 * it a bounded time (FORK_WAIT_NS in collect.c). */
void lh_session_fork_prepare(void)
{
    if (lh_state == LH_RECORDING && lh_cfg.follow_fork && lh_ring)
        __atomic_add_fetch(&lh_ring->forks, 1, __ATOMIC_RELEASE);
}

void lh_session_fork_child(void)
{
    lh_ring_header *old = lh_ring;
    uint64_t old_bytes = ring_bytes;
    lh_ring = NULL;
    if (lh_state != LH_RECORDING || !lh_cfg.follow_fork || !old) {
        lh_state = LH_STOPPED;
        if (!lh_cfg.follow_fork)
            drop_preload();
        if (old)
            munmap(old, old_bytes);
        return;
    }
    uint64_t bytes;
    lh_ring_header *h = make_ring(&bytes);
    if (!h) {
        lh_state = LH_STOPPED;
        __atomic_sub_fetch(&old->forks, 1, __ATOMIC_RELEASE); /* no ring will come */
        munmap(old, old_bytes);
        return;
    }
    fill_identity(h, old->pid);
    lh_ring = h;
    ring_bytes = bytes;
    /* Our trie and Python frames carry over: copy them into our ring. */
    bind_tables(h);
    mod_adds = mod_subs = 0;
    if (publish_ring(h) < 0) {
        lh_ring = NULL;
        lh_state = LH_STOPPED;
        __atomic_sub_fetch(&old->forks, 1, __ATOMIC_RELEASE);
        munmap(old, old_bytes);
        munmap(h, bytes);
        return;
    }
    munmap(old, old_bytes);
    lh_session_modules_changed(1);
}

/* --- module maps ------------------------------------------------------------ */

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

/* A snapshot goes into this thread's ring if the loader's counters moved
 * (force: always). Recursion guard set. */
void lh_session_modules_changed(int force)
{
    if (!lh_ring)
        return;
    lh_tbuf *tb = lh_tbuf_self();
    static int no_slot_in_loader; /* a thread without a slot: not seen by fork, accepted */
    int *gate = tb ? &tb->in_loader : &no_slot_in_loader;
    lh_forkgate_enter(gate);
    mod_counts c = { 0, 0 };
    dl_iterate_phdr(read_counts, &c);
    if (!force && c.adds == __atomic_load_n(&mod_adds, __ATOMIC_RELAXED)
        && c.subs == __atomic_load_n(&mod_subs, __ATOMIC_RELAXED)) {
        lh_forkgate_leave(gate);
        return;
    }
    if (c.subs != __atomic_load_n(&mod_subs, __ATOMIC_RELAXED))
        lh_unwind_flush(); /* unloaded behind dlclose's back (inside libc) */
    __atomic_store_n(&mod_adds, c.adds, __ATOMIC_RELAXED);
    __atomic_store_n(&mod_subs, c.subs, __ATOMIC_RELAXED);
    Lh__ModuleMap *m = lh_modules_snapshot(0);
    lh_forkgate_leave(gate);
    if (!m)
        return;
    size_t n = protobuf_c_message_get_packed_size(&m->base);
    if (n <= LH_BLOB_MAX) {
        uint8_t *buf = lh_map_grow(NULL, 0, n ? n : 1);
        if (buf) {
            protobuf_c_message_pack(&m->base, buf);
            lh_tbuf_push_blob(LH_BLOB_MODULES, buf, n);
            munmap(buf, n ? n : 1);
        }
    }
    lh_modules_free(m);
}

/* Every few thousand events of a thread: requests from the collector, and
 * what only a running program can notice (modules loaded behind dlopen's
 * back, such as NSS's; new modules to patch in attach mode). */
void lh_session_check(void)
{
    lh_ring_header *h = lh_ring;
    if (!h)
        return;
    /* A stop request, or a collector that is gone (killed): the program
     * goes on with the hooks passing through, at no cost. */
    int stop = __atomic_load_n(&h->stop, __ATOMIC_ACQUIRE);
    if (stop || (__atomic_load_n(&h->heartbeat_ns, __ATOMIC_RELAXED) && !lh_session_collector_alive())) {
        if (!stop) /* if a collector reads this after all, the trace says it ends early */
            __atomic_store_n(&h->gave_up_ns, lh_mono_ns(), __ATOMIC_RELEASE);
        lh_session_end(-1);
        lh_attach_stopped();
        lh_pyalloc_stopped();
        return;
    }
    lh_session_modules_changed(0);
    lh_attach_tick();
}
