/* spawn EXEC_TARGET - posix_spawn EXEC_TARGET 5 times, vfork+execv it 5
 * times, vfork+_exit 5 times; the parent allocates around each. */
#include <spawn.h>
#include <sys/wait.h>
#include "tt.h"

extern char **environ;

static int reap(pid_t pid)
{
    int st;
    return pid > 0 && waitpid(pid, &st, 0) == pid && WIFEXITED(st) ? WEXITSTATUS(st) : 99;
}

/* vfork in a function of its own: the child only execs or _exits. */
static pid_t vfork_run(char **args, int do_exec)
{
    pid_t pid = vfork();
    if (pid == 0) {
        if (do_exec)
            execv(args[0], args);
        _exit(do_exec ? 127 : 7);
    }
    return pid;
}

int main(int argc, char **argv)
{
    char *args[] = { argv[1], NULL };
    int bad = 0;
    void *keep[15];
    for (int i = 0; i < 5; i++) {
        pid_t pid;
        keep[i] = tt_alloc(1001);
        if (posix_spawn(&pid, argv[1], NULL, NULL, args, environ) != 0)
            pid = -1;
        bad += reap(pid) != 0;
    }
    for (int i = 0; i < 5; i++) {
        keep[5 + i] = tt_alloc(1002);
        bad += reap(vfork_run(args, 1)) != 0;
    }
    for (int i = 0; i < 5; i++) {
        keep[10 + i] = tt_alloc(1003);
        bad += reap(vfork_run(args, 0)) != 7;
    }
    for (int i = 0; i < 15; i += 2)
        tt_free(keep[i]);
    tt_report();
    return bad;
}
