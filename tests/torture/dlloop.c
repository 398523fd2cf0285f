/* dlloop LIB [N] - dlopen/dlclose LIB N (300) times; its constructor
 * allocates one block (lib_ctor_alloc) that its destructor frees. */
#include <dlfcn.h>
#include "tt.h"

int main(int argc, char **argv)
{
    int n = argc > 2 ? atoi(argv[2]) : 300;
    for (int i = 0; i < n; i++) {
        void *h = dlopen(argv[1], RTLD_NOW | RTLD_LOCAL);
        if (!h) {
            tt_say("dlopen: %s\n", dlerror());
            return 1;
        }
        int (*alive)(void) = (int (*)(void))dlsym(h, "ttdl_alive");
        if (!alive || !alive())
            return 2;
        tt_free(tt_alloc(10));
        dlclose(h);
    }
    tt_say("allocs=%d frees=%d bytes=%d\n", n, n, n * 777);
    return 0;
}
