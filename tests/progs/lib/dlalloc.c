/* libdlalloc.so for dl_host: allocates in its constructor, frees in its
 * destructor, leaks 444 bytes per lib_leak() call. */
#include <stdlib.h>

static void *ctor_block;
void *lib_kept[2];

__attribute__((constructor)) static void lib_init(void) { ctor_block = malloc(555); }
__attribute__((destructor)) static void lib_fini(void) { free(ctor_block); }

void lib_leak(void);
void lib_leak(void)
{
    static int n;
    lib_kept[n++ & 1] = malloc(444);
}
