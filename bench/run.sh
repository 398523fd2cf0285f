#!/bin/bash
# bench/run.sh - `make bench`: leakhunt against heaptrack, side by side, in
# one run on this machine. Commands alternate within each repetition and
# the table reports medians, so drift of the machine hits every tool alike.
#
# Environment: BENCH_REPS (default 5), BENCH_SCALE (default 1),
# BENCH_OUT (default bench/RESULTS.md), BENCH_QUICK=1 (one rep, small sizes).
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
BENCH_DIR=$ROOT/bench
BENCH_BIN=$ROOT/build/bench
BIN=$ROOT/build/bin
REPS=${BENCH_REPS:-5}
OUT=${BENCH_OUT:-$BENCH_DIR/RESULTS.md}
if [ "${BENCH_QUICK:-0}" = 1 ]; then REPS=1; BENCH_SCALE=${BENCH_SCALE:-1}; fi
BENCH_TMP=$(mktemp -d /tmp/leakhunt-bench.XXXXXX)
trap 'rm -rf "$BENCH_TMP"' EXIT
. "$BENCH_DIR/workloads.sh"
RAW=$BENCH_TMP/raw.tsv
: >"$RAW"

say() { printf '%s\n' "$*" >&2; }

# measure TOOL WORKLOAD REP CMD...: one timed run; appends a row to $RAW:
# workload tool rep seconds maxrss_kb trace_bytes
measure() {
    local tool=$1 wl=$2 rep=$3; shift 3
    local dir=$BENCH_TMP/$tool.$wl.$rep
    mkdir -p "$dir"
    local t0 t1 rss
    case $tool in
        native)    /usr/bin/time -f '%e %M' -o "$dir/time" "$@" >"$dir/out" 2>"$dir/err" ;;
        leakhunt)  /usr/bin/time -f '%e %M' -o "$dir/time" "$BIN/leakhunt-record" -q -o "$dir/trace.lht" -- "$@" >"$dir/out" 2>"$dir/err" ;;
        heaptrack) /usr/bin/time -f '%e %M' -o "$dir/time" heaptrack -o "$dir/ht" "$@" >"$dir/out" 2>"$dir/err" ;;
    esac
    read -r secs rss <"$dir/time"
    local bytes=0
    case $tool in
        leakhunt)  bytes=$(stat -c %s "$dir"/trace*.lht 2>/dev/null | awk '{s+=$1} END {print s+0}') ;;
        heaptrack) bytes=$(stat -c %s "$dir"/ht*.zst 2>/dev/null | awk '{s+=$1} END {print s+0}') ;;
    esac
    printf '%s\t%s\t%s\t%s\t%s\t%s\n' "$wl" "$tool" "$rep" "$secs" "$rss" "$bytes" >>"$RAW"
}

say "leakhunt bench: $REPS repetitions, scale $BENCH_SCALE, scratch in $BENCH_TMP"
prepare_workloads
for wl in $WORKLOADS; do
    cmd=$(workload_$wl)
    say "== $wl: $cmd"
    for rep in $(seq 1 "$REPS"); do
        for tool in native leakhunt heaptrack; do
            measure "$tool" "$wl" "$rep" $cmd
        done
    done
    # Counts, replay and analysis on the last repetition's traces.
    dir_l=$BENCH_TMP/leakhunt.$wl.$REPS
    dir_h=$BENCH_TMP/heaptrack.$wl.$REPS
    lht=$(ls "$dir_l"/trace*.lht | head -1)
    "$BIN/leakhunt-dump" --json "$lht" >"$BENCH_TMP/$wl.dump.json"
    "$BIN/leakhunt-replay" "$lht" --stats --format json >"$BENCH_TMP/$wl.stats.json" 2>/dev/null || echo '{}' >"$BENCH_TMP/$wl.stats.json"
    for rep in $(seq 1 "$REPS"); do
        /usr/bin/time -f '%e %M' -o "$BENCH_TMP/$wl.replay.$rep" "$BIN/leakhunt-replay" "$lht" --leaks >/dev/null 2>&1 || true
        /usr/bin/time -f '%e %M' -o "$BENCH_TMP/$wl.htprint.$rep" heaptrack_print "$dir_h"/ht*.zst >"$BENCH_TMP/$wl.htprint.out" 2>&1 || true
    done
done

# Thread scaling of the recorder on the churn.
for th in 1 2 4 8; do
    say "== scaling: churn with $th threads"
    cmd="$BENCH_BIN/churn $th $((400000 * BENCH_SCALE))"
    for tool in native leakhunt heaptrack; do measure "$tool" "threads$th" 1 $cmd; done
done

say "== writing $OUT"
python3 "$BENCH_DIR/report.py" "$BENCH_TMP" "$RAW" "$OUT" "$REPS" "$WORKLOADS"
say "done: $OUT and ${OUT%.md}.svg"
