/*
 * ctl_client.c - requests to a recording's collector (ctl_client.h).
 */
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "ctl_client.h"
#include "lh_contract.h"
#include "session_dir.h"

/* Send line to pid's collector and read its answer ("ok..." is success:
 * the text after "ok" and a space, if any, goes to rest). what says what
 * the request does, for messages ("mark", "stop the recording of"). */
static int ask(pid_t pid, const char *line, const char *what, const char *missing, char *rest, size_t restcap,
               uid_t *peer, char *err, size_t errcap)
{
    char ctl[4600], why[4096];
    int fd = lh_session_dir_connect(pid, ctl, sizeof(ctl), why, sizeof(why));
    if (fd < 0 && why[0]) {
        snprintf(err, errcap, "cannot %s process %d: %s", what, (int)pid, why);
        return LH_CTL_FAILED;
    }
    if (fd < 0) {
        snprintf(err, errcap, "process %d is not being recorded by leakhunt-record (no session of yours lists it)",
                 (int)pid);
        return LH_CTL_FAILED;
    }
    if (peer) {
        struct ucred cr;
        socklen_t len = sizeof(cr);
        *peer = getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cr, &len) == 0 ? cr.uid : (uid_t)-1;
    }
    size_t n = strlen(line);
    if (send(fd, line, n, MSG_NOSIGNAL) != (ssize_t)n) {
        snprintf(err, errcap, "cannot send the request for process %d: %s", (int)pid, strerror(errno));
        close(fd);
        return LH_CTL_FAILED;
    }
    struct pollfd pf = { fd, POLLIN, 0 };
    char answer[4600];
    ssize_t got = -1;
    if (poll(&pf, 1, LH_CTL_TIMEOUT_MS) > 0)
        got = recv(fd, answer, sizeof(answer) - 1, 0);
    close(fd);
    if (got <= 0) {
        snprintf(err, errcap, "the collector of process %d did not confirm within %d s; %s", (int)pid,
                 LH_CTL_TIMEOUT_MS / 1000, missing);
        return LH_CTL_FAILED;
    }
    answer[got] = 0;
    if (strncmp(answer, LH_CTL_OK, 2) || (answer[2] && answer[2] != ' ')) {
        snprintf(err, errcap, "process %d: %s", (int)pid, !strncmp(answer, LH_CTL_ERR, 4) ? answer + 4 : answer);
        return LH_CTL_FAILED;
    }
    if (rest)
        snprintf(rest, restcap, "%s", answer[2] ? answer + 3 : "");
    return 0;
}

int lh_ctl_mark(pid_t pid, const char *label, char *err, size_t errcap)
{
    struct timespec ts;
    char line[512];
    clock_gettime(CLOCK_MONOTONIC, &ts);
    snprintf(line, sizeof(line), LH_CTL_MARK " %d %llu %s", (int)pid,
             (unsigned long long)ts.tv_sec * 1000000000ull + (unsigned long long)ts.tv_nsec, label);
    return ask(pid, line, "mark", "the marker may be missing from the trace", NULL, 0, NULL, err, errcap);
}

int lh_ctl_stop(pid_t pid, char *err, size_t errcap)
{
    char line[64];
    snprintf(line, sizeof(line), LH_CTL_STOP " %d", (int)pid);
    return ask(pid, line, "stop the recording of", "the end may be missing from the trace", NULL, 0, NULL, err,
               errcap);
}

int lh_ctl_trace_of(pid_t pid, lh_ctl_trace *out, char *err, size_t errcap)
{
    char line[64], rest[4600];
    int off = 0;
    snprintf(line, sizeof(line), LH_CTL_TRACE " %d", (int)pid);
    memset(out, 0, sizeof(*out));
    if (ask(pid, line, "find the trace of", "ask again", rest, sizeof(rest), &out->owner, err, errcap) < 0)
        return LH_CTL_FAILED;
    if (sscanf(rest, "%llu %llu %n", &out->dev, &out->ino, &off) != 2 || !off || rest[off] != '/'
        || strlen(rest + off) >= sizeof(out->path)) {
        snprintf(err, errcap, "process %d: the collector's answer names no trace file", (int)pid);
        return LH_CTL_FAILED;
    }
    snprintf(out->path, sizeof(out->path), "%s", rest + off);
    return 0;
}
