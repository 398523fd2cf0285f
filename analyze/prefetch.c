/*
 * prefetch.c - read and decode chunks on other threads, hand them over in
 * file order.
 *
 * Replay is two kinds of work: reading (pread, checksum, LZ4, parsing,
 * decoding event columns) and applying events to the live set. Reading a
 * chunk needs nothing from the chunks before it (every event batch
 * decodes on its own, FORMAT.md 4.1; stack ids are only numbers until the
 * replay applies them), so two reader threads decode the next chunks while
 * the replay applies the previous one, in order, on its own thread: on two
 * cores a replay takes about as long as the larger of applying and half
 * of reading, instead of their sum (a churn trace in encoding 2 decodes at
 * about twice the cost of applying it).
 *
 * The ring's slots are claimed in file order: a reader thread takes the
 * next free slot and the offset of the next chunk, finds the offset after
 * it from the chunk's frame alone (lh_reader_peek_next, 16 bytes), and
 * decodes the chunk with the slot's own reader, without the lock; the
 * consumer takes the slots in the same order. Each slot has a reader of
 * its own on the same file, so a decoded chunk is handed over as that
 * reader left it, without copying, and stays valid until the consumer asks
 * for the one after it. A frame that cannot be read ends the claims: the
 * slot that claimed it reports the end or the damage, and nothing after
 * it is handed out.
 */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "prefetch.h"

#define SLOTS 4
#define MAX_WORKERS 2

enum { FREE, CLAIMED, FILLED };

typedef struct {
    lh_reader *rd;
    int state;              /* FREE, CLAIMED (a thread reads it), FILLED */
    uint64_t pos;           /* the chunk it holds or reads */
    int rc;                 /* 1 chunk, 0 end, < 0 damage */
    lh_chunk ch;
    uint64_t damage;
} slot;

struct lh_prefetch {
    uint64_t pos;           /* next chunk to claim */
    pthread_t thread[MAX_WORKERS];
    int n_threads;
    pthread_mutex_t lock;
    pthread_cond_t changed;
    slot ring[SLOTS];
    size_t head, tail;      /* consumer takes head; readers claim tail */
    int stop, end;          /* end: nothing more to claim */
    int holding;            /* the consumer still uses the slot before head */
    lh_read_stats read;     /* the threads', under the lock */
};

/* Read the chunk at s->pos with the slot's reader (no lock held). */
static void fill(slot *s)
{
    s->damage = 0;
    if (lh_reader_seek(s->rd, s->pos) < 0) {
        s->rc = 0;
        return;
    }
    s->rc = lh_reader_next(s->rd, &s->ch);
    if (s->rc < 0)
        s->damage = lh_reader_damage_offset(s->rd);
}

/* Before sleeping on the condition variable, the waiting side looks for a
 * while, lock released: the chunk or the free slot it waits for is often
 * microseconds away, and a futex sleep and wake per chunk costs more than
 * reading a small chunk (a trace of a million small chunks spent nearly
 * all its time there). p->lock held on entry and on return. */
#define LOOK(p, cond)                                                        \
    do {                                                                     \
        pthread_mutex_unlock(&(p)->lock);                                    \
        for (int i_ = 0; i_ < 2000 && (cond); i_++)                          \
            pause_cpu();                                                     \
        pthread_mutex_lock(&(p)->lock);                                      \
    } while (0)

static inline void pause_cpu(void)
{
#if defined(__x86_64__) || defined(__i386__)
    __builtin_ia32_pause();
#endif
}

/* Fields LOOK reads without the lock are written with atomic stores. */
#define RD(x) __atomic_load_n(&(x), __ATOMIC_RELAXED)
#define WR(x, v) __atomic_store_n(&(x), (v), __ATOMIC_RELAXED)

static int can_claim(lh_prefetch *p) { return !RD(p->stop) && !RD(p->end) && RD(p->ring[RD(p->tail)].state) == FREE; }

static void *reader_main(void *arg)
{
    lh_prefetch *p = arg;
    pthread_setname_np(pthread_self(), "lh-prefetch");
    pthread_mutex_lock(&p->lock);
    while (!p->stop) {
        if (!can_claim(p) && !p->stop && !p->end)
            LOOK(p, !RD(p->stop) && !can_claim(p) && !RD(p->end));
        while (!p->stop && !can_claim(p) && !p->end)
            pthread_cond_wait(&p->changed, &p->lock);
        if (p->stop || p->end)
            break;
        slot *s = &p->ring[p->tail];
        WR(p->tail, (p->tail + 1) % SLOTS);
        WR(s->state, CLAIMED);
        s->pos = p->pos;
        /* The next claim starts after this chunk, known from its frame;
         * after the footer, a frame that cannot be read or the end,
         * nothing is claimed any more (this slot reports which). */
        uint64_t next;
        uint32_t type = 0;
        if (lh_reader_peek_next(s->rd, s->pos, &next, &type) > 0 && type != LH_CHUNK_FOOTER)
            p->pos = next;
        else
            WR(p->end, 1);
        pthread_mutex_unlock(&p->lock);
        fill(s);
        pthread_mutex_lock(&p->lock);
        if (s->rc > 0)
            lh_read_stats_add(&p->read, &s->ch);
        else
            WR(p->end, 1);
        __atomic_store_n(&s->state, FILLED, __ATOMIC_RELEASE);
        pthread_cond_broadcast(&p->changed);
    }
    pthread_mutex_unlock(&p->lock);
    return NULL;
}

static void free_readers(lh_prefetch *p)
{
    for (int i = 0; i < SLOTS; i++)
        lh_reader_free(p->ring[i].rd);
}

lh_prefetch *lh_prefetch_start(const char *path, uint64_t pos)
{
    lh_prefetch *p = calloc(1, sizeof(*p));
    if (!p)
        return NULL;
    for (int i = 0; i < SLOTS; i++) {
        int rc;
        if (!(p->ring[i].rd = lh_reader_open(path, &rc))) {
            free_readers(p);
            free(p);
            return NULL;
        }
    }
    p->pos = pos;
    pthread_mutex_init(&p->lock, NULL);
    pthread_cond_init(&p->changed, NULL);
    /* One reader thread per core beside the replay's own, two at most:
     * applying events is then the longer half on any core count. */
    long cores = sysconf(_SC_NPROCESSORS_ONLN);
    int want = cores >= 2 ? MAX_WORKERS : 1;
    for (int i = 0; i < want; i++)
        if (pthread_create(&p->thread[p->n_threads], NULL, reader_main, p) == 0)
            p->n_threads++;
    if (!p->n_threads) {
        pthread_mutex_destroy(&p->lock);
        pthread_cond_destroy(&p->changed);
        free_readers(p);
        free(p);
        return NULL;
    }
    return p;
}

int lh_prefetch_next(lh_prefetch *p, lh_chunk *out, uint64_t *damage)
{
    pthread_mutex_lock(&p->lock);
    if (p->holding) { /* done with the previous chunk: its slot is free */
        WR(p->ring[(p->head + SLOTS - 1) % SLOTS].state, FREE);
        p->holding = 0;
        pthread_cond_broadcast(&p->changed);
    }
    /* The next slot in order is being read, or will be unless the claims
     * ended before it (after the footer, or past the end of the file). */
    slot *s = &p->ring[p->head];
#define WAITING (__atomic_load_n(&s->state, __ATOMIC_ACQUIRE) != FILLED && !(RD(s->state) == FREE && RD(p->end)))
    if (WAITING)
        LOOK(p, WAITING);
    while (WAITING)
        pthread_cond_wait(&p->changed, &p->lock);
#undef WAITING
    memset(out, 0, sizeof(*out));
    int rc = s->state == FILLED ? s->rc : 0;
    if (rc > 0) {
        *out = s->ch;
        p->head = (p->head + 1) % SLOTS;
        p->holding = 1;
    } else if (rc < 0) {
        *damage = s->damage; /* stays: every later call sees it again */
    }
    pthread_mutex_unlock(&p->lock);
    return rc;
}

void lh_prefetch_stop(lh_prefetch *p, lh_read_stats *read)
{
    if (!p)
        return;
    pthread_mutex_lock(&p->lock);
    WR(p->stop, 1);
    pthread_cond_broadcast(&p->changed);
    pthread_mutex_unlock(&p->lock);
    for (int i = 0; i < p->n_threads; i++)
        pthread_join(p->thread[i], NULL);
    if (read) {
        read->chunks += p->read.chunks;
        read->event_chunks += p->read.event_chunks;
        read->events += p->read.events;
    }
    free_readers(p);
    pthread_mutex_destroy(&p->lock);
    pthread_cond_destroy(&p->changed);
    free(p);
}
