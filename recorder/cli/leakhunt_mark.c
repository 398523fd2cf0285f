/*
 * leakhunt-mark - drop a named marker into the trace of a running process.
 *
 * The marker is stamped here, with the same monotonic clock the recorder
 * uses, and sent to the collector of that process's recording over its
 * control socket (ctl_client.c does both, for leakhunt-top's `m` key too;
 * session_dir.h tells where; the collector takes requests only from our
 * user or root). Only an endpoint of the process's owner,
 * ours or root's is used, reached without following links and checked
 * (SO_PEERCRED) once connected (lh_session_dir_connect); the collector
 * answers "err ..." unless it records that very pid. It places the marker
 * at its exact place among the events and answers once it is in the trace
 * file, so `leakhunt-replay TRACE --diff mark:a mark:b` works the moment
 * this returns, and a SIGTERM right after loses nothing.
 *
 * With --stop the collector finishes the trace as an exit would and the
 * process runs on with the recorder passing calls through; the trace is
 * complete when this command returns 0.
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ctl_client.h"
#include "lh_trace.h" /* LH_VERSION_LINE */

static void usage(FILE *f)
{
    fprintf(f,
        "usage: leakhunt-mark PID [LABEL]\n"
        "       leakhunt-mark PID --stop\n"
        "\n"
        "Drop a marker named LABEL (default \"mark\") into the trace of process PID,\n"
        "which must be running under leakhunt-record. Later:\n"
        "  leakhunt-replay TRACE --diff mark:warm mark:loaded\n"
        "\n"
        "--stop ends the recording (the trace is complete when this returns);\n"
        "the process keeps running. Used for leakhunt-record -p, works for any.\n"
        "\n"
        "Labels are up to 200 bytes, without newlines.\n"
        "\n"
        "  -h, --help   this text\n"
        "  --version    print the version\n"
        "\n"
        "Exit status: 0 marked (or stopped), 1 the process is not being recorded,\n"
        "2 usage error.\n");
}

int main(int argc, char **argv)
{
    if (argc >= 2 && (!strcmp(argv[1], "-h") || !strcmp(argv[1], "--help"))) {
        usage(stdout);
        return 0;
    }
    if (argc >= 2 && !strcmp(argv[1], "--version")) {
        printf("leakhunt-mark " LH_VERSION_LINE "\n");
        return 0;
    }
    if (argc < 2 || argc > 3) {
        usage(stderr);
        return 2;
    }
    char *end;
    errno = 0;
    long pid = strtol(argv[1], &end, 10);
    if (errno || *end || pid <= 0 || pid > 4194304) {
        fprintf(stderr, "leakhunt-mark: '%s' is not a process id\n", argv[1]);
        return 2;
    }
    int stop = argc == 3 && !strcmp(argv[2], "--stop");
    const char *label = argc == 3 ? argv[2] : "mark";
    if (!*label || strlen(label) > 200 || strchr(label, '\n')) {
        fprintf(stderr, "leakhunt-mark: label must be 1 to 200 bytes without newlines\n");
        return 2;
    }
    if (kill((pid_t)pid, 0) < 0 && errno == ESRCH) {
        fprintf(stderr, "leakhunt-mark: no process %ld\n", pid);
        return 1;
    }

    char err[8192];
    if ((stop ? lh_ctl_stop((pid_t)pid, err, sizeof(err)) : lh_ctl_mark((pid_t)pid, label, err, sizeof(err))) < 0) {
        fprintf(stderr, "leakhunt-mark: %s\n", err);
        return 1;
    }
    return 0;
}
