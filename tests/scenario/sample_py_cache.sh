#!/bin/bash
# tests/scenario/sample_py_cache.sh - samples/py-cache: a Python script
# (/usr/bin/python3, PYTHONMALLOC=malloc as leakhunt-record sets it) whose
# global dict caches every request's page. The test drives it over a pipe,
# one command at a time, and drops leakhunt markers while it waits between
# commands, so the markers fall exactly between phases.
. "$(dirname "$0")/../lib.sh"

PY=/usr/bin/python3
SCRIPT=$ROOT/samples/py-cache/cache.py
if [ ! -x "$PY" ]; then
	fail "/usr/bin/python3 is installed"; done_testing; exit
fi
line_of() { grep -n "$1" "$SCRIPT" | head -1 | cut -d: -f1; }
PAGE_LINE=$(line_of 'page = ("<div')

# --- natively ---------------------------------------------------------------
printf 'serve 100\nserve 100\nbogus\nquit\n' | PYTHONMALLOC=malloc "$PY" "$SCRIPT" >"$TMP/native.out"
is "runs and exits 0" "$?" 0
is "answers each command" "$(sed 1d "$TMP/native.out" | sed 's/+[0-9]* bytes/+B bytes/')" \
"served 100: cache 100 entries, +B bytes
served 100: cache 200 entries, +B bytes
unknown command: bogus"

# --- under leakhunt-record ----------------------------------------------------
T=$TMP/py.lht
coproc CACHE { cd "$TMP" && exec "$BIN/leakhunt-record" -q -o "$T" -- "$PY" "$SCRIPT" 2>"$TMP/rec.err"; }
REC_PID=$CACHE_PID
trap 'kill -KILL "$REC_PID" 2>/dev/null; rm -rf "$TMP"' EXIT
# cmd LINE: sends one command and reads its answer into ANSWER (20 s at most).
cmd() { echo "$1" >&"${CACHE[1]}"; ANSWER=; read -r -t 20 -u "${CACHE[0]}" ANSWER; }
read -r -t 20 -u "${CACHE[0]}" first
PID=${first##* }
is "the script says its pid" "$first" "py-cache: pid $PID"
cmd "serve 500"
ok_if "leakhunt-mark before" "$BIN/leakhunt-mark" "$PID" before
cmd "serve 5000"
WINDOW=$ANSWER
ok_if "leakhunt-mark after" "$BIN/leakhunt-mark" "$PID" after
# More of the same, spread over many commands, then exit without tearing
# the interpreter down (os._exit), so the cache is live at the end.
for _ in $(seq 20); do cmd "serve 500"; done
is "the last answer" "$(echo "$ANSWER" | sed 's/+[0-9]* bytes/+B bytes/')" "served 500: cache 15500 entries, +B bytes"
echo abort >&"${CACHE[1]}"
wait "$REC_PID"
is "recorded run exits 0" "$?" 0

SCRIPT_BYTES=$(echo "$WINDOW" | sed -n 's/^served 5000: cache 5500 entries, +\([0-9]*\) bytes$/\1/p')
ok_if "the script accounts for what serve 5000 added ($SCRIPT_BYTES bytes)" test -n "$SCRIPT_BYTES"
"$BIN/leakhunt-replay" "$T" --diff mark:before mark:after --format json --top 0 >"$TMP/diff.json"
LH_BYTES=$(json_get "$TMP/diff.json" "j['total_bytes']")
# sys.getsizeof counts each object's size as the interpreter asks malloc for
# it; what it does not see is the interpreter's own churn between the two
# markers (reading a line, the loop's temporaries, stdout's buffer): a few
# KiB. So leakhunt's net growth must be within 3% of the script's own sum.
ok_if "net growth between the markers ($LH_BYTES bytes) is the script's $SCRIPT_BYTES within 3%" \
	awk -v a="$LH_BYTES" -v b="$SCRIPT_BYTES" 'BEGIN { d = a - b; if (d < 0) d = -d; exit !(d <= 0.03 * b) }'
is "the top growth is the page line in render (a Python frame)" \
	"$(json_get "$TMP/diff.json" "[(r['function'], r['file'].endswith('samples/py-cache/cache.py'), r['line']) for r in j['rows'][:1]]")" \
	"[('render', True, $PAGE_LINE)]"

"$BIN/leakhunt-replay" "$T" --growth --format json --top 1 >"$TMP/growth.json"
is "--growth: the page line first, and still growing" \
	"$(json_get "$TMP/growth.json" "[(r['function'], r['line'], r['still_growing']) for r in j['rows']]")" \
	"[('render', $PAGE_LINE, True)]"

done_testing
