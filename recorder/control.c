/*
 * control.c - the FIFO through which leakhunt-mark reaches a recording.
 *
 * /tmp/.leakhunt-ctl.<pid>, mode 0600, read by the writer thread at every
 * round. Each request is one line (one write below PIPE_BUF, so lines from
 * several writers never interleave):
 *   "<CLOCK_MONOTONIC ns> <label>"   a marker, stamped by leakhunt-mark
 *   "!stop"                          finish the trace (leakhunt-mark --stop)
 * The recorder keeps a write end open itself, so reads find "no data"
 * rather than end-of-file when no leakhunt-mark is connected.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "rec.h"

static char path[64];
static lh_fd rd = { -1, 0, 0 }, keep = { -1, 0, 0 };
static char partial[512];
static size_t partial_len;

void lh_control_open(void)
{
    snprintf(path, sizeof(path), "/tmp/.leakhunt-ctl.%d", (int)getpid());
    unlink(path);
    partial_len = 0;
    if (mkfifo(path, 0600) < 0) {
        path[0] = 0;
        return;
    }
    lh_fd_remember(&rd, open(path, O_RDONLY | O_NONBLOCK | O_CLOEXEC));
    lh_fd_remember(&keep, open(path, O_WRONLY | O_NONBLOCK | O_CLOEXEC));
}

void lh_control_close(void)
{
    lh_fd_close(&rd);
    lh_fd_close(&keep);
    if (path[0])
        unlink(path);
    path[0] = 0;
}

void lh_control_forget(void)
{
    lh_fd_close(&rd);
    lh_fd_close(&keep);
    path[0] = 0; /* the FIFO stays: it is the parent's */
    partial_len = 0;
}

static void request(char *line, void (*on_mark)(uint64_t ns, const char *label), int *stop)
{
    if (!strcmp(line, "!stop")) {
        *stop = 1;
        return;
    }
    char *end;
    errno = 0;
    unsigned long long ns = strtoull(line, &end, 10);
    if (errno || end == line || *end != ' ')
        return; /* not a request: ignored, as an older recorder would */
    on_mark(ns, end + 1);
}

void lh_control_poll(void (*on_mark)(uint64_t ns, const char *label), int *stop)
{
    char buf[4096];
    if (!lh_fd_ours(&rd))
        return;
    for (;;) {
        ssize_t n = read(rd.fd, buf, sizeof(buf));
        if (n <= 0)
            break;
        for (ssize_t i = 0; i < n; i++) {
            if (buf[i] == '\n') {
                partial[partial_len] = 0;
                request(partial, on_mark, stop);
                partial_len = 0;
            } else if (partial_len < sizeof(partial) - 1) {
                partial[partial_len++] = buf[i];
            }
        }
    }
}
