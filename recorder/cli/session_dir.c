/*
 * session_dir.c - the private session directory (session_dir.h).
 *
 * Another local user can create names in /tmp and /dev/shm before us, as
 * links, FIFOs or directories of theirs. So the base is made with mkdir
 * (which never follows a link) and then checked with lstat: a directory,
 * owned by us, not writable or searchable by anyone else. A base that
 * fails the check is refused with a message, never used or "fixed".
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <glob.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "session_dir.h"

/* A directory of uid's that no one else may enter: 1, else 0 (why in err). */
static int private_dir(const char *path, uid_t uid, char *err, size_t errcap)
{
    struct stat st;
    if (lstat(path, &st) < 0) {
        snprintf(err, errcap, "%s: %s", path, strerror(errno));
        return 0;
    }
    if (!S_ISDIR(st.st_mode)) {
        snprintf(err, errcap, "%s is not a directory (a link or file someone left there?): remove it", path);
        return 0;
    }
    if (st.st_uid != uid) {
        snprintf(err, errcap, "%s belongs to uid %d, not %d: remove it", path, (int)st.st_uid, (int)uid);
        return 0;
    }
    if (st.st_mode & 077) {
        snprintf(err, errcap, "%s is open to other users (mode %03o): chmod 700 it", path, st.st_mode & 0777);
        return 0;
    }
    return 1;
}

/* The i-th candidate base for uid (0, 1, 2), or -1. */
static int base_path(int i, uid_t uid, char *out, size_t cap)
{
    const char *xdg = getenv("XDG_RUNTIME_DIR");
    switch (i) {
    case 0:
        if (!xdg || xdg[0] != '/' || uid != geteuid())
            return -1;
        return snprintf(out, cap, "%s/leakhunt", xdg) < (int)cap ? 0 : -1;
    case 1:
        return access("/dev/shm", W_OK) == 0 && snprintf(out, cap, "/dev/shm/leakhunt-%d", (int)uid) < (int)cap ? 0 : -1;
    case 2:
        return snprintf(out, cap, "/tmp/leakhunt-%d", (int)uid) < (int)cap ? 0 : -1;
    }
    return -1;
}

/* Whether a collector answers on dir/ctl (a lingering one has another
 * pid than the one in the name, so ask the socket, not the pid). */
static int session_alive(const char *dir)
{
    struct sockaddr_un sa = { .sun_family = AF_UNIX };
    if (snprintf(sa.sun_path, sizeof(sa.sun_path), "%s/ctl", dir) >= (int)sizeof(sa.sun_path))
        return 1; /* cannot tell: keep it */
    int fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return 1;
    int rc = connect(fd, (struct sockaddr *)&sa, sizeof(sa));
    int e = errno;
    close(fd);
    return rc == 0 || (e != ECONNREFUSED && e != ENOENT);
}

/* Sessions whose collector is gone (killed before it could clean up). */
static void remove_stale(const char *base)
{
    DIR *d = opendir(base);
    if (!d)
        return;
    struct dirent *e;
    while ((e = readdir(d))) {
        if (strncmp(e->d_name, "s.", 2))
            continue;
        char dir[4400];
        snprintf(dir, sizeof(dir), "%s/%s", base, e->d_name);
        /* a minute old at least: another leakhunt-record may be between
         * its mkdir and its listen */
        struct stat st;
        if (lstat(dir, &st) == 0 && S_ISDIR(st.st_mode) && time(NULL) - st.st_ctime > 60 && !session_alive(dir))
            lh_session_dir_remove(dir);
    }
    closedir(d);
}

int lh_session_dir_create(uid_t uid, char *out, size_t cap, char *err, size_t errcap)
{
    char base[4096];
    err[0] = 0;
    for (int i = 0; i < 3; i++) {
        if (base_path(i, uid, base, sizeof(base)) < 0)
            continue;
        if (mkdir(base, 0700) == 0) {
            if (uid != geteuid() && chown(base, uid, (gid_t)-1) < 0) /* root, for another user's process */
                continue;
        } else if (errno != EEXIST) {
            continue;
        }
        if (!private_dir(base, uid, err, errcap))
            return -1; /* planted or loosened: say so, do not fall back quietly */
        remove_stale(base);
        for (int n = 0; n < 100; n++) {
            int len = n ? snprintf(out, cap, "%s/s.%d.%d", base, (int)getpid(), n)
                        : snprintf(out, cap, "%s/s.%d", base, (int)getpid());
            if (len >= (int)cap)
                break;
            if (mkdir(out, 0700) == 0) {
                if (uid != geteuid() && chown(out, uid, (gid_t)-1) < 0) {
                    snprintf(err, errcap, "cannot give %s to uid %d: %s", out, (int)uid, strerror(errno));
                    rmdir(out);
                    return -1;
                }
                return private_dir(out, uid, err, errcap) ? 0 : -1;
            }
            if (errno != EEXIST)
                break;
        }
    }
    if (!err[0])
        snprintf(err, errcap, "cannot make a session directory in $XDG_RUNTIME_DIR, /dev/shm or /tmp: %s",
                 strerror(errno));
    return -1;
}

static int find_in_base(const char *base, uid_t uid, pid_t pid, char *ctl, size_t cap)
{
    char err[512];
    if (!private_dir(base, uid, err, sizeof(err)))
        return -1;
    DIR *d = opendir(base);
    if (!d)
        return -1;
    struct dirent *e;
    int found = -1;
    char pattern[64];
    int plen = snprintf(pattern, sizeof(pattern), "ring.%d.", (int)pid);
    while (found < 0 && (e = readdir(d))) {
        if (strncmp(e->d_name, "s.", 2))
            continue;
        char dir[4400];
        snprintf(dir, sizeof(dir), "%s/%s", base, e->d_name);
        if (!private_dir(dir, uid, err, sizeof(err)))
            continue;
        DIR *s = opendir(dir);
        if (!s)
            continue;
        struct dirent *r;
        while ((r = readdir(s)))
            if (!strncmp(r->d_name, pattern, (size_t)plen)) {
                if (snprintf(ctl, cap, "%s/ctl", dir) < (int)cap)
                    found = 0;
                break;
            }
        closedir(s);
    }
    closedir(d);
    return found;
}

int lh_session_dir_find(pid_t pid, char *ctl, size_t cap)
{
    char base[4096];
    for (int i = 0; i < 3; i++)
        if (base_path(i, geteuid(), base, sizeof(base)) == 0 && find_in_base(base, geteuid(), pid, ctl, cap) == 0)
            return 0;
    if (geteuid() != 0)
        return -1;
    /* root marks other users' recordings too: their bases, checked as theirs */
    const char *globs[] = { "/dev/shm/leakhunt-*", "/tmp/leakhunt-*", "/run/user/*/leakhunt" };
    for (size_t g = 0; g < 3; g++) {
        glob_t gl;
        if (glob(globs[g], 0, NULL, &gl) != 0)
            continue;
        for (size_t k = 0; k < gl.gl_pathc; k++) {
            struct stat st;
            if (lstat(gl.gl_pathv[k], &st) == 0 && find_in_base(gl.gl_pathv[k], st.st_uid, pid, ctl, cap) == 0) {
                globfree(&gl);
                return 0;
            }
        }
        globfree(&gl);
    }
    return -1;
}

void lh_session_dir_remove(const char *dir)
{
    DIR *d = opendir(dir);
    if (d) {
        struct dirent *e;
        while ((e = readdir(d))) {
            if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, ".."))
                continue;
            char path[4400];
            snprintf(path, sizeof(path), "%s/%s", dir, e->d_name);
            unlink(path);
        }
        closedir(d);
    }
    rmdir(dir);
}
