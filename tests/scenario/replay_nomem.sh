#!/bin/bash
# replay_nomem: leakhunt-replay out of memory exits with status 4 and one
# line, "leakhunt: out of memory", and prints no half answer, whichever view
# was asked (the engine returns LH_E_NOMEM / ENOMEM, the program exits;
# tests/unit/test_view_nomem.c checks the engine side). The trace leaves
# 2,000,000 blocks live (tests/progs/many_blocks): its live set needs
# 256 MB, which a 300 MB address-space limit cannot give.
. "$(dirname "$0")/../lib.sh"
T=$TMP/many.lht
"$BIN/leakhunt-record" -q -o "$T" -- "$TBIN/progs/many_blocks" >/dev/null 2>&1
is "the trace is recorded" "$?" 0
"$BIN/leakhunt-replay" "$T" --no-checkpoints --stats --format json >"$TMP/s.json" 2>"$TMP/s.err"
is "without a limit: --stats answers (exit status 0)" "$?" 0
is "without a limit: the blocks are live at the end" "$(json_get "$TMP/s.json" "j['leaked_allocations'] >= 2000000")" True

while read -r args; do
	# shellcheck disable=SC2086
	(ulimit -v 300000; exec "$BIN/leakhunt-replay" "$T" --no-checkpoints $args) >"$TMP/o" 2>"$TMP/e"
	is "$args: exit status 4" "$?" 4
	is "$args: stderr is the one line" "$(cat "$TMP/e")" "leakhunt: out of memory"
	is "$args: no half answer on stdout" "$(wc -c <"$TMP/o")" 0
done <<'ARGS'
--stats
--leaks
--leaks --format json
--peak
--growth
--temporary
--diff start end
--histogram
--leaks --html /dev/null
ARGS
done_testing
