/*
 * pprof_inline - known allocations for the pprof export's scenario
 * (tests/scenario/pprof_go.sh): one function inlined into its caller
 * allocates at two of its lines (always_inline, so even this -O0
 * -fno-inline build has two return addresses in one caller frame at one
 * caller line, the shape that made the export merge two lines), and a loop
 * allocates and frees (alloc_space counts it, inuse_space does not). The
 * first allocation is libc's own (strdup), so the first module a naive
 * exporter meets is libc, not this program.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct entry {
    char *name;
    double *samples;
};

static struct entry *keep[300];
static char *label;

static inline __attribute__((always_inline)) struct entry *entry_new(int i)
{
    struct entry *e = malloc(sizeof *e);              /* ENTRY_LINE */
    e->samples = calloc((size_t)(i % 4) + 1, 8);      /* SAMPLES_LINE */
    e->name = NULL;
    return e;
}

void fill(void)
{
    for (int i = 0; i < 300; i++)
        keep[i] = entry_new(i); /* FILL_LINE */
}

void scratch(void)
{
    for (int i = 0; i < 500; i++) {
        char *p = malloc(200); /* SCRATCH_LINE */
        p[0] = (char)i;
        free(p);
    }
}

int main(void)
{
    label = strdup("pprof_inline");
    fill();
    scratch();
    size_t held = 0;
    for (int i = 0; i < 300; i++)
        held += (size_t)(i % 4) + 1;
    printf("%s: 300 entries of %zu bytes, %zu sample bytes; 500x200 bytes freed\n", label,
           sizeof(struct entry), held * 8);
    return 0;
}
