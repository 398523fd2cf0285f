/*
 * session_dir.h - where a recording's rendezvous lives, for the programs
 * that meet there: leakhunt-record (which makes it and collects) and
 * leakhunt-mark (which finds a process's collector in it).
 *
 *   BASE/s.<collector pid>/ring.<pid>.<n>   one per traced process (ring.h)
 *   BASE/s.<collector pid>/ctl              the collector's control socket
 *   BASE/attach.<pid>                       settings for leakhunt-record -p
 *
 * BASE is private to one user: $XDG_RUNTIME_DIR/leakhunt, else
 * /dev/shm/leakhunt-<uid> (memory, like the rings want), else
 * /tmp/leakhunt-<uid>; mode 0700. Root recording another user's process
 * (-p) uses /dev/shm/leakhunt-attach-<uid> (or /tmp/...): root's, mode
 * 0711, so that the session inside it (that user's, 0700) sits at a path
 * no one but root can change. The attach file is never under
 * $XDG_RUNTIME_DIR: the process looks for it without knowing ours.
 *
 * Every level is opened without following links and checked on the open
 * descriptor (a directory, the right owner, nobody else may write) before
 * anything in it is made or trusted; what fails is refused with a message
 * naming the path, never used or "fixed".
 */
#ifndef LH_SESSION_DIR_H
#define LH_SESSION_DIR_H

#include <stddef.h>
#include <sys/types.h>

/* Make a new session directory for the processes of uid (geteuid(), or
 * for root attaching to another user's process, that user); 0, or -1
 * with a message in err. */
int lh_session_dir_create(uid_t uid, char *out, size_t cap, char *err, size_t errcap);
/* Create the attach file for process pid of uid, BASE/attach.<pid> (a
 * leftover at that name is removed first): an open descriptor for writing
 * (the file is 0600 and uid's), its path in path; or -1 with a message in
 * err. recorder/attach.c reads it in the process. */
int lh_session_attach_file(uid_t uid, pid_t pid, char *path, size_t cap, char *err, size_t errcap);
/* The control socket of a trusted session that records pid (below); 0, or
 * -1. */
int lh_session_dir_find(pid_t pid, char *ctl, size_t cap);
/* Connect to the collector of pid's recording: a connected SOCK_SEQPACKET
 * descriptor, its socket's path in ctl; or -1 with why in err (which names
 * every endpoint refused, or is "" when no session lists pid).
 *
 * Trusted: every directory on the way and the socket itself belong to the
 * owner of process pid, to the caller, or to root; no directory is
 * writable by group or others; the socket is a socket (lstat-like, on an
 * O_PATH descriptor, which is then what connect() reaches, so nothing can
 * be swapped in between); and the process listening on it (SO_PEERCRED)
 * is one of those users too. */
int lh_session_dir_connect(pid_t pid, char *ctl, size_t cap, char *err, size_t errcap);
/* Remove a session directory and what is left in it. */
void lh_session_dir_remove(const char *dir);

#endif
