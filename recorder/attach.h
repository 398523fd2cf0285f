/*
 * attach.h - attach mode (leakhunt-record -p): libleakhunt.so loaded into a
 * running process by dlopen, started by leakhunt_attach(), with the GOT
 * slots of the loaded modules pointed at the hooks (got.c).
 */
#ifndef LH_ATTACH_H
#define LH_ATTACH_H

#include <stddef.h>

#include "rec.h"

/* Exported: called in the target by leakhunt-record's injector after
 * dlopen. 0, or a code that leakhunt-record explains (attach.c). */
int leakhunt_attach(void);

/* 1 once leakhunt_attach() has started a trace (ProcessInfo.attached). */
LH_HIDDEN extern int lh_attached;
/* 1 if we were loaded after startup by leakhunt-record -p (not in
 * LD_PRELOAD, and its attach file exists): the constructor must not start
 * recording. */
LH_HIDDEN int lh_attach_loaded_late(void);
/* Configuration value NAME (LEAKHUNT_*): from the attach file in attach
 * mode, else the environment. */
LH_HIDDEN const char *lh_config_get(const char *name);
/* Writer round: patch modules loaded since the last round. */
LH_HIDDEN void lh_attach_tick(void);
/* The trace was finished by a stop request: unhook (attach mode). */
LH_HIDDEN void lh_attach_stopped(void);

/* got.c */
LH_HIDDEN int lh_got_init(void);
/* Point every not yet patched slot at our hooks; returns slots written. */
LH_HIDDEN size_t lh_got_refresh(void);
/* Put libc's functions back in the slots pointing at hooks; returns how many. */
LH_HIDDEN size_t lh_got_restore(void);
/* lh_got_refresh if the loader added modules since the last one. */
LH_HIDDEN void lh_got_tick(void);

/* hooks.c */
LH_HIDDEN void lh_hooks_atfork(void);

#endif
