/* forkshrink - a fork whose child gets a smaller ring than its parent's.
 * The parent makes some 500,000 stack nodes (2^17 call paths), then caps
 * its address space (RLIMIT_AS) so that the child's ring can only be the
 * smallest, with room for 65,536 nodes; the child then allocates along
 * paths its forking thread's cache knows by ids past that. Prints the
 * parent's and the child's counters. */
#include <sys/resource.h>
#include <sys/wait.h>
#include "tt.h"

#define DEPTH 17

static void *walk(unsigned bits, int depth);
__attribute__((noinline)) static void *left(unsigned bits, int depth)
{
    void *p = walk(bits, depth - 1);
    __asm__ volatile("" ::: "memory");
    return p;
}
__attribute__((noinline)) static void *right(unsigned bits, int depth)
{
    void *p = walk(bits, depth - 1);
    __asm__ volatile("" ::: "memory");
    return p;
}
__attribute__((noinline)) static void *walk(unsigned bits, int depth)
{
    void *p = depth == 0 ? tt_alloc(16) : (bits >> (depth - 1)) & 1 ? right(bits, depth) : left(bits, depth);
    __asm__ volatile("" ::: "memory");
    return p;
}

static unsigned long vm_bytes(void)
{
    unsigned long pages = 0;
    FILE *f = fopen("/proc/self/statm", "r");
    if (f) {
        if (fscanf(f, "%lu", &pages) != 1)
            pages = 0;
        fclose(f);
    }
    return pages * (unsigned long)sysconf(_SC_PAGESIZE);
}

int main(void)
{
    for (unsigned bits = 0; bits < 1u << DEPTH; bits++)
        tt_free(walk(bits, DEPTH));
    /* room for a 4-slot ring (about 38 MB) and not for a 16-slot one (99 MB) */
    struct rlimit rl = { vm_bytes() + (60ul << 20), RLIM_INFINITY };
    if (setrlimit(RLIMIT_AS, &rl) < 0)
        return 1;
    pid_t pid = fork();
    if (pid == 0) {
        tt_reset();
        for (unsigned bits = (1u << DEPTH) - 4096; bits < 1u << DEPTH; bits++)
            tt_free(walk(bits, DEPTH));
        tt_report();
        _exit(0);
    }
    int st;
    waitpid(pid, &st, 0);
    tt_report();
    return WIFEXITED(st) && WEXITSTATUS(st) == 0 ? 0 : 1;
}
