#!/bin/bash
# security: a local attacker with an ordinary account (leakhunt-test, made
# here with useradd when missing, and kept) against root, who records and
# marks programs. Every attack is played by that user and must fail:
#   1. the session base planted where root's would go (/dev/shm/leakhunt-0,
#      /tmp/leakhunt-0): a link to a directory of theirs, their own
#      directory, a FIFO: leakhunt-record refuses, says why, writes nothing
#      through it, does not block (these passed already with the
#      session-directory redesign);
#   2. a planted control endpoint: leakhunt-mark refuses another user's
#      collector, and a link where a socket should be; a real recording is
#      still marked with a claim planted beside it;
#   3. a foreign, loosened, or footer-contradicting checkpoint sidecar, a
#      FIFO or a link at TRACE.ckpt: ignored, never overwritten, the answer
#      unchanged;
#   4. a trace is 0600 whatever the umask (passed already: the redesign);
#   5. x.lht and x.1.lht .. x.999.lht planted: the recording still works,
#      under a name nobody could guess, which the summary gives;
#   6. the attach file (leakhunt-record -p): a FIFO at the old
#      /tmp/.leakhunt-attach.PID no longer blocks the process, files planted
#      at the new place are not trusted, and the layout root makes for
#      another user's process works.
# Runs as root in a mount namespace of its own with fresh /tmp and
# /dev/shm, so the attacks touch neither this machine's real ones nor
# another run's. Not root: says so and fails.
set -u
if [ "$(id -u)" != 0 ]; then
    echo "not ok 1 - security.sh plays root against a local user and must run as root (it ran as uid $(id -u))"
    echo "1..1"
    exit 1
fi
if [ -z "${LH_SECURITY_NS:-}" ]; then
    if ! unshare --mount --propagation private true 2>/dev/null; then
        echo "not ok 1 - security.sh needs a private mount namespace (unshare --mount) for its own /tmp and /dev/shm"
        echo "1..1"
        exit 1
    fi
    LH_SECURITY_NS=1 exec unshare --mount --propagation private -- bash "$0" "$@"
fi
# A checkout under /tmp or /dev/shm (a CI clone) would vanish under the
# fresh mounts: it is bound aside first and back in place after.
SRC=$(cd "$(dirname "$0")/../.." && pwd)
KEEP=
case "$SRC" in /tmp/*|/dev/shm/*)
    KEEP=/var/tmp/leakhunt-security-src # one empty directory, a mount point only in this namespace
    mkdir -p "$KEEP" && mount --bind "$SRC" "$KEEP" || {
        echo "not ok 1 - cannot keep the checkout $SRC visible under a fresh /tmp"; echo "1..1"; exit 1; } ;;
esac
mount -t tmpfs -o mode=1777 leakhunt-security /tmp && mount -t tmpfs -o mode=1777 leakhunt-security /dev/shm || {
    echo "not ok 1 - cannot mount private tmpfs on /tmp and /dev/shm"; echo "1..1"; exit 1; }
if [ -n "$KEEP" ]; then
    mkdir -p "$SRC" && mount --bind "$KEEP" "$SRC" || {
        echo "not ok 1 - cannot put the checkout back at $SRC"; echo "1..1"; exit 1; }
fi
unset XDG_RUNTIME_DIR TMPDIR
. "$(dirname "$0")/../lib.sh"
REC=$BIN/leakhunt-record
MARK=$BIN/leakhunt-mark
LIBLH=$BIN/../lib/libleakhunt.so
PY=/usr/bin/python3

AU=leakhunt-test
id -u "$AU" >/dev/null 2>&1 || useradd --system --no-create-home --home-dir /nonexistent \
    --shell /usr/sbin/nologin "$AU" >/dev/null 2>&1
if ! AUID=$(id -u "$AU" 2>/dev/null); then
    fail "an unprivileged test user ($AU) exists or can be made with useradd"
    done_testing; exit
fi
AGID=$(id -g "$AU")
pass "the attacker: $AU, uid $AUID"
as_attacker() { setpriv --reuid="$AUID" --regid="$AGID" --clear-groups -- "$@"; }
# in the background, as a process of its own (not a subshell of root's): BGPID
bg_attacker() { setpriv --reuid="$AUID" --regid="$AGID" --clear-groups -- "$@" & BGPID=$!; PIDS+=($BGPID); }
# ... and wait until it runs as the attacker (setpriv has switched and exec'd)
wait_attacker() { for _ in $(seq 200); do [ "$(stat -c %u "/proc/$1" 2>/dev/null)" = "$AUID" ] &&
                  [ "$(cat "/proc/$1/comm" 2>/dev/null)" = "$2" ] && return 0; sleep 0.02; done; return 1; }
# grep_ok NAME PATTERN FILE: like ok_if grep -q, showing FILE when it fails
grep_ok() { if grep -q -- "$2" "$3"; then pass "$1"; else fail "$1" "no '$2' in: $(head -c 600 "$3")"; fi; }
as_attacker mkdir -m 755 /tmp/att
PIDS=()
trap 'for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null; done; rm -rf "$TMP"' EXIT

# --- 1. the session base ----------------------------------------------------------
plant_base() { # KIND PATH: what the attacker leaves where root's base would go
    case $1 in
    link) as_attacker mkdir -m 777 /tmp/att/d && as_attacker ln -s /tmp/att/d "$2" ;;
    dir)  as_attacker mkdir -m 777 "$2" ;;
    fifo) as_attacker mkfifo -m 666 "$2" ;;
    esac
}
for base in /dev/shm/leakhunt-0 /tmp/leakhunt-0; do
    # /tmp is the fallback when /dev/shm cannot be written
    [ "$base" = /tmp/leakhunt-0 ] && mount -o remount,ro /dev/shm
    for kind in link dir fifo; do
        plant_base $kind "$base"
        timeout 20 "$REC" -q -o "$TMP/base.lht" -- /bin/true >"$TMP/base.out" 2>"$TMP/base.err"; rc=$?
        is "$base planted as a $kind: leakhunt-record refuses (exit 2), without blocking" "$rc" 2
        grep_ok "... and says why, naming it" "^leakhunt-record: $base .*: remove it" "$TMP/base.err"
        is "... writing nothing through it" \
           "$(ls -A /tmp/att/d 2>/dev/null; [ -d "$base" ] && ls -A "$base"; ls "$TMP/base.lht" 2>/dev/null)" ""
        rm -rf "$base" /tmp/att/d
    done
    [ "$base" = /tmp/leakhunt-0 ] && mount -o remount,rw /dev/shm
done

# --- 2. the control endpoint -----------------------------------------------------
# A collector that answers "ok" to anything, noting what it was sent.
FAKE='import socket, sys
s = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET)
s.bind(sys.argv[1]); s.listen(8)
while True:
    c, _ = s.accept()
    with open(sys.argv[2], "a") as f: f.write(c.recv(1024).decode(errors="replace") + "\n")
    c.send(b"ok"); c.close()'
wait_sock() { for _ in $(seq 100); do [ -S "$1" ] && return 0; sleep 0.05; done; return 1; }
AB=/dev/shm/leakhunt-$AUID
as_attacker mkdir -m 700 "$AB"

# 2a. A collector of the attacker's claims root's process.
sleep 300 & VICTIM=$!; PIDS+=($VICTIM)
as_attacker mkdir -m 700 "$AB/s.1"
as_attacker touch "$AB/s.1/ring.$VICTIM.0"
as_attacker touch /tmp/att/fake1.log
bg_attacker $PY -c "$FAKE" "$AB/s.1/ctl" /tmp/att/fake1.log
wait_sock "$AB/s.1/ctl"
"$MARK" "$VICTIM" warm 2>"$TMP/m1.err"; rc=$?
is "another user's collector claiming root's process: leakhunt-mark refuses (exit 1)" "$rc" 1
grep_ok "... naming it and whose it is" "$AB.* belongs to uid $AUID" "$TMP/m1.err"
is "... and never talks to it" "$(cat /tmp/att/fake1.log)" ""

# 2b. In a session of the process's own user (trusted for that process), a
# link where the socket should be, to a socket of root's.
mkdir -m 755 /tmp/rootsvc
$PY -c "$FAKE" /tmp/rootsvc/sock "$TMP/svc.log" & PIDS+=($!)
wait_sock /tmp/rootsvc/sock
bg_attacker sleep 300; APID=$BGPID; wait_attacker "$APID" sleep
as_attacker mkdir -m 700 "$AB/s.2"
as_attacker touch "$AB/s.2/ring.$APID.0"
as_attacker ln -s /tmp/rootsvc/sock "$AB/s.2/ctl"
"$MARK" "$APID" warm 2>"$TMP/m2.err"; rc=$?
is "a link planted as the control socket: leakhunt-mark refuses (exit 1)" "$rc" 1
grep_ok "... saying it is a link, not a socket" "$AB/s.2/ctl is a symbolic link, not the collector's socket" "$TMP/m2.err"
is "... and root's socket behind the link hears nothing" "$(cat "$TMP/svc.log" 2>/dev/null)" ""

# 2c. A real recording is marked and stopped, with a claim planted beside it.
"$REC" -q -o "$TMP/real.lht" -- sleep 30 2>"$TMP/real.err" & RP=$!; PIDS+=($RP)
P=
for _ in $(seq 200); do
    P=$(pgrep -P "$RP" sleep)
    [ -n "$P" ] && ls /dev/shm/leakhunt-0/s.*/ring."$P".* >/dev/null 2>&1 && break
    sleep 0.05
done
as_attacker mkdir -m 700 "$AB/s.3"
as_attacker touch "$AB/s.3/ring.$P.0" /tmp/att/fake3.log
bg_attacker $PY -c "$FAKE" "$AB/s.3/ctl" /tmp/att/fake3.log
wait_sock "$AB/s.3/ctl"
ok_if "root's own recording: leakhunt-mark marks it" "$MARK" "$P" warm
ok_if "... and stops it" "$MARK" "$P" --stop
kill "$P"; wait "$RP"
ok_if "... the marker is in the trace" sh -c "'$BIN/leakhunt-replay' '$TMP/real.lht' --at mark:warm >/dev/null 2>&1"
is "... and the planted collector heard nothing" "$(cat /tmp/att/fake3.log)" ""

# --- 3. the checkpoint sidecar ---------------------------------------------------------
# The attacker can stat the trace (in a shared directory), so a sidecar
# they write can carry its size and mtime; its XXH64 is unkeyed. ckforge
# rewrites fields of the end record ('E', lh_counters as u64 words) and
# its checksum, as they would.
cc -O1 -o "$TMP/ckforge" -x c - -lxxhash <<'EOF'
#include <stdio.h>
#include <stdlib.h>
#include <stdint.h>
#include <string.h>
#include <xxhash.h>
/* FILE WORD=VALUE...: the end record is 6 u64 words and lh_counters (its
 * size is in the header, after the 8-byte magic, as the fourth u32), then
 * the sum; a negative WORD counts from the record's end. */
int main(int argc, char **argv)
{
    FILE *f = fopen(argv[1], "r+b");
    uint32_t sizes[4];
    uint64_t rec[64], sum;
    if (!f || fseek(f, 8, SEEK_SET) || fread(sizes, sizeof(sizes), 1, f) != 1 || sizes[3] % 8
        || sizes[3] / 8 + 6 > 64)
        return 1;
    long n = 6 + sizes[3] / 8, bytes = n * 8;
    if (fseek(f, -bytes - 8, SEEK_END) || fread(rec, (size_t)bytes, 1, f) != 1 || (rec[0] & 0xffffffff) != 'E')
        return 1;
    for (int i = 2; i < argc; i++) {
        char *eq = strchr(argv[i], '=');
        int w = atoi(argv[i]);
        if (w < 0)
            w += (int)n;
        if (!eq || w < 1 || w >= n)
            return 2;
        rec[w] = eq[1] == '+' ? rec[w] + strtoull(eq + 2, NULL, 10) : strtoull(eq + 1, NULL, 10);
    }
    sum = XXH64(rec, (size_t)bytes, 0);
    return fseek(f, -bytes - 8, SEEK_END) || fwrite(rec, (size_t)bytes, 1, f) != 1
           || fwrite(&sum, 8, 1, f) != 1 || fclose(f);
}
EOF
PEAK_TIME=13 PEAK_EVENT=14 EVENTS=-2 # (lh_counters: peak_time_us, peak_event; events is its second to last)
mkdir -m 1777 /tmp/shared
T=/tmp/shared/k.lht
"$REC" -q -o "$T" -- "$TBIN/progs/known_allocs" >/dev/null 2>&1
export LEAKHUNT_CHECKPOINT_EVERY=100
R() { "$BIN/leakhunt-replay" "$T" "$@"; }
# (answers compared by their sha256: the JSON would fill the log)
peak() { R --peak --by stack --top 0 --format json 2>"$TMP/ck.err" | sha256sum; }
want=$(R --peak --by stack --top 0 --format json --no-checkpoints | sha256sum)
R --stats >/dev/null
cp "$T.ckpt" "$TMP/genuine.ckpt"
cp "$TMP/genuine.ckpt" "$TMP/forged.ckpt"
"$TMP/ckforge" "$TMP/forged.ckpt" $PEAK_EVENT=5 $PEAK_TIME=0
ok_if "(a sidecar whose peak is moved answers --peak differently when trusted: the attack is real)" \
    sh -c "cp '$TMP/forged.ckpt' '$T.ckpt' && [ \"\$('$BIN/leakhunt-replay' '$T' --peak --by stack --top 0 --format json 2>/dev/null | sha256sum)\" != '$want' ]"
fingerprint() { stat -c '%U %a %F' "$T.ckpt"; sha256sum <"$T.ckpt"; }

# 3a. the attacker's own sidecar, with a forged peak
rm -f "$T.ckpt"
as_attacker sh -c 'cat >"$1"' sh "$T.ckpt" <"$TMP/forged.ckpt"
before=$(fingerprint)
is "a sidecar of another user's (forged peak): --peak answers as without checkpoints" "$(peak)" "$want"
grep_ok "... with a note naming it and whose it is" "note: $T.ckpt belongs to uid $AUID" "$TMP/ck.err"
R --stats >/dev/null 2>&1
is "... never overwritten (a full pass leaves it as it was)" "$(fingerprint)" "$before"

# 3b. root's own sidecar, loosened (0666), rewritten by the attacker
rm -f "$T.ckpt"; cp "$TMP/genuine.ckpt" "$T.ckpt"; chmod 666 "$T.ckpt"
# (an open without O_CREAT: fs.protected_regular would refuse O_CREAT here)
as_attacker $PY -c 'import os, sys; os.write(os.open(sys.argv[1], os.O_WRONLY | os.O_TRUNC), sys.stdin.buffer.read())' \
    "$T.ckpt" <"$TMP/forged.ckpt"
before=$(fingerprint)
is "a sidecar writable by others (forged peak): --peak answers as without checkpoints" "$(peak)" "$want"
grep_ok "... with a note saying so" "note: $T.ckpt is writable by group or others" "$TMP/ck.err"
R --stats >/dev/null 2>&1
is "... never overwritten" "$(fingerprint)" "$before"

# 3c. root's own, tight sidecar whose totals contradict the trace's footer
rm -f "$T.ckpt"; cp "$TMP/forged.ckpt" "$T.ckpt"; chmod 644 "$T.ckpt"
"$TMP/ckforge" "$T.ckpt" $EVENTS=+1
is "a sidecar whose event total is not the footer's: --peak answers as without checkpoints" "$(peak)" "$want"

# 3d, 3e. a FIFO, a link
rm -f "$T.ckpt"; as_attacker mkfifo -m 666 "$T.ckpt"
got=$(timeout 20 "$BIN/leakhunt-replay" "$T" --peak --by stack --top 0 --format json 2>"$TMP/ck.err" | sha256sum)
is "a FIFO at TRACE.ckpt: --peak answers at once, as without checkpoints" "$got" "$want"
R --stats >/dev/null 2>&1
ok_if "... and the FIFO is left in place" test -p "$T.ckpt"
rm -f "$T.ckpt"; as_attacker sh -c 'cat >/tmp/att/ck' <"$TMP/forged.ckpt"
as_attacker ln -s /tmp/att/ck "$T.ckpt"
is "a link at TRACE.ckpt to the attacker's sidecar: --peak answers as without checkpoints" "$(peak)" "$want"
R --stats >/dev/null 2>&1
ok_if "... and the link is left in place" test -L "$T.ckpt"
unset LEAKHUNT_CHECKPOINT_EVERY

# --- 4. trace mode -------------------------------------------------------------------
(umask 000; "$REC" -q -o "$TMP/mode.lht" -- /bin/true)
is "a trace is 0600 even under umask 000" "$(stat -c %a "$TMP/mode.lht")" 600

# --- 5. fallback names ---------------------------------------------------------------
mkdir -m 1777 /tmp/out
echo precious >/tmp/rootfile
as_attacker ln -s /tmp/rootfile /tmp/out/x.lht
as_attacker sh -c 'i=1; while [ $i -le 999 ]; do : >/tmp/out/x.$i.lht; i=$((i+1)); done'
used=()
for run in 1 2; do
    "$REC" -o /tmp/out/x.lht -- "$TBIN/progs/known_allocs" >/dev/null 2>"$TMP/fb.err"
    u=$(sed -n 's/^leakhunt: pid [0-9]*: \(.*\) ([0-9]* events.*/\1/p' "$TMP/fb.err")
    used+=("$u")
    ok_if "x.lht and x.1.lht..x.999.lht planted (run $run): the summary names the file used, x.<8 random letters>.lht" \
        grep -Eq '^/tmp/out/x\.[a-z2-7]{8}\.lht$' <<<"$u"
    ok_if "... a complete trace, root's, 0600" sh -c "[ -f '$u' ] && [ ! -L '$u' ] && [ \"\$(stat -c '%U %a' '$u')\" = 'root 600' ] && '$BIN/leakhunt-dump' --verify '$u' >/dev/null"
done
ok_if "two runs, two unpredictable names" test "${used[0]}" != "${used[1]}"
is "the planted link's target is untouched" "$(cat /tmp/rootfile)" precious
is "the 999 planted files are untouched" "$(find /tmp/out -name 'x.[0-9]*.lht' -user "$AU" -empty | wc -l)" 999

# --- 6. the attach file ----------------------------------------------------------------
# attach_self does in-process what leakhunt-record -p injects: dlopen the
# recorder, call leakhunt_attach(). Each answer within 10 s or it blocked.
start_self() { # [attacker]: starts the coprocess (as root, or as the attacker), sets SPID
    if [ $# -gt 0 ]; then
        coproc SELF { exec setpriv --reuid="$AUID" --regid="$AGID" --clear-groups -- \
                           "$TBIN/progs/attach_self" "$LIBLH" 2>/dev/null; }
    else
        coproc SELF { exec "$TBIN/progs/attach_self" "$LIBLH" 2>/dev/null; }
    fi
    local line; IFS= read -r -t 10 line <&"${SELF[0]}"; SPID=${line#pid }; PIDS+=($SPID)
}
ask_self() { local line; echo go >&"${SELF[1]}"; IFS= read -r -t 10 line <&"${SELF[0]}" || line="(no answer)"; echo "$line"; }
end_self() { # let it exit; kill it if it is stuck (inside leakhunt_attach)
    echo quit >&"${SELF[1]}" 2>/dev/null
    for _ in $(seq 30); do kill -0 "$SPID" 2>/dev/null || break; sleep 0.1; done
    kill "$SPID" 2>/dev/null; wait "$SPID" 2>/dev/null
}

# 6a. a FIFO at the old name, for root's process
start_self
as_attacker mkfifo -m 666 /tmp/.leakhunt-attach."$SPID"
got=$(ask_self)
ok_if "a FIFO planted at /tmp/.leakhunt-attach.PID: leakhunt_attach() returns at once, not recording (got: $got)" \
    sh -c "case '$got' in 'rc 0'|'(no answer)'|'') exit 1;; esac"
end_self

# 6b. attach files planted at the new places, for root's process
rm -rf /dev/shm/leakhunt-0 /tmp/leakhunt-0 # root's, from the recordings above
start_self
for d in /dev/shm/leakhunt-0 /dev/shm/leakhunt-attach-0 /tmp/leakhunt-0 /tmp/leakhunt-attach-0; do
    as_attacker mkdir -m 700 "$d"
    as_attacker sh -c 'echo "LEAKHUNT_SESSION=/tmp/att/s" >"$1"; chmod 600 "$1"' sh "$d/attach.$SPID"
done
as_attacker mkdir -m 700 /tmp/att/s
got=$(ask_self)
ok_if "attach files in directories of another user's: not trusted, not recording (got: $got)" \
    sh -c "case '$got' in 'rc 0'|'(no answer)'|'') exit 1;; esac"
is "... nothing made in the directory they name" "$(ls -A /tmp/att/s)" ""
end_self
rm -rf /dev/shm/leakhunt-0 /dev/shm/leakhunt-attach-0 /tmp/leakhunt-0 /tmp/leakhunt-attach-0

# 6c. what root makes for another user's process (session_dir.h): root's
# base (0711), the user's session (0700) and attach file (0600) in it.
start_self attacker
D=/dev/shm/leakhunt-attach-$AUID
mkdir -m 711 "$D"; mkdir -m 700 "$D/s.1"; chown "$AU" "$D/s.1"
echo "LEAKHUNT_SESSION=$D/s.1" >"$D/attach.$SPID"; chmod 600 "$D/attach.$SPID"; chown "$AU" "$D/attach.$SPID"
is "another user's process, attached the way root lays it out: recording" "$(ask_self)" "rc 0"
is "... its ring is in the session, the user's" "$(stat -c %U "$D"/s.1/ring."$SPID".* 2>/dev/null)" "$AU"
end_self
done_testing
