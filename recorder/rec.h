/*
 * rec.h - what the recorder's files share. Nothing here is exported from
 * libleakhunt.so except the hooks themselves and leakhunt_recorder_mark.
 *
 * The moving parts:
 *   hooks.c     interposed malloc family, mmap family, dlopen, fork, exec
 *   tbuf.c      per-thread event buffers and the thread registry
 *   stacks.c    unwinding and the stack trie (IP arrays -> node ids)
 *   python.c    Python frames spliced into the stacks of a traced CPython
 *   modules.c   module map snapshots (dl_iterate_phdr)
 *   output.c    the writer thread: merge, encode, write, markers, RSS
 *   config.c    LEAKHUNT_* environment, validated
 *   control.c   the FIFO leakhunt-mark writes to
 *   fdcheck.c   descriptors checked before each use (the program may reuse them)
 *   fdguard.c   the same for libunwind's pipe
 *   clock.c     event stamps
 */
#ifndef LH_REC_H
#define LH_REC_H

#include <pthread.h>
#include <sched.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/mman.h>
#include <sys/types.h>

#include "lh_trace.h"

#define LH_HIDDEN __attribute__((visibility("hidden")))
#define LH_TLS __attribute__((tls_model("initial-exec")))
#define LH_LIKELY(x) __builtin_expect(!!(x), 1)
#define LH_UNLIKELY(x) __builtin_expect(!!(x), 0)

#define LH_MAX_DEPTH 1024

/* The recorder's tables live in their own mappings, never in the heap it
 * traces: a new zeroed one (old NULL) or old grown, moved if need be;
 * NULL on failure. */
static inline void *lh_map_grow(void *old, size_t old_bytes, size_t new_bytes)
{
    void *p;
    if (old)
        p = mremap(old, old_bytes, new_bytes, MREMAP_MAYMOVE);
    else
        p = mmap(NULL, new_bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    return p == MAP_FAILED ? NULL : p;
}

/* One step of the recorder's hashes (stack IPs, Python code positions). */
static inline uint64_t lh_mix(uint64_t h, uint64_t v)
{
    h = (h ^ v) * 0x9E3779B97F4A7C15ull;
    return h ^ (h >> 29);
}

/* --- config.c ----------------------------------------------------------- */

typedef struct {
    char output[4096];    /* template: %p pid, %e exe name, %% percent */
    int unwind_fp;        /* 1 = frame pointers, 0 = libunwind */
    int depth;            /* frames kept per stack */
    int rss_interval_ms;  /* 0 = off */
    int flush_ms;         /* writer period */
    int trace_mmap;       /* anonymous mmap/munmap/mremap events */
    int follow_fork;      /* trace forked children too */
    int quiet;
    int python;           /* Python frames: LH_PY_OFF, LH_PY_INNER, LH_PY_FULL */
    char manifest[4096];  /* leakhunt-record's list of traces, "" = none */
} lh_config;

enum { LH_PY_OFF, LH_PY_INNER, LH_PY_FULL };

LH_HIDDEN extern lh_config lh_cfg;
/* Parse LEAKHUNT_*; on a bad value print one message naming it, return -1. */
LH_HIDDEN int lh_config_load(void);

/* --- raw events in per-thread buffers ----------------------------------- */

enum {
    LH_RAW_ALLOC = LH_EV_ALLOC,
    LH_RAW_FREE = LH_EV_FREE,
    LH_RAW_REALLOC = LH_EV_REALLOC,
    LH_RAW_MMAP = LH_EV_MMAP,
    LH_RAW_MUNMAP = LH_EV_MUNMAP,
    LH_RAW_MARK = 100, /* addr = char * label (malloc'ed by the recorder) */
};

typedef struct {
    uint64_t ns;   /* stamp (clock.c) */
    uint64_t addr;
    uint64_t size;
    uint64_t old_addr;
    uint32_t stack;
    uint32_t kind;
} lh_raw;

/* One thread's buffer: a chain of segments the writer steals whole. */
typedef struct lh_seg {
    struct lh_seg *next;
    size_t n, cap;
    lh_raw ev[];
} lh_seg;

typedef struct lh_tbuf {
    int lock;               /* spinlock: see lh_tb_lock */
    lh_seg *head, *tail;    /* events not yet taken by the writer */
    size_t queued;          /* events in the chain */
    uint64_t inflight_ns;   /* stamp of a realloc in progress, 0 = none */
    uint64_t last_ns;       /* stamp of the last event pushed */
    uint32_t index;         /* ThreadInfo.index */
    uint32_t tid;
    int announced;          /* ThreadInfo written */
    int exited;             /* thread gone; writer reclaims when drained */
    void *stack_cache;      /* stacks.c: recent IP arrays -> node id */
    void *py_cache;         /* python.c: recent code positions -> frame id */
    int help_writer;        /* set under lock: do a round after unlocking */
    struct lh_tbuf *next;   /* registry */
} lh_tbuf;

/* A thread's buffer lock. Only two parties ever want it: the thread
 * itself, for a few dozen instructions per event, and the writer, once
 * per round to take the chain. A spinlock's release is a plain store,
 * where a mutex unlock is another atomic operation on the hot path. */
/* output.c: a round on this thread if the writer is badly late. */
LH_HIDDEN void lh_output_help(void);

static inline void lh_tb_lock(lh_tbuf *tb)
{
    while (__atomic_exchange_n(&tb->lock, 1, __ATOMIC_ACQUIRE)) {
        for (int i = 0; __atomic_load_n(&tb->lock, __ATOMIC_RELAXED); i++)
            if (i > 100)
                sched_yield();
#if defined(__x86_64__) || defined(__i386__)
            else
                __builtin_ia32_pause();
#endif
    }
}

static inline void lh_tb_unlock(lh_tbuf *tb)
{
    __atomic_store_n(&tb->lock, 0, __ATOMIC_RELEASE);
    if (LH_UNLIKELY(tb->help_writer)) {
        tb->help_writer = 0;
        lh_output_help();
    }
}

/* --- tbuf.c --------------------------------------------------------------- */

/* clock.c: a stamp orders events (TSC ticks or CLOCK_MONOTONIC ns). */
LH_HIDDEN void lh_clock_init(void);
LH_HIDDEN uint64_t lh_stamp(void);
/* An event's stamp: lh_stamp, or a cheaper read while the process has one
 * thread (clock.c explains why that is enough). */
LH_HIDDEN uint64_t lh_stamp_event(void);
/* The process has, or is about to have, more than one thread. */
LH_HIDDEN void lh_clock_threads(void);
LH_HIDDEN uint64_t lh_stamp_to_ns(uint64_t stamp);
/* Writer, once per round: improve the ticks-to-ns ratio while it is young. */
LH_HIDDEN void lh_clock_refine(void);
LH_HIDDEN uint64_t lh_ns_to_stamp(uint64_t ns);
LH_HIDDEN uint64_t lh_mono_ns(void);
/* This thread's buffer, created on first use. NULL if none can be had. */
LH_HIDDEN lh_tbuf *lh_tbuf_self(void);
/* Append with tb->lock held. Returns 0, or -1 when out of memory (counted). */
LH_HIDDEN int lh_tbuf_push(lh_tbuf *tb, const lh_raw *ev);
LH_HIDDEN void lh_tbuf_thread_exit(void);
/* Registry walk for the writer (registry lock held inside). */
LH_HIDDEN lh_tbuf *lh_tbuf_first(void);
LH_HIDDEN void lh_tbuf_lock_registry(void);
LH_HIDDEN void lh_tbuf_unlock_registry(void);
/* Recycle an exited, drained buffer (registry lock held). */
LH_HIDDEN void lh_tbuf_reclaim_exited(void);
LH_HIDDEN lh_seg *lh_seg_new(size_t cap);
LH_HIDDEN void lh_seg_free(lh_seg *s);
/* Events that could not be recorded (no memory for buffers). */
LH_HIDDEN extern uint64_t lh_lost_events;
/* After fork in the child: forget every other thread's buffer. */
LH_HIDDEN void lh_tbuf_after_fork_child(void);

/* --- stacks.c --------------------------------------------------------------- */

/* Stack node id of the caller's stack (frames inside libleakhunt skipped),
 * 0 if none. Called with the recursion guard set. */
LH_HIDDEN uint32_t lh_stack_capture(lh_tbuf *tb);
/* Give a new thread buffer its stack cache (before its first capture). */
LH_HIDDEN void lh_stack_thread_init(lh_tbuf *tb);
/* New trie nodes since the last call, as a StackNodes message the writer
 * owns afterwards (free with lh_stack_nodes_free); NULL if none. */
LH_HIDDEN Lh__StackNodes *lh_stack_take_new(void);
LH_HIDDEN void lh_stack_nodes_free(Lh__StackNodes *m);
LH_HIDDEN void lh_stack_init(void);
LH_HIDDEN void lh_stack_fork_prepare(void);
LH_HIDDEN void lh_stack_fork_parent(void);
/* Child: keep the trie, but every node must be written again. */
LH_HIDDEN void lh_stack_fork_child(void);

/* --- python.c --------------------------------------------------------------- */

/* Detect a supported CPython in the process (from lh_stack_init). */
LH_HIDDEN void lh_python_init(void);
/* ips[0..n) innermost first; truncated: the unwinder stopped at its limit.
 * Writes the stack with Python frames (LH_PY_IP_BASE + id) to out (at most
 * cap): in inner mode the frames before the innermost interpreter frame,
 * then the whole Python stack; in full mode every interpreter frame
 * replaced by its own Python frames. Returns its length, or -1 when nothing
 * changes. Recursion guard set; never allocates from malloc. */
LH_HIDDEN int lh_python_splice(lh_tbuf *tb, void *const *ips, int n, int truncated, void **out,
                               int cap);
/* Inner mode (the default): how many raw frames to unwind first, since
 * the Python stack replaces everything outside the innermost eval frame;
 * 0 when the whole native stack is wanted. */
LH_HIDDEN int lh_python_window(void);
/* Whether ips[0..n) holds an interpreter eval frame. */
LH_HIDDEN int lh_python_has_eval(void *const *ips, int n);
/* New Python frames since the last call (writer; before lh_stack_take_new). */
LH_HIDDEN Lh__PyFrames *lh_python_take_new(void);
LH_HIDDEN void lh_python_frames_free(Lh__PyFrames *m);
LH_HIDDEN void lh_python_fork_prepare(void);
LH_HIDDEN void lh_python_fork_parent(void);
LH_HIDDEN void lh_python_fork_child(void);

/* --- modules.c -------------------------------------------------------------- */

/* Snapshot of the loaded modules at time_us (caller frees with
 * lh_modules_free). */
LH_HIDDEN Lh__ModuleMap *lh_modules_snapshot(uint64_t time_us);
LH_HIDDEN void lh_modules_free(Lh__ModuleMap *m);
/* Address range of libleakhunt.so's code, for skipping our own frames. */
LH_HIDDEN void lh_modules_self_range(uintptr_t *lo, uintptr_t *hi);

/* --- fdcheck.c ----------------------------------------------------------- */

/* A descriptor the recorder opened, with the identity of its file. */
typedef struct {
    int fd;
    dev_t dev;
    ino_t ino;
} lh_fd;

/* Remember fd (-1 or a failed fstat: f->fd = -1). 0 or -1. */
LH_HIDDEN int lh_fd_remember(lh_fd *f, int fd);
/* Does f->fd still name that file? */
LH_HIDDEN int lh_fd_ours(const lh_fd *f);
/* Close f->fd if it is still ours; f->fd = -1 either way. */
LH_HIDDEN void lh_fd_close(lh_fd *f);
/* A small file's contents, NUL-terminated (/proc files): length or -1. */
LH_HIDDEN ssize_t lh_read_small(const char *path, char *buf, size_t cap);

/* --- control.c ------------------------------------------------------------ */

/* The control FIFO (/tmp/.leakhunt-ctl.<pid>) for leakhunt-mark. */
LH_HIDDEN void lh_control_open(void);
LH_HIDDEN void lh_control_close(void);
/* Fork child: drop our descriptors, leave the parent's FIFO alone. */
LH_HIDDEN void lh_control_forget(void);
/* Requests waiting: markers (ns = CLOCK_MONOTONIC) and "stop". */
LH_HIDDEN void lh_control_poll(void (*on_mark)(uint64_t ns, const char *label), int *stop);

/* --- output.c ---------------------------------------------------------------- */

/* Open the trace and start the writer thread. 0 or -1 (message printed). */
LH_HIDDEN int lh_output_start(void);
/* Flush everything and write the footer (exit, exec). */
LH_HIDDEN void lh_output_finish(int exit_status);
/* A dlopen/dlclose changed the module map. */
LH_HIDDEN void lh_output_modules_changed(void);
LH_HIDDEN void lh_output_fork_child(void);
/* Ask the writer for a round now (a thread's buffer is filling up). */
LH_HIDDEN void lh_output_kick(void);
/* The writer is badly late (lh_output_overdue): do a round on this thread
 * if no one else is (call with no buffer lock held). */
LH_HIDDEN int lh_output_overdue(void);
/* 0 in a vfork child, which must not touch the parent's trace. */
LH_HIDDEN int lh_output_owned_by_caller(void);

/* --- hooks.c ---------------------------------------------------------------- */

/* 0 = not started, 1 = recording, 2 = stopped (hooks pass through). */
LH_HIDDEN extern volatile int lh_state;
/* Per-thread recursion guard: the recorder's own calls are never recorded. */
LH_HIDDEN extern __thread int lh_guard LH_TLS;
/* Set while this thread is inside libunwind (fdguard.c). */
LH_HIDDEN extern __thread int lh_unwinding LH_TLS;
/* One "leakhunt: ..." line on stderr. */
LH_HIDDEN void lh_message(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* Exported for <leakhunt.h> (which declares it weak). */
void leakhunt_recorder_mark(const char *label);

/* Real functions, resolved at first use. */
LH_HIDDEN extern void *(*lh_real_malloc)(size_t);
LH_HIDDEN extern void (*lh_real_free)(void *);

#endif
