/*
 * tap.h - the smallest test harness that can fail: each test program
 * prints TAP lines ("ok N - name" / "not ok N - name") and exits non-zero
 * when any check failed. tests/run.sh adds them up.
 */
#ifndef LH_TAP_H
#define LH_TAP_H

#include <inttypes.h>
#include <stdio.h>
#include <string.h>

static int tap_n, tap_failed, tap_case_failed;

/* A check inside a case: prints the failing expression and location. */
#define CHECK(cond) do { if (!(cond)) { tap_case_failed = 1; \
    fprintf(stdout, "#   %s:%d: check failed: %s\n", __FILE__, __LINE__, #cond); } } while (0)
#define CHECK_U64(got, want) do { uint64_t g_ = (uint64_t)(got), w_ = (uint64_t)(want); \
    if (g_ != w_) { tap_case_failed = 1; fprintf(stdout, \
    "#   %s:%d: %s = %" PRIu64 ", want %" PRIu64 "\n", __FILE__, __LINE__, #got, g_, w_); } } while (0)
#define CHECK_STR(got, want) do { const char *g_ = (got), *w_ = (want); \
    if (!g_ || strcmp(g_, w_)) { tap_case_failed = 1; fprintf(stdout, \
    "#   %s:%d: %s = \"%s\", want \"%s\"\n", __FILE__, __LINE__, #got, g_ ? g_ : "(null)", w_); } } while (0)

/* Run one case: fn() uses CHECK; one TAP line per case. */
#define TEST(fn) do { tap_case_failed = 0; fn(); tap_n++; \
    if (tap_case_failed) tap_failed++; \
    printf("%sok %d - %s\n", tap_case_failed ? "not " : "", tap_n, #fn); fflush(stdout); } while (0)

#define TAP_DONE() (printf("1..%d\n", tap_n), tap_failed ? 1 : 0)

#endif
