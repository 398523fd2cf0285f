#!/bin/bash
# tests/torture/cpython_suite.sh [--quick] [MODULE...] - CPython's own
# regression tests as a gate for the recorder: each module of Debian's
# libpython3.11-testsuite runs natively and under
# `leakhunt-record -q -o $TMP/py.%p.lht --` (so every process it forks and
# execs is recorded too), each run with a time limit. One TAP line per
# module: ok when the recorded run finished and every test has the outcome
# it had natively (pass, fail or skip, read from --junit-xml; failures and
# errors both count as fail) with the same exit status. Threads, fork,
# exec, signals, ptys, mmap, descriptors and wait are where an in-process
# writer thread shows.
#   --quick  a subset that takes about a minute natively (for make check)
#   MODULE   these modules instead of the list below
# Environment: LH_PY_TIMEOUT seconds per run (default 900; 300 with --quick);
# LH_PY_LOGS=DIR keeps every run's log and outcomes there.
# Installs libpython3.11-testsuite when it is missing (needs root: apt-get).
# Uses Debian's /usr/bin/python3.11, whatever python3 is first in PATH.
# make torture runs every module; make check the --quick subset
# (tests/scenario/cpython_quick.sh).
. "$(dirname "$0")/../lib.sh"
PY=/usr/bin/python3.11
REC=$BIN/leakhunt-record
ALL="test_threading test_subprocess test_posix test_os test_signal test_fork1 test_wait4 test_mmap
     test_faulthandler test_concurrent_futures test_pty test_threadsignals"
QUICK_LIST="test_fork1 test_wait4 test_threadsignals test_posix"
TMO=${LH_PY_TIMEOUT:-900}
if [ "${1:-}" = --quick ]; then shift; TMO=${LH_PY_TIMEOUT:-300}; mods=$QUICK_LIST; else mods=$ALL; fi
[ $# -gt 0 ] && mods="$*"

[ -x "$PY" ] || { echo "Bail out! $PY missing (apt-get install python3.11)"; exit 1; }
[ -x "$REC" ] || { echo "Bail out! $REC missing: run make all"; exit 1; }
testdir=$("$PY" -c 'import os, sysconfig; print(os.path.join(sysconfig.get_path("stdlib"), "test"))')
if [ ! -f "$testdir/test_fork1.py" ]; then
    echo "# installing libpython3.11-testsuite"
    { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq libpython3.11-testsuite; } >"$TMP/apt.log" 2>&1 \
        || { echo "Bail out! cannot install libpython3.11-testsuite: $(tail -1 "$TMP/apt.log")"; exit 1; }
fi

# outcomes XML: one "test-id<TAB>outcome" line per test case, sorted (ids
# like "setUpClass (test.test_os.X)" have spaces); nothing
# when the file is missing or unreadable (a run that was killed)
outcomes() {
    "$PY" - "$1" <<'PY' 2>/dev/null
import sys, xml.etree.ElementTree as ET
try:
    root = ET.parse(sys.argv[1]).getroot()
except Exception:
    sys.exit(1)
rows = []
for tc in root.iter('testcase'):
    kinds = {c.tag for c in tc}
    rows.append((tc.get('name'), 'fail' if kinds & {'failure', 'error'} else 'skip' if 'skipped' in kinds else 'pass'))
for name, st in sorted(rows):
    print(name + '\t' + st)
PY
}
# summary FILE RC SECS: "exit 0, 12 pass 0 fail 3 skip, 41 s" or what went wrong
summary() {
    local f=$1 rc=$2 s=$3
    case $rc in 124|137) echo "TIMEOUT after ${s} s"; return;; esac
    if [ ! -s "$f" ]; then echo "exit $rc, no test results, ${s} s"; return; fi
    echo "exit $rc, $(awk -F'\t' '{n[$2]++} END {printf "%d pass %d fail %d skip", n["pass"], n["fail"], n["skip"]}' "$f"), ${s} s"
}
# run KIND MODULE [PREFIX...]: one run of MODULE -> $TMP/KIND.MODULE.{log,xml,res,rc,secs}
run() {
    local kind=$1 m=$2; shift 2
    local base=$TMP/$kind.$m start=$SECONDS
    mkdir -p "$TMP/cwd"
    (cd "$TMP/cwd" && exec timeout -k 10 "$TMO" "$@" "$PY" -m test -v --junit-xml "$base.xml" "$m") >"$base.log" 2>&1
    echo $? >"$base.rc"; echo $((SECONDS - start)) >"$base.secs"
    outcomes "$base.xml" >"$base.res"
}

table=()
for m in $mods; do
    [ -f "$testdir/$m.py" ] || [ -d "$testdir/$m" ] || { fail "$m: no such test module in $testdir"; continue; }
    run native "$m"
    rm -f "$TMP"/py.*.lht
    run recorded "$m" "$REC" -q -o "$TMP/py.%p.lht" --
    ntr=$(ls "$TMP"/py.*.lht 2>/dev/null | wc -l); sz=$(du -cm "$TMP"/py.*.lht 2>/dev/null | tail -1 | cut -f1)
    rm -f "$TMP"/py.*.lht # they can be large; only their number is reported
    n_rc=$(cat "$TMP/native.$m.rc") r_rc=$(cat "$TMP/recorded.$m.rc")
    n_sum=$(summary "$TMP/native.$m.res" "$n_rc" "$(cat "$TMP/native.$m.secs")")
    r_sum=$(summary "$TMP/recorded.$m.res" "$r_rc" "$(cat "$TMP/recorded.$m.secs")")
    table+=("$(printf '%-24s native: %-40s recorded: %s (%s traces, %s MB)' "$m" "$n_sum" "$r_sum" "$ntr" "${sz:-0}")")
    if [ "$r_rc" = 124 ] || [ "$r_rc" = 137 ]; then
        fail "$m: recorded run finished within $TMO s" "recorded: $r_sum; native: $n_sum"
        grep -E '^test_\S+ \(' "$TMP/recorded.$m.log" | tail -1 | sed 's/^/#   last test started: /'
    elif [ ! -s "$TMP/recorded.$m.res" ]; then
        fail "$m: recorded run reported its tests" "recorded: $r_sum; native: $n_sum"
        tail -5 "$TMP/recorded.$m.log" | sed 's/^/#   /'
    elif cmp -s "$TMP/native.$m.res" "$TMP/recorded.$m.res" && [ "$r_rc" = "$n_rc" ]; then
        pass "$m: every test as natively ($n_sum; recorded ${r_sum##*, })"
    else
        fail "$m: recorded outcomes as natively" "native: $n_sum; recorded: $r_sum"
        LC_ALL=C join -t "$(printf '\t')" -a1 -a2 -e missing -o 0,1.2,2.2 "$TMP/native.$m.res" "$TMP/recorded.$m.res" 2>/dev/null \
            | awk -F'\t' '$2 != $3 { print "#   " $1 ": native " $2 ", recorded " $3 }' | head -10
        # the first failure's traceback, for the log
        awk '/^(FAIL|ERROR): /{p=1} p{print "#   " $0; if (++k > 25) exit}' "$TMP/recorded.$m.log"
    fi
done
if [ -n "${LH_PY_LOGS:-}" ]; then mkdir -p "$LH_PY_LOGS" && cp "$TMP"/*.log "$TMP"/*.res "$TMP"/*.rc "$TMP"/*.secs "$LH_PY_LOGS"/ 2>/dev/null; fi
echo "# per module:"
for l in "${table[@]}"; do echo "# $l"; done
done_testing
