/*
 * leakhunt-mark - drop a named marker into the trace of a running process.
 *
 * The marker is stamped here, with the same monotonic clock the recorder
 * uses, and handed to the recorder's writer thread through the FIFO it
 * keeps at /tmp/.leakhunt-ctl.<pid>; the writer puts it at its exact place
 * among the events. So the heap "at mark:LABEL" is the heap at the moment
 * this command ran, whatever the flush interval.
 *
 * With --stop it sends the line "!stop" instead (no stamp: it is a
 * request, not a marker); the writer finishes the trace as an exit would
 * and removes the FIFO, and the process runs on with the recorder passing
 * calls through. We wait for the FIFO to go, so the trace is complete when
 * this command returns 0.
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <sys/stat.h>
#include <unistd.h>

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
        "Labels are up to 200 bytes, without newlines. Exit status: 0 marked\n"
        "(or stopped), 1 the process is not being recorded, 2 usage error.\n");
}

int main(int argc, char **argv)
{
    if (argc >= 2 && (!strcmp(argv[1], "-h") || !strcmp(argv[1], "--help"))) {
        usage(stdout);
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

    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    char path[64], line[256];
    snprintf(path, sizeof(path), "/tmp/.leakhunt-ctl.%ld", pid);
    int n = stop ? snprintf(line, sizeof(line), "!stop\n")
                 : snprintf(line, sizeof(line), "%llu %s\n",
                            (unsigned long long)ts.tv_sec * 1000000000ull + (unsigned long long)ts.tv_nsec, label);

    int fd = open(path, O_WRONLY | O_NONBLOCK | O_CLOEXEC);
    if (fd < 0) {
        fprintf(stderr, "leakhunt-mark: process %ld is not being recorded by leakhunt (%s: %s)\n",
                pid, path, strerror(errno));
        return 1;
    }
    /* One write below PIPE_BUF is atomic: markers from several callers
     * never interleave. */
    if (write(fd, line, (size_t)n) != n) {
        fprintf(stderr, "leakhunt-mark: cannot send the marker to process %ld: %s\n", pid, strerror(errno));
        close(fd);
        return 1;
    }
    close(fd);
    if (stop) {
        /* The writer reads requests once per flush interval (at most a
         * minute), then writes what is buffered. */
        struct stat st;
        for (int i = 0; i < 1300 && stat(path, &st) == 0; i++) {
            if (kill((pid_t)pid, 0) < 0 && errno == ESRCH)
                return 0;
            usleep(50000);
        }
        if (stat(path, &st) == 0) {
            fprintf(stderr, "leakhunt-mark: process %ld has not finished its trace yet\n", pid);
            return 1;
        }
    }
    return 0;
}
