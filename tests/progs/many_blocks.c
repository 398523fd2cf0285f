/*
 * many_blocks - N (default 2000000) 16-byte blocks, all left live at exit:
 * a trace whose replay needs a live set of N blocks (replay_nomem.sh runs
 * leakhunt-replay out of memory on it).
 */
#include <stdlib.h>

int main(int argc, char **argv)
{
    long n = argc > 1 ? atol(argv[1]) : 2000000;
    void **keep = malloc((size_t)n * sizeof(void *));
    if (!keep)
        return 1;
    for (long i = 0; i < n; i++)
        keep[i] = malloc(16);
    return keep[n - 1] ? 0 : 1;
}
