/*
 * procfs_read.h - small /proc reads, shared by the recorder in the traced
 * process (its own stat and cmdline at start) and leakhunt-record's parts
 * (the collector, the attach, the injector): both read the same start
 * time from the same field. No allocation, so the recorder may call them.
 */
#ifndef LH_PROCFS_READ_H
#define LH_PROCFS_READ_H

#include <stddef.h>
#include <sys/types.h>

/* Up to cap - 1 bytes of path, NUL-terminated: length, or -1 (errno). */
ssize_t lh_read_text(const char *path, char *buf, size_t cap);
/* In a /proc/.../stat text (NUL-terminated, modified: the field is cut
 * out), field n as numbered in proc(5) (3 = state, 22 = starttime), past
 * the command name, which may hold spaces and parentheses; NULL if none. */
const char *lh_stat_field(char *stat, int n);

#endif
