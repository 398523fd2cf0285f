#!/bin/bash
# tests/run.sh - run every test program in build/tests/ and every scenario
# script in tests/scenario/, add up their TAP lines and close with
# "N passed, N failed". A test that crashes, exits non-zero or reports no
# case counts as a failure, so a run that tested nothing cannot pass.
set -u
cd "$(dirname "$0")/.."
filter=${1:-}
passed=0; failed=0
log_dir=build/test-logs
mkdir -p "$log_dir"

run_one() {
    local name=$1; shift
    local log="$log_dir/$(basename "$name").log"
    local start=$SECONDS
    timeout "${LH_TEST_TIMEOUT:-600}" "$@" >"$log" 2>&1
    local rc=$?
    local ok nok
    ok=$(grep -c '^ok ' "$log")
    nok=$(grep -c '^not ok ' "$log")
    passed=$((passed + ok)); failed=$((failed + nok))
    if [ "$rc" -ne 0 ] && [ "$nok" -eq 0 ]; then failed=$((failed + 1)); nok=1
        echo "not ok - $name exited with status $rc"; fi
    if [ "$ok" -eq 0 ] && [ "$nok" -eq 0 ]; then failed=$((failed + 1)); nok=1
        echo "not ok - $name ran no test case"; fi
    printf '%-40s %3d passed, %d failed  (%ds)\n' "$name" "$ok" "$nok" $((SECONDS - start))
    [ "$nok" -eq 0 ] || { grep -E '^(not ok|#)' "$log" | head -40 | sed 's/^/    /'; echo "    (full log: $log)"; }
}

for t in build/tests/test_*; do
    [ -x "$t" ] || continue
    case "$t" in *"$filter"*) run_one "$t" "$t" ;; esac
done
for t in tests/scenario/*.sh; do
    [ -f "$t" ] || continue
    case "$t" in *"$filter"*) run_one "$t" bash "$t" ;; esac
done
echo
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ] && [ "$passed" -gt 0 ]
