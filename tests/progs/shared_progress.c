/*
 * shared_progress FILE - allocates and frees without end (a ring of 256
 * live blocks, every block from progress_alloc) and publishes in FILE,
 * mapped MAP_SHARED, two little-endian uint64: at offset 0 its pid, at
 * offset 8 how many progress_alloc mallocs have returned. The page outlives
 * a SIGKILL, so after one the trace must hold at least that many
 * allocations at progress_alloc. Exits 0 by itself after 30 s.
 */
#include <fcntl.h>
#include <stdint.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

void *progress_alloc(size_t n)
{
    void *p = malloc(n);
    __asm__ volatile("" ::: "memory"); /* keep this frame: no tail call */
    return p;
}

int main(int argc, char **argv)
{
    if (argc < 2)
        return 2;
    int fd = open(argv[1], O_RDWR | O_CREAT | O_TRUNC, 0644);
    if (fd < 0 || ftruncate(fd, 4096) != 0)
        return 2;
    uint64_t *pub = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    if (pub == MAP_FAILED)
        return 2;
    close(fd);
    __atomic_store_n(&pub[0], (uint64_t)getpid(), __ATOMIC_RELEASE);
    void *ring[256] = { 0 };
    time_t end = time(NULL) + 30;
    for (uint64_t i = 0;; i++) {
        free(ring[i % 256]);
        ring[i % 256] = progress_alloc(32 + i % 512);
        __atomic_store_n(&pub[1], i + 1, __ATOMIC_RELEASE);
        if (i % 65536 == 0 && time(NULL) > end)
            return 0;
    }
}
