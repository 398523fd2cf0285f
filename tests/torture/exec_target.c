/* exec_target - what other torture programs exec: 7 blocks, 3 freed. */
#include "tt.h"

int main(void)
{
    void *p[7];
    for (int i = 0; i < 7; i++)
        p[i] = tt_alloc(77);
    for (int i = 0; i < 3; i++)
        tt_free(p[i]);
    tt_report();
    return 0;
}
