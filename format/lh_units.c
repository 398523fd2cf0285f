/* lh_units.c - see lh_units.h. No strtod: the recorder calls this before
 * the program's locale may have changed the decimal point, and a size is
 * never negative, hexadecimal or in exponent form. */
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
