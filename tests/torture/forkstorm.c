/* forkstorm EXEC_TARGET [N] - N (100) children, all alive together; each
 * allocates 20 blocks and frees 10; every 10th execs EXEC_TARGET instead
 * (after allocating). The parent allocates between forks. */
#include <sys/wait.h>
#include "tt.h"

int main(int argc, char **argv)
{
    int n = argc > 2 ? atoi(argv[2]) : 100;
    pid_t kids[1000];
    for (int i = 0; i < n; i++) {
        tt_free(tt_alloc(200));
        pid_t pid = fork();
        if (pid < 0)
            return 1;
        if (pid == 0) {
            tt_reset();
            void *p[20];
            for (int j = 0; j < 20; j++)
                p[j] = tt_alloc(300 + (size_t)j);
            for (int j = 0; j < 10; j++)
                tt_free(p[j]);
            tt_report();
            if (i % 10 == 9) {
                execl(argv[1], argv[1], (char *)NULL);
                _exit(127);
            }
            usleep(1000 * (unsigned)(i % 7));
            exit(0);
        }
        kids[i] = pid;
    }
    int bad = 0;
    for (int i = 0; i < n; i++) {
        int st;
        if (waitpid(kids[i], &st, 0) < 0 || !WIFEXITED(st) || WEXITSTATUS(st))
            bad++;
    }
    tt_report();
    return bad ? 1 : 0;
}
