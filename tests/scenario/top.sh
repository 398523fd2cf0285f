#!/bin/bash
# top: leakhunt-top watching tests/progs/grow_cache (one 1000-byte entry
# every 50 ms from the line marked GROW) while leakhunt-record records it.
# Batch mode on the PID shows that line on top, growing from one screen to
# the next, with no escape code; batch mode on the trace path; the screen
# under tmux (80x24) shows the line, m drops a marker that leakhunt-replay
# then finds, ? shows the help, a resize keeps it whole, / filters, b and p
# do what they say, q quits with 0;
# the program's output is what it prints unwatched. Once the recording
# ended, batch mode says so and shows the final table to the byte. A
# process attached with -p is watched the same way. Then the refusals: no
# such process, a process nobody records, a file that is no trace, a FIFO
# (never waited on), bad options, no terminal without -b. Out of memory
# on the screen exits 4 after giving the terminal back.
. "$(dirname "$0")/../lib.sh"
P=$TBIN/progs/grow_cache
TOP=$BIN/leakhunt-top
LINE=$(grep -n '/\* GROW \*/' "$ROOT/tests/progs/grow_cache.c" | cut -d: -f1)
SITE="tests/progs/grow_cache.c:$LINE cache_add"
SOCK=lhtop$$
cd "$TMP"
trap 'tmux -L $SOCK kill-server 2>/dev/null; kill $REC 2>/dev/null; rm -rf "$TMP"' EXIT
REC=

# The first row of each screen's table: "LIVE GROWTH BLOCKS SHARE SITE..."
first_rows() { awk '/^ *live( bytes)? +growth/ { getline; print }' "$1"; }
# The growth column of a row, as a number.
growth_of() { echo "$1" | awk '{ gsub(/[+,]/, "", $2); print $2 }'; }
pane() { tmux -L $SOCK capture-pane -p -t top; }
# wait_pane TEXT: up to 10 s for the screen to show TEXT
wait_pane() { for _ in $(seq 100); do pane | grep -qF -- "$1" && return 0; sleep 0.1; done; return 1; }

"$BIN/leakhunt-record" -o live.lht -- "$P" 300 >prog.out 2>rec.err &
REC=$!
pid=""
for _ in $(seq 100); do pid=$(pgrep -n -f "^$P 300\$" || true); [ -n "$pid" ] && break; sleep 0.05; done
ok_if "the recorded program runs (pid $pid)" test -n "$pid"
sleep 0.5

# --- batch mode on the PID ---------------------------------------------------
"$TOP" -b -n 2 -d 1 "$pid" >b.txt 2>b.err
is "batch mode on a recorded PID exits 0" "$?" 0
is "... prints two screens" "$(grep -c '^leakhunt-top: pid' b.txt)" 2
rows=$(first_rows b.txt)
is "... each with the growing line on top" "$(echo "$rows" | grep -cF -- "$SITE")" 2
g1=$(growth_of "$(echo "$rows" | sed -n 1p)"); g2=$(growth_of "$(echo "$rows" | sed -n 2p)")
ok_if "... and its growth rises from screen to screen ($g1 then $g2 bytes)" test "${g1:-0}" -gt 0 -a "${g2:-0}" -gt "${g1:-0}"
ok_if "... in whole entries of 1000 bytes" test $((g1 % 1000)) -eq 0 -a $((g2 % 1000)) -eq 0
ok_if "... with heap, peak, rss, events/s and up in the header" grep -qE '^heap [0-9,]+  peak [0-9,]+  rss [0-9,]+  events/s [0-9,]+  up ' b.txt
ok_if "... and no escape code" bash -c "! grep -q $'\x1b' b.txt"
ok_if "... and nothing on stderr" test ! -s b.err

# --- batch mode on the trace path ----------------------------------------------
"$TOP" -b -n 1 live.lht >t.txt 2>t.err
is "batch mode on the trace being written exits 0" "$?" 0
ok_if "... shows it live, with the growing line on top" \
    bash -c "grep -q '\[live\]' t.txt && first_rows() { awk '/^ *live( bytes)? +growth/ { getline; print }' \"\$1\"; }; first_rows t.txt | grep -qF -- '$SITE'"

# --- the screen, under tmux ------------------------------------------------------
tmux -L $SOCK new-session -d -s top -x 80 -y 24 "'$TOP' $pid; echo \$? >'$TMP/tty.rc'; sleep 60"
ok_if "the screen shows the growing line (80x24)" wait_pane "$SITE"
ok_if "... under a header with the heap" bash -c "tmux -L $SOCK capture-pane -p -t top | grep -q '^heap .* peak .* rss .* events/s'"
tmux -L $SOCK send-keys -t top m
ok_if "m drops a marker, confirmed on the screen" wait_pane "marker top1 is in the trace"
ok_if "... and the baseline moves to it" wait_pane "baseline mark:top1"
"$BIN/leakhunt-replay" live.lht --stats --format json >s.json 2>/dev/null
is "leakhunt-replay finds the marker at once" "$(json_get s.json "[m['label'] for m in j['markers']]")" "['top1']"
tmux -L $SOCK send-keys -t top '?'
ok_if "? shows the help" wait_pane "leakhunt-top keys"
tmux -L $SOCK send-keys -t top x
tmux -L $SOCK send-keys -t top f
ok_if "any key closes it; f groups by function" wait_pane "by function"
tmux -L $SOCK resize-window -t top -x 60 -y 15
sleep 1.5
widest() { python3 -c 'import sys; print(max(len(l.rstrip("\n")) for l in sys.stdin))'; }
is "resized to 60x15: the screen fits" "$(pane | wc -l) $(pane | widest) $(pane | head -1 | cut -c1-13)" "15 59 leakhunt-top:"
ok_if "... and still shows the site" bash -c "tmux -L $SOCK capture-pane -p -t top | grep -q '  cache_add'"
tmux -L $SOCK resize-window -t top -x 80 -y 24
tmux -L $SOCK send-keys -t top l
ok_if "back to 80x24, by line" wait_pane "$SITE"
tmux -L $SOCK send-keys -t top / doallocate Enter
ok_if "/ filters: only the stacks through the C library's stdout buffer" \
    bash -c "for i in \$(seq 100); do s=\$(tmux -L $SOCK capture-pane -p -t top); echo \"\$s\" | grep -q 'filter doallocate' && ! echo \"\$s\" | grep -q cache_add && exit 0; sleep 0.1; done; exit 1"
tmux -L $SOCK send-keys -t top / Enter
ok_if "... and an empty filter shows all again" wait_pane "$SITE"
tmux -L $SOCK send-keys -t top b
ok_if "b: baseline = now" wait_pane "baseline = now"
tmux -L $SOCK send-keys -t top p
ok_if "p pauses" wait_pane "[paused]"
tmux -L $SOCK send-keys -t top p
ok_if "... and p goes on" wait_pane "[live]"
tmux -L $SOCK send-keys -t top q
for _ in $(seq 50); do [ -s tty.rc ] && break; sleep 0.1; done
is "q quits with status 0" "$(cat tty.rc 2>/dev/null)" 0

wait $REC
is "the recording ends normally" "$?" 0
REC=
"$P" 300 1 >native.out
ok_if "the program's output is what it prints when nobody watches" cmp -s prog.out native.out

# --- the finished trace -----------------------------------------------------------
"$TOP" -b -n 2 -d 0.1 live.lht >f.txt 2>f.err
is "batch mode on a finished trace exits 0" "$?" 0
is "... with one screen: the recording ended" "$(grep -c '^leakhunt-top: pid' f.txt) $(grep -c 'the recording ended (the trace is complete)' f.txt)" "1 1"
is "... and the final table to the byte: 300 entries of 1000 bytes" \
   "$(first_rows f.txt | awk '{ print $1, $3 }') $(first_rows f.txt | grep -cF -- "$SITE")" "300,000 300 1"
is "... growth since the last marker is what came after it" \
   "$(grep -c '^baseline mark:top1' f.txt)" 1

# --- a process attached with -p -------------------------------------------------
"$P" 400 >att.out &
APID=$!
"$BIN/leakhunt-record" -p $APID -o att.lht >/dev/null 2>att.err &
AREC=$!
for _ in $(seq 100); do grep -q "recording to" att.err && break; sleep 0.1; done
sleep 0.5 # a few entries in the trace
"$TOP" -b -n 2 -d 1 $APID >a.txt 2>a.err; st=$?
is "batch mode on an attached process exits 0" "$st" 0
[ "$st" = 0 ] || echo "#   leakhunt-top said: $(cat a.err); leakhunt-record -p said: $(cat att.err)"
arows=$(first_rows a.txt)
ag2=$(growth_of "$(echo "$arows" | sed -n 2p)")
ok_if "... shows the growing line on top, growing ($ag2 bytes)" \
    test "$(echo "$arows" | grep -cF -- "$SITE")" = 2 -a "${ag2:-0}" -gt 0
"$BIN/leakhunt-mark" $APID --stop 2>/dev/null
wait $AREC
kill $APID 2>/dev/null; wait $APID 2>/dev/null

# --- refusals -----------------------------------------------------------------------
sh -c 'exit 0' & dead=$!; wait $dead
"$TOP" -b $dead >/dev/null 2>e1.err
is "no such process: exit 2" "$?" 2
ok_if "... saying so" grep -q "no process $dead" e1.err
"$TOP" -b $$ >/dev/null 2>e2.err
is "a process nobody records: exit 2" "$?" 2
ok_if "... saying it is not being recorded" grep -q "process $$ is not being recorded" e2.err
printf 'hello, not a trace at all\n' >plain.txt
"$TOP" -b plain.txt >/dev/null 2>e3.err
is "a file that is no trace: exit 2" "$?" 2
ok_if "... named, with why" grep -q "plain.txt: not a leakhunt trace" e3.err
mkfifo fifo
timeout 10 "$TOP" -b fifo >/dev/null 2>e4.err
is "a FIFO is refused at once, never waited on: exit 2" "$?" 2
ok_if "... as not a regular file" grep -q "fifo: not a regular file" e4.err
"$TOP" --bogus 1 >/dev/null 2>e5.err
is "an unknown option: exit 2" "$?" 2
ok_if "... named" grep -q "unknown option '--bogus'" e5.err
"$TOP" -b -d zero live.lht >/dev/null 2>e6.err
is "a bad -d: exit 2, named" "$? $(grep -c "^leakhunt-top: -d 'zero'" e6.err)" "2 1"
"$TOP" live.lht </dev/null >/dev/null 2>e7.err
is "no terminal without -b: exit 2, pointing to -b" "$? $(grep -c 'use -b' e7.err)" "2 1"
"$TOP" --help >h.txt
is "--help exits 0" "$?" 0
ok_if "... and tells of batch mode, the keys and the exit status" \
    bash -c "grep -q -- '-b  ' h.txt && grep -q 'Keys: m' h.txt && grep -q 'Exit status' h.txt"

# Out of memory on the screen (2,000,000 live blocks under a 300 MB
# limit, as replay_nomem.sh): status 4 and the one line, on a terminal
# given back by curses first (echo on again, the line at the left edge).
"$BIN/leakhunt-record" -q -o many.lht -- "$TBIN/progs/many_blocks" >/dev/null 2>&1
tmux -L $SOCK new-session -d -s oom -x 80 -y 24 \
    "(ulimit -v 300000; exec '$TOP' many.lht); echo \$? >oom.rc; stty -a >oom.stty; sleep 60"
for _ in $(seq 300); do [ -s oom.stty ] && break; sleep 0.1; done
is "out of memory on the screen: exit status 4" "$(cat oom.rc 2>/dev/null)" 4
ok_if "... the one line, at the left edge" bash -c "tmux -L $SOCK capture-pane -p -t oom | grep -qx 'leakhunt: out of memory'"
ok_if "... on a terminal out of curses mode (echo on, not -echo)" grep -qE '(^| )echo( |$)' oom.stty
done_testing
