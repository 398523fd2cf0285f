#!/bin/bash
# record_crosscheck: leakhunt's allocation count against valgrind's "total
# heap usage" and heaptrack's "calls to allocation functions" on the same
# programs (both are installed by make deps).
. "$(dirname "$0")/../lib.sh"
count_vg() { valgrind "$@" 2>&1 >/dev/null | grep -o 'total heap usage: [0-9,]* allocs' | grep -o '[0-9][0-9,]*' | head -1 | tr -d ,; }
count_ht() { rm -f "$TMP"/ht.*; heaptrack -o "$TMP/ht" "$@" >/dev/null 2>&1
             heaptrack_print "$TMP"/ht.*zst 2>/dev/null | sed -n 's/^calls to allocation functions: \([0-9]*\).*/\1/p'; }
count_lh() { rm -f "$TMP/lh.lht"; "$BIN/leakhunt-record" -q -o "$TMP/lh.lht" -- "$@" >/dev/null 2>&1
             "$BIN/leakhunt-replay" "$TMP/lh.lht" --stats --format json >"$TMP/s.json"; json_get "$TMP/s.json" "j['allocations']"; }

lh=$(count_lh "$TBIN/progs/known_allocs")
is "known_allocs: valgrind agrees" "$(count_vg "$TBIN/progs/known_allocs")" "$lh"
is "known_allocs: heaptrack agrees" "$(count_ht "$TBIN/progs/known_allocs")" "$lh"

# CPython with PYTHONMALLOC=malloc: tens of thousands of allocations.
# valgrind also sees the handful libc makes while loading, before any
# preloaded library's constructor runs (heaptrack and leakhunt start there);
# heaptrack additionally misses a few made before its own initialisation.
PY=/usr/bin/python3   # the Debian interpreter itself, not a wrapper script
export PYTHONMALLOC=malloc
script='x = [str(i) * 3 for i in range(20000)]; d = {i: x[i] for i in range(0, 20000, 7)}'
lh=$(count_lh "$PY" -c "$script")
vg=$(count_vg "$PY" -c "$script")
ht=$(count_ht "$PY" -c "$script")
echo "# python: leakhunt $lh, valgrind $vg, heaptrack $ht"
is "python: over 40000 allocations recorded" "$(( lh > 40000 ))" 1
is "python: valgrind counts at most 16 more (libc's start-up before any preload)" "$(( vg >= lh && vg - lh <= 16 ))" 1
is "python: heaptrack within 16 (its own start-up window)" "$(( lh - ht <= 16 && ht - lh <= 16 ))" 1
done_testing
