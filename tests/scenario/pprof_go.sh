#!/bin/bash
# pprof_go.sh - leakhunt-replay --pprof as `go tool pprof` reads it (Debian's
# golang-go, installed by make check), offline: no module proxy, no
# toolchain download, HOME and caches in the test's own directory, and no
# network at all when unshare(1) can take it away.
#
# On tests/progs/pprof_inline (known allocations) and on the demo's trace,
# `pprof -top -lines` must give every line leakhunt-replay's own --by line
# gives, with the same bytes and counts: the two lines of an inlined
# function are two lines, not one (each (address, inline chain) is its own
# Location); alloc_space and alloc_objects count everything the window
# allocated, freed or not (the freed scratch loop, --stats' totals); and
# the header names the program, not libc.so.6 (the main binary is the
# first Mapping).
. "$(dirname "$0")/../lib.sh"

if ! command -v go >/dev/null; then
    pass "skip: go not installed (apt-get install -y golang-go; make check installs it)"
    done_testing; exit
fi
export HOME=$TMP/home GOPATH=$TMP/gopath GOCACHE=$TMP/gocache GOMODCACHE=$TMP/gopath/mod \
    GOTOOLCHAIN=local GOPROXY=off GOSUMDB=off GOFLAGS=-mod=mod GOTELEMETRY=off GOENV=off \
    PPROF_TMPDIR=$TMP/pprof-tmp
mkdir -p "$HOME" "$PPROF_TMPDIR"
OFFLINE=
unshare -n true 2>/dev/null && OFFLINE="unshare -n"

# top PROFILE SAMPLE_INDEX: `pprof -top -lines`, all nodes, exact units, as
# "flat cum function file:line" lines (" inline" appended when inlined),
# with the header's "File:" line first. Run from $TMP: no go.mod near.
top() {
    (cd "$TMP" && $OFFLINE go tool pprof -top -lines -nodefraction=0 -nodecount=100000 -unit=B \
        -sample_index="$2" "$1" 2>>"$TMP/pprof.err") | python3 -c '
import re, sys
rows = []
for l in sys.stdin:
    if l.startswith("File: "):
        print(l.strip())
    m = re.match(r"^\s*(-?[\d.]+)B?\s+\S+%\s+\S+%\s+(-?[\d.]+)B?\s+\S+%\s+(.*?)( \(inline\))?$", l)
    if m:
        rows.append("%s %s %s%s" % (m.group(1), m.group(2), m.group(3), " inline" if m.group(4) else ""))
print("\n".join(sorted(rows)))'
}
# site_rows JSON KEY FILE: leakhunt-replay --format json's rows in source
# FILE as "function file:line value", sorted (files by their last name:
# pprof drops a leading "./").
site_rows() {
    json_get "$1" "'\\n'.join(sorted('%s %s:%d %d' % (r['function'], r['file'].split('/')[-1], r['line'], r['$2'])
        for r in j['rows'] if r.get('file', '').split('/')[-1] == '$3'))"
}
# pprof_at TOP COLUMN ROWS: for each "function file:line" of ROWS (lines as
# site_rows prints), the same with pprof's value there (COLUMN flat or cum;
# "missing" when pprof has no such line).
pprof_at() {
    python3 - "$@" <<'PY'
import sys
top, col, want = sys.argv[1], sys.argv[2], sys.argv[3]
have = {}
for l in open(top):
    f = l.split()
    if len(f) >= 4 and not l.startswith("File:"):
        have[(f[2], f[3].split("/")[-1])] = f[0] if col == "flat" else f[1]
for w in want.splitlines():
    if w:
        fn, loc, _ = w.split()
        print(fn, loc, have.get((fn, loc), "missing"))
PY
}
# The root (_start) is on every stack: its cum is the profile's total.
root_cum() { awk '$3 == "_start" { print $2 }' "$1"; }

# --- a known program ---------------------------------------------------------
P=$TBIN/progs/pprof_inline
SRC=$ROOT/tests/progs/pprof_inline.c
line_of() { grep -n "$1" "$SRC" | head -1 | cut -d: -f1; }
ENTRY=$(line_of 'ENTRY_LINE'); SAMPLES=$(line_of 'SAMPLES_LINE'); SCRATCH=$(line_of 'SCRATCH_LINE')
T=$TMP/p.lht
ok_if "pprof_inline records" bash -c "cd '$TMP' && '$BIN/leakhunt-record' -q -o '$T' -- '$P' >'$TMP/p.out'"
"$BIN/leakhunt-replay" "$T" --by line --top 0 --format json >"$TMP/leaks.json"
"$BIN/leakhunt-replay" "$T" --temporary --temporary-ms 3600000 --by line --top 0 --format json >"$TMP/temp.json"
"$BIN/leakhunt-replay" "$T" --stats --format json >"$TMP/stats.json"
ok_if "leakhunt-replay --pprof writes the profile" bash -c "\"$BIN/leakhunt-replay\" \"$T\" --pprof \"$TMP/p.pb.gz\" >/dev/null"
for idx in inuse_space inuse_objects alloc_space alloc_objects; do
    top "$TMP/p.pb.gz" "$idx" >"$TMP/p.$idx"
    ok_if "go tool pprof -sample_index=$idx reads it" test -s "$TMP/p.$idx"
done
is "pprof printed no warning or error" "$(cat "$TMP/pprof.err")" ""
is "pprof's header names the program (first mapping), not libc" "$(head -n 1 "$TMP/p.inuse_space")" "File: pprof_inline"
is "the inlined entry_new allocates at two lines, each its own line in pprof" \
    "$(grep -c '^[0-9]* [0-9]* entry_new [^ ]*pprof_inline.c:[0-9]* inline$' "$TMP/p.inuse_space")" 2
want=$(site_rows "$TMP/leaks.json" bytes pprof_inline.c)
is "the exact lines: entry_new:$ENTRY 4800 B, entry_new:$SAMPLES 6000 B" "$(grep entry_new <<<"$want")" \
    "$(printf 'entry_new pprof_inline.c:%s 4800\nentry_new pprof_inline.c:%s 6000' "$ENTRY" "$SAMPLES")"
is "inuse_space: flat at entry_new's lines is --by line's bytes" \
    "$(pprof_at "$TMP/p.inuse_space" flat "$(grep entry_new <<<"$want")")" "$(grep entry_new <<<"$want")"
is "inuse_space: cum at every site line is --by line's bytes" "$(pprof_at "$TMP/p.inuse_space" cum "$want")" "$want"
want=$(site_rows "$TMP/leaks.json" count pprof_inline.c)
is "inuse_objects: cum at every site line is --by line's blocks" "$(pprof_at "$TMP/p.inuse_objects" cum "$want")" "$want"
want=$(site_rows "$TMP/leaks.json" allocated_bytes pprof_inline.c)
is "alloc_space: cum at the live site lines is --by line's allocated bytes" \
    "$(pprof_at "$TMP/p.alloc_space" cum "$want")" "$want"
want=$(site_rows "$TMP/temp.json" allocated_bytes pprof_inline.c)
is "--temporary: 500 x 200 B allocated and freed at scratch:$SCRATCH" "$want" "scratch pprof_inline.c:$SCRATCH 100000"
is "alloc_space holds the freed scratch loop as --temporary counts it" \
    "$(pprof_at "$TMP/p.alloc_space" flat "$want")" "$want"
want=$(site_rows "$TMP/temp.json" allocations pprof_inline.c)
is "alloc_objects: the scratch loop's 500 allocations" "$(pprof_at "$TMP/p.alloc_objects" flat "$want")" "$want"
is "alloc_space in all is --stats' bytes allocated" "$(root_cum "$TMP/p.alloc_space")" \
    "$(json_get "$TMP/stats.json" "j['bytes_allocated']")"
is "alloc_objects in all is --stats' allocations" "$(root_cum "$TMP/p.alloc_objects")" \
    "$(json_get "$TMP/stats.json" "j['allocations']")"
is "inuse_space in all is --stats' leaked bytes" "$(root_cum "$TMP/p.inuse_space")" \
    "$(json_get "$TMP/stats.json" "j['leaked_bytes']")"

# --- the demo ----------------------------------------------------------------
D=$TMP/demo
if LH_DEMO_DIR="$D" LH_DEMO_WARM=50 LH_DEMO_LOAD=300 bash "$ROOT/samples/demo.sh" >"$TMP/demo.log" 2>&1; then
    pass "the demo runs"
else
    fail "the demo runs" "$(tail -n 5 "$TMP/demo.log")"
fi
"$BIN/leakhunt-replay" "$D/metrics.lht" --by line --top 0 --format json >"$TMP/dleaks.json"
"$BIN/leakhunt-replay" "$D/metrics.lht" --stats --format json >"$TMP/dstats.json"
"$BIN/leakhunt-replay" "$D/metrics.lht" --pprof "$TMP/d.pb.gz" >/dev/null
top "$TMP/d.pb.gz" inuse_space >"$TMP/d.inuse_space"
top "$TMP/d.pb.gz" alloc_space >"$TMP/d.alloc_space"
is "demo: pprof's header names metrics-service" "$(head -n 1 "$TMP/d.inuse_space")" "File: metrics-service"
want=$(site_rows "$TMP/dleaks.json" bytes metrics.c)
is "demo: metrics.c's lines and bytes in pprof -top -lines are --by line's (flat; no two lines merged)" \
    "$(pprof_at "$TMP/d.inuse_space" flat "$want")" "$want"
is "demo: alloc_space in all is --stats' bytes allocated" "$(root_cum "$TMP/d.alloc_space")" \
    "$(json_get "$TMP/dstats.json" "j['bytes_allocated']")"
done_testing
