/*
 * session_dir.h - where a recording's rendezvous lives, for the programs
 * that meet there: leakhunt-record (which makes it and collects) and
 * leakhunt-mark (which finds a process's collector in it).
 *
 *   BASE/s.<collector pid>/ring.<pid>.<n>   one per traced process (ring.h)
 *   BASE/s.<collector pid>/ctl              the collector's control socket
 *
 * BASE is private to one user: $XDG_RUNTIME_DIR/leakhunt, else
 * /dev/shm/leakhunt-<uid> (memory, like the rings want), else
 * /tmp/leakhunt-<uid>. Every level is checked to be a real directory of
 * that user's, mode 0700, before anything in it is trusted.
 */
#ifndef LH_SESSION_DIR_H
#define LH_SESSION_DIR_H

#include <stddef.h>
#include <sys/types.h>

/* Make a new session directory for the processes of uid (geteuid(), or
 * for root attaching to another user's process, that user); 0, or -1
 * with a message in err. */
int lh_session_dir_create(uid_t uid, char *out, size_t cap, char *err, size_t errcap);
/* The control socket of the session that records pid; 0, or -1. */
int lh_session_dir_find(pid_t pid, char *ctl, size_t cap);
/* Remove a session directory and what is left in it. */
void lh_session_dir_remove(const char *dir);

#endif
