/*
 * tbuf.c - each thread's place in the ring: its slot, and the push.
 *
 * A thread claims a free slot of the process's ring on its first event
 * (a compare-and-swap, no lock) and writes records at its head; the
 * collector reads them at the tail. A push is a copy and a release store:
 * nothing the thread can be interrupted, cancelled or forked in the middle
 * of leaves anything held that another thread would wait for.
 *
 * The thread's private state (lh_tbuf: cursor, stack and Python caches)
 * belongs to the slot, not to the thread: tbufs[i] serves whoever holds
 * slot i. A thread that has run its key destructors still records (other
 * destructors and its allocator's shutdown free memory after ours ran)
 * into the same slot, so nothing is recycled by the thread itself: the
 * collector frees the slot once the thread is gone, and the next thread
 * to claim it takes over the caches, which name process-wide ids.
 *
 * When the ring is full the collector is behind: the thread nudges it and
 * waits for room as long as the collector makes progress (on a machine
 * with more busy threads than cores, the program then runs at the pace
 * the collector can write, and nothing is lost); once the collector has
 * not moved for RING_WAIT_NS the thread drops the record and counts it
 * (slot->lost, reported in the trace), and does not wait again until the
 * ring has emptied to half, so a stalled or dead collector costs the
 * program a counter update per event, not a wait. Likewise, boundedly,
 * for a slot when every slot is taken.
 */
#include <errno.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "rec.h"

#define RING_WAIT_NS 200000000ull /* 0.2 s without progress of the collector: drop */
#define CHECK_EVERY 4096          /* events between lh_session_check calls */
#define CLAIM_BACKOFF 1024        /* events dropped before trying for a slot again */

static lh_tbuf tbufs[LH_RING_SLOTS];
static unsigned registered; /* threads that ever claimed a slot */

static __thread lh_tbuf *self LH_TLS;
static __thread uint32_t claim_backoff LH_TLS;
static pthread_key_t exit_key;
static pthread_once_t exit_key_once = PTHREAD_ONCE_INIT;

/* Key destructor: the slot stays this thread's until it is gone. */
static void on_thread_exit(void *arg)
{
    lh_tbuf *tb = arg;
    if (tb->slot && tb->ring == lh_ring)
        __atomic_store_n(&tb->slot->state, LH_SLOT_EXITING, __ATOMIC_RELEASE);
}

static void make_exit_key(void)
{
    pthread_key_create(&exit_key, on_thread_exit);
}

/* A free slot of the current ring for the calling thread, or NULL. */
static lh_tbuf *claim_slot(void)
{
    lh_ring_header *h = lh_ring;
    if (!h)
        return NULL;
    uint32_t tid = (uint32_t)syscall(SYS_gettid);
    uint32_t n = h->n_slots, start = tid % n;
    for (uint32_t k = 0; k < n; k++) {
        uint32_t i = (start + k) % n;
        lh_ring_slot *s = lh_ring_slot_at(h, i);
        uint32_t want = LH_SLOT_FREE;
        if (__atomic_load_n(&s->state, __ATOMIC_RELAXED) != LH_SLOT_FREE
            || !__atomic_compare_exchange_n(&s->state, &want, LH_SLOT_USED, 0, __ATOMIC_ACQUIRE,
                                            __ATOMIC_RELAXED))
            continue;
        __atomic_fetch_or(&h->claimed[i / 64], 1ull << (i % 64), __ATOMIC_SEQ_CST);
        lh_tbuf *tb = &tbufs[i];
        void *stack_cache = tb->stack_cache, *py_cache = tb->py_cache, *unwind_cache = tb->unwind_cache;
        memset(tb, 0, sizeof(*tb)); /* in_loader 0 too: the last holder is gone */
        tb->stack_cache = stack_cache;
        tb->py_cache = py_cache;
        tb->unwind_cache = unwind_cache;
        s->tid = tid;
        s->index = __atomic_fetch_add(&h->next_index, 1, __ATOMIC_RELAXED);
        s->entry = 0;
        tb->tid = tid;
        tb->index = s->index;
        tb->slot = s;
        tb->ring = h;
        tb->rec = (lh_raw *)(s + 1);
        tb->mask = h->ring_records - 1;
        tb->head = s->head;
        tb->tail_seen = __atomic_load_n(&s->tail, __ATOMIC_ACQUIRE);
        tb->entry = &s->entry;
        tb->until_check = CHECK_EVERY;
        tb->entry_plain = __atomic_load_n(&h->membarrier_ok, __ATOMIC_ACQUIRE);
        __atomic_add_fetch(&s->gen, 1, __ATOMIC_RELEASE); /* the collector may read tid and index now */
        lh_stack_thread_init(tb);
        if (__atomic_add_fetch(&registered, 1, __ATOMIC_RELAXED) > 1)
            lh_clock_threads(); /* a thread pthread_create did not announce */
        pthread_once(&exit_key_once, make_exit_key);
        pthread_setspecific(exit_key, tb);
        self = tb;
        return tb;
    }
    return NULL;
}

lh_tbuf *lh_tbuf_self(void)
{
    lh_tbuf *tb = self;
    if (LH_LIKELY(tb != NULL))
        return tb;
    if (!lh_ring)
        return NULL;
    if (claim_backoff) {
        claim_backoff--;
        return NULL;
    }
    if ((tb = claim_slot()))
        return tb;
    /* Every slot taken: threads come faster than the collector hands
     * slots back (it does at each drain, every few ms). Wait, boundedly. */
    lh_session_wake();
    uint64_t start = lh_mono_ns();
    while (lh_session_collector_alive() && lh_mono_ns() - start < RING_WAIT_NS) {
        struct timespec ts = { 0, 1000000 };
        nanosleep(&ts, NULL);
        if ((tb = claim_slot()))
            return tb;
    }
    claim_backoff = CLAIM_BACKOFF;
    return NULL;
}

static void count_lost(lh_tbuf *tb, uint64_t n)
{
    __atomic_add_fetch(&tb->slot->lost, n, __ATOMIC_RELAXED);
}

/* Room for n records, waiting a bounded time for the collector. */
static int make_room(lh_tbuf *tb, uint64_t n)
{
    uint64_t cap = (uint64_t)tb->mask + 1;
    tb->tail_seen = __atomic_load_n(&tb->slot->tail, __ATOMIC_ACQUIRE);
    if (tb->head - tb->tail_seen + n <= cap) {
        if (tb->dropping && tb->head - tb->tail_seen <= cap / 2)
            tb->dropping = 0;
        if (!tb->dropping)
            return 0;
    }
    if (tb->dropping || n > cap)
        return -1;
    /* Wait while the collector makes progress (an overloaded machine: the
     * program runs at the collector's pace, and nothing is lost); drop
     * once it has not moved for RING_WAIT_NS (stopped, or gone). */
    lh_session_wake();
    uint64_t last_move = lh_mono_ns(), tail = tb->tail_seen, pause_ns = 20000;
    while (lh_session_collector_alive()) {
        struct timespec ts = { 0, (long)pause_ns };
        nanosleep(&ts, NULL);
        if (pause_ns < 1000000)
            pause_ns *= 2;
        tb->tail_seen = __atomic_load_n(&tb->slot->tail, __ATOMIC_ACQUIRE);
        if (tb->head - tb->tail_seen + n <= cap)
            return 0;
        uint64_t now = lh_mono_ns();
        if (tb->tail_seen != tail) {
            tail = tb->tail_seen;
            last_move = now;
        } else if (now - last_move > RING_WAIT_NS) {
            break;
        }
    }
    tb->dropping = 1;
    return -1;
}

static inline void publish(lh_tbuf *tb, uint64_t records)
{
    uint64_t cap = (uint64_t)tb->mask + 1;
    tb->head += records;
    __atomic_store_n(&tb->slot->head, tb->head, __ATOMIC_RELEASE);
    /* Half full: wake the collector once, rather than wait for it later. */
    if (LH_UNLIKELY(tb->head - tb->tail_seen > cap / 2)) {
        tb->tail_seen = __atomic_load_n(&tb->slot->tail, __ATOMIC_ACQUIRE);
        if (tb->head - tb->tail_seen > cap / 2 && !tb->woke) {
            tb->woke = 1;
            lh_session_wake();
        } else if (tb->head - tb->tail_seen <= cap / 4) {
            tb->woke = 0;
        }
    }
}

/* Every CHECK_EVERY records pushed or dropped: lh_session_check after
 * the record (a dropping thread must still notice a dead collector). */
static inline void count_down(lh_tbuf *tb)
{
    if (LH_UNLIKELY(--tb->until_check == 0)) {
        tb->until_check = CHECK_EVERY;
        tb->check_due = 1;
    }
}

int lh_tbuf_push(lh_tbuf *tb, const lh_raw *ev)
{
    count_down(tb);
    uint64_t ns = ev->ns < tb->last_ns ? tb->last_ns : ev->ns; /* an early RDTSC (clock.c) */
    if (LH_UNLIKELY(tb->head - tb->tail_seen > tb->mask) || LH_UNLIKELY(tb->dropping)) {
        __atomic_store_n(tb->entry, ns, __ATOMIC_RELAXED); /* while we wait: the cut may pass nothing later */
        if (make_room(tb, 1) < 0) {
            count_lost(tb, 1);
            return -1;
        }
    }
    lh_raw *e = &tb->rec[tb->head & tb->mask];
    *e = *ev;
    e->ns = ns;
    tb->last_ns = ns;
    publish(tb, 1);
    return 0;
}

void lh_tbuf_push_blob(uint32_t type, const void *data, size_t bytes)
{
    lh_tbuf *tb = lh_tbuf_self();
    if (!tb) {
        if (lh_ring)
            __atomic_add_fetch(&lh_ring->lost, 1, __ATOMIC_RELAXED);
        return;
    }
    if (bytes > LH_BLOB_MAX) {
        count_lost(tb, 1);
        return;
    }
    uint64_t n = 1 + LH_RAW_BLOB_RECORDS(bytes);
    lh_tb_lock(tb);
    uint64_t ns = lh_stamp_event();
    if (ns < tb->last_ns)
        ns = tb->last_ns;
    __atomic_store_n(tb->entry, ns, __ATOMIC_RELAXED);
    if (tb->head - tb->tail_seen + n > (uint64_t)tb->mask + 1 || tb->dropping) {
        if (make_room(tb, n) < 0) {
            count_lost(tb, 1);
            lh_tb_unlock(tb);
            return;
        }
    }
    lh_raw *hdr = &tb->rec[tb->head & tb->mask];
    *hdr = (lh_raw){ ns, type, bytes, 0, 0, LH_RAW_BLOB, 0 };
    const char *p = data;
    for (uint64_t i = 1; i < n; i++) {
        size_t off = (size_t)(i - 1) * sizeof(lh_raw);
        size_t len = bytes - off < sizeof(lh_raw) ? bytes - off : sizeof(lh_raw);
        memcpy(&tb->rec[(tb->head + i) & tb->mask], p + off, len);
    }
    tb->last_ns = ns;
    publish(tb, n);
    lh_tb_unlock(tb);
}

int lh_tbuf_any_in_loader(void)
{
    lh_tbuf *me = self;
    for (uint32_t i = 0; i < LH_RING_SLOTS; i++)
        if (&tbufs[i] != me && __atomic_load_n(&tbufs[i].in_loader, __ATOMIC_ACQUIRE))
            return 1;
    return 0;
}

void lh_tbuf_check(lh_tbuf *tb)
{
    tb->check_due = 0;
    if (!tb->entry_plain && tb->ring == lh_ring)
        tb->entry_plain = __atomic_load_n(&tb->ring->membarrier_ok, __ATOMIC_ACQUIRE);
    lh_session_check();
}

void lh_tbuf_after_fork_child(void)
{
    /* Only the forking thread exists now, in a ring of its own to come:
     * it claims a slot there at its next event. */
    self = NULL;
    claim_backoff = 0;
    registered = 0;
}
