/*
 * sample.c - --sample SIZE: which allocations are recorded, and which
 * addresses belong to recorded ones.
 *
 * Every byte allocated is a sample point with probability 1/SIZE, as
 * tcmalloc samples: each thread counts down an exponentially distributed
 * number of bytes, and the allocation that takes the count to zero is
 * recorded with its true size (an allocation of SIZE or more always is).
 * Because the exponential is memoryless, an allocation of s bytes is taken
 * with probability 1 - exp(-s/SIZE) whatever came before, which is what
 * the replay divides by (FORMAT.md, ProcessInfo.sample_interval).
 *
 * A free is recorded only when its address is in the set of recorded live
 * blocks. Every free asks, so the question is lock-free: the set is 64
 * shards of open addressing, each guarded by a sequence count that
 * writers (a recorded allocation or free: rare) bump around their change
 * under the shard's spinlock, and readers retry on. A shard's table
 * carries its own mask in slot 0, so a reader never pairs a new mask with
 * an old table; replaced tables stay mapped, as a reader may be in one.
 *
 * Most frees are of blocks that were not recorded, and a table probe is a
 * cache miss on a busy heap; so in front of each table there is a counting
 * filter, 512 one-byte counters of how many recorded blocks hash there
 * (32 KiB in all, mostly in L1): a zero answers "not recorded" at once.
 * Counters change only under their shard's lock, before the insertion and
 * after the removal, so a recorded block's counter is never zero; one that
 * reaches 255 stays there (the table then answers).
 */
#include <math.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

#include "rec.h"

#define SHARDS LH_SAMPLE_SHARDS
#define FIRST_SLOTS 1024            /* per shard, a power of two */
#define FILTER LH_SAMPLE_FILTER
#define STUCK 255

typedef struct {
    uint32_t seq;                   /* odd while a writer changes the table */
    uint32_t lock;
    uint64_t *table;                /* [0] = mask, then mask + 1 addresses, 0 = empty */
    uint64_t live;
} shard;

static shard shards[SHARDS];
LH_HIDDEN uint8_t lh_sample_filter[SHARDS][FILTER];
#define filter lh_sample_filter

/* The hash's bits (lh_sample_hash): 0-5 the shard, 8 and up the table
 * slot, 20 and up the filter counter, so the three are independent. */
static inline uint8_t *counter_of(uint64_t h) { return &filter[h & (SHARDS - 1)][(h >> 20) & (FILTER - 1)]; }
LH_HIDDEN uint64_t lh_sample_bytes;       /* the interval; 0 = every allocation */
LH_HIDDEN __thread int64_t lh_sample_until LH_TLS;
static uint64_t seed;
static __thread uint64_t rng LH_TLS;   /* 0 = this thread has not drawn yet */

#define interval lh_sample_bytes
#define until lh_sample_until

static uint64_t next_random(void)
{
    /* splitmix64: one multiply-xorshift chain, good enough for intervals */
    uint64_t z = (rng += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

/* Bytes to the next sample point: exponential with mean interval. */
static int64_t draw(void)
{
    double u = ((double)(next_random() >> 11) + 1.0) / 9007199254740993.0; /* (0, 1] */
    double x = -log(u) * (double)interval;
    return x < 1 ? 1 : x > 9e18 ? INT64_MAX : (int64_t)x;
}

static void seed_thread(void)
{
    static uint32_t threads;
    uint32_t n = __atomic_fetch_add(&threads, 1, __ATOMIC_RELAXED);
    if (seed) {
        /* LEAKHUNT_SAMPLE_SEED: the same draws in the same thread order */
        rng = lh_mix(seed, n + 1);
    } else {
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        rng = lh_mix(lh_mix((uint64_t)ts.tv_nsec, (uint64_t)getpid()), (uint64_t)&until + n);
    }
    if (!rng)
        rng = 1;
    until = draw();
}

int lh_sample_slow(size_t size)
{
    if (!rng) {
        seed_thread();
        until -= (int64_t)size;
        if (until > 0)
            return 0;
    }
    until = draw();
    return 1;
}

/* --- the set of recorded live addresses ------------------------------------- */

static inline shard *shard_of(uint64_t a, uint64_t *h)
{
    *h = lh_sample_hash((const void *)(uintptr_t)a);
    return &shards[*h & (SHARDS - 1)];
}

static void shard_lock(shard *s)
{
    while (__atomic_exchange_n(&s->lock, 1, __ATOMIC_ACQUIRE))
        while (__atomic_load_n(&s->lock, __ATOMIC_RELAXED))
            sched_yield();
}

static void shard_unlock(shard *s) { __atomic_store_n(&s->lock, 0, __ATOMIC_RELEASE); }

static void write_begin(shard *s)
{
    __atomic_store_n(&s->seq, s->seq + 1, __ATOMIC_RELAXED);
    __atomic_thread_fence(__ATOMIC_RELEASE);
}

static void write_end(shard *s) { __atomic_store_n(&s->seq, s->seq + 1, __ATOMIC_RELEASE); }

static uint64_t *table_new(uint64_t slots)
{
    uint64_t *t = lh_map_grow(NULL, 0, (slots + 1) * sizeof(uint64_t));
    if (t)
        t[0] = slots - 1;
    return t;
}

static void table_put(uint64_t *t, uint64_t h, uint64_t a)
{
    uint64_t mask = t[0];
    for (uint64_t j = (h >> 8) & mask;; j = (j + 1) & mask)
        if (!t[1 + j]) {
            __atomic_store_n(&t[1 + j], a, __ATOMIC_RELAXED);
            return;
        }
}

int lh_sample_init(uint64_t bytes, uint64_t seed_value)
{
    seed = seed_value;
    if (!bytes)
        return 0;
    for (int i = 0; i < SHARDS; i++)
        if (!shards[i].table && !(shards[i].table = table_new(FIRST_SLOTS)))
            return -1;
    /* the tables before the interval: a hook that sees it finds them */
    __atomic_store_n(&interval, bytes, __ATOMIC_RELEASE);
    return 0;
}

/* A recorded block at a: remember it. 0, or -1 when no memory was left
 * (the caller then does not record it either). */
int lh_sample_insert(const void *p)
{
    uint64_t a = (uintptr_t)p, h;
    shard *s = shard_of(a, &h);
    int rc = 0;
    shard_lock(s);
    uint64_t *t = s->table;
    if ((s->live + 1) * 2 > t[0] + 1) {
        uint64_t *n = table_new((t[0] + 1) * 2);
        if (!n) {
            rc = -1;
            goto out;
        }
        for (uint64_t j = 0; j <= t[0]; j++)
            if (t[1 + j])
                table_put(n, lh_sample_hash((const void *)(uintptr_t)t[1 + j]), t[1 + j]);
        write_begin(s);
        __atomic_store_n(&s->table, n, __ATOMIC_RELEASE);
        t = n;
    } else {
        write_begin(s);
    }
    uint8_t *c = counter_of(h);
    if (*c != STUCK)
        __atomic_store_n(c, (uint8_t)(*c + 1), __ATOMIC_RELAXED);
    table_put(t, h, a);
    s->live++;
    write_end(s);
out:
    shard_unlock(s);
    return rc;
}

/* Whether a is a recorded live block: lock-free, retried while a writer is
 * inside the shard. */
static int contains(shard *s, uint64_t h, uint64_t a)
{
    for (;;) {
        uint32_t seq = __atomic_load_n(&s->seq, __ATOMIC_ACQUIRE);
        if (seq & 1) {
            sched_yield();
            continue;
        }
        const uint64_t *t = __atomic_load_n(&s->table, __ATOMIC_ACQUIRE);
        uint64_t mask = t[0];
        int found = 0;
        for (uint64_t j = (h >> 8) & mask;; j = (j + 1) & mask) {
            uint64_t v = __atomic_load_n(&t[1 + j], __ATOMIC_RELAXED);
            if (v == a) { found = 1; break; }
            if (!v) break;
        }
        __atomic_thread_fence(__ATOMIC_ACQUIRE);
        if (__atomic_load_n(&s->seq, __ATOMIC_RELAXED) == seq)
            return found;
    }
}

/* Forget a, if it is there: 1 if it was (its free is to be recorded).
 * Its filter counter was not zero (lh_sample_remove in rec.h). */
int lh_sample_remove_slow(const void *p)
{
    uint64_t a = (uintptr_t)p, h;
    shard *s = shard_of(a, &h);
    if (!contains(s, h, a))
        return 0;
    shard_lock(s);
    uint64_t *t = s->table, mask = t[0], j = (h >> 8) & mask;
    while (t[1 + j] && t[1 + j] != a)
        j = (j + 1) & mask;
    int was = t[1 + j] == a;
    if (was) {
        /* Backward-shift deletion: no tombstones, so a lookup of an address
         * that is not there (most frees) stops at the first empty slot. */
        write_begin(s);
        uint64_t i = j;
        for (uint64_t k = (i + 1) & mask; t[1 + k]; k = (k + 1) & mask) {
            uint64_t home = (lh_sample_hash((const void *)(uintptr_t)t[1 + k]) >> 8) & mask;
            /* k's entry may move to i when its home is not in (i, k]. */
            if (((k - home) & mask) >= ((k - i) & mask)) {
                __atomic_store_n(&t[1 + i], t[1 + k], __ATOMIC_RELAXED);
                i = k;
            }
        }
        __atomic_store_n(&t[1 + i], 0, __ATOMIC_RELAXED);
        s->live--;
        write_end(s);
        uint8_t *c = counter_of(h);
        if (*c != STUCK)
            __atomic_store_n(c, (uint8_t)(*c - 1), __ATOMIC_RELAXED);
    }
    shard_unlock(s);
    return was;
}

/* fork: the child must not inherit a shard locked by a thread that does
 * not exist there. */
void lh_sample_fork_prepare(void)
{
    if (interval)
        for (int i = 0; i < SHARDS; i++)
            shard_lock(&shards[i]);
}

void lh_sample_fork_parent(void)
{
    if (interval)
        for (int i = SHARDS - 1; i >= 0; i--)
            shard_unlock(&shards[i]);
}

/* The child draws its own intervals: the same stream as the parent's
 * would make their samples fall on the same allocations. */
void lh_sample_fork_child(void)
{
    lh_sample_fork_parent();
    rng = 0;
    until = 0;
}
