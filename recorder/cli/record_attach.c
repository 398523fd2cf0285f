/*
 * record_attach.c - leakhunt-record -p PID: record a process that is
 * already running.
 *
 * How the recorder gets in: our own ptrace injector (inject.c) stops one
 * thread of the process, has it call dlopen("libleakhunt.so", RTLD_NOW) and
 * leakhunt_attach(), and puts the thread back as it was: registers, the
 * whole XSAVE area, signal mask, a system call it was blocked in restarted,
 * signals that came meanwhile delivered after. This used to be gdb's
 * "call", but gdb 13 cannot write the XSAVE area back on CPUs with AMX
 * tiles ("Couldn't write extended state status: Bad address"), so attach
 * failed on every such machine; the injector writes back exactly the size
 * the kernel reported, needs no debugger installed and takes milliseconds.
 * Only the attach needs ptrace: then this process is the collector of the
 * process's ring (collect.c), as leakhunt-record is for a program it starts.
 *
 * The settings travel in BASE/attach.PID (LEAKHUNT_* lines: the process's
 * environment is fixed; session_dir.h says where BASE is), which
 * leakhunt_attach() reads and removes (recorder/attach.c); the trace path
 * is made absolute here, since the process's working directory is not
 * ours. Its ring appears in the session directory, and this process
 * writes its trace as leakhunt-record does for a program it starts.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdint.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "collect.h"
#include "inject.h"
#include "lh_contract.h" /* LH_ATTACH_*: what leakhunt_attach() returns */
#include "../procfs_read.h"
#include "record.h"
#include "session_dir.h"

extern char **environ;

static const char *prog = "leakhunt-record";
static volatile sig_atomic_t interrupted;

static void on_signal(int sig) { interrupted = sig; }

static uint64_t mono_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

static long status_field(const char *status, const char *name)
{
    const char *p = strstr(status, name);
    return p ? strtol(p + strlen(name), NULL, 10) : -1;
}

static int ptrace_scope(void)
{
    char buf[16];
    if (lh_read_text("/proc/sys/kernel/yama/ptrace_scope", buf, sizeof(buf)) <= 0)
        return -1; /* no Yama: only the uid rules apply */
    return atoi(buf);
}

static int have_cap_sys_ptrace(void)
{
    char status[8192];
    if (lh_read_text("/proc/self/status", status, sizeof(status)) < 0)
        return geteuid() == 0;
    const char *p = strstr(status, "CapEff:");
    unsigned long long caps = p ? strtoull(p + 7, NULL, 16) : 0;
    return (caps >> 19) & 1; /* CAP_SYS_PTRACE */
}

/* Why we may not ptrace pid, or NULL if nothing says we may not. */
static const char *permission_problem(long target_uid, char *msg, size_t cap)
{
    int scope = ptrace_scope();
    int capable = have_cap_sys_ptrace();
    if (!capable && target_uid >= 0 && (uid_t)target_uid != getuid()) {
        snprintf(msg, cap, "it belongs to uid %ld and you are uid %d: attach as that user, or as root",
                 target_uid, (int)getuid());
        return msg;
    }
    if (scope == 3) {
        snprintf(msg, cap, "/proc/sys/kernel/yama/ptrace_scope is 3: ptrace attach is disabled on this "
                           "machine until it reboots");
        return msg;
    }
    if (scope == 2 && !capable) {
        snprintf(msg, cap, "/proc/sys/kernel/yama/ptrace_scope is 2: only root (CAP_SYS_PTRACE) may attach; "
                           "run leakhunt-record as root");
        return msg;
    }
    if (scope == 1 && !capable) {
        snprintf(msg, cap, "/proc/sys/kernel/yama/ptrace_scope is 1: only a parent may trace its children; "
                           "run leakhunt-record as root, or allow it with: sudo sysctl kernel.yama.ptrace_scope=0");
        return msg;
    }
    return NULL;
}


/* The process to attach to, as /proc/PID/status names it. */
typedef struct {
    long pid;
    char name[64];
    long uid;   /* its real uid, -1 if unknown */
} target;

/* Whether t->pid can be attached to: it exists, is not us, has no
 * tracer, is ours to trace, runs glibc and not the recorder already.
 * 0, or the exit status (said). */
static int check_target(target *t)
{
    char procdir[64], status[8192], maps_path[64], msg[512];
    long pid = t->pid;
    snprintf(procdir, sizeof(procdir), "/proc/%ld", pid);
    if ((kill((pid_t)pid, 0) < 0 && errno == ESRCH) || access(procdir, F_OK) < 0) {
        fprintf(stderr, "%s: no process %ld\n", prog, pid);
        return 1;
    }
    if (pid == getpid()) {
        fprintf(stderr, "%s: cannot attach to itself\n", prog);
        return 2;
    }
    snprintf(maps_path, sizeof(maps_path), "/proc/%ld/status", pid);
    if (lh_read_text(maps_path, status, sizeof(status)) < 0) {
        fprintf(stderr, "%s: cannot read %s: %s\n", prog, maps_path, strerror(errno));
        return 1;
    }
    const char *np = strstr(status, "Name:\t");
    const char *name = t->name;
    if (np)
        snprintf(t->name, sizeof(t->name), "%.*s", (int)strcspn(np + 6, "\n"), np + 6);
    long tracer = status_field(status, "TracerPid:");
    if (tracer > 0) {
        char tstatus[4096], tname[64] = "?";
        snprintf(maps_path, sizeof(maps_path), "/proc/%ld/comm", tracer);
        if (lh_read_text(maps_path, tstatus, sizeof(tstatus)) > 0)
            snprintf(tname, sizeof(tname), "%.*s", (int)strcspn(tstatus, "\n"), tstatus);
        fprintf(stderr, "%s: process %ld (%s) is already being traced by process %ld (%s), a debugger "
                        "or another tool: a process has one tracer at a time; detach that one first\n",
                prog, pid, name, tracer, tname);
        return 1;
    }
    long uid = t->uid = status_field(status, "Uid:");
    if (permission_problem(uid, msg, sizeof(msg))) {
        fprintf(stderr, "%s: not permitted to attach to process %ld (%s): %s\n", prog, pid, name, msg);
        return 1;
    }

    /* What is mapped: glibc's libc, and not us already. */
    static char maps[1 << 20];
    snprintf(maps_path, sizeof(maps_path), "/proc/%ld/task/%d/maps", pid, (int)lh_inject_thread((pid_t)pid));
    /* A process that has just been started may still be in the dynamic
     * loader, libc not mapped yet: give the loader up to 2 s. */
    for (int tries = 0;; tries++) {
        if (lh_read_text(maps_path, maps, sizeof(maps)) < 0) {
            fprintf(stderr, "%s: not permitted to attach to process %ld (%s): cannot read %s: %s; "
                            "attach as its user, or as root\n", prog, pid, name, maps_path, strerror(errno));
            return 1;
        }
        if (strstr(maps, "/libc.so.6") || !strstr(maps, "/ld-linux") || tries == 100)
            break;
        usleep(20000);
    }
    char ctl[PATH_MAX];
    if (strstr(maps, "/libleakhunt.so")) {
        if (lh_session_dir_find((pid_t)pid, ctl, sizeof(ctl)) == 0)
            fprintf(stderr, "%s: process %ld (%s) is already being recorded; "
                            "stop that with: leakhunt-mark %ld --stop\n", prog, pid, name, pid);
        else
            fprintf(stderr, "%s: process %ld (%s) was recorded before and the recorder is still loaded, "
                            "passing calls through; attaching again to the same process is not "
                            "supported\n", prog, pid, name);
        return 1;
    }
    if (!strstr(maps, "/libc.so.6") || strstr(maps, "ld-musl")) {
        fprintf(stderr, "%s: process %ld (%s) is not dynamically linked with glibc (statically linked, "
                        "or another C library): the recorder cannot be loaded into it\n", prog, pid, name);
        return 1;
    }
    return 0;
}

/* Say why the injector (irc) or leakhunt_attach() (rc, an LH_ATTACH_* of
 * lh_contract.h) failed; returns the exit status (2: an internal error). */
static int explain_attach_failure(const target *t, int irc, int rc, const char *err, const char *lib,
                                  const char *attach_file, const char *session)
{
    long pid = t->pid, uid = t->uid;
    const char *name = t->name;
    int result = 1;
    if (irc == LH_INJECT_PERM) {
        int scope = ptrace_scope();
        fprintf(stderr, "%s: not permitted to attach to process %ld (%s): ptrace refused (%s)%s%s\n", prog,
                pid, name, err, scope >= 1 ? "; /proc/sys/kernel/yama/ptrace_scope is " : "; in a container, "
                "the runtime may forbid ptrace: run it with --cap-add=SYS_PTRACE",
                scope >= 1 ? (scope == 1 ? "1: run as root, or: sudo sysctl kernel.yama.ptrace_scope=0"
                                         : "2 or more: run as root") : "");
    } else if (irc == LH_INJECT_GONE) {
        fprintf(stderr, "%s: no process %ld (it exited)\n", prog, pid);
    } else if (irc != LH_INJECT_OK) {
        fprintf(stderr, "%s: attaching to process %ld (%s) failed: %s\n", prog, pid, name, err);
        result = 2;
    } else if (rc == -1) {
        fprintf(stderr, "%s: process %ld (%s) could not load %s: %s\n", prog, pid, name, lib, err);
    } else if (rc == LH_ATTACH_NOT_LATE) {
        fprintf(stderr, "%s: process %ld (%s) already runs with the recorder preloaded "
                        "(started under leakhunt-record?)\n", prog, pid, name);
    } else if (rc == LH_ATTACH_BUSY) {
        fprintf(stderr, "%s: process %ld (%s) is already being recorded, or was recorded before\n",
                prog, pid, name);
    } else if (rc == LH_ATTACH_NO_CONFIG) {
        fprintf(stderr, "%s: the recorder in process %ld did not accept %s (it must belong to root or "
                        "the process's user and be writable only by its owner)\n", prog, pid, attach_file);
    } else if (rc == LH_ATTACH_BAD_CONFIG) {
        fprintf(stderr, "%s: the recorder in process %ld rejected a setting (message on the process's "
                        "stderr)\n", prog, pid);
    } else if (rc == LH_ATTACH_NO_LIBC) {
        fprintf(stderr, "%s: process %ld (%s) does not use glibc's malloc (jemalloc, tcmalloc ...?): "
                        "attaching is not supported for it\n", prog, pid, name);
    } else if (rc == LH_ATTACH_OUTPUT) {
        fprintf(stderr, "%s: process %ld (%s, uid %ld) cannot create its ring in %s (message on its "
                        "stderr)\n", prog, pid, name, uid, session);
    } else {
        fprintf(stderr, "%s: attaching to process %ld (%s) failed: leakhunt_attach() returned %d, which "
                        "this leakhunt-record does not know (a %s from another version?)\n", prog, pid,
                name, rc, lib);
        result = 2;
    }
    return result;
}

/* Collect from the attached process until it ends, --duration passes or
 * we are told to stop. 0 when a trace was written, else 1. */
static int collect_attached(lh_collector *coll, const target *t, const char *out_path, int quiet, long duration_ms)
{
    long pid = t->pid;
    const char *name = t->name;
    lh_collect_step(coll, 0);
    if (!quiet) {
        const char *shown = out_path;
        fprintf(stderr, "leakhunt: attached to process %ld (%s), recording to %s\n", pid, name, shown);
        fprintf(stderr, "leakhunt: stop with Ctrl-C%s, or: leakhunt-mark %ld --stop\n",
                duration_ms ? ", at the end of --duration" : "", pid);
    }
    uint64_t start = mono_ms();
    int gone = 0;
    for (;;) {
        lh_collect_step(coll, 20);
        if (lh_collect_pid_done(coll, (int)pid) == 1) {
            gone = kill((pid_t)pid, 0) < 0 && errno == ESRCH;
            break;
        }
        if (interrupted || (duration_ms && mono_ms() - start >= (uint64_t)duration_ms)) {
            lh_collect_stop(coll, (int)pid);
            break;
        }
    }
    int traces = lh_record_summary(coll, quiet, (int)pid);
    lh_collect_close(coll);
    if (!quiet && gone)
        fprintf(stderr, "leakhunt: process %ld ended while recorded\n", pid);
    return traces ? 0 : 1;
}

int lh_record_attach(long pid, const char *lib, const char *output, int quiet, long duration_ms)
{
    target t = { .pid = pid, .name = "?", .uid = -1 };
    int status = check_target(&t);
    if (status)
        return status;
    long uid = t.uid;
    struct stat st;
    /* Trace path: absolute, since the process's working directory is its own. */
    char out_path[PATH_MAX + 256];
    if (lh_record_output(output, out_path, sizeof(out_path)) < 0) {
        fprintf(stderr, "%s: -o: path too long, or the working directory is gone\n", prog);
        return 2;
    }
    if (!strchr(out_path, '%') && lstat(out_path, &st) == 0 && S_ISREG(st.st_mode))
        unlink(out_path);

    /* The process makes its ring in a session directory of its own user's. */
    char session[PATH_MAX], why[PATH_MAX + 128];
    uid_t ring_uid = uid >= 0 ? (uid_t)uid : geteuid();
    lh_collector *coll = lh_record_collector(ring_uid, out_path, session, sizeof(session));
    if (!coll)
        return 2;
    signal(SIGXFSZ, SIG_IGN); /* a write past RLIMIT_FSIZE fails with EFBIG instead */

    char attach_file[PATH_MAX];
    int afd = lh_session_attach_file(ring_uid, (pid_t)pid, attach_file, sizeof(attach_file), why, sizeof(why));
    if (afd < 0) {
        fprintf(stderr, "%s: %s\n", prog, why);
        lh_collect_close(coll);
        return 2;
    }
    FILE *af = fdopen(afd, "w");
    for (char **e = environ; *e; e++)
        if (!strncmp(*e, "LEAKHUNT_", 9) && strncmp(*e, "LEAKHUNT_SESSION=", 17) && !strchr(*e, '\n'))
            fprintf(af, "%s\n", *e);
    fprintf(af, "LEAKHUNT_SESSION=%s\n", session);
    fclose(af);

    /* From here Ctrl-C must not leave a half-attached process: it is
     * noted, and acted on once the injector is done. */
    struct sigaction sa;
    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = on_signal;
    sigemptyset(&sa.sa_mask);
    int sigs[] = { SIGINT, SIGTERM, SIGHUP };
    for (size_t i = 0; i < sizeof(sigs) / sizeof(sigs[0]); i++)
        sigaction(sigs[i], &sa, NULL);

    char err[1024];
    int rc = 0;
    int irc = lh_inject_attach((pid_t)pid, lib, &rc, err, sizeof(err));
    unlink(attach_file);
    if (irc != LH_INJECT_OK || rc != 0) {
        int result = explain_attach_failure(&t, irc, rc, err, lib, attach_file, session);
        lh_collect_close(coll);
        return result;
    }
    /* Its ring is there now (leakhunt_attach made it). */
    return collect_attached(coll, &t, out_path, quiet, duration_ms);
}
