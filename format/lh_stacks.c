/*
 * lh_stacks.c - the rules of the stack trie (FORMAT.md 4.2).
 *
 * Ids are dense and a node's parent is defined before it, so a reader can
 * keep the trie as two flat arrays and walk a stack outwards knowing every
 * step lands on a smaller id: it ends at node 0, however the file lies. A
 * table that breaks this (a parent cycle, a parent defined later or never,
 * a chunk that skips or repeats ids) is damage, not a stack to guess at.
 * What one chunk can show is checked here for the reader; whether a chunk
 * continues the table depends on every chunk before it, which only its
 * caller has seen in order.
 */
#include "lh_trace.h"

int lh_stack_nodes_check(const Lh__StackNodes *m)
{
    if (!m || m->n_parents != m->n_ips)
        return LH_E_STACKS;
    size_t n = m->n_parents;
    if (n == 0)
        return LH_OK;
    /* first_id is a uint32; n is bounded by the chunk size (a byte each). */
    uint64_t first = m->first_id;
    if (first == 0 || first + n - 1 > UINT32_MAX)
        return LH_E_STACKS;
    for (size_t i = 0; i < n; i++)
        if (m->parents[i] >= first + i)
            return LH_E_STACKS;
    return LH_OK;
}

int lh_stack_nodes_continue(const Lh__StackNodes *m, uint64_t *next_id)
{
    if (!m || !next_id || m->first_id != *next_id)
        return LH_E_STACKS;
    *next_id += m->n_parents;
    return LH_OK;
}
