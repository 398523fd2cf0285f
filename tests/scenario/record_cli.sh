#!/bin/bash
# record_cli: leakhunt-record's options and the recorder's LEAKHUNT_*
# variables. A bad option names itself and nothing runs (exit 2); a bad
# variable names itself once and the program runs untraced with its output
# and exit status unchanged; so does an output path that cannot be created.
. "$(dirname "$0")/../lib.sh"
P=$TBIN/progs/known_allocs
REC=$BIN/leakhunt-record

"$P" >"$TMP/native.out" 2>&1; native_rc=$?

# bad_option 'ARGS' 'MESSAGE': the message, exit 2, the program not run
bad_option() {
	local args=$1 want=$2 rc
	(cd "$TMP" && $REC -q $args -o "$TMP/opt.lht" "$P" >"$TMP/opt.out" 2>"$TMP/opt.err"); rc=$?
	is "$args: exit status 2" "$rc" 2
	is "$args: the message names it" "$(head -1 "$TMP/opt.err")" "leakhunt-record: $want"
	ok_if "$args: the program did not run" test ! -s "$TMP/opt.out" -a ! -e "$TMP/opt.lht"
}
bad_option "--unwind x" "--unwind 'x': expected libunwind or fp"
bad_option "--depth 0" "--depth '0': expected a whole number from 1 to 1024"
bad_option "--depth 12abc" "--depth '12abc': expected a whole number from 1 to 1024"
bad_option "--rss-interval -1" "--rss-interval '-1': expected a whole number from 0 to 3600000"
bad_option "--flush-interval 0" "--flush-interval '0': expected a whole number from 1 to 60000"
bad_option "--python-stacks native" "--python-stacks 'native': expected inner, full or off"
bad_option "--duration soon" "--duration 'soon': expected a time such as 60s, 500ms or 2m"
bad_option "-p 12x" "-p '12x': expected a process id"
bad_option "--no-such-option" "unknown or incomplete option '--no-such-option'"

$REC >/dev/null 2>"$TMP/none.err"
is "no program: exit status 2" "$?" 2
is "no program: says so" "$(head -1 "$TMP/none.err")" "leakhunt-record: no program to run"
$REC -q -o "$TMP/missing.lht" "$TMP/no-such-program" 2>"$TMP/missing.err"
is "a program that does not exist: exit status 127, as a shell's" "$?" 127
ok_if "a program that does not exist: named" grep -q "cannot run $TMP/no-such-program" "$TMP/missing.err"

# Every long option in the source is in --help.
$REC --help >"$TMP/help.out"; is "--help: exit status 0" "$?" 0
missing=""
for o in $(grep -o '{ "[a-z-]*", [a-z_]*_argument' "$ROOT/recorder/cli/leakhunt_record.c" | cut -d'"' -f2); do
	grep -q -- "--$o" "$TMP/help.out" || missing="$missing --$o"
done
is "--help: documents every long option" "$missing" ""

# bad_env VAR=VALUE 'MESSAGE': one message, the program runs as without us
bad_env() {
	local setting=$1 want=$2 rc
	(cd "$TMP" && env "$setting" $REC -q -o "$TMP/env.lht" "$P" >"$TMP/env.out" 2>"$TMP/env.err"); rc=$?
	is "$setting: exit status is the program's" "$rc" "$native_rc"
	ok_if "$setting: output unchanged" cmp -s "$TMP/native.out" "$TMP/env.out"
	is "$setting: named once" "$(grep -c "^leakhunt: ${setting}: $want; not recording" "$TMP/env.err")" 1
	ok_if "$setting: no trace" test ! -e "$TMP/env.lht"
}
bad_env LEAKHUNT_DEPTH=0 "expected a whole number from 1 to 1024"
bad_env LEAKHUNT_UNWIND=dwarf "expected libunwind or fp"
bad_env LEAKHUNT_PYTHON=yes "expected inner, full or off"
bad_env LEAKHUNT_MMAP=2 "expected a whole number from 0 to 1"
bad_env LEAKHUNT_RSS_INTERVAL=often "expected a whole number from 0 to 3600000"
bad_env LEAKHUNT_FLUSH_INTERVAL=0 "expected a whole number from 1 to 60000"

# an output path that cannot be created: said once, the program unchanged
(cd "$TMP" && $REC -o "$TMP/no/such/dir/t.lht" "$P" >"$TMP/uw.out" 2>"$TMP/uw.err"); rc=$?
is "unwritable output: exit status is the program's" "$rc" "$native_rc"
ok_if "unwritable output: output unchanged" cmp -s "$TMP/native.out" "$TMP/uw.out"
is "unwritable output: the recorder says why" \
	"$(grep -c "^leakhunt: cannot create $TMP/no/such/dir/t.lht: No such file or directory; not recording" "$TMP/uw.err")" 1

# the accepted spellings of the Python setting record a C program as usual
for v in inner full off 1 0; do
	(cd "$TMP" && LEAKHUNT_PYTHON=$v $REC -q -o "$TMP/py$v.lht" "$P" >/dev/null 2>"$TMP/py.err")
	ok_if "LEAKHUNT_PYTHON=$v is accepted" test -s "$TMP/py$v.lht" -a ! -s "$TMP/py.err"
done
done_testing
