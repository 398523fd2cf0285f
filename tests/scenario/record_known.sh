#!/bin/bash
# record_known: tests/progs/known_allocs has exactly known allocations;
# the trace must hold them exactly, attributed to the right function and
# line, with the program's output and exit status untouched.
. "$(dirname "$0")/../lib.sh"
P=$TBIN/progs/known_allocs
SRC=$ROOT/tests/progs/known_allocs.c
T=$TMP/k.lht
line_of() { grep -n "$1" "$SRC" | head -1 | cut -d: -f1; }

"$P" >"$TMP/native.out" 2>&1; native_rc=$?
(cd "$TMP" && "$BIN/leakhunt-record" -q -o "$T" -- "$P" >"$TMP/traced.out" 2>"$TMP/traced.err"); rc=$?
is "exit status passes through" "$rc" "$native_rc"
is "exit status is the program's (3)" "$rc" 3
ok_if "stdout identical with and without the recorder" cmp -s "$TMP/native.out" "$TMP/traced.out"
is "recorder prints nothing with -q" "$(cat "$TMP/traced.err")" ""
ok_if "trace verifies" "$BIN/leakhunt-dump" --verify "$T"

"$BIN/leakhunt-replay" "$T" --stats --format json >"$TMP/stats.json"
# 10 leak_small + 1000 churn + (malloc + 8 reallocs + realloc(NULL)) + 4 aligned
# + 7 calloc + stdout's buffer = 1032, as valgrind counts ("total heap usage").
is "allocations" "$(json_get "$TMP/stats.json" "j['allocations']")" 1032
is "bytes allocated" "$(json_get "$TMP/stats.json" "j['bytes_allocated']")" 84900
is "leaked blocks" "$(json_get "$TMP/stats.json" "j['leaked_allocations']")" 16
is "leaked bytes (1000 + 256 + 4000 + 4096 stdout buffer)" "$(json_get "$TMP/stats.json" "j['leaked_bytes']")" 9352
is "markers" "$(json_get "$TMP/stats.json" "','.join(m['label'] for m in j['markers'])")" "start,before,after"
is "no lost events" "$(json_get "$TMP/stats.json" "j['lost_events']")" 0
is "complete" "$(json_get "$TMP/stats.json" "j['complete']")" True
is "no unmatched frees" "$(json_get "$TMP/stats.json" "j['unknown_frees']")" 0
is "peak is the end heap plus the largest realloc block" "$(json_get "$TMP/stats.json" "j['peak_bytes'] >= 9352")" True

"$BIN/leakhunt-replay" "$T" --leaks --by function --format json --top 0 >"$TMP/leaks.json"
row() { json_get "$TMP/leaks.json" "[(r['bytes'], r['count']) for r in j['rows'] if r['function'] == '$1']"; }
is "leak_small: 10 blocks, 1000 bytes" "$(row leak_small)" "[(1000, 10)]"
is "leak_aligned: one 256-byte block" "$(row leak_aligned)" "[(256, 1)]"
is "grow_between_marks: 4 blocks left" "$(row grow_between_marks)" "[(4000, 4)]"
is "churn, realloc_chain and failures leave nothing" "$(row churn)$(row realloc_chain)$(row failures)" "[][][]"

"$BIN/leakhunt-replay" "$T" --leaks --by line --format json --top 2 >"$TMP/top.json"
is "top leaks by line: stdout's buffer (printf in main), then grow_between_marks' calloc" \
   "$(json_get "$TMP/top.json" "[(r['function'], r['file'].endswith('known_allocs.c'), r['line'], r['bytes']) for r in j['rows']]")" \
   "[('main', True, $(line_of 'printf("known_allocs'), 4096), ('grow_between_marks', True, $(line_of GROW_LINE), 4000)]"
"$BIN/leakhunt-replay" "$T" --leaks --by line --format json --filter leak_small >"$TMP/ls.json"
is "leak_small's line" "$(json_get "$TMP/ls.json" "[r['line'] for r in j['rows']]")" "[$(line_of LEAK_SMALL_LINE)]"

"$BIN/leakhunt-replay" "$T" --diff mark:before mark:after --by function --format json >"$TMP/diff.json"
is "diff before->after: only grow_between_marks, +7 blocks, +7000 bytes" \
   "$(json_get "$TMP/diff.json" "[(r['function'], r['bytes_delta'], r['count_delta']) for r in j['rows']]")" \
   "[('grow_between_marks', 7000, 7)]"
"$BIN/leakhunt-replay" "$T" --at mark:after --by function --format json --filter grow_between >"$TMP/at.json"
is "at mark:after the 7 blocks are live" "$(json_get "$TMP/at.json" "[(r['bytes'], r['count']) for r in j['rows']]")" "[(7000, 7)]"
"$BIN/leakhunt-replay" "$T" --at mark:before --by function --format json --filter grow_between >"$TMP/at0.json"
is "at mark:before nothing from it is live" "$(json_get "$TMP/at0.json" "j['rows']")" "[]"

"$BIN/leakhunt-replay" "$T" --diff mark:start mark:before --by function --format json >"$TMP/d2.json"
is "allocations inside the window per function" \
   "$(json_get "$TMP/d2.json" "sorted((r['function'], r['allocations']) for r in j['rows'])")" \
   "[('leak_aligned', 1), ('leak_small', 10)]"

# Cross-check with valgrind when it is installed: same allocation count.
if command -v valgrind >/dev/null; then
    valgrind "$P" >/dev/null 2>"$TMP/vg.err"
    vg=$(grep -o 'total heap usage: [0-9,]* allocs' "$TMP/vg.err" | grep -o '[0-9,]*' | head -1 | tr -d ,)
    is "valgrind counts the same allocations" "$vg" "$(json_get "$TMP/stats.json" "j['allocations']")"
fi
done_testing
