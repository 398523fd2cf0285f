/*
 * test_json.c - lh_json_str, the one JSON string writer, byte for byte:
 * escapes, control characters, and every way bytes can fail to be UTF-8
 * (each such byte one U+FFFD); then python's json, which refuses invalid
 * UTF-8 and unescaped controls, parses what it wrote from every byte value.
 */
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "lh_json.h"
#include "tap.h"

/* What lh_json_str writes for s. */
static char *json_of(const char *s)
{
    char *out = NULL;
    size_t len = 0;
    FILE *m = open_memstream(&out, &len);
    if (!m)
        abort();
    lh_json_str(m, s);
    fclose(m);
    return out;
}

#define EXPECT(in, want) do { char *got_ = json_of(in); CHECK_STR(got_, want); free(got_); } while (0)

static void test_escapes(void)
{
    EXPECT("", "\"\"");
    EXPECT(NULL, "\"\"");
    EXPECT("plain /path/a.lht", "\"plain /path/a.lht\"");
    EXPECT("a\"b", "\"a\\\"b\"");
    EXPECT("a\\b", "\"a\\\\b\"");
    EXPECT("a\nb\rc\td\be\ff", "\"a\\nb\\rc\\td\\be\\ff\"");
    EXPECT("\x01\x1f\x7f", "\"\\u0001\\u001f\\u007f\"");
    EXPECT("<script>&", "\"\\u003cscript\\u003e\\u0026\"");
}

static void test_utf8_kept(void)
{
    EXPECT("caf\xc3\xa9", "\"caf\xc3\xa9\"");                 /* U+00E9 */
    EXPECT("\xe2\x82\xac", "\"\xe2\x82\xac\"");                 /* U+20AC */
    EXPECT("\xf0\x9f\x92\xa9", "\"\xf0\x9f\x92\xa9\"");         /* U+1F4A9 */
    EXPECT("\xf4\x8f\xbf\xbf", "\"\xf4\x8f\xbf\xbf\"");         /* U+10FFFF, the last */
    EXPECT("\xed\x9f\xbf", "\"\xed\x9f\xbf\"");                 /* U+D7FF, below the surrogates */
    CHECK(lh_utf8_len("\xc3\xa9") == 2 && lh_utf8_len("\xe2\x82\xac") == 3);
    CHECK(lh_utf8_len("\xf0\x9f\x92\xa9") == 4 && lh_utf8_len("a") == 1);
}

static void test_invalid_bytes_replaced(void)
{
    EXPECT("x\xffy", "\"x\\ufffdy\"");
    EXPECT("\xfe\xc0\xc1\xf5", "\"\\ufffd\\ufffd\\ufffd\\ufffd\"");
    EXPECT("\x80", "\"\\ufffd\"");                               /* stray continuation */
    EXPECT("\xc0\xaf", "\"\\ufffd\\ufffd\"");                     /* overlong '/' */
    EXPECT("\xe0\x80\xaf", "\"\\ufffd\\ufffd\\ufffd\"");          /* overlong, 3 bytes */
    EXPECT("\xed\xa0\x80", "\"\\ufffd\\ufffd\\ufffd\"");          /* surrogate U+D800 */
    EXPECT("\xf4\x90\x80\x80", "\"\\ufffd\\ufffd\\ufffd\\ufffd\""); /* past U+10FFFF */
    EXPECT("\xe2\x82", "\"\\ufffd\\ufffd\"");                     /* cut short by the end */
    EXPECT("\xe2\x82\"", "\"\\ufffd\\ufffd\\\"\"");               /* cut short by a quote */
    EXPECT("\xc3\xa9\xff\xc3\xa9", "\"\xc3\xa9\\ufffd\xc3\xa9\"");
    CHECK(lh_utf8_len("\xe2\x82") == 0 && lh_utf8_len("\xff") == 0 && lh_utf8_len("\xed\xa0\x80") == 0);
}

/* Every byte value 1..255 alone, then all of them in one string: python's
 * json parses each line, and what it reads back is the input with each
 * invalid byte as U+FFFD (python's own "replace" agrees for lone bytes). */
static void test_python_parses_every_byte(void)
{
    char path[] = "/tmp/lh-json-XXXXXX";
    int fd = mkstemp(path);
    CHECK(fd >= 0);
    FILE *f = fd >= 0 ? fdopen(fd, "w") : NULL;
    if (!f)
        return;
    char all[256], one[2] = { 0, 0 };
    for (int b = 1; b < 256; b++) {
        one[0] = (char)b;
        all[b - 1] = (char)b;
        lh_json_str(f, one);
        fputc('\n', f);
    }
    all[255] = 0;
    lh_json_str(f, all);
    fputc('\n', f);
    fclose(f);
    char cmd[600];
    snprintf(cmd, sizeof cmd,
             "python3 -c 'import json,sys\n"
             "lines=open(sys.argv[1],\"rb\").read().decode(\"utf-8\").split(\"\\n\")[:-1]\n"
             "want=[bytes([b]).decode(\"utf-8\",\"replace\") for b in range(1,256)]\n"
             "want.append(\"\".join(want))\n"
             "got=[json.loads(l) for l in lines]\n"
             "sys.exit(0 if got==want else 1)' %s", path);
    CHECK(system(cmd) == 0);
    unlink(path);
}

int main(void)
{
    TEST(test_escapes);
    TEST(test_utf8_kept);
    TEST(test_invalid_bytes_replaced);
    TEST(test_python_parses_every_byte);
    return TAP_DONE();
}
