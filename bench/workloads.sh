# bench/workloads.sh - the programs `make bench` runs, sourced by run.sh.
# Each workload is a function printing the command line to run: leading
# NAME=VALUE words are environment settings (run.sh puts them in front of
# the tool, so the tool traces the program itself and not /usr/bin/env);
# no argument contains spaces.

# Sizes scale with BENCH_SCALE (1 = the published table; CI never runs bench).
BENCH_SCALE=${BENCH_SCALE:-1}

# /usr/bin/python3, not whatever python3 is first in PATH: a pyenv shim is a
# bash script that forks, and the tools would trace the shell.
BENCH_PYTHON=${BENCH_PYTHON:-/usr/bin/python3}

workload_churn()    { echo "$BENCH_BIN/churn 2 $((1000000 * BENCH_SCALE))"; }
workload_python()   { echo "PYTHONMALLOC=malloc PYTHONHASHSEED=0 $BENCH_PYTHON $BENCH_DIR/alloc_heavy.py $((60000 * BENCH_SCALE))"; }
workload_sqlite()   { echo "sqlite3 $BENCH_TMP/bench.db -init $BENCH_TMP/bench.sql .quit"; }
workload_server()   { echo "$BENCH_BIN/server_like $((1000000 * BENCH_SCALE))"; }

# Run before every single measurement of the workload.
reset_sqlite()      { rm -f "$BENCH_TMP/bench.db"; }

WORKLOADS="churn python sqlite server"

# Only for the --sample accuracy table: the server's leak made the size of
# one worth hunting in production (80 MiB per million requests; the
# workloads above hold a few KiB to a few MiB, below what a 512K interval
# can resolve).
workload_server_leak() { echo "$BENCH_BIN/server_like $((1000000 * BENCH_SCALE)) 4096"; }
# Growth for the accuracy table between the program's own markers.
growth_server()      { echo "--diff mark:warm mark:loaded"; }
growth_server_leak() { echo "--diff mark:warm mark:loaded"; }
ACCURACY_WORKLOADS="server_leak"

# One-time inputs.
prepare_workloads() {
    rm -f "$BENCH_TMP/bench.db"
    python3 - "$BENCH_TMP/bench.sql" "$((20000 * BENCH_SCALE))" <<'PY'
import sys, random
out, n = sys.argv[1], int(sys.argv[2])
random.seed(7)
with open(out, "w") as f:
    f.write("PRAGMA journal_mode=OFF; PRAGMA synchronous=OFF;\n")
    f.write("DROP TABLE IF EXISTS t; CREATE TABLE t(id INTEGER PRIMARY KEY, name TEXT, qty INT, note TEXT);\n")
    f.write("BEGIN;\n")
    for i in range(n):
        name = "".join(random.choice("abcdefghij") for _ in range(12))
        f.write(f"INSERT INTO t(name, qty, note) VALUES('{name}', {random.randint(1, 999)}, '{name * 3}');\n")
    f.write("COMMIT;\nCREATE INDEX t_name ON t(name);\n")
    f.write("SELECT name, count(*), sum(qty) FROM t GROUP BY substr(name, 1, 3) ORDER BY 3 DESC LIMIT 5;\n")
    f.write("SELECT count(*) FROM t a JOIN t b ON a.qty = b.qty WHERE a.id < 2000;\n")
PY
}
