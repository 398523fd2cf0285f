/*
 * points.c - parse a moment of a trace.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "points.h"

static void list_markers(const lh_trace_summary *s, char *err, size_t errcap, size_t used)
{
    if (!s->n_markers) {
        snprintf(err + used, errcap - used, "; the trace has no markers "
                 "(drop some with leakhunt-mark PID LABEL or leakhunt_mark())");
        return;
    }
    used += (size_t)snprintf(err + used, errcap - used, "; markers in the trace:");
    for (size_t i = 0; i < s->n_markers && used < errcap; i++)
        used += (size_t)snprintf(err + used, errcap - used, " %s (%.3f s)%s", s->markers[i].label,
                                 s->markers[i].time_us / 1e6, i + 1 < s->n_markers ? "," : "");
}

int lh_point_parse(const char *spec, const lh_trace_summary *s, lh_point *p, char *err, size_t errcap)
{
    memset(p, 0, sizeof(*p));
    double end_s = s->end_time_us / 1e6;
    if (!strcmp(spec, "start")) {
        p->kind = LH_AT_EVENT;
        snprintf(p->text, sizeof(p->text), "start");
        return 0;
    }
    if (!strcmp(spec, "end")) {
        p->kind = LH_AT_END;
        snprintf(p->text, sizeof(p->text), "end (%.3f s)", end_s);
        return 0;
    }
    if (!strcmp(spec, "peak")) {
        p->kind = LH_AT_EVENT;
        p->is_peak = 1;
        snprintf(p->text, sizeof(p->text), "peak");
        return 0;
    }
    if (!strncmp(spec, "mark:", 5)) {
        const char *label = spec + 5;
        unsigned long nth = 0;
        const char *hash = strrchr(label, '#');
        char name[256];
        size_t len = hash ? (size_t)(hash - label) : strlen(label);
        if (hash) {
            char *end;
            errno = 0;
            nth = strtoul(hash + 1, &end, 10);
            if (errno || *end || nth == 0 || end == hash + 1)
                hash = NULL, len = strlen(label), nth = 0; /* '#' is part of the label */
            else
                nth--;
        }
        if (len >= sizeof(name)) {
            snprintf(err, errcap, "'%s': marker label too long", spec);
            return -1;
        }
        memcpy(name, label, len);
        name[len] = 0;
        unsigned long seen = 0;
        for (size_t i = 0; i < s->n_markers; i++) {
            if (strcmp(s->markers[i].label, name))
                continue;
            if (seen++ == nth) {
                p->kind = LH_AT_MARK;
                p->value = nth;
                p->label = s->markers[i].label;
                snprintf(p->text, sizeof(p->text), "mark:%.120s (%.3f s)", name, s->markers[i].time_us / 1e6);
                return 0;
            }
        }
        size_t used = (size_t)snprintf(err, errcap, "no marker '%s'%s", name,
                                       seen ? " with that occurrence number" : "");
        list_markers(s, err, errcap, used < errcap ? used : errcap - 1);
        return -1;
    }
    if (spec[0] == '#') {
        char *end;
        errno = 0;
        unsigned long long n = strtoull(spec + 1, &end, 10);
        if (errno || *end || end == spec + 1) {
            snprintf(err, errcap, "'%s': expected #EVENT, an event number", spec);
            return -1;
        }
        if (n > s->events) {
            snprintf(err, errcap, "'%s' is past the end: the trace has %llu events", spec,
                     (unsigned long long)s->events);
            return -1;
        }
        p->kind = LH_AT_EVENT;
        p->value = n;
        snprintf(p->text, sizeof(p->text), "event #%llu", n);
        return 0;
    }
    char *end;
    errno = 0;
    double v = strtod(spec, &end);
    if (errno || end == spec || v < 0 || v != v) {
        snprintf(err, errcap, "'%s': not a moment; use 12.5, 12.5s, 300ms, 50%%, start, peak, end, "
                 "mark:LABEL or #EVENT", spec);
        return -1;
    }
    double us;
    if (!strcmp(end, "") || !strcmp(end, "s")) us = v * 1e6;
    else if (!strcmp(end, "ms")) us = v * 1e3;
    else if (!strcmp(end, "us")) us = v;
    else if (!strcmp(end, "%")) {
        if (v > 100) {
            snprintf(err, errcap, "'%s': a fraction of the run is 0%% to 100%%", spec);
            return -1;
        }
        us = s->end_time_us * v / 100.0;
    } else {
        snprintf(err, errcap, "'%s': unknown unit '%s' (use s, ms, us or %%)", spec, end);
        return -1;
    }
    if (us > (double)s->end_time_us + 0.5) {
        snprintf(err, errcap, "'%s' is past the end of the trace (%.3f s)", spec, end_s);
        return -1;
    }
    p->kind = LH_AT_TIME;
    p->value = (uint64_t)(us + 0.5);
    snprintf(p->text, sizeof(p->text), "%.3f s", p->value / 1e6);
    return 0;
}
