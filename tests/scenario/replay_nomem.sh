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

# A suppression file whose one line (80 MB) cannot be read under a 100 MB
# limit: getline stopping for want of memory is out of memory, not the
# end of the file (which loaded the file in part and went on).
{ printf 'leak:'; head -c 80000000 /dev/zero | tr '\0' x; printf '\n'; } >"$TMP/big.supp"
(ulimit -v 100000; exec "$BIN/leakhunt-replay" "$T" --no-checkpoints --suppressions "$TMP/big.supp" --stats) \
	>"$TMP/o" 2>"$TMP/e"
is "--suppressions with an 80 MB line: exit status 4" "$?" 4
is "--suppressions with an 80 MB line: stderr is the one line" "$(cat "$TMP/e")" "leakhunt: out of memory"
is "--suppressions with an 80 MB line: no half answer on stdout" "$(wc -c <"$TMP/o")" 0
rm -f "$TMP/big.supp"
done_testing
