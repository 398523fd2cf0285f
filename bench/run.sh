#!/bin/bash
# bench/run.sh - `make bench`: leakhunt against heaptrack, side by side, in
# one run on this machine. Commands alternate within each repetition and
# the tables report medians, so drift of the machine hits every tool alike.
#
# Environment:
#   BENCH_REPS   repetitions per workload (default 7)
#   BENCH_SCALE  workload size multiplier (default 1)
#   BENCH_SIZES  events for the replay-vs-size series (default "1000000 10000000 100000000")
#   BENCH_HT_MAX largest size heaptrack also runs in that series (default 100000000)
#   BENCH_OUT    results file (default bench/RESULTS.md; the chart goes next to it)
#   BENCH_SAMPLE interval of the --sample rows (default 512K)
#   BENCH_SEEDS  seeded --sample runs per workload for the accuracy table (default 20)
#   BENCH_QUICK=1  one repetition, small sizes: checks the script, not the machine
#   BENCH_KEEP=1   keep the scratch directory
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
BENCH_DIR=$ROOT/bench
BENCH_BIN=$ROOT/build/bench
BIN=$ROOT/build/bin
REPS=${BENCH_REPS:-7}
SIZES=${BENCH_SIZES:-"1000000 10000000 100000000"}
HT_MAX=${BENCH_HT_MAX:-100000000}
SCALE_REPS=3
BENCH_SAMPLE=${BENCH_SAMPLE:-512K}
SEEDS=${BENCH_SEEDS:-20}
OUT=${BENCH_OUT:-$BENCH_DIR/RESULTS.md}
if [ "${BENCH_QUICK:-0}" = 1 ]; then
    REPS=1; SCALE_REPS=1; SIZES=${BENCH_SIZES:-"100000 1000000"}; HT_MAX=1000000; SEEDS=${BENCH_SEEDS:-2}
fi
BENCH_TMP=$(mktemp -d /tmp/leakhunt-bench.XXXXXX)
if [ "${BENCH_KEEP:-0}" = 1 ]; then trap 'echo "scratch kept: $BENCH_TMP" >&2' EXIT
else trap 'rm -rf "$BENCH_TMP"' EXIT; fi
. "$BENCH_DIR/workloads.sh"
RAW=$BENCH_TMP/raw.tsv
: >"$RAW"
export LC_ALL=C
START=$EPOCHREALTIME

say() { printf '[%4.0fs] %s\n' "$(echo "$EPOCHREALTIME - $START" | bc)" "$*" >&2; }

for tool in heaptrack heaptrack_print sqlite3 /usr/bin/time bc; do
    command -v "$tool" >/dev/null || { echo "bench: $tool is missing (make bench installs it)" >&2; exit 1; }
done
for f in "$BIN/leakhunt-record" "$BIN/leakhunt-replay" "$BIN/leakhunt-dump" "$BENCH_BIN/churn" "$BENCH_BIN/server_like" "$BENCH_BIN/count_allocs.so"; do
    [ -x "$f" ] || { echo "bench: $f is not built (run make bench)" >&2; exit 1; }
done

# timed DIR CMD...: run CMD with stdout/stderr in DIR, wall seconds (from
# bash's microsecond clock) and peak RSS in KiB (/usr/bin/time %M: the
# largest resident set of any process of the command's tree) into DIR/time.
timed() {
    local dir=$1; shift
    local t0=$EPOCHREALTIME rc=0
    /usr/bin/time -f '%M' -o "$dir/rss" "$@" >"$dir/out" 2>"$dir/err" || rc=$?
    local t1=$EPOCHREALTIME
    echo "$(echo "$t1 - $t0" | bc) $(tail -1 "$dir/rss")" >"$dir/time"
    if [ $rc != 0 ]; then
        echo "bench: failed ($rc): $*" >&2; tail -5 "$dir/err" >&2; return 1
    fi
}

# measure TOOL WORKLOAD REP [NAME=VALUE...] CMD...: one timed run; appends
# a row to $RAW: workload tool rep seconds maxrss_kb trace_bytes
measure() {
    local tool=$1 wl=$2 rep=$3; shift 3
    local envs=()
    while [[ $1 == *=* ]]; do envs+=("$1"); shift; done
    local dir=$BENCH_TMP/$tool.$wl.$rep
    rm -rf "$dir"; mkdir -p "$dir"
    if declare -F "reset_$wl" >/dev/null; then "reset_$wl"; fi
    local ok=1
    case $tool in
        native)    timed "$dir" env "${envs[@]}" "$@" ;;
        leakhunt)  timed "$dir" env "${envs[@]}" LEAKHUNT_COLLECTOR_CPU=1 "$BIN/leakhunt-record" -q -o "$dir/trace.lht" -- "$@" ;;
        leakhunt_fp) timed "$dir" env "${envs[@]}" "$BIN/leakhunt-record" -q --unwind fp -o "$dir/trace.lht" -- "$@" ;;
        leakhunt_native) timed "$dir" env "${envs[@]}" "$BIN/leakhunt-record" -q --python-stacks off -o "$dir/trace.lht" -- "$@" ;;
        leakhunt_pyfull) timed "$dir" env "${envs[@]}" "$BIN/leakhunt-record" -q --python-stacks full -o "$dir/trace.lht" -- "$@" ;;
        leakhunt_sample) timed "$dir" env "${envs[@]}" "$BIN/leakhunt-record" -q --sample "$BENCH_SAMPLE" -o "$dir/trace.lht" -- "$@" ;;
        heaptrack) timed "$dir" env "${envs[@]}" heaptrack -o "$dir/ht" "$@" ;;
        massif)    timed "$dir" env "${envs[@]}" valgrind --tool=massif --massif-out-file="$dir/massif.out" "$@" ;;
    esac || ok=0
    local bytes=0 secs rss
    read -r secs rss <"$dir/time"
    case $tool in
        leakhunt*) bytes=$(cat "$dir"/trace*.lht 2>/dev/null | wc -c) ;;
        heaptrack) bytes=$(cat "$dir"/ht.* 2>/dev/null | wc -c) ;;
        massif)    bytes=$(wc -c <"$dir/massif.out" 2>/dev/null || echo 0) ;;
    esac
    # A failed run or a tool that wrote nothing is left out of the medians.
    if [ $ok = 0 ] || { [ "$tool" != native ] && [ "$bytes" = 0 ]; }; then
        echo "bench: $tool on $wl wrote no output; left out" >&2
        return 0
    fi
    printf '%s\t%s\t%s\t%s\t%s\t%s\n' "$wl" "$tool" "$rep" "$secs" "$rss" "$bytes" >>"$RAW"
    # The collector's own CPU (leakhunt-record: the program's time is apart).
    if [ "$tool" = leakhunt ]; then
        sed -n 's/^leakhunt: collector cpu \([0-9.]*\) s user \([0-9.]*\) s system, \([0-9]*\) events$/\1 \2 \3/p' \
            "$dir/err" | while read -r u s n; do
            printf '%s\t%s\t%s\n' "$wl" "$(echo "$u + $s" | bc)" "$n" >>"$BENCH_TMP/collector.tsv"; done
    fi
}

# count_allocs WORKLOAD [NAME=VALUE...] CMD...: WORKLOAD.count = allocation calls.
count_allocs() {
    local wl=$1; shift
    local envs=()
    while [[ $1 == *=* ]]; do envs+=("$1"); shift; done
    if declare -F "reset_$wl" >/dev/null; then "reset_$wl"; fi
    env "${envs[@]}" LEAKHUNT_X1=1 LEAKHUNT_X2=1 LEAKHUNT_X3=1 COUNT_ALLOCS_OUT="$BENCH_TMP/$wl.count" \
        LD_PRELOAD="$BENCH_BIN/count_allocs.so" "$@" >/dev/null 2>&1 || true
}

# top_site TRACE SITE VIEW...: "bytes<TAB>site<TAB>bytes of SITE" for the
# view's top line and for SITE wherever it ranks, from one replay (a diff's
# rows give bytes_delta).
top_site() {
    local t=$1 want=$2; shift 2
    "$BIN/leakhunt-replay" "$t" "$@" --by line --top 0 --format json --no-checkpoints 2>/dev/null |
        python3 -c 'import json, sys
rows = json.load(sys.stdin).get("rows") or [{"bytes": 0, "site": "-"}]
b = lambda r: r.get("bytes", r.get("bytes_delta", 0))
print("%d\t%s\t%d" % (b(rows[0]), rows[0]["site"], sum(b(r) for r in rows if r["site"] == sys.argv[1])))' "$want" \
        2>/dev/null || printf '0\t-\t0\n'
}

# sample_accuracy WORKLOAD EXACT_TRACE [NAME=VALUE...] CMD...: SEEDS runs
# with --sample and LEAKHUNT_SAMPLE_SEED=1..SEEDS; for the top site by
# leaked bytes and by growth (over the first half, or between the markers
# growth_WORKLOAD names: a time splits runs of a loaded machine at
# different points of the program), WORKLOAD.accuracy gets
# "view seed exact_bytes exact_site sampled_bytes_of_that_site sampled_top_site".
sample_accuracy() {
    local wl=$1 exact=$2; shift 2
    local envs=()
    while [[ $1 == *=* ]]; do envs+=("$1"); shift; done
    local out=$BENCH_TMP/$wl.accuracy d=$BENCH_TMP/acc.$wl
    : >"$out"; mkdir -p "$d"
    local -A views=([leaks]="--leaks" [growth]="$(if declare -F "growth_$wl" >/dev/null; then "growth_$wl"; else echo "--diff start 50%"; fi)")
    local v seed eb es sb ss sbe
    for v in leaks growth; do
        # shellcheck disable=SC2086
        IFS=$'\t' read -r eb es _ < <(top_site "$exact" - ${views[$v]})
        printf '%s\t%s\n' "$eb" "$es" >"$d/exact.$v"
    done
    for seed in $(seq 1 "$SEEDS"); do
        if declare -F "reset_$wl" >/dev/null; then "reset_$wl"; fi
        env "${envs[@]}" LEAKHUNT_SAMPLE_SEED="$seed" "$BIN/leakhunt-record" -q --sample "$BENCH_SAMPLE" \
            -o "$d/s.lht" -- "$@" >/dev/null 2>&1 || continue
        for v in leaks growth; do
            IFS=$'\t' read -r eb es <"$d/exact.$v"
            # the sampled top site, and its estimate of the exact top site
            # shellcheck disable=SC2086
            IFS=$'\t' read -r sb ss sbe < <(top_site "$d/s.lht" "$es" ${views[$v]})
            printf '%s\t%s\t%s\t%s\t%s\t%s\n' "$v" "$seed" "$eb" "$es" "$sbe" "$ss" >>"$out"
        done
        rm -f "$d/s.lht"
    done
}

# rotate K WORDS...: the words, starting from the K-th (mod count).
rotate() {
    local k=$1; shift
    local a=("$@") out=() i
    for ((i = 0; i < ${#a[@]}; i++)); do out+=("${a[(i + k) % ${#a[@]}]}"); done
    echo "${out[*]}"
}

ht_file() { ls "$1"/ht.* | head -1; }

# replay_pair NAME LHT HTFILE REPS: alternate leakhunt-replay --leaks and
# heaptrack_print on traces of the same program; times in NAME.replay.N and
# NAME.htprint.N ("seconds rss_kb").
replay_pair() {
    local name=$1 lht=$2 ht=$3 n=$4 rep d
    for rep in $(seq 1 "$n"); do
        d=$BENCH_TMP/rp.$name.$rep; mkdir -p "$d"
        # every pass reads the whole trace, as heaptrack_print does: no
        # checkpoint sidecar (TRACE.ckpt) from an earlier pass
        timed "$d" "$BIN/leakhunt-replay" "$lht" --leaks --no-checkpoints || true
        cp "$d/time" "$BENCH_TMP/$name.replay.$rep"
        if [ -n "$ht" ]; then
            d=$BENCH_TMP/hp.$name.$rep; mkdir -p "$d"
            timed "$d" ht_print_cmd "$ht" || true
            cp "$d/time" "$BENCH_TMP/$name.htprint.$rep"
            cp "$d/out" "$BENCH_TMP/$name.htprint.out"
        fi
    done
}
# heaptrack_print doing the work closest to `leakhunt-replay --leaks`: read
# the whole trace, print the leaks and the summary, skip the other lists.
# (/usr/bin/time needs a program, not a shell function.)
mkdir -p "$BENCH_TMP/bin"
printf '#!/bin/sh\nexec heaptrack_print -p 0 -a 0 -T 0 -l 1 "$@"\n' >"$BENCH_TMP/bin/ht_print_cmd"
chmod +x "$BENCH_TMP/bin/ht_print_cmd"
export PATH=$BENCH_TMP/bin:$PATH

{
    echo "date	$(date -u '+%Y-%m-%d %H:%M UTC')"
    echo "commit	${BENCH_COMMIT:-$(git -C "$ROOT" rev-parse --short HEAD 2>/dev/null || echo unknown)$(git -C "$ROOT" diff --quiet HEAD -- recorder analyze format 2>/dev/null || echo ' (+ uncommitted changes)')}"
    echo "load	$(cut -d' ' -f1-3 /proc/loadavg)"
    echo "reps	$REPS"
    echo "scale	$BENCH_SCALE"
    echo "quick	${BENCH_QUICK:-0}"
    echo "sample	$BENCH_SAMPLE"
    echo "python	$($BENCH_PYTHON --version 2>&1)"
    echo "sqlite	$(sqlite3 --version | cut -d' ' -f1)"
    echo "heaptrack	$(heaptrack --version 2>&1 | head -1)"
    echo "valgrind	$(valgrind --version 2>/dev/null || echo none)"
} >"$BENCH_TMP/meta.tsv"

say "leakhunt bench: $REPS repetitions, scale $BENCH_SCALE, scratch in $BENCH_TMP"
prepare_workloads

# 0. Fixed cost of each tool: start-up and exit around a program that
# allocates almost nothing (heaptrack starts a shell script and
# heaptrack_interpret; the report also compares costs with this removed).
say "== start-up cost: churn 1 1"
for rep in $(seq 1 "$SCALE_REPS"); do
    for tool in native leakhunt heaptrack; do measure "$tool" startup "$rep" "$BENCH_BIN/churn" 1 1; done
done

# 1. Recording and replay, per workload.
for wl in $WORKLOADS; do
    cmd=$(workload_$wl)
    say "== $wl: $cmd"
    for rep in $(seq 1 "$REPS"); do
        # Rotate the order too, so no tool always runs right after another.
        # The C churn is built with frame pointers: it also runs under
        # leakhunt --unwind fp, to show what unwinding costs.
        # Every workload also runs in production mode (--sample).
        tools="native leakhunt leakhunt_sample heaptrack"
        [ "$wl" = churn ] && tools="native leakhunt leakhunt_fp leakhunt_sample heaptrack"
        # Python also with every native frame (--python-stacks full) and
        # with native stacks only (off), to show what each costs.
        [ "$wl" = python ] && tools="native leakhunt leakhunt_pyfull leakhunt_native leakhunt_sample heaptrack"
        # shellcheck disable=SC2086
        order=$(rotate "$rep" $tools)
        for tool in $order; do
            # shellcheck disable=SC2086
            measure "$tool" "$wl" "$rep" $cmd
        done
    done
    # Counts and replay on the last repetition's traces.
    dir_l=$BENCH_TMP/leakhunt.$wl.$REPS
    dir_h=$BENCH_TMP/heaptrack.$wl.$REPS
    lht=$dir_l/trace.lht
    "$BIN/leakhunt-dump" --json "$lht" >"$BENCH_TMP/$wl.dump.json" 2>/dev/null || echo '{}' >"$BENCH_TMP/$wl.dump.json"
    "$BIN/leakhunt-replay" "$lht" --stats --format json >"$BENCH_TMP/$wl.stats.json" 2>/dev/null || echo '{}' >"$BENCH_TMP/$wl.stats.json"
    # A third count: a plain LD_PRELOAD counter of allocation calls, with as
    # many extra environment variables as leakhunt-record adds (programs
    # such as CPython allocate per environment variable).
    count_allocs "$wl" $cmd
    say "   replay: leakhunt-replay --leaks vs heaptrack_print"
    replay_pair "$wl" "$lht" "$(ht_file "$dir_h" 2>/dev/null)" "$REPS"
    say "   --sample $BENCH_SAMPLE accuracy: $SEEDS seeded runs against the exact trace"
    sample_accuracy "$wl" "$lht" $cmd
    if [ "${BENCH_KEEP:-0}" = 1 ]; then
        cp "$lht" "$BENCH_TMP/$wl.keep.lht" 2>/dev/null || true
        cp "$(ht_file "$dir_h" 2>/dev/null)" "$BENCH_TMP/$wl.keep.ht.zst" 2>/dev/null || true
    fi
    rm -rf "$BENCH_TMP"/*."$wl".[0-9]*/ht.* "$BENCH_TMP"/*."$wl".[0-9]*/*.lht 2>/dev/null || true
done

# 1b. --sample accuracy (and cost) where the leak is of a realistic size.
for wl in $ACCURACY_WORKLOADS; do
    cmd=$(workload_$wl)
    say "== $wl (accuracy): $cmd"
    for rep in $(seq 1 "$REPS"); do
        # shellcheck disable=SC2086
        for tool in $(rotate "$rep" native leakhunt leakhunt_sample); do measure "$tool" "$wl" "$rep" $cmd; done
    done
    say "   --sample $BENCH_SAMPLE accuracy: $SEEDS seeded runs against the exact trace"
    # shellcheck disable=SC2086
    sample_accuracy "$wl" "$BENCH_TMP/leakhunt.$wl.$REPS/trace.lht" $cmd
    rm -rf "$BENCH_TMP"/*."$wl".[0-9]*/*.lht 2>/dev/null || true
done

# 2. valgrind massif, once, on a tenth of the C churn (it is slow).
if command -v valgrind >/dev/null; then
    small="$BENCH_BIN/churn 2 $((100000 * BENCH_SCALE))"
    say "== massif (small churn): $small"
    for tool in native leakhunt heaptrack massif; do
        # shellcheck disable=SC2086
        measure "$tool" churn_small 1 $small
    done
fi

# 3. Thread scaling of the recorder on the churn (iterations per thread fixed).
for th in 1 2 4 8; do
    say "== scaling: churn with $th threads"
    cmd="$BENCH_BIN/churn $th $((500000 * BENCH_SCALE))"
    for rep in $(seq 1 "$SCALE_REPS"); do
        for tool in native leakhunt heaptrack; do
            # shellcheck disable=SC2086
            measure "$tool" "threads$th" "$rep" $cmd
        done
    done
    "$BIN/leakhunt-dump" --json "$BENCH_TMP/leakhunt.threads$th.$SCALE_REPS/trace.lht" >"$BENCH_TMP/threads$th.dump.json" 2>/dev/null || true
    rm -rf "$BENCH_TMP"/*.threads$th.[0-9]*/ht.* "$BENCH_TMP"/*.threads$th.[0-9]*/*.lht
done

# 4. Replay time and memory versus trace size: one-thread churn traces of
# SIZES events (an iteration is one malloc and one free).
for n in $SIZES; do
    wl=size$n
    cmd="$BENCH_BIN/churn 1 $((n / 2))"
    say "== replay vs size: $n events"
    # shellcheck disable=SC2086
    measure leakhunt "$wl" 1 $cmd
    ht=""
    if [ "$n" -le "$HT_MAX" ]; then
        # shellcheck disable=SC2086
        measure heaptrack "$wl" 1 $cmd
        ht=$(ht_file "$BENCH_TMP/heaptrack.$wl.1" 2>/dev/null || true)
    fi
    "$BIN/leakhunt-dump" --json "$BENCH_TMP/leakhunt.$wl.1/trace.lht" >"$BENCH_TMP/$wl.dump.json" 2>/dev/null || true
    replay_pair "$wl" "$BENCH_TMP/leakhunt.$wl.1/trace.lht" "$ht" 1
    rm -rf "$BENCH_TMP"/*."$wl".1/ht.* "$BENCH_TMP"/*."$wl".1/*.lht
done

# 5. Where the recorder's time goes: perf on the one-thread churn, with
# libunwind (the default) and with frame pointers. Sample counts at a fixed
# frequency give CPU time per part, divided by events in report.py.
PERF_ITERS=$((2000000 * BENCH_SCALE))
echo "$PERF_ITERS" >"$BENCH_TMP/perf.iters"
if command -v perf >/dev/null && perf record -q -o "$BENCH_TMP/probe.data" -- true >/dev/null 2>&1; then
    for mode in libunwind fp; do
        say "== perf profile of the recorder on churn (--unwind $mode)"
        pd=$BENCH_TMP/perf.$mode; mkdir -p "$pd"
        perf record -q -F 4999 -g -o "$pd/perf.data" -- \
            "$BIN/leakhunt-record" -q --unwind "$mode" -o "$pd/trace.lht" -- "$BENCH_BIN/churn" 1 "$PERF_ITERS" >/dev/null 2>"$pd/err" || true
        perf report -i "$pd/perf.data" -n --no-children --sort comm,dso,sym -g none --stdio 2>/dev/null \
            | grep -v '^#' | grep -v '^$' >"$BENCH_TMP/perf.$mode.txt" || true
        "$BIN/leakhunt-dump" --json "$pd/trace.lht" >"$BENCH_TMP/perf.$mode.dump.json" || true
        rm -f "$pd/perf.data" "$pd/trace.lht"
    done
else
    say "== perf is not usable here; no profile"
fi

echo "load_end	$(cut -d' ' -f1-3 /proc/loadavg)" >>"$BENCH_TMP/meta.tsv"
say "== writing $OUT"
python3 "$BENCH_DIR/report.py" "$BENCH_TMP" "$RAW" "$OUT" "$REPS" "$WORKLOADS" "$SIZES" "$ACCURACY_WORKLOADS"
say "done: $OUT and ${OUT%.md}.svg"
