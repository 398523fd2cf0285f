/*
 * attach_target - a long-running program for leakhunt-record -p tests.
 *
 * Reads one command per line on stdin and answers each with one line on
 * stdout, so a test drives its phases exactly:
 *   a N        N x alloc_a: malloc(100), kept
 *   b N        N x alloc_b: calloc(1, 200), kept
 *   c N        N x alloc_c: realloc(NULL, 300) then reallocarray to 600, kept
 *   t N        N worker-thread allocations: alloc_t malloc(50), kept
 *   free-a     free every block made by "a" so far
 *   closefds P close descriptors 3..1023 (what daemons do), open file P
 *              (likely under a number the recorder or libunwind held) and
 *              write 40 lines to it while allocating
 *   exec       become /bin/true through execl (no answer)
 *   count      print "count a=.. b=.. c=.. t=.." (allocations since the
 *              last count) and reset
 *   bench N    N x malloc(32)+free, print "bench ns_per_pair=X"
 *   quit       free everything, print "bye total=N" (N = all allocations
 *              made by commands), exit 0
 * Every other command answers "ok".
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define MAX_BLOCKS 200000

static void *blocks_a[MAX_BLOCKS], *blocks_b[MAX_BLOCKS], *blocks_c[MAX_BLOCKS], *blocks_t[MAX_BLOCKS];
static int na, nb, nc, nt;
static long since_a, since_b, since_c, since_t, total;

__attribute__((noinline)) static void *alloc_a(void) { return malloc(100); }
__attribute__((noinline)) static void *alloc_b(void) { return calloc(1, 200); }
/* A NULL the compiler cannot see: it turns realloc(NULL, n) into malloc(n),
 * and the recorder's own realloc(NULL, n) path would go untested. */
static void *volatile no_block;
__attribute__((noinline)) static void *alloc_c(void)
{
    void *p = realloc(no_block, 300);
    void *q = reallocarray(p, 2, 300); /* realloc to 600 through reallocarray */
    return q ? q : p;
}
__attribute__((noinline)) static void *alloc_t(void) { return malloc(50); }

static void *worker(void *arg)
{
    long n = (long)arg;
    for (long i = 0; i < n && nt < MAX_BLOCKS; i++)
        blocks_t[nt++] = alloc_t();
    return NULL;
}

static double now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1e9 + ts.tv_nsec;
}

int main(void)
{
    char line[256];
    setvbuf(stdout, NULL, _IOLBF, 0);
    while (fgets(line, sizeof(line), stdin)) {
        long n = 0;
        char cmd[32] = "", arg[200] = "";
        if (sscanf(line, "%31s %ld", cmd, &n) < 1)
            continue;
        sscanf(line, "%*s %199s", arg);
        if (!strcmp(cmd, "a")) {
            for (long i = 0; i < n && na < MAX_BLOCKS; i++, since_a++, total++)
                blocks_a[na++] = alloc_a();
        } else if (!strcmp(cmd, "b")) {
            for (long i = 0; i < n && nb < MAX_BLOCKS; i++, since_b++, total++)
                blocks_b[nb++] = alloc_b();
        } else if (!strcmp(cmd, "c")) {
            for (long i = 0; i < n && nc < MAX_BLOCKS; i++, since_c++, total++)
                blocks_c[nc++] = alloc_c();
        } else if (!strcmp(cmd, "t")) {
            pthread_t th;
            int before = nt;
            if (pthread_create(&th, NULL, worker, (void *)n) == 0)
                pthread_join(th, NULL);
            since_t += nt - before;
            total += nt - before;
        } else if (!strcmp(cmd, "free-a")) {
            for (int i = 0; i < na; i++)
                free(blocks_a[i]);
            na = 0;
        } else if (!strcmp(cmd, "closefds")) {
            for (int fd = 3; fd < 1024; fd++)
                close(fd);
            FILE *f = fopen(arg, "w");
            for (int i = 0; f && i < 40; i++) {
                fprintf(f, "app line %d\n", i);
                fflush(f);
                for (int j = 0; j < 200; j++)
                    free(alloc_a());
                usleep(5000);
            }
            if (!f || fclose(f) != 0) {
                printf("closefds failed\n");
                continue;
            }
        } else if (!strcmp(cmd, "exec")) {
            execl("/bin/true", "true", (char *)NULL);
            printf("exec failed\n");
            continue;
        } else if (!strcmp(cmd, "count")) {
            printf("count a=%ld b=%ld c=%ld t=%ld\n", since_a, since_b, since_c, since_t);
            since_a = since_b = since_c = since_t = 0;
            continue;
        } else if (!strcmp(cmd, "bench")) {
            double t0 = now_ns();
            for (long i = 0; i < n; i++) {
                void *volatile p = malloc(32);
                free(p);
            }
            printf("bench ns_per_pair=%.1f\n", n ? (now_ns() - t0) / (double)n : 0.0);
            continue;
        } else if (!strcmp(cmd, "quit")) {
            for (int i = 0; i < na; i++) free(blocks_a[i]);
            for (int i = 0; i < nb; i++) free(blocks_b[i]);
            for (int i = 0; i < nc; i++) free(blocks_c[i]);
            for (int i = 0; i < nt; i++) free(blocks_t[i]);
            printf("bye total=%ld\n", total);
            return 0;
        }
        printf("ok\n");
    }
    return 1;
}
