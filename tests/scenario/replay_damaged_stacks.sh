#!/bin/bash
# replay_damaged_stacks: a stack table that breaks FORMAT.md 4.2 is damage,
# as a torn chunk is: leakhunt-replay warns, exits 1 and answers from what
# came before the table; leakhunt-dump says where. One trace per kind of bad
# table, each complete (footer and all), from the fuzz regression corpus:
# 10 allocations of 100 bytes, a marker, the bad table at offset 212, then
# 6 more allocations, the footer.
. "$(dirname "$0")/../lib.sh"
C=$ROOT/tests/fuzz/regress/replay
R() { "$BIN/leakhunt-replay" "$@" --no-checkpoints; }

# name, offset of the bad table, events before it
while read -r name off events; do
	f=$C/$name.lht
	R "$f" --stats --format json >"$TMP/s.json" 2>"$TMP/s.err"
	is "$name: exit status 1" "$?" 1
	case $(cat "$TMP/s.err") in
	"leakhunt-replay: warning: $f is damaged (stack table damaged at offset $off"*"); everything before it was used")
		is "$name: stderr: one warning, naming the table and its offset" "$(wc -l <"$TMP/s.err")" 1 ;;
	*) fail "$name: stderr warns of the damaged table" "$(cat "$TMP/s.err")" ;;
	esac
	is "$name: --stats JSON: damaged there, not complete, the events before it" \
		"$(json_get "$TMP/s.json" "(j['damaged']['offset'], j['complete'], j['events'], j['allocations'])")" \
		"($off, False, $events, $events)"
	R "$f" --stats 2>/dev/null | head -1 >"$TMP/s.txt"
	ok_if "$name: --stats text says damaged" grep -q "^trace .*(damaged, " "$TMP/s.txt"
	R "$f" --leaks --by stack --format json >"$TMP/l.json" 2>/dev/null
	is "$name: --leaks: the allocations before the table" "$(json_get "$TMP/l.json" "j['total_bytes']")" $((events * 100))
	"$BIN/leakhunt-dump" --verify "$f" >"$TMP/d.out" 2>&1
	is "$name: leakhunt-dump --verify: exit status 1" "$?" 1
	is "$name: leakhunt-dump --verify names the place" "$(cat "$TMP/d.out")" \
		"$f: damaged at offset $off (stack table damaged); $events events readable before it"
done <<'EOF'
stacks-parent-cycle 212 10
stacks-parent-forward 212 10
stacks-parent-self 212 10
stacks-lengths-differ 212 10
stacks-first-id-gap 212 10
stacks-first-id-repeat 212 10
stacks-first-id-missing 212 10
stacks-first-id-zero 74 0
EOF

# The message says what does not continue.
R "$C/stacks-first-id-gap.lht" --leaks >/dev/null 2>"$TMP/gap.err"
ok_if "a gap in the ids: the message gives both ids" grep -q "its first id is 6, not 4" "$TMP/gap.err"
done_testing
