/*
 * test_units.c - lh_parse_size, the size parser of every tool and of the
 * recorder's LEAKHUNT_SAMPLE: what it takes, to the byte, and what it
 * refuses (leaving *out alone).
 */
#include <stdint.h>

#include "lh_units.h"
#include "tap.h"

static uint64_t parsed(const char *s, int *rc)
{
    uint64_t v = 12345;
    *rc = lh_parse_size(s, &v);
    return v;
}

#define TAKES(s, want) do { int rc_; uint64_t v_ = parsed(s, &rc_); CHECK(rc_ == 0); CHECK_U64(v_, want); } while (0)
#define REFUSES(s) do { int rc_; uint64_t v_ = parsed(s, &rc_); CHECK(rc_ == -1); CHECK_U64(v_, 12345); } while (0)

static void test_plain_and_suffixes(void)
{
    TAKES("0", 0);
    TAKES("4096", 4096);
    TAKES("64K", 65536);
    TAKES("64k", 65536);
    TAKES("512KiB", 524288);
    TAKES("512KB", 524288);
    TAKES("512Kb", 524288);
    TAKES("2M", 2097152);
    TAKES("1G", 1073741824);
    TAKES("100B", 100);
    TAKES("007", 7);
}

static void test_decimals(void)
{
    TAKES("1.5M", 1572864);
    TAKES("0.5K", 512);
    TAKES("1.", 1);
    TAKES(".5K", 512);
    TAKES("2.25", 2);                    /* whole bytes, rounded down */
    TAKES("1.0000001G", 1073741824);     /* six decimals kept */
}

static void test_refused(void)
{
    REFUSES("");
    REFUSES("K");
    REFUSES(".");
    REFUSES("-5");
    REFUSES("+5");
    REFUSES(" 5");
    REFUSES("5 ");
    REFUSES("5KK");
    REFUSES("5T");
    REFUSES("5iB");                      /* i only after a multiplier */
    REFUSES("0x10");
    REFUSES("1e3");
    REFUSES("12Q");
    REFUSES("lots");
}

static void test_limits(void)
{
    TAKES("9223372036854775807", 9223372036854775807ull);    /* 2^63 - 1 */
    TAKES("8589934591G", 8589934591ull << 30);               /* just under 2^63 */
    REFUSES("8589934592G");                                  /* 2^63 */
    REFUSES("18446744073709551616");                         /* 2^64 */
    REFUSES("99999999999999999999999");
}

int main(void)
{
    TEST(test_plain_and_suffixes);
    TEST(test_decimals);
    TEST(test_refused);
    TEST(test_limits);
    return TAP_DONE();
}
