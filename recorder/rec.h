/*
 * rec.h - what the recorder's files share. Nothing here is exported from
 * libleakhunt.so except the hooks themselves and leakhunt_recorder_mark.
 *
 * Only the capture runs in the traced process; the collector
 * (recorder/cli/collect.c, in leakhunt-record) writes the trace from the
 * ring file they share (ring.h). The moving parts here:
 *   hooks.c     interposed malloc family, mmap family, dlopen, fork, exec
 *   session.c   the process's ring file and recorder lifecycle
 *   tbuf.c      each thread's slot in the ring, and the push
 *   stacks.c    unwinding and the stack trie (IP arrays -> node ids)
 *   unwind.c    the default unwinder: cached CFA rules, libunwind behind them
 *   python.c    Python frames spliced into the stacks of a traced CPython
 *   pyalloc.c   CPython's allocator domains wrapped (PEP 445): objects recorded
 *   modules.c   module map snapshots (dl_iterate_phdr)
 *   sample.c    --sample: which allocations are recorded, and their addresses
 *   config.c    LEAKHUNT_* environment, validated (limits: lh_contract.h)
 *   attach.c    leakhunt_attach(): recording started in a running process
 *   got.c       attach mode: the modules' GOT slots pointed at the hooks
 *   follow.c    the recorder kept in the environment of what is exec'd
 *   forkgate.c  no fork while a thread of ours is inside the loader
 *   untraced.c  a note for processes the recording cannot follow
 *   procfs_read.c small /proc reads (also leakhunt-record's)
 *   fdguard.c   libunwind's memory-check pipe, answered without a pipe
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

#include "lh_contract.h"
#include "lh_trace.h"
#include "procfs_read.h"
#include "ring.h"

#define LH_HIDDEN __attribute__((visibility("hidden")))
#define LH_TLS __attribute__((tls_model("initial-exec")))
#define LH_LIKELY(x) __builtin_expect(!!(x), 1)
#define LH_UNLIKELY(x) __builtin_expect(!!(x), 0)

#define LH_MAX_DEPTH LH_DEPTH_MAX /* lh_contract.h */

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

/* --- sample.c: --sample SIZE -------------------------------------------- */

LH_HIDDEN extern uint64_t lh_sample_bytes;          /* interval; 0 = record everything */
LH_HIDDEN extern __thread int64_t lh_sample_until LH_TLS;
LH_HIDDEN int lh_sample_slow(size_t size);
/* Whether an allocation of size is recorded: always when not sampling or
 * size >= the interval, else when it crosses this thread's next sample
 * point (a countdown: the common case is one subtraction). */
/* lh_sample_take's countdown, for 0 < size < the interval: 0 while it
 * runs (not taken), 1 when it ran out and lh_sample_slow(size) decides.
 * It calls nothing, so the malloc hooks can take it without a frame. */
static inline int lh_sample_due(size_t size)
{
    lh_sample_until -= (int64_t)size;
    return lh_sample_until <= 0;
}
static inline int lh_sample_take(size_t size)
{
    if (LH_LIKELY(!lh_sample_bytes) || size >= lh_sample_bytes)
        return 1;
    if (LH_LIKELY(!lh_sample_due(size)))
        return 0;
    return lh_sample_slow(size);
}
/* Set the interval (0 = off) and seed (0 = from the clock); -1 if the
 * address set cannot be mapped. */
LH_HIDDEN int lh_sample_init(uint64_t bytes, uint64_t seed);
/* The set of recorded live blocks: insert (-1 = no memory: do not record
 * it), remove (1 = it was there: record the free). */
LH_HIDDEN int lh_sample_insert(const void *p);
LH_HIDDEN int lh_sample_remove_slow(const void *p);
/* The set's hash of an address, and the counting filter in front of it
 * (sample.c): a zero counter answers "not recorded" for most frees, inline
 * in the hook, which then saves no registers and calls nothing. */
#define LH_SAMPLE_SHARDS 64
#define LH_SAMPLE_FILTER 512
LH_HIDDEN extern uint8_t lh_sample_filter[LH_SAMPLE_SHARDS][LH_SAMPLE_FILTER];
static inline uint64_t lh_sample_hash(const void *p) { return lh_mix(0, (uintptr_t)p >> 4); }
/* 0: p is surely not a recorded block (its filter counter is zero). */
static inline int lh_sample_maybe(const void *p)
{
    uint64_t h = lh_sample_hash(p);
    return __atomic_load_n(&lh_sample_filter[h & (LH_SAMPLE_SHARDS - 1)][(h >> 20) & (LH_SAMPLE_FILTER - 1)],
                           __ATOMIC_RELAXED) != 0;
}
static inline int lh_sample_remove(const void *p)
{
    if (LH_LIKELY(!lh_sample_maybe(p)))
        return 0;
    return lh_sample_remove_slow(p);
}
LH_HIDDEN void lh_sample_fork_prepare(void);
LH_HIDDEN void lh_sample_fork_parent(void);
LH_HIDDEN void lh_sample_fork_child(void);

/* --- config.c ----------------------------------------------------------- */

typedef struct {
    char session[4096];   /* the session directory leakhunt-record made */
    int unwind_fp;        /* 1 = frame pointers, 0 = libunwind */
    int depth;            /* frames kept per stack */
    int rss_interval_ms;  /* 0 = off */
    int flush_ms;         /* writer period */
    int trace_mmap;       /* anonymous mmap/munmap/mremap events */
    int follow_fork;      /* trace forked children too */
    int quiet;
    int python;           /* Python frames: LH_PY_OFF, LH_PY_INNER, LH_PY_FULL */
    uint64_t sample;      /* --sample interval in bytes, 0 = every allocation */
    uint64_t sample_seed; /* LEAKHUNT_SAMPLE_SEED, 0 = from the clock */
    int py_alloc;         /* LEAKHUNT_PYTHON_ALLOCATOR: LH_PYA_HOOK, LH_PYA_MALLOC, LH_PYA_OFF */
    int verify_unwind;    /* LEAKHUNT_VERIFY_UNWIND: 1 = unwind.c checked against libunwind,
                           * 2 = and its answer spoiled, for the test that the check can fail */
} lh_config;

enum { LH_PY_OFF, LH_PY_INNER, LH_PY_FULL };
enum { LH_PYA_HOOK, LH_PYA_MALLOC, LH_PYA_OFF };

LH_HIDDEN extern lh_config lh_cfg;
/* Parse LEAKHUNT_*; on a bad value print one message naming it, return -1. */
LH_HIDDEN int lh_config_load(void);

/* --- a thread's place in the ring: its state and entry flag (tbuf.c) ---- */

enum {
    LH_RAW_ALLOC = LH_EV_ALLOC,
    LH_RAW_FREE = LH_EV_FREE,
    LH_RAW_REALLOC = LH_EV_REALLOC,
    LH_RAW_MMAP = LH_EV_MMAP,
    LH_RAW_MUNMAP = LH_EV_MUNMAP,
};

/* The state of whichever thread holds slot i (tbuf.c). */
typedef struct lh_tbuf {
    lh_ring_slot *slot;
    lh_ring_header *ring;   /* the ring slot belongs to */
    lh_raw *rec;            /* the slot's records */
    uint64_t *entry;        /* &slot->entry */
    uint64_t head;          /* our copy of slot->head */
    uint64_t tail_seen;     /* slot->tail when last read */
    uint32_t mask;
    uint32_t until_check;   /* events to the next lh_session_check */
    int check_due, woke, dropping;
    int in_loader;          /* inside dl_iterate_phdr's lock, or about to be (forkgate.c) */
    int entry_plain;        /* the collector's membarrier stands in for entry's barrier (ring.h) */
    uint64_t last_ns;       /* stamp of the last record pushed */
    uint32_t index;         /* ThreadInfo.index */
    uint32_t tid;
    void *stack_cache;      /* stacks.c: recent IP arrays -> node id (kept with the slot) */
    void *py_cache;         /* python.c: recent code positions -> frame id (likewise) */
    void *unwind_cache;     /* unwind.c: return address -> rule (likewise) */
} lh_tbuf;

/* Entering a record: entry = 1 with a full barrier before the stamp is
 * read (ring.h says why); while the process has one thread there is no
 * other ring to merge with, and once the collector's membarrier calls
 * give the barrier (ring.h), a plain store is enough. */
LH_HIDDEN extern int lh_clock_one_thread;
LH_HIDDEN void lh_tbuf_check(lh_tbuf *tb);

static inline void lh_tb_lock(lh_tbuf *tb)
{
    if (LH_LIKELY(tb->entry_plain) || __atomic_load_n(&lh_clock_one_thread, __ATOMIC_RELAXED)) {
        __atomic_store_n(tb->entry, 1, __ATOMIC_RELAXED);
        __atomic_signal_fence(__ATOMIC_SEQ_CST); /* stored before the stamp is read */
    } else {
        __atomic_exchange_n(tb->entry, 1, __ATOMIC_SEQ_CST);
    }
}

/* Stamp s is what this thread is about to publish (realloc: its free half,
 * held for the whole call). */
static inline void lh_tb_hold(lh_tbuf *tb, uint64_t s) { __atomic_store_n(tb->entry, s, __ATOMIC_RELAXED); }

static inline void lh_tb_unlock(lh_tbuf *tb)
{
    __atomic_store_n(tb->entry, 0, __ATOMIC_RELEASE);
    if (LH_UNLIKELY(tb->check_due))
        lh_tbuf_check(tb);
}

/* --- clock.c --------------------------------------------------------------- */

/* clock.c: a stamp orders events (TSC ticks or CLOCK_MONOTONIC ns). */
LH_HIDDEN void lh_clock_init(void);
LH_HIDDEN uint64_t lh_stamp(void);
/* An event's stamp: lh_stamp, or a cheaper read while the process has one
 * thread (clock.c explains why that is enough). */
LH_HIDDEN uint64_t lh_stamp_event(void);
/* The process has, or is about to have, more than one thread. */
LH_HIDDEN void lh_clock_threads(void);
/* What the collector needs to turn stamps into time. */
LH_HIDDEN void lh_clock_describe(int32_t *use_tsc, uint64_t *tsc0, uint64_t *ns0, double *ns_per_tick);
LH_HIDDEN uint64_t lh_mono_ns(void);

/* --- tbuf.c: claiming a slot, pushing records ---------------------------- */

/* This thread's slot state, claimed on first use. NULL when no slot can
 * be had (the caller counts the event lost). */
LH_HIDDEN lh_tbuf *lh_tbuf_self(void);
/* Append one record between lh_tb_lock and lh_tb_unlock. 0, or -1 when it
 * was dropped (no room in time: counted). */
LH_HIDDEN int lh_tbuf_push(lh_tbuf *tb, const lh_raw *ev);
/* A blob (ring.h) from the calling thread, stamped now. */
LH_HIDDEN void lh_tbuf_push_blob(uint32_t type, const void *data, size_t bytes);
/* After fork in the child: forget every other thread's buffer. */
LH_HIDDEN void lh_tbuf_after_fork_child(void);

/* --- session.c ------------------------------------------------------------- */

/* This process's ring, NULL when not recording. */
LH_HIDDEN extern lh_ring_header *lh_ring;
LH_HIDDEN lh_ring_slot *lh_ring_slot_at(lh_ring_header *h, uint32_t i);
/* Make and publish the ring (RECORDING). 0, or -1 with a message. */
LH_HIDDEN int lh_session_start(int parent_trace_pid);
/* RECORDING -> STOPPED: _exit (wait_status) or a stop (-1). */
LH_HIDDEN void lh_session_end(int wait_status);
/* Around an exec: the collector ends the ring when it succeeded. */
LH_HIDDEN void lh_session_exec_begin(void);
LH_HIDDEN void lh_session_exec_failed(void);
/* Fork child: a ring of its own, or STOPPED. */
LH_HIDDEN void lh_session_fork_prepare(void);
LH_HIDDEN void lh_session_fork_child(void);
/* Module map into the ring if the loader's counters moved (or force). */
LH_HIDDEN void lh_session_modules_changed(int force);
/* Periodic: the collector's stop request, modules, attach patching. */
LH_HIDDEN void lh_session_check(void);
/* Nudge the collector; whether it showed signs of life lately. */
LH_HIDDEN void lh_session_wake(void);
LH_HIDDEN int lh_session_collector_alive(void);

/* --- stacks.c --------------------------------------------------------------- */

/* Stack node id of the caller's stack (frames inside libleakhunt skipped),
 * 0 if none. Called with the recursion guard set. */
LH_HIDDEN uint32_t lh_stack_capture(lh_tbuf *tb);
/* Give a new thread buffer its stack cache (before its first capture). */
LH_HIDDEN void lh_stack_thread_init(lh_tbuf *tb);
/* The trie's node arrays move into the ring (capacity cap; *count is the
 * published node count): the nodes made so far are copied over. */
LH_HIDDEN void lh_stack_bind(uint32_t *parent, uint64_t *ip, uint32_t cap, uint32_t *count);
LH_HIDDEN void lh_stack_init(void);
LH_HIDDEN void lh_stack_fork_prepare(void);
LH_HIDDEN void lh_stack_fork_parent(void);
/* Child: keep the trie, but every node must be written again. */
LH_HIDDEN void lh_stack_fork_child(void);

/* --- unwind.c: libunwind's backtraces from cached CFA rules ---------------- */

/* unw_backtrace(ips, max) as called from the same function, for the
 * standard frames of x86-64 code: the same IPs, or -1 where this stack
 * must be unwound by libunwind. Recursion guard set; never allocates. */
LH_HIDDEN int lh_unwind(lh_tbuf *tb, void **ips, int max);
/* At start, on the main thread, before the program runs (preload mode
 * only: the main thread's stack bounds are known from then on). */
LH_HIDDEN void lh_unwind_init(void);
/* A new thread buffer's rule table and stack bounds. */
LH_HIDDEN void lh_unwind_thread_init(lh_tbuf *tb);
/* Cached rules may be stale: a module was unloaded. */
LH_HIDDEN void lh_unwind_flush(void);
/* Verify mode: keep lh_unwind's answer (n, -1 fell back), then count it
 * against libunwind's; the counts go to stderr at exit (or _exit). */
LH_HIDDEN void lh_unwind_keep(lh_tbuf *tb, void *const *ips, int n);
LH_HIDDEN void lh_unwind_check(lh_tbuf *tb, void *const *ref, int n);
LH_HIDDEN void lh_unwind_report(void);

/* --- python.c --------------------------------------------------------------- */

/* Detect a supported CPython in the process (from lh_stack_init). */
LH_HIDDEN void lh_python_init(void);
/* The same after a dlopen (a libpython loaded by an embedding program),
 * unless one was found already. Recursion guard set. */
LH_HIDDEN void lh_python_dlopen(void *handle);
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
/* The frames' log moves into the ring (ring.h: lh_ring_pyframe records,
 * *len bytes and *count frames published); frames made so far are copied. */
LH_HIDDEN void lh_python_bind(void *log, uint32_t cap, uint64_t *len, uint32_t *count);
LH_HIDDEN void lh_python_fork_prepare(void);
LH_HIDDEN void lh_python_fork_parent(void);
LH_HIDDEN void lh_python_fork_child(void);

/* --- pyalloc.c --------------------------------------------------------------- */

/* What the hooks' poll is asked to do (0: nothing; pyalloc.c). */
LH_HIDDEN extern volatile int lh_py_poll;
/* From a hook of the malloc family, recursion guard 0, recording: put the
 * domain hooks in once this thread may (the interpreter's start-up after
 * its allocators are set, or this thread holds the GIL). */
LH_HIDDEN void lh_pyalloc_poll(void);
/* Detect CPython (at start, attached: from leakhunt_attach once recording). */
LH_HIDDEN void lh_pyalloc_init(int attached);
/* After a dlopen: libpython may have come. Recursion guard set. */
LH_HIDDEN void lh_pyalloc_dlopen(void *handle);
/* Recording stopped (a stop request): the previous allocators go back
 * with the GIL held, at the next chance. */
LH_HIDDEN void lh_pyalloc_stopped(void);
/* LH_PYALLOC_* (ring.h), copied into every ring this process makes. */
LH_HIDDEN extern uint32_t lh_pyalloc_state;

/* hooks.c, for pyalloc.c: the hooks' own recording (guard set to 1). */
typedef void *(*lh_realloc_fn)(void *ctx, void *old, size_t size);
LH_HIDDEN void lh_record_alloc(uint32_t kind, const void *p, size_t size, unsigned dom);
LH_HIDDEN void lh_record_release(uint32_t kind, const void *p, size_t size, unsigned dom);
LH_HIDDEN void *lh_realloc_recorded(lh_realloc_fn fn, void *ctx, void *old, size_t size, unsigned dom);

/* --- modules.c -------------------------------------------------------------- */

/* Snapshot of the loaded modules at time_us (caller frees with
 * lh_modules_free). */
LH_HIDDEN Lh__ModuleMap *lh_modules_snapshot(uint64_t time_us);
LH_HIDDEN void lh_modules_free(Lh__ModuleMap *m);
/* Address range of libleakhunt.so's code, for skipping our own frames. */
LH_HIDDEN void lh_modules_self_range(uintptr_t *lo, uintptr_t *hi);

/* --- forkgate.c ----------------------------------------------------------- */

LH_HIDDEN void lh_forkgate_init(void);
/* Around our calls into the loader (libunwind, module snapshots). */
LH_HIDDEN void lh_forkgate_enter(int *in_loader);
LH_HIDDEN void lh_forkgate_leave(int *in_loader);
/* fork_prepare: wait until no thread of ours is in the loader; then the
 * parent and the child open it again. */
LH_HIDDEN void lh_forkgate_close(void);
LH_HIDDEN void lh_forkgate_open_parent(void);
LH_HIDDEN void lh_forkgate_open_child(void);
/* Whether some slot's thread is in the loader (tbuf.c). */
LH_HIDDEN int lh_tbuf_any_in_loader(void);

/* --- follow.c ------------------------------------------------------------- */

/* At start: what a followed child needs (settings, our path). */
LH_HIDDEN void lh_follow_init(void);
/* At start, after lh_follow_init: the environment back as the program set
 * it, if an exec of ours put the recorder in (LEAKHUNT_RESTORE). */
LH_HIDDEN void lh_follow_restore(void);
/* envp, or a copy with the recorder in it (built in stack_buf, or in a
 * mapping returned in *buf for lh_follow_release after a failed exec). */
LH_HIDDEN char *const *lh_follow_env(char *const envp[], void *stack_buf, size_t stack_cap, void **buf,
                                     size_t *buf_len);
LH_HIDDEN void lh_follow_release(void *buf, size_t len);

/* --- untraced.c ----------------------------------------------------------- */

/* Before an exec: a note in the ring if the program cannot be traced
 * (setuid, static). search_path: file is looked up in $PATH (execvp). */
LH_HIDDEN void lh_note_exec(const char *file, int search_path);
/* After a raw clone/clone3 made process child. */
LH_HIDDEN void lh_note_clone(long child, const char *how);

/* procfs_read.h: lh_read_text, lh_stat_field (shared with leakhunt-record). */

/* --- hooks.c ---------------------------------------------------------------- */

/* Whether the hooks record (session.c draws the whole lifecycle):
 * STARTING until the ring is made (or leakhunt_attach ran), RECORDING,
 * STOPPED (exec, _exit, a stop request, or a failed start: hooks pass
 * every call through, for good). */
enum { LH_STARTING = 0, LH_RECORDING = 1, LH_STOPPED = 2 };
LH_HIDDEN extern volatile int lh_state;
/* Per-thread recursion guard: the recorder's own calls are never recorded.
 * LH_GUARD_PYALLOC: inside a hooked CPython allocator call (pyalloc.c),
 * where only anonymous mappings are recorded (as its arenas). */
LH_HIDDEN extern __thread int lh_guard LH_TLS;
#define LH_GUARD_PYALLOC 2
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
