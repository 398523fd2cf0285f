/*
 * dl_host - dlopen a library that allocates in its constructor (frees in
 * its destructor) and leaks through lib_leak(); dlclose it, twice over.
 * The leaks must still be attributed to lib_leak after the dlclose. With
 * several libraries, each in turn, twice over: a library loaded where a
 * closed one was must not take over the closed one's leaks. Prints each
 * library's load address on stderr.
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <stdio.h>
#include <stdlib.h>

int main(int argc, char **argv)
{
    const char *fallback = "./libdlalloc.so";
    const char *const *paths = argc > 1 ? (const char *const *)argv + 1 : &fallback;
    int n = argc > 1 ? argc - 1 : 1;
    for (int i = 0; i < n; i++) {
        for (int round = 0; round < 2; round++) {
            void *h = dlopen(paths[i], RTLD_NOW);
            if (!h) {
                fprintf(stderr, "dl_host: %s\n", dlerror());
                return 1;
            }
            void (*leak)(void) = (void (*)(void))dlsym(h, "lib_leak");
            Dl_info di;
            if (leak && dladdr((void *)leak, &di))
                fprintf(stderr, "dl_host: %s at %p\n", paths[i], di.dli_fbase);
            leak();
            dlclose(h);
        }
    }
    printf("dl_host: done\n");
    return 0;
}
