/* lh_units.c - see lh_units.h. No strtod: the recorder calls this before
 * the program's locale may have changed the decimal point, and a size is
 * never negative, hexadecimal or in exponent form. */
#include <inttypes.h>
#include <stdio.h>

#include "lh_units.h"

int lh_parse_size(const char *s, uint64_t *out)
{
    uint64_t whole = 0, frac = 0, scale = 1;
    const char *p = s;
    int digits = 0;
    for (; *p >= '0' && *p <= '9'; p++, digits++) {
        if (whole > (UINT64_MAX - 9) / 10)
            return -1;
        whole = whole * 10 + (uint64_t)(*p - '0');
    }
    if (*p == '.') {
        for (p++; *p >= '0' && *p <= '9'; p++, digits++)
            if (scale < 1000000) { /* six decimals: frac * mul stays in range */
                frac = frac * 10 + (uint64_t)(*p - '0');
                scale *= 10;
            }
    }
    if (!digits)
        return -1;
    uint64_t mul = 1;
    switch (*p) {
    case 'k': case 'K': mul = 1ull << 10; p++; break;
    case 'm': case 'M': mul = 1ull << 20; p++; break;
    case 'g': case 'G': mul = 1ull << 30; p++; break;
    }
    if (mul > 1 && *p == 'i')
        p++;
    if (*p == 'b' || *p == 'B')
        p++;
    if (*p)
        return -1;
    if (whole > (UINT64_MAX >> 1) / mul)
        return -1;
    *out = whole * mul + frac * mul / scale;
    return 0;
}

const char *lh_human(int64_t b, char *buf, size_t cap, int sign)
{
    const char *s = b < 0 ? "-" : (sign && b > 0 ? "+" : "");
    uint64_t a = b < 0 ? 0 - (uint64_t)b : (uint64_t)b;
    if (a >= 10ull << 30) snprintf(buf, cap, "%s%.1f GiB", s, a / 1073741824.0);
    else if (a >= 10ull << 20) snprintf(buf, cap, "%s%.1f MiB", s, a / 1048576.0);
    else if (a >= 10ull << 10) snprintf(buf, cap, "%s%.1f KiB", s, a / 1024.0);
    else snprintf(buf, cap, "%s%" PRIu64 " B", s, a);
    return buf;
}

const char *lh_count_str(int64_t v, char *buf, size_t cap, int sign)
{
    char digits[32], out[48];
    uint64_t a = v < 0 ? 0 - (uint64_t)v : (uint64_t)v;
    int n = snprintf(digits, sizeof(digits), "%" PRIu64, a), o = 0;
    for (int i = 0; i < n; i++) {
        out[o++] = digits[i];
        if ((n - i - 1) % 3 == 0 && i + 1 < n)
            out[o++] = ',';
    }
    out[o] = 0;
    snprintf(buf, cap, "%s%.29s", v < 0 ? "-" : (sign && v > 0 ? "+" : ""), out);
    return buf;
}
