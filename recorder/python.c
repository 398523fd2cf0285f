/*
 * python.c - Python frames in native stacks, for a traced CPython.
 *
 * A native stack of a Python program is mostly the interpreter's evaluation
 * loop, _PyEval_EvalFrameDefault, over and over. Here the Python frames it
 * was running (file, function, line) take the place of those native frames,
 * in one of two ways described below (inner or full).
 *
 * How (CPython 3.11 to 3.13, the way py-spy and austin read a process from
 * outside, but from inside the thread that allocates):
 *   - the thread's PyThreadState comes from PyGILState_GetThisThreadState(),
 *     a thread-specific-storage read (pthread_getspecific) that neither
 *     allocates nor locks; it is the thread's own state, GIL held or not;
 *   - the innermost _PyInterpreterFrame is tstate->cframe->current_frame
 *     (3.11, 3.12) or tstate->current_frame (3.13); ->previous links go
 *     outwards through every C-level eval call. One call of
 *     _PyEval_EvalFrameDefault runs a group of frames (Python-to-Python
 *     calls are inlined): in 3.11 the group ends with the frame that has
 *     is_entry set, in 3.12 and 3.13 the eval call pushes an entry frame of
 *     its own (owner FRAME_OWNED_BY_CSTACK, no Python code) just outside
 *     the group. So the k-th eval frame on the native stack, counted from
 *     the outermost, ran the k-th group counted from the outermost;
 *   - fields are read at fixed offsets, one table row per version (taken
 *     with offsetof from each version's internal headers), every pointer
 *     checked (code objects by their type), and the line comes from
 *     PyCode_Addr2Line(code, byte offset of the frame's instruction), a
 *     pure walk over co_linetable (no allocation, no lock);
 *   - strings are copied out of compact unicode objects by hand.
 * A (code object, line) is interned once into a dense frame id; the stack
 * trie stores it as the synthetic ip LH_PY_IP_BASE + id (kernel space, never
 * a user return address; FORMAT.md 4.4), and each new frame goes into the
 * ring's frame log, from which the collector writes PyFrames chunks before
 * the stack nodes that use them.
 *
 * Which native frames stay (--python-stacks, LEAKHUNT_PYTHON):
 *   inner (default): the native frames inside the innermost eval call (the
 *     allocator, the C code of the interpreter or an extension), then the
 *     whole Python stack. The unwinder only needs to reach that eval frame,
 *     a handful of frames instead of twenty-odd down to main, which is most
 *     of the cost of a Python allocation (lh_python_window); the native
 *     frames between outer eval calls are dropped, as memray and py-spy do
 *     by default;
 *   full: every native frame, each eval frame replaced by its own group of
 *     Python frames, so a stack reads: allocator, C code, Python frames,
 *     more C, more Python frames, main.
 *
 * The optimizer moves the rarely run parts of _PyEval_EvalFrameDefault
 * (error paths, which allocate tracebacks) into a separate ".cold" block
 * that has no dynamic symbol; it is found at start as the unwind-table
 * entry (FDE) that the function's own long jumps point into most, when
 * one clearly wins (Debian's 3.11 has one; pyenv's 3.12.1 only an 8-byte
 * .cold without calls and 3.13.0 none, and none is found there).
 *
 * Code objects can die and their address be reused by another one: the
 * interning key includes the code object's filename and qualname pointers
 * and first line as well, which makes a stale hit very unlikely (not
 * impossible: then a frame shows another function's name).
 */
#include <dlfcn.h>
#include <link.h>
#include <stdlib.h>
#include <string.h>

#define UNW_LOCAL_ONLY
#include <libunwind.h>

#include "maptable.h"
#include "rec.h"

/* The layouts (LP64) Python frames are read with, one row per version: from
 * Include/internal/pycore_frame.h and Include/cpython/{pystate,code,
 * unicodeobject}.h, measured with offsetof against each version's headers
 * (3.11.7, 3.12.1, 3.13.0; checked with Debian's 3.11.2 too). They are
 * taken to hold for a whole minor version; lh_python_init cross-checks two
 * of them against the running interpreter's type objects. */
typedef struct {
    unsigned minor;
    int16_t ts_cframe;      /* PyThreadState.cframe; -1: the frame is in the tstate */
    uint16_t frame;         /* _PyCFrame.current_frame, or PyThreadState.current_frame */
    uint16_t fr_code;       /* _PyInterpreterFrame.f_code / f_executable */
    uint16_t fr_previous;   /* .previous */
    uint16_t fr_instr;      /* .prev_instr (3.11, 3.12) / .instr_ptr (3.13) */
    int16_t fr_is_entry;    /* .is_entry (bool, 3.11): the group's last frame; -1 none */
    int16_t fr_owner;       /* .owner (char); -1: not used */
    uint16_t co_firstlineno, co_filename, co_qualname;
    uint16_t co_code;       /* co_code_adaptive: the code units */
    uint16_t u_ascii_data;  /* sizeof(PyASCIIObject) */
    uint16_t u_utf8_len, u_utf8; /* PyCompactUnicodeObject.utf8_length, .utf8 */
    uint16_t u_compact_data; /* sizeof(PyCompactUnicodeObject) */
    uint32_t u_ready;       /* state bit "ready" (3.11); 0: every str is ready */
    uint32_t co_shim;       /* co_flags of code that is no Python source: skipped */
} py_layout;

#define FRAME_OWNED_BY_CSTACK 3 /* 3.12, 3.13: an eval call's entry frame */

static const py_layout layouts[] = {
    { .minor = 11, .ts_cframe = 56, .frame = 8, .fr_code = 32, .fr_previous = 48,
      .fr_instr = 56, .fr_is_entry = 68, .fr_owner = -1, .co_firstlineno = 72,
      .co_filename = 112, .co_qualname = 128, .co_code = 184, .u_ascii_data = 48,
      .u_utf8_len = 48, .u_utf8 = 56, .u_compact_data = 72, .u_ready = 1u << 7 },
    { .minor = 12, .ts_cframe = 56, .frame = 0, .fr_code = 0, .fr_previous = 8,
      .fr_instr = 56, .fr_is_entry = -1, .fr_owner = 70, .co_firstlineno = 68,
      .co_filename = 112, .co_qualname = 128, .co_code = 192, .u_ascii_data = 40,
      .u_utf8_len = 40, .u_utf8 = 48, .u_compact_data = 56, .u_ready = 0 },
    { .minor = 13, .ts_cframe = -1, .frame = 72, .fr_code = 0, .fr_previous = 8,
      .fr_instr = 56, .fr_is_entry = -1, .fr_owner = 70, .co_firstlineno = 68,
      .co_filename = 112, .co_qualname = 128, .co_code = 200, .u_ascii_data = 40,
      .u_utf8_len = 40, .u_utf8 = 48, .u_compact_data = 56, .u_ready = 0,
      .co_shim = 0x2000000 /* CO_NO_MONITORING_EVENTS: the __init__ shim frame */ },
};
/* The same in every supported version */
#define OB_TYPE 8           /* PyObject.ob_type */
#define OB_SIZE 16          /* PyVarObject.ob_size: code units of a code object */
#define CODEUNIT 2          /* sizeof(_Py_CODEUNIT) */
#define CO_FLAGS 48         /* PyCodeObject.co_flags */
#define U_LENGTH 16         /* PyASCIIObject.length */
#define U_STATE 32          /* .state bits: kind 2..4, compact 5, ascii 6 */
#define TP_BASICSIZE 32     /* PyTypeObject.tp_basicsize */

#define MAX_PY_FRAMES 1024  /* frames looked at per capture */
#define MAX_STR 1024

static int py_on;
static int py_full;   /* --python-stacks full: keep every native frame */
static const py_layout *L; /* the running interpreter's row of layouts[] */
static uintptr_t eval_lo, eval_hi, cold_lo, cold_hi;
static void *(*get_tstate)(void);
static int (*addr2line)(void *code, int addrq);
static uintptr_t code_type, unicode_type;

/* --- interning -------------------------------------------------------------- */

typedef struct {
    uint64_t a, b, c;
    uint32_t id1; /* id + 1, 0 = empty */
} slot;

/* A key -> frame id table: the keys in an array of their own (maptable.h
 * holds their indexes + 1), in insertion order. */
typedef struct {
    lh_maptable t;
    slot *e;
    uint32_t cap;
} table;

static pthread_mutex_t py_lock = PTHREAD_MUTEX_INITIALIZER;
static table by_addr;  /* (code, lasti | firstline << 32, names) -> id */
static table by_line;  /* (code, line | firstline << 32, names) -> id */
static uint32_t *fr_file, *fr_func, *fr_line; /* offsets into strs; line */
static uint32_t fr_count, fr_cap;
static char *strs;
/* The ring's frame log (ring.h): appended under py_lock, then published. */
static char *pylog;
static uint32_t pylog_cap;
static uint64_t pylog_at, *pylog_len;
static uint32_t *pylog_count;
static size_t strs_len, strs_cap;

static inline uint64_t hash3(uint64_t a, uint64_t b, uint64_t c)
{
    return lh_mix(lh_mix(lh_mix(0x51ed27ull, a), b), c);
}

static uint64_t hash_of_key(const void *ctx, uint32_t k1)
{
    const slot *e = &((const table *)ctx)->e[k1 - 1];
    return hash3(e->a, e->b, e->c);
}

/* The key's frame id + 1, or 0. */
static uint32_t table_get(const table *t, uint64_t a, uint64_t b, uint64_t c)
{
    if (!t->t.slot)
        return 0;
    for (uint32_t j = lh_maptable_start(&t->t, hash3(a, b, c)); t->t.slot[j]; j = lh_maptable_next(&t->t, j)) {
        const slot *e = &t->e[t->t.slot[j] - 1];
        if (e->a == a && e->b == b && e->c == c)
            return e->id1;
    }
    return 0;
}

/* A key not in t yet. 0, or -1 with t unchanged. */
static int table_put(table *t, uint64_t a, uint64_t b, uint64_t c, uint32_t id1)
{
    if (t->t.n >= t->cap) {
        uint32_t cap = t->cap ? t->cap * 2 : 2048;
        slot *e = lh_map_grow(t->e, (size_t)t->cap * sizeof(slot), (size_t)cap * sizeof(slot));
        if (!e)
            return -1;
        t->e = e;
        t->cap = cap;
    }
    if (lh_maptable_full(&t->t) && lh_maptable_grow(&t->t, 4096, hash_of_key, t) < 0)
        return -1;
    t->e[t->t.n] = (slot){ a, b, c, id1 };
    lh_maptable_put(&t->t, lh_maptable_free_slot(&t->t, hash3(a, b, c)), t->t.n + 1);
    return 0;
}

/* Offset of a copy of s[0..n) plus NUL in strs, or UINT32_MAX. */
static uint32_t keep_str(const char *s, size_t n)
{
    if (strs_len + n + 1 > strs_cap) {
        size_t cap = strs_cap ? strs_cap * 2 : 1u << 16;
        while (cap < strs_len + n + 1)
            cap *= 2;
        if (cap > UINT32_MAX)
            return UINT32_MAX;
        char *p = lh_map_grow(strs, strs_cap, cap);
        if (!p)
            return UINT32_MAX;
        strs = p;
        strs_cap = cap;
    }
    uint32_t at = (uint32_t)strs_len;
    memcpy(strs + at, s, n);
    strs[at + n] = 0;
    strs_len += n + 1;
    return at;
}

/* --- reading the interpreter's objects ---------------------------------------- */

static inline uintptr_t rd_ptr(uintptr_t p, size_t off) { return *(const uintptr_t *)(p + off); }

static inline int plausible(uintptr_t p) { return p >= 4096 && !(p & 7) && p < ((uintptr_t)1 << 47); }

static size_t put_utf8(char *out, size_t o, size_t cap, uint32_t c)
{
    char b[4];
    size_t n;
    if (c < 0x80) b[0] = (char)c, n = 1;
    else if (c < 0x800) b[0] = (char)(0xC0 | c >> 6), b[1] = (char)(0x80 | (c & 63)), n = 2;
    else if (c < 0x10000)
        b[0] = (char)(0xE0 | c >> 12), b[1] = (char)(0x80 | ((c >> 6) & 63)),
        b[2] = (char)(0x80 | (c & 63)), n = 3;
    else
        b[0] = (char)(0xF0 | c >> 18), b[1] = (char)(0x80 | ((c >> 12) & 63)),
        b[2] = (char)(0x80 | ((c >> 6) & 63)), b[3] = (char)(0x80 | (c & 63)), n = 4;
    if (o + n > cap)
        return o;
    memcpy(out + o, b, n);
    return o + n;
}

/* UTF-8 text of a str object into out (cap bytes, no NUL); length, or 0
 * when it is not a ready compact str (then the caller says "?"). */
static size_t read_str(uintptr_t u, char *out, size_t cap)
{
    if (!plausible(u) || rd_ptr(u, OB_TYPE) != unicode_type)
        return 0;
    uint32_t state = *(const uint32_t *)(u + U_STATE);
    unsigned kind = (state >> 2) & 7, compact = (state >> 5) & 1, ascii = (state >> 6) & 1;
    intptr_t len = *(const intptr_t *)(u + U_LENGTH);
    if (!compact || (L->u_ready && !(state & L->u_ready)) || len <= 0)
        return 0;
    if (ascii) {
        size_t n = (size_t)len < cap ? (size_t)len : cap;
        memcpy(out, (const char *)(u + L->u_ascii_data), n);
        return n;
    }
    intptr_t ulen = *(const intptr_t *)(u + L->u_utf8_len);
    uintptr_t utf8 = rd_ptr(u, L->u_utf8);
    if (utf8 && ulen > 0) {
        size_t n = (size_t)ulen < cap ? (size_t)ulen : cap;
        memcpy(out, (const char *)utf8, n);
        return n;
    }
    const void *data = (const void *)(u + L->u_compact_data);
    size_t o = 0;
    for (intptr_t i = 0; i < len && o + 4 <= cap; i++) {
        uint32_t c = kind == 1 ? ((const uint8_t *)data)[i]
                   : kind == 2 ? ((const uint16_t *)data)[i]
                   : kind == 4 ? ((const uint32_t *)data)[i] : '?';
        o = put_utf8(out, o, cap, c);
    }
    return o;
}

/* A thread's own memory of the code positions it met last, in front of
 * the shared tables: a hit needs no lock. Same key as by_addr. */
#define PY_CACHE_SLOTS 2048
typedef struct {
    slot s[PY_CACHE_SLOTS];
} py_cache;

/* Frame id + 1 of code object co at byte offset addrq; 0 if none could be
 * made. py_lock is taken only for a position this thread has not met. */
static uint32_t frame_id_slow(uintptr_t co, intptr_t addrq, uint64_t b, uint64_t names);
static uint32_t frame_id(py_cache *pc, uintptr_t co, intptr_t addrq)
{
    uintptr_t file = rd_ptr(co, L->co_filename), func = rd_ptr(co, L->co_qualname);
    uint64_t first = (uint32_t) * (const int *)(co + L->co_firstlineno);
    uint64_t names = (uint64_t)file * 31 ^ (uint64_t)func;
    uint64_t b = (uint64_t)(uint32_t)addrq | first << 32;
    slot *s = pc ? &pc->s[lh_mix(co, b) & (PY_CACHE_SLOTS - 1)] : NULL;
    if (s && s->id1 && s->a == co && s->b == b && s->c == names)
        return s->id1;
    pthread_mutex_lock(&py_lock);
    uint32_t id1 = frame_id_slow(co, addrq, b, names);
    pthread_mutex_unlock(&py_lock);
    if (s && id1)
        *s = (slot){ co, b, names, id1 };
    return id1;
}

/* Append frame id to the ring's log and publish it; py_lock held. */
static int log_frame(uint32_t id)
{
    if (!pylog)
        return -1;
    const char *file = strs + fr_file[id], *func = strs + fr_func[id];
    size_t fl = strlen(file), nl = strlen(func);
    if (fl > 0xffff) fl = 0xffff;
    if (nl > 0xffff) nl = 0xffff;
    uint64_t need = (sizeof(lh_ring_pyframe) + fl + nl + 3) & ~(uint64_t)3;
    if (pylog_at + need > pylog_cap)
        return -1;
    lh_ring_pyframe rec = { fr_line[id], (uint16_t)fl, (uint16_t)nl, id };
    memcpy(pylog + pylog_at, &rec, sizeof(rec));
    memcpy(pylog + pylog_at + sizeof(rec), file, fl);
    memcpy(pylog + pylog_at + sizeof(rec) + fl, func, nl);
    pylog_at += need;
    __atomic_store_n(pylog_len, pylog_at, __ATOMIC_RELEASE);
    return 0;
}

/* frame_id's shared part, with its key (b: offset and first line; names).
 * py_lock held. */
static uint32_t frame_id_slow(uintptr_t co, intptr_t addrq, uint64_t b, uint64_t names)
{
    uintptr_t file = rd_ptr(co, L->co_filename), func = rd_ptr(co, L->co_qualname);
    uint64_t first = b >> 32;
    uint32_t id1 = table_get(&by_addr, co, b, names);
    if (id1)
        return id1;
    int line = addr2line((void *)co, (int)addrq);
    uint64_t lb = (uint64_t)(uint32_t)line | first << 32;
    id1 = table_get(&by_line, co, lb, names);
    if (!id1) {
        if (fr_count >= fr_cap) {
            uint32_t cap = fr_cap ? fr_cap * 2 : 4096;
            uint32_t *a = lh_map_grow(fr_file, fr_cap * 4u, cap * 4u);
            if (!a)
                return 0;
            fr_file = a;
            if (!(a = lh_map_grow(fr_func, fr_cap * 4u, cap * 4u)))
                return 0;
            fr_func = a;
            if (!(a = lh_map_grow(fr_line, fr_cap * 4u, cap * 4u)))
                return 0;
            fr_line = a;
            fr_cap = cap;
        }
        char buf[MAX_STR];
        size_t n = read_str(file, buf, sizeof(buf));
        uint32_t fo = n ? keep_str(buf, n) : keep_str("?", 1);
        n = read_str(func, buf, sizeof(buf));
        uint32_t fu = n ? keep_str(buf, n) : keep_str("?", 1);
        if (fo == UINT32_MAX || fu == UINT32_MAX)
            return 0;
        uint32_t id = fr_count;
        fr_file[id] = fo;
        fr_func[id] = fu;
        fr_line[id] = line > 0 ? (uint32_t)line : 0;
        if (table_put(&by_line, co, lb, names, id + 1) < 0)
            return 0;
        if (log_frame(id) < 0)
            return 0; /* the log is full: no new frames */
        fr_count++;
        __atomic_store_n(pylog_count, fr_count, __ATOMIC_RELEASE);
        id1 = id + 1;
    }
    table_put(&by_addr, co, b, names, id1);
    return id1;
}

static inline int in_eval(uintptr_t ip)
{
    /* ip is a return address: the call is at ip - 1 */
    return (ip > eval_lo && ip <= eval_hi) || (ip > cold_lo && ip <= cold_hi);
}

/* --- capture ---------------------------------------------------------------- */

/* Raw frames to unwind first in inner mode: our own two or three, the
 * allocator's callers, the innermost eval frame. With Debian's 3.11 on
 * bench/alloc_heavy.py, 98.4% of allocations find that eval frame within
 * these 8 (counted); the rest unwind again in full. */
#define INNER_WINDOW 8

int lh_python_window(void)
{
    /* A thread that never ran Python code (a native worker of an
     * extension) has no eval frame to reach: it unwinds once, in full. */
    return py_on && !py_full && plausible((uintptr_t)get_tstate()) ? INNER_WINDOW : 0;
}

int lh_python_has_eval(void *const *ips, int n)
{
    for (int i = 0; i < n; i++)
        if (in_eval((uintptr_t)ips[i]))
            return 1;
    return 0;
}

/* The thread's innermost Python frame, or 0. */
static uintptr_t current_frame(void)
{
    uintptr_t ts = (uintptr_t)get_tstate();
    if (!plausible(ts))
        return 0;
    uintptr_t fs = ts; /* what holds the innermost frame pointer */
    if (L->ts_cframe >= 0) {
        fs = rd_ptr(ts, (size_t)L->ts_cframe);
        if (!plausible(fs))
            return 0;
    }
    return rd_ptr(fs, L->frame);
}

/* One Python frame: its id + 1 in *id1 (0: none, skip it); the entry flag
 * of the eval call it ends (3.11) or is (3.12+) in *entry; -1 when the
 * walk must stop here (not a frame we can read). */
static int read_frame(py_cache *pc, uintptr_t f, uint32_t *id1, int *entry)
{
    *id1 = 0;
    *entry = 0;
    if (L->fr_owner >= 0 && *(const uint8_t *)(f + L->fr_owner) == FRAME_OWNED_BY_CSTACK) {
        *entry = 1; /* an eval call's entry frame: the group inside it is complete */
        return 0;
    }
    uintptr_t co = rd_ptr(f, L->fr_code);
    if (!plausible(co) || rd_ptr(co, OB_TYPE) != code_type)
        return -1;
    if (*(const uint32_t *)(co + CO_FLAGS) & L->co_shim)
        return 0;
    uintptr_t instr = rd_ptr(f, L->fr_instr);
    intptr_t addrq = (intptr_t)instr - (intptr_t)(co + L->co_code);
    intptr_t units = *(const intptr_t *)(co + OB_SIZE);
    if (addrq < 0 || addrq >= units * CODEUNIT)
        addrq = -1; /* not started yet: the first line */
    *id1 = frame_id(pc, co, addrq);
    *entry = L->fr_is_entry >= 0 && *(const uint8_t *)(f + L->fr_is_entry);
    return 0;
}

/* The thread's Python frames from f outwards into ids (innermost first, at
 * most MAX_PY_FRAMES); their number. With gstart, also where each eval
 * call's group ends: group g is ids[gstart[g] .. gstart[g + 1]), *ng of
 * them so far, at most max_groups. */
static int walk_frames(py_cache *pc, uintptr_t f, uint32_t *ids, int *gstart, int max_groups, int *ng)
{
    int nid = 0;
    if (gstart)
        gstart[0] = 0;
    for (int walked = 0; plausible(f) && walked < MAX_PY_FRAMES && (!gstart || *ng < max_groups);
         walked++) {
        uint32_t id1;
        int entry;
        if (read_frame(pc, f, &id1, &entry) < 0)
            break;
        if (id1)
            ids[nid++] = id1 - 1;
        if (entry && gstart)
            gstart[++*ng] = nid;
        f = rd_ptr(f, L->fr_previous);
    }
    return nid;
}

/* Inner mode: ips before the innermost eval frame, then every Python frame. */
static int splice_inner(py_cache *pc, void *const *ips, int n, void **out, int cap)
{
    int fe = 0;
    while (fe < n && !in_eval((uintptr_t)ips[fe]))
        fe++;
    if (fe == n)
        return -1;
    uint32_t ids[MAX_PY_FRAMES];
    int o = 0, nid = walk_frames(pc, current_frame(), ids, NULL, 0, NULL);
    if (!nid)
        return -1;
    for (; o < fe && o < cap; o++)
        out[o] = ips[o];
    for (int k = 0; k < nid && o < cap; k++)
        out[o++] = (void *)(uintptr_t)(LH_PY_IP_BASE + ids[k]);
    return o;
}

static py_cache *thread_py_cache(lh_tbuf *tb)
{
    if (LH_UNLIKELY(!tb->py_cache))
        tb->py_cache = lh_map_grow(NULL, 0, sizeof(py_cache));
    return tb->py_cache;
}

int lh_python_splice(lh_tbuf *tb, void *const *ips, int n, int truncated, void **out, int cap)
{
    if (!py_on || n <= 0)
        return -1;
    py_cache *pc = thread_py_cache(tb);
    if (!py_full)
        return splice_inner(pc, ips, n, out, cap);
    int evals = 0;
    for (int i = 0; i < n; i++)
        evals += in_eval((uintptr_t)ips[i]);
    if (!evals)
        return -1;
    /* ids[] innermost first; group g is ids[gstart[g] .. gstart[g + 1]). */
    uint32_t ids[MAX_PY_FRAMES];
    int gstart[LH_MAX_DEPTH + 17];
    int ng = 0, nid = walk_frames(pc, current_frame(), ids, gstart, LH_MAX_DEPTH + 16, &ng);
    if (gstart[ng] != nid) /* an unfinished group: the walk was cut short */
        gstart[++ng] = nid;
    if (!nid)
        return -1;

    /* Eval frame e (0 = innermost) ran group e + skip. Whole stacks line up
     * from the outermost; a truncated one from the innermost. */
    int skip = !truncated && ng > evals ? ng - evals : 0;
    int o = 0, e = 0;
    for (int i = 0; i < n && o < cap; i++) {
        if (!in_eval((uintptr_t)ips[i])) {
            out[o++] = ips[i];
            continue;
        }
        int g0 = e == 0 ? 0 : e + skip, g1 = e + skip + 1;
        e++;
        if (g0 >= ng) {
            out[o++] = ips[i];
            continue;
        }
        if (g1 > ng)
            g1 = ng;
        for (int k = gstart[g0]; k < gstart[g1] && o < cap; k++)
            out[o++] = (void *)(uintptr_t)(LH_PY_IP_BASE + ids[k]);
    }
    return o;
}

/* --- the ring's frame log ------------------------------------------------------ */

void lh_python_bind(void *log, uint32_t cap, uint64_t *len, uint32_t *count)
{
    pthread_mutex_lock(&py_lock);
    uint64_t keep = pylog ? pylog_at : 0; /* a fork child's copy (every ring has the same cap) */
    if (keep)
        memcpy(log, pylog, keep);
    pylog = log;
    pylog_cap = cap;
    pylog_at = keep;
    pylog_len = len;
    pylog_count = count;
    __atomic_store_n(len, keep, __ATOMIC_RELEASE);
    __atomic_store_n(count, fr_count, __ATOMIC_RELEASE);
    pthread_mutex_unlock(&py_lock);
}

void lh_python_fork_prepare(void) { pthread_mutex_lock(&py_lock); }
void lh_python_fork_parent(void) { pthread_mutex_unlock(&py_lock); }
void lh_python_fork_child(void)
{
    pthread_mutex_init(&py_lock, NULL); /* lh_python_bind copies the frames into the child's ring */
}

/* --- start ------------------------------------------------------------------------ */

/* The unwind-table entry most of the eval function's long jumps land in,
 * outside the function: its .cold part. */
static void find_cold_part(const void *base)
{
    enum { CANDS = 64 };
    struct { uintptr_t lo, hi; unsigned votes; } cand[CANDS];
    int nc = 0;
    const uint8_t *p = (const uint8_t *)eval_lo, *end = (const uint8_t *)eval_hi;
    for (; p + 6 <= end; p++) {
        int32_t rel;
        const uint8_t *next;
        if (p[0] == 0xE9) {
            memcpy(&rel, p + 1, 4);
            next = p + 5;
        } else if (p[0] == 0x0F && (p[1] & 0xF0) == 0x80) {
            memcpy(&rel, p + 2, 4);
            next = p + 6;
        } else {
            continue;
        }
        uintptr_t t = (uintptr_t)next + (intptr_t)rel;
        if (t >= eval_lo && t < eval_hi)
            continue;
        int known = 0;
        for (int i = 0; i < nc && !known; i++)
            if (t >= cand[i].lo && t < cand[i].hi)
                cand[i].votes++, known = 1;
        if (known || nc == CANDS)
            continue;
        Dl_info di;
        if (!dladdr((void *)t, &di) || di.dli_fbase != base)
            continue;
        unw_proc_info_t pi;
        if (unw_get_proc_info_by_ip(unw_local_addr_space, t, &pi, NULL) < 0 || pi.start_ip >= pi.end_ip
            || pi.start_ip == eval_lo)
            continue;
        cand[nc].lo = pi.start_ip;
        cand[nc].hi = pi.end_ip;
        cand[nc].votes = 1;
        nc++;
    }
    int best = -1;
    unsigned second = 0;
    for (int i = 0; i < nc; i++) {
        if (best < 0 || cand[i].votes > cand[best].votes) {
            if (best >= 0)
                second = cand[best].votes;
            best = i;
        } else if (cand[i].votes > second) {
            second = cand[i].votes;
        }
    }
    if (best >= 0 && cand[best].votes >= 16 && cand[best].votes > 4 * second) {
        cold_lo = cand[best].lo;
        cold_hi = cand[best].hi;
    }
}

/* The interpreter found through handle: RTLD_DEFAULT at start, or a
 * libpython an embedding program dlopen'ed (perhaps RTLD_LOCAL). */
static void python_init(void *handle)
{
    static int judged; /* a CPython was found and taken, or refused with a message */
    if (lh_cfg.python == LH_PY_OFF || judged)
        return;
    py_full = lh_cfg.python == LH_PY_FULL;
    void *eval = dlsym(handle, "_PyEval_EvalFrameDefault");
    const unsigned *version = dlsym(handle, "Py_Version");
    void *gts = dlsym(handle, "PyGILState_GetThisThreadState");
    if (!eval && !version && !gts)
        return; /* not a Python process */
    judged = 1;
    unsigned major = version ? *version >> 24 : 0, minor = version ? (*version >> 16) & 0xff : 0;
    const py_layout *row = NULL;
    for (size_t i = 0; i < sizeof(layouts) / sizeof(layouts[0]) && major == 3; i++)
        if (layouts[i].minor == minor)
            row = &layouts[i];
    if (!row) {
        if (!lh_cfg.quiet) {
            if (version)
                lh_message("CPython %u.%u is unsupported for Python frames (3.11 to 3.13 are); "
                           "stacks stay native", major, minor);
            else
                lh_message("CPython older than 3.11 is unsupported for Python frames (3.11 to 3.13 "
                           "are); stacks stay native");
        }
        return;
    }
    Dl_info di;
    const ElfW(Sym) *sym = NULL;
    addr2line = (int (*)(void *, int))dlsym(handle, "PyCode_Addr2Line");
    code_type = (uintptr_t)dlsym(handle, "PyCode_Type");
    unicode_type = (uintptr_t)dlsym(handle, "PyUnicode_Type");
    get_tstate = (void *(*)(void))gts;
    if (!eval || !gts || !addr2line || !code_type || !unicode_type
        || !dladdr1(eval, &di, (void **)&sym, RTLD_DL_SYMENT) || !sym || !sym->st_size) {
        if (!lh_cfg.quiet)
            lh_message("CPython %u.%u without the symbols Python frames need; stacks stay native",
                       major, minor);
        return;
    }
    /* A cross-check of the row against the running interpreter: the code
     * type's basic size is offsetof(PyCodeObject, co_code_adaptive), the
     * str type's is sizeof(PyUnicodeObject), the compact header and a
     * data pointer. */
    intptr_t code_size = *(const intptr_t *)(code_type + TP_BASICSIZE);
    intptr_t str_size = *(const intptr_t *)(unicode_type + TP_BASICSIZE);
    if (code_size != row->co_code || str_size != row->u_compact_data + 8) {
        if (!lh_cfg.quiet)
            lh_message("CPython %u.%u with unexpected object layouts (code %ld, str %ld bytes); "
                       "stacks stay native", major, minor, (long)code_size, (long)str_size);
        return;
    }
    L = row;
    eval_lo = (uintptr_t)eval;
    eval_hi = eval_lo + sym->st_size;
    find_cold_part(di.dli_fbase);
    __atomic_store_n(&py_on, 1, __ATOMIC_RELEASE); /* last: captures on other threads may look now */
}

void lh_python_init(void) { python_init(RTLD_DEFAULT); }

void lh_python_dlopen(void *handle)
{
    if (!__atomic_load_n(&py_on, __ATOMIC_ACQUIRE))
        python_init(handle);
}
