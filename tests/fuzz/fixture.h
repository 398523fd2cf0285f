/*
 * fixture.h - the opening chunks of the synthetic traces the fuzz harnesses
 * and their seed writer build: a process and one module of one segment.
 */
#ifndef LH_FUZZ_FIXTURE_H
#define LH_FUZZ_FIXTURE_H

#include "lh_trace.h"

/* build_id_empty: the module says it has a build-id and gives none (a
 * reader must cope with the NULL that unpacks to). */
static inline void fixture_process_and_module(lh_writer *w, uint32_t pid, const char *path,
                                              uint64_t vaddr, uint64_t memsz, int build_id_empty)
{
    Lh__ProcessInfo p;
    lh__process_info__init(&p);
    p.has_pid = 1;
    p.pid = pid;
    p.exe = "/bin/app";
    lh_writer_put(w, LH_CHUNK_PROCESS, &p.base, 0, 0);
    Lh__Segment seg, *segp = &seg;
    lh__segment__init(&seg);
    seg.has_vaddr = seg.has_memsz = 1;
    seg.vaddr = vaddr;
    seg.memsz = memsz;
    Lh__Module mod, *modp = &mod;
    lh__module__init(&mod);
    mod.path = (char *)path;
    mod.has_build_id = build_id_empty;
    mod.n_segments = 1;
    mod.segments = &segp;
    Lh__ModuleMap mm;
    lh__module_map__init(&mm);
    mm.n_modules = 1;
    mm.modules = &modp;
    lh_writer_put(w, LH_CHUNK_MODULES, &mm.base, 0, 0);
}

#endif
