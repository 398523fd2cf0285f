#!/bin/bash
# sanitizers: `make asan` (the unit tests, then every leakhunt-replay view
# and export and every leakhunt-dump mode over recorded traces, built with
# ASan+UBSan, any report fatal) and `make fuzz-smoke` (each libFuzzer
# harness for 20 s from its seeds, after its regression inputs), as part of
# make check.
. "$(dirname "$0")/../lib.sh"
cd "$ROOT"
unset MAKEFLAGS MFLAGS MAKELEVEL
make --no-print-directory asan >"$TMP/asan.log" 2>&1
rc=$?
is "make asan passes" "$rc" 0
[ "$rc" = 0 ] || tail -n 30 "$TMP/asan.log" | sed 's/^/#   /'
summary=$(grep -o 'asan tools: [0-9]* runs over [0-9]* traces, [0-9]* failed' "$TMP/asan.log")
echo "# $summary"
case $summary in *", 0 failed") pass "every replay view and export is clean under ASan+UBSan" ;;
    *) fail "every replay view and export is clean under ASan+UBSan" "$summary" ;; esac

make --no-print-directory fuzz-smoke >"$TMP/fuzz.log" 2>&1
rc=$?
is "make fuzz-smoke passes (no crash, no regression input fails)" "$rc" 0
[ "$rc" = 0 ] || tail -n 30 "$TMP/fuzz.log" | sed 's/^/#   /'
for h in reader events replay; do
    runs=$(sed -n "/^== fuzz_$h for/,/^== /p" "$TMP/fuzz.log" | sed -n 's/^stat::number_of_executed_units: *//p' | head -1)
    if [ "${runs:-0}" -gt 0 ]; then pass "fuzz_$h ran $runs inputs"; else fail "fuzz_$h ran" "no executed units reported"; fi
done
done_testing
