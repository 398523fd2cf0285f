#!/bin/bash
# record_marks: the tracemalloc workflow on a program that keeps running.
# leakhunt-mark returns only once the marker (and every event before it) is
# in the trace file: a replay right after it, while the program runs on,
# finds both markers and the exact growth between them, and a SIGTERM right
# after the second mark loses neither. A relative -o is resolved where
# leakhunt-record runs, not where the program cds to.
. "$(dirname "$0")/../lib.sh"
P=$TBIN/progs/attach_target
cd "$TMP"
mkdir -p elsewhere

# Send one command, read its one-line answer.
cmd() { echo "$1" >&"${TGT[1]}"; local line; IFS= read -r -t 30 line <&"${TGT[0]}" || line="(no answer)"; echo "$line"; }

# The program is started from another directory, through a shell that cds.
coproc TGT { exec "$BIN/leakhunt-record" -o 'live.%e.lht' -- sh -c "cd '$TMP/elsewhere' && exec '$P'" 2>"$TMP/rec.err"; }
REC=$TGT_PID
trap 'kill $REC 2>/dev/null; rm -rf "$TMP"' EXIT
is "target answers" "$(cmd 'a 10')" ok
pid=""
for _ in $(seq 100); do pid=$(pgrep -f -n "^$P\$" || true); [ -n "$pid" ] && break; sleep 0.05; done
ok_if "the traced program runs (pid $pid)" test -n "$pid"

ok_if "leakhunt-mark warm" "$BIN/leakhunt-mark" "$pid" warm
is "b 70" "$(cmd 'b 70')" ok
ok_if "leakhunt-mark loaded" "$BIN/leakhunt-mark" "$pid" loaded
# Right away, with the program still running and nothing else flushed:
"$BIN/leakhunt-replay" live.attach_target.lht --diff mark:warm mark:loaded --by function --format json --top 0 >d.json 2>d.err
is "the replay right after the mark answers (exit 0)" "$?" 0
is "... with exactly b's 70 blocks of 200 bytes between the marks" \
   "$(json_get d.json "[(r['function'], r['count_delta'], r['bytes_delta']) for r in j['rows']]")" "[('alloc_b', 70, 14000)]"
ok_if "the trace was written where leakhunt-record runs, not where the program went" \
    test -f live.attach_target.lht -a -f live.dash.lht -a -z "$(ls elsewhere)"

is "a 5 after the marks" "$(cmd 'a 5')" ok
ok_if "leakhunt-mark again" "$BIN/leakhunt-mark" "$pid" again
kill -TERM "$pid"
wait $REC
"$BIN/leakhunt-replay" live.attach_target.lht --stats --format json >s.json 2>/dev/null
is "SIGTERM right after a mark: every marker is in the trace" "$(json_get s.json "[m['label'] for m in j['markers']]")" "['warm', 'loaded', 'again']"

is "the summary names the program's last image as the program, and only that" \
   "$(grep -c ', the program)' rec.err) $(grep -c "live.attach_target.lht (.*, the program)" rec.err)" "1 1"
is "marking a process that is not recorded fails (exit 1)" "$("$BIN/leakhunt-mark" $$ x 2>/dev/null; echo $?)" 1
done_testing
