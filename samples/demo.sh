#!/bin/bash
# samples/demo.sh - `make demo`: hunt the leak in samples/metrics-service end
# to end, the way the README tells you to hunt your own.
#
#   1. start the service under leakhunt-record
#   2. warm it up
#   3. mark "warm", send load, mark "loaded"
#   4. stop the service cleanly; the recorder finishes the trace
#   5. leakhunt-replay --diff mark:warm mark:loaded --by line
#
# `make demo` builds everything first (make all samples). Knobs, for tests:
# LH_DEMO_DIR (default demo/ in the repository), LH_DEMO_WARM (200 requests),
# LH_DEMO_LOAD (3000 requests), LH_BIN (build/bin).
set -u -o pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
cd "$ROOT"
BIN=${LH_BIN:-build/bin}
SBIN=build/samples
DIR=${LH_DEMO_DIR:-demo}
WARM=${LH_DEMO_WARM:-200}
LOAD=${LH_DEMO_LOAD:-3000}
TRACE=$DIR/metrics.lht

step_no=0
if [ -t 1 ]; then BOLD=$'\033[1m' PLAIN=$'\033[0m'; else BOLD= PLAIN=; fi
step() { step_no=$((step_no + 1)); printf '\n%s== %d. %s%s\n' "$BOLD" "$step_no" "$*" "$PLAIN"; }
say() { printf '   %s\n' "$*"; }
show() { printf '   $ %s\n' "$*"; }	# the command a user would type
die() {
	printf '\ndemo: FAILED at step %d: %s\n' "$step_no" "$*" >&2
	if [ -s "$DIR/service.log" ]; then
		echo "demo: last lines of $DIR/service.log (service and recorder output):" >&2
		tail -n 15 "$DIR/service.log" | sed 's/^/    /' >&2
	fi
	exit 1
}

for tool in "$BIN/leakhunt-record" "$BIN/leakhunt-mark" "$BIN/leakhunt-replay" \
	    "$SBIN/metrics-service" "$SBIN/loadgen"; do
	[ -x "$tool" ] || die "$tool is missing: build it with 'make all samples' (or run 'make demo')"
done
for n in "$WARM" "$LOAD"; do
	case $n in ''|*[!0-9]*) die "LH_DEMO_WARM and LH_DEMO_LOAD must be numbers (got '$n')" ;; esac
done

mkdir -p "$DIR" || die "cannot create $DIR"
echo '*' >"$DIR/.gitignore"	# nothing in the demo directory belongs in git
rm -f "$TRACE" "$DIR"/service.{port,pid,log} "$DIR"/{loadgen.log,stats-warm.json,stats-loaded.json,diff.txt}

# Whatever happens from here on, leave no process behind.
REC_PID= SVC_PID= CHILD=
cleanup() {
	local rc=$?
	trap - EXIT INT TERM
	[ -n "$CHILD" ] && kill -TERM "$CHILD" 2>/dev/null
	if [ -n "$REC_PID" ] && kill -0 "$REC_PID" 2>/dev/null; then
		echo "demo: stopping the service and the recorder" >&2
		[ -n "$SVC_PID" ] && kill -TERM "$SVC_PID" 2>/dev/null
		for _ in $(seq 30); do kill -0 "$REC_PID" 2>/dev/null || break; sleep 0.1; done
		kill -TERM "$REC_PID" 2>/dev/null
		sleep 0.2
		[ -n "$SVC_PID" ] && kill -KILL "$SVC_PID" 2>/dev/null
		kill -KILL "$REC_PID" 2>/dev/null
		wait "$REC_PID" 2>/dev/null
	fi
	exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# run OUT CMD...: runs CMD in the background with its output into OUT ("-":
# left alone) and waits for it, because bash runs the INT/TERM traps above
# only between foreground commands.
run() {
	local out=$1 rc
	shift
	if [ "$out" = - ]; then "$@" & else "$@" >"$out" & fi
	CHILD=$!
	wait "$CHILD"
	rc=$?
	CHILD=
	return "$rc"
}
# send ARGS...: the load generator, its report indented into the story.
send() {
	local rc
	run "$DIR/loadgen.log" timeout 60 "$SBIN/loadgen" --port "$PORT" "$@"
	rc=$?
	sed 's/^/   /' "$DIR/loadgen.log"
	return "$rc"
}
# get PATH FILE: one request to the service, its answer into FILE.
get() { run "$2" timeout 10 "$SBIN/loadgen" --port "$PORT" --get "$1"; }

# ---------------------------------------------------------------------------
step "Start the service under the recorder"
say "metrics-service is a small HTTP price service. Every API request goes through"
say "a timing wrapper, with_metrics(), that records the request's duration."
show "$BIN/leakhunt-record -o $TRACE -- $SBIN/metrics-service --port 0 --port-file $DIR/service.port --pid-file $DIR/service.pid"
"$BIN/leakhunt-record" -o "$TRACE" -- "$SBIN/metrics-service" --port 0 \
	--port-file "$DIR/service.port" --pid-file "$DIR/service.pid" >"$DIR/service.log" 2>&1 &
REC_PID=$!
for _ in $(seq 100); do
	[ -s "$DIR/service.port" ] && break
	kill -0 "$REC_PID" 2>/dev/null || { wait "$REC_PID"; die "leakhunt-record exited (status $?) before the service was listening"; }
	sleep 0.1
done
[ -s "$DIR/service.port" ] || die "the service was not listening after 10 s"
PORT=$(cat "$DIR/service.port")
SVC_PID=$(cat "$DIR/service.pid")
say "the service runs as pid $SVC_PID on 127.0.0.1:$PORT (its output goes to $DIR/service.log)"

# ---------------------------------------------------------------------------
step "Warm up: $WARM requests"
say "Caches fill, buffers reach their working size: growth before this point is not a leak."
show "$SBIN/loadgen --port $PORT --requests $WARM"
send --requests "$WARM" || die "the warm-up requests failed"

# ---------------------------------------------------------------------------
step "Mark \"warm\", send $LOAD more requests, mark \"loaded\""
show "$BIN/leakhunt-mark $SVC_PID warm"
run - "$BIN/leakhunt-mark" "$SVC_PID" warm || die "leakhunt-mark $SVC_PID warm failed"
get /stats "$DIR/stats-warm.json" || die "GET /stats failed"
show "$SBIN/loadgen --port $PORT --requests $LOAD --first $WARM"
send --requests "$LOAD" --first "$WARM" || die "the load requests failed"
show "$BIN/leakhunt-mark $SVC_PID loaded"
run - "$BIN/leakhunt-mark" "$SVC_PID" loaded || die "leakhunt-mark $SVC_PID loaded failed"
get /stats "$DIR/stats-loaded.json" || die "GET /stats failed"

# ---------------------------------------------------------------------------
step "Stop the service; the recorder finishes the trace"
show "$SBIN/loadgen --port $PORT --post /quit"
send --post /quit >/dev/null || die "POST /quit failed"
for _ in $(seq 200); do kill -0 "$REC_PID" 2>/dev/null || break; sleep 0.1; done
kill -0 "$REC_PID" 2>/dev/null && die "the service and the recorder were still running 20 s after /quit"
wait "$REC_PID"
rc=$?
REC_PID=
[ "$rc" -eq 0 ] || die "leakhunt-record exited with status $rc (the service's exit status)"
[ -s "$TRACE" ] || die "no trace in $TRACE"
say "trace: $TRACE ($(du -h "$TRACE" | cut -f1))"

# ---------------------------------------------------------------------------
step "What grew between the marks, by source line"
show "$BIN/leakhunt-replay $TRACE --diff mark:warm mark:loaded --by line --top 5"
echo
run "$DIR/diff.txt" "$BIN/leakhunt-replay" "$TRACE" --diff mark:warm mark:loaded --by line --top 5 ||
	die "leakhunt-replay --diff failed"
cat "$DIR/diff.txt"

# The service's own account of its table, to check the top line against.
stat() { python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))[sys.argv[2]])' "$1" "$2"; }
entries=$(( $(stat "$DIR/stats-loaded.json" entries) - $(stat "$DIR/stats-warm.json" entries) ))
entry_bytes=$(( $(stat "$DIR/stats-loaded.json" entry_bytes) - $(stat "$DIR/stats-warm.json" entry_bytes) ))
key_bytes=$(( $(stat "$DIR/stats-loaded.json" key_bytes) - $(stat "$DIR/stats-warm.json" key_bytes) ))
sample_bytes=$(( $(stat "$DIR/stats-loaded.json" sample_bytes) - $(stat "$DIR/stats-warm.json" sample_bytes) ))
leak_line=$(grep -n 'LEAK:' samples/metrics-service/metrics.c | head -n 1 | cut -d: -f1)

cat <<EOF

   What you are looking at: every allocation still live at "loaded" minus every
   allocation live at "warm", grouped by the source line that made it. Memory a
   request uses and frees again cancels out; what is left grew under load.

   The top line is metrics.c:$leak_line, in metrics_entry(): with_metrics() keys its
   table by the full request ("price?item=apple&qty=17"), so every request with
   new arguments adds an entry that nothing ever removes. Its key string and
   sample array (the next lines) grow with it.

   The service's own /stats agrees: during the load its table gained $entries entries,
   that is $entry_bytes bytes of entries, $key_bytes bytes of key strings and $sample_bytes bytes of
   sample arrays (saved in $DIR/stats-warm.json and $DIR/stats-loaded.json).
EOF

# ---------------------------------------------------------------------------
step "Next commands to try"
help=$("$BIN/leakhunt-replay" --help 2>&1)
if grep -q -- '--flamegraph' <<<"$help"; then
	"$BIN/leakhunt-replay" "$TRACE" --diff mark:warm mark:loaded --flamegraph "$DIR/heap.svg" >/dev/null ||
		die "leakhunt-replay --flamegraph failed"
	say "flame graph of what grew:   $DIR/heap.svg (open it in a browser)"
fi
if grep -q -- '--html' <<<"$help"; then
	"$BIN/leakhunt-replay" "$TRACE" --html "$DIR/report.html" >/dev/null ||
		die "leakhunt-replay --html failed"
	say "report with heap over time: $DIR/report.html"
fi
if ! grep -q -- '--flamegraph' <<<"$help" || ! grep -q -- '--html' <<<"$help"; then
	say "(the differential flame graph, $DIR/heap.svg, and the HTML report, $DIR/report.html,"
	say " come in a later version of leakhunt-replay)"
fi
say ""
say "$BIN/leakhunt-replay $TRACE --diff mark:warm mark:loaded --by stack     # the full call paths"
say "$BIN/leakhunt-replay $TRACE --diff mark:warm mark:loaded --by function"
say "$BIN/leakhunt-replay $TRACE --leaks      # still allocated when the service exited"
say "$BIN/leakhunt-replay $TRACE --stats      # allocations, frees, peak, markers"
say ""
say "The service's source: samples/metrics-service/ (the leak is in metrics.c)."
say "To hunt your own leak, follow \"Hunt your own leak\" in README.md."
