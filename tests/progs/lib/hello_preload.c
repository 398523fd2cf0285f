/* A program's own preload: its constructor says it was loaded. */
#include <unistd.h>

__attribute__((constructor)) static void hello(void)
{
    static const char msg[] = "own preload loaded\n";
    ssize_t w = write(2, msg, sizeof(msg) - 1);
    (void)w;
}
