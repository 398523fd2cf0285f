/*
 * forkgate.c - no fork while a thread of ours is inside the loader.
 *
 * Every unwind of libunwind and every module snapshot goes through
 * dl_iterate_phdr, which holds the loader's dl_load_write_lock. glibc's
 * fork resets dl_load_lock in the child but not that one: a child forked
 * while another thread was inside dl_iterate_phdr finds it held for ever,
 * and its first unwind (its fork handler's module snapshot, at the
 * latest) hangs. CPython's test_concurrent_futures forks from one thread
 * while others allocate, and hung that way.
 *
 * So a thread marks itself in the loader (its slot's in_loader) and
 * checks that no fork is pending; fork_prepare marks a fork pending and
 * waits until no thread is in the loader. Neither side may miss the other
 * (Dekker): the fast side is a store, a compiler barrier and a load; the
 * slow side, fork, pays for the fence on every thread at once with
 * membarrier(MEMBARRIER_CMD_PRIVATE_EXPEDITED). Where the kernel lacks it,
 * the fast side takes a full fence.
 */
#include <linux/membarrier.h>
#include <sched.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "rec.h"

#define GATE_WAIT_NS 1000000000ull /* a thread stuck in the loader for a second: fork anyway */

static int forks_pending;
static int expedited; /* membarrier registered: the fast side needs no fence */

static long membarrier(int cmd) { return syscall(SYS_membarrier, cmd, 0, 0); }

void lh_forkgate_init(void)
{
    long cmds = membarrier(MEMBARRIER_CMD_QUERY);
    expedited = cmds > 0 && (cmds & MEMBARRIER_CMD_PRIVATE_EXPEDITED)
             && membarrier(MEMBARRIER_CMD_REGISTER_PRIVATE_EXPEDITED) == 0;
}

void lh_forkgate_enter(int *in_loader)
{
    for (;;) {
        __atomic_store_n(in_loader, 1, __ATOMIC_RELAXED);
        if (expedited)
            __atomic_signal_fence(__ATOMIC_SEQ_CST);
        else
            __atomic_thread_fence(__ATOMIC_SEQ_CST);
        if (LH_LIKELY(!__atomic_load_n(&forks_pending, __ATOMIC_RELAXED)))
            return;
        __atomic_store_n(in_loader, 0, __ATOMIC_RELEASE);
        uint64_t start = lh_mono_ns();
        while (__atomic_load_n(&forks_pending, __ATOMIC_ACQUIRE) && lh_mono_ns() - start < GATE_WAIT_NS)
            sched_yield();
    }
}

void lh_forkgate_leave(int *in_loader)
{
    __atomic_store_n(in_loader, 0, __ATOMIC_RELEASE);
}

void lh_forkgate_close(void)
{
    __atomic_add_fetch(&forks_pending, 1, __ATOMIC_SEQ_CST);
    if (expedited)
        membarrier(MEMBARRIER_CMD_PRIVATE_EXPEDITED);
    uint64_t start = lh_mono_ns();
    while (lh_tbuf_any_in_loader() && lh_mono_ns() - start < GATE_WAIT_NS)
        sched_yield();
}

void lh_forkgate_open_parent(void)
{
    __atomic_sub_fetch(&forks_pending, 1, __ATOMIC_RELEASE);
}

void lh_forkgate_open_child(void)
{
    /* The only thread: nothing can be in the loader, no other fork pending.
     * membarrier's registration is per process: the child's is anew. */
    __atomic_store_n(&forks_pending, 0, __ATOMIC_RELEASE);
    lh_forkgate_init();
}
