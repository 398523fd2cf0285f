/*
 * collect.h - the collector: turns the ring files of a session directory
 * into traces, outside the traced processes (ring.h has the contract).
 */
#ifndef LH_COLLECT_H
#define LH_COLLECT_H

#include <stdint.h>
#include <sys/types.h>

typedef struct lh_collector lh_collector;

typedef struct {
    const char *session;     /* the session directory (rings and ctl) */
    const char *output;      /* absolute trace template: %p pid, %e exe, %% */
    int flush_ms;            /* write buffered events at least this often */
    int rss_interval_ms;     /* 0 = off */
    uid_t ring_uid;          /* whose ring files to trust (the traced processes' user) */
    int batch_encoding;      /* lh_writer_io.batch_encoding: 1 format 1.3's, 2 1.4's; 0: 1, or 2 for a
                              * sampled recording (leakhunt-record's default) */
} lh_collect_options;

/* One finished (or still running) trace, for the end summary. */
typedef struct {
    int pid;
    const char *path;
    uint64_t events, bytes, lost;
    int finished;            /* footer written */
    int failed;              /* a write failed: the trace is damaged */
    int stopped;             /* ended by a stop request */
    uint64_t order;          /* when its ring was found: later images of a pid come later */
    uint32_t py_alloc;       /* LH_PYALLOC_* (ring.h): CPython's allocator in that process */
} lh_collect_trace;

/* NULL with a message on failure. Listens on SESSION/ctl for leakhunt-mark. */
lh_collector *lh_collect_open(const lh_collect_options *opt);
/* Wait up to timeout_ms for work (a ring, a request, a wake-up), then do
 * one round over every process: drain rings, write what is due, finish
 * the traces of processes that ended. */
void lh_collect_step(lh_collector *c, int timeout_ms);
/* End a step's wait when fd becomes readable (once): the program's pidfd,
 * so its end is handled at once rather than at the next tick. */
void lh_collect_wake_on(lh_collector *c, int fd);
/* The exit status of pid, known to the caller (its own child): the trace
 * footer gets it. */
void lh_collect_exit_status(lh_collector *c, int pid, int wait_status);
/* Whether pid's last ring is finished (1), being recorded (0), or was
 * never seen (-1); "finished" only after one more scan of the session,
 * for the ring of an image it exec'd at the very end. */
int lh_collect_pid_done(lh_collector *c, int pid);
/* Processes still recorded, and children forked whose ring has not come. */
int lh_collect_live(lh_collector *c);
/* Ask the process with ring pid to stop recording, and finish its trace. */
int lh_collect_stop(lh_collector *c, int pid);
/* Traces so far, in the order they were opened. */
int lh_collect_traces(lh_collector *c, const lh_collect_trace **out);
/* Finish everything still open (final drain) and free. Accepts NULL. */
void lh_collect_close(lh_collector *c);

#endif
