/*
 * hooks.c - the functions libleakhunt.so puts in front of libc.
 *
 * Each hook calls the real function and appends one event to the calling
 * thread's slot of the ring. The rules that keep replay exact:
 *
 *  - a free is stamped before the real free runs, an allocation after the
 *    real call returns, so no address is ever seen handed out twice;
 *  - a realloc that moves is a free stamped before the call plus an
 *    allocation stamped after it (the old block is free inside the call,
 *    and another thread may get it before realloc returns); while it runs,
 *    the thread's entry word holds the collector's cut below it (ring.h);
 *  - a NULL return is no allocation, free(NULL) records nothing;
 *  - the recursion guard hides whatever the recorder itself allocates;
 *  - inside a hooked CPython allocator call (pyalloc.c) the guard reads
 *    LH_GUARD_PYALLOC: the object is recorded at its domain, so the malloc
 *    calls the allocator makes for it pass through, and only its anonymous
 *    mappings (pymalloc's arenas) are recorded, as domain py-arena.
 *
 * Before dlsym(RTLD_NEXT) has found the real functions (dlsym itself calls
 * calloc) allocations come from a small static arena that free() knows.
 */
#include <dlfcn.h>
#include <fcntl.h>
#include <malloc.h>
#include <spawn.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/auxv.h>
#include <sys/mman.h>
#include <unistd.h>

#include "attach.h"
#include "rec.h"

#define EXPORT __attribute__((visibility("default")))

LH_HIDDEN volatile int lh_state;
LH_HIDDEN __thread int lh_guard LH_TLS;

LH_HIDDEN void *(*lh_real_malloc)(size_t);
LH_HIDDEN void (*lh_real_free)(void *);
static void *(*real_calloc)(size_t, size_t);
static void *(*real_realloc)(void *, size_t);
static int (*real_posix_memalign)(void **, size_t, size_t);
static void *(*real_aligned_alloc)(size_t, size_t);
static void *(*real_memalign)(size_t, size_t);
static void *(*real_valloc)(size_t);
static void *(*real_pvalloc)(size_t);
static void *(*real_mmap)(void *, size_t, int, int, int, off_t);
static int (*real_munmap)(void *, size_t);
static void *(*real_mremap)(void *, size_t, size_t, int, ...);
static int (*real_dlclose)(void *);
static int (*real_execve)(const char *, char *const[], char *const[]);
static int (*real_execvpe)(const char *, char *const[], char *const[]);
static int (*real_fexecve)(int, char *const[], char *const[]);
static int (*real_execveat)(int, const char *, char *const[], char *const[], int);
static int (*real_posix_spawn)(pid_t *, const char *, const posix_spawn_file_actions_t *,
                               const posix_spawnattr_t *, char *const[], char *const[]);
static int (*real_posix_spawnp)(pid_t *, const char *, const posix_spawn_file_actions_t *,
                                const posix_spawnattr_t *, char *const[], char *const[]);
static void (*real__exit)(int) __attribute__((noreturn));
static int (*real_pthread_create)(pthread_t *, const pthread_attr_t *, void *(*)(void *), void *);
static int (*real_pthread_setcanceltype)(int, int *);
static void *(*real_dlopen)(const char *, int);

/* --- bootstrap arena ------------------------------------------------------ */

static char arena[128 * 1024] __attribute__((aligned(16)));
static size_t arena_used;
static int resolving;

static void *arena_alloc(size_t size)
{
    size_t need = ((size + 15) & ~(size_t)15) + 16;
    size_t at = __atomic_fetch_add(&arena_used, need, __ATOMIC_RELAXED);
    if (at + need > sizeof(arena))
        return NULL;
    *(size_t *)(arena + at) = size;
    return arena + at + 16;
}

static inline int in_arena(const void *p)
{
    return (uintptr_t)p - (uintptr_t)arena < sizeof(arena);
}

static size_t arena_size(const void *p) { return *(const size_t *)((const char *)p - 16); }

#define RESOLVE(var, name) (var = (__typeof__(var))dlsym(RTLD_NEXT, name))

static void resolve(void)
{
    if (__atomic_load_n(&lh_real_malloc, __ATOMIC_ACQUIRE))
        return;
    resolving = 1;
    RESOLVE(lh_real_free, "free");
    RESOLVE(real_calloc, "calloc");
    RESOLVE(real_realloc, "realloc");
    RESOLVE(real_posix_memalign, "posix_memalign");
    RESOLVE(real_aligned_alloc, "aligned_alloc");
    RESOLVE(real_memalign, "memalign");
    RESOLVE(real_valloc, "valloc");
    RESOLVE(real_pvalloc, "pvalloc");
    RESOLVE(real_mmap, "mmap");
    RESOLVE(real_munmap, "munmap");
    RESOLVE(real_mremap, "mremap");
    RESOLVE(real_dlclose, "dlclose");
    RESOLVE(real_execve, "execve");
    RESOLVE(real_execvpe, "execvpe");
    RESOLVE(real_fexecve, "fexecve");
    RESOLVE(real_execveat, "execveat");
    RESOLVE(real_posix_spawn, "posix_spawn");
    RESOLVE(real_posix_spawnp, "posix_spawnp");
    RESOLVE(real__exit, "_exit");
    RESOLVE(real_pthread_create, "pthread_create");
    RESOLVE(real_pthread_setcanceltype, "pthread_setcanceltype");
    RESOLVE(real_dlopen, "dlopen");
    void *m = dlsym(RTLD_NEXT, "malloc");
    resolving = 0;
    __atomic_store_n(&lh_real_malloc, (void *(*)(size_t))m, __ATOMIC_RELEASE);
}

/* --- messages -------------------------------------------------------------- */

void lh_message(const char *fmt, ...)
{
    char buf[1024];
    va_list ap;
    int n = snprintf(buf, sizeof(buf), "leakhunt: ");
    va_start(ap, fmt);
    n += vsnprintf(buf + n, sizeof(buf) - (size_t)n - 1, fmt, ap);
    va_end(ap);
    if (n > (int)sizeof(buf) - 2)
        n = sizeof(buf) - 2;
    buf[n++] = '\n';
    ssize_t w = write(2, buf, (size_t)n);
    (void)w;
}

/* --- recording ------------------------------------------------------------- */

/* A thread with asynchronous cancellation on (the program asked for it
 * through pthread_setcanceltype, which we see) could be cancelled at any
 * instruction of the recorder, half way through a push or with the trie's
 * mutex held. While it is inside the recorder, cancellation is deferred;
 * a cancel that arrived meanwhile acts the moment it is switched back. */
static __thread int async_cancel LH_TLS;

static inline void defer_cancel(void)
{
    if (LH_UNLIKELY(async_cancel)) {
        int old;
        real_pthread_setcanceltype(PTHREAD_CANCEL_DEFERRED, &old);
    }
}

static inline void restore_cancel(void)
{
    if (LH_UNLIKELY(async_cancel)) {
        int old;
        real_pthread_setcanceltype(PTHREAD_CANCEL_ASYNCHRONOUS, &old);
    }
}

EXPORT int pthread_setcanceltype(int type, int *oldtype)
{
    if (LH_UNLIKELY(!lh_real_malloc))
        resolve();
    int rc = real_pthread_setcanceltype(type, oldtype);
    if (rc == 0)
        async_cancel = type == PTHREAD_CANCEL_ASYNCHRONOUS;
    return rc;
}

static inline lh_tbuf *thread_buffer(void)
{
    lh_tbuf *tb = lh_tbuf_self();
    if (LH_UNLIKELY(!tb) && lh_ring)
        __atomic_add_fetch(&lh_ring->lost, 1, __ATOMIC_RELAXED);
    return tb;
}

/* One event pushed, out of line: the hooks' fast path (with --sample, a
 * countdown or a filter lookup that says "not recorded") then saves no
 * registers for the unwinding and the push it does not do. */
static __attribute__((noinline)) void push_event(uint32_t kind, const void *p, size_t size, unsigned dom,
                                                 int with_stack)
{
    defer_cancel();
    lh_tbuf *tb = thread_buffer();
    if (tb) {
        lh_raw ev = { 0, (uintptr_t)p, size, 0, with_stack ? lh_stack_capture(tb) : 0, (uint16_t)kind, (uint16_t)dom };
        lh_tb_lock(tb);
        ev.ns = lh_stamp_event();
        lh_tbuf_push(tb, &ev);
        lh_tb_unlock(tb);
    }
    restore_cancel();
}

/* An allocation taken for the sample (or not sampling): its address joins
 * the recorded set, and it is pushed. */
static inline void record_taken(uint32_t kind, const void *p, size_t size, unsigned dom)
{
    if (kind == LH_RAW_ALLOC && LH_UNLIKELY(lh_sample_bytes) && lh_sample_insert(p) < 0)
        return;
    push_event(kind, p, size, dom, 1);
}

/* An allocation that has happened: stamp now, after the real call. With
 * --sample, most of the malloc family's stop at the countdown. */
static inline void record_alloc(uint32_t kind, const void *p, size_t size, unsigned dom)
{
    if (kind == LH_RAW_ALLOC && LH_UNLIKELY(lh_sample_bytes) && !lh_sample_take(size))
        return;
    record_taken(kind, p, size, dom);
}

/* A release about to happen: stamp now, before the real call. With
 * --sample, only frees of recorded blocks are. */
static inline void record_release(uint32_t kind, const void *p, size_t size, unsigned dom)
{
    if (kind == LH_RAW_FREE && LH_UNLIKELY(lh_sample_bytes) && !lh_sample_remove(p))
        return;
    push_event(kind, p, size, dom, 0);
}

#define ENTER_OR(passthrough)                                   \
    do {                                                        \
        if (LH_UNLIKELY(!lh_real_malloc)) resolve();            \
        if (lh_state != LH_RECORDING || lh_guard) { passthrough; }         \
        lh_guard = 1;                                           \
    } while (0)
#define LEAVE() (lh_guard = 0)

/* One hook calling another (realloc(NULL, n) is malloc, reallocarray is
 * realloc) calls these, bound inside the library: an exported name would
 * resolve like any other, and when the library is loaded late (attach
 * mode, after libc) that is libc's, unrecorded. */
static void *hook_malloc(size_t size);
static void *hook_realloc(void *old, size_t size);

EXPORT void *malloc(size_t size) { return hook_malloc(size); }

/* malloc and free in two parts. The hook decides whether the call goes
 * straight to the real one, and every call it makes is a tail call, so
 * it has no frame to build: the register saves a recording call needs
 * cost an unsampled --sample call a third of its time (cachegrind: 26 and
 * 34 instructions per malloc and free on the server loop). Recording, the
 * start-up and Python's allocator poll are in the noinline parts. */
#define SLOW_PART static __attribute__((noinline))

/* Taken: recorded under the guard. */
SLOW_PART void *malloc_taken(size_t size)
{
    lh_guard = 1;
    void *p = lh_real_malloc(size);
    if (p)
        record_taken(LH_RAW_ALLOC, p, size, LH_DOM_LIBC);
    LEAVE();
    return p;
}

/* Before the real malloc is known, or with Python's hooks to look at:
 * the whole decision. */
SLOW_PART void *malloc_slow(size_t size)
{
    if (LH_UNLIKELY(!lh_real_malloc)) {
        if (resolving)
            return arena_alloc(size);
        resolve();
    }
    if (lh_state != LH_RECORDING || lh_guard)
        return lh_real_malloc(size);
    if (LH_UNLIKELY(lh_py_poll))
        lh_pyalloc_poll();
    if (LH_UNLIKELY(lh_sample_bytes) && !lh_sample_take(size))
        return lh_real_malloc(size);
    return malloc_taken(size);
}

/* --sample, the countdown ran out: lh_sample_slow decides. */
SLOW_PART void *malloc_sample_due(size_t size)
{
    if (!lh_sample_slow(size))
        return lh_real_malloc(size);
    return malloc_taken(size);
}

static void *hook_malloc(size_t size)
{
    if (LH_UNLIKELY(!lh_real_malloc || lh_py_poll))
        return malloc_slow(size);
    if (lh_state != LH_RECORDING || lh_guard)
        return lh_real_malloc(size);
    /* --sample, not taken: nothing of ours runs, so no guard either. This
     * is lh_sample_take with its call to lh_sample_slow out of the frame. */
    if (LH_UNLIKELY(lh_sample_bytes) && size < lh_sample_bytes) {
        if (LH_LIKELY(!lh_sample_due(size)))
            return lh_real_malloc(size);
        return malloc_sample_due(size);
    }
    return malloc_taken(size);
}

/* A free recorded under the guard, or before the real free is known. */
SLOW_PART void free_slow(void *p)
{
    if (LH_UNLIKELY(!lh_real_malloc))
        resolve();
    if (lh_state != LH_RECORDING || lh_guard) {
        lh_real_free(p);
        return;
    }
    /* --sample, and surely not a recorded block: straight to the real free. */
    if (LH_UNLIKELY(lh_sample_bytes) && LH_LIKELY(!lh_py_poll) && !lh_sample_maybe(p)) {
        lh_real_free(p);
        return;
    }
    lh_guard = 1;
    if (LH_UNLIKELY(lh_py_poll))
        lh_pyalloc_poll();
    record_release(LH_RAW_FREE, p, 0, LH_DOM_LIBC);
    lh_real_free(p);
    LEAVE();
}

EXPORT void free(void *p)
{
    if (!p || LH_UNLIKELY(in_arena(p)))
        return;
    if (LH_LIKELY(lh_real_malloc) && (lh_state != LH_RECORDING || lh_guard ||
                                      (LH_UNLIKELY(lh_sample_bytes) && LH_LIKELY(!lh_py_poll) && !lh_sample_maybe(p)))) {
        lh_real_free(p);
        return;
    }
    free_slow(p);
}

EXPORT void *calloc(size_t n, size_t size)
{
    if (LH_UNLIKELY(!lh_real_malloc)) {
        if (resolving) {
            size_t total;
            if (__builtin_mul_overflow(n, size, &total))
                return NULL;
            return arena_alloc(total); /* static arena: already zero */
        }
        resolve();
    }
    if (lh_state != LH_RECORDING || lh_guard)
        return real_calloc(n, size);
    if (LH_UNLIKELY(lh_py_poll))
        lh_pyalloc_poll();
    lh_guard = 1;
    void *p = real_calloc(n, size);
    if (p)
        record_alloc(LH_RAW_ALLOC, p, n * size, LH_DOM_LIBC);
    LEAVE();
    return p;
}

/* Arena mappings made inside a Python realloc while its stamp is held wait
 * here (pushed at once, their stamps would come before the free half's in
 * the thread's ring); realloc_traced pushes them after that half. */
#define DEFERRED_MAX 8
typedef struct {
    lh_raw ev[DEFERRED_MAX];
    int n;
} deferred_events;
static __thread deferred_events *deferred LH_TLS;

/* The wrapped call: inside a hooked CPython domain (dom != libc) with the
 * guard saying so, so its arena mappings are recorded and its mallocs not. */
static inline void *call_realloc(lh_realloc_fn fn, void *ctx, void *old, size_t size, unsigned dom)
{
    if (dom == LH_DOM_LIBC)
        return fn(ctx, old, size);
    int g = lh_guard;
    lh_guard = LH_GUARD_PYALLOC;
    void *p = fn(ctx, old, size);
    lh_guard = g;
    return p;
}

/* realloc as a free of old (recorded when rec_old) and an allocation of
 * size (when rec_new); exact recording records both. With --sample, old
 * has already left the set of recorded blocks, so no other thread that
 * gets old's address from malloc meanwhile can lose its entry to ours.
 * fn(ctx, old, size) is libc's realloc or a CPython domain's (dom): a
 * failure is NULL for size > 0 (libc) or any size (CPython's never frees). */
static void *realloc_traced(lh_realloc_fn fn, void *ctx, void *old, size_t size, int rec_old, int rec_new,
                            unsigned dom)
{
    defer_cancel();
    lh_tbuf *tb = thread_buffer();
    if (!tb) {
        restore_cancel();
        return call_realloc(fn, ctx, old, size, dom);
    }

    /* Held from before the call to the push: the cut stays below the free half. */
    lh_tb_lock(tb);
    uint64_t before = lh_stamp_event();
    lh_tb_hold(tb, before);

    deferred_events later;
    later.n = 0;
    if (dom != LH_DOM_LIBC)
        deferred = &later;
    void *p = call_realloc(fn, ctx, old, size, dom);
    deferred = NULL;
    if (!p && (size || dom != LH_DOM_LIBC)) {
        /* failed: old is untouched and still live */
        if (rec_old && lh_sample_bytes)
            lh_sample_insert(old);
        for (int i = 0; i < later.n; i++)
            lh_tbuf_push(tb, &later.ev[i]);
        lh_tb_unlock(tb);
        restore_cancel();
        return p;
    }
    if (p && rec_new && lh_sample_bytes && lh_sample_insert(p) < 0)
        rec_new = 0;
    uint32_t stack = p && rec_new ? lh_stack_capture(tb) : 0;

    if (p == old && rec_old && rec_new && !later.n) {
        lh_raw ev = { lh_stamp_event(), (uintptr_t)p, size, (uintptr_t)old, stack, LH_RAW_REALLOC, (uint16_t)dom };
        lh_tbuf_push(tb, &ev);
    } else {
        /* Moved (or realloc(p, 0), which frees p and returns NULL). */
        if (rec_old) {
            lh_raw fr = { before, (uintptr_t)old, 0, 0, 0, LH_RAW_FREE, (uint16_t)dom };
            lh_tbuf_push(tb, &fr);
        }
        for (int i = 0; i < later.n; i++)
            lh_tbuf_push(tb, &later.ev[i]);
        if (p && rec_new) {
            lh_raw al = { lh_stamp_event(), (uintptr_t)p, size, 0, stack, LH_RAW_ALLOC, (uint16_t)dom };
            lh_tbuf_push(tb, &al);
        }
    }
    lh_tb_unlock(tb);
    restore_cancel();
    return p;
}

/* Recursion guard set (1). */
void *lh_realloc_recorded(lh_realloc_fn fn, void *ctx, void *old, size_t size, unsigned dom)
{
    if (LH_LIKELY(!lh_sample_bytes))
        return realloc_traced(fn, ctx, old, size, 1, 1, dom);
    int rec_old = lh_sample_remove(old);
    int rec_new = lh_sample_take(size);
    if (!rec_old && !rec_new)
        return call_realloc(fn, ctx, old, size, dom);
    return realloc_traced(fn, ctx, old, size, rec_old, rec_new, dom);
}

void lh_record_alloc(uint32_t kind, const void *p, size_t size, unsigned dom) { record_alloc(kind, p, size, dom); }
void lh_record_release(uint32_t kind, const void *p, size_t size, unsigned dom)
{
    record_release(kind, p, size, dom);
}

static void *libc_realloc(void *ctx, void *old, size_t size)
{
    (void)ctx;
    return real_realloc(old, size);
}

EXPORT void *realloc(void *old, size_t size) { return hook_realloc(old, size); }

/* realloc in parts too, as malloc: the hook decides with tail calls only. */
SLOW_PART void *realloc_from_arena(void *old, size_t size)
{
    void *p = hook_malloc(size);
    if (p) {
        size_t n = arena_size(old);
        memcpy(p, old, n < size ? n : size);
    }
    return p;
}

SLOW_PART void *realloc_taken(void *old, size_t size)
{
    lh_guard = 1;
    void *p = lh_realloc_recorded(libc_realloc, NULL, old, size, LH_DOM_LIBC);
    LEAVE();
    return p;
}

SLOW_PART void *realloc_slow(void *old, size_t size)
{
    if (LH_UNLIKELY(!lh_real_malloc))
        resolve();
    if (lh_state != LH_RECORDING || lh_guard)
        return real_realloc(old, size);
    if (LH_UNLIKELY(lh_py_poll))
        lh_pyalloc_poll();
    return realloc_taken(old, size);
}

/* --sample: old is not a recorded block and the countdown ran out on the
 * new size; lh_realloc_recorded's decision, with the countdown moved. */
SLOW_PART void *realloc_sample_due(void *old, size_t size)
{
    if (!lh_sample_slow(size))
        return real_realloc(old, size);
    lh_guard = 1;
    void *p = realloc_traced(libc_realloc, NULL, old, size, 0, 1, LH_DOM_LIBC);
    LEAVE();
    return p;
}

static void *hook_realloc(void *old, size_t size)
{
    if (LH_UNLIKELY(in_arena(old)))
        return realloc_from_arena(old, size);
    if (!old)
        return hook_malloc(size);
    if (LH_UNLIKELY(!lh_real_malloc || lh_py_poll))
        return realloc_slow(old, size);
    if (lh_state != LH_RECORDING || lh_guard)
        return real_realloc(old, size);
    /* --sample, old surely not recorded, the new size not taken: nothing of
     * ours to do (lh_sample_remove and lh_sample_take, inline). */
    if (LH_UNLIKELY(lh_sample_bytes) && size < lh_sample_bytes && !lh_sample_maybe(old)) {
        if (LH_LIKELY(!lh_sample_due(size)))
            return real_realloc(old, size);
        return realloc_sample_due(old, size);
    }
    return realloc_taken(old, size);
}

EXPORT void *reallocarray(void *old, size_t n, size_t size)
{
    size_t total;
    if (__builtin_mul_overflow(n, size, &total)) {
        errno = ENOMEM;
        return NULL;
    }
    return hook_realloc(old, total);
}

EXPORT int posix_memalign(void **out, size_t align, size_t size)
{
    ENTER_OR(return real_posix_memalign(out, align, size));
    int rc = real_posix_memalign(out, align, size);
    if (rc == 0)
        record_alloc(LH_RAW_ALLOC, *out, size, LH_DOM_LIBC);
    LEAVE();
    return rc;
}

#define ALIGNED_HOOK(name, real, params, args, size)            \
    EXPORT void *name params                                    \
    {                                                           \
        ENTER_OR(return real args);                             \
        void *p = real args;                                    \
        if (p)                                                  \
            record_alloc(LH_RAW_ALLOC, p, size, LH_DOM_LIBC);   \
        LEAVE();                                                \
        return p;                                               \
    }

ALIGNED_HOOK(aligned_alloc, real_aligned_alloc, (size_t align, size_t size), (align, size), size)
ALIGNED_HOOK(memalign, real_memalign, (size_t align, size_t size), (align, size), size)
ALIGNED_HOOK(valloc, real_valloc, (size_t size), (size), size)
ALIGNED_HOOK(pvalloc, real_pvalloc, (size_t size), (size), size)

/* --- anonymous memory mappings --------------------------------------------- */

/* The kernel's page size, from the auxiliary vector: no call that could
 * allocate, and right on 16 KiB and 64 KiB page kernels too. */
static size_t page_round(size_t n)
{
    static size_t page;
    if (LH_UNLIKELY(!page)) {
        size_t p = (size_t)getauxval(AT_PAGESZ);
        page = p && !(p & (p - 1)) ? p : 4096;
    }
    return (n + page - 1) & ~(page - 1);
}

/* A mapping event: pushed now, or inside a held Python realloc kept for
 * after its free half (realloc_traced). Recursion guard set (1). */
static void record_mapping(uint32_t kind, const void *p, size_t size, unsigned dom)
{
    if (!deferred) {
        if (kind == LH_RAW_MMAP)
            record_alloc(kind, p, size, dom);
        else
            record_release(kind, p, size, dom);
        return;
    }
    lh_tbuf *tb = thread_buffer();
    if (!tb)
        return;
    if (deferred->n == DEFERRED_MAX) {
        __atomic_add_fetch(&tb->slot->lost, 1, __ATOMIC_RELAXED);
        return;
    }
    uint32_t stack = kind == LH_RAW_MMAP ? lh_stack_capture(tb) : 0;
    deferred->ev[deferred->n++] = (lh_raw){ lh_stamp_event(), (uintptr_t)p, size, 0, stack, (uint16_t)kind,
                                            (uint16_t)dom };
}

/* Whether this thread is inside a hooked CPython allocator call, whose
 * anonymous mappings are its arenas. */
static inline int in_pyalloc(void) { return lh_guard == LH_GUARD_PYALLOC; }

EXPORT void *mmap(void *addr, size_t len, int prot, int flags, int fd, off_t off)
{
    if (LH_UNLIKELY(!lh_real_malloc))
        resolve();
    if (lh_state != LH_RECORDING || (lh_guard && !in_pyalloc()) || !lh_cfg.trace_mmap || !(flags & MAP_ANONYMOUS))
        return real_mmap(addr, len, prot, flags, fd, off);
    int g = lh_guard;
    unsigned dom = g ? LH_DOM_PY_ARENA : LH_DOM_LIBC;
    lh_guard = 1;
    if (flags & MAP_FIXED) /* replaces whatever was mapped there */
        record_mapping(LH_RAW_MUNMAP, addr, page_round(len), dom);
    void *p = real_mmap(addr, len, prot, flags, fd, off);
    if (p != MAP_FAILED)
        record_mapping(LH_RAW_MMAP, p, page_round(len), dom);
    lh_guard = g;
    return p;
}
EXPORT void *mmap64(void *addr, size_t len, int prot, int flags, int fd, off_t off)
    __attribute__((alias("mmap")));

EXPORT int munmap(void *addr, size_t len)
{
    if (LH_UNLIKELY(!lh_real_malloc))
        resolve();
    if (lh_state != LH_RECORDING || (lh_guard && !in_pyalloc()))
        return real_munmap(addr, len);
    int g = lh_guard;
    lh_guard = 1;
    if (lh_cfg.trace_mmap)
        record_mapping(LH_RAW_MUNMAP, addr, page_round(len), g ? LH_DOM_PY_ARENA : LH_DOM_LIBC);
    int rc = real_munmap(addr, len);
    lh_guard = g;
    return rc;
}

EXPORT void *mremap(void *old, size_t old_len, size_t new_len, int flags, ...)
{
    void *new_addr = NULL;
    if (flags & MREMAP_FIXED) {
        va_list ap;
        va_start(ap, flags);
        new_addr = va_arg(ap, void *);
        va_end(ap);
    }
    ENTER_OR(return real_mremap(old, old_len, new_len, flags, new_addr));
    void *p;
    if (lh_cfg.trace_mmap) {
        /* Like realloc: the old range may be reused before we return. */
        defer_cancel();
        lh_tbuf *tb = thread_buffer();
        uint64_t before = 0;
        if (tb) {
            lh_tb_lock(tb);
            before = lh_stamp_event();
            lh_tb_hold(tb, before);
        }
        p = real_mremap(old, old_len, new_len, flags, new_addr);
        if (tb) {
            uint32_t stack = p != MAP_FAILED ? lh_stack_capture(tb) : 0;
            if (p != MAP_FAILED) {
                lh_raw un = { before, (uintptr_t)old, page_round(old_len), 0, 0, LH_RAW_MUNMAP, 0 };
                lh_raw mm = { lh_stamp_event(), (uintptr_t)p, page_round(new_len), 0, stack, LH_RAW_MMAP, 0 };
                lh_tbuf_push(tb, &un);
                lh_tbuf_push(tb, &mm);
            }
            lh_tb_unlock(tb);
        }
        restore_cancel();
    } else {
        p = real_mremap(old, old_len, new_len, flags, new_addr);
    }
    LEAVE();
    return p;
}

/* --- markers ---------------------------------------------------------------- */

EXPORT void leakhunt_recorder_mark(const char *label)
{
    if (lh_state != LH_RECORDING || lh_guard || !label)
        return;
    lh_guard = 1;
    defer_cancel();
    lh_tbuf_push_blob(LH_BLOB_MARK, label, strnlen(label, 4095));
    restore_cancel();
    LEAVE();
}

/* --- threads -------------------------------------------------------------- */

/* Not recorded: a second thread only changes how events are stamped
 * (clock.c), before it exists. */
EXPORT int pthread_create(pthread_t *t, const pthread_attr_t *attr, void *(*fn)(void *), void *arg)
{
    if (LH_UNLIKELY(!lh_real_malloc))
        resolve();
    if (!lh_guard)
        lh_clock_threads();
    return real_pthread_create(t, attr, fn, arg);
}

/* --- modules, exec, exit -------------------------------------------------- */

/* Once the module is gone, unwind rules cached for its addresses are too. */
static int unload(void *handle)
{
    int rc = real_dlclose(handle);
    lh_unwind_flush();
    return rc;
}

EXPORT int dlclose(void *handle)
{
    ENTER_OR(return unload(handle));
    /* The module's addresses must be in some map before it goes away. */
    lh_session_modules_changed(0);
    LEAVE(); /* its destructors' frees are the program's */
    return unload(handle);
}

EXPORT void *dlopen(const char *file, int mode)
{
    if (LH_UNLIKELY(!lh_real_malloc))
        resolve();
    void *h = real_dlopen(file, mode);
    if (h && lh_state == LH_RECORDING && !lh_guard) {
        lh_guard = 1;
        lh_session_modules_changed(0);
        lh_python_dlopen(h); /* libpython loaded by an embedding program */
        lh_pyalloc_dlopen(h);
        lh_guard = 0;
    }
    return h;
}

/* The calling process is the ring's: not a vfork child sharing our
 * memory, which must leave the parent's recording alone. */
static int ring_is_ours(void)
{
    return lh_ring && lh_ring->pid == (int32_t)getpid();
}

/* The new image starts a trace of its own; the collector ends this one
 * once the exec has succeeded (a failed exec records on). */
static void before_exec(const char *file, int search_path)
{
    if (LH_UNLIKELY(!lh_real_malloc))
        resolve();
    if (lh_state != LH_RECORDING || lh_guard)
        return;
    /* A vfork child (posix_spawn, dash) writes its note into the ring of
     * the parent whose thread it borrows, which is suspended meanwhile;
     * the parent's recording goes on. */
    lh_guard = 1;
    if (file && lh_cfg.follow_fork)
        lh_note_exec(file, search_path);
    lh_guard = 0;
    if (ring_is_ours())
        lh_session_exec_begin();
}

/* Every exec goes through here: the recorder put back into the new
 * environment if following is on and the program left it out
 * (follow.c), the untraceable named, the ring told an exec is under way,
 * then the real call. The execl family passes its arguments inline and glibc's own
 * calls to execve go past our hook, so each wrapper gathers its argv and
 * calls the real function itself: attached (loaded after libc), an
 * exported name of ours would bind to libc's. */
enum { X_EXECVE, X_EXECVPE, X_FEXECVE, X_EXECVEAT };

/* The environment an exec or spawn passes on: envp, or follow.c's copy
 * with the recorder in it, in the caller's buffer (or e->mapped). */
typedef struct {
    char buf[32768] __attribute__((aligned(16)));
    void *mapped;
    size_t mapped_len;
} exec_env;

static char *const *env_to_pass(exec_env *e, char *const envp[])
{
    e->mapped = NULL;
    e->mapped_len = 0;
    if (lh_state != LH_RECORDING || lh_guard)
        return envp;
    lh_guard = 1;
    char *const *env = lh_follow_env(envp, e->buf, sizeof(e->buf), &e->mapped, &e->mapped_len);
    lh_guard = 0;
    return env;
}

static int do_exec(int how, int fd, const char *path, char *const argv[], char *const envp[], int flags)
{
    if (LH_UNLIKELY(!lh_real_malloc))
        resolve();
    exec_env ee;
    char *const *env = env_to_pass(&ee, envp);
    char self_fd[64];
    if (how == X_FEXECVE || (how == X_EXECVEAT && (flags & AT_EMPTY_PATH) && !*path)) {
        snprintf(self_fd, sizeof(self_fd), "/proc/self/fd/%d", fd);
        before_exec(self_fd, 0);
    } else {
        before_exec(how == X_EXECVEAT && path[0] != '/' && fd != AT_FDCWD ? NULL : path, how == X_EXECVPE);
    }
    int rc;
    switch (how) {
    case X_EXECVE: rc = real_execve(path, argv, env); break;
    case X_EXECVPE: rc = real_execvpe(path, argv, env); break;
    case X_FEXECVE: rc = real_fexecve(fd, argv, env); break;
    default: rc = real_execveat(fd, path, argv, env, flags); break;
    }
    int e = errno;
    if (ring_is_ours())
        lh_session_exec_failed(); /* still this image: recording goes on */
    lh_follow_release(ee.mapped, ee.mapped_len);
    errno = e;
    return rc;
}

extern char **environ;

EXPORT int execve(const char *path, char *const argv[], char *const envp[])
{
    return do_exec(X_EXECVE, -1, path, argv, envp, 0);
}
EXPORT int execv(const char *path, char *const argv[])
{
    return do_exec(X_EXECVE, -1, path, argv, environ, 0);
}
EXPORT int execvp(const char *file, char *const argv[])
{
    return do_exec(X_EXECVPE, -1, file, argv, environ, 0);
}
EXPORT int execvpe(const char *file, char *const argv[], char *const envp[])
{
    return do_exec(X_EXECVPE, -1, file, argv, envp, 0);
}
EXPORT int fexecve(int fd, char *const argv[], char *const envp[])
{
    return do_exec(X_FEXECVE, fd, NULL, argv, envp, 0);
}
EXPORT int execveat(int dirfd, const char *path, char *const argv[], char *const envp[], int flags)
{
    return do_exec(X_EXECVEAT, dirfd, path, argv, envp, flags);
}

#define COLLECT_ARGS(first, argv, last_envp)                                \
    va_list ap;                                                             \
    size_t argc = 1;                                                        \
    va_start(ap, first);                                                    \
    while (va_arg(ap, char *))                                              \
        argc++;                                                             \
    va_end(ap);                                                             \
    char *argv[argc + 1];                                                   \
    va_start(ap, first);                                                    \
    argv[0] = (char *)first;                                                \
    for (size_t i = 1; i <= argc; i++)                                      \
        argv[i] = va_arg(ap, char *);                                       \
    last_envp;                                                              \
    va_end(ap)

EXPORT int execl(const char *path, const char *arg, ...)
{
    COLLECT_ARGS(arg, argv, (void)0);
    return do_exec(X_EXECVE, -1, path, argv, environ, 0);
}
EXPORT int execlp(const char *file, const char *arg, ...)
{
    COLLECT_ARGS(arg, argv, (void)0);
    return do_exec(X_EXECVPE, -1, file, argv, environ, 0);
}
EXPORT int execle(const char *path, const char *arg, ...)
{
    COLLECT_ARGS(arg, argv, char *const *envp = va_arg(ap, char *const *));
    return do_exec(X_EXECVE, -1, path, argv, envp, 0);
}

/* posix_spawn runs its child on a stack of its own, and the child calls
 * execve past our hook: the environment is made here, in the parent. */
static int do_spawn(int search, pid_t *pid, const char *path, const posix_spawn_file_actions_t *fa,
                    const posix_spawnattr_t *attr, char *const argv[], char *const envp[])
{
    if (LH_UNLIKELY(!lh_real_malloc))
        resolve();
    exec_env ee;
    char *const *env = env_to_pass(&ee, envp);
    if (lh_state == LH_RECORDING && !lh_guard && lh_cfg.follow_fork) {
        lh_guard = 1;
        lh_note_exec(path, search);
        lh_guard = 0;
    }
    int rc = (search ? real_posix_spawnp : real_posix_spawn)(pid, path, fa, attr, argv, env);
    lh_follow_release(ee.mapped, ee.mapped_len);
    return rc;
}

EXPORT int posix_spawn(pid_t *pid, const char *path, const posix_spawn_file_actions_t *fa,
                       const posix_spawnattr_t *attr, char *const argv[], char *const envp[])
{
    return do_spawn(0, pid, path, fa, attr, argv, envp);
}
EXPORT int posix_spawnp(pid_t *pid, const char *file, const posix_spawn_file_actions_t *fa,
                        const posix_spawnattr_t *attr, char *const argv[], char *const envp[])
{
    return do_spawn(1, pid, file, fa, attr, argv, envp);
}

EXPORT void _exit(int status)
{
    if (LH_UNLIKELY(!lh_real_malloc))
        resolve();
    if (lh_state == LH_RECORDING && !lh_guard && ring_is_ours())
        lh_session_end((status & 0xff) << 8);
    lh_unwind_report();
    real__exit(status);
}
EXPORT void _Exit(int status) __attribute__((alias("_exit")));

/* --- lifetime --------------------------------------------------------------- */

static void fork_prepare(void)
{
    lh_guard++;
    lh_forkgate_close(); /* no thread of ours inside the loader's lock */
    lh_stack_fork_prepare(); /* the child keeps the stack trie */
    lh_sample_fork_prepare();
    lh_session_fork_prepare(); /* the collector waits for the child's ring */
}

static void fork_parent(void)
{
    lh_sample_fork_parent();
    lh_stack_fork_parent();
    lh_forkgate_open_parent();
    lh_guard--;
}

static void fork_child(void)
{
    lh_forkgate_open_child();
    lh_tbuf_after_fork_child();
    lh_sample_fork_child();
    lh_stack_fork_child();
    lh_session_fork_child(); /* the child's own ring, or STOPPED */
    lh_guard--;
}

void lh_hooks_atfork(void)
{
    lh_forkgate_init();
    pthread_atfork(fork_prepare, fork_parent, fork_child);
}

__attribute__((constructor)) static void lh_start(void)
{
    resolve();
    lh_guard = 1;
    lh_clock_init();
    if (lh_attach_loaded_late()) { /* dlopen'ed: leakhunt_attach() starts */
        lh_clock_threads(); /* its threads are running already */
        lh_guard = 0;
        return;
    }
    if (lh_config_load() < 0) {
        lh_state = LH_STOPPED;
    } else {
        lh_follow_init();
        lh_follow_restore(); /* an exec of ours put the recorder in: the program's own environment back */
        lh_unwind_init(); /* the main thread's stack, while its rlimit is exec's */
        lh_stack_init();
        lh_pyalloc_init(0); /* before main: PYTHONMALLOC may still be chosen */
        if (lh_session_start(0) == 0) {
            lh_hooks_atfork();
            __atomic_store_n(&lh_state, LH_RECORDING, __ATOMIC_RELEASE);
        } else {
            lh_state = LH_STOPPED;
        }
    }
    lh_guard = 0;
}

/* No destructor: recording goes on through exit() until the process is
 * gone (atexit handlers and other destructors allocate too), and the
 * collector drains the ring after it. */
