/*
 * lh_contract.h - what two leakhunt programs must agree on, spelled once
 * and included by both sides:
 *   the control protocol between a recording's collector (leakhunt-record,
 *     recorder/cli/collect.c) and the programs that ask it
 *     (ctl_client.c: leakhunt-mark, leakhunt-top);
 *   the codes leakhunt_attach() (recorder/attach.c, inside the traced
 *     process) returns to leakhunt-record -p (record_attach.c);
 *   the limits of the recording options, checked by leakhunt-record on its
 *     command line and by the recorder on its LEAKHUNT_* environment
 *     (recorder/config.c), so both refuse the same values.
 * Changing a value here changes a contract between binaries that may come
 * from different builds: add, never renumber.
 */
#ifndef LH_CONTRACT_H
#define LH_CONTRACT_H

/* --- control protocol ---------------------------------------------------
 * One request per connection on the session's control socket, one line,
 * one answer: "ok[ REST]" or "err WHY".
 *   mark PID NS LABEL   a marker stamped NS (CLOCK_MONOTONIC ns), answered
 *                       once it is in PID's trace file
 *   trace PID           answered "ok DEV INO PATH": where PID's trace is
 *   stop PID            end PID's recording, answered once its trace is
 *                       complete */
#define LH_CTL_MARK "mark"
#define LH_CTL_TRACE "trace"
#define LH_CTL_STOP "stop"
#define LH_CTL_OK "ok"
#define LH_CTL_ERR "err "

/* --- leakhunt_attach() return codes --------------------------------------- */
enum {
    LH_ATTACH_OK = 0,
    LH_ATTACH_NOT_LATE = 1,   /* already under LD_PRELOAD */
    LH_ATTACH_BUSY = 2,       /* recording, or recorded once already */
    LH_ATTACH_NO_CONFIG = 3,  /* attach file missing or not trustworthy */
    LH_ATTACH_BAD_CONFIG = 4, /* a bad value (message on the program's stderr) */
    LH_ATTACH_NO_LIBC = 5,    /* malloc is not glibc's */
    LH_ATTACH_OUTPUT = 6,     /* cannot create the trace (message on stderr) */
};

/* --- limits of the recording options ------------------------------------ */
#define LH_DEPTH_MAX 1024                 /* --depth, LEAKHUNT_DEPTH: 1 .. */
#define LH_DEPTH_DEFAULT 64
#define LH_RSS_INTERVAL_MAX_MS 3600000    /* --rss-interval, LEAKHUNT_RSS_INTERVAL: 0 .. */
#define LH_FLUSH_INTERVAL_MAX_MS 60000    /* --flush-interval, LEAKHUNT_FLUSH_INTERVAL: 1 .. */
#define LH_SAMPLE_MAX (1ull << 40)        /* --sample, LEAKHUNT_SAMPLE: bytes */

#endif
