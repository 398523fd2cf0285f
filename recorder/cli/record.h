/* record.h - what leakhunt-record's files share. */
#ifndef LH_RECORD_H
#define LH_RECORD_H

/* NAME as execvp finds it (path as given, or searched in $PATH); 0 or -1. */
int resolve_program(const char *name, char *out, size_t cap);
#include <stddef.h>
#include <sys/types.h>

#include "collect.h"

/* One line per trace the collector wrote; returns how many. */
int lh_record_summary(lh_collector *c, int quiet, int main_pid);
/* The absolute trace template for -o (NULL: the default); 0 or -1. */
int lh_record_output(const char *output, char *out, size_t cap);
/* An integer setting from the environment (options set them). */
int lh_record_env_int(const char *name, int def);
/* A new session directory for the processes of ring_uid (its path in
 * session) and its collector, writing traces to out_template; NULL with a
 * message. */
lh_collector *lh_record_collector(uid_t ring_uid, const char *out_template, char *session, size_t cap);
/* leakhunt-record -p: attach to pid, record until stopped; exit status. */
int lh_record_attach(long pid, const char *lib, const char *output, int quiet, long duration_ms);

#endif
