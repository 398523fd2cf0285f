/*
 * main_thread_exit - main starts one worker and ends with pthread_exit().
 * The worker waits until main is gone (the leader shows as a zombie in
 * /proc/self/task/<pid>/stat), then makes 300 allocations in worker_alloc
 * (200 freed, 100 kept), prints "worker: 300 allocations after main's
 * pthread_exit" and returns. The process exits 0 when its last thread
 * ends: glibc calls exit(0) then, unless some other thread lives on.
 */
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define ALLOCS 300
#define KEPT 100

static void *kept[KEPT];

/* 1 once the thread group leader (main) has exited, 0 after 2 s without. */
static int wait_main_gone(void)
{
    char path[64], buf[256];
    snprintf(path, sizeof(path), "/proc/self/task/%d/stat", (int)getpid());
    for (int i = 0; i < 2000; i++) {
        int fd = open(path, O_RDONLY);
        if (fd < 0)
            return 1;
        ssize_t n = read(fd, buf, sizeof(buf) - 1);
        close(fd);
        if (n > 0) {
            buf[n] = 0;
            const char *p = strrchr(buf, ')'); /* "pid (comm) S ..." */
            if (p && (p[2] == 'Z' || p[2] == 'X'))
                return 1;
        }
        usleep(1000);
    }
    return 0;
}

void worker_alloc(void)
{
    for (int i = 0; i < ALLOCS; i++) {
        void *p = malloc(40 + (size_t)i);
        if (i < KEPT)
            kept[i] = p;
        else
            free(p);
    }
}

static void *worker(void *arg)
{
    (void)arg;
    int gone = wait_main_gone();
    worker_alloc();
    printf("worker: %d allocations after main's pthread_exit%s\n", ALLOCS, gone ? "" : " (main still there)");
    fflush(stdout);
    return NULL;
}

int main(void)
{
    pthread_t t;
    if (pthread_create(&t, NULL, worker, NULL) != 0)
        return 2;
    pthread_exit(NULL);
}
