/* closefds MODE APPFILE - allocates, then takes every descriptor above 2
 * away from whoever holds it: MODE close closes 3..1023 (what daemons and
 * closefrom(3) do), MODE dup2 dup2s a file of its own over 3..1023. Then
 * it opens APPFILE (likely getting the recorder's old number) and writes
 * 40 lines to it over 400 ms while allocating. APPFILE must hold exactly
 * those lines afterwards. */
#include <fcntl.h>
#include "tt.h"

int main(int argc, char **argv)
{
    const char *mode = argv[1];
    for (int i = 0; i < 100; i++)
        tt_free(tt_alloc(64));
    usleep(300000); /* the recorder has flushed at least once */
    if (!strcmp(mode, "close")) {
        for (int fd = 3; fd < 1024; fd++)
            close(fd);
    } else {
        int own = open("/dev/null", O_WRONLY);
        for (int fd = 3; fd < 1024; fd++)
            if (fd != own)
                dup2(own, fd);
    }
    int out = open(argv[2], O_WRONLY | O_CREAT | O_TRUNC, 0644);
    if (out < 0)
        return 1;
    for (int i = 0; i < 40; i++) {
        char line[64];
        int n = snprintf(line, sizeof(line), "app line %d\n", i);
        if (write(out, line, (size_t)n) != n)
            return 2;
        for (int j = 0; j < 500; j++)
            tt_free(tt_alloc(64 + (size_t)j));
        usleep(10000);
    }
    close(out);
    tt_report();
    return 0;
}
