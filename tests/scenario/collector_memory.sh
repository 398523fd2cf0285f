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
ok_if "16x the events, the same memory: ${short} KiB for 0.5 M events, ${long} KiB for 8 M (at most 1.25x + 8 MiB)" \
    test "$long" -le $((short * 5 / 4 + 8192))
done_testing
