/*
 * phases - a trace of many chunks with a landmark in each, for random
 * access over it (replay_checkpoints.sh). Thirty phases, each a marker
 * "phase" (the recorder starts a new events chunk at a marker), a 2 ms
 * pause (so moments in time fall between phases) and 1,000 allocations, of
 * which 900 are freed within the phase and 100 stay until the phase after
 * next. Phase 20 also holds a 1 MiB block until phase 21, so the peak lies
 * in the middle of the run; "half" marks the start of phase 15.
 */
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "leakhunt.h"

#define PHASES 30
#define PER_PHASE 1000
#define KEPT 100

static void *kept[3][KEPT];

static void phase(int n)
{
    static void *peak;
    struct timespec pause = { 0, 2000000 };
    nanosleep(&pause, NULL);
    void **mine = kept[n % 3];
    for (int i = 0; i < KEPT; i++) /* those of the phase before last */
        free(mine[i]);
    for (int i = 0; i < PER_PHASE; i++) {
        char *p = malloc(32 + (size_t)(i % 7) * 16);
        p[0] = (char)i;
        if (i < KEPT)
            mine[i] = p;
        else
            free(p);
    }
    if (n == 20)
        peak = calloc(1, 1 << 20);
    if (n == 21) {
        free(peak);
        peak = NULL;
    }
}

int main(void)
{
    for (int n = 0; n < PHASES; n++) {
        if (n == PHASES / 2)
            leakhunt_mark("half");
        leakhunt_mark("phase");
        phase(n);
    }
    for (int k = 0; k < 3; k++)
        for (int i = 0; i < KEPT; i++)
            free(kept[k][i]);
    printf("phases: %d phases of %d allocations\n", PHASES, PER_PHASE);
    return 0;
}
