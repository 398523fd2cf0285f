/*
 * unwind.c - unw_backtrace's answers at a few nanoseconds a frame.
 *
 * libunwind's fast trace (per-thread cache) was the largest part of the
 * program thread's cost: 55 of 116 ns a churn event (bench/RESULTS.md).
 * Here each thread keeps a table of return address -> rule for stepping
 * over that frame, filled from the modules' .eh_frame the first time an
 * address is met (found in memory: dl_iterate_phdr, PT_GNU_EH_FRAME and
 * the binary-search table of .eh_frame_hdr) and read back after that: a
 * frame costs a table probe and one or two loads.
 *
 * Only what libunwind's own fast trace calls a standard frame is handled
 * (its x86_64/Gstash_frame.c): CFA = RSP or RBP + k, the return address
 * at CFA-8, RBP unchanged or saved at CFA+n, and the end of the stack
 * where the CFI leaves the return address undefined (_start, clone's
 * child). The same steps give the same IPs: return addresses as they
 * are, the FDE of a frame looked up at its return address - 1, a return
 * address below 0x4000 ending the stack unrecorded. Anything else - a
 * CFA expression, a signal frame, code without an FDE, a register rule
 * libunwind would refuse, a read outside this thread's stack between our
 * own frame and its top - means "fall back": the caller unwinds the
 * whole stack with unw_backtrace as before. Both outcomes are cached.
 * LEAKHUNT_VERIFY_UNWIND=1 unwinds every stack both ways and counts the
 * differences (tests/scenario/unwind_verify.sh).
 *
 * Rules are cached by address, so a module unloaded and another mapped
 * at its place would make them wrong: every dlclose (hooks.c), and a
 * change of the loader's dlpi_subs seen at a table miss or at
 * lh_session_check, moves a generation that empties every thread's table
 * at its next capture. (An unload inside libc - NSS, iconv - followed by
 * a load at the same address is seen at the next miss or check; until
 * then a stale hit needs a return address of the new module equal to one
 * of the old.) The addresses on a thread's own stack belong to loaded
 * modules for as long as the capture runs, so one capture needs no more.
 *
 * No file is read and nothing allocated: the tables come from mmap and
 * the unwind tables are read where the loader mapped them, inside its
 * lock (so a module cannot go away under the parser), behind forkgate.c.
 */
#include <link.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

#include "rec.h"

#define RULE_BITS 12
#define RULE_SLOTS (1u << RULE_BITS)
#define RA_MIN 0x4000 /* libunwind's "ended up somewhere bogus" */

enum { R_RSP = 1, R_RBP, R_END, R_FALLBACK }; /* 0: empty slot */

typedef struct {
    uint64_t ra;     /* the return address the rule steps over (0: empty) */
    int32_t cfa_off; /* CFA = RSP or RBP (kind) + cfa_off */
    int16_t rbp_off; /* RBP saved at CFA + rbp_off, when rbp_saved */
    uint8_t kind;
    uint8_t rbp_saved;
    uint32_t next;   /* the slot of the caller's rule last time: a guess, checked */
} rule;

typedef struct {
    rule slot[RULE_SLOTS];
    uint64_t gen;                  /* unwind_gen the slots were filled under */
    uintptr_t stack_lo, stack_hi;  /* this thread's stack; hi 0: not asked yet, 1: unknown */
    void *kept[LH_MAX_DEPTH + 16]; /* verify mode: the fast answer */
    int kept_n;                    /* its length, -1: it fell back */
} unwind_cache;

static uint64_t unwind_gen = 1;
static uint64_t seen_subs; /* the loader's unload count at the last miss */
static uint64_t n_compared, n_differ, n_fallback;
static int reported;

typedef uint64_t __attribute__((aligned(1), may_alias)) u64u;

void lh_unwind_flush(void)
{
    __atomic_add_fetch(&unwind_gen, 1, __ATOMIC_RELEASE);
}

void lh_unwind_thread_init(lh_tbuf *tb)
{
    if (!tb->unwind_cache)
        tb->unwind_cache = lh_map_grow(NULL, 0, sizeof(unwind_cache));
    unwind_cache *c = tb->unwind_cache;
    if (c)
        c->stack_lo = c->stack_hi = 0; /* a new thread: its own stack (the rules stay good) */
}

extern void *__libc_stack_end; /* glibc: the stack pointer _start was entered with */

static pthread_t main_thread;
static uintptr_t main_lo, main_hi; /* 0: not known */

void lh_unwind_init(void)
{
    struct rlimit rl;
    uintptr_t top = (uintptr_t)__libc_stack_end;
    if (top && getrlimit(RLIMIT_STACK, &rl) == 0 && rl.rlim_cur != RLIM_INFINITY && rl.rlim_cur < top) {
        main_thread = pthread_self();
        main_lo = top - rl.rlim_cur;
        main_hi = top;
    }
}

/* The top of this thread's stack, 0 if it cannot be known. The main
 * thread's is where _start began (every frame is below it; _start's own
 * CFI ends the walk), and RLIMIT_STACK as exec left it below that: the
 * kernel put no mapping there. pthread_getattr_np would read
 * /proc/self/maps, a descriptor in the program. */
static uintptr_t stack_top(unwind_cache *c)
{
    if (c->stack_hi == 0 && main_hi && pthread_equal(pthread_self(), main_thread)) {
        c->stack_lo = main_lo;
        c->stack_hi = main_hi;
    }
    if (c->stack_hi == 0) {
        pthread_attr_t a;
        void *addr;
        size_t size;
        c->stack_hi = 1; /* tried */
        if (pthread_getattr_np(pthread_self(), &a) == 0) {
            if (pthread_attr_getstack(&a, &addr, &size) == 0 && size >= 64) {
                c->stack_lo = (uintptr_t)addr;
                c->stack_hi = (uintptr_t)addr + size;
            }
            pthread_attr_destroy(&a);
        }
    }
    return c->stack_hi > 1 ? c->stack_hi : 0;
}

/* --- reading .eh_frame_hdr and .eh_frame ---------------------------------- */

#define MAX_SEGS 16

typedef struct {
    uintptr_t ip;            /* looked up: return address - 1 */
    uintptr_t lo[MAX_SEGS];  /* the module's readable segments */
    uintptr_t hi[MAX_SEGS];
    int nseg;
    uint64_t subs;           /* dlpi_subs, from the first module */
    int counted;
    rule r;                  /* the answer (kind R_FALLBACK unless found) */
} lookup;

/* A cursor over [p, end): end is the end of the segment p is in; a read
 * past it sets bad and returns 0. */
typedef struct {
    const uint8_t *p, *end;
    int bad;
} rd;

static int rd_at(const lookup *x, uintptr_t a, rd *r)
{
    for (int i = 0; i < x->nseg; i++) {
        if (a >= x->lo[i] && a < x->hi[i]) {
            r->p = (const uint8_t *)a;
            r->end = (const uint8_t *)x->hi[i];
            r->bad = 0;
            return 0;
        }
    }
    return -1;
}

static uint64_t rd_u(rd *r, int bytes)
{
    if (r->end - r->p < bytes) {
        r->bad = 1;
        return 0;
    }
    uint64_t v = 0;
    for (int i = bytes - 1; i >= 0; i--)
        v = v << 8 | r->p[i];
    r->p += bytes;
    return v;
}

static uint64_t rd_uleb(rd *r)
{
    uint64_t v = 0;
    for (int shift = 0; shift < 64; shift += 7) {
        uint8_t b = (uint8_t)rd_u(r, 1);
        v |= (uint64_t)(b & 0x7f) << shift;
        if (!(b & 0x80))
            return v;
    }
    r->bad = 1;
    return 0;
}

static void rd_skip(rd *r, uint64_t bytes)
{
    if (bytes > (uint64_t)(r->end - r->p))
        r->bad = 1;
    else
        r->p += bytes;
}

static int64_t rd_sleb(rd *r)
{
    uint64_t v = 0;
    for (int shift = 0; shift < 64; shift += 7) {
        uint8_t b = (uint8_t)rd_u(r, 1);
        v |= (uint64_t)(b & 0x7f) << shift;
        if (!(b & 0x80)) {
            if (shift + 7 < 64 && (b & 0x40))
                v |= ~0ull << (shift + 7);
            return (int64_t)v;
        }
    }
    r->bad = 1;
    return 0;
}

#define PE_OMIT 0xff
#define PE_PCREL 0x10
#define PE_DATAREL 0x30

/* A pointer in encoding enc (DW_EH_PE_*); datarel is relative to data
 * (.eh_frame_hdr's start, 0 where it has no meaning). -1 for what
 * x86-64 tables do not use: indirect, textrel, funcrel, aligned. */
static int rd_ptr(rd *r, uint8_t enc, uintptr_t data, uint64_t *out)
{
    uintptr_t at = (uintptr_t)r->p;
    uint64_t v;
    if (enc == PE_OMIT || (enc & 0x80))
        return -1;
    switch (enc & 0x0f) {
    case 0x00: v = rd_u(r, 8); break;                         /* absptr */
    case 0x01: v = rd_uleb(r); break;
    case 0x02: v = rd_u(r, 2); break;
    case 0x03: v = rd_u(r, 4); break;
    case 0x04: v = rd_u(r, 8); break;
    case 0x09: v = (uint64_t)rd_sleb(r); break;
    case 0x0a: v = (uint64_t)(int64_t)(int16_t)rd_u(r, 2); break;
    case 0x0b: v = (uint64_t)(int64_t)(int32_t)rd_u(r, 4); break;
    case 0x0c: v = rd_u(r, 8); break;
    default: return -1;
    }
    switch (enc & 0x70) {
    case 0: break;
    case PE_PCREL: v += at; break;
    case PE_DATAREL:
        if (!data)
            return -1;
        v += data;
        break;
    default: return -1;
    }
    *out = v;
    return r->bad ? -1 : 0;
}

/* --- the CFA program ------------------------------------------------------- */

/* The registers a backtrace needs, as the row of the CFA table at one
 * address describes them. */
enum { G_RBP, G_RSP, G_RA, G_N };
enum { H_SAME, H_UNDEF, H_OFFSET, H_OTHER };

typedef struct {
    int cfa_reg;     /* DWARF number; -1 undefined or an expression */
    int64_t cfa_off;
    uint8_t how[G_N];
    int64_t off[G_N];
} row;

#define DW_REG_RBP 6
#define DW_REG_RSP 7
#define DW_REG_RA 16
#define DW_NUM_REGS 17 /* libunwind refuses CFI naming others (DWARF_NUM_PRESERVED_REGS) */
#define STATE_DEPTH 16

typedef struct {
    uint64_t code_align;
    int64_t data_align;
    uint8_t fde_enc;
    uint8_t has_z; /* FDEs carry an augmentation length */
    const uint8_t *instr, *instr_end;
} cie;

static int reg_slot(uint64_t reg)
{
    if (reg >= DW_NUM_REGS)
        return -2;
    return reg == DW_REG_RBP ? G_RBP : reg == DW_REG_RSP ? G_RSP : reg == DW_REG_RA ? G_RA : -1;
}

/* Rule how (off) for reg; other registers than ours are ignored. */
static int set_rule(row *s, uint64_t reg, uint8_t how, int64_t off)
{
    int g = reg_slot(reg);
    if (g == -2)
        return -1;
    if (g >= 0) {
        s->how[g] = how;
        s->off[g] = off;
    }
    return 0;
}

/* Runs the program in r from address loc up to the row of ip (init: the
 * CIE's row, for DW_CFA_restore; NULL while running the CIE's own). 0, or
 * -1 for what libunwind's fast trace would not take or we do not know. */
static int run_cfa(rd *r, row *s, const row *init, const cie *ci, uint64_t loc, uint64_t ip)
{
    row saved[STATE_DEPTH];
    int depth = 0;
    while (!r->bad && r->p < r->end) {
        uint8_t op = (uint8_t)rd_u(r, 1);
        uint64_t reg, delta;
        int g;
        switch (op >> 6) {
        case 1:
            delta = op & 0x3f;
            goto advance;
        case 2:
            if (set_rule(s, op & 0x3f, H_OFFSET, (int64_t)rd_uleb(r) * ci->data_align) < 0)
                return -1;
            continue;
        case 3:
            reg = op & 0x3f;
            goto restore;
        }
        switch (op) {
        case 0x00: /* nop */
            continue;
        case 0x02: delta = rd_u(r, 1); goto advance;
        case 0x03: delta = rd_u(r, 2); goto advance;
        case 0x04: delta = rd_u(r, 4); goto advance;
        case 0x05: /* offset_extended */
            reg = rd_uleb(r);
            if (set_rule(s, reg, H_OFFSET, (int64_t)rd_uleb(r) * ci->data_align) < 0)
                return -1;
            continue;
        case 0x06: /* restore_extended */
            reg = rd_uleb(r);
            goto restore;
        case 0x07: /* undefined */
            if (set_rule(s, rd_uleb(r), H_UNDEF, 0) < 0)
                return -1;
            continue;
        case 0x08: /* same_value */
            if (set_rule(s, rd_uleb(r), H_SAME, 0) < 0)
                return -1;
            continue;
        case 0x09: /* register */
            reg = rd_uleb(r);
            if (rd_uleb(r) >= DW_NUM_REGS || set_rule(s, reg, H_OTHER, 0) < 0)
                return -1;
            continue;
        case 0x0a: /* remember_state: the CFA too, as libunwind and libgcc keep it */
            if (depth == STATE_DEPTH)
                return -1;
            saved[depth++] = *s;
            continue;
        case 0x0b: /* restore_state */
            if (!depth)
                return -1;
            *s = saved[--depth];
            continue;
        case 0x0c: /* def_cfa */
            s->cfa_reg = (int)rd_uleb(r);
            s->cfa_off = (int64_t)rd_uleb(r);
            goto cfa_reg;
        case 0x0d: /* def_cfa_register */
            s->cfa_reg = (int)rd_uleb(r);
            goto cfa_reg;
        case 0x0e: /* def_cfa_offset */
            s->cfa_off = (int64_t)rd_uleb(r);
            continue;
        case 0x0f: /* def_cfa_expression */
            s->cfa_reg = -1;
            rd_skip(r, rd_uleb(r));
            continue;
        case 0x10: /* expression */
        case 0x16: /* val_expression */
            reg = rd_uleb(r);
            if (set_rule(s, reg, H_OTHER, 0) < 0)
                return -1;
            rd_skip(r, rd_uleb(r));
            continue;
        case 0x11: /* offset_extended_sf */
            reg = rd_uleb(r);
            if (set_rule(s, reg, H_OFFSET, rd_sleb(r) * ci->data_align) < 0)
                return -1;
            continue;
        case 0x12: /* def_cfa_sf */
            s->cfa_reg = (int)rd_uleb(r);
            s->cfa_off = rd_sleb(r) * ci->data_align;
            goto cfa_reg;
        case 0x13: /* def_cfa_offset_sf */
            s->cfa_off = rd_sleb(r) * ci->data_align;
            continue;
        case 0x14: /* val_offset */
            reg = rd_uleb(r);
            rd_uleb(r);
            if (set_rule(s, reg, H_OTHER, 0) < 0)
                return -1;
            continue;
        case 0x15: /* val_offset_sf */
            reg = rd_uleb(r);
            rd_sleb(r);
            if (set_rule(s, reg, H_OTHER, 0) < 0)
                return -1;
            continue;
        case 0x2e: /* GNU_args_size: says nothing of the CFA */
            rd_uleb(r);
            continue;
        case 0x2f: /* GNU_negative_offset_extended */
            reg = rd_uleb(r);
            if (set_rule(s, reg, H_OFFSET, -(int64_t)rd_uleb(r) * ci->data_align) < 0)
                return -1;
            continue;
        default: /* set_loc, and whatever a vendor added */
            return -1;
        }
    advance:
        if (!init) /* the CIE's program describes the entry, nothing after */
            return -1;
        loc += delta * ci->code_align;
        if (loc > ip)
            return r->bad ? -1 : 0;
        continue;
    restore:
        g = reg_slot(reg);
        if (g == -2 || !init)
            return -1;
        if (g >= 0) {
            s->how[g] = init->how[g];
            s->off[g] = init->off[g];
        }
        continue;
    cfa_reg:
        if (s->cfa_reg >= DW_NUM_REGS)
            return -1;
        continue;
    }
    return r->bad ? -1 : 0;
}

/* The CIE at a (a valid pointer into the module), into *ci. */
static int read_cie(const lookup *x, uintptr_t a, cie *ci)
{
    rd r;
    if (rd_at(x, a, &r) < 0)
        return -1;
    uint64_t len = rd_u(&r, 4), id;
    if (len == 0xffffffffu) {
        len = rd_u(&r, 8);
        if (len > (uint64_t)(r.end - r.p))
            return -1;
        ci->instr_end = r.p + len;
        id = rd_u(&r, 8);
    } else {
        if (len > (uint64_t)(r.end - r.p))
            return -1;
        ci->instr_end = r.p + len;
        id = rd_u(&r, 4);
    }
    r.end = ci->instr_end;
    uint8_t version = (uint8_t)rd_u(&r, 1);
    if (id != 0 || (version != 1 && version != 3 && version != 4))
        return -1;
    char aug[8];
    int naug = 0;
    for (;;) {
        char ch = (char)rd_u(&r, 1);
        if (r.bad)
            return -1;
        if (!ch)
            break;
        if (naug == (int)sizeof(aug) - 1)
            return -1;
        aug[naug++] = ch;
    }
    aug[naug] = 0;
    if (naug && aug[0] != 'z')
        return -1; /* "eh" and other old forms */
    if (version == 4 && (rd_u(&r, 1) != 8 || rd_u(&r, 1) != 0))
        return -1;
    ci->code_align = rd_uleb(&r);
    ci->data_align = rd_sleb(&r);
    uint64_t ra_reg = version == 1 ? rd_u(&r, 1) : rd_uleb(&r);
    if (ra_reg != DW_REG_RA)
        return -1;
    ci->fde_enc = 0; /* absptr */
    ci->has_z = naug > 0;
    if (naug) {
        uint64_t alen = rd_uleb(&r);
        if (r.bad || alen > (uint64_t)(r.end - r.p))
            return -1;
        const uint8_t *aend = r.p + alen;
        for (int i = 1; i < naug; i++) {
            uint64_t ignored;
            uint8_t enc;
            switch (aug[i]) {
            case 'L': /* the LSDA's encoding: in the FDE's augmentation, skipped */
                rd_u(&r, 1);
                break;
            case 'P':
                enc = (uint8_t)rd_u(&r, 1);
                if (rd_ptr(&r, enc & 0x7f, 0, &ignored) < 0) /* indirect or not, the same size */
                    return -1;
                break;
            case 'R':
                ci->fde_enc = (uint8_t)rd_u(&r, 1);
                break;
            default: /* 'S' (a signal frame) and anything newer */
                return -1;
            }
        }
        if (r.bad || r.p > aend)
            return -1;
        r.p = aend;
    }
    ci->instr = r.p;
    return r.bad ? -1 : 0;
}

/* The row of ip as a rule; kind R_FALLBACK for what libunwind's fast
 * trace would not call a standard frame, or would stop at (x86_64
 * Gstash_frame.c, Gstep.c). */
static rule classify(const row *s)
{
    rule r = { 0, 0, 0, R_FALLBACK, 0, 0 };
    if ((s->cfa_reg != DW_REG_RSP && s->cfa_reg != DW_REG_RBP) || s->cfa_off <= -(1 << 28)
        || s->cfa_off >= (1 << 28))
        return r;
    if (s->how[G_RA] == H_UNDEF) { /* the end of the stack, by the ABI */
        r.kind = R_END;
        return r;
    }
    if (s->how[G_RA] != H_OFFSET || s->off[G_RA] != -8)
        return r;
    if (s->how[G_RBP] == H_OFFSET) {
        if (s->off[G_RBP] <= -(1 << 14) || s->off[G_RBP] >= (1 << 14) || s->off[G_RBP] == -1)
            return r;
        r.rbp_saved = 1;
        r.rbp_off = (int16_t)s->off[G_RBP];
    } else if (s->how[G_RBP] != H_SAME) { /* undefined RBP ends libunwind's stack too: rare, theirs */
        return r;
    }
    if (s->how[G_RSP] == H_OTHER
        || (s->how[G_RSP] == H_OFFSET
            && (s->off[G_RSP] <= -(1 << 14) || s->off[G_RSP] >= (1 << 14) || s->off[G_RSP] == -1)))
        return r;
    r.kind = s->cfa_reg == DW_REG_RSP ? R_RSP : R_RBP;
    r.cfa_off = (int32_t)s->cfa_off;
    return r;
}

/* The rule for x->ip from the FDE at a, into x->r (left R_FALLBACK when
 * anything is amiss). */
static void rule_from_fde(lookup *x, uintptr_t a)
{
    rd r;
    cie ci;
    if (rd_at(x, a, &r) < 0)
        return;
    uint64_t len = rd_u(&r, 4), cie_off;
    uintptr_t cie_field;
    int wide = len == 0xffffffffu;
    if (wide)
        len = rd_u(&r, 8);
    if (r.bad || len == 0 || len > (uint64_t)(r.end - r.p))
        return;
    r.end = r.p + len;
    cie_field = (uintptr_t)r.p;
    cie_off = rd_u(&r, wide ? 8 : 4);
    if (r.bad || cie_off == 0 || cie_off > cie_field) /* 0: a CIE, not an FDE */
        return;
    if (read_cie(x, cie_field - cie_off, &ci) < 0)
        return;
    uint64_t start, range;
    if (rd_ptr(&r, ci.fde_enc, 0, &start) < 0 || rd_ptr(&r, ci.fde_enc & 0x0f, 0, &range) < 0)
        return;
    if (x->ip < start || x->ip - start >= range)
        return; /* in no FDE: libunwind guesses from RBP, we do not */
    if (ci.has_z) {
        uint64_t alen = rd_uleb(&r);
        if (r.bad || alen > (uint64_t)(r.end - r.p))
            return;
        r.p += alen;
    }
    rd cr = { ci.instr, ci.instr_end, 0 };
    row init = { .cfa_reg = -1 };
    if (run_cfa(&cr, &init, NULL, &ci, 0, 0) < 0)
        return;
    row s = init;
    if (run_cfa(&r, &s, &init, &ci, start, x->ip) < 0)
        return;
    x->r = classify(&s);
}

/* The FDE for x->ip in the binary-search table of the .eh_frame_hdr at
 * hdr, and its rule. */
static void rule_from_hdr(lookup *x, uintptr_t hdr)
{
    rd r;
    if (rd_at(x, hdr, &r) < 0)
        return;
    uint8_t version = (uint8_t)rd_u(&r, 1), ptr_enc = (uint8_t)rd_u(&r, 1);
    uint8_t count_enc = (uint8_t)rd_u(&r, 1), table_enc = (uint8_t)rd_u(&r, 1);
    uint64_t eh_frame, count;
    if (r.bad || version != 1 || rd_ptr(&r, ptr_enc, hdr, &eh_frame) < 0
        || rd_ptr(&r, count_enc, hdr, &count) < 0)
        return;
    /* What every linker writes: (initial location, FDE) pairs of 4-byte
     * offsets from the header, sorted. Other tables are libunwind's. */
    if (table_enc != (PE_DATAREL | 0x0b) || !count || count > (uint64_t)(r.end - r.p) / 8)
        return;
    const int32_t *t = (const int32_t *)r.p;
    if (x->ip < hdr + (intptr_t)t[0])
        return;
    uint64_t lo = 0, hi = count; /* t[2 * lo] <= ip < t[2 * hi] */
    while (hi - lo > 1) {
        uint64_t mid = lo + (hi - lo) / 2;
        if (x->ip >= hdr + (intptr_t)t[2 * mid])
            lo = mid;
        else
            hi = mid;
    }
    rule_from_fde(x, hdr + (intptr_t)t[2 * lo + 1]);
}

static int find_module(struct dl_phdr_info *info, size_t size, void *arg)
{
    lookup *x = arg;
    if (!x->counted) {
        x->counted = 1;
        if (size >= offsetof(struct dl_phdr_info, dlpi_subs) + sizeof(info->dlpi_subs))
            x->subs = info->dlpi_subs;
    }
    const ElfW(Phdr) *eh = NULL;
    int mine = 0;
    x->nseg = 0;
    for (int i = 0; i < info->dlpi_phnum; i++) {
        const ElfW(Phdr) *ph = &info->dlpi_phdr[i];
        uintptr_t a = info->dlpi_addr + ph->p_vaddr;
        if (ph->p_type == PT_GNU_EH_FRAME) {
            eh = ph;
        } else if (ph->p_type == PT_LOAD) {
            if (x->ip - a < ph->p_memsz)
                mine = 1;
            if ((ph->p_flags & PF_R) && x->nseg < MAX_SEGS) {
                x->lo[x->nseg] = a;
                x->hi[x->nseg++] = a + ph->p_memsz;
            }
        }
    }
    if (!mine)
        return 0;
    if (eh)
        rule_from_hdr(x, info->dlpi_addr + eh->p_vaddr);
    return 1;
}

/* The rule for return address ra, from the loader's tables. -1 when the
 * loader's unload count moved: every table is to be emptied, and this
 * capture starts again (its earlier hits may have been stale). */
static int fill(lh_tbuf *tb, rule *slot, uintptr_t ra)
{
    lookup x;
    x.ip = ra - 1; /* the call, not what follows it: a noreturn call may end a function */
    x.counted = 0;
    x.subs = 0;
    x.r = (rule){ 0, 0, 0, R_FALLBACK, 0, 0 };
    lh_forkgate_enter(&tb->in_loader);
    dl_iterate_phdr(find_module, &x);
    lh_forkgate_leave(&tb->in_loader);
    if (__atomic_exchange_n(&seen_subs, x.subs, __ATOMIC_RELAXED) != x.subs) {
        lh_unwind_flush();
        return -1;
    }
    *slot = x.r;
    slot->ra = ra;
    return 0;
}

/* --- the walk --------------------------------------------------------------- */

static inline uint32_t slot_of_ra(uintptr_t ra)
{
    return (uint32_t)((ra * 0x9E3779B97F4A7C15ull) >> (64 - RULE_BITS));
}

__attribute__((noinline)) int lh_unwind(lh_tbuf *tb, void **ips, int max)
{
    unwind_cache *c = tb->unwind_cache;
    if (LH_UNLIKELY(!c))
        return -1;
    uintptr_t *fp = __builtin_frame_address(0);
    uintptr_t lo = (uintptr_t)fp, hi = c->stack_hi;
    if (LH_UNLIKELY(hi <= 1) && !(hi = stack_top(c)))
        return -1;
    if (lo < c->stack_lo || lo >= hi)
        return -1; /* another stack: a signal's, a coroutine's */
    hi -= sizeof(uintptr_t); /* the last word that may be read */
    if (max <= 0)
        return 0;
    int again = 0;
restart:;
    uint64_t gen = __atomic_load_n(&unwind_gen, __ATOMIC_ACQUIRE);
    if (LH_UNLIKELY(c->gen != gen)) {
        memset(c->slot, 0, sizeof(c->slot));
        c->gen = gen;
    }

    /* Our caller's state as it will be when we return. */
    uintptr_t ra = fp[1], rbp = fp[0], cfa = (uintptr_t)(fp + 2);
    int n = 0;
    ips[n++] = (void *)ra;
    rule *r = NULL;
    while (n < max) {
        /* The rule of a frame's caller is most often the one its caller
         * had last time: that slot's address does not wait for the hash
         * of ra, so consecutive frames overlap in the CPU. */
        rule *prev = r;
        r = prev ? &c->slot[prev->next] : &c->slot[slot_of_ra(ra)];
        if (LH_UNLIKELY(r->ra != ra)) {
            r = &c->slot[slot_of_ra(ra)];
            if (LH_UNLIKELY(r->ra != ra) && fill(tb, r, ra) < 0) {
                if (again++)
                    return -1;
                goto restart;
            }
            if (prev)
                prev->next = (uint32_t)(r - c->slot);
        }
        if (LH_UNLIKELY(r->kind >= R_END)) {
            if (r->kind == R_END)
                break;
            return -1;
        }
        /* The CFA of the frame below is this frame's RSP. */
        cfa = (r->kind == R_RSP ? cfa : rbp) + (intptr_t)r->cfa_off;
        uintptr_t at = cfa - 8;
        if (at < lo || at > hi)
            return -1;
        ra = *(const u64u *)at;
        if (r->rbp_saved) {
            at = cfa + (intptr_t)r->rbp_off;
            if (at < lo || at > hi)
                return -1;
            rbp = *(const u64u *)at;
        }
        if (ra < RA_MIN)
            break;
        ips[n++] = (void *)ra;
    }
    return n;
}

/* --- verify mode ------------------------------------------------------------- */

void lh_unwind_keep(lh_tbuf *tb, void *const *ips, int n)
{
    unwind_cache *c = tb->unwind_cache;
    if (!c)
        return;
    c->kept_n = n;
    if (n > 0)
        memcpy(c->kept, ips, (size_t)n * sizeof(*ips));
    if (n > 1 && lh_cfg.verify_unwind == 2) /* the test that the check can fail */
        c->kept[n - 1] = (char *)c->kept[n - 1] + 1;
}

void lh_unwind_check(lh_tbuf *tb, void *const *ref, int n)
{
    unwind_cache *c = tb->unwind_cache;
    if (!c || c->kept_n < 0) {
        __atomic_add_fetch(&n_fallback, 1, __ATOMIC_RELAXED);
        return;
    }
    __atomic_add_fetch(&n_compared, 1, __ATOMIC_RELAXED);
    /* Frame 0 is where each was called from, in lh_stack_capture. */
    int at = c->kept_n == n ? -1 : 0;
    for (int i = 1; at < 0 && i < n; i++)
        if (c->kept[i] != ref[i])
            at = i;
    if (at < 0)
        return;
    if (__atomic_add_fetch(&n_differ, 1, __ATOMIC_RELAXED) <= 5)
        lh_message("unwind verify: stacks differ at frame %d of %d/%d: %p, libunwind %p", at, c->kept_n, n,
                   at < c->kept_n ? c->kept[at] : NULL, at < n ? ref[at] : NULL);
}

void lh_unwind_report(void)
{
    if (!lh_cfg.verify_unwind || __atomic_exchange_n(&reported, 1, __ATOMIC_RELAXED))
        return;
    lh_message("unwind verify: pid %d: %llu stacks compared, %llu differ, %llu fell back", (int)getpid(),
               (unsigned long long)__atomic_load_n(&n_compared, __ATOMIC_RELAXED),
               (unsigned long long)__atomic_load_n(&n_differ, __ATOMIC_RELAXED),
               (unsigned long long)__atomic_load_n(&n_fallback, __ATOMIC_RELAXED));
}

/* At exit: the counts of verify mode (the only output of this file). */
__attribute__((destructor)) static void unwind_at_exit(void)
{
    lh_unwind_report();
}
