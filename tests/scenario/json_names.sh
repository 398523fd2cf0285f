#!/bin/bash
# json_names: every JSON leakhunt writes is UTF-8 JSON that python's json
# parses, whatever bytes the names in it hold (a quote, a backslash, a
# newline, a byte 0xff), and gives each name back exactly, with U+FFFD for
# the byte that is not UTF-8: the views' and --stats' JSON of
# leakhunt-replay, its speedscope export, the HTML report's data and
# leakhunt-dump --json.
. "$(dirname "$0")/../lib.sh"
R() { "$BIN/leakhunt-replay" "$@"; }

# The program runs from a directory named with the hostile bytes (no
# newline: /proc/PID/maps would spell it \012), so exe and module paths
# hold them too; the traces' own names hold all four.
D=$TMP/$'bin"q\\b\xffx'
mkdir -p "$D" && cp "$TBIN/progs/known_allocs" "$D/prog"
T=$TMP/$'one"q\\b\nn\xffx.lht'
T2=$TMP/$'two\xff"\n.lht'
"$BIN/leakhunt-record" -q -o "$T" -- "$D/prog" >/dev/null 2>&1
"$BIN/leakhunt-record" -q -o "$T2" -- "$D/prog" >/dev/null 2>&1
ok_if "the traces were recorded" test -s "$T" -a -s "$T2"

# jcheck NAME FILE EXPR ARG...: FILE decodes as UTF-8, parses as JSON (j),
# and the python expression EXPR holds; u(i) is ARG i as JSON must give it
# back (each byte that is not UTF-8 as U+FFFD).
jcheck() {
	local name=$1 file=$2 expr=$3; shift 3
	local why
	if why=$(python3 - "$file" "$expr" "$@" 2>&1 <<'EOF'
import json, os, sys
j = json.loads(open(sys.argv[1], 'rb').read().decode('utf-8'))
u = lambda i: os.fsencode(sys.argv[3 + i]).decode('utf-8', 'replace')
if not eval(sys.argv[2]):
    sys.exit('does not hold: ' + sys.argv[2])
EOF
	); then pass "$name"; else fail "$name" "$(echo "$why" | tail -1)"; fi
}

for view in "--at end" "--leaks" "--peak" "--growth" "--temporary" "--at mark:before"; do
	R "$T" $view --format json >"$TMP/v.json" 2>/dev/null
	jcheck "$view --format json: the trace's name comes back" "$TMP/v.json" "j['trace'] == u(0)" "$T"
done
R "$T" --at end --format json --top 0 >"$TMP/end.json" 2>/dev/null
jcheck "--at end: the rows are all there" "$TMP/end.json" "sum(r['bytes'] for r in j['rows']) == 9352"
R "$T" --leaks --by module --format json >"$TMP/mod.json" 2>/dev/null
jcheck "--by module: the program's path comes back" "$TMP/mod.json" \
	"[(r['site'], r['module']) for r in j['rows']] == [('prog', u(0))]" "$D/prog"
R "$T" --diff mark:before mark:after --format json >"$TMP/d1.json" 2>/dev/null
jcheck "--diff in one trace: both names" "$TMP/d1.json" "(j['trace'], j['trace_b']) == (u(0), u(0))" "$T"
R "$T" "$T2" --diff end end --format json >"$TMP/d2.json" 2>/dev/null
jcheck "--diff of two traces: each name" "$TMP/d2.json" "(j['trace'], j['trace_b']) == (u(0), u(1))" "$T" "$T2"
R "$T" --stats --format json >"$TMP/st.json" 2>/dev/null
jcheck "--stats: the trace and the program" "$TMP/st.json" \
	"(j['trace'], j['exe'], j['damaged']) == (u(0), u(1), None)" "$T" "$D/prog"
R "$T" "$T2" --stats --format json >"$TMP/st2.json" 2>/dev/null
jcheck "--stats of two traces: each name" "$TMP/st2.json" \
	"[t['trace'] for t in j['traces']] == [u(0), u(1)] and j['combined']['leaked_bytes'] == 2 * 9352" "$T" "$T2"

# Damage messages name the file too: a torn copy.
TT=$TMP/$'torn"\xff.lht'
head -c $(( $(stat -c %s "$T") - 30 )) "$T" >"$TT"
R "$TT" --stats --format json >"$TMP/torn.json" 2>/dev/null
jcheck "--stats of a torn trace: the name and the damage" "$TMP/torn.json" \
	"j['trace'] == u(0) and j['damaged']['offset'] > 0 and not j['complete']" "$TT"

R "$T" --leaks --speedscope "$TMP/s.json" >/dev/null 2>&1
jcheck "speedscope: parses, its profile named after the trace" "$TMP/s.json" \
	"j['profiles'][0]['name'].startswith(u(0) + ':') and j['name'] == j['profiles'][0]['name']" "$T"
R "$T" --leaks --html "$TMP/r.html" >/dev/null 2>&1
python3 - "$TMP/r.html" "$TMP/html.json" <<'EOF'
import re, sys
h = open(sys.argv[1], 'rb').read()
m = re.search(rb'<script type="application/json" id="lh-data">(.*?)</script>', h, re.S)
open(sys.argv[2], 'wb').write(m.group(1) if m else b'')
EOF
jcheck "HTML report: its data parses, titled with the trace's name" "$TMP/html.json" \
	"j['title'] == u(0) and [m[1] for m in j['markers']] == ['start', 'before', 'after']" "$T"
ok_if "HTML report: the whole page is UTF-8" python3 -c 'import sys; open(sys.argv[1], "rb").read().decode("utf-8")' "$TMP/r.html"

"$BIN/leakhunt-dump" --json "$T" >"$TMP/dump.json"
jcheck "leakhunt-dump --json: the file and the program" "$TMP/dump.json" \
	"(j['file'], j['exe'], j['damaged']) == (u(0), u(1), False)" "$T" "$D/prog"
"$BIN/leakhunt-dump" --json "$TT" >"$TMP/dumpt.json" 2>/dev/null
jcheck "leakhunt-dump --json of a torn trace: parses" "$TMP/dumpt.json" "j['file'] == u(0)" "$TT"
done_testing
