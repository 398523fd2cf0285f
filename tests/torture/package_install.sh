#!/bin/bash
# package_install: the Debian package installed the way users install it,
# `apt-get install ./leakhunt_VERSION_ARCH.deb`, system-wide: the tools are
# on PATH, find their library, `man leakhunt-record` works, the completion
# is where bash-completion looks; `apt-get remove` takes it all away.
# Changes the system, so it runs in `make torture` (as root), not in check.
. "$(dirname "$0")/../lib.sh"
cd "$ROOT"
if dpkg-query -W -f='${Status}' leakhunt 2>/dev/null | grep -q "install ok installed"; then
    fail "a leakhunt package is already installed: remove it to run this test"
    done_testing; exit
fi
make --no-print-directory deb >"$TMP/make-deb.log" 2>&1 || { fail "make deb" "$(tail "$TMP/make-deb.log")"; done_testing; exit; }
deb=$(ls "$ROOT"/build-deb/leakhunt_*_"$(dpkg --print-architecture)".deb)
DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$deb" >"$TMP/apt.log" 2>&1
is "apt-get install ./$(basename "$deb")" "$?" 0
trap 'DEBIAN_FRONTEND=noninteractive apt-get remove -y -qq leakhunt >/dev/null 2>&1; rm -rf "$TMP"' EXIT

for t in leakhunt-record leakhunt-replay leakhunt-mark leakhunt-dump leakhunt-top; do
    is "$t is on PATH from the package" "$(command -v $t)" "/usr/bin/$t"
    ok_if "man $t" bash -c "MANWIDTH=80 man $t 2>&1 | grep -q '^NAME'"
    ok_if "its completion is in /usr/share/bash-completion/completions" \
        test -f /usr/share/bash-completion/completions/$t
done
(cd "$TMP" && env -u LD_PRELOAD leakhunt-record -q -o k.lht -- "$TBIN/progs/known_allocs" >/dev/null 2>&1)
is "installed recorder: the program's exit status" "$?" 3
leakhunt-replay "$TMP/k.lht" --stats --format json >"$TMP/s.json"
is "installed tools: leaked bytes" "$(json_get "$TMP/s.json" "j['leaked_bytes']")" 9352
leakhunt-record -q -o "$TMP/m.lht" -- cat /proc/self/maps >"$TMP/maps"
ok_if "it preloads /usr/lib/leakhunt/libleakhunt.so" grep -q " /usr/lib/leakhunt/libleakhunt.so\$" "$TMP/maps"

DEBIAN_FRONTEND=noninteractive apt-get remove -y -qq leakhunt >"$TMP/rm.log" 2>&1
is "apt-get remove leakhunt" "$?" 0
ok_if "its files are gone" bash -c '! ls /usr/bin/leakhunt-* /usr/lib/leakhunt 2>/dev/null | grep -q .'
done_testing
