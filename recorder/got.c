/*
 * got.c - attach mode: send a running program's allocation calls to our
 * hooks by rewriting the GOT slots its modules call them through.
 *
 * When leakhunt-record -p loads libleakhunt.so into a running process,
 * LD_PRELOAD is long past: every module already has its malloc, free ...
 * bound to libc's. So, as heaptrack's inject mode does, we walk the loaded
 * modules (dl_iterate_phdr -> PT_DYNAMIC -> DT_JMPREL/DT_RELA, DT_SYMTAB,
 * DT_STRTAB) and, for each R_X86_64_JUMP_SLOT or R_X86_64_GLOB_DAT
 * relocation naming one of the functions below, store the address of our
 * hook in the slot. A slot inside PT_GNU_RELRO is made writable for the
 * store and read-only again after.
 *
 * Which slots are rewritten:
 *  - only those that hold libc's function (or, not yet bound by lazy
 *    binding, a stub of the module itself): a program that brings its own
 *    allocator (jemalloc, tcmalloc) keeps it, since our hooks would hand
 *    its blocks to libc's free;
 *  - every module except ld.so and the vDSO, including libc (glibc calls
 *    malloc, free, calloc and realloc through its own GOT, so strdup, fopen,
 *    getline ... are seen as under LD_PRELOAD; our hooks reach the real
 *    functions through pointers from dlsym, never through a GOT, so this
 *    cannot loop) and libleakhunt.so itself (under LD_PRELOAD its own calls
 *    through the GOT bind to its hooks too; hooks that call another hook
 *    call it directly, see hook_malloc in hooks.c);
 *  - pipe2, read, write and close only in libunwind, whose memory-check
 *    pipe fdguard.c keeps away from the program's files (preloaded, its
 *    calls bind to fdguard's functions by themselves);
 *  - dlopen, only in modules without DT_RPATH/DT_RUNPATH: dlopen searches
 *    the caller's run path, and through our wrapper the caller would be us.
 *    The wrapper patches what the new library brought at once; modules
 *    loaded any other way are patched at the writer's next round.
 *
 * Stopping (leakhunt-mark --stop) puts libc's functions back in every slot
 * that still points at a hook, in the modules loaded then: the program runs
 * at full speed again. A slot patched by a dlopen racing with the stop keeps
 * its hook, which passes calls through.
 */
#include <dlfcn.h>
#include <elf.h>
#include <link.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "attach.h"
#include "rec.h"

typedef struct {
    const char *name;
    void *hook; /* ours */
    void *real; /* what the slot holds when bound normally */
} target;

static const char *const names[] = {
    "malloc", "free", "calloc", "realloc", "reallocarray", "posix_memalign",
    "aligned_alloc", "memalign", "valloc", "pvalloc", "mmap", "mmap64", "munmap",
    "mremap", "dlclose", "execve", "execv", "execvp", "execvpe", "execl", "execlp",
    "execle", "fexecve", "execveat", "posix_spawn", "posix_spawnp", "_exit", "_Exit",
    "pthread_setcanceltype",
    /* libunwind's only (fdguard.c): its memory-check pipe is answered without a pipe */
    "pipe2", "read", "write", "close", "syscall",
    "dlopen",
};
#define N_TARGETS (sizeof(names) / sizeof(names[0]))
#define DLOPEN_INDEX (N_TARGETS - 1)
#define UNWINDER_FIRST (N_TARGETS - 6) /* pipe2 .. syscall */

static target targets[N_TARGETS];
static pthread_mutex_t got_lock = PTHREAD_MUTEX_INITIALIZER;
static size_t page_size;
static void *(*real_dlopen)(const char *, int);
static unsigned long long seen_adds;

static void *got_dlopen(const char *file, int flags)
{
    void *h = real_dlopen(file, flags);
    if (h && lh_state == LH_RECORDING) {
        int g = lh_guard;
        lh_guard = 1;
        lh_got_refresh();
        lh_session_modules_changed(0);
        lh_guard = g;
    }
    return h;
}

int lh_got_init(void)
{
    Dl_info di;
    if (!dladdr((void *)&lh_got_init, &di) || !di.dli_fname)
        return -1;
    /* Our handle: dlsym on it finds our definitions first, where a plain
     * reference from this file would bind to libc's. */
    void *self = dlopen(di.dli_fname, RTLD_NOW | RTLD_NOLOAD);
    if (!self)
        return -1;
    page_size = (size_t)sysconf(_SC_PAGESIZE);
    real_dlopen = (void *(*)(const char *, int))dlsym(RTLD_DEFAULT, "dlopen");
    for (size_t i = 0; i < N_TARGETS; i++) {
        targets[i].name = names[i];
        targets[i].hook = i == DLOPEN_INDEX ? (void *)&got_dlopen : dlsym(self, names[i]);
        /* libc's (the next definition after us). */
        targets[i].real = dlsym(RTLD_NEXT, names[i]);
        Dl_info info;
        if (targets[i].real && (!dladdr(targets[i].real, &info) || !info.dli_fname
                                || !strstr(info.dli_fname, "libc.so")))
            targets[i].real = NULL;
        /* What the program binds to: libc's, or the PLT entry a non-PIE
         * executable gives it (an undefined symbol with a value; its GOT
         * slot is patched like any). Anything else is the program's own
         * allocator (jemalloc, tcmalloc): that name is left alone. */
        void *bound = dlsym(RTLD_DEFAULT, names[i]);
        const ElfW(Sym) *sym = NULL;
        if (bound && bound != targets[i].real
            && !(dladdr1(bound, &info, (void **)&sym, RTLD_DL_SYMENT) && sym && sym->st_shndx == SHN_UNDEF))
            targets[i].real = NULL;
        if (!targets[i].hook || targets[i].real == targets[i].hook)
            targets[i].real = NULL;
    }
    dlclose(self);
    return targets[0].real && targets[1].real ? 0 : -1;
}

typedef struct {
    uintptr_t base, lo, hi;          /* module range */
    uintptr_t relro_lo, relro_hi;
    const ElfW(Phdr) *phdr;
    int phnum;
    const ElfW(Sym) *symtab;
    const char *strtab;
    size_t strsz;
    int has_runpath;
    int unwinder;                    /* libunwind: its pipe calls go to fdguard.c too */
    size_t patched;
} module;

static int prot_of(const module *m, uintptr_t addr)
{
    if (addr >= m->relro_lo && addr < m->relro_hi)
        return PROT_READ;
    for (int i = 0; i < m->phnum; i++) {
        const ElfW(Phdr) *ph = &m->phdr[i];
        uintptr_t lo = m->base + ph->p_vaddr;
        if (ph->p_type == PT_LOAD && addr >= lo && addr < lo + ph->p_memsz)
            return (ph->p_flags & PF_R ? PROT_READ : 0) | (ph->p_flags & PF_W ? PROT_WRITE : 0)
                   | (ph->p_flags & PF_X ? PROT_EXEC : 0);
    }
    return -1;
}

static void store(module *m, void **slot, void *value)
{
    int prot = prot_of(m, (uintptr_t)slot);
    if (prot < 0)
        return;
    if (prot & PROT_WRITE) {
        __atomic_store_n(slot, value, __ATOMIC_RELEASE);
    } else {
        void *page = (void *)((uintptr_t)slot & ~(page_size - 1));
        if (mprotect(page, page_size, prot | PROT_READ | PROT_WRITE) != 0)
            return;
        __atomic_store_n(slot, value, __ATOMIC_RELEASE);
        mprotect(page, page_size, prot);
    }
    m->patched++;
}

static void patch_relocs(module *m, const ElfW(Rela) *rel, size_t bytes, int restore)
{
    if (!rel)
        return;
    for (size_t i = 0; i < bytes / sizeof(*rel); i++) {
        uint32_t type = (uint32_t)ELF64_R_TYPE(rel[i].r_info);
        if (type != R_X86_64_JUMP_SLOT && type != R_X86_64_GLOB_DAT)
            continue;
        const ElfW(Sym) *sym = &m->symtab[ELF64_R_SYM(rel[i].r_info)];
        if (sym->st_name >= m->strsz || sym->st_shndx != SHN_UNDEF)
            continue;
        const char *name = m->strtab + sym->st_name;
        for (size_t t = 0; t < N_TARGETS; t++) {
            if (strcmp(name, targets[t].name))
                continue;
            if (!targets[t].real || (t == DLOPEN_INDEX && m->has_runpath)
                || (t >= UNWINDER_FIRST && t < DLOPEN_INDEX && !m->unwinder))
                break;
            void **slot = (void **)(m->base + rel[i].r_offset);
            void *v = __atomic_load_n(slot, __ATOMIC_ACQUIRE);
            if (restore) {
                /* What binding would have put there: libc's (a non-PIE
                 * program's own PLT entry also lands there). */
                if (v == targets[t].hook)
                    store(m, slot, targets[t].real);
                break;
            }
            int lazy = type == R_X86_64_JUMP_SLOT && (uintptr_t)v >= m->lo && (uintptr_t)v < m->hi;
            if (v != targets[t].hook && (v == targets[t].real || lazy))
                store(m, slot, targets[t].hook);
            break;
        }
    }
}

static uintptr_t dyn_ptr(const module *m, uintptr_t v)
{
    /* ld.so relocates the d_ptr values of a loaded module in place. */
    return v < m->base ? v + m->base : v;
}

typedef struct {
    int restore;
    size_t total;
} walk;

static int patch_one(struct dl_phdr_info *info, size_t size, void *arg)
{
    walk *w = arg;
    const char *name = info->dlpi_name ? info->dlpi_name : "";
    if (strstr(name, "linux-vdso") || strstr(name, "linux-gate") || strstr(name, "ld-linux"))
        return 0;
    module m;
    memset(&m, 0, sizeof(m));
    m.unwinder = strstr(name, "/libunwind") != NULL;
    m.base = info->dlpi_addr;
    m.lo = UINTPTR_MAX;
    m.phdr = info->dlpi_phdr;
    m.phnum = info->dlpi_phnum;
    const ElfW(Dyn) *dyn = NULL;
    for (int i = 0; i < info->dlpi_phnum; i++) {
        const ElfW(Phdr) *ph = &info->dlpi_phdr[i];
        uintptr_t lo = m.base + ph->p_vaddr;
        if (ph->p_type == PT_DYNAMIC)
            dyn = (const ElfW(Dyn) *)lo;
        else if (ph->p_type == PT_GNU_RELRO) {
            m.relro_lo = lo & ~(page_size - 1);
            m.relro_hi = (lo + ph->p_memsz) & ~(page_size - 1);
        } else if (ph->p_type == PT_LOAD) {
            if (lo < m.lo) m.lo = lo;
            if (lo + ph->p_memsz > m.hi) m.hi = lo + ph->p_memsz;
        }
    }
    if (!dyn)
        return 0;
    const ElfW(Rela) *jmprel = NULL, *rela = NULL;
    size_t jmprel_sz = 0, rela_sz = 0;
    int pltrel = DT_RELA;
    for (; dyn->d_tag != DT_NULL; dyn++) {
        switch (dyn->d_tag) {
        case DT_JMPREL: jmprel = (const ElfW(Rela) *)dyn_ptr(&m, dyn->d_un.d_ptr); break;
        case DT_PLTRELSZ: jmprel_sz = dyn->d_un.d_val; break;
        case DT_PLTREL: pltrel = (int)dyn->d_un.d_val; break;
        case DT_RELA: rela = (const ElfW(Rela) *)dyn_ptr(&m, dyn->d_un.d_ptr); break;
        case DT_RELASZ: rela_sz = dyn->d_un.d_val; break;
        case DT_SYMTAB: m.symtab = (const ElfW(Sym) *)dyn_ptr(&m, dyn->d_un.d_ptr); break;
        case DT_STRTAB: m.strtab = (const char *)dyn_ptr(&m, dyn->d_un.d_ptr); break;
        case DT_STRSZ: m.strsz = dyn->d_un.d_val; break;
        case DT_RPATH: case DT_RUNPATH: m.has_runpath = 1; break;
        }
    }
    if (!m.symtab || !m.strtab)
        return 0;
    if (pltrel == DT_RELA)
        patch_relocs(&m, jmprel, jmprel_sz, w->restore);
    patch_relocs(&m, rela, rela_sz, w->restore);
    w->total += m.patched;
    return 0;
}

static int read_adds(struct dl_phdr_info *info, size_t size, void *arg)
{
    *(unsigned long long *)arg = info->dlpi_adds;
    return 1;
}

size_t lh_got_refresh(void)
{
    walk w = { 0, 0 };
    pthread_mutex_lock(&got_lock);
    unsigned long long adds = 0;
    dl_iterate_phdr(read_adds, &adds);
    seen_adds = adds;
    dl_iterate_phdr(patch_one, &w);
    pthread_mutex_unlock(&got_lock);
    return w.total;
}

size_t lh_got_restore(void)
{
    walk w = { 1, 0 };
    pthread_mutex_lock(&got_lock);
    dl_iterate_phdr(patch_one, &w);
    pthread_mutex_unlock(&got_lock);
    return w.total;
}

void lh_got_tick(void)
{
    unsigned long long adds = 0;
    dl_iterate_phdr(read_adds, &adds);
    if (adds != __atomic_load_n(&seen_adds, __ATOMIC_RELAXED))
        lh_got_refresh();
}
