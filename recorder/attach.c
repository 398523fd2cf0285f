/*
 * attach.c - start recording in a process that is already running.
 *
 * leakhunt-record -p PID writes the settings to /tmp/.leakhunt-attach.PID
 * (LEAKHUNT_NAME=value lines, as the environment would carry them: the
 * process's environment is fixed by now), then has its injector
 * (recorder/cli/inject.c) call, inside the process,
 * dlopen("libleakhunt.so", RTLD_NOW) and leakhunt_attach().
 *
 * dlopen runs our constructor, which sees it came late (not in LD_PRELOAD,
 * and the attach file for its pid exists) and does nothing. leakhunt_attach() reads and removes
 * the file, makes the process's ring in the session directory named there
 * (the attaching leakhunt-record collects from it), and points the GOT slots of
 * every loaded module at the hooks (got.c). From then on every thread's
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
#include "rec.h"

#define EXPORT __attribute__((visibility("default")))

/* Return codes of leakhunt_attach(), mirrored in leakhunt-record. */
enum {
    ATTACH_OK = 0,
    ATTACH_NOT_LATE = 1,   /* already under LD_PRELOAD */
    ATTACH_BUSY = 2,       /* recording, or recorded once already */
    ATTACH_NO_CONFIG = 3,  /* attach file missing or not trustworthy */
    ATTACH_BAD_CONFIG = 4, /* a bad value (message on the program's stderr) */
    ATTACH_NO_LIBC = 5,    /* malloc is not glibc's */
    ATTACH_OUTPUT = 6,     /* cannot create the trace (message on stderr) */
};

LH_HIDDEN int lh_attached;
static int loaded_late, attempted;

#define MAX_VARS 32
static char attach_text[16384];
static const char *vars[MAX_VARS];
static int n_vars;

int lh_attach_loaded_late(void)
{
    /* Not "is malloc bound to ours": a non-PIE program's malloc symbol is
     * its own PLT entry (canonical function address) either way. */
    const char *preload = getenv("LD_PRELOAD");
    if (preload && strstr(preload, "libleakhunt"))
        return 0;
    char path[64];
    snprintf(path, sizeof(path), "/tmp/.leakhunt-attach.%d", (int)getpid());
    loaded_late = access(path, F_OK) == 0;
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

/* Only a regular file of ours (or root's) that nobody else can write. */
static int read_attach_file(void)
{
    char path[64];
    snprintf(path, sizeof(path), "/tmp/.leakhunt-attach.%d", (int)getpid());
    int fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
    if (fd < 0)
        return -1;
    struct stat st;
    ssize_t len = -1;
    if (fstat(fd, &st) == 0 && S_ISREG(st.st_mode) && (st.st_uid == 0 || st.st_uid == geteuid())
        && !(st.st_mode & 022))
        len = read(fd, attach_text, sizeof(attach_text) - 1);
    close(fd);
    unlink(path);
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
        return ATTACH_NOT_LATE;
    if (attempted || lh_state != LH_STARTING)
        return ATTACH_BUSY;
    attempted = 1;
    int saved_guard = lh_guard;
    lh_guard = 1;
    int rc = ATTACH_OK;
    if (read_attach_file() < 0) {
        rc = ATTACH_NO_CONFIG;
        goto out;
    }
    lh_attached = 1;
    if (lh_config_load() < 0) {
        rc = ATTACH_BAD_CONFIG;
        goto fail;
    }
    lh_follow_init(); /* what the programs it execs need, from the attach file */
    if (lh_got_init() < 0) {
        rc = ATTACH_NO_LIBC;
        goto fail;
    }
    /* The slots first (hooks pass through until state 1), so that
     * libunwind's start-up already gets fdguard.c's pipe, not a real one. */
    lh_got_refresh();
    lh_stack_init();
    if (lh_session_start(0) < 0) {
        lh_got_restore();
        rc = ATTACH_OUTPUT;
        goto fail;
    }
    lh_hooks_atfork();
    __atomic_store_n(&lh_state, LH_RECORDING, __ATOMIC_RELEASE);
    lh_got_refresh(); /* modules loaded meanwhile */
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
