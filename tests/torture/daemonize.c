/* daemonize REPORT_FILE - the classic double fork: the parent exits at
 * once, the grandchild (setsid, no controlling terminal, stdio on
 * /dev/null) allocates, writes its counters to REPORT_FILE, and exits. */
#include <fcntl.h>
#include <sys/wait.h>
#include "tt.h"

int main(int argc, char **argv)
{
    pid_t pid = fork();
    if (pid > 0) {
        int st;
        waitpid(pid, &st, 0); /* the intermediate child exits at once */
        tt_report();
        return 0;
    }
    tt_reset();
    setsid();
    if (fork() > 0)
        _exit(0);
    int fd = open("/dev/null", O_RDWR);
    dup2(fd, 0);
    int out = dup(1);
    dup2(fd, 1);
    dup2(fd, 2);
    close(fd);
    (void)out;
    usleep(100000);
    void *p[30];
    for (int i = 0; i < 30; i++)
        p[i] = tt_alloc(512);
    for (int i = 0; i < 25; i++)
        tt_free(p[i]);
    usleep(100000);
    char line[128];
    int n = snprintf(line, sizeof(line), "allocs=%lu frees=%lu bytes=%lu\n", tt_allocs, tt_frees, tt_bytes);
    int rf = open(argv[1], O_WRONLY | O_CREAT | O_TRUNC, 0644);
    if (write(rf, line, (size_t)n) != n)
        return 1;
    close(rf);
    exit(0);
}
