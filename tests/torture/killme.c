/* killme PROGRESS_FILE - allocates and frees without end (a ring of 256
 * live blocks); every 5 ms appends "<CLOCK_MONOTONIC ns> <allocs> <frees>"
 * to PROGRESS_FILE, for a SIGKILL at a random moment. */
#include <fcntl.h>
#include <time.h>
#include "tt.h"

static uint64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

int main(int argc, char **argv)
{
    int fd = open(argv[1], O_WRONLY | O_CREAT | O_APPEND | O_TRUNC, 0644);
    void *ring[256] = { 0 };
    uint64_t next = 0;
    for (unsigned i = 0;; i++) {
        tt_free(ring[i % 256]);
        ring[i % 256] = tt_alloc(32 + i % 512);
        if (i % 64 == 0 && now_ns() >= next) {
            char line[96];
            /* the stamp is taken after the counters: all counted by then */
            unsigned long a = tt_allocs, f = tt_frees;
            int n = snprintf(line, sizeof(line), "%llu %lu %lu\n", (unsigned long long)now_ns(), a, f);
            if (write(fd, line, (size_t)n) != n)
                return 1;
            next = now_ns() + 5000000;
        }
    }
}
