/* vlimit - run under ulimit -v: allocates 1 MiB blocks until malloc fails
 * (failures are no allocations), frees every other, fills the holes with
 * small blocks until that fails too, then frees everything. */
#include "tt.h"

static void *blk[1 << 16];

int main(void)
{
    int n = 0, small = 0;
    while (n < (1 << 15) && (blk[n] = tt_alloc(1 << 20)))
        n++;
    for (int i = 0; i < n; i += 2)
        tt_free(blk[i]);
    static void *sm[1 << 20];
    while (small < (1 << 20) && (sm[small] = tt_alloc(4000)))
        small++;
    for (int i = 1; i < n; i += 2)
        tt_free(blk[i]);
    for (int i = 0; i < small; i++)
        tt_free(sm[i]);
    tt_report();
    tt_say("big=%d small=%d\n", n, small);
    return 0;
}
