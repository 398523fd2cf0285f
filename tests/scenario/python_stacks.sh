#!/bin/bash
# tests/scenario/python_stacks.sh - Python frames in the stacks of a traced
# CPython (recorder/python.c; its objects recorded through its hooked
# allocator, recorder/pyalloc.c): a leaking http.server service is named by
# its Python line and function, threads keep their own functions, and a C
# call made from Python shows Python frames around the native ones.
# Run with Debian's python3 (3.11) and, where installed, CPython 3.12 and
# 3.13 built by pyenv as shared libpython (the symbols python.c looks up
# live in libpython3.1x.so, not in the executable); an unsupported version
# (3.10) says so once and keeps native stacks.
. "$(dirname "$0")/../lib.sh"

PY311=/usr/bin/python3   # not a pyenv shim: the interpreter itself
PYENV=${LH_PYENV:-/root/.pyenv/versions}   # LH_PYENV=/nonexistent: as on CI
PY312=$PYENV/3.12.1/bin/python3.12
PY313=$PYENV/3.13.0/bin/python3.13
PY310=$PYENV/3.10.13/bin/python3.10
R() { "$BIN/leakhunt-replay" "$@"; }

# --- the programs ----------------------------------------------------------------
# (a) a web service leaking through a decorator into a global dict
cat >"$TMP/service.py" <<'PYEOF'
import functools, http.server, sys

AUDIT = {}  # grows by one entry per distinct path: the leak

def audited(handler):
    @functools.wraps(handler)
    def wrapper(self):
        AUDIT[self.path] = bytes(3000)  # LEAK-LINE
        return handler(self)
    return wrapper

class Handler(http.server.BaseHTTPRequestHandler):
    @audited
    def do_GET(self):
        body = ("hello " + self.path).encode() * 20
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
with open(sys.argv[1] + ".tmp", "w") as f:
    f.write(str(srv.server_address[1]))
import os; os.rename(sys.argv[1] + ".tmp", sys.argv[1])
while not srv.done:
    srv.handle_request()
PYEOF
cat >"$TMP/client.py" <<'PYEOF'
import sys, urllib.request
port, first, n = int(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3])
for i in range(first, first + n):
    with urllib.request.urlopen("http://127.0.0.1:%d/item/%d" % (port, i)) as r:
        r.read()
PYEOF
LEAK_LINE=$(grep -n 'LEAK-LINE' "$TMP/service.py" | cut -d: -f1)
N=60
# (b) threads, each leaking in its own function
cat >"$TMP/threads.py" <<'PYEOF'
import threading
KEEP = []
def leak_alpha():
    for _ in range(200):
        KEEP.append(bytearray(1000))
def leak_beta():
    for _ in range(200):
        KEEP.append(bytes(2000))
def leak_gamma():
    for i in range(200):
        KEEP.append("g" * (3000 + i))  # not a constant
threads = [threading.Thread(target=f) for f in (leak_alpha, leak_beta, leak_gamma)]
for t in threads: t.start()
for t in threads: t.join()
import leakhunt_mark_end  # noqa: the trace's "end" below is the marker
PYEOF
cat >"$TMP/leakhunt_mark_end.py" <<'PYEOF'
import ctypes
ctypes.CDLL(None).leakhunt_recorder_mark(b"end")
PYEOF
# (c) a C call inside a Python frame
cat >"$TMP/cext.py" <<'PYEOF'
import zlib
KEEP = []
def compress_all():
    for i in range(20):
        KEEP.append(zlib.compressobj(9))  # C-LINE
compress_all()
import leakhunt_mark_end
PYEOF
C_LINE=$(grep -n 'C-LINE' "$TMP/cext.py" | cut -d: -f1)
# (d) Python called back from C called from Python: the eval calls' groups
cat >"$TMP/callback.py" <<'PYEOF'
KEEP = []
def key(x):
    KEEP.append(bytearray(4000 + x))  # KEY-LINE
    return -x
def sort_them():
    return sorted(range(30), key=key)  # SORT-LINE
sort_them()
import leakhunt_mark_end
PYEOF
KEY_LINE=$(grep -n 'KEY-LINE' "$TMP/callback.py" | cut -d: -f1)
SORT_LINE=$(grep -n 'SORT-LINE' "$TMP/callback.py" | cut -d: -f1)

# check_python V PY: every check below with the interpreter PY (version V)
check_python() {
local V=$1 PY=$2
echo "# --- CPython $V: $PY"
rm -f "$TMP/port"

# (a) the service: warm up, mark, N distinct requests, mark, diff
"$BIN/leakhunt-record" -q -o "$TMP/svc.lht" "$PY" "$TMP/service.py" "$TMP/port" 2>"$TMP/svc.err" &
local rec=$! port svc
for _ in $(seq 100); do [ -s "$TMP/port" ] && break; sleep 0.1; done
port=$(cat "$TMP/port" 2>/dev/null)
svc=$(pgrep -P "$rec" -n)
if [ -z "$port" ] || [ -z "$svc" ]; then
	fail "[$V] the service starts under leakhunt-record" "$(cat "$TMP/svc.err")"
	kill "$rec" 2>/dev/null; return
fi
"$PY" "$TMP/client.py" "$port" 0 20                    # warm up
"$BIN/leakhunt-mark" "$svc" a
"$PY" "$TMP/client.py" "$port" 1000 "$N"               # N distinct requests
"$BIN/leakhunt-mark" "$svc" b
"$PY" -c "import urllib.request,sys; urllib.request.urlopen('http://127.0.0.1:%s/quit' % sys.argv[1]).read()" "$port"
wait "$rec"
is "[$V] the service exits 0 under leakhunt-record" "$?" 0
ok_if "[$V] no message on stderr" test ! -s "$TMP/svc.err"
"$BIN/leakhunt-dump" --chunks "$TMP/svc.lht" >"$TMP/chunks" 2>&1
ok_if "[$V] the trace has pyframes chunks" grep -q ' pyframes ' "$TMP/chunks"

R "$TMP/svc.lht" --diff mark:a mark:b --by line --format json >"$TMP/line.json" 2>"$TMP/line.err"
is "[$V] --diff --by line: the top row is the line that grows the global dict" \
	"$(json_get "$TMP/line.json" "j['rows'][0]['site']")" "$TMP/service.py:$LEAK_LINE audited.<locals>.wrapper"
ok_if "[$V] its byte growth is at least N x 3000" \
	test "$(json_get "$TMP/line.json" "j['rows'][0]['bytes_delta']")" -ge $((N * 3000))
is "[$V] its count is the number of distinct requests" \
	"$(json_get "$TMP/line.json" "j['rows'][0]['count_delta']")" "$N"
R "$TMP/svc.lht" --diff mark:a mark:b --by function --format json >"$TMP/fn.json" 2>/dev/null
is "[$V] --by function names the Python function" \
	"$(json_get "$TMP/fn.json" "j['rows'][0]['site']")" "audited.<locals>.wrapper"
R "$TMP/svc.lht" --diff mark:a mark:b --by stack --top 1 >"$TMP/stack.txt" 2>/dev/null
ok_if "[$V] --by stack: the decorated handler and http.server frames are around it" \
	grep -q "Handler.do_GET\|BaseHTTPRequestHandler.handle_one_request" "$TMP/stack.txt"
# the default (--python-stacks inner) keeps no native frame outside the Python ones
is "[$V] --by stack: the outermost frame is the script's <module>" \
	"$(awk '/called from/ {last=$0} END {print (last ~ /<module> \(/) ? "module" : last}' "$TMP/stack.txt")" module

# the default (--python-allocator hook) and --keep-pymalloc leave
# PYTHONMALLOC alone; --python-allocator malloc sets it, as before
"$BIN/leakhunt-record" -q -o "$TMP/env.lht" "$PY" -c 'import os; print(os.environ.get("PYTHONMALLOC"))' >"$TMP/env.out"
is "[$V] by default leakhunt-record leaves PYTHONMALLOC unset (the allocator is hooked)" "$(cat "$TMP/env.out")" None
"$BIN/leakhunt-record" -q --python-allocator malloc -o "$TMP/env.lht" "$PY" -c 'import os; print(os.environ.get("PYTHONMALLOC"))' >"$TMP/env.out"
is "[$V] --python-allocator malloc sets PYTHONMALLOC=malloc for python" "$(cat "$TMP/env.out")" malloc
"$BIN/leakhunt-record" -q --keep-pymalloc -o "$TMP/env2.lht" "$PY" -c 'import os; print(os.environ.get("PYTHONMALLOC"))' >"$TMP/env.out"
is "[$V] --keep-pymalloc leaves it unset" "$(cat "$TMP/env.out")" None

# (b) threads; not quiet: a supported version has nothing to say about Python frames
"$BIN/leakhunt-record" -o "$TMP/thr.lht" "$PY" "$TMP/threads.py" 2>"$TMP/thr.err"
is "[$V] the threaded program exits 0" "$?" 0
ok_if "[$V] no 'unsupported' or 'stay native' message" \
	test "$(grep -c 'unsupported\|stay native' "$TMP/thr.err")" -eq 0
R "$TMP/thr.lht" --at mark:end --by function --format json --top 0 >"$TMP/thr.json" 2>/dev/null
for f in leak_alpha leak_beta leak_gamma; do
	ok_if "[$V] --by function shows $f (its own thread)" \
		test "$(json_get "$TMP/thr.json" "sum(r['bytes'] for r in j['rows'] if r['site'] == '$f')")" -ge 200000
done

# (c) the zlib call
"$BIN/leakhunt-record" -q -o "$TMP/c.lht" "$PY" "$TMP/cext.py" 2>"$TMP/c.err"
is "[$V] the zlib program exits 0" "$?" 0
R "$TMP/c.lht" --at mark:end --by stack --filter compress_all --top 1 >"$TMP/c.txt" 2>/dev/null
# innermost first: libz's deflateInit2_, then CPython's zlib module (in the
# python executable, or libpython, or its own zlib.cpython-*.so), then the
# Python frame that called it, then the body.
local order
order=$(awk '/deflateInit2_/ && !a {a=NR} /python3[.0-9]*\+0x|zlib/ && a && !b && NR > a {b=NR}
	/compress_all/ && !c {c=NR} /<module>/ && !d {d=NR}
	END {print (a && b && c && d && a < b && b < c && c < d) ? "ordered" : "a=" a " b=" b " c=" c " d=" d}' "$TMP/c.txt")
is "[$V] native zlib frames, then the Python frame calling them, then <module>" "$order" ordered
ok_if "[$V] the Python frame has the calling line" grep -q "cext.py:$C_LINE" "$TMP/c.txt"

# (d) --python-stacks full: each eval call's Python frames in its own
# place: key() above the native sorted() (which calls it through
# PyObject_CallOneArg), sort_them() below it, no Python frame between
"$BIN/leakhunt-record" -q --python-stacks full -o "$TMP/cb.lht" "$PY" "$TMP/callback.py" 2>"$TMP/cb.err"
is "[$V] the callback program exits 0 (--python-stacks full)" "$?" 0
R "$TMP/cb.lht" --at mark:end --by stack --filter callback.py --top 1 >"$TMP/cb.txt" 2>/dev/null
order=$(awk -v k="callback.py:$KEY_LINE)" -v s="callback.py:$SORT_LINE)" '
	index($0, k) && !a {a=NR} index($0, s) && !b {b=NR} a && !b && NR > a && /\.py:|<shim>/ {py++}
	a && !c && /PyObject_CallOneArg/ {c=NR}
	END {print (a && b && c && a < c && c < b && !py) ? "ordered" : "key=" a " call=" c " sort=" b " python between=" py + 0}' "$TMP/cb.txt")
is "[$V] full: key() (inner eval call), native frames, then sort_them() (outer eval call)" "$order" ordered
ok_if "[$V] full: main() is still the outermost native frame" grep -q "called from.*main" "$TMP/cb.txt"

# the default, inner: the native frames inside key()'s eval call, then the
# Python stack alone; all 30 bytearrays on one stack
"$BIN/leakhunt-record" -q -o "$TMP/cbi.lht" "$PY" "$TMP/callback.py" 2>"$TMP/cbi.err"
is "[$V] the callback program exits 0 (inner)" "$?" 0
R "$TMP/cbi.lht" --at mark:end --by stack --filter callback.py --top 1 --format json >"$TMP/cbi.json" 2>/dev/null
local FN="[f.split(' (')[0] for f in j['rows'][0]['site'].split(chr(10))]"
is "[$V] inner: the stack's frames from key() outwards are the Python ones" \
	"$(json_get "$TMP/cbi.json" "' | '.join($FN[$FN.index('key'):])")" "key | sort_them | <module>"
ok_if "[$V] inner: the native frames inside the eval call come first" \
	test "$(json_get "$TMP/cbi.json" "$FN.index('key')")" -ge 1
is "[$V] inner: the site is key()'s line" \
	"$(json_get "$TMP/cbi.json" "'%s %s' % (j['rows'][0]['function'], j['rows'][0]['line'])")" "key $KEY_LINE"
is "[$V] inner: the 30 bytearrays of key() on that one stack" "$(json_get "$TMP/cbi.json" "j['rows'][0]['count']")" 30
}

# minor_is PY V: PY runs and is CPython V
minor_is() { [ -x "$1" ] && "$1" -c 'import sys; sys.exit("%d.%d" % sys.version_info[:2] != sys.argv[1])' "$2"; }

if minor_is "$PY311" 3.11; then
	check_python 3.11 "$PY311"
else
	echo "# $PY311 is not CPython 3.11: its checks did not run"
fi
for v in 3.12:"$PY312" 3.13:"$PY313"; do
	if minor_is "${v#*:}" "${v%%:*}"; then
		check_python "${v%%:*}" "${v#*:}"
	else
		echo "# python ${v%%:*} not installed here: checked on the development machine"
	fi
done

# --- an unsupported version: one message, native stacks ------------------------
if minor_is "$PY310" 3.10; then
	"$BIN/leakhunt-record" -o "$TMP/old.lht" "$PY310" "$TMP/threads.py" 2>"$TMP/old.err"
	is "[3.10] the threaded program exits 0" "$?" 0
	is "[3.10] the 'unsupported' message, once" "$(grep -c 'unsupported' "$TMP/old.err")" 1
	"$BIN/leakhunt-dump" --chunks "$TMP/old.lht" >"$TMP/old.chunks" 2>&1
	ok_if "[3.10] no pyframes chunks" test "$(grep -c ' pyframes ' "$TMP/old.chunks")" -eq 0
	R "$TMP/old.lht" --at mark:end --by stack --top 3 >"$TMP/old.txt" 2>/dev/null
	ok_if "[3.10] the stacks are native (the eval loop, no Python function)" \
		eval 'grep -q _PyEval_EvalFrameDefault "$TMP/old.txt" && ! grep -q "leak_alpha\|leak_beta\|leak_gamma" "$TMP/old.txt"'
else
	echo "# python 3.10 not installed here: the unsupported-version check was done on the development machine"
fi

done_testing
