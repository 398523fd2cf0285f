/*
 * test_procfs_read.c - the /proc stat field reader leakhunt-record uses to
 * tell a process or thread from another with the same id (start time) and
 * to find a thread's state: command names with spaces and parentheses,
 * the first and the 22nd field, and lines too short.
 */
#include <string.h>

#include "../recorder/procfs_read.h"
#include "tap.h"

static void test_fields(void)
{
    char line[512];
    /* pid (comm) state ppid ... field 22 is starttime */
    strcpy(line, "4242 (a b) (c)) S 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16 17 18 987654 20 21\n");
    CHECK_STR(lh_stat_field(line, 3), "S");
    strcpy(line, "4242 (a b) (c)) S 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16 17 18 987654 20 21\n");
    CHECK_STR(lh_stat_field(line, 4), "1");
    strcpy(line, "4242 (a b) (c)) S 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16 17 18 987654 20 21\n");
    CHECK_STR(lh_stat_field(line, 22), "987654");
    strcpy(line, "4242 (x) R 1 2\n");
    CHECK(lh_stat_field(line, 22) == NULL);
    strcpy(line, "no parenthesis at all");
    CHECK(lh_stat_field(line, 3) == NULL);
}

static void test_own_stat(void)
{
    char buf[1024];
    CHECK(lh_read_text("/proc/self/stat", buf, sizeof(buf)) > 0);
    const char *state = lh_stat_field(buf, 3);
    CHECK(state && state[0] == 'R');
}

int main(void)
{
    TEST(test_fields);
    TEST(test_own_stat);
    return TAP_DONE();
}
