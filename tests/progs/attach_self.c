/*
 * attach_self - what leakhunt-record -p has a running process do
 * (dlopen the recorder, then call leakhunt_attach()), done by the process
 * itself: for tests of the process's side of an attach where nothing can
 * inject calls (tests/scenario/security.sh).
 *
 * Prints "pid N", waits for a line on stdin (so the test can prepare, or
 * plant, files named after the pid), then prints "rc N" with what
 * leakhunt_attach() returned (recorder/attach.c: 0 recording, 1 not loaded
 * late, 3 no attach file it trusts, ...), leaks 5 blocks of 123 bytes,
 * waits for another line and exits 0.
 */
#include <dlfcn.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

int main(int argc, char **argv)
{
    char line[64];
    if (argc != 2) {
        fprintf(stderr, "usage: attach_self LIBLEAKHUNT_SO\n");
        return 2;
    }
    printf("pid %d\n", (int)getpid());
    fflush(stdout);
    if (!fgets(line, sizeof(line), stdin))
        return 2;
    void *h = dlopen(argv[1], RTLD_NOW);
    if (!h) {
        printf("dlopen failed: %s\n", dlerror());
        return 2;
    }
    int (*attach)(void) = (int (*)(void))dlsym(h, "leakhunt_attach");
    printf("rc %d\n", attach ? attach() : -1);
    fflush(stdout);
    static void *keep[5];
    for (int i = 0; i < 5; i++)
        keep[i] = malloc(123);
    if (!fgets(line, sizeof(line), stdin))
        return 0;
    return keep[4] ? 0 : 1;
}
