/*
 * fixture.h - the opening chunks of the synthetic traces the fuzz harnesses
 * and their seed writer build: a process and one module of one segment.
 */
#ifndef LH_FUZZ_FIXTURE_H
#define LH_FUZZ_FIXTURE_H

#include <stdlib.h>

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

/* A writer on a new file made from path_template (mkstemp), whose fd
 * the caller closes after lh_writer_free; aborts on failure. */
static inline lh_writer *fixture_open(char *path_template, int *fd)
{
    int rc;
    *fd = mkstemp(path_template);
    lh_writer *w = *fd >= 0 ? lh_writer_open(*fd, NULL, &rc) : NULL;
    if (!w)
        abort();
    return w;
}

/* Stack nodes first_id.. as (parents[i], ips[i]). */
static inline void fixture_stacks(lh_writer *w, uint32_t first_id, uint32_t *parents, uint64_t *ips, size_t n)
{
    Lh__StackNodes s;
    lh__stack_nodes__init(&s);
    s.has_first_id = 1;
    s.first_id = first_id;
    s.n_parents = s.n_ips = n;
    s.parents = parents;
    s.ips = ips;
    lh_writer_put(w, LH_CHUNK_STACKS, &s.base, 0, 0);
}

/* Thread index 0, as tid. */
static inline void fixture_thread(lh_writer *w, uint32_t tid)
{
    Lh__ThreadInfo ti;
    lh__thread_info__init(&ti);
    ti.has_index = ti.has_tid = 1;
    ti.tid = tid;
    lh_writer_put(w, LH_CHUNK_THREAD, &ti.base, 0, 0);
}

/* A marker label at time t (µs). */
static inline void fixture_marker(lh_writer *w, const char *label, uint64_t t)
{
    Lh__Marker m;
    lh__marker__init(&m);
    m.has_time_us = 1;
    m.time_us = t;
    m.label = (char *)label;
    lh_writer_put(w, LH_CHUNK_MARKER, &m.base, t, t);
}

#endif
