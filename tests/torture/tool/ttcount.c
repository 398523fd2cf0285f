/*
 * ttcount TRACE... [-f FUNC] - the torture suite's exact counter: over all
 * the traces, allocations whose innermost frame is FUNC (default tt_alloc),
 * how many of them were freed, their bytes, and distinct stacks:
 *   allocs=N frees=M bytes=B stacks=S
 * then one line of totals for checks:
 *   traces=T complete=C lost=L unknown_frees=U reused=R
 * Exit 2 if a trace cannot be opened at all, 4 out of memory.
 */
#include <stdio.h>
#include <string.h>

#include "replay.h"
#include "symbols.h"

static int nomem(void)
{
    fprintf(stderr, "ttcount: out of memory\n");
    return 4;
}

int main(int argc, char **argv)
{
    const char *func = "tt_alloc";
    unsigned long long allocs = 0, frees = 0, bytes = 0, stacks = 0;
    unsigned long long traces = 0, complete = 0, lost = 0, unknown = 0, reused = 0;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "-f") && i + 1 < argc) {
            func = argv[++i];
            continue;
        }
        char err[512];
        lh_replay *r = lh_replay_open(argv[i], err, sizeof(err));
        if (!r) {
            fprintf(stderr, "ttcount: %s\n", err);
            return 2;
        }
        lh_replay_advance(r, LH_AT_END, 0, NULL);
        lh_symbols *sym = lh_symbols_new();
        if (!sym)
            return nomem();
        size_t nm;
        const Lh__ModuleMap *const *maps = lh_replay_module_maps(r, &nm);
        for (size_t k = 0; k < nm; k++)
            if (lh_symbols_add_map(sym, maps[k], (uint32_t)k + 1) < 0)
                return nomem();
        size_t n;
        const lh_site *s = lh_replay_sites(r, &n);
        for (size_t id = 1; id < n; id++) {
            if (!s[id].alloc_count)
                continue;
            uint32_t parent;
            uint64_t ip;
            if (!lh_replay_node(r, (uint32_t)id, &parent, &ip))
                continue;
            size_t nf;
            const lh_sym_frame *f = lh_symbols_lookup(sym, ip, s[id].map, &nf);
            if (!f)
                return nomem();
            if (!nf || !f[nf - 1].name || strcmp(f[nf - 1].name, func))
                continue;
            allocs += (unsigned long long)s[id].alloc_count;
            frees += (unsigned long long)(s[id].alloc_count - s[id].live_count);
            bytes += (unsigned long long)s[id].alloc_bytes;
            stacks++;
        }
        const lh_counters *c = lh_replay_counters(r);
        traces++;
        complete += lh_replay_complete(r) != 0;
        lost += c->lost_events;
        unknown += c->unknown_frees;
        reused += c->reused_live;
        lh_symbols_free(sym);
        lh_replay_free(r);
    }
    printf("allocs=%llu frees=%llu bytes=%llu stacks=%llu\n", allocs, frees, bytes, stacks);
    printf("traces=%llu complete=%llu lost=%llu unknown_frees=%llu reused=%llu\n", traces, complete,
           lost, unknown, reused);
    return 0;
}
