/*
 * count_allocs.so - a third opinion for `make bench`'s allocation counts.
 *
 * LD_PRELOAD it and it counts calls to malloc, calloc, realloc,
 * reallocarray, posix_memalign, aligned_alloc, memalign and valloc (what
 * heaptrack calls "calls to allocation functions"), passing each to glibc,
 * and prints one line at exit to the file named by $COUNT_ALLOCS_OUT
 * (stderr if unset): "allocation_calls N".
 */
#define _GNU_SOURCE
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

extern void *__libc_malloc(size_t);
extern void *__libc_calloc(size_t, size_t);
extern void *__libc_realloc(void *, size_t);
extern void *__libc_memalign(size_t, size_t);

static unsigned long calls;

#define COUNT() __atomic_add_fetch(&calls, 1, __ATOMIC_RELAXED)

void *malloc(size_t s) { COUNT(); return __libc_malloc(s); }
void *calloc(size_t n, size_t s) { COUNT(); return __libc_calloc(n, s); }
void *realloc(void *p, size_t s) { COUNT(); return __libc_realloc(p, s); }
void *reallocarray(void *p, size_t n, size_t s)
{
    size_t t;
    COUNT();
    if (__builtin_mul_overflow(n, s, &t))
        return NULL;
    return __libc_realloc(p, t);
}
void *memalign(size_t a, size_t s) { COUNT(); return __libc_memalign(a, s); }
void *aligned_alloc(size_t a, size_t s) { COUNT(); return __libc_memalign(a, s); }
void *valloc(size_t s) { COUNT(); return __libc_memalign(4096, s); }
int posix_memalign(void **out, size_t a, size_t s)
{
    COUNT();
    void *p = __libc_memalign(a, s);
    if (!p)
        return 12; /* ENOMEM */
    *out = p;
    return 0;
}

__attribute__((destructor(101))) static void report(void)
{
    char line[64];
    int n = snprintf(line, sizeof line, "allocation_calls %lu\n", calls);
    const char *path = getenv("COUNT_ALLOCS_OUT");
    int fd = path ? open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644) : 2;
    if (fd >= 0) {
        (void)!write(fd, line, (size_t)n);
        if (fd != 2)
            close(fd);
    }
}
