/*
 * inject.c - make a running process call dlopen(LIB) and leakhunt_attach(),
 * by ptrace, for leakhunt-record -p.
 *
 * Why our own and not gdb's "call": gdb 13 reads and writes the XSAVE area
 * as 2696 bytes, the most it knows (AVX-512, no AMX tile data), while the
 * kernel takes back only the full size it has (11008 bytes on a Xeon with
 * AMX) and refuses anything else with EFAULT: every inferior call fails
 * there with "Couldn't write extended state status: Bad address" (and
 * leaves the thread's interrupted system call broken). Here NT_X86_XSTATE
 * is read into a 64 KiB buffer and written back with exactly the length
 * the kernel gave.
 *
 * One thread is traced (the main one unless it is a zombie); the others run
 * on, as they would while any thread calls dlopen. Its states:
 *
 *   running --stop_thread()--> STOPPED --safe_point()--> STOPPED where no
 *   libc or loader lock can be held --save_state()--> SAVED (registers,
 *   XSAVE area, signal mask) --call()--> IN A CALL --returns into address
 *   0: SIGSEGV with rip 0--> SAVED ... --restore_detach()--> running, as
 *   it was
 *
 * Safe point: a thread stopped in the middle of malloc or of the loader may
 * hold the lock dlopen needs next, and would wait for itself forever. So a
 * stop inside libc's or ld.so's code is taken only in a system call other
 * than malloc's own (mmap, munmap, mprotect, mremap, brk, madvise);
 * otherwise the thread runs a millisecond more, up to MAX_TRIES times.
 *
 * A call: the arguments in rdi/rsi, the stack below the red zone and the
 * strings, 16-byte aligned, with a return address of 0 pushed; the return
 * is the SIGSEGV at rip 0 with rsp just past that slot (the value in rax).
 * orig_rax is set to -1 so that a system call the thread was interrupted
 * in is not restarted into our call; restoring the saved registers (orig_rax
 * and the -ERESTART* in rax) at the last stop lets the kernel restart it as
 * usual once we detach.
 *
 * Signals: one that stops the thread before the calls is delivered at once,
 * as it would have been. During the calls the thread blocks every signal
 * but the faults, so that no handler of the program's runs inside them;
 * they stay pending (or go to another thread) until the saved mask is put
 * back at the detach. What still stops a call (SIGSTOP, a fault signal sent
 * with kill) is kept and delivered at the detach, the first with its
 * siginfo. A real fault inside a call is reported and the thread put back.
 * A group stop meanwhile stops the other threads; the traced one finishes
 * the calls and joins the stop when detached.
 *
 * Where dlopen is: at the same offset from the target's libc.so.6 as from
 * ours when both map the same file (dev and inode); otherwise (a container,
 * a libc upgraded on disk since the process started) from the dynamic
 * symbol table of the target's libc, read in its memory.
 */
#include <dirent.h>
#include <dlfcn.h>
#include <elf.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ptrace.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <sys/user.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "inject.h"
#include "../procfs_read.h"

#if defined(__x86_64__)

#define WAIT_MS 30000      /* for any stop, and for each call to return */
#define MAX_TRIES 50       /* safe-point attempts before going ahead anyway */
#define MAX_SIGS 32        /* kept signals; standard ones merge as when pending */
#define XSTATE_CAP (64 * 1024)
#define MAX_CODE 32        /* executable mappings of libc and ld.so */

/* Internal outcomes of a wait, next to the LH_INJECT_* codes. */
enum { EV_STOP = 0, EV_SIGNAL = 1, EV_TIMEOUT = -10 };

struct code_range {
    uint64_t lo, hi;
    int loader; /* ld.so: any stop in it may hold the loader lock */
};

struct target {
    pid_t pid, tid;
    int mem;      /* /proc/PID/mem once traced, else -1 */
    int stop_sig; /* signal of the signal-delivery-stop we are in, 0 in an event stop */
    int group_stop;
    int saved;    /* regs, xstate and sigmask hold the thread's own state */
    struct user_regs_struct regs;
    unsigned char *xstate;
    size_t xlen;
    unsigned xtype; /* NT_X86_XSTATE, or NT_PRFPREG without XSAVE */
    uint64_t sigmask;
    siginfo_t sigs[MAX_SIGS];
    int nsigs;

    uint64_t libc_base; /* the target's libc.so.6, its first mapping */
    int same_libc;      /* the very file we run: self_off applies */
    uint64_t self_off[3];
    struct code_range code[MAX_CODE];
    int ncode;
    uint64_t ret_slot; /* stack slot holding the return address 0 */

    char *err;
    size_t errcap;
};

static const char *const dl_names[3] = { "dlopen", "dlsym", "dlerror" };

static int fail(struct target *t, int rc, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static int fail(struct target *t, int rc, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(t->err, t->errcap, fmt, ap);
    va_end(ap);
    return rc;
}

static uint64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

static int left_ms(uint64_t deadline)
{
    uint64_t now = now_ms();
    return now < deadline ? (int)(deadline - now) : 0;
}

static void nap_us(long us)
{
    struct timespec ts = { us / 1000000, (us % 1000000) * 1000 };
    nanosleep(&ts, NULL); /* EINTR: the caller's signals are looked at later */
}

static int process_gone(pid_t pid)
{
    return kill(pid, 0) < 0 && errno == ESRCH;
}

/* A failed ptrace request, errno set: which of our codes it means. */
static int ptrace_error(struct target *t, const char *what)
{
    int e = errno;
    if (process_gone(t->pid))
        return fail(t, LH_INJECT_GONE, "the process exited");
    if (e == EPERM)
        return fail(t, LH_INJECT_PERM, "%s: %s", what, strerror(e));
    return fail(t, LH_INJECT_FAILED, "%s on thread %d failed: %s", what, (int)t->tid, strerror(e));
}

/* The whole of a /proc file, NUL-terminated, malloc'd; NULL with errno. */
static char *slurp(const char *path)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return NULL;
    size_t n = 0, cap = 65536;
    char *buf = malloc(cap);
    while (buf) {
        ssize_t r = read(fd, buf + n, cap - 1 - n);
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0)
            break;
        n += (size_t)r;
        if (n == cap - 1) {
            char *more = realloc(buf, cap * 2);
            if (!more) {
                free(buf);
                buf = NULL;
                break;
            }
            buf = more;
            cap *= 2;
        }
    }
    int e = errno;
    close(fd);
    if (buf)
        buf[n] = 0;
    errno = e;
    return buf;
}

struct map_line {
    uint64_t lo, hi, off;
    unsigned maj, min;
    unsigned long ino;
    char perms[5];
    char base[NAME_MAX + 1]; /* file name without directory and " (deleted)" */
};

/* One line of /proc/PID/maps; 0, or -1 if it does not parse. */
static int parse_map_line(const char *line, struct map_line *m)
{
    int n = 0;
    if (sscanf(line, "%" SCNx64 "-%" SCNx64 " %4s %" SCNx64 " %x:%x %lu%n", &m->lo, &m->hi, m->perms, &m->off,
               &m->maj, &m->min, &m->ino, &n) < 7)
        return -1;
    /* Not " %n": that would skip the newline of an anonymous mapping. */
    const char *p = line + n;
    while (*p == ' ')
        p++;
    size_t len = strcspn(p, "\n");
    static const char deleted[] = " (deleted)";
    if (len > sizeof(deleted) - 1 && !strncmp(p + len - (sizeof(deleted) - 1), deleted, sizeof(deleted) - 1))
        len -= sizeof(deleted) - 1;
    const char *slash = memrchr(p, '/', len);
    const char *b = slash ? slash + 1 : p;
    len -= (size_t)(b - p);
    snprintf(m->base, sizeof(m->base), "%.*s", (int)len, b);
    return 0;
}

static char *next_line(char *line)
{
    line += strcspn(line, "\n");
    return *line ? line + 1 : line;
}

static int is_loader(const char *base)
{
    return !strncmp(base, "ld-", 3) && strstr(base, ".so");
}

/* Our own libc: dlopen, dlsym and dlerror as offsets from its first mapping,
 * and that mapping's file. 0, or -1 if it cannot be told. */
static int self_libc(uint64_t off[3], unsigned *maj, unsigned *min, unsigned long *ino)
{
    /* dlsym on libc's handle: its own definitions, never a PLT stub of ours. */
    void *h = dlopen("libc.so.6", RTLD_LAZY | RTLD_NOLOAD);
    if (!h)
        return -1;
    uint64_t base = 0;
    int rc = 0;
    for (int i = 0; i < 3 && rc == 0; i++) {
        void *p = dlsym(h, dl_names[i]);
        Dl_info di;
        if (!p || !dladdr(p, &di) || (base && (uint64_t)(uintptr_t)di.dli_fbase != base))
            rc = -1;
        else {
            base = (uint64_t)(uintptr_t)di.dli_fbase;
            off[i] = (uint64_t)(uintptr_t)p - base;
        }
    }
    dlclose(h);
    char *maps = rc == 0 ? slurp("/proc/self/maps") : NULL;
    rc = -1;
    for (char *line = maps; line && *line; line = next_line(line)) {
        struct map_line m;
        if (parse_map_line(line, &m) == 0 && m.lo == base && m.off == 0) {
            *maj = m.maj, *min = m.min, *ino = m.ino;
            rc = 0;
            break;
        }
    }
    free(maps);
    return rc;
}

/* The target's libc.so.6 (base, and whether it is our file) and the code
 * of libc and ld.so, from /proc/PID/maps. */
static int scan_maps(struct target *t)
{
    unsigned smaj = 0, smin = 0;
    unsigned long sino = 0;
    int have_self = self_libc(t->self_off, &smaj, &smin, &sino) == 0;

    char path[80]; /* the thread's: a zombie main thread has none */
    snprintf(path, sizeof(path), "/proc/%d/task/%d/maps", (int)t->pid, (int)t->tid);
    char *maps = slurp(path);
    if (!maps) {
        int e = errno;
        if (e == ENOENT || e == ESRCH)
            return fail(t, LH_INJECT_GONE, "the process exited");
        return fail(t, e == EACCES || e == EPERM ? LH_INJECT_PERM : LH_INJECT_FAILED, "cannot read %s: %s", path,
                    strerror(e));
    }
    /* The libc: ours if mapped (so the offsets apply), else the first. */
    struct map_line libc = { 0 };
    for (char *line = maps; *line; line = next_line(line)) {
        struct map_line m;
        if (parse_map_line(line, &m) < 0 || m.off != 0 || strcmp(m.base, "libc.so.6"))
            continue;
        int ours = have_self && m.maj == smaj && m.min == smin && m.ino == sino;
        if (!libc.lo || ours)
            libc = m;
        if (ours) {
            t->same_libc = 1;
            break;
        }
    }
    for (char *line = maps; *line && libc.lo; line = next_line(line)) {
        struct map_line m;
        if (parse_map_line(line, &m) < 0 || m.perms[2] != 'x' || t->ncode == MAX_CODE)
            continue;
        int loader = is_loader(m.base);
        if (loader || (m.maj == libc.maj && m.min == libc.min && m.ino == libc.ino))
            t->code[t->ncode++] = (struct code_range){ m.lo, m.hi, loader };
    }
    free(maps);
    if (!libc.lo)
        return fail(t, LH_INJECT_FAILED, "no libc.so.6 in %s: the process does not use glibc", path);
    t->libc_base = libc.lo;
    return LH_INJECT_OK;
}

static char thread_state(pid_t pid, pid_t tid)
{
    char path[80], buf[512];
    snprintf(path, sizeof(path), "/proc/%d/task/%d/stat", (int)pid, (int)tid);
    const char *state = lh_read_text(path, buf, sizeof(buf)) > 0 ? lh_stat_field(buf, 3) : NULL;
    return state ? state[0] : 0;
}

pid_t lh_inject_thread(pid_t pid)
{
    char s = thread_state(pid, pid);
    if (s != 'Z' && s != 'X')
        return pid;
    char path[64];
    snprintf(path, sizeof(path), "/proc/%d/task", (int)pid);
    DIR *d = opendir(path);
    pid_t tid = pid;
    for (struct dirent *e; d && (e = readdir(d));) {
        pid_t cand = (pid_t)atoi(e->d_name);
        s = cand > 0 && cand != pid ? thread_state(pid, cand) : 'Z';
        if (s && s != 'Z' && s != 'X') {
            tid = cand;
            break;
        }
    }
    if (d)
        closedir(d);
    return tid;
}

/* Wait for the thread's next stop, up to ms. EV_STOP (interrupt or group
 * stop), EV_SIGNAL (signal-delivery-stop, *si filled), EV_TIMEOUT or
 * LH_INJECT_GONE. */
static int next_stop(struct target *t, int ms, siginfo_t *si)
{
    uint64_t deadline = now_ms() + (uint64_t)(ms > 0 ? ms : 0);
    long nap = 20;
    int status;
    for (;;) {
        pid_t r = waitpid(t->tid, &status, __WALL | WNOHANG);
        if (r == t->tid)
            break;
        if (r < 0 && errno != EINTR) /* ECHILD: reaped or exec'd away */
            return fail(t, LH_INJECT_GONE, "the process exited");
        if (now_ms() >= deadline)
            return EV_TIMEOUT;
        nap_us(nap);
        nap = nap < 2000 ? nap * 2 : 2000;
    }
    if (WIFEXITED(status) || WIFSIGNALED(status))
        return fail(t, LH_INJECT_GONE, "the process exited");
    if (status >> 16) { /* PTRACE_EVENT_STOP: the only event asked for */
        t->stop_sig = 0;
        t->group_stop = WSTOPSIG(status) != SIGTRAP;
        return EV_STOP;
    }
    t->stop_sig = WSTOPSIG(status);
    if (ptrace(PTRACE_GETSIGINFO, t->tid, 0, si) < 0) {
        memset(si, 0, sizeof(*si));
        si->si_signo = t->stop_sig;
    }
    return EV_SIGNAL;
}

/* A signal that arrived while the thread is ours, for delivery at the detach. */
static void keep_signal(struct target *t, const siginfo_t *si)
{
    for (int i = 0; si->si_signo < 32 && i < t->nsigs; i++)
        if (t->sigs[i].si_signo == si->si_signo)
            return;
    if (t->nsigs < MAX_SIGS)
        t->sigs[t->nsigs++] = *si;
}

static int resume(struct target *t)
{
    return ptrace(PTRACE_CONT, t->tid, 0, 0) < 0 ? ptrace_error(t, "PTRACE_CONT") : LH_INJECT_OK;
}

/* Interrupt the running thread and wait for that stop. Signals that come
 * first are delivered if the thread runs its own code (deliver), else kept
 * for later. EV_STOP, EV_TIMEOUT or an error. */
static int stop_thread(struct target *t, int ms, int deliver)
{
    if (ptrace(PTRACE_INTERRUPT, t->tid, 0, 0) < 0)
        return ptrace_error(t, "PTRACE_INTERRUPT");
    uint64_t deadline = now_ms() + (uint64_t)ms;
    for (;;) {
        siginfo_t si;
        int ev = next_stop(t, left_ms(deadline), &si);
        if (ev != EV_SIGNAL)
            return ev;
        if (!deliver)
            keep_signal(t, &si);
        if (ptrace(PTRACE_CONT, t->tid, 0, (void *)(uintptr_t)(deliver ? si.si_signo : 0)) < 0)
            return ptrace_error(t, "PTRACE_CONT");
    }
}

static int get_regs(struct target *t, struct user_regs_struct *r)
{
    struct iovec iov = { r, sizeof(*r) };
    if (ptrace(PTRACE_GETREGSET, t->tid, (void *)NT_PRSTATUS, &iov) < 0)
        return ptrace_error(t, "reading the registers");
    if (iov.iov_len != sizeof(*r))
        return fail(t, LH_INJECT_FAILED, "thread %d is not a 64-bit x86 thread: attaching supports x86-64 "
                                         "processes only", (int)t->tid);
    return LH_INJECT_OK;
}

static int set_regs(struct target *t, const struct user_regs_struct *r)
{
    struct iovec iov = { (void *)r, sizeof(*r) };
    if (ptrace(PTRACE_SETREGSET, t->tid, (void *)NT_PRSTATUS, &iov) < 0)
        return ptrace_error(t, "writing the registers");
    return LH_INJECT_OK;
}

static int in_code(const struct target *t, uint64_t ip, int *loader)
{
    for (int i = 0; i < t->ncode; i++)
        if (ip >= t->code[i].lo && ip < t->code[i].hi) {
            *loader = t->code[i].loader;
            return 1;
        }
    return 0;
}

/* Could the thread, stopped with these registers, hold a lock that
 * dlopen takes? (See the file comment.) */
static int safe(const struct target *t, const struct user_regs_struct *r)
{
    int loader = 0;
    if (!in_code(t, r->rip, &loader))
        return 1; /* the program's code, or the vDSO */
    if ((long long)r->orig_rax < 0 || loader)
        return 0; /* running libc code, or anywhere in the loader */
    switch (r->orig_rax) {
    case SYS_mmap: case SYS_munmap: case SYS_mprotect: case SYS_mremap: case SYS_brk: case SYS_madvise:
        return 0; /* malloc's system calls, made with an arena locked */
    }
    return 1; /* blocked in read, poll, futex ... as idle threads are */
}

/* Stopped; leave it stopped at a safe point, or after MAX_TRIES at any. */
static int safe_point(struct target *t)
{
    for (int tries = 1;; tries++) {
        struct user_regs_struct r;
        int rc = get_regs(t, &r);
        if (rc || t->group_stop || tries == MAX_TRIES || safe(t, &r))
            return rc;
        if ((rc = resume(t)))
            return rc;
        nap_us(500 + 100 * tries); /* not in step with a periodic loop */
        rc = stop_thread(t, WAIT_MS, 1);
        if (rc == EV_TIMEOUT)
            return fail(t, LH_INJECT_FAILED, "thread %d did not stop again within %d s", (int)t->tid,
                        WAIT_MS / 1000);
        if (rc)
            return rc;
    }
}

static int save_state(struct target *t)
{
    int rc = get_regs(t, &t->regs);
    if (rc)
        return rc;
    t->xstate = malloc(XSTATE_CAP);
    if (!t->xstate)
        return fail(t, LH_INJECT_FAILED, "out of memory");
    /* The kernel says in iov_len how much it filled; exactly that much must
     * go back (a shorter write is what gdb fails with on AMX machines). */
    struct iovec iov = { t->xstate, XSTATE_CAP };
    t->xtype = NT_X86_XSTATE;
    if (ptrace(PTRACE_GETREGSET, t->tid, (void *)(uintptr_t)t->xtype, &iov) < 0) {
        if (errno != EINVAL && errno != ENODEV)
            return ptrace_error(t, "reading the XSAVE area");
        t->xtype = NT_PRFPREG; /* a CPU without XSAVE: the FXSAVE area is all there is */
        iov.iov_len = XSTATE_CAP;
        if (ptrace(PTRACE_GETREGSET, t->tid, (void *)(uintptr_t)t->xtype, &iov) < 0)
            return ptrace_error(t, "reading the floating-point state");
    }
    if (iov.iov_len >= XSTATE_CAP || iov.iov_len < 512)
        return fail(t, LH_INJECT_FAILED, "the kernel reported an XSAVE area of %zu bytes, expected 512 to %d",
                    (size_t)iov.iov_len, XSTATE_CAP - 1);
    t->xlen = iov.iov_len;
    if (ptrace(PTRACE_GETSIGMASK, t->tid, (void *)sizeof(t->sigmask), &t->sigmask) < 0)
        return ptrace_error(t, "reading the signal mask");
    t->saved = 1;
    return LH_INJECT_OK;
}

static int set_fpstate(struct target *t, const unsigned char *buf)
{
    struct iovec iov = { (void *)buf, t->xlen };
    if (ptrace(PTRACE_SETREGSET, t->tid, (void *)(uintptr_t)t->xtype, &iov) < 0)
        return ptrace_error(t, "writing the XSAVE area");
    return LH_INJECT_OK;
}

/* What a function call may assume: an empty x87 stack with no pending
 * exception (the thread may have been stopped inside x87 code). And the
 * signal mask for the calls: every signal blocked, so that no handler of
 * the program's runs inside them (they stay pending, for the thread or for
 * another one, until the saved mask is back), except the faults, SIGSEGV
 * first (our return trap): blocked, the kernel would reset their handlers
 * to SIG_DFL to deliver them. The restore puts the saved state back. */
static int prepare_calls(struct target *t)
{
    unsigned char *x = malloc(t->xlen);
    if (!x)
        return fail(t, LH_INJECT_FAILED, "out of memory");
    memcpy(x, t->xstate, t->xlen);
    x[2] = x[3] = 0; /* FSW: top of stack 0, no exception flags */
    x[4] = 0;        /* abridged FTW: every register empty */
    int rc = set_fpstate(t, x);
    free(x);
    if (rc)
        return rc;
    uint64_t mask = ~0ull;
    static const int faults[] = { SIGSEGV, SIGBUS, SIGILL, SIGFPE, SIGTRAP, SIGSYS };
    for (size_t i = 0; i < sizeof(faults) / sizeof(faults[0]); i++)
        mask &= ~(1ull << (faults[i] - 1));
    if (ptrace(PTRACE_SETSIGMASK, t->tid, (void *)sizeof(mask), &mask) < 0)
        return ptrace_error(t, "writing the signal mask");
    return LH_INJECT_OK;
}

static int mem_read(const struct target *t, uint64_t addr, void *buf, size_t len)
{
    for (size_t done = 0; done < len;) {
        ssize_t r = pread(t->mem, (char *)buf + done, len - done, (off_t)(addr + done));
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0)
            return -1;
        done += (size_t)r;
    }
    return 0;
}

static int mem_write(const struct target *t, uint64_t addr, const void *buf, size_t len)
{
    for (size_t done = 0; done < len;) {
        ssize_t r = pwrite(t->mem, (const char *)buf + done, len - done, (off_t)(addr + done));
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0)
            return -1;
        done += (size_t)r;
    }
    return 0;
}

/* A NUL-terminated string of the target's; page by page, since the one
 * after it may be unmapped. */
static void mem_string(const struct target *t, uint64_t addr, char *out, size_t cap)
{
    size_t n = 0;
    while (n + 1 < cap) {
        size_t chunk = 4096 - ((addr + n) & 4095);
        if (chunk > cap - 1 - n)
            chunk = cap - 1 - n;
        if (mem_read(t, addr + n, out + n, chunk) < 0)
            break;
        void *nul = memchr(out + n, 0, chunk);
        if (nul)
            return;
        n += chunk;
    }
    out[n] = 0;
}

static uint32_t gnu_hash(const char *s)
{
    uint32_t h = 5381;
    for (; *s; s++)
        h = h * 33 + (unsigned char)*s;
    return h;
}

static uint32_t sysv_hash(const char *s)
{
    uint32_t h = 0;
    for (; *s; s++) {
        h = (h << 4) + (unsigned char)*s;
        uint32_t g = h & 0xf0000000u;
        h ^= g >> 24;
        h &= ~g;
    }
    return h;
}

struct dynsyms {
    uint64_t bias, symtab, strtab, strsz, gnu_hash, hash, versym;
};

/* Symbol idx if it is the defined, default-version function NAME: its address, else 0. */
static uint64_t sym_match(const struct target *t, const struct dynsyms *d, uint32_t idx, const char *name)
{
    Elf64_Sym s;
    size_t len = strlen(name) + 1;
    char buf[64];
    if (len > sizeof(buf) || mem_read(t, d->symtab + (uint64_t)idx * sizeof(s), &s, sizeof(s)) < 0)
        return 0;
    if (s.st_shndx == SHN_UNDEF || ELF64_ST_TYPE(s.st_info) != STT_FUNC || s.st_name + len > d->strsz)
        return 0;
    if (mem_read(t, d->strtab + s.st_name, buf, len) < 0 || memcmp(buf, name, len))
        return 0;
    uint16_t ver = 0;
    if (d->versym && (mem_read(t, d->versym + (uint64_t)idx * 2, &ver, 2) < 0 || (ver & 0x8000)))
        return 0; /* a hidden compat version: the default one follows */
    return d->bias + s.st_value;
}

static uint64_t dyn_lookup(const struct target *t, const struct dynsyms *d, const char *name)
{
    if (d->gnu_hash) {
        uint32_t hdr[4]; /* nbuckets, symoffset, bloom words, bloom shift */
        if (mem_read(t, d->gnu_hash, hdr, sizeof(hdr)) < 0 || !hdr[0])
            return 0;
        uint32_t h = gnu_hash(name), idx;
        uint64_t buckets = d->gnu_hash + 16 + (uint64_t)hdr[2] * 8;
        uint64_t chain = buckets + (uint64_t)hdr[0] * 4;
        if (mem_read(t, buckets + (uint64_t)(h % hdr[0]) * 4, &idx, 4) < 0 || idx < hdr[1])
            return 0;
        for (int guard = 0; guard < 65536; guard++, idx++) {
            uint32_t ch;
            if (mem_read(t, chain + (uint64_t)(idx - hdr[1]) * 4, &ch, 4) < 0)
                return 0;
            uint64_t v = (ch | 1) == (h | 1) ? sym_match(t, d, idx, name) : 0;
            if (v)
                return v;
            if (ch & 1)
                break;
        }
        return 0;
    }
    if (d->hash) {
        uint32_t hdr[2], idx; /* nbucket, nchain */
        if (mem_read(t, d->hash, hdr, sizeof(hdr)) < 0 || !hdr[0])
            return 0;
        if (mem_read(t, d->hash + 8 + (uint64_t)(sysv_hash(name) % hdr[0]) * 4, &idx, 4) < 0)
            return 0;
        for (int guard = 0; idx != STN_UNDEF && idx < hdr[1] && guard < 65536; guard++) {
            uint64_t v = sym_match(t, d, idx, name);
            if (v)
                return v;
            if (mem_read(t, d->hash + 8 + ((uint64_t)hdr[0] + idx) * 4, &idx, 4) < 0)
                return 0;
        }
    }
    return 0;
}

/* dlopen, dlsym and dlerror from the dynamic symbol table of the ELF
 * object mapped at base in the target. 0, or -1. */
static int elf_symbols(const struct target *t, uint64_t base, uint64_t out[3])
{
    Elf64_Ehdr eh;
    Elf64_Phdr ph[64];
    if (mem_read(t, base, &eh, sizeof(eh)) < 0 || memcmp(eh.e_ident, ELFMAG, SELFMAG)
        || eh.e_ident[EI_CLASS] != ELFCLASS64 || eh.e_machine != EM_X86_64
        || eh.e_phentsize != sizeof(Elf64_Phdr) || eh.e_phnum > 64
        || mem_read(t, base + eh.e_phoff, ph, eh.e_phnum * sizeof(Elf64_Phdr)) < 0)
        return -1;
    uint64_t first = UINT64_MAX, dyn = 0, dynsz = 0;
    for (int i = 0; i < eh.e_phnum; i++) {
        if (ph[i].p_type == PT_LOAD && ph[i].p_vaddr < first)
            first = ph[i].p_vaddr;
        if (ph[i].p_type == PT_DYNAMIC)
            dyn = ph[i].p_vaddr, dynsz = ph[i].p_memsz;
    }
    if (first == UINT64_MAX || !dyn)
        return -1;
    struct dynsyms d = { .bias = base - (first & ~(uint64_t)4095) };
    Elf64_Dyn dy[256];
    size_t nd = dynsz / sizeof(Elf64_Dyn) < 256 ? dynsz / sizeof(Elf64_Dyn) : 256;
    if (mem_read(t, d.bias + dyn, dy, nd * sizeof(Elf64_Dyn)) < 0)
        return -1;
    for (size_t i = 0; i < nd && dy[i].d_tag != DT_NULL; i++) {
        uint64_t v = dy[i].d_un.d_ptr;
        /* The loader relocates these in place on x86-64; be sure either way. */
        if (v && v < d.bias && dy[i].d_tag != DT_STRSZ)
            v += d.bias;
        switch (dy[i].d_tag) {
        case DT_SYMTAB: d.symtab = v; break;
        case DT_STRTAB: d.strtab = v; break;
        case DT_STRSZ: d.strsz = dy[i].d_un.d_val; break;
        case DT_GNU_HASH: d.gnu_hash = v; break;
        case DT_HASH: d.hash = v; break;
        case DT_VERSYM: d.versym = v; break;
        }
    }
    if (!d.symtab || !d.strtab || (!d.gnu_hash && !d.hash))
        return -1;
    for (int i = 0; i < 3; i++)
        if (!(out[i] = dyn_lookup(t, &d, dl_names[i])))
            return -1;
    return 0;
}

/* Run fn(a0, a1) on the saved thread; its return value in *ret. */
static int call(struct target *t, const char *what, uint64_t fn, uint64_t a0, uint64_t a1, uint64_t *ret)
{
    static const uint64_t zero = 0;
    if (mem_write(t, t->ret_slot, &zero, sizeof(zero)) < 0)
        return fail(t, LH_INJECT_FAILED, "cannot write the thread's stack at %#" PRIx64 ": %s", t->ret_slot,
                    strerror(errno));
    struct user_regs_struct r = t->regs;
    r.rip = fn;
    r.rdi = a0;
    r.rsi = a1;
    r.rax = 0;
    r.orig_rax = (unsigned long long)-1; /* no restart of the interrupted system call into fn */
    r.rsp = t->ret_slot;
    r.eflags &= ~(0x100ull | 0x400ull | 0x40000ull); /* TF, DF (the ABI wants it clear), AC */
    int rc = set_regs(t, &r);
    if (rc || (rc = resume(t)))
        return rc;
    uint64_t deadline = now_ms() + WAIT_MS;
    for (;;) {
        siginfo_t si;
        int ev = next_stop(t, left_ms(deadline), &si);
        if (ev == EV_TIMEOUT) {
            rc = stop_thread(t, WAIT_MS, 0);
            if (rc == EV_TIMEOUT)
                return fail(t, LH_INJECT_FAILED, "%s did not return within %d s, and thread %d does not stop: "
                            "the process is likely hung; restart it", what, WAIT_MS / 1000, (int)t->tid);
            if (rc)
                return rc;
            return fail(t, LH_INJECT_FAILED, "%s did not return within %d s (the process may have been stopped "
                        "while a lock was held); thread %d was put back where it was, but if the process now "
                        "hangs, restart it", what, WAIT_MS / 1000, (int)t->tid);
        }
        if (ev == EV_STOP) { /* a group stop: the calls finish first */
            if ((rc = resume(t)))
                return rc;
            continue;
        }
        if (ev != EV_SIGNAL)
            return ev;
        if (si.si_signo == SIGSEGV) {
            if ((rc = get_regs(t, &r)))
                return rc;
            if (r.rip == 0 && r.rsp == t->ret_slot + 8) {
                *ret = r.rax;
                return LH_INJECT_OK;
            }
        }
        int sig = si.si_signo;
        if (si.si_code > 0 && (sig == SIGSEGV || sig == SIGBUS || sig == SIGILL || sig == SIGFPE
                               || sig == SIGTRAP || sig == SIGSYS)) {
            if ((rc = get_regs(t, &r)))
                return rc;
            return fail(t, LH_INJECT_FAILED, "%s crashed with signal %d (%s) at %#llx; thread %d was put back "
                        "where it was, but the process may be unstable", what, sig, strsignal(sig),
                        (unsigned long long)r.rip, (int)t->tid);
        }
        keep_signal(t, &si);
        if ((rc = resume(t)))
            return rc;
    }
}

/* Signals kept for later, except the one the detach delivers. */
static void requeue(const struct target *t, const siginfo_t *si)
{
    /* With its siginfo where the kernel lets another process queue one. */
    if (si->si_code < 0 && si->si_code != SI_TKILL
        && syscall(SYS_rt_tgsigqueueinfo, t->pid, t->tid, si->si_signo, si) == 0)
        return;
    syscall(SYS_tgkill, t->pid, t->tid, si->si_signo);
}

/* Put the saved state back, hand the kept signals over, detach. A
 * failure's message goes to msg, not t->err (which may say why we stop). */
static int restore_detach(struct target *t, char *msg, size_t cap)
{
    char *err = t->err;
    size_t errcap = t->errcap;
    t->err = msg, t->errcap = cap;
    int rc = LH_INJECT_OK, rc2;
    if (t->saved) {
        rc = set_regs(t, &t->regs);
        if ((rc2 = set_fpstate(t, t->xstate)) && !rc)
            rc = rc2;
        if (ptrace(PTRACE_SETSIGMASK, t->tid, (void *)sizeof(t->sigmask), &t->sigmask) < 0 && !rc)
            rc = ptrace_error(t, "writing the signal mask");
    }
    int first = 0, sig = 0;
    if (t->stop_sig && t->nsigs && ptrace(PTRACE_SETSIGINFO, t->tid, 0, &t->sigs[0]) == 0) {
        sig = t->sigs[0].si_signo; /* a signal-delivery-stop delivers it on the way out */
        first = 1;
    }
    for (int i = first; i < t->nsigs; i++)
        requeue(t, &t->sigs[i]);
    if (ptrace(PTRACE_DETACH, t->tid, 0, (void *)(uintptr_t)sig) < 0 && !rc)
        rc = ptrace_error(t, "PTRACE_DETACH");
    t->err = err, t->errcap = errcap;
    return rc;
}

int lh_inject_attach(pid_t pid, const char *lib, int *attach_rc, char *err, size_t errcap)
{
    struct target t = { .pid = pid, .mem = -1, .err = err, .errcap = errcap };
    err[0] = 0;
    *attach_rc = -1;
    size_t liblen = strlen(lib) + 1;
    if (liblen > PATH_MAX)
        return fail(&t, LH_INJECT_FAILED, "library path too long: %s", lib);
    t.tid = lh_inject_thread(pid);
    int rc = scan_maps(&t);
    if (rc)
        return rc;
    if (ptrace(PTRACE_SEIZE, t.tid, 0, 0) < 0) {
        if (errno == ESRCH)
            return fail(&t, LH_INJECT_GONE, "the process exited");
        return ptrace_error(&t, "PTRACE_SEIZE");
    }
    rc = stop_thread(&t, WAIT_MS, 1);
    if (rc == EV_TIMEOUT) /* cannot detach a thread that never stopped: our exit releases it */
        return fail(&t, LH_INJECT_FAILED, "thread %d did not stop within %d s (state %c in /proc/%d/task/%d/stat; "
                    "D is a wait in the kernel, e.g. on a disk or a vfork child): try again later", (int)t.tid,
                    WAIT_MS / 1000, thread_state(pid, t.tid), (int)pid, (int)t.tid);
    if (rc || (rc = safe_point(&t)))
        goto detach;
    if (t.group_stop) { /* dlopen could wait for a lock a stopped thread holds */
        rc = fail(&t, LH_INJECT_FAILED, "the process is stopped (job control: Ctrl-Z, SIGSTOP): continue it "
                  "with kill -CONT %d, then attach", (int)pid);
        goto detach;
    }
    if ((rc = save_state(&t)))
        goto detach;

    char mem_path[80];
    snprintf(mem_path, sizeof(mem_path), "/proc/%d/task/%d/mem", (int)pid, (int)t.tid);
    t.mem = open(mem_path, O_RDWR | O_CLOEXEC);
    if (t.mem < 0) {
        rc = errno == EACCES || errno == EPERM ? fail(&t, LH_INJECT_PERM, "open %s: %s", mem_path, strerror(errno))
                                               : fail(&t, LH_INJECT_FAILED, "cannot open %s: %s", mem_path,
                                                      strerror(errno));
        goto detach;
    }
    uint64_t fn[3];
    if (t.same_libc) {
        for (int i = 0; i < 3; i++)
            fn[i] = t.libc_base + t.self_off[i];
    } else if (elf_symbols(&t, t.libc_base, fn) < 0) {
        rc = fail(&t, LH_INJECT_FAILED, "no dlopen, dlsym and dlerror in the process's libc.so.6 (glibc before "
                  "2.34 keeps them in libdl, which attaching does not support)");
        goto detach;
    }

    /* Scratch: below the red zone, the strings, then the return slot. */
    static const char entry[] = "leakhunt_attach";
    uint64_t strs = (t.regs.rsp - 128 - liblen - sizeof(entry)) & ~(uint64_t)15;
    t.ret_slot = strs - 8;
    if (mem_write(&t, strs, lib, liblen) < 0 || mem_write(&t, strs + liblen, entry, sizeof(entry)) < 0) {
        rc = fail(&t, LH_INJECT_FAILED, "cannot write the thread's stack at %#" PRIx64 ": %s", strs,
                  strerror(errno));
        goto detach;
    }
    if ((rc = prepare_calls(&t)))
        goto detach;

    uint64_t handle = 0, sym = 0, ret = 0;
    if ((rc = call(&t, "dlopen", fn[0], strs, 2 /* RTLD_NOW */, &handle)))
        goto detach;
    if (!handle) {
        if ((rc = call(&t, "dlerror", fn[2], 0, 0, &ret)))
            goto detach;
        if (ret)
            mem_string(&t, ret, err, errcap);
        else
            snprintf(err, errcap, "dlopen returned NULL and dlerror nothing");
        goto detach; /* rc 0, *attach_rc -1 */
    }
    if ((rc = call(&t, "dlsym", fn[1], handle, strs + liblen, &sym)))
        goto detach;
    if (!sym) {
        char why[512] = "";
        if ((rc = call(&t, "dlerror", fn[2], 0, 0, &ret)))
            goto detach;
        if (ret)
            mem_string(&t, ret, why, sizeof(why));
        rc = fail(&t, LH_INJECT_FAILED, "%s was loaded but has no %s (%s): is it libleakhunt.so?", lib, entry, why);
        goto detach;
    }
    if ((rc = call(&t, entry, sym, 0, 0, &ret)))
        goto detach;
    *attach_rc = (int)ret;

detach:
    if (rc != LH_INJECT_GONE) {
        char why[256];
        int rc2 = restore_detach(&t, why, sizeof(why));
        if (rc2 == LH_INJECT_GONE && rc == LH_INJECT_OK) {
            rc = fail(&t, rc2, "the process exited");
        } else if (rc2 != LH_INJECT_OK && rc2 != LH_INJECT_GONE && t.saved) {
            size_t n = rc ? strlen(err) : 0;
            snprintf(err + n, errcap - n, "%scannot put thread %d back as it was (%s): the process may crash",
                     n ? "; then " : "", (int)t.tid, why);
            rc = LH_INJECT_FAILED;
        } else if (rc2 != LH_INJECT_OK && rc == LH_INJECT_OK) {
            rc = fail(&t, rc2, "%s", why);
        }
    }
    if (t.mem >= 0)
        close(t.mem);
    free(t.xstate);
    return rc;
}

#else /* not x86-64 */

pid_t lh_inject_thread(pid_t pid)
{
    return pid;
}

int lh_inject_attach(pid_t pid, const char *lib, int *attach_rc, char *err, size_t errcap)
{
    (void)pid, (void)lib;
    *attach_rc = -1;
    snprintf(err, errcap, "attaching is implemented for x86-64 only");
    return LH_INJECT_FAILED;
}

#endif
