#!/bin/bash
# replay_checkpoints: a full pass leaves TRACE.ckpt; answers that start from
# a checkpoint are identical to answers from the first event, for every
# moment form; a changed trace or a damaged sidecar is never trusted.
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
for at in 0.0005 30% 50% 99% '#150' '#1000' '#2041' mark:start mark:before mark:after peak end; do
    ok_if "--at $at: same answer from a checkpoint" same_answer --at "$at"
done
started() { LEAKHUNT_SHOW_CHECKPOINT=1 R "$T" --at "$1" 2>&1 >/dev/null | sed -n 's/.*started at the checkpoint after event \([0-9]*\)$/\1/p'; }
# Checkpoints sit between event chunks: after the first chunk of 2031
# events and after the next ones.
is "--at '#2041' starts at the checkpoint after the first chunk" "$(started '#2041')" 2031
is "--at '#1000' starts at the beginning (no checkpoint before it)" "$(started '#1000')" ""
is "--at mark:after starts at the last checkpoint before the marker" "$(( $(started mark:after) >= 1900 ))" 1
is "--at start needs no checkpoint" "$(started start)" ""
ok_if "--diff mark:before mark:after: same answer" same_answer --diff mark:before mark:after
ok_if "--diff 30% end: same answer" same_answer --diff 30% end
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
printf '\377' | dd of="$T.ckpt" bs=1 seek=$((size - 300)) conv=notrunc 2>/dev/null
is "a damaged checkpoint is not loaded" "$(started mark:after)" ""
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
done_testing
