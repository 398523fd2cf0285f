/*
 * procfs_read.h - small /proc reads shared by leakhunt-record's parts
 * (the collector, the attach, the injector).
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
