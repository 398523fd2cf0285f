/*
 * fdguard.c - keep libunwind's pipe away from the program's files.
 *
 * To test whether an address is readable, libunwind writes a byte from it
 * into a pipe it keeps open for the life of the process. It holds those
 * descriptors in the program's table, so a program that closes every
 * descriptor (daemons, closefrom(3)) takes them away; libunwind then reads
 * from, closes or writes to whatever the program has opened under the same
 * numbers since (found by tests/torture closefds: it closed the program's
 * own output file).
 *
 * So, while a thread is inside libunwind, pipe2() remembers what it
 * created, and read/write/close on those numbers first check the
 * descriptor is still that pipe (only then: a signal handler's write to a
 * number libunwind once used is the program's own business). If it is not, the call fails with EBADF
 * without touching the program's file: libunwind then makes a new pipe, or
 * treats the address as unreadable and ends the stack there. Everywhere
 * else these functions cost one thread-local test.
 */
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include "rec.h"

#define EXPORT __attribute__((visibility("default")))

LH_HIDDEN __thread int lh_unwinding LH_TLS;

/* No lock: a signal handler's write() may run while this thread is inside
 * the recorder. Entries change rarely (a new pipe); a reader that races
 * with a change at worst fails one validation write, which is harmless. */
static lh_fd ends[4] = { { -1, 0, 0 }, { -1, 0, 0 }, { -1, 0, 0 }, { -1, 0, 0 } };

static ssize_t (*real_read)(int, void *, size_t);
static ssize_t (*real_write)(int, const void *, size_t);
static int (*real_close)(int);
static int (*real_pipe2)(int[2], int);

#define RESOLVE(var, name) \
    do { if (LH_UNLIKELY(!var)) var = (__typeof__(var))dlsym(RTLD_NEXT, name); } while (0)

/* -1: fd is a pipe end we handed out and it is no longer that pipe;
 * 1: it is; 0: not one of ours. */
static int check_end(int fd)
{
    for (int i = 0; i < 4; i++) {
        if (__atomic_load_n(&ends[i].fd, __ATOMIC_ACQUIRE) != fd)
            continue;
        struct stat st;
        return fstat(fd, &st) == 0 && st.st_dev == ends[i].dev && st.st_ino == ends[i].ino ? 1 : -1;
    }
    return 0;
}

static void forget_end(int fd)
{
    for (int i = 0; i < 4; i++)
        if (__atomic_load_n(&ends[i].fd, __ATOMIC_ACQUIRE) == fd)
            __atomic_store_n(&ends[i].fd, -1, __ATOMIC_RELEASE);
}

EXPORT int pipe2(int fds[2], int flags)
{
    RESOLVE(real_pipe2, "pipe2");
    int rc = real_pipe2(fds, flags);
    if (rc == 0 && lh_unwinding) {
        for (int k = 0; k < 2; k++) {
            struct stat st;
            if (fstat(fds[k], &st) != 0)
                continue;
            for (int i = 0; i < 4; i++) {
                int cur = __atomic_load_n(&ends[i].fd, __ATOMIC_ACQUIRE);
                if (cur == -1 || cur == fds[k]) {
                    __atomic_store_n(&ends[i].fd, -1, __ATOMIC_RELEASE);
                    ends[i].dev = st.st_dev;
                    ends[i].ino = st.st_ino;
                    __atomic_store_n(&ends[i].fd, fds[k], __ATOMIC_RELEASE);
                    break;
                }
            }
        }
    }
    return rc;
}

EXPORT ssize_t read(int fd, void *buf, size_t n)
{
    if (LH_UNLIKELY(lh_unwinding) && check_end(fd) < 0)
        return errno = EBADF, -1;
    RESOLVE(real_read, "read");
    return real_read(fd, buf, n);
}

EXPORT ssize_t write(int fd, const void *buf, size_t n)
{
    if (LH_UNLIKELY(lh_unwinding) && check_end(fd) < 0)
        return errno = EBADF, -1;
    RESOLVE(real_write, "write");
    return real_write(fd, buf, n);
}

EXPORT int close(int fd)
{
    if (LH_UNLIKELY(lh_unwinding)) {
        int mine = check_end(fd);
        if (mine < 0) {
            forget_end(fd); /* the program's file now: leave it open */
            return 0;
        }
        if (mine > 0)
            forget_end(fd);
    }
    RESOLVE(real_close, "close");
    return real_close(fd);
}
