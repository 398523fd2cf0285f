/*
 * top_cli.h - what leakhunt-top's files share: the state of one watch
 * (leakhunt_top.c), the screen as lines of text (top_text.c, used by the
 * batch mode and the curses screen alike), and the curses screen
 * (top_screen.c).
 */
#ifndef LH_TOP_CLI_H
#define LH_TOP_CLI_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "top.h"

typedef struct {
    lh_top *top;
    const char *name;        /* the trace's path, as shown */
    pid_t pid;               /* the recorded process (0: not known to be here) */
    int pid_mode;            /* started as leakhunt-top PID */
    int by;                  /* LH_BY_* */
    char filter[256];
    long rows;               /* rows of the batch table (0 = all) */
    double delay;            /* -d seconds */
    int paused;
    int state;               /* LH_TOP_* of the last poll */
    int stalled;             /* PID mode: the process is gone and the trace stopped short of its end */
    char message[512];       /* the last key's outcome, or news */
    uint64_t message_ms;     /* when it was shown first (a screen drops it after 10 s) */
    unsigned marks_made;     /* markers dropped with m */
    /* events per second between two polls */
    uint64_t rate_events, rate_at_ms;
    double rate;
    uint64_t last_grow_ms;   /* when the trace last grew (PID mode's stall check) */
    uint64_t last_events, last_size;
} top_view;

/* One line of a screen and what it is (for the curses attributes). */
enum { TL_TITLE, TL_INFO, TL_SPARK, TL_HEAD, TL_ROW, TL_NOTE };
typedef struct {
    int kind;
    char text[1024];
} top_line;

/* The screen as lines, at most height of them (0: no limit, and every
 * row the view's rows option asks for), each at most width columns
 * (0: no limit). exact: sizes in bytes (the batch mode: numbers for logs),
 * else in KiB/MiB. utf8: the sparkline in block characters, else ASCII.
 * Returns the count; *out is malloc'ed. */
size_t top_compose(top_view *v, int width, int height, int exact, int utf8, top_line **out);

/* The help text, one line each. */
extern const char *const top_help_lines[];

/* Apply new data and update the view's rate, state and message. */
void top_refresh(top_view *v, unsigned budget_ms);
/* The m key: a marker named "top<N>" in the recording, as leakhunt-mark
 * drops one (ctl_client.c); the outcome goes to v->message. */
void top_mark(top_view *v);

/* The curses screen until q (or an error): 0, or the exit status. */
int top_screen_run(top_view *v);
/* Out of memory: the terminal back from curses if the screen is up, then
 * lh_nomem (exit status 4). */
void top_nomem(void) __attribute__((noreturn));

uint64_t top_now_ms(void);

#endif
