/*
 * attach.c - start recording in a process that is already running.
 *
 * leakhunt-record -p PID writes the settings to BASE/attach.PID
 * (LEAKHUNT_NAME=value lines, as the environment would carry them: the
 * process's environment is fixed by now; BASE is a directory only this
 * process's user or root can write, session_dir.h), then has its injector
 * (recorder/cli/inject.c) call, inside the process,
 * dlopen("libleakhunt.so", RTLD_NOW) and leakhunt_attach().
 *
 * dlopen runs our constructor, which sees it came late (not in LD_PRELOAD,
 * and the attach file for its pid exists) and does nothing.
 * leakhunt_attach() reads and removes the file, makes the process's ring
 * in the session directory named there (the attaching leakhunt-record
 * collects from it), and points the GOT slots of every loaded module at
 * the hooks (got.c). From then on every thread's
 * allocations are recorded; blocks allocated before are unknown to the
 * trace, and freeing them counts as an unknown free in leakhunt-replay.
 *
 * Stopping (leakhunt-mark PID --stop, which leakhunt-record -p sends on
 * Ctrl-C or --duration) ends the trace like an exit does, then puts libc's
 * functions back in the GOT slots (got.c); hooks still reached (a slot
 * patched in a race with the stop) pass every call straight through.
 */
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <link.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "attach.h"
#include "lh_contract.h" /* LH_ATTACH_*: leakhunt_attach()'s codes, read by leakhunt-record */
#include "rec.h"

#define EXPORT __attribute__((visibility("default")))


LH_HIDDEN int lh_attached;
static int loaded_late, attempted;

#define MAX_VARS 32
static char attach_text[16384];
static const char *vars[MAX_VARS];
static int n_vars;

/* The directory holding the attach file leakhunt-record -p made for us
 * (session_dir.h): /dev/shm or /tmp, leakhunt-<uid> (that user's, mode
 * 0700) or leakhunt-attach-<uid> (root's, writable by nobody else), for
 * our effective or real uid. Opened without following links and checked
 * on the descriptor, so no one else can have put a name there. Its
 * descriptor (O_PATH) when the file's name is in it, else -1. */
static int attach_dir(char *name, size_t cap)
{
    snprintf(name, cap, "attach.%d", (int)getpid());
    uid_t uids[2] = { geteuid(), getuid() };
    for (int u = 0; u < 2 && (u == 0 || uids[1] != uids[0]); u++)
        for (int k = 0; k < 4; k++) {
            char dir[64];
            snprintf(dir, sizeof(dir), "%s/leakhunt-%s%d", k & 2 ? "/tmp" : "/dev/shm", k & 1 ? "attach-" : "",
                     (int)uids[u]);
            int fd = open(dir, O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
            if (fd < 0)
                continue;
            struct stat st, f;
            uid_t owner = k & 1 ? 0 : uids[u];
            mode_t forbid = k & 1 ? 022 : 077;
            if (fstat(fd, &st) == 0 && S_ISDIR(st.st_mode) && st.st_uid == owner && !(st.st_mode & forbid)
                && fstatat(fd, name, &f, AT_SYMLINK_NOFOLLOW) == 0)
                return fd;
            close(fd);
        }
    return -1;
}

int lh_attach_loaded_late(void)
{
    /* Not "is malloc bound to ours": a non-PIE program's malloc symbol is
     * its own PLT entry (canonical function address) either way. */
    const char *preload = getenv("LD_PRELOAD");
    if (preload && strstr(preload, "libleakhunt"))
        return 0;
    char name[64];
    int fd = attach_dir(name, sizeof(name));
    if (fd >= 0)
        close(fd);
    loaded_late = fd >= 0;
    return loaded_late;
}

const char *lh_config_get(const char *name)
{
    if (!lh_attached)
        return getenv(name);
    size_t n = strlen(name);
    for (int i = 0; i < n_vars; i++)
        if (!strncmp(vars[i], name, n) && vars[i][n] == '=')
            return vars[i] + n + 1;
    return NULL;
}

/* Only a regular file of ours (or root's) with one name, that nobody
 * else can write, opened without following a link or waiting on a FIFO. */
static int read_attach_file(void)
{
    char name[64];
    int dfd = attach_dir(name, sizeof(name));
    if (dfd < 0)
        return -1;
    int fd = openat(dfd, name, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_NOCTTY | O_CLOEXEC);
    struct stat st;
    ssize_t len = -1;
    if (fd >= 0 && fstat(fd, &st) == 0 && S_ISREG(st.st_mode) && st.st_nlink == 1
        && (st.st_uid == 0 || st.st_uid == geteuid() || st.st_uid == getuid()) && !(st.st_mode & 022))
        len = read(fd, attach_text, sizeof(attach_text) - 1);
    if (fd >= 0)
        close(fd);
    unlinkat(dfd, name, 0); /* in root's directory this fails: leakhunt-record removes it */
    close(dfd);
    if (len < 0)
        return -1;
    attach_text[len] = 0;
    n_vars = 0;
    for (char *line = attach_text; *line && n_vars < MAX_VARS;) {
        char *nl = strchr(line, '\n');
        if (nl)
            *nl = 0;
        if (!strncmp(line, "LEAKHUNT_", 9) && strchr(line, '='))
            vars[n_vars++] = line;
        if (!nl)
            break;
        line = nl + 1;
    }
    return 0;
}

EXPORT int leakhunt_attach(void)
{
    if (!loaded_late)
        return LH_ATTACH_NOT_LATE;
    if (attempted || lh_state != LH_STARTING)
        return LH_ATTACH_BUSY;
    attempted = 1;
    int saved_guard = lh_guard;
    lh_guard = 1;
    int rc = LH_ATTACH_OK;
    if (read_attach_file() < 0) {
        rc = LH_ATTACH_NO_CONFIG;
        goto out;
    }
    lh_attached = 1;
    if (lh_config_load() < 0) {
        rc = LH_ATTACH_BAD_CONFIG;
        goto fail;
    }
    lh_follow_init(); /* what the programs it execs need, from the attach file */
    if (lh_got_init() < 0) {
        rc = LH_ATTACH_NO_LIBC;
        goto fail;
    }
    /* The slots first (hooks pass through until state 1), so that
     * libunwind's start-up already gets fdguard.c's pipe, not a real one. */
    lh_got_refresh();
    lh_stack_init();
    if (lh_session_start(0) < 0) {
        lh_got_restore();
        rc = LH_ATTACH_OUTPUT;
        goto fail;
    }
    lh_hooks_atfork();
    __atomic_store_n(&lh_state, LH_RECORDING, __ATOMIC_RELEASE);
    lh_got_refresh(); /* modules loaded meanwhile */
    lh_pyalloc_init(1); /* a CPython's domains: hooked at its next safe point */
    goto out;
fail:
    lh_attached = 0;
    lh_state = LH_STOPPED;
out:
    lh_guard = saved_guard;
    return rc;
}

void lh_attach_stopped(void)
{
    if (lh_attached && lh_state != LH_RECORDING)
        lh_got_restore();
}

void lh_attach_tick(void)
{
    if (lh_attached && lh_state == LH_RECORDING)
        lh_got_tick();
}
