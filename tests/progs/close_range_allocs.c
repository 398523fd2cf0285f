/*
 * close_range_allocs [K] - 50 allocations in before_close_alloc, then
 * close_range(3, ~0U, 0) (what daemons and subprocess spawners do: it
 * closes whatever the recorder holds too), then opens /dev/null and prints
 * the descriptor it got (3 natively), then K (1000) allocations in
 * after_close_alloc. Every block is kept. Exits 0.
 */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/syscall.h>
#include <unistd.h>

#ifndef SYS_close_range
#define SYS_close_range 436 /* the same number on every architecture */
#endif

static void *kept[100050];

void before_close_alloc(void)
{
    for (int i = 0; i < 50; i++)
        kept[i] = malloc(24);
}

void after_close_alloc(int k)
{
    for (int i = 0; i < k; i++)
        kept[50 + i] = malloc(56);
}

int main(int argc, char **argv)
{
    int k = argc > 1 ? atoi(argv[1]) : 1000;
    if (k < 0 || k > 100000)
        return 2;
    before_close_alloc();
    if (syscall(SYS_close_range, 3u, ~0u, 0u) != 0) {
        perror("close_range");
        return 2;
    }
    int fd = open("/dev/null", O_RDONLY);
    after_close_alloc(k);
    printf("after close_range: open gave %d, %d allocations\n", fd, k);
    return 0;
}
