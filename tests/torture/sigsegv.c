/* sigsegv - a SIGSEGV handler on an alternate signal stack (sigaltstack)
 * that allocates and frees, then siglongjmps out: 200 faults on a page
 * with no access, allocating between them. Counts stay exact; the program
 * runs as it does without the recorder. */
#include <setjmp.h>
#include <signal.h>
#include <sys/mman.h>
#include "tt.h"

static sigjmp_buf back;
static void *handler_kept[200];
static int faults;

static void on_segv(int sig)
{
    (void)sig;
    /* The recorder runs here on the alternate stack, inside a handler. */
    void *p = tt_alloc(48);
    tt_free(tt_alloc(1000));
    handler_kept[faults++] = p;
    siglongjmp(back, 1);
}

int main(void)
{
    static char altstack[64 * 1024];
    stack_t ss = { .ss_sp = altstack, .ss_size = sizeof(altstack), .ss_flags = 0 };
    if (sigaltstack(&ss, NULL) != 0)
        return 1;
    struct sigaction sa;
    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = on_segv;
    sa.sa_flags = SA_ONSTACK | SA_NODEFER;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGSEGV, &sa, NULL);
    volatile char *page = mmap(NULL, 4096, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    for (int i = 0; i < 200; i++) {
        tt_free(tt_alloc(16 + (size_t)i));
        if (sigsetjmp(back, 1) == 0)
            page[i] = 1; /* faults */
    }
    for (int i = 0; i < faults; i++)
        tt_free(handler_kept[i]);
    tt_say("faults=%d\n", faults);
    tt_report();
    return 0;
}
