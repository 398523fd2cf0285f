/* libdlother.so for dl_host: a second plugin, loaded where libdlalloc.so
 * was after that one is closed. Its code is laid out otherwise, so an
 * address of libdlalloc.so's lib_leak is some other line here. */
#include <stdlib.h>

void *other_kept[2];
int other_pad(int x);
int other_pad(int x)
{
    int s = 0;
    for (int i = 0; i < x; i++)
        s += i * x ^ (s >> 3);
    return s;
}

void lib_leak(void);
void lib_leak(void)
{
    static int n;
    other_kept[n++ & 1] = malloc(777);
}
