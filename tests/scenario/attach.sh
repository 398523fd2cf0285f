#!/bin/bash
# attach: leakhunt-record -p on a running program (tests/progs/attach_target,
# driven command by command through a coprocess), marks, leakhunt-mark
# --stop; the trace must hold exactly what the program counted between the
# marks, the program must run on and exit normally with the right output.
# Needs ptrace: if this machine forbids it the test fails and says why.
. "$(dirname "$0")/../lib.sh"
P=$TBIN/progs/attach_target
T=$TMP/att.lht

# python3 -c "$SEIZE" PID [SECONDS]: PTRACE_SEIZE PID (ctypes, no debugger
# needed), print "ok" or why not, hold it SECONDS (a process has one tracer
# at a time), exit (which detaches).
SEIZE='import ctypes, os, sys, time
libc = ctypes.CDLL(None, use_errno=True)
r = libc.ptrace(0x4206, int(sys.argv[1]), None, None)   # PTRACE_SEIZE
print("ok" if r == 0 else "ptrace: " + os.strerror(ctypes.get_errno()), flush=True)
time.sleep(float(sys.argv[2]) if r == 0 and len(sys.argv) > 2 else 0)'

# attached PID: the process has a ring in a session directory (ring.h).
attached() { local f; for f in /dev/shm/leakhunt-*/s.*/ring."$1".* /tmp/leakhunt-*/s.*/ring."$1".*; do
    [ -e "$f" ] && return 0; done; return 1; }

# Send one command, read its one-line answer.
cmd() { echo "$1" >&"${TGT[1]}"; local line; IFS= read -r -t 30 line <&"${TGT[0]}" || line="(no answer)"; echo "$line"; }

coproc TGT { exec "$P"; }
PID=$TGT_PID
trap 'kill $PID 2>/dev/null; rm -rf "$TMP"' EXIT
is "target answers" "$(cmd 'a 1000')" ok     # 1000 blocks before the attach

# Preflight: can we ptrace at all? (Fails loudly, never skips.)
scope=$(cat /proc/sys/kernel/yama/ptrace_scope 2>/dev/null || echo "none (no Yama)")
pre=$(python3 -c "$SEIZE" "$PID" 2>&1)
if [ "$pre" = ok ]; then
    pass "ptrace is permitted here (ptrace_scope $scope)"
else
    fail "ptrace is permitted here" "ptrace_scope=$scope uid=$(id -u): PTRACE_SEIZE of the target said: $pre"
fi
base=$(cmd 'bench 2000000'); base=${base#*=}   # (no pipe: it would lose the coprocess)

"$BIN/leakhunt-record" -p "$PID" -o "$T" --flush-interval 50 >"$TMP/rec.out" 2>"$TMP/rec.err" &
REC=$!
for _ in $(seq 150); do grep -q "recording to" "$TMP/rec.err" && break; kill -0 $REC 2>/dev/null || break; sleep 0.1; done
if attached $PID; then pass "attached"; else
    fail "attached" "leakhunt-record -p said: $(cat "$TMP/rec.err")"; fi
ok_if "attach message names the trace" grep -q "recording to $T" "$TMP/rec.err"

"$BIN/leakhunt-record" -p "$PID" -o "$TMP/second.lht" 2>"$TMP/second.err"; rc=$?
is "a second attach is refused (exit 1)" "$rc" 1
ok_if "... saying it is already being recorded" grep -q "already being recorded" "$TMP/second.err"

is "b before mark a" "$(cmd 'b 500')" ok
cmd count >/dev/null                          # reset the program's counters
"$BIN/leakhunt-mark" "$PID" a
is "c" "$(cmd 'c 300')" ok
is "b" "$(cmd 'b 70')" ok
is "t (another thread)" "$(cmd 't 200')" ok
counted=$(cmd count)
is "the program counted" "$counted" "count a=0 b=70 c=300 t=200"
"$BIN/leakhunt-mark" "$PID" b
is "free the blocks allocated before the attach" "$(cmd free-a)" ok
is "a after mark b" "$(cmd 'a 5')" ok

ok_if "leakhunt-mark --stop" "$BIN/leakhunt-mark" "$PID" --stop
wait $REC; rc=$?
is "leakhunt-record -p exits 0 after the stop" "$rc" 0
if attached $PID; then fail "no ring left once the recording ended"; else pass "no ring left once the recording ended"; fi
ok_if "... and lists the trace" grep -q "pid $PID: $T (" "$TMP/rec.err"

# The program runs on, unrecorded, and ends normally.
is "program still runs after detach" "$(cmd 'a 10')" ok
after=$(cmd 'bench 2000000'); after=${after#*=}
echo "# malloc+free pair: ${base} ns before attach, ${after} ns after detach (GOT restored)"
is "program's own total" "$(cmd quit)" "bye total=2085"
wait $PID; rc=$?
is "program exits 0" "$rc" 0

ok_if "trace verifies" "$BIN/leakhunt-dump" --verify "$T"
"$BIN/leakhunt-replay" "$T" --stats --format json >"$TMP/stats.json"
is "ProcessInfo says attached" "$(json_get "$TMP/stats.json" "j['attached']")" True
is "complete (footer written at stop)" "$(json_get "$TMP/stats.json" "j['complete']")" True
# Recorded: 500 + 70 (b) + 600 (c: 300 realloc(NULL), then 300
# reallocarray, each one allocation whether it moved or grew in place: how
# many do depends on the heap's layout) + 200 (t) + 5 (a); nothing before
# the attach, nothing after the stop.
is "allocations from attach to stop" "$(json_get "$TMP/stats.json" "j['allocations']")" 1375
is "frees of blocks from before the attach are unknown: 1000" "$(json_get "$TMP/stats.json" "j['unknown_frees']")" 1000
"$BIN/leakhunt-replay" "$T" --stats >"$TMP/stats.txt"
ok_if "--stats text says attached, unknown origin, 1000 frees" \
    grep -q "^attached at .*: memory allocated before is of unknown origin (1000 frees of it)" "$TMP/stats.txt"

"$BIN/leakhunt-replay" "$T" --diff mark:a mark:b --by function --format json >"$TMP/diff.json"
is "diff mark:a mark:b = the program's count, by function" \
   "$(json_get "$TMP/diff.json" "sorted((r['function'], r['count_delta']) for r in j['rows'])")" \
   "[('alloc_b', 70), ('alloc_c', 300), ('alloc_t', 200)]"
is "... and bytes" \
   "$(json_get "$TMP/diff.json" "sorted((r['function'], r['bytes_delta']) for r in j['rows'])")" \
   "[('alloc_b', 14000), ('alloc_c', 180000), ('alloc_t', 10000)]"

# Stop by --duration, and by Ctrl-C (SIGINT to leakhunt-record).
for how in duration sigint; do
    coproc T2 { exec "$P"; }
    P2=$T2_PID
    echo "a 3" >&"${T2[1]}"; read -r -t 10 _ <&"${T2[0]}"
    if [ $how = duration ]; then
        "$BIN/leakhunt-record" -q -p $P2 -o "$TMP/$how.lht" --duration 1s 2>"$TMP/$how.err"; rc=$?
    else
        "$BIN/leakhunt-record" -q -p $P2 -o "$TMP/$how.lht" 2>"$TMP/$how.err" & R2=$!
        for _ in $(seq 150); do attached $P2 && break; sleep 0.1; done
        sleep 0.5; kill -INT $R2; wait $R2; rc=$?
    fi
    is "$how: leakhunt-record exits 0" "$rc" 0
    echo "b 2" >&"${T2[1]}"; read -r -t 10 ans <&"${T2[0]}"
    is "$how: program runs on" "$ans" ok
    echo quit >&"${T2[1]}"; read -r -t 10 ans <&"${T2[0]}"
    is "$how: program ends normally" "$ans" "bye total=5"
    ok_if "$how: trace complete" "$BIN/leakhunt-dump" --verify "$TMP/$how.lht"
    wait $P2
done

# Errors.
"$BIN/leakhunt-record" -p 4194300 2>"$TMP/e1"; is "no such process: exit 1" "$?" 1
ok_if "... says so" grep -q "no process 4194300" "$TMP/e1"

sleep 30 & SL=$!
if command -v setpriv >/dev/null; then
    setpriv --reuid=65534 --regid=65534 --clear-groups "$BIN/leakhunt-record" -p $SL 2>"$TMP/e2"
    is "another user's process: exit 1" "$?" 1
    ok_if "... says whose it is and what to do" grep -q "belongs to uid 0 .*attach as that user, or as root" "$TMP/e2"
fi
kill $SL 2>/dev/null

if printf 'int main(void){for(;;)__asm__ volatile("pause");}\n' | cc -static -x c -o "$TMP/static" - 2>/dev/null; then
    "$TMP/static" & ST=$!; sleep 0.3   # exec done
    "$BIN/leakhunt-record" -p $ST 2>"$TMP/e3"; is "static program: exit 1" "$?" 1
    ok_if "... not dynamically linked with glibc" grep -q "not dynamically linked with glibc" "$TMP/e3"
    kill $ST
fi

# A program that closes every descriptor while attached (as daemons do),
# the recorder's trace among them, and opens a file of its own under a freed
# number: the recording stops with one message, the program's file holds
# exactly its lines and the program runs on. (libunwind's memory-check pipe,
# which fdguard.c guards and which libunwind's GOT slots reach in attach
# mode, is opened only on unwinds that check memory; this program's are not
# among them, so the pipe itself is exercised by tests/torture closefds.)
coproc TGT { exec "$P" 2>"$TMP/fd.target.err"; }
PID=$TGT_PID
cmd 'a 10' >/dev/null
"$BIN/leakhunt-record" -q -p "$PID" -o "$TMP/fd.lht" --duration 4s 2>"$TMP/fd.err" &
REC=$!
for _ in $(seq 150); do attached $PID && break; sleep 0.1; done
cmd 'a 200' >/dev/null    # unwinding: libunwind opens its pipe
is "closefds while attached: the program carries on" "$(cmd "closefds $TMP/app.out")" ok
expected=$(for i in $(seq 0 39); do echo "app line $i"; done)
is "closefds while attached: the program's file holds exactly its 40 lines" "$(cat "$TMP/app.out")" "$expected"
wait $REC
is "closefds while attached: the program exits normally" "$(cmd quit)" "bye total=210"
is "closefds while attached: the recording is not disturbed (nothing said on the program's stderr)" \
	"$(grep -c '^leakhunt' "$TMP/fd.target.err")" 0
"$BIN/leakhunt-replay" "$TMP/fd.lht" --stats --format json >"$TMP/fd.json" 2>/dev/null
is "closefds while attached: the trace is complete, with the 200 blocks and the loop's allocations" \
	"$(json_get "$TMP/fd.json" "(j['complete'], j['allocations'] >= 200)")" "(True, True)"
wait $PID

# execl while attached: the trace is finished before the exec (the execl
# family must not reach libc's execv past the hook), every event in it.
coproc TGT { exec "$P"; }
PID=$TGT_PID
cmd 'a 10' >/dev/null
"$BIN/leakhunt-record" -q -p "$PID" -o "$TMP/exec.lht" --duration 20s 2>"$TMP/exec.err" &
REC=$!
for _ in $(seq 150); do attached $PID && break; sleep 0.1; done
cmd 'a 50' >/dev/null
echo exec >&"${TGT[1]}"
wait $PID
wait $REC
"$BIN/leakhunt-replay" "$TMP/exec.lht" --stats --format json >"$TMP/exec.json" 2>/dev/null
is "execl while attached: the trace was finished before the exec" "$(json_get "$TMP/exec.json" "j['complete']")" True
is "execl while attached: every allocation in it" "$(json_get "$TMP/exec.json" "j['allocations']")" 50
# The process's environment has no LD_PRELOAD (it was started without the
# recorder): following puts the recorder into what it execs all the same.
second=$(ls "$TMP"/exec.*.lht 2>/dev/null | head -1)
ok_if "execl while attached: the program it execs is followed (a trace of its own)" test -n "$second"
if [ -n "$second" ]; then
    "$BIN/leakhunt-replay" "$second" --stats --format json >"$TMP/exec2.json" 2>/dev/null
    is "... of /usr/bin/true, complete" "$(json_get "$TMP/exec2.json" "(j['exe'].split('/')[-1], j['complete'])")" "('true', True)"
fi

sleep 30 & TR=$!
python3 -c "$SEIZE" $TR 30 >"$TMP/seize.out" & HOLD=$!
for _ in $(seq 50); do grep -q . "$TMP/seize.out" && break; sleep 0.1; done
"$BIN/leakhunt-record" -p $TR 2>"$TMP/e4"; is "traced process: exit 1" "$?" 1
ok_if "... already being traced, by whom" grep -q "already being traced by process $HOLD ($(cat /proc/$HOLD/comm))" "$TMP/e4"
kill $HOLD $TR 2>/dev/null

# A process attached to as soon as it started is still in the dynamic
# loader, libc not mapped yet (leakhunt-record -p right after "app &"):
# leakhunt-record waits for the loader rather than calling it static. Here
# the process is held stopped at its exec, before the loader ran.
STOPPED_AT_EXEC='import ctypes, os, signal, sys
libc = ctypes.CDLL(None, use_errno=True)
libc.ptrace.argtypes = [ctypes.c_long, ctypes.c_long, ctypes.c_void_p, ctypes.c_void_p]
pid = os.fork()
if pid == 0:
    libc.ptrace(0, 0, None, None)                                  # PTRACE_TRACEME
    os.execv(sys.argv[1], sys.argv[1:])
os.waitpid(pid, os.WUNTRACED)                                      # stopped at the exec
libc.ptrace(17, pid, None, ctypes.c_void_p(signal.SIGSTOP))        # PTRACE_DETACH, left stopped
print(pid, flush=True)
os.waitpid(pid, 0)'
python3 -c "$STOPPED_AT_EXEC" "$TBIN/progs/grow_cache" 20 >"$TMP/young.pid" & PY=$!
for _ in $(seq 50); do [ -s "$TMP/young.pid" ] && break; sleep 0.1; done
YP=$(cat "$TMP/young.pid")
is "young process: stopped before its loader mapped libc" "$(grep -c libc.so "/proc/$YP/maps" 2>/dev/null)" 0
(sleep 0.5; kill -CONT "$YP") &
"$BIN/leakhunt-record" -q -p "$YP" -o "$TMP/young.lht" --duration 5s 2>"$TMP/young.err"
is "leakhunt-record -p waits for the loader, then attaches (exit 0)" "$?" 0
is "... with nothing to say" "$(cat "$TMP/young.err")" ""
ok_if "... and records it" test -s "$TMP/young.lht"
wait $PY
done_testing
