#!/bin/bash
# replay_cli: every moment form, every grouping, JSON that parses, exports,
# and clear errors for bad moments, groupings, options, files and damage.
. "$(dirname "$0")/../lib.sh"
T=$TMP/k.lht
"$BIN/leakhunt-record" -q -o "$T" -- "$TBIN/progs/known_allocs" >/dev/null 2>&1
R() { "$BIN/leakhunt-replay" "$@"; }
valid_json() { python3 -c 'import json,sys; json.load(open(sys.argv[1]))' "$1"; }

# Every moment form answers, and its JSON parses.
for at in 0 0s 0ms 0.0005 50% 100% start peak end mark:start mark:before mark:after '#0' '#100' '#2042'; do
    R "$T" --at "$at" --format json >"$TMP/at.json" 2>"$TMP/at.err"
    ok_if "--at $at answers with valid JSON" valid_json "$TMP/at.json"
done
is "--at start: empty heap" "$(R "$T" --at start --format json >"$TMP/s.json"; json_get "$TMP/s.json" "j['total_bytes']")" 0
is "--at end equals --leaks" "$(R "$T" --at end --by stack --top 0 | tail -n +2)" "$(R "$T" --leaks --by stack --top 0 | tail -n +2)"
is "--at '#2042' (every event) equals the leaks" \
   "$(R "$T" --at '#2042' --format json >"$TMP/e.json"; json_get "$TMP/e.json" "j['total_bytes']")" 9352
is "--at peak: the peak heap" \
   "$(R "$T" --at peak --format json >"$TMP/p.json"; R "$T" --stats --format json >"$TMP/st.json"; json_get "$TMP/p.json" "j['total_bytes']")" \
   "$(json_get "$TMP/st.json" "j['peak_bytes']")"
is "--peak equals --at peak" "$(R "$T" --peak --top 0 | tail -n +2)" "$(R "$T" --at peak --top 0 | tail -n +2)"

for by in stack function line module; do
    R "$T" --leaks --by "$by" --format json --top 0 >"$TMP/by.json"
    is "--by $by: rows add up to the leaked bytes" "$(json_get "$TMP/by.json" "sum(r['bytes'] for r in j['rows'])")" 9352
done
is "--by module: the program itself and libc's stdio buffer" \
   "$(R "$T" --leaks --by module --format json >"$TMP/m.json"; json_get "$TMP/m.json" "sorted(r['site'] for r in j['rows'])")" "['known_allocs']"
is "--top 1 shows one row" "$(R "$T" --leaks --format json --top 1 >"$TMP/t.json"; json_get "$TMP/t.json" "(len(j['rows']), j['rows_total'])")" "(1, 4)"
is "--min-bytes 1K hides the small rows" \
   "$(R "$T" --leaks --by function --format json --min-bytes 1K >"$TMP/mb.json"; json_get "$TMP/mb.json" "[r['function'] for r in j['rows']]")" \
   "['main', 'grow_between_marks']"
is "--filter keeps matching stacks" \
   "$(R "$T" --leaks --by function --format json --filter leak_ >"$TMP/f.json"; json_get "$TMP/f.json" "sorted(r['function'] for r in j['rows'])")" \
   "['leak_aligned', 'leak_small']"
for v in --growth --temporary --stats --leaks --peak; do
    R "$T" $v --format json >"$TMP/v.json" 2>/dev/null
    ok_if "$v --format json parses" valid_json "$TMP/v.json"
done
ok_if "--growth ranks grow_between_marks (text)" sh -c "'$BIN/leakhunt-replay' '$T' --growth --by function | grep -q grow_between_marks"

# Exports: folded lines are exact for this program.
R "$T" --leaks --by function --folded "$TMP/leaks.folded" >/dev/null
is "folded: leak_small's stack and bytes" "$(grep 'leak_small ' "$TMP/leaks.folded" | sed 's/^.*;main;//')" "leak_small 1000"
is "folded: values add up to the leaked bytes" "$(awk '{s+=$NF} END {print s}' "$TMP/leaks.folded")" 9352
is "--folded - writes only folded lines to stdout" "$(R "$T" --leaks --folded - | grep -vc ' [0-9-]*$')" 0
R "$T" --diff mark:before mark:after --flamegraph "$TMP/d.svg" --pprof "$TMP/d.pb.gz" --speedscope "$TMP/d.json" --html "$TMP/r.html" >/dev/null
ok_if "flame graph SVG is well-formed XML" python3 -c 'import xml.dom.minidom,sys; xml.dom.minidom.parse(sys.argv[1])' "$TMP/d.svg"
ok_if "SVG names the growing function" grep -q grow_between_marks "$TMP/d.svg"
ok_if "speedscope JSON parses" valid_json "$TMP/d.json"
ok_if "pprof is gzip" sh -c "gzip -t '$TMP/d.pb.gz'"
ok_if "HTML report names the functions" grep -q leak_small "$TMP/r.html"

# Errors name what is wrong and exit 2.
err() { R "$@" >/dev/null 2>"$TMP/err"; echo "$?:$(head -c 300 "$TMP/err")"; }
case $(err "$T" --at mark:nope) in "2:"*"no marker 'nope'; markers in the trace: start ("*"), before ("*"), after ("*) pass "an unknown marker lists the markers" ;; *) fail "unknown marker" "$(cat "$TMP/err")" ;; esac
case $(err "$T" --at 99s) in "2:"*"past the end"*) pass "time past the end says so" ;; *) fail "time past the end says so" "$(cat "$TMP/err")" ;; esac
case $(err "$T" --at '#99999') in "2:"*"past the end"*) pass "event past the end says so" ;; *) fail "event past the end" "$(cat "$TMP/err")" ;; esac
case $(err "$T" --at soon) in "2:"*"'soon': not a moment"*) pass "a bad moment is named" ;; *) fail "bad moment" "$(cat "$TMP/err")" ;; esac
case $(err "$T" --at 5parsecs) in "2:"*"unknown unit"*) pass "a bad unit is named" ;; *) fail "bad unit" "$(cat "$TMP/err")" ;; esac
case $(err "$T" --by colour) in "2:"*"--by 'colour'"*) pass "a bad grouping is named" ;; *) fail "bad grouping" "$(cat "$TMP/err")" ;; esac
case $(err "$T" --frobnicate) in "2:"*"--frobnicate"*) pass "an unknown option is named" ;; *) fail "unknown option" "$(cat "$TMP/err")" ;; esac
case $(err "$T" --top many) in "2:"*"--top 'many'"*) pass "a bad number is named" ;; *) fail "bad number" "$(cat "$TMP/err")" ;; esac
case $(err "$TMP/missing.lht" --leaks) in "2:"*"missing.lht: No such file"*) pass "a missing file is named" ;; *) fail "missing file" "$(cat "$TMP/err")" ;; esac
echo "not a trace" >"$TMP/junk.lht"
case $(err "$TMP/junk.lht" --leaks) in "2:"*"not a leakhunt trace"*) pass "a foreign file is refused" ;; *) fail "foreign file" "$(cat "$TMP/err")" ;; esac
case $(err "$T" --leaks --peak) in "2:"*"choose one view"*) pass "two views are refused" ;; *) fail "two views" "$(cat "$TMP/err")" ;; esac

# A torn trace: the prefix is analysed, the damage reported, exit 1.
size=$(stat -c %s "$T")
last_events=$("$BIN/leakhunt-dump" --chunks "$T" | awk '$2 == "events" {o = $1} END {print o}')
head -c $((last_events + 10)) "$T" >"$TMP/torn.lht"
R "$TMP/torn.lht" --stats --format json >"$TMP/torn.json" 2>"$TMP/torn.err"
is "torn trace: exit status 1" "$?" 1
ok_if "torn trace: the damage is reported on stderr" grep -q "damaged" "$TMP/torn.err"
is "torn trace: events before the damage are counted" \
   "$(json_get "$TMP/torn.json" "(j['events'], j['damaged']['offset'], j['complete'])")" "(2038, $last_events, False)"
head -c $((size - 20)) "$T" >"$TMP/nofooter.lht"
R "$TMP/nofooter.lht" --leaks --by function --format json --top 0 >"$TMP/nf.json" 2>/dev/null
is "trace cut inside its footer: every event still there" "$(json_get "$TMP/nf.json" "j['total_bytes']")" 9352
# libdw loads its debuginfod client (and libcurl's dependencies) only when
# a server is configured (analyze/cli/no_debuginfod.c); the answer is the same
# (ls: a stripped program, so libdw looks for its debug information)
"$BIN/leakhunt-record" -q -o "$TMP/ls.lht" /bin/ls / >/dev/null
(unset DEBUGINFOD_URLS; LD_DEBUG=files R "$TMP/ls.lht" --leaks --by stack --top 0 >"$TMP/di0.txt" 2>"$TMP/di0.err")
is "no debuginfod server: libdebuginfod is not loaded" "$(grep -c 'file=libdebuginfod' "$TMP/di0.err")" 0
if [ -e /usr/lib/x86_64-linux-gnu/libdebuginfod.so.1 ]; then
	DEBUGINFOD_URLS=http://127.0.0.1:9 DEBUGINFOD_TIMEOUT=1 LD_DEBUG=files \
		R "$TMP/ls.lht" --leaks --by stack --top 0 >"$TMP/di1.txt" 2>"$TMP/di1.err"
	ok_if "with DEBUGINFOD_URLS set, libdw loads it" grep -q 'file=libdebuginfod' "$TMP/di1.err"
	ok_if "and the stacks are the same" cmp -s "$TMP/di0.txt" "$TMP/di1.txt"
fi
ok_if "--help explains the moments" sh -c "'$BIN/leakhunt-replay' --help | grep -q 'mark:LABEL'"
done_testing
