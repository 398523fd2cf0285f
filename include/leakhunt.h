/*
 * leakhunt.h - markers from inside a program.
 *
 *     #include <leakhunt.h>
 *     leakhunt_mark("warm");      // ... later: leakhunt-replay T --diff mark:warm end
 *
 * Costs nothing and needs nothing at link time: the recorder's entry point is
 * a weak reference, so a program built with this header runs unchanged (and
 * the call does nothing) when it is not started under leakhunt-record.
 */
#ifndef LEAKHUNT_H
#define LEAKHUNT_H

#ifdef __cplusplus
extern "C" {
#endif

/* Defined by libleakhunt.so; NULL when the recorder is not loaded. */
extern void leakhunt_recorder_mark(const char *label) __attribute__((weak));

/* Drop a marker named label (copied) into the running trace, placed exactly
 * between the events before and after the call. */
static inline void leakhunt_mark(const char *label)
{
    if (leakhunt_recorder_mark)
        leakhunt_recorder_mark(label);
}

#ifdef __cplusplus
}
#endif
#endif
