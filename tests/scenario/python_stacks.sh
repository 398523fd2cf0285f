#!/bin/bash
# tests/scenario/python_stacks.sh - Python frames in the stacks of a traced
# CPython (recorder/python.c): a leaking http.server service is named by
# its Python line and function, threads keep their own functions, and a C
# call made from Python shows Python frames around the native ones.
. "$(dirname "$0")/../lib.sh"

PY=/usr/bin/python3   # not a pyenv shim: the interpreter itself
R() { "$BIN/leakhunt-replay" "$@"; }
if [ ! -x "$PY" ] || ! "$PY" -c 'import sys; sys.exit(sys.version_info[:2] != (3, 11))'; then
	echo "# $PY is not CPython 3.11; Python frames are only recorded for 3.11"
	pass "skipped: no CPython 3.11"
	done_testing; exit
fi

# --- (a) a web service leaking through a decorator into a global dict -------
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

"$BIN/leakhunt-record" -q -o "$TMP/svc.lht" "$PY" "$TMP/service.py" "$TMP/port" 2>"$TMP/svc.err" &
rec=$!
for _ in $(seq 100); do [ -s "$TMP/port" ] && break; sleep 0.1; done
port=$(cat "$TMP/port" 2>/dev/null)
svc=$(pgrep -P "$rec" -n)
if [ -z "$port" ] || [ -z "$svc" ]; then
	fail "the service starts under leakhunt-record" "$(cat "$TMP/svc.err")"
	kill "$rec" 2>/dev/null; done_testing; exit
fi
"$PY" "$TMP/client.py" "$port" 0 20                    # warm up
"$BIN/leakhunt-mark" "$svc" a
"$PY" "$TMP/client.py" "$port" 1000 "$N"               # N distinct requests
"$BIN/leakhunt-mark" "$svc" b
"$PY" -c "import urllib.request,sys; urllib.request.urlopen('http://127.0.0.1:%s/quit' % sys.argv[1]).read()" "$port"
wait "$rec"
is "the service exits 0 under leakhunt-record" "$?" 0
ok_if "no message on stderr (CPython 3.11 is supported)" test ! -s "$TMP/svc.err"
"$BIN/leakhunt-dump" --chunks "$TMP/svc.lht" >"$TMP/chunks" 2>&1
ok_if "the trace has pyframes chunks" grep -q ' pyframes ' "$TMP/chunks"

R "$TMP/svc.lht" --diff mark:a mark:b --by line --format json >"$TMP/line.json" 2>"$TMP/line.err"
top_site=$(json_get "$TMP/line.json" "j['rows'][0]['site']")
is "--diff --by line: the top row is the line that grows the global dict" \
	"$top_site" "$TMP/service.py:$LEAK_LINE audited.<locals>.wrapper"
ok_if "its byte growth is at least N x 3000" \
	test "$(json_get "$TMP/line.json" "j['rows'][0]['bytes_delta']")" -ge $((N * 3000))
is "its count is the number of distinct requests" \
	"$(json_get "$TMP/line.json" "j['rows'][0]['count_delta']")" "$N"
R "$TMP/svc.lht" --diff mark:a mark:b --by function --format json >"$TMP/fn.json" 2>/dev/null
is "--by function names the Python function" \
	"$(json_get "$TMP/fn.json" "j['rows'][0]['site']")" "audited.<locals>.wrapper"
R "$TMP/svc.lht" --diff mark:a mark:b --by stack --top 1 >"$TMP/stack.txt" 2>/dev/null
ok_if "--by stack: the decorated handler and http.server frames are around it" \
	grep -q "Handler.do_GET\|BaseHTTPRequestHandler.handle_one_request" "$TMP/stack.txt"
ok_if "--by stack: main() is still the outermost native frame" grep -q "main" "$TMP/stack.txt"

# --keep-pymalloc leaves PYTHONMALLOC alone; the default sets it
"$BIN/leakhunt-record" -q -o "$TMP/env.lht" "$PY" -c 'import os; print(os.environ.get("PYTHONMALLOC"))' >"$TMP/env.out"
is "leakhunt-record sets PYTHONMALLOC=malloc for python" "$(cat "$TMP/env.out")" malloc
"$BIN/leakhunt-record" -q --keep-pymalloc -o "$TMP/env2.lht" "$PY" -c 'import os; print(os.environ.get("PYTHONMALLOC"))' >"$TMP/env.out"
is "--keep-pymalloc leaves it unset" "$(cat "$TMP/env.out")" None

# --- (b) threads, each leaking in its own function -----------------------------
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
"$BIN/leakhunt-record" -q -o "$TMP/thr.lht" "$PY" "$TMP/threads.py" 2>"$TMP/thr.err"
is "the threaded program exits 0" "$?" 0
R "$TMP/thr.lht" --at mark:end --by function --format json --top 0 >"$TMP/thr.json" 2>/dev/null
for f in leak_alpha leak_beta leak_gamma; do
	ok_if "--by function shows $f (its own thread)" \
		test "$(json_get "$TMP/thr.json" "sum(r['bytes'] for r in j['rows'] if r['site'] == '$f')")" -ge 200000
done

# --- (c) a C call inside a Python frame --------------------------------------
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
"$BIN/leakhunt-record" -q -o "$TMP/c.lht" "$PY" "$TMP/cext.py" 2>"$TMP/c.err"
is "the zlib program exits 0" "$?" 0
R "$TMP/c.lht" --at mark:end --by stack --filter compress_all --top 1 >"$TMP/c.txt" 2>/dev/null
# innermost first: libz's deflateInit2_, then CPython's zlib module (in the
# python executable), then the Python frame that called it, then the body.
order=$(awk '/deflateInit2_/ && !a {a=NR} /python3[.0-9]*\+0x|zlib/ && a && !b && NR > a {b=NR}
	/compress_all/ && !c {c=NR} /<module>/ && !d {d=NR}
	END {print (a && b && c && d && a < b && b < c && c < d) ? "ordered" : "a=" a " b=" b " c=" c " d=" d}' "$TMP/c.txt")
is "native zlib frames, then the Python frame calling them, then <module>" "$order" ordered
ok_if "the Python frame has the calling line" grep -q "cext.py:$C_LINE" "$TMP/c.txt"

done_testing
