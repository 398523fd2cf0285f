/* big1g - one 1 GiB allocation, never touched, then freed; one 2^62-byte
 * allocation that fails (not an allocation). */
#include "tt.h"

int main(void)
{
    void *p = tt_alloc((size_t)1 << 30);
    if (!p)
        return 1;
    void *q = tt_alloc((size_t)1 << 62);
    if (q)
        return 2;
    tt_free(p);
    tt_report();
    return 0;
}
