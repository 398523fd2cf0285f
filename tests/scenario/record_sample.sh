#!/bin/bash
# record_sample: --sample SIZE records a Poisson sample of the allocations
# (tests/progs/sampled_allocs, whose allocations are known exactly) and
# replay estimates the totals. With fixed seeds (LEAKHUNT_SAMPLE_SEED): the
# estimator is unbiased within bounds, blocks at or above the interval are
# exact, the frees of unrecorded blocks never appear (no unknown frees, the
# freed functions end at zero), and the same seed gives the same trace.
. "$(dirname "$0")/../lib.sh"
P=$TBIN/progs/sampled_allocs
SEEDS="1 2 3 4 5 6 7 8 9 10"

"$P" >"$TMP/native.out"
for seed in $SEEDS; do
    (cd "$TMP" && LEAKHUNT_SAMPLE_SEED=$seed "$BIN/leakhunt-record" -q --sample 64K -o "$TMP/s$seed.lht" -- "$P" \
        >"$TMP/s$seed.out" 2>"$TMP/s$seed.err")
    echo "$?" >"$TMP/s$seed.rc"
    "$BIN/leakhunt-replay" "$TMP/s$seed.lht" --leaks --by function --top 0 --format json >"$TMP/s$seed.json"
    "$BIN/leakhunt-replay" "$TMP/s$seed.lht" --stats --format json >"$TMP/s$seed.stats"
done

ok_if "every run exits 0 with the program's output" bash -c \
    "for s in $SEEDS; do [ \$(cat $TMP/s\$s.rc) = 0 ] && cmp -s $TMP/native.out $TMP/s\$s.out || exit 1; done"
is "nothing on stderr with -q" "$(cat "$TMP"/s*.err)" ""

# One python pass over the ten traces: per-function estimates and totals.
python3 - "$TMP" $SEEDS >"$TMP/report" <<'PY'
import json, sys, statistics
tmp, seeds = sys.argv[1], sys.argv[2:]
small, big, other, unknown, events, lost = [], [], [], [], [], []
for s in seeds:
    rows = json.load(open(f"{tmp}/s{s}.json"))["rows"]
    st = json.load(open(f"{tmp}/s{s}.stats"))
    by = {r["function"]: (r["bytes"], r["count"]) for r in rows}
    small.append(by.get("small_leak", (0, 0)))
    big.append(by.get("big_leak", (0, 0)))
    other.append(sum(b for f, (b, c) in by.items() if f in ("churn", "producer", "consumer", "grow")))
    unknown.append(st["unknown_frees"]); events.append(st["events"]); lost.append(st["lost_events"])
sb = [b for b, c in small]; sc = [c for b, c in small]
print("big", sorted(set(big)))
print("small_mean_err_pct", round(abs(statistics.mean(sb) / 6400000 - 1) * 100, 1))
print("small_count_mean_err_pct", round(abs(statistics.mean(sc) / 100000 - 1) * 100, 1))
print("small_max_err_pct", round(max(abs(b / 6400000 - 1) for b in sb) * 100, 1))
print("freed_left", sum(other))
print("unknown", sum(unknown))
print("lost", sum(lost))
print("max_events", max(events))
PY
val() { sed -n "s/^$1 //p" "$TMP/report"; }
is "blocks at or above the interval are exact: big_leak 40 x 1 MiB in every run" "$(val big)" "[(41943040, 40)]"
# The boundary itself: at --sample 1M a block of exactly 1 MiB is one of
# SIZE or more, recorded every time with its true size.
for seed in 1 2 3; do
    (cd "$TMP" && LEAKHUNT_SAMPLE_SEED=$seed "$BIN/leakhunt-record" -q --sample 1M -o "$TMP/m$seed.lht" -- "$P" >/dev/null)
    "$BIN/leakhunt-replay" "$TMP/m$seed.lht" --leaks --by function --top 0 --format json >"$TMP/m$seed.json"
done
is "a block of exactly the interval is always recorded, as itself (3 seeds at --sample 1M)" \
    "$(for seed in 1 2 3; do json_get "$TMP/m$seed.json" "[(r['bytes'], r['count']) for r in j['rows'] if r['function'] == 'big_leak']"; done | sort -u)" \
    "[(41943040, 40)]"
ok_if "small_leak: mean estimate over 10 seeds within 8% of 6,400,000 B (got $(val small_mean_err_pct)%)" \
    python3 -c "import sys; sys.exit(not $(val small_mean_err_pct) <= 8)"
ok_if "small_leak: mean block count within 8% of 100,000 (got $(val small_count_mean_err_pct)%)" \
    python3 -c "import sys; sys.exit(not $(val small_count_mean_err_pct) <= 8)"
ok_if "small_leak: every run within 40% (worst $(val small_max_err_pct)%)" \
    python3 -c "import sys; sys.exit(not $(val small_max_err_pct) <= 40)"
is "blocks freed (churn, handoff across threads, realloc'd) leave nothing live" "$(val freed_left)" 0
is "no free of an unrecorded block appears (unknown frees)" "$(val unknown)" 0
is "nothing lost" "$(val lost)" 0

(cd "$TMP" && LEAKHUNT_SAMPLE_SEED=3 "$BIN/leakhunt-record" -q --sample 64K -o "$TMP/again.lht" -- "$P" >/dev/null)
"$BIN/leakhunt-replay" "$TMP/again.lht" --leaks --by function --top 0 --format json >"$TMP/again.json"
is "the same seed records the same sample" \
    "$(json_get "$TMP/again.json" "j['rows']")" "$(json_get "$TMP/s3.json" "j['rows']")"

# Every answer from a sampled trace says it is an estimate.
"$BIN/leakhunt-replay" "$TMP/s1.lht" --leaks --by function >"$TMP/s1.txt"
ok_if "text title: (estimated, sampled every 64.0 KiB)" grep -q "by function (estimated, sampled every 64.0 KiB)$" "$TMP/s1.txt"
is "JSON: estimated" "$(json_get "$TMP/s1.json" "j['estimated']")" True
is "JSON: sample_interval" "$(json_get "$TMP/s1.json" "j['sample_interval']")" 65536
is "--stats JSON: estimated, sample_interval" \
    "$(json_get "$TMP/s1.stats" "(j['estimated'], j['sample_interval'])")" "(True, 65536)"
"$BIN/leakhunt-replay" "$TMP/s1.lht" --stats >"$TMP/s1.stats.txt"
ok_if "--stats text: a 'sampled' line" grep -q "^sampled      one allocation per 64.0 KiB allocated was recorded" "$TMP/s1.stats.txt"
"$BIN/leakhunt-replay" "$TMP/s1.lht" --diff start end --by function --format json >"$TMP/s1.diff.json"
is "--diff JSON: estimated" "$(json_get "$TMP/s1.diff.json" "j['estimated']")" True
"$BIN/leakhunt-replay" "$TMP/s1.lht" --leaks --folded - --filter small_leak >"$TMP/s1.folded"
is "folded export: small_leak's estimated bytes, as the table says" \
    "$(awk '{s += $NF} END {print s}' "$TMP/s1.folded")" \
    "$(json_get "$TMP/s1.json" "sum(r['bytes'] for r in j['rows'] if r['function'] == 'small_leak')")"
"$BIN/leakhunt-replay" "$TMP/s1.lht" --histogram --format json >"$TMP/s1.hist.json"
is "histogram: the 64-127 B bucket holds small_leak's estimated blocks and more" \
    "$(json_get "$TMP/s1.hist.json" "[b['count'] >= $(json_get "$TMP/s1.json" "[r['count'] for r in j['rows'] if r['function'] == 'small_leak'][0]") for b in j['buckets'] if b['min'] == 64]")" "[True]"
"$BIN/leakhunt-top" -b -n 1 "$TMP/s1.lht" >"$TMP/s1.top"
ok_if "leakhunt-top: the title says estimated, sampled every 64.0 KiB" \
    grep -q "estimated, sampled every 64.0 KiB" "$TMP/s1.top"

# Exact recording stays the default.
(cd "$TMP" && "$BIN/leakhunt-record" -q -o "$TMP/exact.lht" -- "$P" >/dev/null)
"$BIN/leakhunt-replay" "$TMP/exact.lht" --leaks --by function --top 0 --format json >"$TMP/exact.json"
is "without --sample: small_leak exact" \
    "$(json_get "$TMP/exact.json" "[(r['bytes'], r['count']) for r in j['rows'] if r['function'] == 'small_leak']")" \
    "[(6400000, 100000)]"
"$BIN/leakhunt-replay" "$TMP/exact.lht" --stats --format json >"$TMP/exact.stats"
is "an exact trace: estimated false, sample_interval 0" \
    "$(json_get "$TMP/exact.json" "(j['estimated'], j['sample_interval'])")" "(False, 0)"
exact_events=$(json_get "$TMP/exact.stats" "j['events']")
ok_if "a sample: at most 1% of the exact trace's $exact_events events (most $(val max_events))" \
    test "$(val max_events)" -le $((exact_events / 100))
# Event bytes (the stack table and module maps are the same in both):
# format 1.4's encoding packs the exact trace's steady loop to a fraction
# of what 1.3's took, and the sample's scattered events far less, so a 1%
# sample now costs 8% of the exact trace's event bytes (1.3: under 5%).
ev_bytes() { "$BIN/leakhunt-dump" --json "$1" | python3 -c 'import json,sys; print(json.load(sys.stdin)["chunks"]["events"]["packed"])'; }
ok_if "and at most 10% of its event bytes" \
    test "$(ev_bytes "$TMP/s1.lht")" -le $(($(ev_bytes "$TMP/exact.lht") / 10))

# --sample 1: every allocation of a byte or more contains a sample point.
(cd "$TMP" && "$BIN/leakhunt-record" -q --sample 1 -o "$TMP/one.lht" -- "$P" >/dev/null)
"$BIN/leakhunt-replay" "$TMP/one.lht" --leaks --by function --top 0 --format json >"$TMP/one.json"
is "--sample 1 records every block, at weight 1" \
    "$(json_get "$TMP/one.json" "[(r['bytes'], r['count']) for r in j['rows'] if r['function'] == 'small_leak']")" \
    "[(6400000, 100000)]"

# The summary says the trace is a sample.
(cd "$TMP" && "$BIN/leakhunt-record" --sample 512K -o "$TMP/sum.lht" -- "$P" >/dev/null 2>"$TMP/sum.err")
ok_if "summary: sampled, one allocation per 512 KiB" grep -q "sampled: about one allocation per 512.0 KiB" "$TMP/sum.err"

# Bad values name the option (leakhunt-record) or the variable (the library).
for bad in 0 -5 12Q 2T; do
    "$BIN/leakhunt-record" --sample "$bad" -- true >/dev/null 2>"$TMP/bad.err"
    is "--sample $bad: usage error" "$?" 2
    ok_if "--sample $bad: named" grep -q -- "--sample '$bad'" "$TMP/bad.err"
done
(cd "$TMP" && LEAKHUNT_SAMPLE=lots "$BIN/leakhunt-record" -o "$TMP/bad.lht" -- "$P" >"$TMP/badenv.out" 2>"$TMP/badenv.err")
is "LEAKHUNT_SAMPLE=lots: the program still runs as usual" "$(cat "$TMP/badenv.out")" "sampled_allocs done"
ok_if "LEAKHUNT_SAMPLE=lots: named, not recording" grep -q "LEAKHUNT_SAMPLE=lots: expected a size" "$TMP/badenv.err"
# Attached (-p) with --sample: the setting travels in the attach file; the
# frees of blocks allocated before the attach are never recorded.
# A sampled trace is written in encoding 2 (its irregular events pack best
# there); LEAKHUNT_TRACE_ENCODING=1 still chooses encoding 1.
LEAKHUNT_SAMPLE_SEED=3 "$BIN/leakhunt-record" -q --sample 4K -o "$TMP/enc2.lht" -- "$P" >/dev/null 2>&1
LEAKHUNT_SAMPLE_SEED=3 LEAKHUNT_TRACE_ENCODING=1 "$BIN/leakhunt-record" -q --sample 4K -o "$TMP/enc1.lht" -- "$P" >/dev/null 2>&1
ok_if "--sample: the trace is in encoding 2 by default" eval '! in_encoding_1 "$TMP/enc2.lht"'
ok_if "--sample with LEAKHUNT_TRACE_ENCODING=1: encoding 1" in_encoding_1 "$TMP/enc1.lht"
is "both give the same estimate" "$("$BIN/leakhunt-replay" "$TMP/enc2.lht" --leaks --top 0 | tail -n +2)" \
    "$("$BIN/leakhunt-replay" "$TMP/enc1.lht" --leaks --top 0 | tail -n +2)"

A=$TBIN/progs/attach_target
cmd() { echo "$1" >&"${TGT[1]}"; local line; IFS= read -r -t 30 line <&"${TGT[0]}" || line="(no answer)"; echo "$line"; }
coproc TGT { exec "$A"; }
APID=$TGT_PID
trap 'kill $APID 2>/dev/null; rm -rf "$TMP"' EXIT
is "target: 1000 blocks before the attach" "$(cmd 'a 1000')" ok
LEAKHUNT_SAMPLE_SEED=5 "$BIN/leakhunt-record" -p "$APID" --sample 16K -o "$TMP/att.lht" >/dev/null 2>"$TMP/att.err" &
REC=$!
for _ in $(seq 150); do grep -q "recording to" "$TMP/att.err" && break; kill -0 $REC 2>/dev/null || break; sleep 0.1; done
ok_if "attached with --sample" grep -q "recording to $TMP/att.lht" "$TMP/att.err"
is "b: 20,000 x calloc(1, 200) while attached" "$(cmd 'b 20000')" ok
"$BIN/leakhunt-mark" "$APID" loaded
is "free the blocks allocated before the attach" "$(cmd free-a)" ok
"$BIN/leakhunt-mark" "$APID" --stop
wait $REC
is "leakhunt-record -p exits 0" "$?" 0
is "program's own total" "$(cmd quit)" "bye total=21000"
"$BIN/leakhunt-replay" "$TMP/att.lht" --at mark:loaded --by function --top 0 --format json >"$TMP/att.json"
"$BIN/leakhunt-replay" "$TMP/att.lht" --stats --format json >"$TMP/att.stats"
ok_if "alloc_b estimated within 30% of 4,000,000 B at the mark ($(json_get "$TMP/att.json" \
    "sum(r['bytes'] for r in j['rows'] if r['function'] == 'alloc_b')"))" \
    python3 -c "import json,sys; j=json.load(open('$TMP/att.json'))
b=sum(r['bytes'] for r in j['rows'] if r['function'] == 'alloc_b'); sys.exit(not 2800000 <= b <= 5200000)"
is "no free of a block from before the attach is recorded" "$(json_get "$TMP/att.stats" "j['unknown_frees']")" 0
done_testing
