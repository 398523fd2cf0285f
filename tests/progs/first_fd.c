/*
 * first_fd - prints the descriptor its first open() gets (the lowest free
 * one: 3 in a plain run, 0 when started with stdin closed), then the list
 * of descriptors open at that moment from /proc/self/fd (for the log).
 */
#include <dirent.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>

int main(void)
{
    int fd = open("/dev/null", O_RDONLY);
    printf("first open: %d\n", fd);
    DIR *d = opendir("/proc/self/fd");
    int own = d ? dirfd(d) : -1;
    printf("open:");
    for (struct dirent *e; d && (e = readdir(d));)
        if (e->d_name[0] != '.' && atoi(e->d_name) != own)
            printf(" %s", e->d_name);
    printf("\n");
    if (d)
        closedir(d);
    return 0;
}
