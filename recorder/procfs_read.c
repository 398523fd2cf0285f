/*
 * procfs_read.c - small /proc reads (procfs_read.h).
 */
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <unistd.h>

#include "procfs_read.h"

ssize_t lh_read_text(const char *path, char *buf, size_t cap)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return -1;
    size_t n = 0;
    while (n + 1 < cap) {
        ssize_t r = read(fd, buf + n, cap - 1 - n);
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0)
            break;
        n += (size_t)r;
    }
    int e = errno;
    close(fd);
    buf[n] = 0;
    errno = e;
    return (ssize_t)n;
}

const char *lh_stat_field(char *stat, int n)
{
    char *s = strrchr(stat, ')');
    if (!s || n < 3)
        return NULL;
    s++;
    for (int field = 3; field < n; field++) { /* skip fields 3 .. n-1 */
        while (*s == ' ')
            s++;
        s += strcspn(s, " ");
        if (!*s)
            return NULL;
    }
    while (*s == ' ')
        s++;
    if (!*s)
        return NULL;
    s[strcspn(s, " \n")] = 0;
    return s;
}
