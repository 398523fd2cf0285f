#!/bin/bash
# tests/scenario/sample_metrics.sh - samples/metrics-service and its load
# generator: the service starts, answers, accounts for its metrics table
# exactly (checked against the keys the load generator is known to send),
# and shuts down cleanly; then under leakhunt-record, whose --diff between
# two markers must name the /* LEAK: */ line with exactly the growth the
# service's /stats reports.
. "$(dirname "$0")/../lib.sh"

SBIN=$ROOT/build/samples
SVC=$SBIN/metrics-service
LOADGEN=$SBIN/loadgen
SRC=$ROOT/samples/metrics-service

if [ ! -x "$SVC" ] || [ ! -x "$LOADGEN" ]; then
	fail "samples are built" "$SVC or $LOADGEN is missing: run 'make samples'"
	done_testing; exit
fi

SVC_PID=
REC_PID=
stop_service() { [ -n "$SVC_PID" ] && kill -KILL "$SVC_PID" 2>/dev/null; SVC_PID=; }
trap 'stop_service; [ -n "$REC_PID" ] && kill -KILL "$REC_PID" 2>/dev/null; rm -rf "$TMP"' EXIT

# start_service DIR: runs the service natively on an ephemeral port.
start_service() {
	mkdir -p "$1"
	"$SVC" --port 0 --port-file "$1/port" --pid-file "$1/pid" >"$1/out" 2>"$1/err" &
	SVC_PID=$!
	for _ in $(seq 50); do [ -s "$1/port" ] && break; sleep 0.1; done
	PORT=$(cat "$1/port" 2>/dev/null)
}
lg() { timeout 20 "$LOADGEN" --port "$PORT" "$@"; }
lg_quiet() { lg "$@" >/dev/null; }
# get_stats FILE: asks /stats into FILE and keeps its numbers in ST, as
# python3 starts slowly; stat FILE KEY: one number from it.
declare -A ST
get_stats() {
	lg --get /stats >"$1"
	eval "$(python3 -c 'import json,sys; j=json.load(open(sys.argv[1]))
print(" ".join("ST[%s/%s]=%s" % (sys.argv[1], k, v) for k, v in j.items()))' "$1")"
}
stat() { echo "${ST[$1/$2]}"; }

# expected FIRST COUNT...: what the table must hold after load generator runs
# of COUNT requests starting at FIRST (the keys loadgen.c documents), as
# "entries samples key_bytes sample_bytes".
expected() {
	python3 - "$@" <<'EOF'
import sys
fruits = ["apple", "banana", "cherry", "date", "elderberry", "fig", "grape", "kiwi",
          "lemon", "mango", "nectarine", "orange", "papaya", "quince", "raspberry", "tangerine"]
count = {}
args = list(map(int, sys.argv[1:]))
for first, n in zip(args[0::2], args[1::2]):
    for i in range(first, first + n):
        if i % 4 == 3:
            key = "price?item=%s&qty=%d" % (fruits[(i // 4) % 4], (i // 4) % 5 + 1)
        else:
            key = "price?item=%s&qty=%d" % (fruits[i % 16], i // 16 + 1)
        count[key] = count.get(key, 0) + 1
def cap(n):
    c = 4
    while c < n:
        c *= 2
    return c
print(len(count), sum(count.values()),
      sum(len(k) + 1 for k in count), sum(cap(n) * 8 for n in count.values()))
EOF
}

# --- natively: starts, serves, accounts exactly, quits with 0 ---------------
D=$TMP/native
start_service "$D"
ok_if "service writes its port file" test -n "$PORT"
is "service writes its pid file" "$(cat "$D/pid" 2>/dev/null)" "$SVC_PID"
is "service says where it listens" "$(head -n 1 "$D/out")" "listening on 127.0.0.1:$PORT (pid $SVC_PID)"
is "GET /healthz" "$(lg --get /healthz)" "ok"
is "GET /api/price computes a price" "$(lg --get '/api/price?item=mango&qty=12')" \
	'{"item":"mango","qty":12,"unit_price":1.20,"total":14.28}'
ok_if "unknown item is not a 200" bash -c "! timeout 20 '$LOADGEN' --port $PORT --get '/api/price?item=rock&qty=1' >/dev/null"
ok_if "bad qty is not a 200" bash -c "! timeout 20 '$LOADGEN' --port $PORT --get '/api/price?item=fig&qty=0' >/dev/null"
ok_if "unknown path is not a 200" bash -c "! timeout 20 '$LOADGEN' --port $PORT --get '/nope' >/dev/null"
get_stats "$D/s0.json"
# Three API requests so far, three distinct keys.
is "each API request, even a failed one, adds a key" "$(stat "$D/s0.json" entries) $(stat "$D/s0.json" samples)" "3 3"
e0=$(stat "$D/s0.json" entry_bytes)

ok_if "warm-up: 200 requests, all answered" lg_quiet --requests 200
get_stats "$D/s1.json"
ok_if "load: 1000 more requests, all answered" lg_quiet --requests 1000 --first 200
get_stats "$D/s2.json"
entry_size=$(( e0 / 3 ))
ok_if "an entry has a plausible size ($entry_size bytes)" test "$entry_size" -ge 40 -a "$entry_size" -le 256
for f in s1 s2; do
	ok_if "$f: table_bytes = entry + key + sample bytes" test "$(stat "$D/$f.json" table_bytes)" -eq \
		$(( $(stat "$D/$f.json" entry_bytes) + $(stat "$D/$f.json" key_bytes) + $(stat "$D/$f.json" sample_bytes) ))
done
# What the load added, computed from the keys loadgen sends (differences
# between s1 and s2, so the three requests above do not count).
read -r n1 c1 k1 s1b <<<"$(expected 0 200)"
read -r n2 c2 k2 s2b <<<"$(expected 0 200 200 1000)"
is "load added the entries loadgen's keys predict" \
	$(( $(stat "$D/s2.json" entries) - $(stat "$D/s1.json" entries) )) $(( n2 - n1 ))
is "load added one sample per request" $(( $(stat "$D/s2.json" samples) - $(stat "$D/s1.json" samples) )) 1000
is "entry bytes grew by entries x entry size" \
	$(( $(stat "$D/s2.json" entry_bytes) - $(stat "$D/s1.json" entry_bytes) )) $(( (n2 - n1) * entry_size ))
is "key bytes grew by the new keys' lengths with their NULs" \
	$(( $(stat "$D/s2.json" key_bytes) - $(stat "$D/s1.json" key_bytes) )) $(( k2 - k1 ))
is "sample bytes grew as the arrays' capacities predict" \
	$(( $(stat "$D/s2.json" sample_bytes) - $(stat "$D/s1.json" sample_bytes) )) $(( s2b - s1b ))
is "POST /quit answers" "$(lg --post /quit)" "bye"
wait "$SVC_PID"
is "service exits 0 after /quit" "$?" 0
SVC_PID=
ok_if "service reports what it served on exit" grep -q "metrics-service: served 1209 requests" "$D/err"

D=$TMP/term
start_service "$D"
lg --requests 10 >/dev/null
kill -TERM "$SVC_PID"
wait "$SVC_PID"
is "service exits 0 on SIGTERM" "$?" 0
SVC_PID=

# --- under leakhunt-record: the diff between two markers names the leak ----
# The same load as above, marked "warm" after the warm-up and "loaded" after
# the load; /stats is asked just before each marker (it does not touch the
# table). The service serves one connection at a time and frees its request
# buffer when the client has gone, which may be just before or just after a
# marker: so server.c rows may come and go, and the checks below are exact
# for metrics.c's rows (the table) and for the top row.
D=$TMP/rec
mkdir -p "$D"
(cd "$D" && exec "$BIN/leakhunt-record" -q -o "$D/m.lht" -- \
	"$SVC" --port 0 --port-file "$D/port" --pid-file "$D/pid" >"$D/out" 2>"$D/err") &
REC_PID=$!
for _ in $(seq 50); do [ -s "$D/port" ] && [ -s "$D/pid" ] && break; sleep 0.1; done
PORT=$(cat "$D/port" 2>/dev/null)
SPID=$(cat "$D/pid" 2>/dev/null)
ok_if "recorded service starts" test -n "$PORT" -a -n "$SPID"
ok_if "recorded warm-up: 200 requests" lg_quiet --requests 200
get_stats "$D/s1.json"
ok_if "leakhunt-mark warm" "$BIN/leakhunt-mark" "$SPID" warm
ok_if "recorded load: 1000 more requests" lg_quiet --requests 1000 --first 200
get_stats "$D/s2.json"
ok_if "leakhunt-mark loaded" "$BIN/leakhunt-mark" "$SPID" loaded
is "recorded POST /quit answers" "$(lg --post /quit)" "bye"
wait "$REC_PID"
is "leakhunt-record exits with the service's 0" "$?" 0
REC_PID=
"$BIN/leakhunt-dump" --verify "$D/m.lht" >/dev/null
is "trace verifies" "$?" 0

d() { echo $(( $(stat "$D/s2.json" "$1") - $(stat "$D/s1.json" "$1") )); }
line_of() { grep -n "$1" "$SRC/metrics.c" | head -1 | cut -d: -f1; }
LEAK_LINE=$(line_of '/\* LEAK:')
KEY_LINE=$(line_of 'm->key = malloc')
SAMPLES_LINE=$(line_of 'realloc(m->samples')
ok_if "metrics.c has its LEAK, key and samples lines" test -n "$LEAK_LINE" -a -n "$KEY_LINE" -a -n "$SAMPLES_LINE"

"$BIN/leakhunt-replay" "$D/m.lht" --diff mark:warm mark:loaded --by line --format json >"$D/diff.json"
is "diff warm->loaded by line: the top row is metrics.c's LEAK line, grown by /stats' entry bytes and entries" \
	"$(json_get "$D/diff.json" "[(r['function'], r['file'].endswith('samples/metrics-service/metrics.c'), r['line'], r['bytes_delta'], r['count_delta']) for r in j['rows'][:1]]")" \
	"[('metrics_entry', True, $LEAK_LINE, $(d entry_bytes), $(d entries))]"
is "the LEAK line's entries live at the warm marker are /stats' entries then" \
	"$(json_get "$D/diff.json" "(j['rows'][0]['bytes_before'], j['rows'][0]['count_before'])")" \
	"($(stat "$D/s1.json" entry_bytes), $(stat "$D/s1.json" entries))"
"$BIN/leakhunt-replay" "$D/m.lht" --diff mark:warm mark:loaded --by line --format json \
	--filter metrics.c --top 0 >"$D/table.json"
is "metrics.c's rows: entries, keys and sample arrays, exactly as /stats counts them" \
	"$(json_get "$D/table.json" "sorted((r['line'], r['bytes_delta'], r['count_delta']) for r in j['rows'])")" \
	"[$(printf '%s\n' "$LEAK_LINE $(d entry_bytes)" "$KEY_LINE $(d key_bytes)" "$SAMPLES_LINE $(d sample_bytes)" |
		sort -n | awk -v n="$(d entries)" '{ printf "%s(%s, %s, %s)", (NR > 1 ? ", " : ""), $1, $2, n }')]"
is "metrics.c's growth in all is /stats' table bytes" \
	"$(json_get "$D/table.json" "j['total_bytes']")" "$(d table_bytes)"
"$BIN/leakhunt-replay" "$D/m.lht" --diff mark:warm mark:loaded --by line >"$D/diff.txt"
ok_if "the text view's first row names metrics.c:$LEAK_LINE metrics_entry" \
	grep -q "^ *+[0-9.]* KiB *+$(d entries) .*samples/metrics-service/metrics.c:$LEAK_LINE metrics_entry\$" \
	<(sed -n 3p "$D/diff.txt")

done_testing
