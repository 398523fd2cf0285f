#!/bin/bash
# record_process_tree: fork gives the child its own trace, exec starts a
# new one; each holds exactly its own image's leak. dlopen/dlclose: leaks
# in a closed library still name their function.
. "$(dirname "$0")/../lib.sh"
cd "$TMP"
"$BIN/leakhunt-record" -o f.lht -- "$TBIN/progs/forker" >out 2>err
is "forker exits 0" "$?" 0
# -o names one file: the others take a name nobody can guess beside it
# (f.<8 random letters>.lht), which the summary gives.
is "three traces: parent, forked child, exec'd image" "$(ls f*.lht | sed 's/^f\.[a-z2-7]\{8\}\.lht$/f.X.lht/' | sort | tr '\n' ' ')" "f.X.lht f.X.lht f.lht "
is "the summary lists three processes" "$(grep -c '^leakhunt: pid' err)" 3
is "... each by the name it was written to" "$(for f in f*.lht; do grep -c "^leakhunt: pid [0-9]*: $TMP/$f (" err; done | tr '\n' ' ')" "1 1 1 "
leak_of() { "$BIN/leakhunt-replay" "$1" --leaks --by function --format json --top 0 >l.json
            json_get l.json "sorted((r['function'], r['bytes']) for r in j['rows'] if r['function'].endswith('_leak'))"; }
child=; image=
for f in f.*.lht; do
    case $(leak_of "$f") in *child_leak*) child=$f ;; *exec_leak*) image=$f ;; esac
done
is "parent trace: parent_leak only" "$(leak_of f.lht)" "[('parent_leak', 111)]"
is "forked child trace: child_leak only" "$(leak_of "${child:-none}")" "[('child_leak', 222)]"
is "exec'd image trace: exec_leak only" "$(leak_of "${image:-none}")" "[('exec_leak', 333)]"
for f in f.lht "${child:-none}" "${image:-none}"; do
    ok_if "$f verifies and is complete" sh -c "'$BIN/leakhunt-dump' --verify $f >/dev/null && '$BIN/leakhunt-replay' $f --stats --format json | grep -q '\"complete\": true'"
done
"$BIN/leakhunt-replay" "${child:-none}" --stats --format json >s.json
is "the child's trace names its parent" "$(json_get s.json "j['pid'] != 0")" True

"$BIN/leakhunt-replay" f.lht "${child:-none}" "${image:-none}" --stats --format json >all.json
is "several traces: combined leaked bytes" "$(json_get all.json "j['combined']['leaked_bytes'] == sum(t['leaked_bytes'] for t in j['traces'])")" True

"$BIN/leakhunt-record" -q --no-follow -o n.lht -- "$TBIN/progs/forker" >/dev/null 2>&1
is "--no-follow: the parent's trace only" "$(ls n*.lht | tr '\n' ' ')" "n.lht "

"$BIN/leakhunt-record" -q -o d.lht -- "$TBIN/progs/dl_host" "$TBIN/progs/libdlalloc.so" >/dev/null 2>&1
is "dl_host exits 0" "$?" 0
"$BIN/leakhunt-replay" d.lht --leaks --by line --format json --top 0 >d.json
is "leaks of a dlclose'd library: lib_leak, 2 x 444 bytes, at its line" \
   "$(json_get d.json "[(r['function'], r['file'].split('/')[-1], r['line'], r['bytes'], r['count']) for r in j['rows'] if r['function'] == 'lib_leak']")" \
   "[('lib_leak', 'dlalloc.c', 15, 888, 2)]"
is "the constructor's blocks were freed by the destructor during dlclose" \
   "$(json_get d.json "[r for r in j['rows'] if r['function'] == 'lib_init']")" "[]"

# A plugin closed and another loaded at its address: each keeps its own
# leaks, at its own line (the symbolizer used to take the later library's
# code for both).
"$BIN/leakhunt-record" -q -o p.lht -- "$TBIN/progs/dl_host" "$TBIN/progs/libdlalloc.so" \
    "$TBIN/progs/libdlother.so" >/dev/null 2>p.err
is "dl_host with two plugins exits 0" "$?" 0
is "the second plugin was loaded where the first had been" \
   "$(sed -n 's/^dl_host: .* at //p' p.err | sort -u | wc -l)" 1
"$BIN/leakhunt-replay" p.lht --leaks --by line --format json --top 0 >p.json
is "each plugin's leaks at its own line: dlalloc.c:15 2 x 444, dlother.c:20 2 x 777" \
   "$(json_get p.json "sorted((r['file'].split('/')[-1], r['line'], r['bytes'], r['count']) for r in j['rows'] if r['function'] == 'lib_leak')")" \
   "[('dlalloc.c', 15, 888, 2), ('dlother.c', 20, 1554, 2)]"
"$BIN/leakhunt-replay" p.lht --leaks --by module --format json --top 0 >pm.json
is "and in their own modules" \
   "$(json_get pm.json "sorted((r['module'].split('/')[-1], r['bytes']) for r in j['rows'] if 'libdl' in r['module'])")" \
   "[('libdlalloc.so', 888), ('libdlother.so', 1554)]"

# A failed exec leaves the process recorded.
"$BIN/leakhunt-record" -q -o x.lht -- "$TBIN/progs/exec_fails" >/dev/null 2>&1
"$BIN/leakhunt-replay" x.lht --leaks --by function --format json --top 0 >x.json
is "after a failed exec the recording goes on: 100 blocks of 64 bytes" \
   "$(json_get x.json "[(r['count'], r['bytes']) for r in j['rows'] if r['function'] == 'after_failed_exec']")" "[(100, 6400)]"

# Processes the recording cannot follow are named, not silently missing.
"$BIN/leakhunt-record" -o c3.lht -- "$TBIN/progs/clone3_child" >c3.out 2>c3.err
is "clone3_child exits 0" "$?" 0
ok_if "a clone3 child is named as not traced" grep -q "^leakhunt: pid [0-9]* made process [0-9]* with clone3, which runs no fork handlers: it is not traced" c3.err
is "one trace: the parent's (the clone3 child records nothing into it)" "$(ls c3*.lht | tr '\n' ' ')" "c3.lht "
"$BIN/leakhunt-replay" c3.lht --stats --format json >c3.json
is "... holding the parent's 10 pairs and stdout's buffer, none of the child's 5 pairs" \
   "$(json_get c3.json "(j['allocations'], j['frees'])")" "(11, 10)"
cp /bin/true "$TMP/sgid_true"; chgrp daemon "$TMP/sgid_true"; chmod 2755 "$TMP/sgid_true"
"$BIN/leakhunt-record" -q -o sg.lht -- sh -c "'$TMP/sgid_true'" 2>sg.err
ok_if "an exec of a setgid program is named as not traced" grep -q "execs $TMP/sgid_true, which is setuid or setgid" sg.err
if [ -x "$ROOT/build/tests/torture/static_prog" ]; then
    "$BIN/leakhunt-record" -q -o st.lht -- bash -c "'$ROOT/build/tests/torture/static_prog' >/dev/null" 2>st.err
    ok_if "an exec of a static program is named as not traced" grep -q "execs .*static_prog, which is statically linked" st.err
fi
done_testing
