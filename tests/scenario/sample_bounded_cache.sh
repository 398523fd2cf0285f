#!/bin/bash
# tests/scenario/sample_bounded_cache.sh - samples/bounded-cache: its heap
# grows while the cache fills, then stays level, and nothing is left at exit.
. "$(dirname "$0")/../lib.sh"

PROG=$ROOT/build/samples/bounded-cache
if [ ! -x "$PROG" ]; then
	fail "bounded-cache is built" "$PROG is missing: run 'make samples'"
	done_testing; exit
fi

# --- natively ---------------------------------------------------------------
"$PROG" --capacity 500 --ids 5000 --lookups 20000 --batches 10 --pace-ms 0 >"$TMP/out"
is "runs and exits 0" "$?" 0
is "prints one line per batch" "$(wc -l <"$TMP/out")" 10
is "the cache is full from the second batch on" \
	"$(sed -n '2,$p' "$TMP/out" | grep -c ': 500 entries,')" 9
# An entry is 48 bytes plus a 33..80-byte name: 500 of them hold 40500..64000.
ok_if "a full cache's bytes stay within what 500 entries can hold" \
	awk '/: 500 entries/ { if ($5 < 500 * 81 || $5 > 500 * 128) exit 1 }' "$TMP/out"
ok_if "usage errors exit 2" bash -c "'$PROG' --capacity 0 2>/dev/null; [ \$? -eq 2 ]"
valgrind -q --leak-check=full --errors-for-leak-kinds=all --error-exitcode=9 \
	"$PROG" --capacity 100 --ids 1000 --lookups 3000 --batches 3 --pace-ms 0 >/dev/null 2>"$TMP/vg"
is "valgrind: no errors and nothing left at exit" "$?" 0

done_testing
