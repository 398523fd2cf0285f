/*
 * modules.c - which files are mapped where, so a trace symbolizes offline.
 *
 * A snapshot lists every loaded object with its path, GNU build-id, load
 * bias and PT_LOAD segments, read from the program headers the dynamic
 * loader keeps (dl_iterate_phdr); the build-id note is read from memory,
 * so no file is opened. Runs with the recursion guard set, so its own
 * allocations are the recorder's, not the program's.
 */
#include <elf.h>
#include <link.h>
#include <string.h>
#include <unistd.h>

#include "rec.h"

typedef struct {
    Lh__ModuleMap *map;
    size_t cap;
    int failed;
} collect_ctx;

static char *dup_str(const char *s)
{
    size_t n = strlen(s) + 1;
    char *d = lh_real_malloc(n);
    if (d)
        memcpy(d, s, n);
    return d;
}

static void find_build_id(const struct dl_phdr_info *info, Lh__Module *m)
{
    for (int i = 0; i < info->dlpi_phnum; i++) {
        const ElfW(Phdr) *ph = &info->dlpi_phdr[i];
        if (ph->p_type != PT_NOTE)
            continue;
        const char *p = (const char *)(info->dlpi_addr + ph->p_vaddr);
        const char *end = p + ph->p_memsz;
        while (p + sizeof(ElfW(Nhdr)) <= end) {
            const ElfW(Nhdr) *nh = (const ElfW(Nhdr) *)p;
            size_t name_sz = (nh->n_namesz + 3) & ~3u, desc_sz = (nh->n_descsz + 3) & ~3u;
            const char *name = p + sizeof(*nh), *desc = name + name_sz;
            if (desc + desc_sz > end)
                break;
            if (nh->n_type == NT_GNU_BUILD_ID && nh->n_namesz == 4 && !memcmp(name, "GNU", 4)
                && nh->n_descsz <= 64) {
                uint8_t *id = lh_real_malloc(nh->n_descsz);
                if (id) {
                    memcpy(id, desc, nh->n_descsz);
                    m->has_build_id = 1;
                    m->build_id.data = id;
                    m->build_id.len = nh->n_descsz;
                }
                return;
            }
            p = desc + desc_sz;
        }
    }
}

static int collect(struct dl_phdr_info *info, size_t size, void *arg)
{
    collect_ctx *c = arg;
    Lh__ModuleMap *map = c->map;
    (void)size;
    if (map->n_modules == c->cap) {
        size_t cap = c->cap ? c->cap * 2 : 32;
        Lh__Module **mods = lh_real_malloc(cap * sizeof(*mods));
        if (!mods) { c->failed = 1; return 1; }
        if (map->modules)
            memcpy(mods, map->modules, map->n_modules * sizeof(*mods));
        lh_real_free(map->modules);
        map->modules = mods;
        c->cap = cap;
    }
    Lh__Module *m = lh_real_malloc(sizeof(*m));
    if (!m) { c->failed = 1; return 1; }
    lh__module__init(m);

    char exe[4096];
    const char *path = info->dlpi_name;
    if (!path || !*path) {
        ssize_t n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
        exe[n > 0 ? n : 0] = 0;
        path = exe;
    }
    m->path = dup_str(path);
    m->has_load_bias = 1;
    m->load_bias = info->dlpi_addr;
    find_build_id(info, m);

    size_t nseg = 0;
    for (int i = 0; i < info->dlpi_phnum; i++)
        nseg += info->dlpi_phdr[i].p_type == PT_LOAD;
    m->segments = nseg ? lh_real_malloc(nseg * sizeof(*m->segments)) : NULL;
    for (int i = 0; m->segments && i < info->dlpi_phnum; i++) {
        const ElfW(Phdr) *ph = &info->dlpi_phdr[i];
        if (ph->p_type != PT_LOAD)
            continue;
        Lh__Segment *s = lh_real_malloc(sizeof(*s));
        if (!s)
            break;
        lh__segment__init(s);
        s->has_vaddr = s->has_memsz = s->has_flags = s->has_offset = 1;
        s->vaddr = ph->p_vaddr;
        s->memsz = ph->p_memsz;
        s->flags = ph->p_flags;
        s->offset = ph->p_offset;
        m->segments[m->n_segments++] = s;
    }
    map->modules[map->n_modules++] = m;
    return 0;
}

Lh__ModuleMap *lh_modules_snapshot(uint64_t time_us)
{
    Lh__ModuleMap *map = lh_real_malloc(sizeof(*map));
    if (!map)
        return NULL;
    lh__module_map__init(map);
    map->has_time_us = 1;
    map->time_us = time_us;
    collect_ctx c = { map, 0, 0 };
    dl_iterate_phdr(collect, &c);
    return map;
}

void lh_modules_free(Lh__ModuleMap *map)
{
    if (!map)
        return;
    for (size_t i = 0; i < map->n_modules; i++) {
        Lh__Module *m = map->modules[i];
        for (size_t j = 0; j < m->n_segments; j++)
            lh_real_free(m->segments[j]);
        lh_real_free(m->segments);
        lh_real_free(m->path);
        lh_real_free(m->build_id.data);
        lh_real_free(m);
    }
    lh_real_free(map->modules);
    lh_real_free(map);
}

typedef struct { uintptr_t addr, lo, hi; } self_ctx;

static int find_self(struct dl_phdr_info *info, size_t size, void *arg)
{
    self_ctx *c = arg;
    uintptr_t lo = UINTPTR_MAX, hi = 0;
    int mine = 0;
    (void)size;
    for (int i = 0; i < info->dlpi_phnum; i++) {
        const ElfW(Phdr) *ph = &info->dlpi_phdr[i];
        if (ph->p_type != PT_LOAD || !(ph->p_flags & PF_X))
            continue;
        uintptr_t a = info->dlpi_addr + ph->p_vaddr, b = a + ph->p_memsz;
        if (c->addr >= a && c->addr < b)
            mine = 1;
        if (a < lo) lo = a;
        if (b > hi) hi = b;
    }
    if (mine) {
        c->lo = lo;
        c->hi = hi;
        return 1;
    }
    return 0;
}

void lh_modules_self_range(uintptr_t *lo, uintptr_t *hi)
{
    self_ctx c = { (uintptr_t)&lh_modules_self_range, 0, 0 };
    dl_iterate_phdr(find_self, &c);
    *lo = c.lo;
    *hi = c.hi;
}
