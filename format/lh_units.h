/*
 * lh_units.h - sizes as people type them, the same for every tool and the
 * recorder's environment: 4096, 64K, 1.5M, 2G, 512KiB (K = 1024); and
 * sizes and counts as the analysis tools print them.
 */
#ifndef LH_UNITS_H
#define LH_UNITS_H

#include <stddef.h>
#include <stdint.h>

/* 0 and *out set, or -1 (nothing set) when s is not such a size or is
 * beyond 2^63. */
int lh_parse_size(const char *s, uint64_t *out);

/* "1.5 MiB", "4096 B", "-12.0 KiB"; sign: "+" before growth. Returns buf. */
const char *lh_human(int64_t bytes, char *buf, size_t cap, int sign);
/* "12,345", "+3", "-1,000". Returns buf. */
const char *lh_count_str(int64_t v, char *buf, size_t cap, int sign);

#endif
