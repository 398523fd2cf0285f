#!/bin/bash
# replay_checkpoints: a full pass leaves TRACE.ckpt; answers that start from
# a checkpoint are identical to answers from the first event, for every
# moment form; a changed trace or a damaged sidecar is never trusted. Over
# a trace of many chunks, every moment form starts at the nearest
# checkpoint before it and stops reading at its moment (what a replay
# decoded, from LEAKHUNT_SHOW_READS, checked against the trace's chunks).
. "$(dirname "$0")/../lib.sh"
T=$TMP/k.lht
"$BIN/leakhunt-record" -q -o "$T" -- "$TBIN/progs/known_allocs" >/dev/null 2>&1
export LEAKHUNT_CHECKPOINT_EVERY=100   # a checkpoint every 100 events
R() { "$BIN/leakhunt-replay" "$@"; }

R "$T" --stats >/dev/null
ok_if "a full pass leaves a sidecar" test -s "$T.ckpt"
same_answer() {
    local a b
    a=$(R "$T" "$@" --by stack --top 0 --format json 2>&1)
    b=$(R "$T" "$@" --by stack --top 0 --format json --no-checkpoints 2>&1)
    [ "$a" = "$b" ] && [ -n "$a" ]
}
for at in start 0.0005 0.5ms 500us 0.0005s 30% 50% 99% 100% '#0' '#150' '#1000' '#2031' '#2041' '#2042' \
          mark:start mark:before mark:after 'mark:after#1' peak end; do
    ok_if "--at $at: same answer from a checkpoint" same_answer --at "$at"
done
started() { LEAKHUNT_SHOW_CHECKPOINT=1 R "$T" --at "$1" 2>&1 >/dev/null | sed -n 's/.*started at the checkpoint after event \([0-9]*\)$/\1/p'; }
# Checkpoints sit between event chunks: after the first chunk of 2031
# events, after the next ones, and after the last.
is "--at '#2041' starts at the checkpoint after the first chunk" "$(started '#2041')" 2031
R "$T" --stats --format json >"$TMP/k.json"
is "--at end starts at the checkpoint after the last event" "$(started end)" "$(json_get "$TMP/k.json" "j['events']")"
is "--at 100% starts there too" "$(started 100%)" "$(json_get "$TMP/k.json" "j['events']")"
is "--at '#1000' starts at the beginning (no checkpoint before it)" "$(started '#1000')" ""
is "--at mark:after starts at the last checkpoint before the marker" "$(( $(started mark:after) >= 1900 ))" 1
is "--at start needs no checkpoint" "$(started start)" ""
for d in "mark:before mark:after" "30% end" "start end" "start peak" "peak end" "#150 mark:after" \
         "0.0005 #2041" "mark:start 99%"; do
    # shellcheck disable=SC2086 # two moments
    ok_if "--diff $d: same answer" same_answer --diff $d
done
for v in --leaks --peak --temporary; do
    ok_if "$v: same answer" same_answer $v
done
ok_if "--stats: same answer" sh -c "[ \"\$('$BIN/leakhunt-replay' '$T' --stats --format json)\" = \"\$('$BIN/leakhunt-replay' '$T' --stats --format json --no-checkpoints)\" ]"

# A sidecar is tied to its trace: touch the trace and it is ignored, then rewritten.
old=$(stat -c %Y "$T.ckpt")
sleep 1.1; touch "$T"
ok_if "after the trace changed: still the same answer" same_answer --at 50%
R "$T" --stats >/dev/null
is "the stale sidecar was replaced" "$(( $(stat -c %Y "$T.ckpt") > old ))" 1
# A damaged sidecar is never trusted: a flipped byte anywhere in a
# checkpoint (header intact) fails its checksum.
R "$T" --stats >/dev/null
size=$(stat -c %s "$T.ckpt")
cp "$T.ckpt" "$TMP/good.ckpt"
flipped_ok=0
for off in 80 200 400 800 1200 $((size - 200)) $((size - 100)); do
    cp "$TMP/good.ckpt" "$T.ckpt"
    touch -r "$T" "$T.ckpt"
    printf '\377' | dd of="$T.ckpt" bs=1 seek=$off conv=notrunc 2>/dev/null
    same_answer --at mark:after && same_answer --at 99% && flipped_ok=$((flipped_ok + 1))
done
is "a byte flipped at 7 places of the sidecar: same answers every time" $flipped_ok 7
cp "$TMP/good.ckpt" "$T.ckpt"; touch -r "$T" "$T.ckpt"
# Byte 1000 lies in the first checkpoint's state (40 bytes of header, then
# the one after 2031 events: about 2 KB), the one mark:after starts from.
printf '\377' | dd of="$T.ckpt" bs=1 seek=1000 conv=notrunc 2>/dev/null
is "a damaged checkpoint is not loaded" "$(started mark:after)" ""
is "a damaged sidecar is replaced by the pass that found it" "$(started mark:after)" 2031
cp "$TMP/good.ckpt" "$T.ckpt"

head -c 300 "$T.ckpt" >"$TMP/cut" && cat "$TMP/cut" >"$T.ckpt"
ok_if "with a torn sidecar: same answer" same_answer --at mark:after
head -c 2000 /dev/urandom >"$T.ckpt"
ok_if "with a garbage sidecar: same answer" same_answer --at 50%

# The sidecar is written under TRACE.ckpt.PID first. Something already at
# that name (a link planted in a shared directory, a FIFO) is replaced, not
# written through or waited on. exec keeps the subshell's pid, so the name
# is known before leakhunt-replay starts.
rm -f "$T.ckpt"
echo precious >"$TMP/victim"
(ln -s "$TMP/victim" "$T.ckpt.$BASHPID"; exec "$BIN/leakhunt-replay" "$T" --stats >/dev/null 2>&1)
is "a link at the temporary name: its target untouched" "$(cat "$TMP/victim")" precious
ok_if "a link at the temporary name: the sidecar is written all the same" test -s "$T.ckpt" -a ! -L "$T.ckpt"
rm -f "$T.ckpt"
(mkfifo "$T.ckpt.$BASHPID"; exec timeout 20 "$BIN/leakhunt-replay" "$T" --stats >/dev/null 2>&1)
is "a FIFO at the temporary name: no wait" "$?" 0
ok_if "a FIFO at the temporary name: the sidecar is written" test -f "$T.ckpt" -a -s "$T.ckpt"
# --- Random access over a trace of many chunks ---------------------------------
# tests/progs/phases: 30 events chunks (or a few more) of about 2,000
# events, a marker before each ("half" before the 16th), the peak at about
# 70% of the run. A checkpoint every 5,000 events: after every third chunk.
P=$TMP/p.lht
"$BIN/leakhunt-record" -q -o "$P" -- "$TBIN/progs/phases" >/dev/null 2>&1
export LEAKHUNT_CHECKPOINT_EVERY=5000
"$BIN/leakhunt-dump" --chunks "$P" >"$TMP/p.chunks"
R "$P" --stats >/dev/null
ok_if "phases: a full pass leaves a sidecar" test -s "$P.ckpt"
is "phases: 30 events chunks or more (one at least per phase)" "$(( $(awk '$2 == "events"' "$TMP/p.chunks" | wc -l) >= 30 ))" 1
# reads WHAT... : run leakhunt-replay "$P" WHAT... and judge what it read.
# Checkpoints lie where the pass put them: after the first events chunk
# that brings 5,000 events or more since the last, and after the last
# chunk. The nearest before the answer is the last whose chunk ended at or
# before the time of the answer's last event (JSON "time", or "from_time"
# and "to_time"): the replay must say it started there (or at the first
# event when there is none). It must then decode no events chunk beyond
# those up to the answer's time, one more (a time is known to be passed
# only at the first event after it) and the two the prefetch thread reads
# ahead; at the end, none at all.
reads() {
    LEAKHUNT_SHOW_CHECKPOINT=1 LEAKHUNT_SHOW_READS=1 R "$P" "$@" --format json >"$TMP/r.json" 2>"$TMP/r.err" || return 1
    python3 - "$TMP/p.chunks" "$TMP/r.json" "$TMP/r.err" <<'PY'
import json, re, sys
chunks = [l.split() for l in open(sys.argv[1]).read().splitlines()[1:]]
ev = [(int(c[4]), int(c[5]), int(c[6])) for c in chunks if c[1] == 'events']  # events, first_us, last_us
j = json.load(open(sys.argv[2]))
err = open(sys.argv[3]).read()
ckpts, cum, last = [], 0, 0
for i, (n, first, lastus) in enumerate(ev):
    cum += n
    if cum - last >= 5000 or i == len(ev) - 1:
        ckpts.append((cum, lastus, i + 1))   # events, time, chunks before it
        last = cum
times = [j['time']] if 'time' in j else [j['from_time'], j['to_time']]
starts = [int(x) for x in re.findall(r'started at the checkpoint after event (\d+)', err)]
decoded = [int(x) for x in re.findall(r'decoded \d+ chunks, (\d+) of events', err)]
started = iter(starts)
if len(decoded) != len(times):
    sys.exit('%d replays for %d moments: %s' % (len(decoded), len(times), err))
for t, d in zip(times, decoded):
    t_us = round(t * 1e6)
    near = [c for c in ckpts if c[1] <= t_us]
    want = near[-1] if near else (0, 0, 0)
    got = next(started, 0) if want[0] else 0
    if got != want[0]:
        sys.exit('at %.6f s: started after event %d, want the checkpoint after event %d' % (t, got, want[0]))
    need = sum(1 for n, first, lastus in ev[want[2]:] if first <= t_us)
    bound = 0 if want[2] == len(ev) else need + 1 + 2
    if d > bound:
        sys.exit('at %.6f s: decoded %d events chunks, want at most %d (%d of them needed)' % (t, d, bound, need))
PY
}
for at in start 2ms 30ms 30000us 0.03s 5% 30% 50% 70% 99% 100% '#0' '#1' '#20000' '#30001' '#59000' \
          mark:phase mark:half mark:phase#16 'mark:phase#30' peak end; do
    ok_if "phases --at $at: starts at the nearest checkpoint, stops at its moment" reads --at "$at"
done
for d in "20% 80%" "start end" "mark:phase#3 peak" "#10000 mark:half" "peak end" "5% 95%"; do
    # shellcheck disable=SC2086 # two moments
    ok_if "phases --diff $d: each side starts near and stops at its moment" reads --diff $d
done
ok_if "phases --leaks: starts at the state after the last event" reads --leaks
is "phases --at end: no events chunk decoded" \
    "$(LEAKHUNT_SHOW_READS=1 R "$P" --at end 2>&1 >/dev/null | sed -n 's/.*decoded [0-9]* chunks, \([0-9]*\) of events.*/\1/p')" 0
# A sidecar with no checkpoint before an early moment is kept, not
# rewritten by a full pass.
before=$(stat -c %y "$P.ckpt"); sleep 0.01
R "$P" --at 1% >/dev/null
is "phases --at 1%: the sidecar is kept" "$(stat -c %y "$P.ckpt")" "$before"
same_answer_p() {
    local a b
    a=$(R "$P" "$@" --by stack --top 0 --format json 2>&1)
    b=$(R "$P" "$@" --by stack --top 0 --format json --no-checkpoints 2>&1)
    [ "$a" = "$b" ] && [ -n "$a" ]
}
for at in start 30ms 5% 30% 50% 99% '#1' '#20000' '#60003' mark:half mark:phase#16 peak end; do
    ok_if "phases --at $at: same answer" same_answer_p --at "$at"
done
for d in "20% 80%" "mark:phase#3 peak" "#10000 mark:half" "start end"; do
    # shellcheck disable=SC2086 # two moments
    ok_if "phases --diff $d: same answer" same_answer_p --diff $d
done
ok_if "phases --stats: same answer" sh -c "[ \"\$('$BIN/leakhunt-replay' '$P' --stats --format json)\" = \"\$('$BIN/leakhunt-replay' '$P' --stats --format json --no-checkpoints)\" ]"

# --no-checkpoints neither reads nor judges TRACE.ckpt: a FIFO there is
# noted ("not a regular file") by a replay that looks, and not by one that
# does not (tests/unit/test_checkpoint_stale.c: a rewritten trace's stale
# sidecar is not trusted either way).
rm -f "$P.ckpt"; mkfifo "$P.ckpt"
is "a FIFO at TRACE.ckpt is noted when checkpoints are on" \
    "$(timeout 60 "$BIN/leakhunt-replay" "$P" --leaks 2>&1 >/dev/null | grep -c 'not a regular file')" 1
is "--no-checkpoints: TRACE.ckpt is not looked at" \
    "$(timeout 60 "$BIN/leakhunt-replay" "$P" --leaks --no-checkpoints 2>&1 >/dev/null)" ""
rm -f "$P.ckpt"
done_testing
