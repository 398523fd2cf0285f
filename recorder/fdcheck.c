/*
 * fdcheck.c - the recorder's own descriptors in the program's table.
 *
 * Everything the recorder opens (the trace, the control FIFO, /proc files
 * it reads for a moment, the manifest) lives in the program's descriptor
 * table, and a program that closes every descriptor or dup2s over them may
 * have its own file under one of those numbers by now. So each use and
 * each close first checks, by device and inode, that the number still
 * names the file the recorder opened; the program's files are never read,
 * written or closed by mistake.
 */
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include "rec.h"

int lh_fd_remember(lh_fd *f, int fd)
{
    struct stat st;
    f->fd = -1;
    if (fd < 0 || fstat(fd, &st) != 0)
        return -1;
    f->fd = fd;
    f->dev = st.st_dev;
    f->ino = st.st_ino;
    return 0;
}

int lh_fd_ours(const lh_fd *f)
{
    struct stat st;
    return f->fd >= 0 && fstat(f->fd, &st) == 0 && st.st_dev == f->dev && st.st_ino == f->ino;
}

void lh_fd_close(lh_fd *f)
{
    if (lh_fd_ours(f))
        close(f->fd);
    f->fd = -1;
}

ssize_t lh_read_small(const char *path, char *buf, size_t cap)
{
    lh_fd f;
    ssize_t n = -1;
    if (lh_fd_remember(&f, open(path, O_RDONLY | O_CLOEXEC)) == 0 && lh_fd_ours(&f))
        n = read(f.fd, buf, cap - 1);
    lh_fd_close(&f);
    buf[n > 0 ? n : 0] = 0;
    return n;
}
