/*
 * symbols.h - code addresses from a trace to functions and source lines.
 *
 * Modules come from the trace's module maps (path, build-id, load bias,
 * segments); their debug information is found the way gdb finds it
 * (.gnu_debuglink, /usr/lib/debug/.build-id) through elfutils libdwfl.
 * Results are cached per address, so a million frames cost one lookup per
 * distinct address. An address no module or symbol explains is shown as
 * "module+0xoffset" (or "0xaddress"), never dropped.
 */
#ifndef LH_SYMBOLS_H
#define LH_SYMBOLS_H

#include <stddef.h>
#include <stdint.h>

#include "lh_trace.h"
#include "stack_frame.h"

typedef struct lh_symbols lh_symbols;

/* One source-level frame. An address inside inlined code yields several:
 * the inlined functions first (inlined = 1), then the real function. */
typedef lh_stack_frame lh_sym_frame; /* stack_frame.h: the flame tree's frame too */

lh_symbols *lh_symbols_new(void);
void lh_symbols_free(lh_symbols *s);

/* Add the modules of map number `map` (1 + its index in the trace's
 * module maps, lh_replay_module_maps; the union of all maps is kept, and
 * each module remembers the numbers of the maps it was in). 0, or -1 with
 * errno ENOMEM (what was added stays; adding the map again is safe). */
int lh_symbols_add_map(lh_symbols *s, const Lh__ModuleMap *m, uint32_t map);
/* Add Python frames (PyFrames chunk, format 1.1): ips LH_PY_IP_BASE + id
 * then look up as one frame {function, file, line, module "python"}.
 * 0, or -1 with errno ENOMEM (as lh_symbols_add_map). */
int lh_symbols_add_pyframes(lh_symbols *s, const Lh__PyFrames *m);
/* Where perf maps of JIT code are looked for (/tmp/perf-PID.map). */
void lh_symbols_set_pid(lh_symbols *s, uint32_t pid);
/* /tmp is everyone's: a perf map is read only when it is a regular file
 * (not followed through a link, never waited on as a FIFO) of the
 * reader's or of this uid's (the trace's owner), not writable by group or
 * others; another is skipped with a warning (lh_symbols_warnings). */
void lh_symbols_set_owner(lh_symbols *s, uint32_t uid);

/* Frames for a return address ip (innermost first) of a stack recorded
 * while module map number `map` was in effect (lh_site.map; 0: unknown).
 * The module is the one holding ip in that map; with none there (or map
 * 0), the most recently added one holding ip. *n gets the count (>= 1).
 * The array belongs to s and stays valid until s is freed. NULL with
 * errno ENOMEM when memory ran out (never frames missing a name); nothing
 * is cached then, and a later lookup of ip may answer. */
const lh_sym_frame *lh_symbols_lookup(lh_symbols *s, uint64_t ip, uint32_t map, size_t *n);

/* Path of the module holding return address ip (chosen as by
 * lh_symbols_lookup), NULL if none; no debug information is read. */
const char *lh_symbols_module_path(lh_symbols *s, uint64_t ip, uint32_t map);

/* Modules whose file on this machine has another build-id than the
 * traced one: their frames show as module+offset. Printed once each as
 * warnings through the callback. */
void lh_symbols_warnings(lh_symbols *s, void (*warn)(const char *msg, void *ctx), void *ctx);

#endif
