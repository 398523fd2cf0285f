# tests/lib.sh - sourced by scenario tests. Prints TAP lines like tap.h.
# Usage: . "$(dirname "$0")/lib.sh"; ok_if "name" test-command...; done_testing
set -u
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
BIN=${LH_BIN:-$ROOT/build/bin}
TBIN=${LH_TBIN:-$ROOT/build/tests}
TMP=$(mktemp -d "${TMPDIR:-/tmp}/leakhunt-test.XXXXXX")
trap 'rm -rf "$TMP"' EXIT
_n=0; _failed=0

pass() { _n=$((_n+1)); echo "ok $_n - $1"; }
fail() { _n=$((_n+1)); _failed=$((_failed+1)); echo "not ok $_n - $1"; shift; [ $# -gt 0 ] && echo "#   $*"; return 0; }
# ok_if NAME CMD...: passes when CMD succeeds
ok_if() { local name=$1; shift; if "$@"; then pass "$name"; else fail "$name" "command failed: $*"; fi; }
# is NAME GOT WANT: exact string comparison
is() { if [ "$2" = "$3" ]; then pass "$1"; else fail "$1" "got '$2', want '$3'"; fi; }
# json_get FILE EXPR: python expression on the parsed JSON object 'j'
json_get() { python3 -c 'import json,sys; j=json.load(open(sys.argv[1])); print(eval(sys.argv[2]))' "$1" "$2"; }
# in_encoding_1 TRACE: its event batches are format 1.3's. Writing it again
# in encoding 1 (bench/lht-recode) keeps its size to the footer's few
# bytes; an encoding-2 trace grows by half or more.
RECODE=$ROOT/build/bench/lht-recode
in_encoding_1() {
    local a b
    a=$(stat -c %s "$1")
    b=$("$RECODE" --encoding 1 --columns "$1" | sed -n 's/.*file \([0-9]*\) B.*/\1/p')
    [ -n "$b" ] && [ "$b" -le $((a + 64)) ] && [ "$b" -ge $((a - 64)) ]
}
done_testing() { echo "1..$_n"; [ "$_failed" -eq 0 ]; }
