/* stacks10k [DEPTH] - one allocation from each of 2^DEPTH (2^15) distinct
 * call stacks (two functions calling each other by the bits of a path
 * number), all kept; then twice that from stacks already seen, freed. */
#include "tt.h"

static void *kept[1 << 16];
static int nkept;
void walk_a(unsigned path, int depth, int keep);
void walk_b(unsigned path, int depth, int keep);

__attribute__((noinline)) void walk_a(unsigned path, int depth, int keep)
{
    if (!depth) {
        void *p = tt_alloc(8);
        if (keep) kept[nkept++] = p; else tt_free(p);
    } else if (path & 1) {
        walk_a(path >> 1, depth - 1, keep);
    } else {
        walk_b(path >> 1, depth - 1, keep);
    }
    __asm__ volatile("" ::: "memory");
}

__attribute__((noinline)) void walk_b(unsigned path, int depth, int keep)
{
    if (!depth) {
        void *p = tt_alloc(8);
        if (keep) kept[nkept++] = p; else tt_free(p);
    } else if (path & 1) {
        walk_a(path >> 1, depth - 1, keep);
    } else {
        walk_b(path >> 1, depth - 1, keep);
    }
    __asm__ volatile("" ::: "memory");
}

int main(int argc, char **argv)
{
    int depth = argc > 1 ? atoi(argv[1]) : 15;
    for (unsigned p = 0; p < (1u << depth); p++)
        walk_a(p, depth, 1);
    for (int round = 0; round < 2; round++)
        for (unsigned p = 0; p < (1u << depth); p++)
            walk_a(p, depth, 0);
    tt_report();
    return 0;
}
