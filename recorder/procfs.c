/*
 * procfs.c - the recorder's brief reads of /proc/self files (stat,
 * cmdline) at start: opened, read and closed in one call, on the thread
 * that starts the ring, before the program's main() or at fork.
 */
#include <fcntl.h>
#include <unistd.h>

#include "rec.h"

ssize_t lh_read_small(const char *path, char *buf, size_t cap)
{
    ssize_t n = -1;
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd >= 0) {
        n = read(fd, buf, cap - 1);
        close(fd);
    }
    buf[n > 0 ? n : 0] = 0;
    return n;
}
