/*
 * fdguard.c - libunwind's memory-check pipe, without a pipe.
 *
 * To test whether an address is readable, libunwind (1.6, x86_64 Ginit.c)
 * writes a byte from it into a pipe it opens at start and keeps for the
 * life of the process: two descriptors in the program's table, so the
 * program's first open() returns 5 instead of 3, a program that closes
 * every descriptor takes them away (and libunwind then reads, writes or
 * closes whatever the program opened under those numbers since), and
 * tests that count descriptors see two too many.
 *
 * So while a thread is inside libunwind, pipe2() hands out two numbers no
 * descriptor can have (above any RLIMIT_NOFILE), and read/write/close on
 * them are answered here: read finds nothing (EAGAIN, what libunwind's
 * drain expects), write checks the byte the way the kernel would, with
 * process_vm_readv from our own memory (EFAULT when unreadable), close
 * succeeds. libunwind writes with syscall(SYS_write, ...) (so that ASan
 * does not see it), so syscall() is looked at too. The recorder then holds no descriptor at all. Everywhere else
 * these functions cost one thread-local test; a program's own call with
 * those numbers reaches the kernel, which says EBADF as it would anyway.
 */
#include <dlfcn.h>
#include <sched.h>
#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <unistd.h>

#include "rec.h"

#define EXPORT __attribute__((visibility("default")))

/* The kernel caps descriptors at fs.nr_open (at most 2^30). */
#define FAKE_READ (INT_MAX - 1)
#define FAKE_WRITE INT_MAX

LH_HIDDEN __thread int lh_unwinding LH_TLS;

static ssize_t (*real_read)(int, void *, size_t);
static ssize_t (*real_write)(int, const void *, size_t);
static int (*real_close)(int);
static int (*real_pipe2)(int[2], int);
static long (*real_syscall)(long, ...);

#define RESOLVE(var, name) \
    do { if (LH_UNLIKELY(!var)) var = (__typeof__(var))dlsym(RTLD_NEXT, name); } while (0)

static inline int fake(int fd) { return fd == FAKE_READ || fd == FAKE_WRITE; }

EXPORT int pipe2(int fds[2], int flags)
{
    if (LH_UNLIKELY(lh_unwinding)) {
        fds[0] = FAKE_READ;
        fds[1] = FAKE_WRITE;
        return 0;
    }
    RESOLVE(real_pipe2, "pipe2");
    return real_pipe2(fds, flags);
}

EXPORT ssize_t read(int fd, void *buf, size_t n)
{
    if (LH_UNLIKELY(lh_unwinding) && fake(fd))
        return errno = EAGAIN, -1;
    RESOLVE(real_read, "read");
    return real_read(fd, buf, n);
}

/* What write(2) of one byte from buf to a pipe would say about buf. */
static ssize_t fake_write(int fd, const void *buf, size_t n)
{
    if (fd != FAKE_WRITE || !n)
        return errno = EBADF, -1;
    char byte;
    struct iovec local = { &byte, 1 }, remote = { (void *)buf, 1 };
    /* Our own tid, not the pid: after the main thread's pthread_exit the
     * group leader is a zombie without memory, and reads through it fail. */
    if (process_vm_readv((pid_t)syscall(SYS_gettid), &local, 1, &remote, 1, 0) == 1)
        return 1;
    return errno = EFAULT, -1;
}

EXPORT ssize_t write(int fd, const void *buf, size_t n)
{
    if (LH_UNLIKELY(lh_unwinding) && fake(fd))
        return fake_write(fd, buf, n);
    RESOLVE(real_write, "write");
    return real_write(fd, buf, n);
}

EXPORT long syscall(long number, ...)
{
    va_list ap;
    va_start(ap, number);
    long a[6];
    for (int i = 0; i < 6; i++)
        a[i] = va_arg(ap, long);
    va_end(ap);
    if (LH_UNLIKELY(lh_unwinding) && number == SYS_write && fake((int)a[0]))
        return fake_write((int)a[0], (const void *)a[1], (size_t)a[2]);
    RESOLVE(real_syscall, "syscall");
    long rc = real_syscall(number, a[0], a[1], a[2], a[3], a[4], a[5]);
    /* A process made by hand (untraced.c says why that matters): the
     * parent notes it; the child, which shares the parent's ring but ran
     * no fork handler, records nothing (unless it shares our memory too,
     * like a vfork child, and any change would be the parent's). */
    if (LH_UNLIKELY(number == SYS_clone3 || number == SYS_clone) && rc >= 0 && lh_state == LH_RECORDING) {
        unsigned long flags = number == SYS_clone ? (unsigned long)a[0]
                                                  : a[0] ? *(const unsigned long *)a[0] : 0;
        if (!(flags & CLONE_THREAD) && rc == 0 && !(flags & CLONE_VM)) {
            lh_state = LH_STOPPED;
        } else if (!(flags & CLONE_THREAD) && rc > 0 && !lh_guard) {
            lh_guard = 1;
            lh_note_clone(rc, number == SYS_clone3 ? "clone3" : "clone");
            lh_guard = 0;
        }
    }
    return rc;
}

EXPORT int close(int fd)
{
    if (LH_UNLIKELY(lh_unwinding) && fake(fd))
        return 0;
    RESOLVE(real_close, "close");
    return real_close(fd);
}
