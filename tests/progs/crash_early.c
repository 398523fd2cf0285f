/*
 * crash_early MODE [N] - N (1000) allocations of 32 bytes in crash_alloc,
 * never freed, then at once: abort() (MODE abort), raise(SIGSEGV) (raise)
 * or a write through a null pointer (null). Nothing is flushed or waited
 * for: what the trace holds is what the recorder kept by itself.
 */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static void *kept[100000];

void crash_alloc(int n)
{
    for (int i = 0; i < n; i++)
        kept[i] = malloc(32);
}

int main(int argc, char **argv)
{
    const char *mode = argc > 1 ? argv[1] : "abort";
    int n = argc > 2 ? atoi(argv[2]) : 1000;
    if (n < 0 || n > 100000)
        return 2;
    crash_alloc(n);
    if (!strcmp(mode, "abort"))
        abort();
    if (!strcmp(mode, "raise"))
        raise(SIGSEGV);
    if (!strcmp(mode, "null")) {
        int *volatile np = NULL;
        *np = 1;
    }
    return 3;
}
