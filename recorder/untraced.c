/*
 * untraced.c - say so when the recording cannot follow a process.
 *
 * The dynamic loader ignores LD_PRELOAD for a setuid or setgid program
 * (secure execution) and a statically linked program has no loader at
 * all; a process made with a raw clone or clone3 runs no fork handlers,
 * so it has no ring. Each would simply be missing from the recording.
 * Instead a note goes into the ring (a blob, ordered with the events) and
 * the collector prints it: "pid N execs /usr/bin/sudo, which is setuid:
 * it is not traced".
 */
#include <elf.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "rec.h"

/* Why path cannot be traced, or NULL. */
static const char *why_untraceable(const char *path)
{
    struct stat st;
    if (stat(path, &st) < 0 || !S_ISREG(st.st_mode))
        return NULL; /* exec will fail, or it is not ours to judge */
    if (((st.st_mode & S_ISUID) && st.st_uid != geteuid()) || ((st.st_mode & S_ISGID) && st.st_gid != getegid()))
        return "setuid or setgid (the loader ignores LD_PRELOAD for it)";
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return NULL;
    Elf64_Ehdr eh;
    const char *why = NULL;
    if (read(fd, &eh, sizeof(eh)) == (ssize_t)sizeof(eh) && !memcmp(eh.e_ident, ELFMAG, SELFMAG)
        && eh.e_ident[EI_CLASS] == ELFCLASS64 && eh.e_phentsize == sizeof(Elf64_Phdr) && eh.e_phnum < 256) {
        int interp = 0;
        for (int i = 0; i < eh.e_phnum && !interp; i++) {
            Elf64_Phdr ph;
            if (pread(fd, &ph, sizeof(ph), (off_t)(eh.e_phoff + (uint64_t)i * sizeof(ph))) != (ssize_t)sizeof(ph))
                break;
            interp = ph.p_type == PT_INTERP;
        }
        if (!interp)
            why = "statically linked (no dynamic loader to preload the recorder)";
    }
    close(fd);
    return why;
}

static void note(const char *text)
{
    lh_tbuf_push_blob(LH_BLOB_NOTE, text, strlen(text));
}

void lh_note_exec(const char *file, int search_path)
{
    char path[4096];
    if (search_path && !strchr(file, '/')) {
        const char *dirs = getenv("PATH");
        if (!dirs)
            dirs = "/usr/bin:/bin";
        path[0] = 0;
        while (*dirs) {
            size_t len = strcspn(dirs, ":");
            snprintf(path, sizeof(path), "%.*s/%s", (int)len, len ? dirs : ".", file);
            if (access(path, X_OK) == 0)
                break;
            path[0] = 0;
            dirs += len + (dirs[len] == ':');
        }
        if (!path[0])
            return;
    } else {
        snprintf(path, sizeof(path), "%s", file);
    }
    const char *why = why_untraceable(path);
    if (why) {
        char text[4400];
        if (lh_ring && lh_ring->pid != (int32_t)getpid())
            snprintf(text, sizeof(text), "(its vfork child %d) execs %s, which is %s: it is not traced",
                     (int)getpid(), path, why);
        else
            snprintf(text, sizeof(text), "execs %s, which is %s: it is not traced", path, why);
        note(text);
    }
}

void lh_note_clone(long child, const char *how)
{
    char text[200];
    snprintf(text, sizeof(text), "made process %ld with %s, which runs no fork handlers: it is not traced "
                                 "(unless it execs a program)", child, how);
    note(text);
}
