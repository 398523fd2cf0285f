/* libttdl.so for dlloop: one 777-byte block made by the constructor and
 * freed by the destructor. */
#include <stdlib.h>

static void *block;
__attribute__((noinline)) void *lib_ctor_alloc(void);
__attribute__((noinline)) void *lib_ctor_alloc(void)
{
    void *p = malloc(777);
    __asm__ volatile("" ::: "memory");
    return p;
}
__attribute__((constructor)) static void init(void) { block = lib_ctor_alloc(); }
__attribute__((destructor)) static void fini(void) { free(block); }
int ttdl_alive(void);
int ttdl_alive(void) { return block != NULL; }
