/*
 * points.h - the moments a user can name: 12.5, 12.5s, 300ms, 50%, start,
 * peak, end, mark:LABEL (mark:LABEL#2 for its second occurrence), #EVENT.
 */
#ifndef LH_POINTS_H
#define LH_POINTS_H

#include <stddef.h>
#include <stdint.h>

#include "replay.h"

typedef struct {
    int kind;           /* LH_AT_* of replay.h; peak resolves to LH_AT_EVENT */
    uint64_t value;     /* µs, event count or occurrence */
    const char *label;  /* LH_AT_MARK */
    int is_peak;        /* needs the peak event from a first pass */
    char text[160];     /* how to describe it: "mark:warm (2.013 s)" */
} lh_point;

/* Parse spec against the trace summary. 0, or -1 with a message in err
 * (naming the markers that exist, or saying the time is past the end). */
int lh_point_parse(const char *spec, const lh_trace_summary *s, lh_point *p, char *err, size_t errcap);

#endif
