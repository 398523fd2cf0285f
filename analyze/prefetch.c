/*
 * prefetch.c - read and decode chunks on a second thread.
 *
 * Replay is two kinds of work: reading (pread, checksum, LZ4, parsing,
 * decoding event columns) and applying events to the live set. They
 * overlap cleanly: a reader thread decodes the next chunks while the
 * replay applies the previous one, so on two cores a replay takes about as
 * long as the larger of the two instead of their sum.
 *
 * Each slot of the ring has a reader of its own on the same file, so a
 * decoded chunk is handed over as the reader left it, without copying:
 * the producer seeks slot k's reader to the next chunk and reads it there;
 * the chunk stays valid until the consumer asks for the one after it.
 */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "prefetch.h"

#define SLOTS 2

typedef struct {
    lh_reader *rd;
    int rc;                 /* 1 chunk, 0 end, < 0 damage */
    lh_chunk ch;
    uint64_t damage;
} slot;

struct lh_prefetch {
    uint64_t pos;           /* next chunk to read */
    pthread_t thread;
    pthread_mutex_t lock;
    pthread_cond_t changed;
    slot ring[SLOTS];
    size_t head, tail;      /* consumer takes head; producer fills tail */
    size_t filled;
    int stop, done;
    int holding;            /* the consumer still uses the slot before head */
    lh_read_stats read;     /* the thread's own: read after it is joined */
};

/* Read the chunk at p->pos with slot s's reader (no lock held). */
static void fill(lh_prefetch *p, slot *s)
{
    if (lh_reader_seek(s->rd, p->pos) < 0) {
        s->rc = 0;
        return;
    }
    s->rc = lh_reader_next(s->rd, &s->ch);
    if (s->rc < 0)
        s->damage = lh_reader_damage_offset(s->rd);
    if (s->rc > 0) {
        p->pos = s->ch.offset + 16 + s->ch.packed_size;
        lh_read_stats_add(&p->read, &s->ch);
    }
}

/* Before sleeping on the condition variable, the waiting side looks for a
 * while, lock released: the chunk or the free slot it waits for is often
 * microseconds away, and a futex sleep and wake per chunk costs more than
 * reading a small chunk (a trace of a million small chunks spent nearly
 * all its time there). p->lock held on entry and on return. */
#define LOOK(p, cond)                                                        \
    do {                                                                     \
        pthread_mutex_unlock(&(p)->lock);                                    \
        for (int i_ = 0; i_ < 4000 && (cond); i_++)                          \
            pause_cpu();                                                     \
        pthread_mutex_lock(&(p)->lock);                                      \
    } while (0)

static inline void pause_cpu(void)
{
#if defined(__x86_64__) || defined(__i386__)
    __builtin_ia32_pause();
#endif
}

#define RD(x) __atomic_load_n(&(x), __ATOMIC_RELAXED)

static void *reader_main(void *arg)
{
    lh_prefetch *p = arg;
    pthread_setname_np(pthread_self(), "lh-prefetch");
    pthread_mutex_lock(&p->lock);
    while (!p->stop && !p->done) {
        if (!p->stop && p->filled + (size_t)p->holding >= SLOTS)
            LOOK(p, !RD(p->stop) && RD(p->filled) + (size_t)RD(p->holding) >= SLOTS);
        while (!p->stop && p->filled + (size_t)p->holding >= SLOTS)
            pthread_cond_wait(&p->changed, &p->lock);
        if (p->stop)
            break;
        slot *s = &p->ring[p->tail];
        pthread_mutex_unlock(&p->lock);
        fill(p, s);
        /* The footer is the last chunk: what follows is the end. */
        int last = s->rc <= 0 || s->ch.type == LH_CHUNK_FOOTER;
        pthread_mutex_lock(&p->lock);
        p->tail = (p->tail + 1) % SLOTS;
        p->filled++;
        if (last)
            p->done = 1;
        pthread_cond_broadcast(&p->changed);
    }
    pthread_mutex_unlock(&p->lock);
    return NULL;
}

lh_prefetch *lh_prefetch_start(const char *path, uint64_t pos)
{
    lh_prefetch *p = calloc(1, sizeof(*p));
    if (!p)
        return NULL;
    for (int i = 0; i < SLOTS; i++) {
        int rc;
        p->ring[i].rd = lh_reader_open(path, &rc);
        if (!p->ring[i].rd) {
            for (int j = 0; j < i; j++)
                lh_reader_free(p->ring[j].rd);
            free(p);
            return NULL;
        }
    }
    p->pos = pos;
    pthread_mutex_init(&p->lock, NULL);
    pthread_cond_init(&p->changed, NULL);
    if (pthread_create(&p->thread, NULL, reader_main, p) != 0) {
        for (int i = 0; i < SLOTS; i++)
            lh_reader_free(p->ring[i].rd);
        free(p);
        return NULL;
    }
    return p;
}

int lh_prefetch_next(lh_prefetch *p, lh_chunk *out, uint64_t *damage)
{
    pthread_mutex_lock(&p->lock);
    if (p->holding) { /* done with the previous chunk: its slot is free */
        p->holding = 0;
        pthread_cond_broadcast(&p->changed);
    }
    if (!p->filled && !p->done)
        LOOK(p, !RD(p->filled) && !RD(p->done));
    while (!p->filled && !p->done)
        pthread_cond_wait(&p->changed, &p->lock);
    int rc = 0;
    memset(out, 0, sizeof(*out));
    if (p->filled) {
        slot *s = &p->ring[p->head];
        rc = s->rc;
        if (rc > 0) {
            *out = s->ch;
            p->head = (p->head + 1) % SLOTS;
            p->filled--;
            p->holding = 1;
        } else {
            *damage = s->damage; /* stays: every later call sees it again */
        }
    }
    pthread_mutex_unlock(&p->lock);
    return rc;
}

void lh_prefetch_stop(lh_prefetch *p, lh_read_stats *read)
{
    if (!p)
        return;
    pthread_mutex_lock(&p->lock);
    p->stop = 1;
    pthread_cond_broadcast(&p->changed);
    pthread_mutex_unlock(&p->lock);
    pthread_join(p->thread, NULL);
    if (read) {
        read->chunks += p->read.chunks;
        read->event_chunks += p->read.event_chunks;
        read->events += p->read.events;
    }
    for (int i = 0; i < SLOTS; i++)
        lh_reader_free(p->ring[i].rd);
    pthread_mutex_destroy(&p->lock);
    pthread_cond_destroy(&p->changed);
    free(p);
}
