/*
 * symbols.c - symbolization with elfutils libdwfl, cached per address.
 */
#include <dwarf.h>
#include <elfutils/libdw.h>
#include <elfutils/libdwfl.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "idtable.h"
#include "symbols.h"

/* C++ demangling from libstdc++'s runtime (not a home-made demangler). */
extern char *__cxa_demangle(const char *mangled, char *out, size_t *len, int *status);

typedef struct {
    char *path;
    uint8_t build_id[64];
    size_t build_id_len;
    uint64_t bias, lo, hi; /* runtime range of its segments */
    Dwfl_Module *dm;
    int reported;          /* 1 ok, -1 could not be opened or mismatched */
    int mismatch;
    uint32_t first_map, last_map; /* the numbers of the maps it was in */
} module;

/* An ip held by more than one module (a library unloaded, another loaded
 * at its place) has an entry per module it was looked up in. */
#define NO_MODULE UINT32_MAX
typedef struct {
    uint64_t ip;
    lh_sym_frame *frames;  /* count frames, owned through strings[] */
    uint32_t count;
    uint32_t mod;          /* index in mods[] of the module used, or NO_MODULE */
    int shared;            /* another module holds ip too: check mod */
} cache_entry;

typedef struct {
    uint64_t start, size;
    char *name;
} perf_sym;

struct lh_symbols {
    Dwfl *dwfl;
    Dwfl_Callbacks cb;
    char *debuginfo_path;
    module *mods;
    size_t n_mods, cap_mods;
    cache_entry *cache;    /* every address looked up, in lookup order */
    size_t cache_n, cache_cap;
    lh_idtable cache_ix;   /* ip -> its entry in cache[] */
    lh_sym_frame *frames;  /* scratch for the lookup being resolved */
    size_t n_frames, cap_frames;
    char **strings;        /* owned strings and frame arrays */
    size_t n_strings, cap_strings;
    uint32_t pid;
    uint32_t owner;        /* the trace's owner: whose perf maps to read */
    char *perf_refused;    /* why the perf map was skipped, for the warnings */
    lh_sym_frame *py;      /* Python frames by id (name NULL = unknown) */
    size_t n_py;
    perf_sym *perf;
    size_t n_perf;
    int perf_loaded;
    /* An allocation failed in the lookup (or add) under way: it answers
     * NULL, errno ENOMEM, rather than frames missing their names. */
    int nomem;
    lh_sym_frame spare;    /* what new_frame hands out when frames[] cannot grow */
};

/* str (just allocated, NULL when that failed) owned by s until s is freed;
 * NULL and s->nomem when out of memory. */
static char *keep(lh_symbols *s, char *str)
{
    if (str && s->n_strings == s->cap_strings) {
        size_t cap = s->cap_strings ? s->cap_strings * 2 : 256;
        char **v = realloc(s->strings, cap * sizeof(char *));
        if (!v) {
            free(str);
            str = NULL;
        } else {
            s->strings = v;
            s->cap_strings = cap;
        }
    }
    if (!str) {
        s->nomem = 1;
        return NULL;
    }
    s->strings[s->n_strings++] = str;
    return str;
}

/* A kept copy of str; NULL for NULL, or (with s->nomem) out of memory. */
static char *keep_copy(lh_symbols *s, const char *str)
{
    return str ? keep(s, strdup(str)) : NULL;
}

lh_symbols *lh_symbols_new(void)
{
    lh_symbols *s = calloc(1, sizeof(*s));
    if (!s)
        return NULL;
    s->cb.find_elf = dwfl_build_id_find_elf;
    s->cb.find_debuginfo = dwfl_standard_find_debuginfo;
    s->cb.section_address = dwfl_offline_section_address;
    s->cb.debuginfo_path = &s->debuginfo_path;
    s->dwfl = dwfl_begin(&s->cb);
    if (lh_idtable_init(&s->cache_ix, 2048) < 0) {
        lh_symbols_free(s);
        return NULL;
    }
    return s;
}

void lh_symbols_free(lh_symbols *s)
{
    if (!s)
        return;
    if (s->dwfl)
        dwfl_end(s->dwfl);
    for (size_t i = 0; i < s->n_mods; i++)
        free(s->mods[i].path);
    for (size_t i = 0; i < s->n_strings; i++)
        free(s->strings[i]);
    for (size_t i = 0; i < s->n_perf; i++)
        free(s->perf[i].name);
    free(s->perf);
    free(s->perf_refused);
    free(s->py);
    free(s->strings);
    free(s->mods);
    free(s->cache);
    lh_idtable_release(&s->cache_ix);
    free(s->frames);
    free(s);
}

void lh_symbols_set_pid(lh_symbols *s, uint32_t pid) { s->pid = pid; }

void lh_symbols_set_owner(lh_symbols *s, uint32_t uid) { s->owner = uid; }

/* Cache entries of ips in [lo, hi), which a module added now shares. */
static void mark_shared(lh_symbols *s, uint64_t lo, uint64_t hi)
{
    for (size_t i = 0; i < s->cache_n; i++) {
        uint64_t a = s->cache[i].ip ? s->cache[i].ip - 1 : 0;
        if (a >= lo && a < hi)
            s->cache[i].shared = 1;
    }
}

int lh_symbols_add_map(lh_symbols *s, const Lh__ModuleMap *m, uint32_t map)
{
    for (size_t i = 0; i < m->n_modules; i++) {
        const Lh__Module *src = m->modules[i];
        if (!src->path || !src->n_segments)
            continue;
        uint64_t lo = UINT64_MAX, hi = 0;
        for (size_t j = 0; j < src->n_segments; j++) {
            uint64_t a = src->segments[j]->vaddr + src->load_bias;
            uint64_t b = a + src->segments[j]->memsz;
            if (a < lo) lo = a;
            if (b > hi) hi = b;
        }
        module *dup = NULL;
        int overlaps = 0;
        for (size_t j = 0; j < s->n_mods && !dup; j++) {
            module *o = &s->mods[j];
            if (o->bias == src->load_bias && !strcmp(o->path, src->path))
                dup = o;
            else
                overlaps |= o->lo < hi && lo < o->hi;
        }
        if (dup) {
            if (map < dup->first_map)
                dup->first_map = map;
            if (map > dup->last_map)
                dup->last_map = map;
            continue;
        }
        if (lo >= hi)
            continue;
        if (s->n_mods == s->cap_mods) {
            size_t cap = s->cap_mods ? s->cap_mods * 2 : 32;
            module *v = realloc(s->mods, cap * sizeof(module));
            if (!v)
                goto nomem;
            s->mods = v;
            s->cap_mods = cap;
        }
        module *d = &s->mods[s->n_mods];
        memset(d, 0, sizeof(*d));
        if (!(d->path = strdup(src->path)))
            goto nomem;
        s->n_mods++;
        d->bias = src->load_bias;
        d->lo = lo;
        d->hi = hi;
        d->first_map = d->last_map = map;
        if (overlaps)
            mark_shared(s, lo, hi);
        if (src->has_build_id && src->build_id.len && src->build_id.len <= sizeof(d->build_id)) {
            memcpy(d->build_id, src->build_id.data, src->build_id.len);
            d->build_id_len = src->build_id.len;
        }
    }
    return 0;
nomem: /* the modules added so far stay; the map can be added again */
    errno = ENOMEM;
    return -1;
}

int lh_symbols_add_pyframes(lh_symbols *s, const Lh__PyFrames *m)
{
    size_t n = m->n_files;
    if (m->n_functions < n) n = m->n_functions;
    if (m->n_lines < n) n = m->n_lines;
    /* Ids are dense (FORMAT.md 4.4): a chunk leaving a gap is ignored, so a
     * hostile first_id cannot make the table 2^32 entries long. */
    if (!n || m->first_id > s->n_py || m->first_id > UINT32_MAX - n)
        return 0;
    size_t end = (size_t)m->first_id + n;
    if (end > s->n_py) {
        lh_sym_frame *v = realloc(s->py, end * sizeof(lh_sym_frame));
        if (!v)
            goto nomem;
        s->py = v;
        memset(s->py + s->n_py, 0, (end - s->n_py) * sizeof(lh_sym_frame));
        s->n_py = end;
    }
    for (size_t i = 0; i < n; i++) {
        lh_sym_frame *f = &s->py[m->first_id + i];
        if (f->name)
            continue; /* the same ids again (a second trace of one process) */
        const char *name = keep_copy(s, m->functions[i] ? m->functions[i] : "?");
        const char *file = keep_copy(s, m->files[i] ? m->files[i] : "?");
        if (!name || !file) /* f stays unknown (name NULL): the chunk can be added again */
            goto nomem;
        f->name = name;
        f->file = file;
        f->line = m->lines[i];
        f->module = "python";
        f->address = LH_PY_IP_BASE + m->first_id + i;
    }
    return 0;
nomem:
    errno = ENOMEM;
    return -1;
}

/* The module holding addr in map number `map`, the most recently added
 * if several; failing that (map 0, or a map written after the stacks that
 * use it), the most recently added module holding addr. *shared: another
 * module holds addr too. */
static module *module_of(lh_symbols *s, uint64_t addr, uint32_t map, int *shared)
{
    module *latest = NULL, *in_map = NULL;
    int holders = 0;
    for (size_t i = s->n_mods; i-- > 0;) {
        module *m = &s->mods[i];
        if (addr < m->lo || addr >= m->hi)
            continue;
        holders++;
        if (!latest)
            latest = m;
        if (!in_map && map && m->first_map <= map && map <= m->last_map)
            in_map = m;
    }
    if (shared)
        *shared = holders > 1;
    return in_map ? in_map : latest;
}

const char *lh_symbols_module_path(lh_symbols *s, uint64_t ip, uint32_t map)
{
    module *m = module_of(s, ip ? ip - 1 : 0, map, NULL);
    return m ? m->path : NULL;
}

static void report(lh_symbols *s, module *m)
{
    if (m->reported)
        return;
    m->reported = -1;
    if (m->path[0] != '/' || !s->dwfl)
        return; /* [vdso] and friends */
    struct stat st; /* a trace may name a FIFO or a device: opening it would hang */
    if (stat(m->path, &st) != 0 || !S_ISREG(st.st_mode))
        return;
    dwfl_report_begin_add(s->dwfl);
    errno = 0;
    m->dm = dwfl_report_elf(s->dwfl, m->path, m->path, -1, m->bias, false);
    int e = errno;
    dwfl_report_end(s->dwfl, NULL, NULL);
    if (!m->dm && e == ENOMEM) {
        /* libdwfl could not copy a name or read the file for want of
         * memory: not a module without symbols, which every frame in it
         * would show as module+offset. Asked again by the next lookup. */
        m->reported = 0;
        s->nomem = 1;
        return;
    }
    if (!m->dm)
        return;
    const unsigned char *bits;
    GElf_Addr vaddr;
    int len = dwfl_module_build_id(m->dm, &bits, &vaddr);
    if (m->build_id_len && len > 0
        && ((size_t)len != m->build_id_len || memcmp(bits, m->build_id, (size_t)len))) {
        m->mismatch = 1;
        m->dm = NULL;
        return;
    }
    m->reported = 1;
}

static const char *demangle(lh_symbols *s, const char *name)
{
    if (!name)
        return NULL;
    if (name[0] == '_' && name[1] == 'Z') {
        int status = 0;
        char *d = __cxa_demangle(name, NULL, NULL, &status);
        if (d && status == 0)
            return keep(s, d);
        free(d);
        if (status == -1) { /* out of memory, not a name it cannot read */
            s->nomem = 1;
            return NULL;
        }
    }
    return keep_copy(s, name);
}

/* Drop a perf map read in part (out of memory): the next lookup reads it
 * again rather than answering from half of it. */
static void drop_perf_map(lh_symbols *s)
{
    for (size_t i = 0; i < s->n_perf; i++)
        free(s->perf[i].name);
    free(s->perf);
    free(s->perf_refused);
    s->perf = NULL;
    s->perf_refused = NULL;
    s->n_perf = 0;
    s->perf_loaded = 0;
    s->nomem = 1;
}

static void load_perf_map(lh_symbols *s)
{
    s->perf_loaded = 1;
    if (!s->pid)
        return;
    char path[64], line[4096];
    snprintf(path, sizeof(path), "/tmp/perf-%u.map", s->pid);
    int fd = open(path, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_NOCTTY | O_CLOEXEC);
    if (fd < 0 && errno == ELOOP)
        fd = -2;
    struct stat st;
    const char *why = fd == -2 ? "it is a symbolic link"
                    : fd < 0 ? NULL
                    : fstat(fd, &st) < 0 || !S_ISREG(st.st_mode) ? "it is not a regular file"
                    : st.st_uid != geteuid() && st.st_uid != s->owner ? "it belongs to another user"
                    : st.st_mode & 022 ? "it is writable by group or others" : NULL;
    FILE *f = fd >= 0 && !why ? fdopen(fd, "r") : NULL;
    if (why) {
        char msg[256];
        snprintf(msg, sizeof(msg), "%s not read: %s (JIT frames are shown as addresses)", path, why);
        if (!(s->perf_refused = strdup(msg)))
            drop_perf_map(s);
    }
    if (!f) {
        if (fd >= 0)
            close(fd);
        return;
    }
    size_t cap = 0;
    while (fgets(line, sizeof(line), f)) {
        unsigned long long start, size;
        int off = 0;
        if (sscanf(line, "%llx %llx %n", &start, &size, &off) < 2 || !off)
            continue;
        line[strcspn(line, "\n")] = 0;
        if (s->n_perf == cap) {
            size_t c = cap ? cap * 2 : 256;
            perf_sym *v = realloc(s->perf, c * sizeof(perf_sym));
            if (!v)
                break;
            s->perf = v;
            cap = c;
        }
        s->perf[s->n_perf].start = start;
        s->perf[s->n_perf].size = size;
        if (!(s->perf[s->n_perf].name = strdup(line + off)))
            break;
        s->n_perf++;
    }
    if (!feof(f) && !ferror(f)) /* the loop stopped for want of memory */
        drop_perf_map(s);
    fclose(f);
}

/* A zeroed frame at the end of frames[]; out of memory, s->nomem and a
 * spare frame to write into, which no answer uses. */
static lh_sym_frame *new_frame(lh_symbols *s)
{
    lh_sym_frame *f = &s->spare;
    if (s->n_frames == s->cap_frames) {
        size_t cap = s->cap_frames ? s->cap_frames * 2 : 1024;
        lh_sym_frame *v = realloc(s->frames, cap * sizeof(lh_sym_frame));
        if (v) {
            s->frames = v;
            s->cap_frames = cap;
        }
    }
    if (s->n_frames < s->cap_frames)
        f = &s->frames[s->n_frames++];
    else
        s->nomem = 1;
    memset(f, 0, sizeof(*f));
    return f;
}

static const char *die_name(Dwarf_Die *die)
{
    Dwarf_Attribute attr;
    const char *name = NULL;
    if (dwarf_attr_integrate(die, DW_AT_linkage_name, &attr)
        || dwarf_attr_integrate(die, DW_AT_MIPS_linkage_name, &attr))
        name = dwarf_formstring(&attr);
    if (!name)
        name = dwarf_diename(die);
    if (!name && dwarf_attr_integrate(die, DW_AT_name, &attr))
        name = dwarf_formstring(&attr);
    return name;
}

/* Source file of a call site (DW_AT_call_file index into the CU's files). */
static const char *call_file(Dwarf_Die *cu, Dwarf_Die *inl)
{
    Dwarf_Attribute attr;
    Dwarf_Word idx;
    Dwarf_Files *files;
    size_t nfiles;
    if (!dwarf_attr(inl, DW_AT_call_file, &attr) || dwarf_formudata(&attr, &idx) != 0)
        return NULL;
    if (dwarf_getsrcfiles(cu, &files, &nfiles) != 0 || idx >= nfiles)
        return NULL;
    return dwarf_filesrc(files, idx, NULL, NULL);
}

static unsigned call_line(Dwarf_Die *inl)
{
    Dwarf_Attribute attr;
    Dwarf_Word v;
    if (dwarf_attr(inl, DW_AT_call_line, &attr) && dwarf_formudata(&attr, &v) == 0)
        return (unsigned)v;
    return 0;
}

/* Fill frames for addr in module m; returns how many were added. */
static size_t resolve(lh_symbols *s, module *m, uint64_t addr)
{
    size_t before = s->n_frames;
    const char *file = NULL;
    int line = 0;
    Dwfl_Line *dl = dwfl_module_getsrc(m->dm, addr);
    if (dl)
        file = dwfl_lineinfo(dl, NULL, &line, NULL, NULL, NULL);

    GElf_Off off = 0;
    GElf_Sym sym;
    const char *symname = dwfl_module_addrinfo(m->dm, addr, &off, &sym, NULL, NULL, NULL);

    /* Inline chain. dwarf_getscopes finds the innermost function scope at
     * addr; past an inlined subroutine it continues with the *abstract*
     * definition's scopes, not the caller, so the chain of callers comes
     * from dwarf_getscopes_die on that innermost scope (as eu-addr2line -i
     * does). Each inlined subroutine is a frame whose caller's line is its
     * DW_AT_call_line; the chain ends at the real (out-of-line) function. */
    Dwarf_Addr bias = 0;
    Dwarf_Die *cu = dwfl_module_addrdie(m->dm, addr, &bias);
    Dwarf_Die *scopes = NULL, *chain = NULL;
    int nscopes = cu ? dwarf_getscopes(cu, addr - bias, &scopes) : 0;
    int nchain = 0;
    for (int i = 0; i < nscopes; i++) {
        int tag = dwarf_tag(&scopes[i]);
        if (tag == DW_TAG_inlined_subroutine || tag == DW_TAG_subprogram) {
            nchain = dwarf_getscopes_die(&scopes[i], &chain);
            break;
        }
    }
    const char *cur_file = file;
    unsigned cur_line = line > 0 ? (unsigned)line : 0;
    for (int i = 0; i < nchain; i++) {
        int tag = dwarf_tag(&chain[i]);
        if (tag != DW_TAG_inlined_subroutine && tag != DW_TAG_subprogram)
            continue;
        lh_sym_frame *f = new_frame(s);
        const char *n = die_name(&chain[i]);
        f->name = demangle(s, n ? n : symname);
        f->file = keep_copy(s, cur_file);
        f->line = cur_line;
        f->inlined = tag == DW_TAG_inlined_subroutine;
        if (tag == DW_TAG_subprogram)
            break;
        cur_file = call_file(cu, &chain[i]);
        cur_line = call_line(&chain[i]);
    }
    free(chain);
    free(scopes);
    if (s->n_frames == before) {
        lh_sym_frame *f = new_frame(s);
        f->name = demangle(s, symname);
        f->file = keep_copy(s, file);
        f->line = cur_line;
    }
    /* The outermost of an inline chain is the real function. */
    if (s->n_frames - before > 1)
        s->frames[s->n_frames - 1].inlined = 0;
    return s->n_frames - before;
}

static uint64_t ip_hash(uint64_t ip) { return ip * 0x9E3779B97F4A7C15ull >> 20; }

static uint64_t cache_hash(const void *ctx, uint32_t id)
{
    return ip_hash(((const lh_symbols *)ctx)->cache[id].ip);
}

const lh_sym_frame *lh_symbols_lookup(lh_symbols *s, uint64_t ip, uint32_t map, size_t *n)
{
    uint64_t addr = ip ? ip - 1 : 0; /* inside the call, not after it */
    uint32_t want = NO_MODULE - 1; /* the module, once an entry needs it */
    for (uint32_t j = lh_idtable_start(&s->cache_ix, ip_hash(ip)); s->cache_ix.slot[j] != LH_ID_NONE;
         j = lh_idtable_next(&s->cache_ix, j)) {
        const cache_entry *e = &s->cache[s->cache_ix.slot[j]];
        if (e->ip != ip)
            continue;
        if (e->shared && want == NO_MODULE - 1) {
            module *w = module_of(s, addr, map, NULL);
            want = w ? (uint32_t)(w - s->mods) : NO_MODULE;
        }
        if (!e->shared || e->mod == want) {
            *n = e->count;
            return e->frames;
        }
    }

    size_t first = s->n_frames = 0, count = 0;
    int uncached = 0, shared = 0;
    s->nomem = 0;
    module *m = ip >= LH_PY_IP_BASE ? NULL : module_of(s, addr, map, &shared);
    if (ip >= LH_PY_IP_BASE && ip < LH_PY_IP_LIMIT) {
        /* a Python frame (FORMAT.md 4.4), not a return address */
        uint64_t id = ip - LH_PY_IP_BASE;
        lh_sym_frame *f = new_frame(s);
        if (id < s->n_py && s->py[id].name) {
            *f = s->py[id];
        } else {
            char buf[64];
            snprintf(buf, sizeof(buf), "python frame #%" PRIu64, id);
            f->name = keep_copy(s, buf);
            f->module = "python";
            uncached = 1; /* its PyFrames chunk may come with a later replay */
        }
        addr = ip;
        count = 1;
    } else if (m) {
        report(s, m);
        if (m->dm)
            count = resolve(s, m, addr);
        const char *mpath = keep_copy(s, m->path);
        if (s->nomem)
            goto nomem;
        if (!count || !s->frames[first + count - 1].name) {
            char buf[512];
            const char *base = strrchr(m->path, '/');
            snprintf(buf, sizeof(buf), "%s+0x%" PRIx64, base ? base + 1 : m->path, addr - m->bias);
            if (!count)
                count = 1, new_frame(s);
            if (s->nomem)
                goto nomem;
            for (size_t i = 0; i < count; i++)
                if (!s->frames[first + i].name)
                    s->frames[first + i].name = keep_copy(s, buf);
        }
        for (size_t i = 0; i < count; i++) {
            lh_sym_frame *f = &s->frames[first + i];
            f->module = mpath;
            f->build_id = m->build_id_len ? m->build_id : NULL;
            f->build_id_len = m->build_id_len;
            f->module_offset = addr - m->bias;
        }
    } else {
        if (!s->perf_loaded)
            load_perf_map(s);
        char buf[64];
        const char *name = NULL;
        for (size_t i = 0; i < s->n_perf && !name; i++)
            if (addr >= s->perf[i].start && addr < s->perf[i].start + s->perf[i].size)
                name = s->perf[i].name;
        snprintf(buf, sizeof(buf), "0x%" PRIx64, addr);
        new_frame(s)->name = keep_copy(s, name ? name : buf);
        count = 1;
    }
    if (s->nomem)
        goto nomem;
    for (size_t i = 0; i < count; i++)
        s->frames[first + i].address = addr;
    /* A copy of its own: frames[] moves when it grows, and callers keep
     * the frames of earlier lookups. */
    lh_sym_frame *kept = (lh_sym_frame *)(void *)keep(s, malloc(count * sizeof(lh_sym_frame)));
    if (!kept)
        goto nomem;
    memcpy(kept, &s->frames[first], count * sizeof(lh_sym_frame));
    *n = count;
    if (uncached)
        return kept;

    /* Out of room in the index or the cache (memory): answered, not cached. */
    if (lh_idtable_full(&s->cache_ix) && lh_idtable_grow(&s->cache_ix, cache_hash, s) < 0)
        return kept;
    if (s->cache_n == s->cache_cap) {
        size_t cap = s->cache_cap ? 2 * s->cache_cap : 1024;
        cache_entry *v = realloc(s->cache, cap * sizeof(cache_entry));
        if (!v)
            return kept;
        s->cache = v;
        s->cache_cap = cap;
    }
    s->cache[s->cache_n] = (cache_entry){ ip, kept, (uint32_t)count, m ? (uint32_t)(m - s->mods) : NO_MODULE, shared };
    lh_idtable_put(&s->cache_ix, lh_idtable_free_slot(&s->cache_ix, ip_hash(ip)), (uint32_t)s->cache_n++);
    return kept;
nomem: /* nothing cached: the next lookup of ip tries again */
    errno = ENOMEM;
    return NULL;
}

void lh_symbols_warnings(lh_symbols *s, void (*warn)(const char *, void *), void *ctx)
{
    if (s->perf_refused)
        warn(s->perf_refused, ctx);
    for (size_t i = 0; i < s->n_mods; i++) {
        if (s->mods[i].mismatch) {
            char msg[4300];
            snprintf(msg, sizeof(msg), "%s on this machine is not the traced build "
                     "(build-id differs); its frames are shown as module+offset", s->mods[i].path);
            warn(msg, ctx);
        }
    }
}
