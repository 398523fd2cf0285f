/*
 * leakhunt-dump - look inside a trace file: header, chunks, per-kind counts,
 * checksums. The tool to reach for when a trace seems wrong.
 *
 * Exit status: 0 every chunk intact, 1 damaged but a readable prefix,
 * 2 unusable (missing, not a trace, unsupported version).
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lh_json.h"
#include "lh_trace.h"

#define N_TYPES 10

typedef struct {
    uint64_t chunks[N_TYPES + 1]; /* last slot: unknown types */
    uint64_t packed[N_TYPES + 1], raw[N_TYPES + 1];
    uint64_t events_by_kind[LH_EV_KIND_COUNT];
    uint64_t events_by_domain[LH_DOM_COUNT + 1]; /* last slot: a domain this dump does not know */
    uint64_t events, first_us, last_us;
    int have_time;
    Lh__ProcessInfo *process; /* copy kept by re-unpacking */
} dump_stats;

static void usage(FILE *to)
{
    fprintf(to,
        "usage: leakhunt-dump [--chunks | --verify | --json] TRACE\n"
        "\n"
        "Shows what a leakhunt trace holds: format version, process, one line\n"
        "per chunk kind with counts and sizes, events by kind, and whether every\n"
        "checksum holds.\n"
        "\n"
        "  --chunks   list every chunk (offset, type, sizes, events, times)\n"
        "  --verify   only check the file; print one line, set the exit status\n"
        "  --json     the summary as one JSON object (UTF-8: bytes of a path that\n"
        "             are not UTF-8 become U+FFFD)\n"
        "  -h, --help this text\n"
        "  --version  print the version\n"
        "\n"
        "exit status: 0 intact, 1 damaged with a readable prefix, 2 unusable\n");
}

/* Format 1.5's event domains (FORMAT.md 4.1.4). */
static const char *domain_name(unsigned d)
{
    static const char *const names[] = { "libc", "py-raw", "py-mem", "py-obj", "py-arena", "unknown" };
    return names[d < LH_DOM_COUNT ? d : LH_DOM_COUNT];
}

/* Whether any event went through a domain other than libc's. */
static int has_domains(const dump_stats *st)
{
    for (unsigned d = 1; d <= LH_DOM_COUNT; d++)
        if (st->events_by_domain[d])
            return 1;
    return 0;
}

static const char *kind_name(unsigned k)
{
    static const char *names[] = { "alloc", "free", "realloc", "mmap", "munmap" };
    return k < LH_EV_KIND_COUNT ? names[k] : "?";
}

enum { SUMMARY, CHUNKS, VERIFY, JSON };

/* The mode and the trace's path, or an exit status (0 for --help and
 * --version, 2 for a usage error) in *status. */
static int parse_args(int argc, char **argv, const char **path, int *status)
{
    int mode = SUMMARY;
    *path = NULL;
    *status = -1;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--chunks")) mode = CHUNKS;
        else if (!strcmp(argv[i], "--verify")) mode = VERIFY;
        else if (!strcmp(argv[i], "--json")) mode = JSON;
        else if (!strcmp(argv[i], "-h") || !strcmp(argv[i], "--help")) { usage(stdout); *status = 0; return mode; }
        else if (!strcmp(argv[i], "--version")) {
            printf("leakhunt-dump " LH_VERSION_LINE "\n");
            *status = 0;
            return mode;
        } else if (argv[i][0] == '-' && argv[i][1]) {
            fprintf(stderr, "leakhunt-dump: unknown option '%s' (see --help)\n", argv[i]);
            *status = 2;
            return mode;
        } else if (!*path) *path = argv[i];
        else {
            fprintf(stderr, "leakhunt-dump: one trace at a time ('%s' is extra)\n", argv[i]);
            *status = 2;
            return mode;
        }
    }
    if (!*path) {
        usage(stderr);
        *status = 2;
    }
    return mode;
}

/* Every chunk of r into st (and its line with --chunks); returns the
 * reader's last rc (negative: damage at *damage). */
static int read_chunks(lh_reader *r, int mode, dump_stats *st, uint64_t *damage)
{
    if (mode == CHUNKS)
        printf("%-12s %-8s %10s %10s %8s %14s %14s\n", "offset", "type", "packed", "raw", "events",
               "first_us", "last_us");
    lh_chunk c;
    int rc;
    uint64_t next_node = 1, table_damage = UINT64_MAX;
    while ((rc = lh_reader_next(r, &c)) > 0) {
        /* Stack nodes that do not continue the table are damage the reader
         * cannot see (lh_stack_nodes_continue): it may be seeked. */
        if (c.type == LH_CHUNK_STACKS && lh_stack_nodes_continue((const Lh__StackNodes *)c.msg, &next_node) < 0) {
            rc = LH_E_STACKS;
            table_damage = c.offset;
            break;
        }
        unsigned slot = c.type >= 1 && c.type < N_TYPES ? c.type : N_TYPES;
        st->chunks[slot]++;
        st->packed[slot] += c.packed_size;
        st->raw[slot] += c.raw_size;
        uint64_t t0 = 0, t1 = 0;
        if (c.type == LH_CHUNK_EVENTS && c.n_events) {
            t0 = c.events[0].time_us;
            t1 = c.events[c.n_events - 1].time_us;
            for (size_t i = 0; i < c.n_events; i++)
                st->events_by_kind[c.events[i].kind]++;
            for (size_t i = 0; i < c.n_events; i++)
                st->events_by_domain[c.events[i].domain < LH_DOM_COUNT ? c.events[i].domain : LH_DOM_COUNT]++;
            st->events += c.n_events;
            if (!st->have_time)
                st->first_us = t0;
            st->have_time = 1;
            st->last_us = t1;
        }
        if (c.type == LH_CHUNK_PROCESS && !st->process) {
            /* The reader owns c.msg until the next call: keep a copy. */
            size_t len = protobuf_c_message_get_packed_size(c.msg);
            uint8_t *buf = malloc(len + 1);
            if (buf) {
                protobuf_c_message_pack(c.msg, buf);
                st->process = lh__process_info__unpack(NULL, len, buf);
                free(buf);
            }
        }
        if (mode == CHUNKS)
            printf("%-12" PRIu64 " %-8s %10u %10u %8zu %14" PRIu64 " %14" PRIu64 "\n", c.offset,
                   lh_chunk_type_name(c.type), c.packed_size, c.raw_size, c.n_events, t0, t1);
    }
    *damage = table_damage != UINT64_MAX ? table_damage : lh_reader_damage_offset(r);
    return rc;
}

/* What leakhunt-dump --json prints: one object, strings through lh_json_str. */
static void print_json(const char *path, lh_reader *r, const dump_stats *st, int rc, uint64_t damage)
{
    unsigned major, minor;
    lh_reader_version(r, &major, &minor);
    int damaged = rc < 0;
    printf("{\"file\":");
    lh_json_str(stdout, path);
    printf(",\"version\":\"%u.%u\",\"size\":%" PRIu64 ",\"footer\":%s,\"damaged\":%s",
           major, minor, lh_reader_file_size(r), lh_reader_has_footer(r) ? "true" : "false",
           damaged ? "true" : "false");
    if (damaged) {
        printf(",\"damage_offset\":%" PRIu64 ",\"damage\":", damage);
        lh_json_str(stdout, lh_rc_name(rc));
    }
    if (st->process) {
        printf(",\"pid\":%u,\"ppid\":%u,\"parent_trace_pid\":%u,\"exe\":", st->process->pid,
               st->process->ppid, st->process->parent_trace_pid);
        lh_json_str(stdout, st->process->exe);
    }
    printf(",\"events\":%" PRIu64 ",\"first_us\":%" PRIu64 ",\"last_us\":%" PRIu64, st->events,
           st->first_us, st->last_us);
    printf(",\"events_by_kind\":{");
    for (unsigned k = 0; k < LH_EV_KIND_COUNT; k++)
        printf("%s\"%s\":%" PRIu64, k ? "," : "", kind_name(k), st->events_by_kind[k]);
    printf("},\"events_by_domain\":{");
    for (unsigned d = 0; d <= LH_DOM_COUNT; d++)
        printf("%s\"%s\":%" PRIu64, d ? "," : "", domain_name(d), st->events_by_domain[d]);
    printf("},\"chunks\":{");
    int first = 1;
    for (unsigned t = 1; t <= N_TYPES; t++) {
        if (!st->chunks[t])
            continue;
        printf("%s\"%s\":{\"count\":%" PRIu64 ",\"packed\":%" PRIu64 ",\"raw\":%" PRIu64 "}",
               first ? "" : ",", t == N_TYPES ? "unknown" : lh_chunk_type_name(t), st->chunks[t],
               st->packed[t], st->raw[t]);
        first = 0;
    }
    printf("}}\n");
}

static void print_summary(const char *path, lh_reader *r, const dump_stats *st)
{
    unsigned major, minor;
    lh_reader_version(r, &major, &minor);
    uint64_t size = lh_reader_file_size(r);
    printf("file      %s\nformat    %u.%u, %" PRIu64 " bytes, %s\n", path, major, minor, size,
           lh_reader_has_footer(r) ? "complete (footer present)" : "no footer (recording did not finish)");
    if (st->process)
        printf("process   pid %u (parent %u) %s\n", st->process->pid, st->process->ppid,
               st->process->exe ? st->process->exe : "?");
    printf("events    %" PRIu64 " over %.3f s:", st->events, (st->last_us - st->first_us) / 1e6);
    for (unsigned k = 0; k < LH_EV_KIND_COUNT; k++)
        printf(" %s %" PRIu64, kind_name(k), st->events_by_kind[k]);
    if (has_domains(st)) { /* a CPython's hooked allocator (format 1.5) */
        printf("\ndomains  ");
        for (unsigned d = 0; d <= LH_DOM_COUNT; d++)
            if (st->events_by_domain[d] || d < LH_DOM_COUNT)
                printf(" %s %" PRIu64, domain_name(d), st->events_by_domain[d]);
    }
    if (st->events)
        printf("\nsize      %.2f bytes/event on disk\n", (double)size / (double)st->events);
    else
        printf("\n");
    printf("\n%-8s %8s %12s %12s\n", "chunk", "count", "packed", "raw");
    for (unsigned t = 1; t <= N_TYPES; t++)
        if (st->chunks[t])
            printf("%-8s %8" PRIu64 " %12" PRIu64 " %12" PRIu64 "\n",
                   t == N_TYPES ? "unknown" : lh_chunk_type_name(t), st->chunks[t], st->packed[t],
                   st->raw[t]);
}

int main(int argc, char **argv)
{
    const char *path;
    int status;
    int mode = parse_args(argc, argv, &path, &status);
    if (status >= 0)
        return status;

    int rc;
    lh_reader *r = lh_reader_open(path, &rc);
    if (!r) {
        if (rc == LH_E_IO)
            fprintf(stderr, "leakhunt-dump: cannot open %s: %s\n", path, strerror(errno));
        else
            fprintf(stderr, "leakhunt-dump: %s: %s\n", path, lh_rc_name(rc));
        return 2;
    }
    dump_stats st;
    memset(&st, 0, sizeof st);
    uint64_t damage;
    rc = read_chunks(r, mode, &st, &damage);
    status = lh_is_error(rc) ? 1 : 0;
    if (mode == VERIFY) {
        if (status)
            printf("%s: damaged at offset %" PRIu64 " (%s); %" PRIu64 " events readable before it\n",
                   path, damage, lh_rc_name(rc), st.events);
        else
            printf("%s: ok, %" PRIu64 " events%s\n", path, st.events,
                   lh_reader_has_footer(r) ? "" : ", no footer (the recording did not finish)");
    } else if (mode == JSON) {
        print_json(path, r, &st, rc, damage);
    } else if (mode == SUMMARY) {
        print_summary(path, r, &st);
    }
    if (status && mode != VERIFY)
        fprintf(stderr, "leakhunt-dump: %s: damaged at offset %" PRIu64 ": %s; everything before it was read\n",
                path, damage, lh_rc_name(rc));
    if (st.process)
        lh__process_info__free_unpacked(st.process, NULL);
    lh_reader_free(r);
    return status;
}
