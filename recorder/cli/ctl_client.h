/*
 * ctl_client.h - asking the collector of a process's recording, for the
 * programs that do: leakhunt-mark (markers, --stop) and leakhunt-top
 * (where the trace is, the `m` key's markers). One request per connection
 * over the session's control socket (the requests are listed in
 * collect.c), reached and checked by lh_session_dir_connect: only an
 * endpoint of the process's owner, ours or root's, and a listener of one
 * of those users (SO_PEERCRED).
 *
 * Every call returns 0 on success, or LH_CTL_FAILED with a message in err
 * (lower case, naming the process, no program prefix) that is what
 * leakhunt-mark prints: the process is not recorded, the endpoint was
 * refused (and why), the collector did not answer within 30 s, or it
 * answered "err WHY".
 */
#ifndef LH_CTL_CLIENT_H
#define LH_CTL_CLIENT_H

#include <stddef.h>
#include <sys/types.h>

#define LH_CTL_FAILED (-1)
#define LH_CTL_TIMEOUT_MS 30000

/* A marker named label, stamped now (CLOCK_MONOTONIC, the recorder's
 * clock), returning once the collector has it in the trace file. */
int lh_ctl_mark(pid_t pid, const char *label, char *err, size_t errcap);

/* End pid's recording; returns once its trace is complete. */
int lh_ctl_stop(pid_t pid, char *err, size_t errcap);

/* Where pid's trace is being written: its absolute path, the device and
 * inode of the file the collector writes (open the path, then compare:
 * anything else at that name is not the trace), and the uid the
 * collector runs as (the trace's owner). */
typedef struct {
    char path[4096];
    unsigned long long dev, ino;
    uid_t owner;
} lh_ctl_trace;
int lh_ctl_trace_of(pid_t pid, lh_ctl_trace *out, char *err, size_t errcap);

#endif
