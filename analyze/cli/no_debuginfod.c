/*
 * no_debuginfod.c - keep libdw from loading its debuginfod client when no
 * debuginfod server is configured.
 *
 * elfutils 0.188 (Debian 12) dlopens libdebuginfod.so the first time a
 * module has no local debug information, whether or not DEBUGINFOD_URLS
 * names a server; that pulls in libcurl and two dozen libraries (TLS,
 * Kerberos, LDAP, ...) and costs about 5 ms, a fifth of a replay of a
 * million events, to end up asking no server at all. leakhunt-replay
 * defines dlopen, which libdw's call binds to, and answers "not there"
 * for that one library unless DEBUGINFOD_URLS is set; libdwfl then goes on
 * without debuginfod, as it does where the library is not installed.
 * Every other dlopen is the C library's.
 */
#include <dlfcn.h>
#include <stdlib.h>
#include <string.h>

void *dlopen(const char *file, int flags)
{
    static void *(*real_dlopen)(const char *, int);
    if (file && strstr(file, "libdebuginfod")) {
        const char *urls = getenv("DEBUGINFOD_URLS");
        if (!urls || !*urls)
            return NULL;
    }
    if (!real_dlopen)
        real_dlopen = (void *(*)(const char *, int))dlsym(RTLD_NEXT, "dlopen");
    return real_dlopen ? real_dlopen(file, flags) : NULL;
}
