/*
 * prefetch.h - chunks read and decoded ahead on a second thread.
 */
#ifndef LH_PREFETCH_H
#define LH_PREFETCH_H

#include <stdint.h>

#include "replay.h"

typedef struct lh_prefetch lh_prefetch;

/* Count one decoded chunk (replay.c, checkpoint.c and the thread here). */
static inline void lh_read_stats_add(lh_read_stats *s, const lh_chunk *ch)
{
    s->chunks++;
    if (ch->type == LH_CHUNK_EVENTS) {
        s->event_chunks++;
        s->events += ch->n_events;
    }
}

/* Start reading the trace at path from chunk offset pos, with readers of
 * its own. NULL if they or the thread could not be had. */
lh_prefetch *lh_prefetch_start(const char *path, uint64_t pos);

/* Like lh_reader_next: 1 with *out (valid until the next call), 0 at the
 * end, or a negative lh_rc with the damage offset in *damage. */
int lh_prefetch_next(lh_prefetch *p, lh_chunk *out, uint64_t *damage);

/* Stop the thread and close its readers (accepts NULL). When read is not
 * NULL, what the thread decoded (read-ahead it never handed out included)
 * is added to it. */
void lh_prefetch_stop(lh_prefetch *p, lh_read_stats *read);

#endif
