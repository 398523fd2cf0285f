#!/bin/bash
# collector_memory: leakhunt-record's memory does not grow with the length
# of the recording. The collector once kept every record it had drained
# from a busy thread (40 bytes an event): 8 M events cost 330 MB.
. "$(dirname "$0")/../lib.sh"
C=$ROOT/build/bench/churn
# Peak RSS of the largest process of the run, in KiB: leakhunt-record (the
# traced churn itself stays at a few MiB).
peak_kib() {
    python3 -c 'import resource, subprocess, sys
subprocess.run(sys.argv[1:], stdout=subprocess.DEVNULL, check=True)
print(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)' "$@"
}
short=$(peak_kib "$BIN/leakhunt-record" -q -o "$TMP/short.lht" -- "$C" 1 250000)
long=$(peak_kib "$BIN/leakhunt-record" -q -o "$TMP/long.lht" -- "$C" 1 4000000)
ok_if "both recorded" test -n "$short" -a -n "$long"
"$BIN/leakhunt-replay" "$TMP/long.lht" --stats --format json >"$TMP/long.json"
# 4 M + 1 allocations (stdout's buffer), as many frees: libunwind's thread
# cache unmapped at the worker's exit was counted once too (8000003), but
# unwind.c leaves libunwind unused on churn.
is "the long recording holds all 8 M events" "$(json_get "$TMP/long.json" "j['events']")" 8000002
# What the collector may hold whatever the length: its pending records
# (a write is forced at 256 Ki, and a drain on a loaded machine can take
# the buffer past that to its next doubling, 512 Ki x 40 bytes = 20 MiB)
# and the pages of a busy thread's ring it has read (5 MiB). A quiet run
# stays at the short run's size; one beside other work (CI with torture)
# reached +25.9 MiB. The bug this guards against: +300 MiB at 8 M events.
ok_if "16x the events, bounded memory: ${short} KiB for 0.5 M events, ${long} KiB for 8 M (at most + 32 MiB)" \
    test "$long" -le $((short + 32768))
done_testing
