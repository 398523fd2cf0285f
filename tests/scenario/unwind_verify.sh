#!/bin/bash
# tests/scenario/unwind_verify.sh - recorder/unwind.c's cached CFA rules
# give what libunwind's unw_backtrace gives, stack for stack: with
# LEAKHUNT_VERIFY_UNWIND=1 every capture unwinds both ways and each traced
# process ends with one line "unwind verify: pid P: C stacks compared, D
# differ, F fell back". Over the samples, churn, C++ exceptions through
# frames without frame pointers, dlopen/dlclose, threads and CPython (each
# Python stacks mode), D must be 0 and C not. With =2 the fast answer is
# spoiled on purpose, and the check must see it.
. "$(dirname "$0")/../lib.sh"
SBIN=$ROOT/build/samples
PY311=/usr/bin/python3   # not a pyenv shim: the interpreter itself
PYENV=${LH_PYENV:-/root/.pyenv/versions}

# counts ERRFILE: "compared differ fellback processes", summed over its lines.
counts() {
	awk '/unwind verify: pid/ { c += $6; d += $9; f += $11; p++ } END { printf "%d %d %d %d\n", c, d, f, p }' "$1"
}
# verified NAME CMD...: traced with verify mode on (leakhunt-record's
# options in OPTS), 0 differences, some compared; the counts stay in c d f p.
OPTS=()
verified() {
	local name=$1; shift
	local err=$TMP/$name.err
	(cd "$TMP" && LEAKHUNT_VERIFY_UNWIND=1 timeout 120 "$BIN/leakhunt-record" -q "${OPTS[@]}" -o "$TMP/$name.lht" -- "$@" \
		>"$TMP/$name.out" 2>"$err" </dev/null)
	local rc=$?
	read -r c d f p < <(counts "$err")
	echo "# $name: $c compared, $d differ, $f fell back ($p processes)"
	is "$name: recorded (exit 0)" "$rc" 0
	ok_if "$name: stacks compared ($c)" test "$c" -gt 0
	is "$name: no stack differs" "$d" 0
}

verified churn-1 "$ROOT/build/bench/churn" 1 200000
verified churn-2 "$ROOT/build/bench/churn" 2 100000
verified throw_unwind "$TBIN/progs/throw_unwind" 2000
verified dl_host "$TBIN/progs/dl_host" "$TBIN/progs/libdlalloc.so"
verified threads8 "$TBIN/progs/threads8"
verified forker "$TBIN/progs/forker"
verified phases "$TBIN/progs/phases"
verified dlloop "$TBIN/torture/dlloop" "$TBIN/torture/libttdl.so" 300
verified threads32 "$TBIN/torture/threads32"
# Allocations in a signal handler: __restore_rt's CIE is a signal frame
# ('S'), which unwind.c leaves to libunwind.
verified sigalrm "$TBIN/torture/sigalrm" hooks 1000
ok_if "sigalrm: signal frames fell back to libunwind ($f)" test "$f" -gt 0
verified bounded-cache "$SBIN/bounded-cache"
verified bursty-leak "$SBIN/bursty-leak"
verified cpp-leaks "$SBIN/cpp-leaks"
verified producer-consumer "$SBIN/producer-consumer"

# The service under load, then asked to quit.
(cd "$TMP" && LEAKHUNT_VERIFY_UNWIND=1 timeout 120 "$BIN/leakhunt-record" -q -o "$TMP/svc.lht" -- \
	"$SBIN/metrics-service" --port 0 --port-file "$TMP/port" >/dev/null 2>"$TMP/svc.err") &
rec=$!
for _ in $(seq 100); do [ -s "$TMP/port" ] && break; sleep 0.1; done
timeout 30 "$SBIN/loadgen" --port "$(cat "$TMP/port")" --requests 500 >/dev/null
timeout 10 "$SBIN/loadgen" --port "$(cat "$TMP/port")" --post /quit >/dev/null
wait $rec
read -r c d f p < <(counts "$TMP/svc.err")
echo "# metrics-service: $c compared, $d differ, $f fell back"
ok_if "metrics-service: stacks compared ($c)" test "$c" -gt 0
is "metrics-service: no stack differs" "$d" 0

# CPython: the interpreter's own frames, with and without Python stacks
# (inner unwinds a window of frames first, then maybe the rest).
for py in "$PY311" "$PYENV/3.12.1/bin/python3.12" "$PYENV/3.13.0/bin/python3.13"; do
	[ -x "$py" ] || { echo "# $py: not installed, skipped"; continue; }
	v=$(basename "$py")
	for mode in inner full off; do
		OPTS=(--python-stacks "$mode")
		verified "$v-$mode" "$py" "$ROOT/bench/alloc_heavy.py" 20000
	done
	OPTS=()
	verified "$v-py-cache" sh -c "printf 'serve 200\nquit\n' | '$py' '$ROOT/samples/py-cache/cache.py'"
done

# A spoiled fast answer must be seen: the zeros above mean something.
(cd "$TMP" && LEAKHUNT_VERIFY_UNWIND=2 "$BIN/leakhunt-record" -q -o "$TMP/broken.lht" -- \
	"$ROOT/build/bench/churn" 1 20000 >/dev/null 2>"$TMP/broken.err")
read -r c d f p < <(counts "$TMP/broken.err")
ok_if "spoiled answers are counted as differences ($d of $c)" test "$d" -gt 0 -a "$d" -eq "$c"
ok_if "and named" grep -q "unwind verify: stacks differ at frame" "$TMP/broken.err"

# Without the variable the recorder says nothing; a bad value is named.
(cd "$TMP" && "$BIN/leakhunt-record" -q -o "$TMP/quiet.lht" -- "$ROOT/build/bench/churn" 1 1000 >/dev/null 2>"$TMP/quiet.err")
is "no verify line without LEAKHUNT_VERIFY_UNWIND" "$(cat "$TMP/quiet.err")" ""
(cd "$TMP" && LEAKHUNT_VERIFY_UNWIND=3 "$BIN/leakhunt-record" -q -o "$TMP/bad.lht" -- "$ROOT/build/bench/churn" 1 1000 >/dev/null 2>"$TMP/bad.err")
ok_if "LEAKHUNT_VERIFY_UNWIND=3 is refused by name" grep -q "LEAKHUNT_VERIFY_UNWIND=3: expected a whole number from 0 to 2" "$TMP/bad.err"
done_testing
