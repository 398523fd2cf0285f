#!/bin/bash
# tool_contracts: what every tool promises alike. --version prints the
# tool's name, leakhunt's version and the trace format's (from lh_trace.h)
# and exits 0; --help prints the usage on stdout and exits 0. An export of
# leakhunt-replay written to stdout (FILE -) is all there is on stdout,
# byte for byte what it writes to a file; messages go to stderr.
. "$(dirname "$0")/../lib.sh"
H=$ROOT/format/lh_trace.h
version=$(sed -n 's/^#define LH_VERSION "\(.*\)"$/\1/p' "$H")
major=$(sed -n 's/^#define LH_FORMAT_VERSION_MAJOR \([0-9]*\)$/\1/p' "$H")
minor=$(sed -n 's/^#define LH_FORMAT_VERSION_MINOR \([0-9]*\)$/\1/p' "$H")
ok_if "lh_trace.h gives the versions" test -n "$version" -a -n "$major" -a -n "$minor"

for tool in leakhunt-record leakhunt-replay leakhunt-mark leakhunt-dump leakhunt-top; do
	"$BIN/$tool" --version >"$TMP/v.out" 2>"$TMP/v.err"
	is "$tool --version: exit status 0" "$?" 0
	is "$tool --version: name, version, trace format" "$(cat "$TMP/v.out")" \
		"$tool $version (trace format $major.$minor)"
	is "$tool --version: nothing on stderr" "$(cat "$TMP/v.err")" ""
	"$BIN/$tool" --help >"$TMP/h.out" 2>"$TMP/h.err"
	is "$tool --help: exit status 0" "$?" 0
	is "$tool --help: the usage, on stdout" "$(head -1 "$TMP/h.out" | cut -d' ' -f1-2)" "usage: $tool"
	is "$tool --help: nothing on stderr" "$(cat "$TMP/h.err")" ""
	ok_if "$tool --help: documents --version" grep -q -- "--version" "$TMP/h.out"
done

T=$TMP/k.lht
"$BIN/leakhunt-record" -q -o "$T" -- "$TBIN/progs/known_allocs" >/dev/null 2>&1
R() { "$BIN/leakhunt-replay" "$@"; }
# same_as_file NAME OPTION VIEW...: OPTION - prints what OPTION FILE writes.
same_as_file() {
	local name=$1 opt=$2; shift 2
	R "$@" "$opt" "$TMP/file.out" >"$TMP/file.stdout" 2>/dev/null
	R "$@" "$opt" - >"$TMP/stdout.out" 2>"$TMP/stdout.err"
	local rc=$?
	if test -s "$TMP/file.out" && cmp -s "$TMP/file.out" "$TMP/stdout.out"; then
		pass "$name: $opt - prints the export alone (exit $rc)"
	else
		fail "$name: $opt - prints the export alone" "stdout starts: $(head -c 120 "$TMP/stdout.out" | tr -d '\0')"
	fi
}
for opt in --folded --flamegraph --pprof --speedscope --html; do
	same_as_file "--leaks" "$opt" "$T" --leaks
	same_as_file "--diff, JSON asked" "$opt" "$T" --diff mark:before mark:after --format json
done
same_as_file "--stats" --html "$T" --stats
R "$T" --leaks --pprof - 2>/dev/null | gzip -t
ok_if "--pprof -: stdout is gzip" test "${PIPESTATUS[0]}${PIPESTATUS[1]}" = 00
R "$T" --leaks --speedscope - 2>/dev/null | python3 -c 'import json,sys; json.load(sys.stdin)'
ok_if "--speedscope -: stdout is one JSON document" test "${PIPESTATUS[1]}" = 0
ok_if "--flamegraph -: stdout is one SVG document" \
	sh -c "'$BIN/leakhunt-replay' '$T' --leaks --flamegraph - | python3 -c 'import xml.dom.minidom,sys; xml.dom.minidom.parse(sys.stdin)'"

# A damaged trace: the warning on stderr, the export alone on stdout, exit 1.
last_events=$("$BIN/leakhunt-dump" --chunks "$T" | awk '$2 == "events" {o = $1} END {print o}')
head -c $((last_events + 10)) "$T" >"$TMP/torn.lht"
for opt in --speedscope --pprof; do
	same_as_file "a torn trace" "$opt" "$TMP/torn.lht" --leaks
	is "a torn trace, $opt -: exit status 1" "$(R "$TMP/torn.lht" --leaks "$opt" - >/dev/null 2>&1; echo $?)" 1
	ok_if "a torn trace, $opt -: the warning is on stderr" grep -q "warning: .*torn.lht is damaged" "$TMP/stdout.err"
done

R "$T" --leaks --speedscope - --pprof - >"$TMP/two.out" 2>"$TMP/two.err"
is "two exports to stdout: exit status 2" "$?" 2
is "two exports to stdout: the message" "$(cat "$TMP/two.err")" \
	"leakhunt-replay: --pprof - and --speedscope -: only one export can go to stdout"
is "two exports to stdout: nothing on stdout" "$(wc -c <"$TMP/two.out")" 0
done_testing
