/* exec_fails - an exec that fails, then 100 allocations (leaked): the
 * recording must go on after the failed exec. */
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

static void *keep[100];

__attribute__((noinline)) static void after_failed_exec(void)
{
    for (int i = 0; i < 100; i++)
        keep[i] = malloc(64);
}

int main(void)
{
    char *argv[] = { "nothing", NULL };
    execv("/nonexistent/program", argv);
    perror("execv");
    after_failed_exec();
    return 0;
}
