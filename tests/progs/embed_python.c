/*
 * embed_python - a program that loads CPython late: dlopen(LIBPYTHON,
 * RTLD_LOCAL) (its symbols stay out of the global scope), then
 * Py_InitializeEx, one script, Py_FinalizeEx. The recorder must find the
 * interpreter through its dlopen hook and hook its allocator before the
 * first object. Marks "end" after the script, before finalizing (an
 * interpreter loaded RTLD_LOCAL cannot import ctypes).
 * Usage: embed_python LIBPYTHON SCRIPT-TEXT
 */
#include <dlfcn.h>
#include <stdio.h>

#include <leakhunt.h>

int main(int argc, char **argv)
{
    if (argc != 3) {
        fprintf(stderr, "usage: embed_python LIBPYTHON SCRIPT-TEXT\n");
        return 2;
    }
    void *h = dlopen(argv[1], RTLD_NOW | RTLD_LOCAL);
    if (!h) {
        fprintf(stderr, "embed_python: %s\n", dlerror());
        return 1;
    }
    void (*init)(int) = (void (*)(int))dlsym(h, "Py_InitializeEx");
    int (*run)(const char *) = (int (*)(const char *))dlsym(h, "PyRun_SimpleString");
    int (*fini)(void) = (int (*)(void))dlsym(h, "Py_FinalizeEx");
    if (!init || !run || !fini) {
        fprintf(stderr, "embed_python: %s is not a libpython\n", argv[1]);
        return 1;
    }
    init(0);
    int rc = run(argv[2]);
    leakhunt_mark("end");
    fini();
    return rc ? 1 : 0;
}
