/*
 * lh_units.h - sizes as people type them, the same for every tool and the
 * recorder's environment: 4096, 64K, 1.5M, 2G, 512KiB (K = 1024).
 */
#ifndef LH_UNITS_H
#define LH_UNITS_H

#include <stdint.h>

/* 0 and *out set, or -1 (nothing set) when s is not such a size or is
 * beyond 2^63. */
int lh_parse_size(const char *s, uint64_t *out);

#endif
