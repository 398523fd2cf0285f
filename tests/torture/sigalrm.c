/* sigalrm MODE [MS] - SIGALRM every 100 us (setitimer) for MS (1000) ms;
 * the handler allocates and frees one 33-byte block. MODE idle: the
 * program itself only spins. MODE hooks: the program meanwhile calls
 * mmap/munmap (recorded by the recorder, no malloc lock held), so some
 * signals land while the interrupted thread is inside a recorder hook;
 * "inside=" counts the handler runs that found the program between its
 * own flag set/clear around mmap/munmap (an upper bound on those). */
#include <signal.h>
#include <sys/mman.h>
#include <sys/time.h>
#include <time.h>
#include <errno.h>
#include "tt.h"

static volatile sig_atomic_t in_call;
static unsigned long inside, runs;

static void on_alarm(int sig)
{
    (void)sig;
    int e = errno;
    runs++;
    if (in_call)
        inside++;
    tt_free(tt_alloc(33));
    errno = e;
}

static double now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

int main(int argc, char **argv)
{
    int hooks = argc > 1 && !strcmp(argv[1], "hooks");
    double ms = argc > 2 ? atof(argv[2]) : 1000;
    struct sigaction sa;
    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = on_alarm;
    sa.sa_flags = SA_RESTART;
    sigaction(SIGALRM, &sa, NULL);
    struct itimerval it = { { 0, 100 }, { 0, 100 } };
    setitimer(ITIMER_REAL, &it, NULL);
    double end = now_ms() + ms;
    while (now_ms() < end) {
        if (hooks) {
            in_call = 1;
            void *p = mmap(NULL, 8192, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
            munmap(p, 8192);
            in_call = 0;
        }
    }
    struct itimerval off = { { 0, 0 }, { 0, 0 } };
    setitimer(ITIMER_REAL, &off, NULL);
    tt_report();
    fprintf(stderr, "sigalrm: handler runs=%lu inside=%lu\n", runs, inside);
    return 0;
}
