/*
 * forker - a process tree: the parent leaks 111 bytes, its forked child
 * 222 bytes, and the child then execs this program again ("exec" mode),
 * which leaks 333 bytes. One trace per process image.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

static void *keep;

void parent_leak(void) { keep = malloc(111); }
void child_leak(void) { keep = malloc(222); }
void exec_leak(void) { keep = malloc(333); }

int main(int argc, char **argv)
{
    if (argc > 1 && !strcmp(argv[1], "exec")) {
        exec_leak();
        return 0;
    }
    parent_leak();
    fflush(stdout);
    pid_t pid = fork();
    if (pid == 0) {
        child_leak();
        execl("/proc/self/exe", argv[0], "exec", (char *)NULL);
        _exit(127);
    }
    int status;
    waitpid(pid, &status, 0);
    printf("forker: child exited %d\n", WEXITSTATUS(status));
    return 0;
}
