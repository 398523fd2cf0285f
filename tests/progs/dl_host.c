/*
 * dl_host - dlopen a library that allocates in its constructor (frees in
 * its destructor) and leaks through lib_leak(); dlclose it, twice over.
 * The leaks must still be attributed to lib_leak after the dlclose.
 */
#include <dlfcn.h>
#include <stdio.h>
#include <stdlib.h>

int main(int argc, char **argv)
{
    const char *path = argc > 1 ? argv[1] : "./libdlalloc.so";
    for (int round = 0; round < 2; round++) {
        void *h = dlopen(path, RTLD_NOW);
        if (!h) {
            fprintf(stderr, "dl_host: %s\n", dlerror());
            return 1;
        }
        void (*leak)(void) = (void (*)(void))dlsym(h, "lib_leak");
        leak();
        dlclose(h);
    }
    printf("dl_host: done\n");
    return 0;
}
