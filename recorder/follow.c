/*
 * follow.c - the recorder stays in the environment of what a traced
 * process execs.
 *
 * A child started with an environment of its own (env -i, a test harness
 * that sets LD_PRELOAD to its own library and unsets it after, Python's
 * subprocess.run(env={})) would not load the recorder and would be
 * missing from the recording. So when following is on, an exec or
 * posix_spawn whose environment lacks the recorder gets a copy with it
 * put back: libleakhunt.so first in LD_PRELOAD, the program's own
 * preloads after it, and the recorder's LEAKHUNT_* settings, plus
 * LEAKHUNT_RESTORE, which says what the program had set. The new image's
 * recorder (lh_follow_restore, at start) reads its settings, then puts
 * the environment back as the program made it: LD_PRELOAD as it was (or
 * unset) and no LEAKHUNT_* variable, so getenv() and its own children see
 * what they would have seen. Only /proc/PID/environ, which is the exec's
 * snapshot, shows the recorder's additions.
 *
 * The copy is built in the caller's stack buffer, never with the
 * allocator being traced: a vfork child (dash runs commands so) must not
 * touch its parent's heap, and a mapping it made would stay in the
 * parent's address space after the exec. Only an environment too big for
 * that buffer gets a fresh mapping (not in a vfork child: there the exec
 * goes ahead as asked), unmapped again if the exec fails.
 */
#include <dlfcn.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "attach.h"
#include "rec.h"

extern char **environ;

/* The settings a followed child needs, as NAME=value lines. */
static const char *const names[] = {
    "LEAKHUNT_SESSION", "LEAKHUNT_UNWIND", "LEAKHUNT_DEPTH", "LEAKHUNT_PYTHON", "LEAKHUNT_MMAP",
    "LEAKHUNT_FOLLOW_FORK", "LEAKHUNT_QUIET", "LEAKHUNT_RSS_INTERVAL", "LEAKHUNT_FLUSH_INTERVAL",
};
#define N_NAMES (sizeof(names) / sizeof(names[0]))
static char settings[N_NAMES][4200];
static int n_settings;
static char self_path[PATH_MAX];
static int ready;

/* LEAKHUNT_RESTORE: "unset" (no LD_PRELOAD), or "set:" and its value. */
#define RESTORE "LEAKHUNT_RESTORE="

void lh_follow_init(void)
{
    Dl_info di;
    if (!dladdr((void *)&lh_follow_init, &di) || !di.dli_fname || strlen(di.dli_fname) >= sizeof(self_path))
        return;
    strcpy(self_path, di.dli_fname);
    n_settings = 0;
    for (size_t i = 0; i < N_NAMES; i++) {
        const char *v = lh_config_get(names[i]);
        size_t len = strlen(names[i]);
        if (v && len + 1 + strlen(v) < sizeof(settings[0])) {
            memcpy(settings[n_settings], names[i], len);
            settings[n_settings][len] = '=';
            strcpy(settings[n_settings] + len + 1, v);
            n_settings++;
        }
    }
    ready = self_path[0] && n_settings;
}

void lh_follow_restore(void)
{
    const char *r = getenv("LEAKHUNT_RESTORE");
    if (!r)
        return;
    char was[8192];
    int unset = !strcmp(r, "unset");
    int set = !strncmp(r, "set:", 4) && strlen(r + 4) < sizeof(was);
    if (set)
        strcpy(was, r + 4);
    for (size_t i = 0; i < N_NAMES; i++)
        unsetenv(names[i]);
    unsetenv("LEAKHUNT_RESTORE");
    if (unset)
        unsetenv("LD_PRELOAD");
    else if (set)
        setenv("LD_PRELOAD", was, 1);
}

static int has_recorder(char *const envp[])
{
    int preload = 0, session = 0;
    for (size_t i = 0; envp[i]; i++) {
        if (!strncmp(envp[i], "LD_PRELOAD=", 11) && strstr(envp[i] + 11, "libleakhunt.so"))
            preload = 1;
        else if (!strncmp(envp[i], "LEAKHUNT_SESSION=", 17) && envp[i][17])
            session = 1;
    }
    return preload && session;
}

char *const *lh_follow_env(char *const envp[], void *stack_buf, size_t stack_cap, void **buf, size_t *buf_len)
{
    *buf = NULL;
    *buf_len = 0;
    if (!ready || !lh_cfg.follow_fork || !envp || has_recorder(envp))
        return envp;
    const char *preload = NULL;
    size_t n = 0, bytes = 0;
    for (; envp[n]; n++) {
        if (!strncmp(envp[n], "LD_PRELOAD=", 11))
            preload = envp[n] + 11;
        bytes += strlen(envp[n]) + 1;
    }
    size_t preload_len = preload ? strlen(preload) : 0;
    bytes += 2 * (sizeof("LD_PRELOAD=") + strlen(self_path) + 1 + preload_len) + sizeof(RESTORE) + 8;
    for (int i = 0; i < n_settings; i++)
        bytes += strlen(settings[i]) + 1;
    size_t ptrs = (n + (size_t)n_settings + 3) * sizeof(char *);
    size_t len = (ptrs + bytes + 4095) & ~(size_t)4095;
    char **out = stack_buf;
    if (ptrs + bytes > stack_cap) {
        if (lh_ring && lh_ring->pid != (int32_t)getpid())
            return envp; /* a vfork child: no mapping of ours in the parent */
        out = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
        if (out == MAP_FAILED)
            return envp; /* exec as asked: the child goes unrecorded */
        *buf = out;
        *buf_len = len;
    }
    char *s = (char *)out + ptrs;
    size_t k = 0;
#define PUT(...) do { out[k++] = s; s = stpcpy(s, __VA_ARGS__) + 1; } while (0)
    for (size_t i = 0; i < n; i++)
        if (strncmp(envp[i], "LD_PRELOAD=", 11) && strncmp(envp[i], "LEAKHUNT_", 9))
            out[k++] = envp[i];
    out[k++] = s;
    s = stpcpy(stpcpy(s, "LD_PRELOAD="), self_path);
    if (preload_len)
        s = stpcpy(stpcpy(s, ":"), preload);
    s++;
    out[k++] = s;
    s = stpcpy(s, RESTORE);
    if (preload)
        s = stpcpy(stpcpy(s, "set:"), preload);
    else
        s = stpcpy(s, "unset");
    s++;
    for (int i = 0; i < n_settings; i++)
        PUT(settings[i]);
#undef PUT
    out[k] = NULL;
    return out;
}

void lh_follow_release(void *buf, size_t len)
{
    if (buf)
        munmap(buf, len);
}
