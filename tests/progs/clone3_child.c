/* clone3_child - makes a child process with a raw clone3 (no fork
 * handlers run), which allocates and exits, then waits for it. The
 * recorder must say the child is not traced, and the parent's trace must
 * hold only the parent's own 10 malloc/free pairs. */
#include <linux/sched.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

__attribute__((noinline)) static void parent_allocs(void)
{
    for (int i = 0; i < 10; i++)
        free(malloc(100));
}

__attribute__((noinline)) static void child_allocs(void)
{
    for (int i = 0; i < 5; i++)
        free(malloc(10));
}

int main(void)
{
    parent_allocs();
    struct clone_args ca;
    memset(&ca, 0, sizeof ca);
    ca.exit_signal = SIGCHLD;
    long pid = syscall(SYS_clone3, &ca, sizeof ca);
    if (pid < 0) {
        perror("clone3");
        return 1;
    }
    if (pid == 0) {
        child_allocs();
        _exit(0);
    }
    int status;
    waitpid((pid_t)pid, &status, 0);
    printf("child %ld exited %d\n", pid, WEXITSTATUS(status));
    return 0;
}
