#!/bin/bash
# bench/pyalloc.sh - recording CPython with its allocator hooked (the
# default, recorder/pyalloc.c) against recording it with PYTHONMALLOC=malloc
# (--python-allocator malloc, the old default), on bench/alloc_heavy.py:
# the commands alternate, ROUNDS each (default 7), and the medians of wall
# time, of the events recorded and of the trace bytes are printed, with the
# native runs (pymalloc, and malloc) for the slowdowns. Not part of make
# check: run it on a quiet machine.
#   bench/pyalloc.sh [PYTHON] [N]
set -u
cd "$(dirname "$0")/.."
PY=${1:-/usr/bin/python3}
N=${2:-60000}
ROUNDS=${ROUNDS:-7}
REC=build/bin/leakhunt-record
REPLAY=build/bin/leakhunt-replay
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT
export PYTHONHASHSEED=0

# one KIND: wall seconds, the program's CPU seconds (user + system, the
# collector's own taken away: on a busy machine wall time is noise), then
# events and trace bytes when recorded
one() {
	local s e out cpu col f=
	case $1 in hook) f=$T/h.lht ;; malloc) f=$T/m.lht ;; esac
	s=$(date +%s.%N)
	case $1 in
	native) out=$( { /usr/bin/time -f "TIME %U %S" "$PY" bench/alloc_heavy.py "$N" >/dev/null; } 2>&1) ;;
	native-malloc) out=$( { PYTHONMALLOC=malloc /usr/bin/time -f "TIME %U %S" "$PY" bench/alloc_heavy.py "$N" >/dev/null; } 2>&1) ;;
	hook) out=$( { LEAKHUNT_COLLECTOR_CPU=1 /usr/bin/time -f "TIME %U %S" "$REC" -q -o "$f" "$PY" bench/alloc_heavy.py "$N" >/dev/null; } 2>&1) ;;
	malloc) out=$( { LEAKHUNT_COLLECTOR_CPU=1 /usr/bin/time -f "TIME %U %S" "$REC" -q --python-allocator malloc -o "$f" "$PY" bench/alloc_heavy.py "$N" >/dev/null; } 2>&1) ;;
	esac
	e=$(date +%s.%N)
	cpu=$(echo "$out" | awk '/^TIME/ {print $2 + $3}')
	col=$(echo "$out" | awk '/collector cpu/ {print $4 + $7} END {if (!NR) print 0}' | tail -1)
	if [ -n "$f" ]; then
		echo "$(echo "$e - $s" | bc) $(echo "$cpu - ${col:-0}" | bc) $("$REPLAY" "$f" --stats --format json --no-checkpoints |
			python3 -c 'import json,sys; j=json.load(sys.stdin); print(j["events"], j["file_bytes"])')"
	else
		echo "$(echo "$e - $s" | bc) $cpu 0 0"
	fi
}

kinds="native native-malloc hook malloc"
for k in $kinds; do : >"$T/$k"; done
for r in $(seq "$ROUNDS"); do
	for k in $kinds; do one "$k" >>"$T/$k"; done
done
median() { sort -n | awk '{v[NR]=$1} END {print (NR % 2) ? v[(NR+1)/2] : (v[NR/2] + v[NR/2+1]) / 2}'; }
echo "CPython: $("$PY" -c 'import sys; print(sys.version.split()[0])') ($PY), alloc_heavy.py $N, $ROUNDS alternating rounds, medians"
nat=$(cut -d' ' -f1 "$T/native" | median); natc=$(cut -d' ' -f2 "$T/native" | median)
printf '%-38s %8s %8s %8s %8s %10s %12s\n' run "wall s" slowdown "cpu s" slowdown events "trace bytes"
for k in native native-malloc malloc hook; do
	w=$(cut -d' ' -f1 "$T/$k" | median); c=$(cut -d' ' -f2 "$T/$k" | median)
	ev=$(cut -d' ' -f3 "$T/$k" | median); by=$(cut -d' ' -f4 "$T/$k" | median)
	case $k in
	native) label="native (pymalloc)"; ev=-; by=- ;;
	native-malloc) label="native, PYTHONMALLOC=malloc"; ev=-; by=- ;;
	malloc) label="recorded, --python-allocator malloc" ;;
	hook) label="recorded, allocator hooked (default)" ;;
	esac
	printf '%-38s %8.3f %7.2fx %8.3f %7.2fx %10s %12s\n' "$label" "$w" "$(echo "$w / $nat" | bc -l)" "$c" \
		"$(echo "$c / $natc" | bc -l)" "$ev" "$by"
done
