#!/bin/bash
# tests/fuzz/asan_tools.sh ASAN_BIN - the analysis tools built with
# ASan+UBSan (make asan: build-asan/bin) over real traces: a few small
# programs recorded with the normal build's leakhunt-record, then every view
# and export of leakhunt-replay and every mode of leakhunt-dump. Any
# sanitizer report fails (the sanitizers abort; exit status 0/1 of the tools
# is accepted, 1 = damaged trace, anything else fails).
set -u
cd "$(dirname "$0")/../.."
abin=${1:-build-asan/bin}
rec=build/bin/leakhunt-record
progs=build/tests/progs
export ASAN_OPTIONS=${ASAN_OPTIONS:-abort_on_error=1:detect_leaks=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}
tmp=$(mktemp -d /tmp/leakhunt-asan.XXXXXX)
trap 'rm -rf "$tmp"' EXIT
failed=0 ran=0

run() { # run NAME CMD... : ok on exit 0 or 1 without a sanitizer report
    local name=$1; shift
    ran=$((ran + 1))
    "$@" >"$tmp/out" 2>"$tmp/err"
    local rc=$?
    if [ $rc -gt 1 ] || grep -qE 'ERROR: (Address|Leak)Sanitizer|runtime error:' "$tmp/err"; then
        echo "FAILED ($rc): $name: $*"
        tail -n 40 "$tmp/err" | sed 's/^/    /'
        failed=$((failed + 1))
    fi
}

traces=()
record() { # record NAME PROGRAM ARGS...
    local t="$tmp/$1.lht"; shift
    "$rec" -q -o "$t" -- "$@" >/dev/null 2>&1 # the program's own status is its business
    if [ -s "$t" ]; then traces+=("$t"); else echo "FAILED: recording $* wrote no trace"; failed=$((failed + 1)); fi
}
record known_allocs "$progs/known_allocs"
record threads8 "$progs/threads8"
[ -x "$progs/dl_host" ] && LD_LIBRARY_PATH=$progs record dl_host "$progs/dl_host"
record ls /bin/ls -lR /usr/include # a real program: libc frames, many stacks

for t in "${traces[@]}"; do
    n=$(basename "$t" .lht)
    run "$n dump" "$abin/leakhunt-dump" "$t"
    run "$n dump --verify" "$abin/leakhunt-dump" --verify "$t"
    run "$n dump --chunks" "$abin/leakhunt-dump" --chunks "$t"
    run "$n dump --json" "$abin/leakhunt-dump" --json "$t"
    r="$abin/leakhunt-replay"
    run "$n --stats" "$r" "$t" --stats
    run "$n --stats json" "$r" "$t" --stats --format json
    run "$n --leaks --by stack" "$r" "$t" --leaks --by stack --top 0
    run "$n --leaks --by function" "$r" "$t" --leaks --by function --format json
    run "$n --leaks --by module" "$r" "$t" --leaks --by module --folded "$tmp/$n.folded"
    run "$n --at 50%" "$r" "$t" --at 50% --by line
    run "$n --peak" "$r" "$t" --peak
    run "$n --diff start end" "$r" "$t" --diff start end --flamegraph "$tmp/$n.diff.svg"
    run "$n --diff two traces" "$r" "${traces[0]}" "$t" --diff end end
    run "$n --growth" "$r" "$t" --growth --windows 5
    run "$n --temporary" "$r" "$t" --temporary --by stack
    run "$n exports" "$r" "$t" --leaks --flamegraph "$tmp/$n.svg" --pprof "$tmp/$n.pb.gz" \
        --speedscope "$tmp/$n.speedscope.json" --html "$tmp/$n.html" --folded "$tmp/$n.folded"
    run "$n exports by count" "$r" "$t" --at end --value alloc_count --flamegraph "$tmp/$n.c.svg" \
        --speedscope "$tmp/$n.c.json" --pprof "$tmp/$n.c.pb.gz"
done
# A stack far deeper than the recorder writes (the exporters recurse per frame).
if [ -x build-fuzz/seed_traces ]; then
    mkdir -p "$tmp/deep/reader" && build-fuzz/seed_traces "$tmp/deep" 100000
    d="$tmp/deep/reader/deep_100000.lht"
    run "deep stack exports" "$abin/leakhunt-replay" "$d" --leaks --by stack --flamegraph "$tmp/deep.svg" \
        --pprof "$tmp/deep.pb.gz" --speedscope "$tmp/deep.json" --html "$tmp/deep.html" --folded "$tmp/deep.folded"
    run "deep stack dump" "$abin/leakhunt-dump" --verify "$d"
    # A trace naming a FIFO as a module: symbolizing must not open it (it would hang).
    mkdir -p "$tmp/fifo/reader" && mkfifo "$tmp/fifo/code" && build-fuzz/seed_traces "$tmp/fifo" 10 "$tmp/fifo/code"
    run "module is a FIFO" timeout 60 "$abin/leakhunt-replay" "$tmp/fifo/reader/deep_10.lht" --leaks --by stack
fi
# The markers of known_allocs.
run "known_allocs --diff marks" "$abin/leakhunt-replay" "${traces[0]}" --diff mark:before mark:after \
    --by stack --flamegraph "$tmp/marks.svg"

echo "asan tools: $ran runs over ${#traces[@]} traces, $failed failed"
[ $failed -eq 0 ]
