/*
 * stacks.c - capture the caller's stack and intern it in the stack trie.
 *
 * A stack is stored as a path in a trie of (parent, ip) nodes, root = the
 * outermost frame, so stacks that share callers share nodes and an event
 * carries one 32-bit id: its innermost node. Nodes are created under one
 * mutex, but a thread first looks its IP array up in a small cache of its
 * own (hash of the IPs -> node id), so the mutex is taken only for stacks
 * the thread has not seen recently. Nodes are never freed, so cached ids
 * stay valid for the life of the process, across forks too.
 *
 * The node arrays live in the ring (ring.h), where the collector reads
 * them: a node is written, then the published count moves past it with a
 * release store, all under the mutex, so any id a thread can hold names a
 * node the collector can read. The hash table is the process's own.
 */
#include <string.h>

#define UNW_LOCAL_ONLY
#include <libunwind.h>

#include "maptable.h"
#include "rec.h"

/* Two ways a set: stacks whose hashes share a set (1,024 stacks in 4,096
 * direct-mapped slots collided often enough that a fifth of the capture's
 * time was the trie walk under the mutex) both stay. */
#define CACHE_SETS 4096
#define CACHE_WAYS 2 /* (the insertion below moves way 0 to way 1) */

typedef struct {
    uint64_t hash;
    uint32_t id;
    uint32_t depth;
} cache_slot;

typedef struct {
    cache_slot slot[CACHE_SETS * CACHE_WAYS]; /* set i: slot[2i] the newer, slot[2i + 1] */
    uintptr_t stack_lo, stack_hi; /* frame-pointer walk bounds */
} stack_cache;

static pthread_mutex_t trie_lock = PTHREAD_MUTEX_INITIALIZER;
static uint32_t *node_parent; /* index = id; id 0 is the empty stack */
static uint64_t *node_ip;
static uint32_t node_count = 1, node_cap;
static uint32_t *node_published; /* the ring's count */
static lh_maptable table;         /* (parent, ip) -> node id */

static uintptr_t self_lo, self_hi;

static inline uint64_t node_hash(uint32_t parent, uint64_t ip)
{
    return lh_mix(lh_mix(0x1234567ull, parent), ip);
}

static uint64_t hash_of_node(const void *ctx, uint32_t id)
{
    (void)ctx;
    return node_hash(node_parent[id], node_ip[id]);
}

/* Node id of (parent, ip), created if new. trie_lock held. 0 on OOM. */
static uint32_t intern(uint32_t parent, uint64_t ip)
{
    uint64_t h = node_hash(parent, ip);
    uint32_t s = lh_maptable_start(&table, h);
    for (; table.slot && table.slot[s]; s = lh_maptable_next(&table, s)) {
        uint32_t id = table.slot[s];
        if (node_parent[id] == parent && node_ip[id] == ip)
            return id;
    }
    if (node_count >= node_cap)
        return 0; /* the ring's table is full: the stack keeps its outer part */
    if (lh_maptable_full(&table)) {
        if (lh_maptable_grow(&table, 1u << 16, hash_of_node, NULL) < 0)
            return 0;
        s = lh_maptable_free_slot(&table, h);
    }
    uint32_t id = node_count++;
    node_parent[id] = parent;
    node_ip[id] = ip;
    lh_maptable_put(&table, s, id);
    __atomic_store_n(node_published, node_count, __ATOMIC_RELEASE);
    return id;
}

void lh_stack_init(void)
{
    lh_modules_self_range(&self_lo, &self_hi);
    /* libunwind's default cache is global and locked: with several
     * threads allocating it becomes the recorder's hottest lock. */
    lh_unwinding = 1; /* libunwind opens its memory-check pipe here (fdguard.c) */
    unw_set_caching_policy(unw_local_addr_space, UNW_CACHE_PER_THREAD);
    lh_unwinding = 0;
    lh_python_init();
}

static int fp_walk(stack_cache *c, void **ips, int max)
{
    if (!c->stack_hi) {
        pthread_attr_t a;
        void *addr;
        size_t size;
        c->stack_hi = 1; /* tried */
        if (pthread_getattr_np(pthread_self(), &a) == 0) {
            if (pthread_attr_getstack(&a, &addr, &size) == 0) {
                c->stack_lo = (uintptr_t)addr;
                c->stack_hi = (uintptr_t)addr + size;
            }
            pthread_attr_destroy(&a);
        }
    }
    uintptr_t fp = (uintptr_t)__builtin_frame_address(0);
    int n = 0;
    while (n < max && fp >= c->stack_lo && fp + 16 <= c->stack_hi && !(fp & 7)) {
        uintptr_t *frame = (uintptr_t *)fp;
        uintptr_t ret = frame[1];
        if (!ret)
            break;
        ips[n++] = (void *)ret;
        if (frame[0] <= fp)
            break;
        fp = frame[0];
    }
    return n;
}

/* unw_backtrace(raw, max), from unwind.c's cached rules where they do.
 * Inlined: either unwinder is called from lh_stack_capture itself, so
 * raw[0] is an address in it and the frames after are the same. */
static inline __attribute__((always_inline)) int backtrace_here(lh_tbuf *tb, void **raw, int max)
{
    int n = lh_unwind(tb, raw, max);
    if (LH_LIKELY(n >= 0) && LH_LIKELY(!lh_cfg.verify_unwind))
        return n;
    if (lh_cfg.verify_unwind)
        lh_unwind_keep(tb, raw, n);
    lh_forkgate_enter(&tb->in_loader); /* libunwind takes the loader's lock */
    lh_unwinding = 1; /* fdguard.c: libunwind's pipe calls come from here */
    n = unw_backtrace(raw, max);
    lh_unwinding = 0;
    lh_forkgate_leave(&tb->in_loader);
    if (lh_cfg.verify_unwind)
        lh_unwind_check(tb, raw, n);
    return n;
}

uint32_t lh_stack_capture(lh_tbuf *tb)
{
    void *raw[LH_MAX_DEPTH + 16];
    int max = lh_cfg.depth + 16, n;
    if (lh_cfg.unwind_fp) {
        n = tb->stack_cache ? fp_walk(tb->stack_cache, raw, max) : 0;
    } else {
        int window = lh_python_window();
        if (window && window < max) {
            n = backtrace_here(tb, raw, window);
            if (n == window && !lh_python_has_eval(raw, n))
                n = backtrace_here(tb, raw, max);
        } else {
            n = backtrace_here(tb, raw, max);
        }
    }

    /* Skip our own frames (the hook and what it called). */
    int first = 0;
    while (first < n && (uintptr_t)raw[first] >= self_lo && (uintptr_t)raw[first] < self_hi)
        first++;
    int depth = n - first;
    void **ips = raw + first; /* innermost first */
    void *spliced[LH_MAX_DEPTH + 16];
    int sn = lh_python_splice(tb, ips, depth, n == max, spliced, LH_MAX_DEPTH + 16);
    if (sn >= 0) { /* interpreter frames replaced by Python frames */
        ips = spliced;
        depth = sn;
    }
    if (depth > lh_cfg.depth)
        depth = lh_cfg.depth;
    if (depth <= 0)
        return 0;

    /* Two independent chains (even and odd frames) run in parallel in the
     * CPU; one serial chain waits a multiply per frame. */
    uint64_t h = (uint64_t)depth, h2 = 0x51ed27fb3a0c9d4bull;
    int k = 0;
    for (; k + 1 < depth; k += 2) {
        h = lh_mix(h, (uint64_t)ips[k]);
        h2 = lh_mix(h2, (uint64_t)ips[k + 1]);
    }
    if (k < depth)
        h = lh_mix(h, (uint64_t)ips[k]);
    h = lh_mix(h, h2);

    stack_cache *c = tb->stack_cache;
    cache_slot *set = NULL;
    if (c) {
        set = &c->slot[(h & (CACHE_SETS - 1)) * CACHE_WAYS];
        /* (An id past node_count was forgotten by lh_stack_bind.) */
        uint32_t known = __atomic_load_n(&node_count, __ATOMIC_RELAXED);
        for (int w = 0; w < CACHE_WAYS; w++)
            if (set[w].hash == h && set[w].depth == (uint32_t)depth && set[w].id && set[w].id < known)
                return set[w].id;
    }

    uint32_t id = 0;
    pthread_mutex_lock(&trie_lock);
    for (int i = depth - 1; i >= 0; i--) {
        uint32_t next = intern(id, (uint64_t)ips[i]);
        if (!next)
            break; /* out of memory: keep the outer part */
        id = next;
    }
    pthread_mutex_unlock(&trie_lock);

    if (set) {
        set[1] = set[0]; /* the older one goes */
        set[0] = (cache_slot){ h, id, (uint32_t)depth };
    }
    return id;
}

void lh_stack_thread_init(lh_tbuf *tb)
{
    if (!tb->stack_cache)
        tb->stack_cache = lh_map_grow(NULL, 0, sizeof(stack_cache));
    stack_cache *c = tb->stack_cache;
    if (c)
        c->stack_lo = c->stack_hi = 0; /* a new thread: its own stack bounds (the ids stay good) */
    lh_unwind_thread_init(tb);
}

void lh_stack_bind(uint32_t *parent, uint64_t *ip, uint32_t cap, uint32_t *count)
{
    pthread_mutex_lock(&trie_lock);
    int forget = node_count > cap; /* a smaller ring (fork under RLIMIT_AS): ids past it are forgotten */
    if (forget)
        node_count = cap;
    if (node_parent && node_count > 1) {
        memcpy(parent, node_parent, node_count * sizeof(uint32_t));
        memcpy(ip, node_ip, node_count * sizeof(uint64_t));
    }
    node_parent = parent;
    node_ip = ip;
    node_cap = cap;
    node_published = count;
    if (forget) {
        /* The table must not answer with a forgotten id (past the new
         * arrays): it is made again from the ids kept. The threads'
         * caches check ids against node_count, which no longer grows. */
        if (table.slot)
            munmap(table.slot, ((size_t)table.mask + 1) * sizeof(uint32_t));
        table = (lh_maptable){ 0 };
        for (uint32_t id = 1; id < node_count; id++) {
            if (lh_maptable_full(&table) && lh_maptable_grow(&table, 1u << 16, hash_of_node, NULL) < 0)
                break; /* no memory: stacks through the ids after it keep their outer part */
            lh_maptable_put(&table, lh_maptable_free_slot(&table, hash_of_node(NULL, id)), id);
        }
    }
    __atomic_store_n(count, node_count, __ATOMIC_RELEASE);
    pthread_mutex_unlock(&trie_lock);
}

void lh_stack_fork_prepare(void)
{
    pthread_mutex_lock(&trie_lock);
    lh_python_fork_prepare();
}
void lh_stack_fork_parent(void)
{
    lh_python_fork_parent();
    pthread_mutex_unlock(&trie_lock);
}
void lh_stack_fork_child(void)
{
    pthread_mutex_init(&trie_lock, NULL);
    lh_python_fork_child();
}
