#!/bin/bash
# tests/scenario/sample_bursty_leak.sh - samples/bursty-leak: a leak of one
# body in every third request, in three bursts with pauses between them.
# Under leakhunt-record the trace holds exactly what the program says it
# leaked, and --growth calls the LEAK line still growing (its last burst
# is a new maximum at the end), not levelled off, though it rose in only
# two of its nine steps. samples/bounded-cache (sample_bounded_cache.sh)
# is the other side: growth that did level off.
. "$(dirname "$0")/../lib.sh"

PROG=$ROOT/build/samples/bursty-leak
if [ ! -x "$PROG" ]; then
	fail "bursty-leak is built" "$PROG is missing: run 'make samples'"
	done_testing; exit
fi
LEAK_LINE=$(grep -n '/\* LEAK:' "$ROOT/samples/bursty-leak/main.c" | head -1 | cut -d: -f1)

# --- natively ---------------------------------------------------------------
is "runs and says what it leaked: 300 bodies of 320 bytes" \
	"$("$PROG" --pause-ms 0)" "leaked 300 bodies (96000 bytes)"
is "--bursts 2 --requests 30: 20 bodies" "$("$PROG" --bursts 2 --requests 30 --pause-ms 0)" \
	"leaked 20 bodies (6400 bytes)"
ok_if "usage errors exit 2" bash -c "'$PROG' --bursts 0 2>/dev/null; [ \$? -eq 2 ]"

# --- under leakhunt-record ----------------------------------------------------
# Pauses of 320 and 400 ms: the middle burst comes at 4/9 of the run, in the
# middle of --growth's fifth window (36 ms from either edge), the last one
# in the tenth.
T=$TMP/bursty.lht
"$BIN/leakhunt-record" -q -o "$T" -- "$PROG" --pause-ms 400 >"$TMP/rec.out" 2>"$TMP/rec.err"
is "recorded run exits 0" "$?" 0
is "recorded run prints what it prints natively" "$(cat "$TMP/rec.out")" "leaked 300 bodies (96000 bytes)"
"$BIN/leakhunt-replay" "$T" --stats --format json >"$TMP/stats.json"
is "a marker before each burst" "$(json_get "$TMP/stats.json" "[m['label'] for m in j['markers']]")" \
	"['burst', 'burst', 'burst']"
is "complete, nothing lost" "$(json_get "$TMP/stats.json" "(j['complete'], j['lost_events'], j['unknown_frees'])")" \
	"(True, 0, 0)"

"$BIN/leakhunt-replay" "$T" --leaks --by line --format json --top 1 >"$TMP/leaks.json"
is "leaks: the LEAK line, 300 bodies" \
	"$(json_get "$TMP/leaks.json" "[(r['function'], r['line'], r['bytes'], r['count']) for r in j['rows']]")" \
	"[('handle_request', $LEAK_LINE, 96000, 300)]"

# The heap of the LEAK line by window: 32000 B from the first window, 64000
# from the fifth, 96000 in the tenth. The end is a new maximum: still growing.
"$BIN/leakhunt-replay" "$T" --growth --by line --format json --top 0 >"$TMP/growth.json"
is "--growth: the LEAK line first, still growing, exactly" \
	"$(json_get "$TMP/growth.json" "[(r['function'], r['line'], r['growth_bytes'], r['rising_windows'], r['windows'], r['still_growing'], r['bytes']) for r in j['rows'][:1]]")" \
	"[('handle_request', $LEAK_LINE, 64000, 2, 9, True, 96000)]"
is "--growth: nothing else still growing" \
	"$(json_get "$TMP/growth.json" "[r['line'] for r in j['rows'] if r['still_growing']]")" "[$LEAK_LINE]"
"$BIN/leakhunt-replay" "$T" --growth --by line >"$TMP/growth.txt"
ok_if "--growth text: '+62.5 KiB 2/9 still growing' for the LEAK line" \
	grep -Eq "^ +\+62\.5 KiB +2/9 still growing +93\.8 KiB +samples/bursty-leak/main\.c:$LEAK_LINE handle_request\$" "$TMP/growth.txt"
ok_if "--growth text: not 'levelled off'" sh -c "! grep -q 'levelled off' '$TMP/growth.txt'"

"$BIN/leakhunt-replay" "$T" --diff 'mark:burst#2' end --by line --format json --top 1 >"$TMP/diff.json"
is "--diff mark:burst#2 end: the last two bursts' 200 bodies" \
	"$(json_get "$TMP/diff.json" "[(r['line'], r['bytes_delta'], r['count_delta']) for r in j['rows']]")" \
	"[($LEAK_LINE, 64000, 200)]"

done_testing
