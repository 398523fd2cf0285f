#!/bin/bash
# tests/scenario/python_allocator.sh - CPython's allocator domains hooked
# (recorder/pyalloc.c, issue 26): every object is recorded with its Python
# stack while pymalloc keeps serving it, at start and attached with -p.
#   (a) at start: no object escapes (no unknown free), the growing line is
#       named with its exact count, against tracemalloc's compare_to in the
#       same run (its snapshots taken at our markers' very moments);
#       arenas apart in --stats; the summary says how objects were recorded
#   (b) the issue's case: a service started normally keeps 2,000 tuples
#       (56 B) per 50 ms for 3 s; attached: the append line grows by at
#       least 5 MB, within 1% of tracemalloc's compare_to('lineno')
#   (c) attach and detach while four threads allocate: their functions in
#       the trace, the previous allocators back exactly (PyMem_GetAllocator
#       through ctypes), the threads run on and the process exits normally
#   (d) an http.server service started normally: attach, warm up, mark,
#       load, mark, diff: the leaking line on top with its size
#   (e) --sample, --python-allocator off and malloc
#   (f) an embedding program that dlopen's libpython (RTLD_LOCAL) late
#   and 3.10 (outside 3.11-3.13: a message, then PYTHONMALLOC=malloc as before)
# With Debian's python3 (3.11: what CI has) and, where present, the pyenv
# builds of 3.11, 3.12 and 3.13; it says which ran. Attaching needs ptrace.
. "$(dirname "$0")/../lib.sh"

PYENV=${LH_PYENV:-/root/.pyenv/versions}   # LH_PYENV=/nonexistent: as on CI
R() { "$BIN/leakhunt-replay" "$@"; }

# --- the programs ----------------------------------------------------------------
# Driven through files in directory $1: say NAME makes $1/NAME, wait_for
# NAME waits for it (the test makes those).
cat >"$TMP/ctl.py" <<'PYEOF'
import ctypes, os, sys, time
D = sys.argv[1]
def say(name):
    open(os.path.join(D, name + ".tmp"), "w").close()
    os.rename(os.path.join(D, name + ".tmp"), os.path.join(D, name))
def wait_for(name):
    p = os.path.join(D, name)
    for _ in range(6000):
        if os.path.exists(p):
            return
        time.sleep(0.01)
    sys.exit("no " + name)
class Allocator(ctypes.Structure):
    _fields_ = [("ctx", ctypes.c_void_p), ("malloc", ctypes.c_void_p), ("calloc", ctypes.c_void_p),
                ("realloc", ctypes.c_void_p), ("free", ctypes.c_void_p)]
def allocators():
    """Each domain's PyMemAllocatorEx (RAW, MEM, OBJ) as numbers."""
    out = []
    for d in range(3):
        a = Allocator()
        ctypes.pythonapi.PyMem_GetAllocator(ctypes.c_int(d), ctypes.byref(a))
        out.append((a.ctx or 0, a.malloc, a.calloc, a.realloc, a.free))
    return out
def in_leakhunt(addr):
    """Whether a function lives in libleakhunt.so."""
    class Info(ctypes.Structure):
        _fields_ = [("fname", ctypes.c_char_p), ("fbase", ctypes.c_void_p),
                    ("sname", ctypes.c_char_p), ("saddr", ctypes.c_void_p)]
    i = Info()
    return bool(ctypes.CDLL(None).dladdr(ctypes.c_void_p(addr), ctypes.byref(i))) and b"libleakhunt" in (i.fname or b"")
PYEOF

# (a), (b): tuples appended to a module-level list in batches. argv: DIR
# BATCHES MODE. start: marks by the recorder's own API; it prints the
# list's pointer array size and a tuple's (sys.getsizeof). attach:
# tracemalloc snapshots around the batches, marks by the test when it is
# told; it prints compare_to('lineno')'s row of the append line. (Not
# both at once at start: there tracemalloc wraps our hooks, and its own
# tables, made at each object's stack, are real memory we record.)
cat >"$TMP/tuples.py" <<'PYEOF'
import ctypes, sys, time, tracemalloc
sys.path.insert(0, sys.argv[1] + "/..")
from ctl import say, wait_for
keep = []
batches, mode = int(sys.argv[2]), sys.argv[3]
def moment(name):
    snap = tracemalloc.take_snapshot() if mode == "attach" else None
    if mode == "start":
        ctypes.CDLL(None).leakhunt_recorder_mark(name.encode())
    else:
        say(name)
        wait_for("go-" + name)
    return snap
if mode == "attach":
    tracemalloc.start()
    say("ready")
    wait_for("attached")
s1 = moment("a")
for n in range(batches):
    for i in range(2000):
        keep.append(("t", n))  # APPEND-LINE
    time.sleep(0.05)
s2 = moment("b")
if mode == "attach":
    for st in s2.compare_to(s1, "lineno"):
        f = st.traceback[0]
        if f.filename == __file__ and "APPEND-LINE" in open(__file__).read().splitlines()[f.lineno - 1]:
            print("tracemalloc", f.lineno, st.size_diff, st.count_diff, flush=True)
else:
    print("sizes", sys.getsizeof(keep) - sys.getsizeof([]), sys.getsizeof(("t", n)), flush=True)
PYEOF
APPEND_LINE=$(grep -n 'APPEND-LINE' "$TMP/tuples.py" | head -1 | cut -d: -f1)

# (c) four threads churning (and one keeping) while we attach and detach
cat >"$TMP/threads.py" <<'PYEOF'
import sys, threading, time
sys.path.insert(0, sys.argv[1] + "/..")
from ctl import say, wait_for, allocators, in_leakhunt
before = allocators()
stop = False
kept = []
done = [0] * 4
def churn(k):
    while not stop:
        x = [(k, i, str(i)) for i in range(200)]
        done[k] += len(x)
def keeper():
    while not stop:
        kept.append(("kept", len(kept)))
        time.sleep(0.0005)
ts = [threading.Thread(target=churn, args=(k,)) for k in range(3)] + [threading.Thread(target=keeper)]
for t in ts: t.start()
say("ready")
wait_for("attached")
time.sleep(0.3)
during = allocators()
print("during", "hooked" if all(in_leakhunt(during[d][1]) for d in (1, 2)) else "not hooked",
      "raw", "hooked" if in_leakhunt(during[0][1]) else "not hooked", flush=True)
say("measured")
wait_for("detached")
time.sleep(0.3)
after = allocators()
print("after", "restored" if after == before else "differ %r %r" % (before, after), flush=True)
n0 = sum(done)
time.sleep(0.3)
stop = True
for t in ts: t.join()
print("threads ran on", "yes" if sum(done) > n0 else "no", flush=True)
PYEOF

# (d) a web service leaking through a decorator into a global dict
cat >"$TMP/service.py" <<'PYEOF'
import functools, http.server, sys
sys.path.insert(0, sys.argv[1] + "/..")
from ctl import say, allocators
AUDIT = {}
def audited(handler):
    @functools.wraps(handler)
    def wrapper(self):
        AUDIT[self.path] = bytes(3000)  # LEAK-LINE
        return handler(self)
    return wrapper
START = allocators()
class Handler(http.server.BaseHTTPRequestHandler):
    @audited
    def do_GET(self):
        body = ("same" if allocators() == START else "differ") if self.path == "/allocators" else "hello"
        body = body.encode()
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)
        if self.path == "/quit":
            self.server.done = True
    def log_message(self, *args):
        pass
srv = http.server.HTTPServer(("127.0.0.1", 0), Handler)
srv.done = False
with open(sys.argv[1] + "/portnum", "w") as f:
    f.write(str(srv.server_address[1]))
say("port")
while not srv.done:
    srv.handle_request()
PYEOF
cat >"$TMP/client.py" <<'PYEOF'
import sys, urllib.request
port, first, n = int(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3])
for i in range(first, first + n):
    with urllib.request.urlopen("http://127.0.0.1:%d/item/%d" % (port, i)) as r:
        r.read()
if len(sys.argv) > 4:
    with urllib.request.urlopen("http://127.0.0.1:%d/%s" % (port, sys.argv[4])) as r:
        print(r.read().decode())
PYEOF
LEAK_LINE=$(grep -n 'LEAK-LINE' "$TMP/service.py" | cut -d: -f1)

# within A B PCT: |A - B| <= PCT% of B
within() { python3 -c 'import sys; a, b, p = map(float, sys.argv[1:]); sys.exit(not abs(a - b) <= p / 100 * abs(b))' "$1" "$2" "$3"; }

# attach_to PID TRACE: leakhunt-record -p in the background ($REC), until it says it records
attach_to() {
	"$BIN/leakhunt-record" -p "$1" -o "$2" --flush-interval 50 >"$TMP/rec.out" 2>"$TMP/rec.err" &
	REC=$!
	for _ in $(seq 150); do grep -q "recording to" "$TMP/rec.err" && return 0; kill -0 $REC 2>/dev/null || break; sleep 0.1; done
	return 1
}
# wait_file D NAME
wait_file() { for _ in $(seq 600); do [ -e "$1/$2" ] && return 0; sleep 0.05; done; return 1; }

check_python() {
local V=$1 PY=$2 D
echo "# --- CPython $V: $PY"

# (a) at start ------------------------------------------------------------------
D=$TMP/a$V; mkdir -p "$D"
"$BIN/leakhunt-record" -o "$D/t.lht" "$PY" "$TMP/tuples.py" "$D" 20 start >"$D/out" 2>"$D/err"
is "[$V] at start: the program exits 0" "$?" 0
ok_if "[$V] the summary says the objects came through the hooks" \
	grep -q "python objects through CPython's allocator hooks (pymalloc kept)" "$D/err"
R "$D/t.lht" --stats --format json >"$D/stats.json" 2>/dev/null
is "[$V] no free of an unknown block: the hooks went in before the first object" \
	"$(json_get "$D/stats.json" "j['unknown_frees']")" 0
ok_if "[$V] --stats counts the objects (python_allocations > 40,000)" \
	test "$(json_get "$D/stats.json" "j['python_allocations']")" -gt 40000
ok_if "[$V] ... and pymalloc's arenas apart (arena_regions >= 1, not in mmap_regions)" \
	test "$(json_get "$D/stats.json" "int(j['arena_regions'] >= 1 and j['arena_bytes'] > j['mmap_bytes'])")" = 1
"$BIN/leakhunt-dump" --json "$D/t.lht" >"$D/dump.json" 2>/dev/null
ok_if "[$V] leakhunt-dump counts the events by domain (py-obj, py-mem, py-arena)" \
	test "$(json_get "$D/dump.json" "int(all(j['events_by_domain'][d] > 0 for d in ('py-obj', 'py-mem', 'py-arena')))")" = 1
R "$D/t.lht" --stats >"$D/stats.txt" 2>/dev/null
ok_if "[$V] --stats in text names the arenas" grep -q "^arenas .* mapped by it for them" "$D/stats.txt"
R "$D/t.lht" --diff mark:a mark:b --by line --format json >"$D/diff.json" 2>/dev/null
is "[$V] at start: the top row of the diff is the append line" \
	"$(json_get "$D/diff.json" "j['rows'][0]['site']")" "$TMP/tuples.py:$APPEND_LINE <module>"
local ab ac arr tup
read -r _ arr tup <"$D/out"
ab=$(json_get "$D/diff.json" "j['rows'][0]['bytes_delta']"); ac=$(json_get "$D/diff.json" "j['rows'][0]['count_delta']")
echo "# [$V] at start, append line: +$ab B in $ac blocks (the list's array $arr B, a tuple $tup B)"
ok_if "[$V] its count is the 40,000 tuples (less the tuple free list's reuse) and the list's array" \
	test "$ac" -le 40001 -a "$ac" -ge 38000
is "[$V] its bytes are exactly that many tuples of sys.getsizeof's size, and the array" \
	"$ab" "$(( (ac - 1) * ${tup:-0} + ${arr:-0} ))"

# (b) the issue's case, attached -------------------------------------------------
D=$TMP/b$V; mkdir -p "$D"
"$PY" "$TMP/tuples.py" "$D" 60 attach >"$D/out" 2>"$D/err" &
local app=$!
if ! wait_file "$D" ready || ! attach_to $app "$D/t.lht"; then
	fail "[$V] attached to the tuple service" "$(cat "$TMP/rec.err" "$D/err")"; kill $app $REC 2>/dev/null; return
fi
pass "[$V] attached to the tuple service (started without leakhunt)"
touch "$D/attached"
wait_file "$D" a && "$BIN/leakhunt-mark" $app a && touch "$D/go-a"
wait_file "$D" b && "$BIN/leakhunt-mark" $app b && touch "$D/go-b"
wait $app
is "[$V] the service ran to its end" "$?" 0
"$BIN/leakhunt-mark" $app --stop 2>/dev/null; wait $REC
ok_if "[$V] the summary says the objects came through the hooks" \
	grep -q "python objects through CPython's allocator hooks" "$TMP/rec.err"
R "$D/t.lht" --diff mark:a mark:b --by line --top 0 --format json >"$D/diff.json" 2>/dev/null
# (the top row is tracemalloc's second snapshot, 120,000 traces: real memory too)
local lb lc row="[r for r in j['rows'] if r['site'] == '$TMP/tuples.py:$APPEND_LINE <module>']"
lb=$(json_get "$D/diff.json" "($row or [{'bytes_delta': 0}])[0]['bytes_delta']")
lc=$(json_get "$D/diff.json" "($row or [{'count_delta': 0}])[0]['count_delta']")
read -r _ tl tsize tcount <"$D/out"
echo "# [$V] append line: leakhunt +$lb B in $lc blocks, tracemalloc +$tsize B in $tcount"
ok_if "[$V] it grew by at least 5 MB (120,000 tuples and the list)" test "${lb:-0}" -ge 5000000
ok_if "[$V] bytes within 1% of tracemalloc's compare_to('lineno')" within "$lb" "${tsize:-0}" 1
ok_if "[$V] count within 1% of tracemalloc's" within "$lc" "${tcount:-0}" 1

# (c) attach and detach while threads allocate -----------------------------------
D=$TMP/c$V; mkdir -p "$D"
"$PY" "$TMP/threads.py" "$D" >"$D/out" 2>"$D/err" &
app=$!
if ! wait_file "$D" ready || ! attach_to $app "$D/t.lht"; then
	fail "[$V] attached to the threads" "$(cat "$TMP/rec.err" "$D/err")"; kill $app $REC 2>/dev/null; return
fi
touch "$D/attached"
wait_file "$D" measured
"$BIN/leakhunt-mark" $app --stop; wait $REC
touch "$D/detached"
wait $app
is "[$V] threads: the process exits 0 after the detach" "$?" 0
ok_if "[$V] while attached, MEM and OBJ are the recorder's wrappers, RAW is CPython's own" \
	grep -q "^during hooked raw not hooked" "$D/out"
ok_if "[$V] after the detach, every domain's allocator is exactly what it was" grep -q "^after restored" "$D/out"
ok_if "[$V] the threads ran on after the detach" grep -q "^threads ran on yes" "$D/out"
R "$D/t.lht" --leaks --by function --format json --top 0 >"$D/fn.json" 2>/dev/null
R "$D/t.lht" --stats --format json >"$D/stats.json" 2>/dev/null
ok_if "[$V] ... thousands of objects from four threads" \
	test "$(json_get "$D/stats.json" "int(j['python_allocations'] > 5000 and j['threads'] >= 4)")" = 1
ok_if "[$V] keeper()'s tuples are live at the end, by its function" \
	test "$(json_get "$D/fn.json" "sum(r['count'] for r in j['rows'] if r['site'] == 'keeper')")" -gt 0

# (d) an http.server service: attach, warm up, mark, load, mark, diff -----------
D=$TMP/d$V; mkdir -p "$D"
"$PY" "$TMP/service.py" "$D" >"$D/out" 2>"$D/err" &
app=$!
if ! wait_file "$D" port || ! attach_to $app "$D/t.lht"; then
	fail "[$V] attached to the web service" "$(cat "$TMP/rec.err" "$D/err")"; kill $app $REC 2>/dev/null; return
fi
local port N=100
port=$(cat "$D/portnum")
"$PY" "$TMP/client.py" "$port" 0 20
"$BIN/leakhunt-mark" $app warm
"$PY" "$TMP/client.py" "$port" 1000 $N
"$BIN/leakhunt-mark" $app loaded
"$BIN/leakhunt-mark" $app --stop; wait $REC
is "[$V] after the detach the service's allocators are what they were at its start" \
	"$("$PY" "$TMP/client.py" "$port" 0 0 allocators)" same
"$PY" "$TMP/client.py" "$port" 0 0 quit >/dev/null
wait $app
is "[$V] the service exits 0" "$?" 0
R "$D/t.lht" --diff mark:warm mark:loaded --by line --format json >"$D/diff.json" 2>/dev/null
is "[$V] service: the top row is the leaking line" \
	"$(json_get "$D/diff.json" "j['rows'][0]['site']")" "$TMP/service.py:$LEAK_LINE audited.<locals>.wrapper"
is "[$V] ... one block per distinct request" "$(json_get "$D/diff.json" "j['rows'][0]['count_delta']")" $N
ok_if "[$V] ... of at least 3000 bytes each" \
	test "$(json_get "$D/diff.json" "j['rows'][0]['bytes_delta']")" -ge $((N * 3000))

# (e) --sample with the hooks: the 40,000 tuples estimated -----------------------
D=$TMP/e$V; mkdir -p "$D"
LEAKHUNT_SAMPLE_SEED=7 "$BIN/leakhunt-record" -q --sample 2K -o "$D/s.lht" "$PY" "$TMP/tuples.py" "$D" 20 start >"$D/out" 2>&1
R "$D/s.lht" --diff mark:a mark:b --by line --format json >"$D/diff.json" 2>/dev/null
echo "# [$V] --sample 2K: $(json_get "$D/diff.json" "j['rows'][0]") (exact: $ab B)"
ok_if "[$V] --sample 2K: the append line on top, its bytes estimated within 10% of the exact run's" \
	eval 'test "$(json_get "$D/diff.json" "j[\"rows\"][0][\"site\"]")" = "$TMP/tuples.py:$APPEND_LINE <module>" &&
	within "$(json_get "$D/diff.json" "j[\"rows\"][0][\"bytes_delta\"]")" "${ab:-0}" 10'
"$BIN/leakhunt-record" --python-allocator off -o "$D/off.lht" "$PY" "$TMP/tuples.py" "$D" 2 start >/dev/null 2>"$D/off.err"
R "$D/off.lht" --stats --format json >"$D/off.json" 2>/dev/null
ok_if "[$V] --python-allocator off: no object recorded at its domain, pymalloc's arenas as mappings" \
	test "$(json_get "$D/off.json" "int(j['python_allocations'] == 0 and j['arena_regions'] == 0 and j['mmap_regions'] >= 1)")" = 1
ok_if "[$V] ... and the summary says so" grep -q "python objects not hooked (--python-allocator off" "$D/off.err"
"$BIN/leakhunt-record" --python-allocator malloc -o "$D/m.lht" "$PY" "$TMP/tuples.py" "$D" 2 start >/dev/null 2>"$D/m.err"
R "$D/m.lht" --stats --format json >"$D/m.json" 2>/dev/null
ok_if "[$V] --python-allocator malloc: objects as mallocs (none at a domain), as before" \
	test "$(json_get "$D/m.json" "int(j['python_allocations'] == 0 and j['allocations'] > 8000)")" = 1
ok_if "[$V] ... and the summary says PYTHONMALLOC=malloc" grep -q "python objects as mallocs (PYTHONMALLOC=malloc)" "$D/m.err"
# The program's own PYTHONMALLOC=malloc: its domains are malloc already, so
# they are not wrapped (a second hook per call), and the counts are the same.
PYTHONMALLOC=malloc "$BIN/leakhunt-record" -o "$D/um.lht" "$PY" "$TMP/tuples.py" "$D" 2 start >/dev/null 2>"$D/um.err"
PYTHONMALLOC=malloc "$BIN/leakhunt-record" --python-allocator malloc -o "$D/um2.lht" "$PY" "$TMP/tuples.py" "$D" 2 start >/dev/null 2>"$D/um2.err"
R "$D/um.lht" --stats --format json >"$D/um.json" 2>/dev/null
# (The whole runs differ by the files in the directories on sys.path, which
# the runs themselves add to: compare the batches between the marks.)
R "$D/um.lht" --diff mark:a mark:b --by line --format json >"$D/um.diff" 2>/dev/null
R "$D/um2.lht" --diff mark:a mark:b --by line --format json >"$D/um2.diff" 2>/dev/null
is "[$V] PYTHONMALLOC=malloc of its own: no domain wrapped (no allocation at one)" "$(json_get "$D/um.json" "j['python_allocations']")" 0
is "[$V] ... and the batches as with --python-allocator malloc, exactly" \
	"$(json_get "$D/um.diff" "[(r['site'], r['count_delta'], r['bytes_delta']) for r in j['rows'][:3]]")" \
	"$(json_get "$D/um2.diff" "[(r['site'], r['count_delta'], r['bytes_delta']) for r in j['rows'][:3]]")"
ok_if "[$V] ... and the summary says the objects are mallocs" grep -q "python objects as mallocs (PYTHONMALLOC=malloc)" "$D/um.err"
}

# minor_is PY V: PY runs and is CPython V
minor_is() { [ -x "$1" ] && "$1" -c 'import sys; sys.exit("%d.%d" % sys.version_info[:2] != sys.argv[1])' "$2"; }

ran=""
if minor_is /usr/bin/python3 3.11; then
	check_python 3.11 /usr/bin/python3; ran="$ran 3.11(Debian)"
else
	echo "# /usr/bin/python3 is not CPython 3.11: its checks did not run"
fi
for v in 3.11.7 3.12.1 3.13.0; do
	py=$PYENV/$v/bin/python${v%.*}
	if minor_is "$py" "${v%.*}"; then
		check_python "$v" "$py"; ran="$ran $v(pyenv)"
	else
		echo "# pyenv's CPython $v is not installed here"
	fi
done
echo "# CPython versions checked:$ran"

# --- (f) libpython loaded late: dlopen(RTLD_LOCAL) by an embedding program ----------
EMBED_SCRIPT='keep = []
def grow():
    for i in range(3000):
        keep.append((i, "x"))
grow()'
for lib in /usr/lib/x86_64-linux-gnu/libpython3.11.so.1.0 "$PYENV"/3.12.1/lib/libpython3.12.so.1.0 \
	"$PYENV"/3.13.0/lib/libpython3.13.so.1.0; do
	[ -f "$lib" ] || { echo "# $lib is not installed here: its embedding check did not run"; continue; }
	L=$(basename "$lib"); D=$TMP/f$L; mkdir -p "$D"; home=
	case $lib in "$PYENV"/*) home=${lib%/lib/*} ;; esac
	PYTHONHOME=$home "$BIN/leakhunt-record" -o "$D/t.lht" "$TBIN/progs/embed_python" "$lib" "$EMBED_SCRIPT" 2>"$D/err"
	is "[$L] embedded, loaded by dlopen: the program exits 0" "$?" 0
	ok_if "[$L] the dlopen'ed interpreter's allocator was hooked" \
		grep -q "python objects through CPython's allocator hooks" "$D/err"
	R "$D/t.lht" --at mark:end --by line --format json >"$D/at.json" 2>/dev/null
	ok_if "[$L] the script's line holds its 3,000 tuples (less free-list reuse), with the Python frame" \
		test "$(json_get "$D/at.json" "sum(r['count'] for r in j['rows'] if r['site'] == '<string>:4 grow')")" -ge 2900
	R "$D/t.lht" --stats --format json >"$D/stats.json" 2>/dev/null
	is "[$L] no unknown free: hooked before its first object" "$(json_get "$D/stats.json" "j['unknown_frees']")" 0
done

# --- outside 3.11-3.13: a message, then native tracing as before (PYTHONMALLOC=malloc)
PY310=$PYENV/3.10.13/bin/python3.10
if minor_is "$PY310" 3.10; then
	D=$TMP/old; mkdir -p "$D"
	"$BIN/leakhunt-record" -o "$D/t.lht" "$PY310" -c 'import os; print(os.environ.get("PYTHONMALLOC"))' >"$D/out" 2>"$D/err"
	is "[3.10] the program runs with PYTHONMALLOC=malloc" "$(cat "$D/out")" malloc
	ok_if "[3.10] one message says the allocator is not hooked and how it is recorded" \
		test "$(grep -c "its allocator is not hooked (3.11 to 3.13 are); recording with PYTHONMALLOC=malloc" "$D/err")" = 1
	ok_if "[3.10] the summary says it is outside 3.11-3.13" grep -q "a CPython outside 3.11-3.13 (native tracing)" "$D/err"
else
	echo "# python 3.10 not installed here: the unsupported-version check was done on the development machine"
fi

done_testing
