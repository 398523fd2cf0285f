/*
 * ring.h - the contract between the capture inside a traced process
 * (libleakhunt.so) and the collector outside it (leakhunt-record).
 *
 * Each traced process owns one ring file in the session directory, made
 * at start (or fork, or attach) as "tmp.<pid>.<n>", set up, mapped shared,
 * its descriptor closed, and renamed "ring.<pid>.<n>": the collector never
 * sees a half-made file. From then on the process holds no descriptor and
 * no thread of the recorder's; everything it records is in this mapping,
 * which outlives the process, so the collector drains it to the last event
 * whatever way the process ended.
 *
 *   header (LH_RING_HEADER bytes)   identity, clock, counters, requests
 *   slots[n_slots]                  one per live thread: an SPSC event ring
 *   nodes                           the stack trie: parent[] and ip[]
 *   pylog                           Python frames, appended under py_lock
 *
 * A slot's ring is written only by its thread (head) and read only by the
 * collector (tail): no lock. Blobs (module maps, marker labels) ride in
 * the same ring as a header record followed by their bytes in whole
 * records, so they are ordered with the thread's events.
 *
 * Merging threads by stamp needs to know that no event stamped before the
 * cut can still appear. A thread sets entry = 1 (with a full barrier)
 * before it reads the clock, then entry = the stamp until the event is
 * published, then 0; the collector reads its own clock, then every entry:
 * 0 means anything the thread publishes later was stamped later; a stamp
 * bounds the cut; 1 is a thread between the two stores, which the
 * collector waits out briefly (realloc keeps entry at its "before" stamp
 * for the whole call, which is what holds the cut below its free half).
 * The full barrier costs a locked instruction per event; a process that
 * could register for MEMBARRIER_CMD_GLOBAL_EXPEDITED (membarrier = 1) is
 * spared it once the collector has made that call work (membarrier_ok):
 * the collector then calls it between its clock read and the entries, and
 * the barrier it forces on every running thread of the process stands in
 * for theirs. A thread whose entry = 1 was not visible then had not
 * stored it yet, so its stamp is read after the call, after the cut.
 *
 * Nodes and Python frames are shared tables: written under their mutex,
 * published by a release store of the count, so an event the collector
 * has read can only name entries it can read too.
 */
#ifndef LH_RING_H
#define LH_RING_H

#include <stdint.h>

#define LH_RING_MAGIC 0x31474e52484b4c4cull /* "LLKHRNG1" */
#define LH_RING_VERSION 4
#define LH_RING_HEADER 16384u
#define LH_RING_SLOTS 256u          /* threads recorded at once */
#define LH_RING_EVENTS (1u << 17)   /* records per thread ring (5 MiB) */
#define LH_RING_NODES (1u << 22)    /* stack trie nodes */
#define LH_RING_PYLOG (16u << 20)   /* bytes of Python frame records */

/* One record: an event, or a blob header / blob bytes. */
typedef struct {
    uint64_t ns;   /* stamp (clock.c) */
    uint64_t addr;
    uint64_t size;
    uint64_t old_addr;
    uint32_t stack;
    uint16_t kind;
    uint16_t domain; /* lh_event_domain: 0 libc, else a hooked CPython allocator domain */
} lh_raw;

enum {
    LH_RAW_BLOB = 100, /* addr = blob type, size = bytes; then ceil(size/40) records */
};
enum {
    LH_BLOB_MODULES = 1, /* a packed Lh__ModuleMap */
    LH_BLOB_MARK = 2,    /* a marker label (no NUL) */
    LH_BLOB_NOTE = 3,    /* text for the user: a process the recording cannot follow */
};
#define LH_RAW_BLOB_RECORDS(bytes) (((bytes) + sizeof(lh_raw) - 1) / sizeof(lh_raw))
#define LH_BLOB_MAX (64u << 10)

/* Slot states. */
enum {
    LH_SLOT_FREE = 0,    /* the collector has it back */
    LH_SLOT_USED = 1,    /* a thread writes into it */
    LH_SLOT_EXITING = 2, /* the thread ran its key destructors; it may still record a
                          * little (later destructors, its allocator's shutdown) until
                          * it is gone, which the collector checks (tid, start time)
                          * before it drains the slot and frees it */
};

typedef struct {
    /* written by the thread */
    uint64_t head;     /* records published */
    uint64_t entry;    /* 0, 1 (entering), or the stamp of the event under way */
    uint64_t lost;     /* records dropped: ring full while the collector lagged */
    uint32_t tid;
    uint32_t index;    /* ThreadInfo.index */
    uint32_t state;    /* LH_SLOT_* (FREE -> USED by the thread, USED -> EXITED too) */
    uint32_t gen;      /* bumped on each claim, so the collector sees reuse */
    uint8_t pad0[64 - 40];
    /* written by the collector */
    uint64_t tail;     /* records consumed */
    uint8_t pad1[64 - 8];
} lh_ring_slot;

/* Process states. */
enum {
    LH_PROC_RECORDING = 1,
    LH_PROC_ENDED = 2, /* _exit or a stop: nothing more will come */
};
/* An exec does not end the ring: if it fails the process records on. The
 * collector ends it when the new image's ring appears, the process dies,
 * or exec_ns is old and the process no longer maps the ring. */

typedef struct {
    uint64_t magic;
    uint32_t version, header_size;
    uint64_t file_size;
    uint32_t n_slots, ring_records;
    uint32_t node_cap, pylog_cap;
    uint64_t slots_off, nodes_off, pylog_off;

    /* identity */
    int32_t pid, ppid;
    int32_t parent_trace_pid;   /* the traced process this one forked from, 0 = none */
    int32_t attached;
    uint64_t start_ticks;       /* /proc/self/stat field 22: tells pid reuse apart */
    uint64_t start_realtime_ns; /* CLOCK_REALTIME at time 0 */

    /* clock: stamps are TSC ticks (use_tsc) or CLOCK_MONOTONIC ns */
    int32_t use_tsc;
    int32_t depth;              /* frames kept per stack */
    uint64_t t0_stamp;          /* time 0 of the trace */
    uint64_t tsc0, ns0;         /* one (tick, ns) pair, for the ratio */
    double ns_per_tick;         /* first estimate; the collector refines it */

    /* settings the trace reports */
    char unwind[16];
    uint64_t sample_interval;   /* --sample bytes, 0 = every allocation recorded */

    /* counters and state, written by the process */
    uint32_t state;             /* LH_PROC_* */
    int32_t exit_status;        /* wait status from _exit, -1 = unknown */
    uint64_t lost;              /* records dropped with no slot or no memory */
    uint64_t forks;             /* forks begun while recording (counted before the child runs;
                                 * a child that makes no ring takes its count back) */
    uint32_t next_index;        /* thread indexes handed out */
    uint32_t node_count;        /* stack nodes published (release) */
    uint64_t pylog_len;         /* Python frame bytes published (release) */
    uint32_t py_count;          /* Python frames published */
    uint32_t py_alloc;          /* LH_PYALLOC_*: what became of CPython's allocator (pyalloc.c) */
    uint64_t exec_ns;           /* CLOCK_MONOTONIC when an exec began, 0 = none (or it failed) */
    uint64_t gave_up_ns;        /* the process stopped recording: its collector seemed gone */
    /* Bit i: slot i has been claimed at least once (set by the thread,
     * with a full barrier, before its first stamp; never cleared). The
     * collector reads only these slots: a slot never claimed is a hole in
     * the ring file, and reading its header would make the kernel
     * allocate a page for it (256 of them for every process, most of the
     * cost of recording a short-lived one). */
    uint64_t claimed[LH_RING_SLOTS / 64];
    uint32_t membarrier;        /* 1: registered for MEMBARRIER_CMD_GLOBAL_EXPEDITED */

    /* written by the collector */
    int32_t collector_pid;
    uint32_t stop;              /* 1: finish (leakhunt-mark --stop, -p ending) */
    uint32_t membarrier_ok;     /* 1: membarrier works here and precedes every cut (entry
                                 * then needs no barrier of its own); never back to 0 */
    uint64_t heartbeat_ns;      /* CLOCK_MONOTONIC of its last round */

    /* NUL-separated /proc/self/cmdline and the exe path, for ProcessInfo */
    uint32_t cmdline_len;
    char exe[4096];
    char cmdline[8192];
} lh_ring_header;

/* py_alloc: CPython's allocator domains in this process (pyalloc.c). */
enum {
    LH_PYALLOC_NONE = 0,        /* no CPython seen (yet) */
    LH_PYALLOC_PENDING = 1,     /* a supported CPython: the hooks go in at its next safe point */
    LH_PYALLOC_HOOKED = 2,      /* MEM and OBJ (and RAW if foreign) wrapped: objects recorded */
    LH_PYALLOC_RESTORED = 3,    /* hooked, then the previous allocators put back (a stop) */
    LH_PYALLOC_UNSUPPORTED = 4, /* a CPython outside 3.11-3.13: native tracing */
    LH_PYALLOC_FREE_THREADED = 5, /* a free-threaded build: native tracing */
    LH_PYALLOC_MALLOC = 6,      /* --python-allocator malloc: PYTHONMALLOC=malloc, no hooks */
    LH_PYALLOC_OFF = 7,         /* --python-allocator off */
};

/* One Python frame in the pylog: 12 bytes, then file and function names
 * (no NULs), padded to 4. */
typedef struct {
    uint32_t line;
    uint16_t file_len, func_len;
    uint32_t id;
} lh_ring_pyframe;

_Static_assert(sizeof(lh_raw) == 40, "lh_raw is 40 bytes");
_Static_assert(sizeof(lh_ring_slot) == 128, "a slot header is two cache lines");
_Static_assert(sizeof(lh_ring_header) <= LH_RING_HEADER, "ring header fits");

static inline uint64_t lh_ring_slot_bytes(uint32_t records)
{
    return sizeof(lh_ring_slot) + (uint64_t)records * sizeof(lh_raw);
}

#endif
