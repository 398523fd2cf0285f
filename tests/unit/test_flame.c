/*
 * test_flame.c - the stack tree and every exporter, on trees built by hand
 * with known stacks so every expected output is exact. With LH_FLAME_OUT
 * set to a directory, the SVG and HTML outputs are also written there for
 * tests/scenario/flame_chromium.sh to load in a browser.
 */
#include "../../analyze/flame.h"
#include "tap.h"
#include "profile.pb-c.h"

#include <zlib.h>

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static char tmpdir[] = "/tmp/lh-flame-XXXXXX";

/* Adds "a;b;c" (root first) with live bytes/count; alloc = 2x live. */
static void add_path(lh_flame *f, const char *path, int64_t bytes, int64_t count)
{
    lh_flame_frame fr[64];
    char buf[1024], *save = NULL;
    size_t n = 0;
    snprintf(buf, sizeof buf, "%s", path);
    for (char *t = strtok_r(buf, ";", &save); t && n < 64; t = strtok_r(NULL, ";", &save))
        fr[n++] = (lh_flame_frame){ .name = t, .module = "/usr/bin/app",
                                    .address = 0x1000 + 16 * (uint64_t)strlen(t) + t[0],
                                    .module_offset = 16 * (uint64_t)strlen(t) + t[0] };
    int64_t v[LH_VAL_COUNT] = { bytes, count, 2 * bytes, 2 * count };
    CHECK(lh_flame_add(f, fr, n, v) == 0);
}

/* The whole output of an exporter writing to a FILE*. */
static char *capture_folded(const lh_flame *f, int value)
{
    char *s = NULL;
    size_t len = 0;
    FILE *m = open_memstream(&s, &len);
    CHECK(lh_export_folded(f, value, m) == 0);
    fclose(m);
    return s;
}

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec / 1e9;
}


/* Where a test's output file goes: $LH_FLAME_OUT (kept for the browser
 * scenario) or the private temporary directory. */
static void out_path(char *buf, size_t len, const char *name)
{
    const char *dir = getenv("LH_FLAME_OUT");
    snprintf(buf, len, "%s/%s", dir && *dir ? dir : tmpdir, name);
}

/* Runs a shell command and returns its stdout (caller frees). */
static char *run(const char *cmd)
{
    FILE *p = popen(cmd, "r");
    if (!p)
        return NULL;
    char *s = NULL;
    size_t len = 0;
    FILE *m = open_memstream(&s, &len);
    char buf[4096];
    size_t n;
    while ((n = fread(buf, 1, sizeof buf, p)) > 0)
        fwrite(buf, 1, n, m);
    fclose(m);
    int st = pclose(p);
    if (st != 0)
        printf("# command failed (%d): %s\n", st, cmd);
    return s;
}

static int has_line(const char *text, const char *line)
{
    size_t n = strlen(line);
    for (const char *p = text; p && (p = strstr(p, line)); p++)
        if ((p == text || p[-1] == '\n') && (p[n] == '\n' || !p[n]))
            return 1;
    return 0;
}

/* Names that need escaping in every text format. */
static const char *const nasty[] = {
    "a<b", "fish & chips", "say \"hi\"", "caf\xc3\xa9_\xc3\xa9t\xc3\xa9",
    "std::vector<int, std::allocator<int> >::push_back", "it's",
};
enum { NNASTY = sizeof nasty / sizeof *nasty };

static lh_flame *nasty_tree(void)
{
    lh_flame *f = lh_flame_new("Title <&> \"quoted\" \xc3\xa9", 0);
    for (int i = 0; i < NNASTY; i++) {
        lh_flame_frame fr[3] = {
            { .name = "main", .file = "main.c", .line = 3, .module = "/bin/app" },
            { .name = nasty[i], .file = "we<ird>&.cc", .line = 10 + i, .module = "/lib/libx&y.so" },
            { .name = "operator new(unsigned long)", .module = "/lib/libstdc++.so.6" },
        };
        int64_t v[LH_VAL_COUNT] = { 1000 * (i + 1), i + 1, 2000 * (i + 1), 2 * (i + 1) };
        CHECK(lh_flame_add(f, fr, 3, v) == 0);
    }
    return f;
}

static int strcmp_ptr(const char *const *a, const char *const *b)
{
    return strcmp(*a, *b);
}

/* --- tree and folded -------------------------------------------------------- */

static void test_value_names(void)
{
    CHECK_STR(lh_flame_value_name(LH_VAL_LIVE_BYTES), "live_bytes");
    CHECK_STR(lh_flame_value_name(LH_VAL_ALLOC_COUNT), "alloc_count");
    CHECK(lh_flame_value_name(LH_VAL_COUNT) == NULL);
    CHECK(lh_flame_value_parse("alloc_bytes") == LH_VAL_ALLOC_BYTES);
    CHECK(lh_flame_value_parse("live_count") == LH_VAL_LIVE_COUNT);
    CHECK(lh_flame_value_parse("bogus") == -1);
    CHECK(lh_flame_value_parse(NULL) == -1);
}

static void test_folded_exact(void)
{
    lh_flame *f = lh_flame_new("t", 0);
    add_path(f, "main;parse;malloc", 100, 1);
    add_path(f, "main;load;read_file;malloc", 4096, 2);
    add_path(f, "main;parse;malloc", 50, 3);   /* merges with the first */
    add_path(f, "main;parse", 7, 1);           /* a stack ending mid-tree */
    add_path(f, "worker;calloc", 0, 0);        /* zero: omitted */
    char *s = capture_folded(f, LH_VAL_LIVE_BYTES);
    CHECK_STR(s, "main;load;read_file;malloc 4096\n"
                 "main;parse 7\n"
                 "main;parse;malloc 150\n");
    free(s);
    s = capture_folded(f, LH_VAL_ALLOC_COUNT);
    CHECK_STR(s, "main;load;read_file;malloc 4\nmain;parse 2\nmain;parse;malloc 8\n");
    free(s);
    CHECK_U64(lh_flame_total(f, LH_VAL_LIVE_BYTES), 4253);
    CHECK_U64(lh_flame_total(f, LH_VAL_LIVE_COUNT), 7);
    CHECK_U64(lh_flame_total(f, LH_VAL_ALLOC_BYTES), 8506);
    CHECK(lh_export_folded(f, LH_VAL_COUNT, stdout) == -EINVAL);
    lh_flame_free(f);
}

static void test_merge_by_name_file_line(void)
{
    lh_flame *f = lh_flame_new("t", 0);
    int64_t v[LH_VAL_COUNT] = { 10, 1, 10, 1 };
    lh_flame_frame a[2] = { { .name = "main", .file = "m.c", .line = 5 },
                            { .name = "f", .file = "f.c", .line = 1 } };
    CHECK(lh_flame_add(f, a, 2, v) == 0);
    CHECK(lh_flame_add(f, a, 2, v) == 0);        /* same: merged */
    a[1].line = 2;                               /* other line: its own node */
    CHECK(lh_flame_add(f, a, 2, v) == 0);
    char *s = capture_folded(f, LH_VAL_LIVE_BYTES);
    /* Folded text has names only: the two f nodes fold into one line. */
    CHECK_STR(s, "main;f 30\n");
    free(s);
    lh_flame_free(f);
}

static void test_empty_and_single(void)
{
    lh_flame *f = lh_flame_new(NULL, 0);
    char *s = capture_folded(f, LH_VAL_LIVE_BYTES);
    CHECK_STR(s, "");
    free(s);
    CHECK_U64(lh_flame_total(f, LH_VAL_LIVE_BYTES), 0);
    add_path(f, "malloc", 8, 1);
    add_path(f, "calloc", 16, 1);
    s = capture_folded(f, LH_VAL_LIVE_BYTES);
    CHECK_STR(s, "calloc 16\nmalloc 8\n");
    free(s);
    lh_flame_free(f);
    lh_flame_free(NULL);
}

static void test_deep_stack(void)
{
    enum { DEPTH = 1000 };
    lh_flame_frame *fr = calloc(DEPTH, sizeof *fr);
    char (*names)[16] = calloc(DEPTH, sizeof *names);
    for (int i = 0; i < DEPTH; i++) {
        snprintf(names[i], sizeof names[i], "r%d", i);
        fr[i].name = names[i];
    }
    lh_flame *f = lh_flame_new("deep", 0);
    int64_t v[LH_VAL_COUNT] = { 1000, 1, 1000, 1 };
    CHECK(lh_flame_add(f, fr, DEPTH, v) == 0);
    char *s = capture_folded(f, LH_VAL_LIVE_BYTES);
    CHECK(s && strncmp(s, "r0;r1;r2;", 9) == 0);
    CHECK(s && strstr(s, ";r998;r999 1000\n") && strlen(strstr(s, ";r999 1000\n")) == 11);
    size_t semis = 0;
    for (char *p = s; p && *p; p++)
        semis += *p == ';';
    CHECK_U64(semis, DEPTH - 1);
    free(s);
    lh_flame_free(f);
    free(fr);
    free(names);
}

static void test_folded_escaping_and_diff(void)
{
    lh_flame *f = lh_flame_new("diff", 1);
    add_path(f, "main;grow", 300, 3);
    add_path(f, "main;shrink", -200, -2);
    lh_flame_frame fr[2] = { { .name = "main" }, { .name = "odd;name\nwith newline" } };
    int64_t v[LH_VAL_COUNT] = { 5, 1, 5, 1 };
    CHECK(lh_flame_add(f, fr, 2, v) == 0);
    char *s = capture_folded(f, LH_VAL_LIVE_BYTES);
    CHECK_STR(s, "main;grow 300\nmain;odd:name\\nwith newline 5\nmain;shrink -200\n");
    free(s);
    CHECK(lh_flame_total(f, LH_VAL_LIVE_BYTES) == 105);
    lh_flame_free(f);
}


/* --- SVG ------------------------------------------------------------------ */

/* Parses an SVG with a real XML parser and reports: the sum of depth-1
 * data-value, the sum of depth-1 data-w, rect widths at depth 1, the frame
 * count and every tooltip's first line (the frame name). */
static const char svg_py[] =
    "python3 -c 'import xml.dom.minidom as m,sys\n"
    "d=m.parse(sys.argv[1])\n"
    "gs=[g for g in d.getElementsByTagName(\"g\") if g.getAttribute(\"class\")==\"f\"]\n"
    "top=[g for g in gs if g.getAttribute(\"data-d\")==\"1\"]\n"
    "print(\"SUM\",sum(int(g.getAttribute(\"data-value\")) for g in top))\n"
    "print(\"WSUM %%.6f\"%%sum(float(g.getAttribute(\"data-w\")) for g in top))\n"
    "print(\"PX %%.1f\"%%sum(float(g.getElementsByTagName(\"rect\")[0].getAttribute(\"width\")) for g in top))\n"
    "print(\"N\",len(gs))\n"
    "for g in gs: print(\"NAME\",g.getElementsByTagName(\"title\")[0].firstChild.data.split(chr(10))[0])\n"
    "for g in gs: print(\"FILL\",g.getElementsByTagName(\"title\")[0].firstChild.data.split(chr(10))[0],g.getElementsByTagName(\"rect\")[0].getAttribute(\"fill\"))\n"
    "' %s";

static char *svg_facts(const lh_flame *f, const lh_svg_opts *o, const char *name)
{
    char path[512], cmd[2048];
    out_path(path, sizeof path, name);
    FILE *out = fopen(path, "w");
    CHECK(out && lh_export_svg(f, o, out) == 0);
    if (out)
        fclose(out);
    snprintf(cmd, sizeof cmd, svg_py, path);
    return run(cmd);
}

static void test_svg_escaping_and_widths(void)
{
    lh_flame *f = nasty_tree();
    lh_svg_opts o = { .value = LH_VAL_LIVE_BYTES };
    char *facts = svg_facts(f, &o, "nasty.svg");
    CHECK(facts && has_line(facts, "SUM 21000"));
    CHECK(facts && has_line(facts, "WSUM 1.000000"));
    CHECK(facts && has_line(facts, "PX 1180.0"));
    CHECK(facts && has_line(facts, "N 14"));   /* all, main, 6 names, an operator new under each */
    char want[256];
    for (int i = 0; i < NNASTY; i++) {
        snprintf(want, sizeof want, "NAME %s", nasty[i]);
        CHECK(facts && has_line(facts, want));
    }
    free(facts);
    lh_flame_free(f);
}

static void test_svg_min_width_and_empty(void)
{
    lh_flame *f = lh_flame_new("narrow", 0);
    add_path(f, "main;big", 1000000, 1);
    char name[32];
    for (int i = 0; i < 500; i++) {
        snprintf(name, sizeof name, "main;tiny%d", i);
        add_path(f, name, 1, 1);
    }
    lh_svg_opts o = { .value = LH_VAL_LIVE_BYTES, .min_width = 1, .width = 1000 };
    char *facts = svg_facts(f, &o, "narrow.svg");
    /* tiny* are 0.001 px each: merged away; all, main and big remain. */
    CHECK(facts && has_line(facts, "N 3"));
    CHECK(facts && has_line(facts, "SUM 1000500"));
    CHECK(facts && !strstr(facts, "tiny"));
    free(facts);
    lh_flame_free(f);

    f = lh_flame_new("", 0);
    facts = svg_facts(f, NULL, "empty.svg");
    CHECK(facts && has_line(facts, "N 1") && has_line(facts, "NAME all"));
    free(facts);
    lh_flame_free(f);
}

static void test_svg_diff_colours(void)
{
    lh_flame *f = lh_flame_new("diff", 1);
    add_path(f, "main;grow", 300, 3);
    add_path(f, "main;shrink", -200, -2);
    add_path(f, "main;grow_little", 30, 1);
    lh_svg_opts o = { .value = LH_VAL_LIVE_BYTES };
    char *facts = svg_facts(f, &o, "diff.svg");
    CHECK(facts && has_line(facts, "FILL grow rgb(255,35,35)"));      /* the largest change */
    CHECK(facts && has_line(facts, "FILL shrink rgb(98,98,255)"));    /* 200/300 of it, blue */
    CHECK(facts && strstr(facts, "FILL grow_little rgb(255,"));
    /* Widths by |delta|: 300 + 200 + 30 of 530 for main's children. */
    CHECK(facts && has_line(facts, "SUM 130"));
    free(facts);
    lh_flame_free(f);
}

static void test_svg_structure(void)
{
    lh_flame *f = nasty_tree();
    char *s = NULL;
    size_t len = 0;
    FILE *m = open_memstream(&s, &len);
    lh_svg_opts o = { .value = LH_VAL_ALLOC_BYTES, .width = 800 };
    CHECK(lh_export_svg(f, &o, m) == 0);
    fclose(m);
    CHECK(strstr(s, "<script") && strstr(s, "Reset Zoom") && strstr(s, "id=\"search\""));
    CHECK(strstr(s, "ctrlKey"));                       /* Ctrl-F search */
    CHECK(strstr(s, "alloc_bytes: 42,000 (100.00%)")); /* root tooltip */
    CHECK(strstr(s, "bytes: 42,000, count: 42"));
    CHECK(!strstr(s, "https://") && !strstr(s, "xlink:href"));
    lh_svg_opts bad = { .value = 9 };
    CHECK(lh_export_svg(f, &bad, stdout) == -EINVAL);
    free(s);
    lh_flame_free(f);
}


/* --- speedscope ------------------------------------------------------------ */

/* Parses a speedscope file with python's json and reports, per profile, its
 * header and each sample as "name;name weight" (frames looked up in the
 * shared list), plus every frame as "FRAME name|file|line". */
static const char speedscope_py[] =
    "python3 -c 'import json,sys\n"
    "j=json.load(open(sys.argv[1],encoding=\"utf-8\"))\n"
    "print(\"SCHEMA\",j[\"$schema\"]); print(\"EXPORTER\",j[\"exporter\"])\n"
    "fr=j[\"shared\"][\"frames\"]\n"
    "for f in fr: print(\"FRAME %%s|%%s|%%s\"%%(f[\"name\"],f.get(\"file\",\"\"),f.get(\"line\",0)))\n"
    "for p in j[\"profiles\"]:\n"
    " print(\"PROFILE\",p[\"type\"],p[\"name\"],p[\"unit\"],p[\"startValue\"],p[\"endValue\"],sum(p[\"weights\"]))\n"
    " for s,w in sorted(zip(p[\"samples\"],p[\"weights\"]),key=lambda x:[fr[i][\"name\"] for i in x[0]]): print(\";\".join(fr[i][\"name\"] for i in s),w)\n"
    "' %s";

static char *speedscope_facts(const lh_flame *f, int value, const char *name)
{
    char path[512], cmd[2048];
    out_path(path, sizeof path, name);
    FILE *out = fopen(path, "w");
    CHECK(out && lh_export_speedscope(f, value, out) == 0);
    if (out)
        fclose(out);
    snprintf(cmd, sizeof cmd, speedscope_py, path);
    return run(cmd);
}

static void test_speedscope(void)
{
    lh_flame *f = lh_flame_new("exact", 0);
    add_path(f, "main;parse;malloc", 150, 4);
    add_path(f, "main;load;read_file;malloc", 4096, 2);
    add_path(f, "main;parse", 7, 1);
    char *facts = speedscope_facts(f, LH_VAL_LIVE_BYTES, "exact.speedscope.json");
    CHECK(facts && has_line(facts, "SCHEMA https://www.speedscope.app/file-format-schema.json"));
    CHECK(facts && has_line(facts, "EXPORTER leakhunt"));
    CHECK(facts && has_line(facts, "PROFILE sampled exact bytes 0 4253 4253"));
    CHECK(facts && has_line(facts, "main;load;read_file;malloc 4096"));
    CHECK(facts && has_line(facts, "main;parse;malloc 150"));
    CHECK(facts && has_line(facts, "main;parse 7"));
    /* malloc at two places in the tree is one shared frame. */
    const char *m1 = facts ? strstr(facts, "FRAME malloc|") : NULL;
    CHECK(m1 && !strstr(m1 + 1, "FRAME malloc|"));
    free(facts);
    facts = speedscope_facts(f, LH_VAL_LIVE_COUNT, "count.speedscope.json");
    CHECK(facts && has_line(facts, "PROFILE sampled exact none 0 7 7"));
    free(facts);
    lh_flame_free(f);

    f = nasty_tree();
    facts = speedscope_facts(f, LH_VAL_ALLOC_BYTES, "nasty.speedscope.json");
    char want[256];
    for (int i = 0; i < NNASTY; i++) {
        snprintf(want, sizeof want, "FRAME %s|we<ird>&.cc|%d", nasty[i], 10 + i);
        CHECK(facts && has_line(facts, want));
    }
    CHECK(facts && has_line(facts, "PROFILE sampled Title <&> \"quoted\" \xc3\xa9 bytes 0 42000 42000"));
    free(facts);
    lh_flame_free(f);

    f = lh_flame_new("", 1);
    add_path(f, "main;grow", 300, 3);
    add_path(f, "main;shrink", -200, -2);
    facts = speedscope_facts(f, LH_VAL_LIVE_BYTES, "diff.speedscope.json");
    CHECK(facts && has_line(facts, "PROFILE sampled live_bytes (growth) bytes 0 300 300"));
    CHECK(facts && has_line(facts, "PROFILE sampled live_bytes (shrink) bytes 0 200 200"));
    CHECK(facts && has_line(facts, "main;shrink 200"));
    free(facts);
    lh_flame_free(f);

    f = lh_flame_new("", 0);
    facts = speedscope_facts(f, LH_VAL_LIVE_BYTES, "empty.speedscope.json");
    CHECK(facts && has_line(facts, "PROFILE sampled live_bytes bytes 0 0 0"));
    free(facts);
    lh_flame_free(f);
}


/* --- pprof ------------------------------------------------------------------ */

/* lh_export_pprof into a file at path: its result, or -1 if the file
 * would not open or close. */
static int pprof_to(const lh_flame *f, const char *path)
{
    FILE *out = fopen(path, "wb");
    if (!out)
        return -1;
    int rc = lh_export_pprof(f, out);
    return fclose(out) != 0 && rc == 0 ? -1 : rc;
}

/* Reads a gzip file whole with zlib and decodes it as a Profile. */
static Perftools__Profiles__Profile *read_pprof(const char *path)
{
    gzFile gz = gzopen(path, "rb");
    if (!gz)
        return NULL;
    size_t len = 0, cap = 1 << 16;
    uint8_t *buf = malloc(cap);
    int n;
    while (buf && (n = gzread(gz, buf + len, (unsigned)(cap - len))) > 0) {
        len += (size_t)n;
        if (len == cap)
            buf = realloc(buf, cap *= 2);
    }
    gzclose(gz);
    Perftools__Profiles__Profile *p = buf ? perftools__profiles__profile__unpack(NULL, len, buf) : NULL;
    free(buf);
    return p;
}

/* Each sample as "root;...;leaf v0 v1 v2 v3", following locations and
 * their inline lines, sorted one per line: comparable to folded output. */
static char *pprof_stacks(const Perftools__Profiles__Profile *p)
{
    char *s = NULL;
    size_t len = 0;
    FILE *m = open_memstream(&s, &len);
    const char **names = calloc(4096, sizeof *names);
    char **lines = calloc(p->n_sample + 1, sizeof *lines);
    for (size_t i = 0; i < p->n_sample; i++) {
        const Perftools__Profiles__Sample *smp = p->sample[i];
        size_t nn = 0;
        for (size_t l = 0; l < smp->n_location_id; l++) {
            const Perftools__Profiles__Location *loc = p->location[smp->location_id[l] - 1];
            CHECK(loc->id == smp->location_id[l]);
            for (size_t k = 0; k < loc->n_line && nn < 4096; k++) {
                const Perftools__Profiles__Function *fn = p->function[loc->line[k]->function_id - 1];
                CHECK(fn->id == loc->line[k]->function_id);
                names[nn++] = p->string_table[fn->name];
            }
        }
        char *line = NULL;
        size_t ll = 0;
        FILE *lm = open_memstream(&line, &ll);
        while (nn--)
            fprintf(lm, nn ? "%s;" : "%s", names[nn]);
        for (size_t v = 0; v < smp->n_value; v++)
            fprintf(lm, " %" PRId64, smp->value[v]);
        fclose(lm);
        lines[i] = line;
    }
    qsort(lines, p->n_sample, sizeof *lines, (int (*)(const void *, const void *))strcmp_ptr);
    for (size_t i = 0; i < p->n_sample; i++) {
        fprintf(m, "%s\n", lines[i]);
        free(lines[i]);
    }
    free(lines);
    free(names);
    fclose(m);
    return s;
}

static void test_pprof(void)
{
    char path[512];
    out_path(path, sizeof path, "inline.pb.gz");
    lh_flame *f = lh_flame_new("inline test", 0);
    static const uint8_t bid[] = { 0xde, 0xad, 0xbe, 0xef, 0x01 };
    lh_flame_frame fr[4] = {
        { .name = "main", .file = "main.c", .line = 9, .module = "/bin/app",
          .build_id = bid, .build_id_len = sizeof bid, .address = 0x401100, .module_offset = 0x1100 },
        { .name = "outer", .file = "lib.c", .line = 20, .module = "/lib/libz.so",
          .address = 0x7f0000002200, .module_offset = 0x2200 },
        { .name = "inner", .file = "lib.h", .line = 3, .module = "/lib/libz.so", .inlined = 1,
          .address = 0x7f0000002200, .module_offset = 0x2200 },
        { .name = "malloc", .module = "/lib/libc.so.6", .address = 0x7f1000000100, .module_offset = 0x100 },
    };
    int64_t v1[LH_VAL_COUNT] = { 100, 1, 300, 3 }, v2[LH_VAL_COUNT] = { 0, 0, 64, 4 };
    CHECK(lh_flame_add(f, fr, 4, v1) == 0);
    CHECK(lh_flame_add(f, fr, 3, v2) == 0);   /* ends at the inlined frame */
    CHECK(pprof_to(f, path) == 0);
    Perftools__Profiles__Profile *p = read_pprof(path);
    CHECK(p != NULL);
    if (p) {
        CHECK_STR(p->string_table[0], "");
        CHECK_U64(p->n_sample_type, 4);
        static const char *const st[4][2] = { { "inuse_space", "bytes" }, { "inuse_objects", "count" },
                                              { "alloc_space", "bytes" }, { "alloc_objects", "count" } };
        for (int i = 0; i < 4 && p->n_sample_type == 4; i++) {
            CHECK_STR(p->string_table[p->sample_type[i]->type], st[i][0]);
            CHECK_STR(p->string_table[p->sample_type[i]->unit], st[i][1]);
        }
        CHECK_STR(p->string_table[p->default_sample_type], "inuse_space");
        char *stacks = pprof_stacks(p);
        CHECK_STR(stacks, "main;outer;inner 0 0 64 4\n"
                          "main;outer;inner;malloc 100 1 300 3\n");
        free(stacks);
        /* main, outer+inner (one physical frame), malloc. */
        CHECK_U64(p->n_location, 3);
        CHECK_U64(p->n_function, 4);
        CHECK_U64(p->n_mapping, 3);
        int seen_inline = 0, seen_bid = 0;
        for (size_t i = 0; i < p->n_location; i++)
            if (p->location[i]->n_line == 2) {
                seen_inline = 1;
                CHECK_U64(p->location[i]->address, 0x7f0000002200);
                CHECK_STR(p->string_table[p->function[p->location[i]->line[0]->function_id - 1]->name], "inner");
                CHECK_U64(p->location[i]->line[0]->line, 3);
                CHECK_STR(p->string_table[p->function[p->location[i]->line[1]->function_id - 1]->name], "outer");
                const Perftools__Profiles__Mapping *mp = p->mapping[p->location[i]->mapping_id - 1];
                CHECK_STR(p->string_table[mp->filename], "/lib/libz.so");
                CHECK(mp->has_inline_frames);
                CHECK_U64(mp->memory_start, 0x7f0000000000);
            }
        for (size_t i = 0; i < p->n_mapping; i++)
            if (!strcmp(p->string_table[p->mapping[i]->filename], "/bin/app")) {
                seen_bid = 1;
                CHECK_STR(p->string_table[p->mapping[i]->build_id], "deadbeef01");
            }
        CHECK(seen_inline && seen_bid);
        perftools__profiles__profile__free_unpacked(p, NULL);
    }
    lh_flame_free(f);

    /* The nasty names, a diff tree's negative values, and the empty tree. */
    f = nasty_tree();
    out_path(path, sizeof path, "nasty.pb.gz");
    CHECK(pprof_to(f, path) == 0);
    p = read_pprof(path);
    CHECK(p != NULL);
    if (p) {
        char *stacks = pprof_stacks(p);
        char want[256];
        for (int i = 0; i < NNASTY; i++) {
            snprintf(want, sizeof want, "main;%s;operator new(unsigned long) %d %d %d %d\n",
                     nasty[i], 1000 * (i + 1), i + 1, 2000 * (i + 1), 2 * (i + 1));
            CHECK(stacks && strstr(stacks, want));
        }
        free(stacks);
        perftools__profiles__profile__free_unpacked(p, NULL);
    }
    lh_flame_free(f);

    f = lh_flame_new("", 1);
    add_path(f, "main;shrink", -200, -2);
    out_path(path, sizeof path, "diff.pb.gz");
    CHECK(pprof_to(f, path) == 0);
    p = read_pprof(path);
    CHECK(p != NULL);
    if (p) {
        char *stacks = pprof_stacks(p);
        CHECK_STR(stacks, "main;shrink -200 -2 -400 -4\n");
        free(stacks);
        perftools__profiles__profile__free_unpacked(p, NULL);
    }
    lh_flame_free(f);

    f = lh_flame_new("", 0);
    out_path(path, sizeof path, "empty.pb.gz");
    CHECK(pprof_to(f, path) == 0);
    p = read_pprof(path);
    CHECK(p && p->n_sample == 0 && p->n_sample_type == 4);
    if (p)
        perftools__profiles__profile__free_unpacked(p, NULL);
    /* A stream that fails (a full disk) fails the export. */
    FILE *full = fopen("/dev/full", "wb");
    CHECK(full != NULL);
    if (full) {
        CHECK(lh_export_pprof(f, full) == -EIO);
        fclose(full);
    }
    lh_flame_free(f);
}


/* A location's lines as "name:line name:line", innermost first. */
static char *pprof_lines(const Perftools__Profiles__Profile *p, const Perftools__Profiles__Location *loc)
{
    char *s = NULL;
    size_t len = 0;
    FILE *m = open_memstream(&s, &len);
    for (size_t k = 0; k < loc->n_line; k++)
        fprintf(m, "%s%s:%" PRId64, k ? " " : "",
                p->string_table[p->function[loc->line[k]->function_id - 1]->name], loc->line[k]->line);
    fclose(m);
    return s;
}

/* The demo's shape: metrics_entry inlined into metrics_record allocates at
 * two of its lines. The tree merges both calls' physical frame (same name,
 * file, line), so each (address, inline chain) must still make its own
 * Location, with its own line; and pprof's first mapping is the program,
 * though libc's frame comes first. */
static void test_pprof_inline_lines(void)
{
    char path[512];
    out_path(path, sizeof path, "inline-lines.pb.gz");
    lh_flame *f = lh_flame_new("two inlined lines", 0);
    CHECK(lh_flame_set_main_module(f, "/srv/metrics-service") == 0);
    lh_flame_frame fr[4] = {
        { .name = "main", .file = "server.c", .line = 414, .module = "/srv/metrics-service",
          .address = 0x55000000149e, .module_offset = 0x149e },
        { .name = "metrics_record", .file = "metrics.c", .line = 89, .module = "/srv/metrics-service",
          .address = 0x550000001810, .module_offset = 0x1810 },
        { .name = "metrics_entry", .file = "metrics.c", .line = 63, .module = "/srv/metrics-service",
          .inlined = 1, .address = 0x550000001810, .module_offset = 0x1810 },
    };
    lh_flame_frame lib[2] = {
        { .name = "main", .file = "server.c", .line = 399, .module = "/srv/metrics-service",
          .address = 0x550000001da0, .module_offset = 0x1da0 },
        { .name = "_IO_file_doallocate", .file = "filedoalloc.c", .line = 101, .module = "/lib/libc.so.6",
          .address = 0x7f00000758ca, .module_offset = 0x758ca },
    };
    int64_t v63[LH_VAL_COUNT] = { 173160, 2405, 173160, 2405 };
    int64_t v67[LH_VAL_COUNT] = { 61814, 2405, 61814, 2405 };
    int64_t vlib[LH_VAL_COUNT] = { 4096, 1, 4096, 1 };
    CHECK(lh_flame_add(f, lib, 2, vlib) == 0);
    CHECK(lh_flame_add(f, fr, 3, v63) == 0);
    /* The second call: another return address, at line 67. */
    fr[1].address = fr[2].address = 0x5500000018d5;
    fr[1].module_offset = fr[2].module_offset = 0x18d5;
    fr[2].line = 67;
    CHECK(lh_flame_add(f, fr, 3, v67) == 0);
    /* The same call site reached again (a second path to main:414 is the
     * same node): no new Location. */
    CHECK(lh_flame_add(f, fr, 3, v67) == 0);
    CHECK(pprof_to(f, path) == 0);
    Perftools__Profiles__Profile *p = read_pprof(path);
    CHECK(p != NULL);
    if (p) {
        CHECK(p->n_mapping == 2);
        if (p->n_mapping)
            CHECK_STR(p->string_table[p->mapping[0]->filename], "/srv/metrics-service");
        /* main:399, libc, main:414, and one per inlined line. */
        CHECK_U64(p->n_location, 5);
        int seen63 = 0, seen67 = 0;
        for (size_t i = 0; i < p->n_location; i++) {
            const Perftools__Profiles__Location *loc = p->location[i];
            char *lines = pprof_lines(p, loc);
            if (!strcmp(lines, "metrics_entry:63 metrics_record:89")) {
                seen63++;
                CHECK_U64(loc->address, 0x550000001810);
            } else if (!strcmp(lines, "metrics_entry:67 metrics_record:89")) {
                seen67++;
                CHECK_U64(loc->address, 0x5500000018d5);
            }
            free(lines);
        }
        CHECK(seen63 == 1 && seen67 == 1);
        char *stacks = pprof_stacks(p);
        CHECK_STR(stacks, "main;_IO_file_doallocate 4096 1 4096 1\n"
                          "main;metrics_record;metrics_entry 123628 4810 123628 4810\n"
                          "main;metrics_record;metrics_entry 173160 2405 173160 2405\n");
        free(stacks);
        perftools__profiles__profile__free_unpacked(p, NULL);
    }
    lh_flame_free(f);

    /* A main module with no frame in the tree is still the first mapping. */
    f = lh_flame_new("", 0);
    CHECK(lh_flame_set_main_module(f, "/usr/bin/python3.11") == 0);
    CHECK(lh_flame_add(f, lib + 1, 1, vlib) == 0);
    CHECK(pprof_to(f, path) == 0);
    p = read_pprof(path);
    CHECK(p && p->n_mapping == 2);
    if (p && p->n_mapping == 2) {
        CHECK_STR(p->string_table[p->mapping[0]->filename], "/usr/bin/python3.11");
        CHECK_STR(p->string_table[p->mapping[1]->filename], "/lib/libc.so.6");
        CHECK_U64(p->location[0]->mapping_id, 2);
    }
    if (p)
        perftools__profiles__profile__free_unpacked(p, NULL);
    lh_flame_free(f);
}

/* --- HTML report ------------------------------------------------------------ */

/* Extracts the JSON data block with python and reports its shape and every
 * frame name in every snapshot tree. */
static const char html_py[] =
    "python3 -c 'import json,sys,re\n"
    "h=open(sys.argv[1],encoding=\"utf-8\").read()\n"
    "m=re.search(r\"<script type=\\\"application/json\\\" id=\\\"lh-data\\\">(.*?)</script>\",h,re.S)\n"
    "d=json.loads(m.group(1))\n"
    "print(\"TITLE\",d[\"title\"]); print(\"POINTS\",len(d[\"points\"])); print(\"MARKERS\",\",\".join(x[1] for x in d[\"markers\"]))\n"
    "print(\"PEAK\",d[\"peak\"]); print(\"SNAPS\",\",\".join(s[\"label\"] for s in d[\"snapshots\"]))\n"
    "def walk(n):\n"
    " print(\"NAME\",n[0],n[4][0]); [walk(c) for c in n[6]]\n"
    "[walk(s[\"tree\"]) for s in d[\"snapshots\"]]\n"
    "' %s";

static void test_html(void)
{
    lh_report *r = lh_report_new("Report <&> \xc3\xa9");
    for (int i = 0; i <= 10; i++)
        CHECK(lh_report_add_point(r, i, 1000 * i, i < 5 ? -1 : 5000 + 1000 * i) == 0);
    CHECK(lh_report_add_marker(r, 3, "warm-up done") == 0);
    CHECK(lh_report_add_marker(r, 7.5, "</script><b>") == 0);
    lh_report_set_peak(r, 10, 10000);
    lh_flame *a = lh_flame_new("early", 0);
    add_path(a, "main;early_alloc", 3000, 3);
    CHECK(lh_report_add_snapshot(r, 3, NULL, a) == 0);
    CHECK(lh_report_add_snapshot(r, 10, "end", nasty_tree()) == 0);
    char path[512];
    out_path(path, sizeof path, "report.html");
    FILE *out = fopen(path, "w");
    CHECK(out && lh_export_html(r, out) == 0);
    if (out)
        fclose(out);
    lh_report_free(r);
    lh_report_free(NULL);

    char cmd[2048];
    snprintf(cmd, sizeof cmd, html_py, path);
    char *facts = run(cmd);
    CHECK(facts && has_line(facts, "TITLE Report <&> \xc3\xa9"));
    CHECK(facts && has_line(facts, "POINTS 11"));
    CHECK(facts && has_line(facts, "MARKERS warm-up done,</script><b>"));
    CHECK(facts && has_line(facts, "PEAK [10, 10000]"));
    CHECK(facts && has_line(facts, "SNAPS at 3.0 s,end"));
    CHECK(facts && has_line(facts, "NAME early_alloc 3000"));
    CHECK(facts && has_line(facts, "NAME all 21000"));
    char want[256];
    for (int i = 0; i < NNASTY; i++) {
        snprintf(want, sizeof want, "NAME %s %d", nasty[i], 1000 * (i + 1));
        CHECK(facts && has_line(facts, want));
    }
    free(facts);

    /* Self-contained: no resource from the network, no external files. */
    snprintf(cmd, sizeof cmd, "sed 's|http://www.w3.org/2000/svg||g' %s | grep -c -i -E 'https?://|<link|src=|@import|url\\(' || true", path);
    facts = run(cmd);
    CHECK_STR(facts, "0\n");
    free(facts);
    snprintf(cmd, sizeof cmd, "grep -c '</script>' %s", path);
    facts = run(cmd);
    CHECK_STR(facts, "2\n");   /* only the two real ends: names cannot close a block */
    free(facts);

    r = lh_report_new(NULL);
    char *s = NULL;
    size_t len = 0;
    FILE *m = open_memstream(&s, &len);
    CHECK(lh_export_html(r, m) == 0);
    fclose(m);
    CHECK(s && strstr(s, "\"snapshots\":[]") && strstr(s, "leakhunt report"));
    free(s);
    lh_report_free(r);
}

/* Two reports for the chart checks of tests/scenario/flame_chromium.sh,
 * shaped like the demo's: 0.232 s, the heap peaking at the very end (its
 * label at the right edge), two markers close together. chart.html has an
 * RSS 40 times the heap (the heap must keep a scale of its own);
 * chart-heap.html has no RSS and a peak of 1014 KiB (a tick at 1014.0 KiB
 * is not a round one). */
static void test_html_chart(void)
{
    for (int rss = 0; rss < 2; rss++) {
        lh_report *r = lh_report_new(rss ? "chart with RSS" : "chart, heap only");
        int64_t peak = 1014 * 1024;
        for (int i = 0; i <= 116; i++) {
            double t = 0.002 * i;
            int64_t heap = peak * i / 116;
            CHECK(lh_report_add_point(r, t, heap, rss && t >= 0.1 ? 40 * peak + heap : -1) == 0);
        }
        CHECK(lh_report_add_marker(r, 0.110, "warm") == 0);
        CHECK(lh_report_add_marker(r, 0.118, "loaded") == 0);
        lh_report_set_peak(r, 0.232, peak);
        lh_flame *a = lh_flame_new("warm", 0);
        add_path(a, "main;early_alloc", 3000, 3);
        CHECK(lh_report_add_snapshot(r, 0.110, "mark:warm", a) == 0);
        lh_flame *b = lh_flame_new("end", 0);
        add_path(b, "main;early_alloc", 3000, 3);
        add_path(b, "main;metrics_entry", peak - 3000, 100);
        CHECK(lh_report_add_snapshot(r, 0.232, "end", b) == 0);
        char path[512];
        out_path(path, sizeof path, rss ? "chart.html" : "chart-heap.html");
        FILE *out = fopen(path, "w");
        CHECK(out && lh_export_html(r, out) == 0);
        if (out)
            fclose(out);
        lh_report_free(r);
    }
}

/* A tree with n distinct stacks (3-level fan-out, depth 6). */
static lh_flame *big_tree(int n)
{
    lh_flame *f = lh_flame_new("big", 0);
    char names[6][32];
    lh_flame_frame fr[6];
    for (int i = 0; i < n; i++) {
        snprintf(names[0], 32, "main");
        snprintf(names[1], 32, "mod%d::run", i % 7);
        snprintf(names[2], 32, "handler_%d", i % 97);
        snprintf(names[3], 32, "step_%d", i % 1009);
        snprintf(names[4], 32, "leaf_%d", i);
        snprintf(names[5], 32, "malloc");
        for (int d = 0; d < 6; d++)
            fr[d] = (lh_flame_frame){ .name = names[d], .file = "big.c", .line = (unsigned)d + 1,
                                      .module = d == 1 ? "libmod.so" : "big",
                                      .address = 0x400000 + (uint64_t)i * 64 + d,
                                      .module_offset = (uint64_t)i * 64 + d };
        int64_t v[LH_VAL_COUNT] = { 16 + i % 100, 1, 32 + i % 100, 2 };
        lh_flame_add(f, fr, 6, v);
    }
    return f;
}

/* 100,000 distinct stacks through every exporter. Times are printed for
 * the reader (make bench has the real measurements), never asserted. */
static void test_100k_stacks(void)
{
    double t0 = now();
    lh_flame *f = big_tree(100000);
    double t1 = now();
    FILE *null = fopen("/dev/null", "w");
    CHECK(lh_export_folded(f, LH_VAL_LIVE_BYTES, null) == 0);
    double t2 = now();
    fclose(null);
    printf("# 100k stacks: build %.3f s, folded %.3f s\n", t1 - t0, t2 - t1);
    null = fopen("/dev/null", "w");
    lh_svg_opts o = { .value = LH_VAL_LIVE_BYTES };
    t1 = now();
    CHECK(lh_export_svg(f, &o, null) == 0);
    t2 = now();
    o.min_width = 0.0001;   /* nearly every frame drawn: the worst case */
    CHECK(lh_export_svg(f, &o, null) == 0);
    double t3 = now();
    fclose(null);
    printf("# 100k stacks: svg %.3f s, svg with all frames %.3f s\n", t2 - t1, t3 - t2);
    null = fopen("/dev/null", "w");
    t1 = now();
    CHECK(lh_export_speedscope(f, LH_VAL_LIVE_BYTES, null) == 0);
    t2 = now();
    fclose(null);
    printf("# 100k stacks: speedscope %.3f s\n", t2 - t1);
    char path[512];
    out_path(path, sizeof path, "big.pb.gz");
    t1 = now();
    CHECK(pprof_to(f, path) == 0);
    t2 = now();
    printf("# 100k stacks: pprof %.3f s\n", t2 - t1);
    Perftools__Profiles__Profile *p = read_pprof(path);
    CHECK(p && p->n_sample == 100000);
    if (p)
        perftools__profiles__profile__free_unpacked(p, NULL);
    unlink(path);
    lh_report *r = lh_report_new("big");
    lh_report_add_snapshot(r, 1, NULL, f);   /* the report owns f now */
    null = fopen("/dev/null", "w");
    t1 = now();
    CHECK(lh_export_html(r, null) == 0);
    t2 = now();
    fclose(null);
    printf("# 100k stacks: html %.3f s\n", t2 - t1);
    lh_report_free(r);
    f = NULL;
    lh_flame_free(f);
}

int main(void)
{
    if (!mkdtemp(tmpdir))
        return 1;
    TEST(test_value_names);
    TEST(test_folded_exact);
    TEST(test_merge_by_name_file_line);
    TEST(test_empty_and_single);
    TEST(test_deep_stack);
    TEST(test_folded_escaping_and_diff);
    TEST(test_svg_escaping_and_widths);
    TEST(test_svg_min_width_and_empty);
    TEST(test_svg_diff_colours);
    TEST(test_svg_structure);
    TEST(test_speedscope);
    TEST(test_pprof);
    TEST(test_pprof_inline_lines);
    TEST(test_html);
    TEST(test_html_chart);
    TEST(test_100k_stacks);
    char cmd[256];
    snprintf(cmd, sizeof cmd, "rm -rf %s", tmpdir);
    if (system(cmd) != 0)
        printf("# could not remove %s\n", tmpdir);
    return TAP_DONE();
}
