/* spawn_env - starts PROGRAM with an environment of its own, as test
 * harnesses and subprocess libraries do: "spawn" with posix_spawn,
 * "vfork" with vfork + execve, "execve" by replacing itself. The
 * environment is exactly the one NAME=VALUE argument given.
 *
 * usage: spawn_env spawn|vfork|execve NAME=VALUE PROGRAM [ARGS...] */
#include <spawn.h>
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

int main(int argc, char **argv)
{
    if (argc < 4)
        return 2;
    char *env[] = { argv[2], NULL };
    char **args = argv + 3;
    pid_t pid;
    if (!strcmp(argv[1], "execve")) {
        execve(args[0], args, env);
        perror("execve");
        return 1;
    }
    if (!strcmp(argv[1], "spawn")) {
        if (posix_spawn(&pid, args[0], NULL, NULL, args, env) != 0)
            return 1;
    } else {
        pid = vfork();
        if (pid == 0) {
            execve(args[0], args, env);
            _exit(127);
        }
    }
    int status;
    if (waitpid(pid, &status, 0) != pid)
        return 1;
    printf("child exited %d\n", WEXITSTATUS(status));
    return 0;
}
