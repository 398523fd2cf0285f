/* lh_error.c - names for lh_rc codes and chunk types. */
#include "lh_trace.h"

const char *lh_rc_name(int rc)
{
    switch (rc) {
#define LH_X_CASE(name, value, text) case value: return text;
    LH_ERROR_LIST(LH_X_CASE)
#undef LH_X_CASE
    }
    return "unknown error";
}

const char *lh_chunk_type_name(uint32_t type)
{
    switch (type) {
    case LH_CHUNK_PROCESS: return "process";
    case LH_CHUNK_MODULES: return "modules";
    case LH_CHUNK_STACKS:  return "stacks";
    case LH_CHUNK_THREAD:  return "thread";
    case LH_CHUNK_EVENTS:  return "events";
    case LH_CHUNK_MARKER:  return "marker";
    case LH_CHUNK_RSS:     return "rss";
    case LH_CHUNK_FOOTER:  return "footer";
    case LH_CHUNK_LOST:    return "lost";
    case LH_CHUNK_PYFRAMES: return "pyframes";
    }
    return "unknown";
}
