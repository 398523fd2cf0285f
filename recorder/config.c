/*
 * config.c - the recorder's settings, from LEAKHUNT_* environment variables
 * (leakhunt-record sets them from its options). Every value is checked; a
 * bad one is named in a single message and the program runs untraced.
 * The intervals are the collector's business; they are checked here too,
 * so a bad value is named by the program that would have been traced.
 * In attach mode the values come from leakhunt-record's attach file.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "attach.h"
#include "lh_contract.h" /* the limits leakhunt-record checks too */
#include "lh_units.h"
#include "rec.h"

LH_HIDDEN lh_config lh_cfg;

static int int_env(const char *name, int def, int lo, int hi, int *out)
{
    const char *v = lh_config_get(name);
    char *end;
    if (!v || !*v) {
        *out = def;
        return 0;
    }
    errno = 0;
    long x = strtol(v, &end, 10);
    if (errno || *end || x < lo || x > hi) {
        lh_message("%s=%s: expected a whole number from %d to %d; not recording", name, v, lo, hi);
        return -1;
    }
    *out = (int)x;
    return 0;
}

static int str_env(const char *name, const char *def, char *out, size_t cap)
{
    const char *v = lh_config_get(name);
    if (!v || !*v)
        v = def;
    if (strlen(v) >= cap) {
        lh_message("%s: value longer than %zu bytes; not recording", name, cap - 1);
        return -1;
    }
    strcpy(out, v);
    return 0;
}

static int size_env(const char *name, uint64_t hi, uint64_t *out)
{
    const char *v = lh_config_get(name);
    *out = 0;
    if (!v || !*v)
        return 0;
    if (lh_parse_size(v, out) < 0 || *out > hi) {
        lh_message("%s=%s: expected a size such as 4096, 512K or 2M (at most %llu); not recording", name, v,
                   (unsigned long long)hi);
        return -1;
    }
    return 0;
}

int lh_config_load(void)
{
    lh_config *c = &lh_cfg;
    char unwind[32], python[32], pyalloc[32];
    if (str_env("LEAKHUNT_SESSION", "", c->session, sizeof(c->session)) < 0
        || str_env("LEAKHUNT_UNWIND", "libunwind", unwind, sizeof(unwind)) < 0
        || str_env("LEAKHUNT_PYTHON", "inner", python, sizeof(python)) < 0
        || str_env("LEAKHUNT_PYTHON_ALLOCATOR", "hook", pyalloc, sizeof(pyalloc)) < 0
        || int_env("LEAKHUNT_DEPTH", LH_DEPTH_DEFAULT, 1, LH_DEPTH_MAX, &c->depth) < 0
        || int_env("LEAKHUNT_RSS_INTERVAL", 100, 0, LH_RSS_INTERVAL_MAX_MS, &c->rss_interval_ms) < 0
        || int_env("LEAKHUNT_FLUSH_INTERVAL", 200, 1, LH_FLUSH_INTERVAL_MAX_MS, &c->flush_ms) < 0
        || int_env("LEAKHUNT_MMAP", 1, 0, 1, &c->trace_mmap) < 0
        || int_env("LEAKHUNT_FOLLOW_FORK", 1, 0, 1, &c->follow_fork) < 0
        || int_env("LEAKHUNT_QUIET", 0, 0, 1, &c->quiet) < 0
        || int_env("LEAKHUNT_VERIFY_UNWIND", 0, 0, 2, &c->verify_unwind) < 0
        || size_env("LEAKHUNT_SAMPLE", LH_SAMPLE_MAX, &c->sample) < 0
        || size_env("LEAKHUNT_SAMPLE_SEED", UINT64_MAX >> 1, &c->sample_seed) < 0)
        return -1;
    if (!strcmp(unwind, "libunwind"))
        c->unwind_fp = 0;
    else if (!strcmp(unwind, "fp"))
        c->unwind_fp = 1;
    else {
        lh_message("LEAKHUNT_UNWIND=%s: expected libunwind or fp; not recording", unwind);
        return -1;
    }
    if (!strcmp(python, "inner") || !strcmp(python, "1"))
        c->python = LH_PY_INNER;
    else if (!strcmp(python, "full"))
        c->python = LH_PY_FULL;
    else if (!strcmp(python, "off") || !strcmp(python, "0"))
        c->python = LH_PY_OFF;
    else {
        lh_message("LEAKHUNT_PYTHON=%s: expected inner, full or off; not recording", python);
        return -1;
    }
    if (!strcmp(pyalloc, "hook"))
        c->py_alloc = LH_PYA_HOOK;
    else if (!strcmp(pyalloc, "malloc"))
        c->py_alloc = LH_PYA_MALLOC;
    else if (!strcmp(pyalloc, "off"))
        c->py_alloc = LH_PYA_OFF;
    else {
        lh_message("LEAKHUNT_PYTHON_ALLOCATOR=%s: expected hook, malloc or off; not recording", pyalloc);
        return -1;
    }
    return 0;
}
