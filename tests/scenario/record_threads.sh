#!/bin/bash
# record_threads: 8 threads, cross-thread frees. Every block a thread makes
# is freed by another; only thread_leak's 40 blocks stay. Threads order
# their events against each other through the collector's membarrier
# calls (ring.h); "fp-barrier" takes the other way, a locked store per
# event (LEAKHUNT_NO_MEMBARRIER), and must give the same.
. "$(dirname "$0")/../lib.sh"
P=$TBIN/progs/threads8
T=$TMP/t.lht
for unwind in libunwind fp fp-barrier; do
    rm -f "$T"
    if [ "$unwind" = fp-barrier ]; then
        LEAKHUNT_NO_MEMBARRIER=1 "$BIN/leakhunt-record" -q --unwind fp -o "$T" -- "$P" >"$TMP/out" 2>&1
    else
        "$BIN/leakhunt-record" -q --unwind "$unwind" -o "$T" -- "$P" >"$TMP/out" 2>&1
    fi
    is "$unwind: exit 0" "$?" 0
    "$BIN/leakhunt-replay" "$T" --leaks --by function --format json --top 0 >"$TMP/l.json"
    is "$unwind: thread_leak: 40 blocks, 3200 bytes" \
       "$(json_get "$TMP/l.json" "[(r['bytes'], r['count']) for r in j['rows'] if r['function'] == 'thread_leak']")" "[(3200, 40)]"
    is "$unwind: thread_make's blocks were all freed by other threads" \
       "$(json_get "$TMP/l.json" "[r for r in j['rows'] if r['function'] == 'thread_make']")" "[]"
    "$BIN/leakhunt-replay" "$T" --stats --format json >"$TMP/s.json"
    is "$unwind: 9 threads" "$(json_get "$TMP/s.json" "j['threads']")" 9
    is "$unwind: no unmatched frees, no reused live address" \
       "$(json_get "$TMP/s.json" "(j['unknown_frees'], j['reused_live_addresses'])")" "(0, 0)"
    "$BIN/leakhunt-replay" "$T" --temporary --temporary-ms 100000 --by function --format json --top 0 >"$TMP/tmp.json"
    is "$unwind: 8000 blocks of thread_make were allocated" \
       "$(json_get "$TMP/tmp.json" "[r['allocations'] for r in j['rows'] if r['function'] == 'thread_make']")" "[8000]"
done
if command -v valgrind >/dev/null; then
    valgrind "$P" >/dev/null 2>"$TMP/vg.err"
    vg=$(grep -o 'total heap usage: [0-9,]* allocs' "$TMP/vg.err" | grep -o '[0-9,]*' | head -1 | tr -d ,)
    is "valgrind counts the same allocations" "$vg" "$(json_get "$TMP/s.json" "j['allocations']")"
fi
done_testing
