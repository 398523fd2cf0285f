/*
 * tbuf.c - per-thread event buffers and the registry of threads.
 *
 * Every thread appends to its own chain of segments under its own mutex,
 * which only the writer thread ever contends for (once per flush), so there
 * is no global lock per event. Segments come from mmap, never from the
 * allocator being traced, and go back to a small pool when drained.
 */
#include <errno.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "rec.h"

#define SEG_EVENTS 8192
/* Drained segments kept for reuse (about 80 MB at most): fresh mmap'ed
 * pages cost a page fault and a zeroing each. */
#define POOL_MAX 256
/* Wake the writer when a thread has this many events queued. */
#define KICK_EVENTS (4 * SEG_EVENTS)
/* A thread that gets this far ahead of the writer waits for it. */
#define BACKLOG_WAIT (1u << 22)

LH_HIDDEN uint64_t lh_lost_events;

static pthread_mutex_t registry_lock = PTHREAD_MUTEX_INITIALIZER;
static lh_tbuf *registry;       /* live and recently exited threads */
static lh_tbuf *spare;          /* reclaimed, reusable */
static uint32_t next_index;

static unsigned registered; /* threads that ever had a buffer */
static pthread_mutex_t pool_lock = PTHREAD_MUTEX_INITIALIZER;
static lh_seg *pool;
static int pool_n;

static __thread lh_tbuf *self LH_TLS;
static pthread_key_t exit_key;
static pthread_once_t exit_key_once = PTHREAD_ONCE_INIT;

lh_seg *lh_seg_new(size_t cap)
{
    lh_seg *s = NULL;
    if (cap == SEG_EVENTS) {
        pthread_mutex_lock(&pool_lock);
        if (pool) { s = pool; pool = s->next; pool_n--; }
        pthread_mutex_unlock(&pool_lock);
    }
    if (!s) {
        void *p = mmap(NULL, sizeof(lh_seg) + cap * sizeof(lh_raw),
                       PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
        if (p == MAP_FAILED)
            return NULL;
        s = p;
        s->cap = cap;
    }
    s->next = NULL;
    s->n = 0;
    return s;
}

void lh_seg_free(lh_seg *s)
{
    if (s->cap == SEG_EVENTS) {
        pthread_mutex_lock(&pool_lock);
        if (pool_n < POOL_MAX) {
            s->next = pool; pool = s; pool_n++;
            s = NULL;
        }
        pthread_mutex_unlock(&pool_lock);
    }
    if (s)
        munmap(s, sizeof(lh_seg) + s->cap * sizeof(lh_raw));
}

static void on_thread_exit(void *arg)
{
    lh_tbuf *tb = arg;
    /* Later destructors may still allocate: they get a fresh buffer. */
    self = NULL;
    lh_tb_lock(tb);
    tb->exited = 1;
    lh_tb_unlock(tb);
}

static void make_exit_key(void)
{
    pthread_key_create(&exit_key, on_thread_exit);
}

lh_tbuf *lh_tbuf_self(void)
{
    if (LH_LIKELY(self != NULL))
        return self;
    pthread_once(&exit_key_once, make_exit_key);

    pthread_mutex_lock(&registry_lock);
    lh_tbuf *tb = spare;
    if (tb) {
        spare = tb->next;
    } else {
        void *p = mmap(NULL, sizeof(lh_tbuf), PROT_READ | PROT_WRITE,
                       MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
        if (p == MAP_FAILED) {
            pthread_mutex_unlock(&registry_lock);
            return NULL;
        }
        tb = p;
        tb->lock = 0;
        tb->index = next_index++;
    }
    tb->head = tb->tail = NULL;
    tb->queued = 0;
    tb->inflight_ns = 0;
    tb->last_ns = 0;
    tb->tid = (uint32_t)syscall(SYS_gettid);
    tb->announced = 0;
    tb->exited = 0;
    tb->next = registry;
    registry = tb;
    if (++registered > 1)
        lh_clock_threads(); /* a thread pthread_create did not announce */
    pthread_mutex_unlock(&registry_lock);

    self = tb;
    pthread_setspecific(exit_key, tb);
    return tb;
}

int lh_tbuf_push(lh_tbuf *tb, const lh_raw *ev)
{
    lh_seg *s = tb->tail;
    if (LH_UNLIKELY(!s || s->n == s->cap)) {
        s = lh_seg_new(SEG_EVENTS);
        if (!s) {
            __atomic_add_fetch(&lh_lost_events, 1, __ATOMIC_RELAXED);
            return -1;
        }
        if (tb->tail)
            tb->tail->next = s;
        else
            tb->head = s;
        tb->tail = s;
        if (tb->queued >= KICK_EVENTS)
            lh_output_kick();
        if (LH_UNLIKELY(lh_output_overdue()))
            tb->help_writer = 1;
    }
    lh_raw *e = &s->ev[s->n++];
    *e = *ev;
    if (LH_UNLIKELY(e->ns < tb->last_ns))
        e->ns = tb->last_ns; /* an early RDTSC (clock.c): keep the thread's order */
    tb->last_ns = e->ns;
    tb->queued++;
    if (LH_UNLIKELY(tb->queued >= BACKLOG_WAIT)) {
        /* The writer is behind by millions of events: let it catch up
         * rather than grow without bound. Not while holding our lock. */
        lh_tb_unlock(tb);
        for (int i = 0; i < 2000 && __atomic_load_n(&tb->queued, __ATOMIC_RELAXED) >= BACKLOG_WAIT / 2
                        && lh_state == 1; i++) {
            struct timespec ts = {0, 1000000};
            nanosleep(&ts, NULL);
        }
        lh_tb_lock(tb);
    }
    return 0;
}

void lh_tbuf_lock_registry(void) { pthread_mutex_lock(&registry_lock); }
void lh_tbuf_unlock_registry(void) { pthread_mutex_unlock(&registry_lock); }
lh_tbuf *lh_tbuf_first(void) { return registry; }

void lh_tbuf_reclaim_exited(void)
{
    lh_tbuf **pp = &registry;
    while (*pp) {
        lh_tbuf *tb = *pp;
        int gone;
        lh_tb_lock(tb);
        gone = tb->exited && tb->queued == 0 && tb->announced;
        lh_tb_unlock(tb);
        if (gone) {
            *pp = tb->next;
            tb->next = spare;
            spare = tb;
        } else {
            pp = &tb->next;
        }
    }
}

void lh_tbuf_after_fork_child(void)
{
    /* Only the forking thread exists now. Other threads' buffers and their
     * events belong to the parent's trace; their locks may be held. */
    pthread_mutex_init(&registry_lock, NULL);
    pthread_mutex_init(&pool_lock, NULL);
    registry = NULL;
    spare = NULL;
    pool = NULL; /* may be mid-update by the writer: start a new one */
    pool_n = 0;
    next_index = 0;
    registered = 0;
    lh_tbuf *tb = self;
    self = NULL;
    if (tb) {
        lh_seg *s = tb->head;
        while (s) {
            lh_seg *n = s->next;
            lh_seg_free(s);
            s = n;
        }
        tb->lock = 0;
        tb->head = tb->tail = NULL;
        tb->queued = 0;
        tb->index = next_index++;
        tb->next = NULL;
        spare = tb;
    }
}
