/* record.h - what leakhunt-record's files share. */
#ifndef LH_RECORD_H
#define LH_RECORD_H

/* NAME as execvp finds it (path as given, or searched in $PATH); 0 or -1. */
int resolve_program(const char *name, char *out, size_t cap);
/* One line per trace the manifest lists; returns how many. */
int summarize_manifest(const char *manifest, int quiet);
/* leakhunt-record -p: attach to pid, record until stopped; exit status. */
int lh_record_attach(long pid, const char *lib, const char *output, int quiet, long duration_ms);
/* Ask the recorder in pid to finish its trace ("!stop" on the control FIFO). */
int lh_send_stop(long pid);

#endif
