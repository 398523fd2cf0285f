/*
 * pyalloc.c - CPython's allocator domains wrapped, so that every Python
 * object is recorded with its Python stack while pymalloc keeps serving it.
 *
 * Without this, a process running CPython with its default allocator shows
 * its objects only as pymalloc's arenas (anonymous mappings of 1 MiB,
 * attributed to whichever allocation first needed one), and
 * PYTHONMALLOC=malloc, the old way round, changes the program under study.
 * PEP 445 lets a tracer wrap the allocator in use instead of replacing it
 * (tracemalloc and memray's --trace-python-allocators do): PyMem_GetAllocator
 * gives the MEM and OBJ domains' functions, PyMem_SetAllocator puts ours in
 * front of them. Ours call the previous ones and record the result through
 * the malloc hooks' own path (hooks.c), with the domain in the event
 * (FORMAT.md 4.1, format 1.4). RAW is CPython's own wrapper of malloc,
 * already recorded there; it is wrapped only when something else (an
 * embedding program's allocator) stands in it.
 *
 * Inside a wrapped call the recursion guard is LH_GUARD_PYALLOC: the malloc
 * calls the allocator makes for the object (pymalloc's large blocks, its
 * bookkeeping) pass unrecorded, so nothing is counted twice, and only its
 * anonymous mappings are recorded, as domain py-arena: the arenas, which
 * replay keeps apart from the heap (--stats shows both).
 *
 * When the hooks go in (lh_py_poll, polled from the malloc family's hooks
 * while it is set, and CPython's pending calls):
 *
 *   NONE --lh_pyalloc_init--> PENDING --install--> HOOKED --stop--> RESTORED
 *     (no CPython, or           |  at start: the first hook after
 *      outside 3.11-3.13,       |  _PyRuntime.preinitialized (the
 *      free-threaded, or        |  allocators are final then, and only
 *      malloc/off mode:         |  the starting thread runs); running
 *      UNSUPPORTED etc.)        |  (attached, or libpython initialised
 *                               |  already): a hook on a thread that
 *                               |  holds the GIL (PyGILState_Check), or
 *                               |  the main thread's pending call, which
 *                               |  a hook on a thread without it asks
 *                               |  for (never the injected call of -p)
 *
 * Restoring (a stop: leakhunt-mark --stop, the end of -p) needs the GIL
 * too: the first MEM or OBJ call after it (callers hold the GIL) or a
 * pending call puts the previous functions back, exactly, unless someone
 * wrapped ours meanwhile (tracemalloc started later): then ours stay in the
 * chain, passing every call through. The library is never unloaded, so
 * the wrappers stay valid. Blocks allocated before the hooks went in are of
 * unknown origin to the trace, and their frees count as unknown frees.
 *
 * A torn read of a domain while it is swapped (another thread calling
 * PyMem_RawMalloc without the GIL) is harmless: ours ignore their context
 * argument and carry the previous allocator's, so each function meets a
 * context it accepts.
 *
 * Cost (bench/alloc_heavy.py, Debian's 3.11, medians of alternating runs):
 * see bench/RESULTS.md; a wrapped call adds one indirect call and the
 * guard to pymalloc, which is cheaper than glibc's malloc to begin with.
 */
#include <dlfcn.h>
#include <stdlib.h>
#include <string.h>

#include "rec.h"

/* PyMemAllocatorEx, stable since 3.5. */
typedef struct {
    void *ctx;
    void *(*malloc)(void *ctx, size_t size);
    void *(*calloc)(void *ctx, size_t nelem, size_t elsize);
    void *(*realloc)(void *ctx, void *ptr, size_t new_size);
    void (*free)(void *ctx, void *ptr);
} py_allocator;

enum { RAW = 0, MEM = 1, OBJ = 2, N_DOMAINS = 3 }; /* PyMemAllocatorDomain */

enum { POLL_NONE = 0, POLL_INSTALL = 1, POLL_RESTORE = 2, POLL_BUSY = 3 };

LH_HIDDEN volatile int lh_py_poll;
LH_HIDDEN uint32_t lh_pyalloc_state;

static void (*get_allocator)(int domain, py_allocator *out);
static void (*set_allocator)(int domain, py_allocator *in);
static int (*gil_check)(void);
static int (*is_initialized)(void);
static int (*add_pending)(int (*fn)(void *), void *arg);
static void *raw_malloc_fn;       /* PyMem_RawMalloc: where CPython's own RAW functions live */
static const int *preinitialized; /* &_PyRuntime.preinitialized */
static int detected, attached_mode;
static int pending_wanted; /* attached: a pending call to ask for, from a hook (see lh_pyalloc_poll) */

static py_allocator prev[N_DOMAINS], mine[N_DOMAINS];
static int wrapped[N_DOMAINS];

static const unsigned domain_of[N_DOMAINS] = { LH_DOM_PY_RAW, LH_DOM_PY_MEM, LH_DOM_PY_OBJ };

static void set_state(uint32_t s)
{
    lh_pyalloc_state = s;
    if (lh_ring)
        __atomic_store_n(&lh_ring->py_alloc, s, __ATOMIC_RELEASE);
}

/* --- the wrappers ------------------------------------------------------------- */

static void restore_now(void);

/* A stop request seen here (an idle service may make too few events for
 * the periodic check to come soon): the recording ends now, and the old
 * allocators go back at once. */
static void stop_seen(void)
{
    lh_guard = 1;
    lh_session_check();
    lh_guard = 0;
    restore_now();
}

/* MEM and OBJ callers hold the GIL: the place to put the old ones back. */
static inline void maybe_restore(int d)
{
    if (d == RAW || lh_guard)
        return;
    if (LH_UNLIKELY(lh_py_poll == POLL_RESTORE)) {
        restore_now();
        return;
    }
    lh_ring_header *h = lh_ring;
    if (LH_UNLIKELY(h && lh_state == LH_RECORDING && __atomic_load_n(&h->stop, __ATOMIC_RELAXED)))
        stop_seen();
}

static inline void *w_malloc(int d, size_t n)
{
    maybe_restore(d);
    if (lh_state != LH_RECORDING || lh_guard)
        return prev[d].malloc(prev[d].ctx, n);
    lh_guard = LH_GUARD_PYALLOC;
    void *p = prev[d].malloc(prev[d].ctx, n);
    lh_guard = 1;
    if (p)
        lh_record_alloc(LH_RAW_ALLOC, p, n, domain_of[d]);
    lh_guard = 0;
    return p;
}

static inline void *w_calloc(int d, size_t nelem, size_t elsize)
{
    maybe_restore(d);
    if (lh_state != LH_RECORDING || lh_guard)
        return prev[d].calloc(prev[d].ctx, nelem, elsize);
    lh_guard = LH_GUARD_PYALLOC;
    void *p = prev[d].calloc(prev[d].ctx, nelem, elsize);
    lh_guard = 1;
    if (p) /* a product that overflows has failed above */
        lh_record_alloc(LH_RAW_ALLOC, p, nelem * elsize, domain_of[d]);
    lh_guard = 0;
    return p;
}

static inline void *w_realloc(int d, void *old, size_t n)
{
    maybe_restore(d);
    if (lh_state != LH_RECORDING || lh_guard)
        return prev[d].realloc(prev[d].ctx, old, n);
    if (!old) {
        lh_guard = LH_GUARD_PYALLOC;
        void *p = prev[d].realloc(prev[d].ctx, NULL, n);
        lh_guard = 1;
        if (p)
            lh_record_alloc(LH_RAW_ALLOC, p, n, domain_of[d]);
        lh_guard = 0;
        return p;
    }
    lh_guard = 1;
    void *p = lh_realloc_recorded((lh_realloc_fn)prev[d].realloc, prev[d].ctx, old, n, domain_of[d]);
    lh_guard = 0;
    return p;
}

static inline void w_free(int d, void *p)
{
    maybe_restore(d);
    if (!p || lh_state != LH_RECORDING || lh_guard) {
        prev[d].free(prev[d].ctx, p);
        return;
    }
    lh_guard = 1;
    lh_record_release(LH_RAW_FREE, p, 0, domain_of[d]);
    lh_guard = LH_GUARD_PYALLOC;
    prev[d].free(prev[d].ctx, p);
    lh_guard = 0;
}

#define WRAPPERS(D)                                                                              \
    static void *malloc_##D(void *ctx, size_t n) { (void)ctx; return w_malloc(D, n); }           \
    static void *calloc_##D(void *ctx, size_t a, size_t b) { (void)ctx; return w_calloc(D, a, b); } \
    static void *realloc_##D(void *ctx, void *p, size_t n) { (void)ctx; return w_realloc(D, p, n); } \
    static void free_##D(void *ctx, void *p) { (void)ctx; w_free(D, p); }
WRAPPERS(RAW)
WRAPPERS(MEM)
WRAPPERS(OBJ)

static const py_allocator ours[N_DOMAINS] = {
    { NULL, malloc_RAW, calloc_RAW, realloc_RAW, free_RAW },
    { NULL, malloc_MEM, calloc_MEM, realloc_MEM, free_MEM },
    { NULL, malloc_OBJ, calloc_OBJ, realloc_OBJ, free_OBJ },
};

/* --- putting them in and taking them out ---------------------------------------- */

/* Whether the RAW domain holds something other than CPython's own functions. */
static int raw_is_foreign(const py_allocator *raw)
{
    Dl_info a, b;
    if (!raw_malloc_fn || !dladdr((void *)raw->malloc, &a) || !dladdr(raw_malloc_fn, &b))
        return 0;
    return a.dli_fbase != b.dli_fbase;
}

/* Whether domain d's functions are CPython's RAW ones, plain malloc (the
 * program runs with PYTHONMALLOC=malloc): the malloc hooks record its
 * blocks already, and a wrapper would only add a second hook per call. */
static int is_plain_malloc(const py_allocator *cur, const py_allocator *raw)
{
    return cur->malloc == raw->malloc && cur->calloc == raw->calloc && cur->realloc == raw->realloc
        && cur->free == raw->free;
}

/* With the GIL held, or in the interpreter's start-up. */
static void install(void)
{
    py_allocator raw;
    get_allocator(RAW, &raw);
    int raw_own = !raw_is_foreign(&raw); /* RAW is CPython's own malloc wrapper */
    for (int d = 0; d < N_DOMAINS; d++) {
        py_allocator cur;
        get_allocator(d, &cur);
        if (cur.malloc == ours[d].malloc || (d == RAW && raw_own))
            continue;
        if (d != RAW && raw_own && is_plain_malloc(&cur, &raw))
            continue;
        prev[d] = cur;
        mine[d] = ours[d];
        mine[d].ctx = cur.ctx; /* a torn read pairs any function with a context it accepts */
        __atomic_thread_fence(__ATOMIC_RELEASE);
        set_allocator(d, &mine[d]);
        wrapped[d] = 1;
    }
    set_state(wrapped[RAW] || wrapped[MEM] || wrapped[OBJ] ? LH_PYALLOC_HOOKED : LH_PYALLOC_MALLOC);
}

/* With the GIL held: the previous functions back where ours still are. */
static void restore_now(void)
{
    int want = POLL_RESTORE;
    if (!__atomic_compare_exchange_n(&lh_py_poll, &want, POLL_BUSY, 0, __ATOMIC_ACQ_REL, __ATOMIC_RELAXED))
        return;
    int g = lh_guard;
    lh_guard = 1;
    for (int d = 0; d < N_DOMAINS; d++) {
        if (!wrapped[d])
            continue;
        py_allocator cur;
        get_allocator(d, &cur);
        if (cur.malloc == ours[d].malloc)
            set_allocator(d, &prev[d]);
        wrapped[d] = 0;
    }
    set_state(LH_PYALLOC_RESTORED);
    __atomic_store_n(&lh_py_poll, POLL_NONE, __ATOMIC_RELEASE);
    lh_guard = g;
}

/* Whether the calling thread may install now. */
static int safe_point(void)
{
    if (is_initialized())
        return gil_check() == 1;
    /* Start-up: PYTHONMALLOC and -X dev are applied in Py_PreInitialize;
     * after it only the starting thread runs until Py_Initialize is done. */
    return !attached_mode && preinitialized && __atomic_load_n(preinitialized, __ATOMIC_ACQUIRE);
}

static int pending_call(void *arg);

void lh_pyalloc_poll(void)
{
    if (lh_py_poll != POLL_INSTALL)
        return;
    lh_guard = 1;
    if (safe_point()) {
        int want = POLL_INSTALL;
        if (__atomic_compare_exchange_n(&lh_py_poll, &want, POLL_BUSY, 0, __ATOMIC_ACQ_REL, __ATOMIC_RELAXED)) {
            install();
            __atomic_store_n(&lh_py_poll, POLL_NONE, __ATOMIC_RELEASE);
        }
    } else if (__atomic_load_n(&pending_wanted, __ATOMIC_RELAXED)
               && __atomic_exchange_n(&pending_wanted, 0, __ATOMIC_ACQ_REL)) {
        /* A thread without the GIL: the main thread takes it between two
         * bytecodes. Asked from here, a call of the program's, never from
         * the injected call of -p, which may have stopped the main thread
         * inside the interpreter's pending-call lock. */
        add_pending(pending_call, NULL);
    }
    lh_guard = 0;
}

/* A pending call: the main thread, between bytecodes, with the GIL. */
static int pending_call(void *arg)
{
    (void)arg;
    int g = lh_guard;
    if (g) /* never: pending calls run from the eval loop */
        return 0;
    if (lh_py_poll == POLL_RESTORE) {
        restore_now();
        return 0;
    }
    if (lh_state != LH_RECORDING)
        return 0;
    lh_guard = 1;
    int want = POLL_INSTALL;
    if (__atomic_compare_exchange_n(&lh_py_poll, &want, POLL_BUSY, 0, __ATOMIC_ACQ_REL, __ATOMIC_RELAXED)) {
        install();
        __atomic_store_n(&lh_py_poll, POLL_NONE, __ATOMIC_RELEASE);
    }
    lh_guard = 0;
    return 0;
}

void lh_pyalloc_stopped(void)
{
    int want = POLL_INSTALL;
    /* never hooked: nothing to undo */
    if (__atomic_compare_exchange_n(&lh_py_poll, &want, POLL_NONE, 0, __ATOMIC_ACQ_REL, __ATOMIC_RELAXED)) {
        set_state(LH_PYALLOC_NONE);
        return;
    }
    if (lh_pyalloc_state != LH_PYALLOC_HOOKED)
        return;
    want = POLL_NONE;
    if (__atomic_compare_exchange_n(&lh_py_poll, &want, POLL_RESTORE, 0, __ATOMIC_ACQ_REL, __ATOMIC_RELAXED)
        && add_pending && is_initialized())
        add_pending(pending_call, NULL); /* if no MEM or OBJ call comes first */
}

/* --- finding CPython ---------------------------------------------------------- */

#define PY_SYM(handle, name) dlsym(handle, name)

/* _PyRuntime.preinitialized, from each version's pycore_runtime.h (3.13
 * puts _Py_DebugOffsets first, cookie "xdebugpy"). */
static const int *find_preinitialized(void *h, unsigned minor)
{
    const char *rt = PY_SYM(h, "_PyRuntime");
    if (!rt)
        return NULL;
    if (minor == 13)
        return memcmp(rt, "xdebugpy", 8) ? NULL : (const int *)(rt + 592);
    return (const int *)(rt + 8);
}

/* Look for CPython through handle (RTLD_DEFAULT, or a dlopen'ed library). */
static void detect(void *h)
{
    void *set = PY_SYM(h, "PyMem_SetAllocator"), *get = PY_SYM(h, "PyMem_GetAllocator");
    if (!set || !get)
        return; /* not (yet) a Python process */
    detected = 1;
    const unsigned *version = PY_SYM(h, "Py_Version");
    unsigned major = version ? *version >> 24 : 0, minor = version ? (*version >> 16) & 0xff : 0;
    if (lh_cfg.py_alloc == LH_PYA_OFF) {
        set_state(LH_PYALLOC_OFF);
        return;
    }
    is_initialized = (int (*)(void))PY_SYM(h, "Py_IsInitialized");
    /* Before main (or before an embedding program initialises it) the
     * interpreter has not read PYTHONMALLOC yet. */
    int can_set = !attached_mode && !(is_initialized && is_initialized()) && !getenv("PYTHONMALLOC");
    if (lh_cfg.py_alloc == LH_PYA_MALLOC) {
        if (can_set) /* leakhunt-record sets it for python* programs; this is any other that runs CPython */
            setenv("PYTHONMALLOC", "malloc", 1);
        set_state(LH_PYALLOC_MALLOC);
        return;
    }
    const char *why = NULL;
    uint32_t state = LH_PYALLOC_UNSUPPORTED;
    /* Free-threaded builds: PyObject is 32 bytes there, not 16; mimalloc's
     * heaps serve objects, and its domains are not wrapped. */
    const char *base = PY_SYM(h, "PyBaseObject_Type");
    if (major != 3 || minor < 11 || minor > 13) {
        why = "";
    } else if (!base || *(const intptr_t *)(base + 32) != 16) {
        why = " free-threaded";
        state = LH_PYALLOC_FREE_THREADED;
    }
    gil_check = (int (*)(void))PY_SYM(h, "PyGILState_Check");
    add_pending = (int (*)(int (*)(void *), void *))PY_SYM(h, "Py_AddPendingCall");
    raw_malloc_fn = PY_SYM(h, "PyMem_RawMalloc");
    preinitialized = why ? NULL : find_preinitialized(h, minor);
    if (!why && (!gil_check || !is_initialized || !raw_malloc_fn || !preinitialized))
        why = " without the symbols its allocator hooks need,";
    if (why) {
        /* Native tracing, as before: objects are mallocs if PYTHONMALLOC
         * can still be chosen (before main) and nobody chose it. */
        can_set = can_set && state != LH_PYALLOC_FREE_THREADED; /* there mimalloc is required */
        if (can_set)
            setenv("PYTHONMALLOC", "malloc", 1);
        if (!lh_cfg.quiet) {
            if (version)
                lh_message("CPython %u.%u%s: its allocator is not hooked (3.11 to 3.13 are); %s", major, minor,
                           why, can_set ? "recording with PYTHONMALLOC=malloc, every object a malloc"
                                        : state == LH_PYALLOC_FREE_THREADED
                                        ? "objects show as its allocator's pages only"
                                        : "objects show as pymalloc's arenas only");
            else
                lh_message("CPython older than 3.11: its allocator is not hooked (3.11 to 3.13 are); %s",
                           can_set ? "recording with PYTHONMALLOC=malloc, every object a malloc"
                                   : "objects show as pymalloc's arenas only");
        }
        set_state(state);
        return;
    }
    get_allocator = (void (*)(int, py_allocator *))get;
    set_allocator = (void (*)(int, py_allocator *))set;
    set_state(LH_PYALLOC_PENDING);
    __atomic_store_n(&lh_py_poll, POLL_INSTALL, __ATOMIC_RELEASE);
}

void lh_pyalloc_init(int attached)
{
    attached_mode = attached;
    if (detected)
        return;
    detect(RTLD_DEFAULT);
    /* Attached: a thread holding the GIL installs from a hook of ours, or
     * one without it asks the main thread to (lh_pyalloc_poll). */
    if (attached && lh_py_poll == POLL_INSTALL && add_pending && is_initialized())
        pending_wanted = 1;
}

void lh_pyalloc_dlopen(void *handle)
{
    if (!detected)
        detect(handle);
}
