#!/bin/bash
# sanitizers: `make asan` (the unit tests, then every leakhunt-replay view
# and export and every leakhunt-dump mode over recorded traces, built with
# ASan+UBSan, any report fatal) and `make fuzz-smoke` (each libFuzzer
# harness for 20 s from its seeds, after its regression inputs), and the
# analysis tools under valgrind memcheck, as part of make check.
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

# The analysis tools under valgrind memcheck too (cheap on a small trace):
# no invalid read or write, no use of uninitialised values.
T=$TMP/k.lht
"$BIN/leakhunt-record" -q -o "$T" -- "$TBIN/progs/known_allocs" >/dev/null 2>&1
vg() { valgrind -q --error-exitcode=99 --leak-check=no "$@" >/dev/null 2>"$TMP/vg.err"; [ $? != 99 ] || { head -20 "$TMP/vg.err" | sed 's/^/#   /'; return 1; }; }
ok_if "valgrind: leakhunt-replay --stats" vg "$BIN/leakhunt-replay" "$T" --stats --no-checkpoints
ok_if "valgrind: leakhunt-replay --diff --by stack with every export" vg "$BIN/leakhunt-replay" "$T" \
    --diff mark:before mark:after --by stack --folded "$TMP/f" --flamegraph "$TMP/f.svg" \
    --pprof "$TMP/f.pb.gz" --speedscope "$TMP/f.json" --html "$TMP/f.html"
ok_if "valgrind: leakhunt-replay --growth" vg "$BIN/leakhunt-replay" "$T" --growth
ok_if "valgrind: leakhunt-dump --verify --chunks" vg "$BIN/leakhunt-dump" --verify --chunks "$T"

make --no-print-directory fuzz-smoke >"$TMP/fuzz.log" 2>&1
rc=$?
is "make fuzz-smoke passes (no crash, no regression input fails)" "$rc" 0
[ "$rc" = 0 ] || tail -n 30 "$TMP/fuzz.log" | sed 's/^/#   /'
for h in reader events replay; do
    runs=$(sed -n "/^== fuzz_$h for/,/^== /p" "$TMP/fuzz.log" | sed -n 's/^stat::number_of_executed_units: *//p' | head -1)
    if [ "${runs:-0}" -gt 0 ]; then pass "fuzz_$h ran $runs inputs"; else fail "fuzz_$h ran" "no executed units reported"; fi
done
done_testing
