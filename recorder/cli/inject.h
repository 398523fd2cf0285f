/*
 * inject.h - leakhunt-record -p's way into a running process: stop one of
 * its threads with ptrace, have it call dlopen(LIB) and LIB's
 * leakhunt_attach(), put the thread back exactly as it was (inject.c).
 * x86-64 Linux, glibc 2.34 or later in the target (dlopen in libc.so.6).
 */
#ifndef LH_INJECT_H
#define LH_INJECT_H

#include <stddef.h>
#include <sys/types.h>

enum {
    LH_INJECT_OK = 0,      /* the calls ran: see *attach_rc */
    LH_INJECT_PERM = -1,   /* ptrace refused (EPERM): uid, Yama, a container's seccomp */
    LH_INJECT_GONE = -2,   /* no such process, or it exited during the calls */
    LH_INJECT_FAILED = -3, /* anything else: err says what and what to do */
};

/*
 * Load LIB into process PID with dlopen(LIB, RTLD_NOW) and call its
 * leakhunt_attach(), on one thread of PID while the others run on. That
 * thread's registers, vector state (the full XSAVE area, AMX included) and
 * signal mask are restored afterwards, a system call it was blocked in is
 * restarted, and signals that arrived meanwhile are delivered after it.
 *
 * Returns LH_INJECT_OK when the calls ran: *attach_rc is leakhunt_attach's
 * return, or -1 if dlopen failed (dlerror's text then in err). Otherwise a
 * negative LH_INJECT_* with a message in err (lower case, no process
 * prefix). The process is no longer traced when this returns, except after
 * a thread that never stopped: exiting releases it then.
 */
int lh_inject_attach(pid_t pid, const char *lib, int *attach_rc, char *err, size_t errcap);

/* The thread lh_inject_attach uses: pid itself, unless the main thread is a
 * zombie (it called pthread_exit, the others run on; its /proc/PID/maps is
 * empty), then another live one. */
pid_t lh_inject_thread(pid_t pid);

#endif
