#!/bin/bash
# trace_encoding: format 1.4's event batches (encoding 2) and format 1.3's
# (encoding 1, leakhunt-record's default again: its replay is faster) hold
# the same events. Each trace below, recorded once in encoding 2
# (LEAKHUNT_TRACE_ENCODING=2), is written again in encoding 1
# (build/bench/lht-recode, which keeps every chunk), and every view of
# leakhunt-replay must print the same bytes from both, apart from the
# trace's name and file size. A trace recorded without the variable or
# with LEAKHUNT_TRACE_ENCODING=1 is format 1.3's encoding, replays like an
# encoding-2 one, and a bad value is refused before the program runs.
# The checked-in 1.3 trace (tests/data/known_allocs-1.3.lht) still replays.
. "$(dirname "$0")/../lib.sh"
SBIN=$ROOT/build/samples
R() { "$BIN/leakhunt-replay" "$@" 2>&1; }

rec() { # name, program and args
    local name=$1; shift
    (cd "$TMP" && LEAKHUNT_TRACE_ENCODING=2 "$BIN/leakhunt-record" -q -o "$TMP/$name.lht" -- "$@" >/dev/null 2>&1)
}
rec churn "$ROOT/build/bench/churn" 2 30000
rec known "$TBIN/progs/known_allocs"
rec phases "$TBIN/progs/phases"
rec cache "$SBIN/bounded-cache" --capacity 200 --ids 2000 --lookups 1500 --batches 5 --pace-ms 2
rec bursty "$SBIN/bursty-leak" --pause-ms 50
rec cpp "$SBIN/cpp-leaks" --requests 100
rec pc "$SBIN/producer-consumer" --messages 2000 --consumers 3

# The same view of two traces, the trace's name and size taken out.
norm() { sed -E -e 's/[0-9.,]+ [KMG]?i?B, [0-9.]+ bytes\/event/SIZE/' -e "s|$1|TRACE|g" -e "s|$(basename "$1")|TRACE|g" -e 's/"file_bytes": [0-9]*/"file_bytes": N/' -e 's/[0-9.]* [KMG]*i*B on disk/SIZE on disk/'; }
same_views() { # new old
    local a=$1 b=$2 v out_a out_b bad=0
    while IFS= read -r v; do
        # shellcheck disable=SC2086 # a view is several words
        out_a=$(R "$a" $v | norm "$a")
        # shellcheck disable=SC2086
        out_b=$(R "$b" $v | norm "$b")
        if [ "$out_a" != "$out_b" ] || [ -z "$out_a" ]; then
            echo "#   $(basename "$a"): '$v' differs"; bad=1
        fi
    done <<'EOF'
--leaks --top 0
--at 50% --by stack --top 0
--at 50% --by line --format json --top 0
--diff 25% 75% --by function --top 0
--diff 25% 75% --by stack --format json --top 0
--peak --by line --top 0
--growth --by function --top 0
--stats
--stats --format json
--stats --by stack --top 0
--stats --by line --format json --top 0
--leaks --by function --format json --top 0
--at #100 --by stack --top 0
--folded
EOF
    return $bad
}

for name in churn known phases cache bursty cpp pc; do
    T=$TMP/$name.lht
    if [ ! -s "$T" ]; then fail "$name: recorded" "no trace"; continue; fi
    "$RECODE" --encoding 1 "$T" "$TMP/$name.v1.lht"
    ok_if "$name: written again in encoding 1" test -s "$TMP/$name.v1.lht"
    ok_if "$name: every view is the same in both encodings" same_views "$T" "$TMP/$name.v1.lht"
    a=$("$RECODE" --columns "$T" | sed -n 's/.*file \([0-9]*\) B.*/\1/p')
    b=$("$RECODE" --encoding 1 --columns "$T" | sed -n 's/.*file \([0-9]*\) B.*/\1/p')
    ok_if "$name: encoding 2 is no bigger ($a against $b bytes)" test "$a" -le "$b"
done
# Checkpointed answers over encoding 2 (seeks land on its chunks).
T=$TMP/churn.lht
R "$T" --stats >/dev/null
ok_if "churn: a checkpointed --at equals a full pass" \
    test "$(R "$T" --at 60% --by stack --top 0)" = "$(R "$T" --at 60% --by stack --top 0 --no-checkpoints)"

# The recorder's switch.
(cd "$TMP" && LEAKHUNT_TRACE_ENCODING=1 "$BIN/leakhunt-record" -q -o "$TMP/k1.lht" -- "$TBIN/progs/known_allocs" >/dev/null 2>&1)
(cd "$TMP" && "$BIN/leakhunt-record" -q -o "$TMP/kd.lht" -- "$TBIN/progs/known_allocs" >/dev/null 2>&1)
ok_if "LEAKHUNT_TRACE_ENCODING=1 writes format 1.3's columns" in_encoding_1 "$TMP/k1.lht"
ok_if "without LEAKHUNT_TRACE_ENCODING too (the default)" in_encoding_1 "$TMP/kd.lht"
ok_if "LEAKHUNT_TRACE_ENCODING=2 writes 1.4's packed columns (not encoding 1)" eval '! in_encoding_1 "$TMP/known.lht"'
is "LEAKHUNT_TRACE_ENCODING=1: the same leaks as encoding 2" \
    "$(R "$TMP/k1.lht" --leaks --top 0 | tail -n +2)" "$(R "$TMP/known.lht" --leaks --top 0 | tail -n +2)"
is "the default: the same leaks as encoding 2" \
    "$(R "$TMP/kd.lht" --leaks --top 0 | tail -n +2)" "$(R "$TMP/known.lht" --leaks --top 0 | tail -n +2)"
out=$(LEAKHUNT_TRACE_ENCODING=3 "$BIN/leakhunt-record" -q -o "$TMP/k3.lht" -- /bin/true 2>&1); st=$?
ok_if "LEAKHUNT_TRACE_ENCODING=3 is refused" test "$st" -ne 0
case $out in *LEAKHUNT_TRACE_ENCODING*) pass "the message names the variable" ;; *) fail "the message names the variable" "$out" ;; esac

# A trace recorded by format 1.3's recorder (checked in) reads as before.
OLD=$ROOT/tests/data/known_allocs-1.3.lht
ok_if "the 1.3 trace says 1.3" sh -c "'$BIN/leakhunt-dump' --json '$OLD' | grep -q '\"version\":\"1.3\"'"
is "the 1.3 trace: its stats as recorded" "$(R "$OLD" --stats --format json | norm "$OLD")" \
    "$(norm "$ROOT/tests/data/known_allocs-1.3.lht" < "$ROOT/tests/data/known_allocs-1.3.stats.json")"
"$RECODE" "$OLD" "$TMP/old.v2.lht"
ok_if "the 1.3 trace written in encoding 2: every view the same" same_views "$OLD" "$TMP/old.v2.lht"
done_testing
