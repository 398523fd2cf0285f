/* static_prog - built with -static: no recorder can be preloaded. */
#include "tt.h"

int main(void)
{
    for (int i = 0; i < 10; i++)
        tt_free(tt_alloc(99));
    tt_report();
    return 6;
}
