#!/bin/bash
# package_deb: `make deb` builds a Debian package that lintian accepts, whose
# dependencies this system satisfies, holding every tool with its man page
# and completion; installed (into a scratch root, through dpkg itself) its
# leakhunt-record finds its library from the package's path and records
# exactly what the build tree's does.
. "$(dirname "$0")/../lib.sh"
cd "$ROOT"

if ! make --no-print-directory deb >"$TMP/make-deb.log" 2>&1; then
    fail "make deb succeeds" "$(tail -20 "$TMP/make-deb.log")"
    done_testing; exit
fi
pass "make deb succeeds (lintian reports no error)"
deb=$(ls build-deb/leakhunt_*_"$(dpkg --print-architecture)".deb)
version=$(sed -n 's/^#define LH_VERSION "\(.*\)"$/\1/p' format/lh_trace.h)
is "package file is named from LH_VERSION" "$(basename "$deb")" \
    "leakhunt_${version}-1_$(dpkg --print-architecture).deb"
is "package name" "$(dpkg-deb -f "$deb" Package)" leakhunt
is "package version" "$(dpkg-deb -f "$deb" Version)" "$version-1"

dpkg-deb -c "$deb" | awk '{print $1, $2, $NF}' >"$TMP/list"
has() { grep -q " \./$1\$" "$TMP/list"; }
tools="leakhunt-record leakhunt-replay leakhunt-mark leakhunt-dump leakhunt-top"
for t in $tools; do
    ok_if "$t in /usr/bin, 0755 root" grep -q "^-rwxr-xr-x root/root \./usr/bin/$t\$" "$TMP/list"
    ok_if "$t has a man page" has "usr/share/man/man1/$t.1.gz"
    ok_if "$t has a bash completion" has "usr/share/bash-completion/completions/$t"
done
is "every installed tool is one of those (a new tool needs its page)" \
    "$(grep -o '\./usr/bin/[^ ]\+' "$TMP/list" | sed 's|./usr/bin/||' | sort | tr '\n' ' ')" \
    "$(echo $tools | tr ' ' '\n' | sort | tr '\n' ' ')"
ok_if "recorder library in /usr/lib/leakhunt" has usr/lib/leakhunt/libleakhunt.so
ok_if "marker header in /usr/include" has usr/include/leakhunt.h
ok_if "copyright file" has usr/share/doc/leakhunt/copyright
ok_if "changelog.Debian.gz" has usr/share/doc/leakhunt/changelog.Debian.gz

depends=$(dpkg-deb -f "$deb" Depends)
for lib in libc6 liblz4-1 libprotobuf-c1 libunwind8 libdw1 libxxhash0 zlib1g; do
    ok_if "Depends names $lib" grep -q "\(^\|, \)$lib\( \|,\|$\)" <<<"$depends"
done

lintian "$deb" >"$TMP/lintian" 2>/dev/null
is "lintian: no error" "$(grep -c '^E:' "$TMP/lintian")" 0

# dpkg itself installs it, against a copy of this system's package database:
# the dependencies must be met by what is installed here.
R=$TMP/root
mkdir -p "$R/var/lib/dpkg/info" "$R/var/lib/dpkg/updates"
cp /var/lib/dpkg/status "$R/var/lib/dpkg/status"
dpkg --admindir="$R/var/lib/dpkg" --instdir="$R" --force-script-chrootless --force-not-root \
     -i "$deb" >"$TMP/dpkg.log" 2>&1
is "dpkg -i: dependencies met, installed" "$?" 0
is "dpkg records it installed" \
    "$(dpkg-query --admindir="$R/var/lib/dpkg" -W -f='${Status}' leakhunt)" "install ok installed"

for t in $tools; do
    ok_if "installed $t --version" bash -c "\"$R/usr/bin/$t\" --version >/dev/null"
    MANWIDTH=80 man --warnings -l "$R/usr/share/man/man1/$t.1.gz" >"$TMP/man.txt" 2>"$TMP/man.err"
    is "man -l $t.1.gz renders without warnings" "$(cat "$TMP/man.err")" ""
    ok_if "$t.1 has NAME and SYNOPSIS" grep -q "^SYNOPSIS" "$TMP/man.txt"
done

# The installed recorder loads the installed library, not the build tree's.
"$R/usr/bin/leakhunt-record" -q -o "$TMP/maps.lht" -- cat /proc/self/maps >"$TMP/maps" 2>&1
ok_if "installed leakhunt-record preloads $R/usr/lib/leakhunt/libleakhunt.so" \
    grep -q " $R/usr/lib/leakhunt/libleakhunt.so\$" "$TMP/maps"
ok_if "and not build/'s" bash -c "! grep -q '$ROOT/build' '$TMP/maps'"

P=$TBIN/progs/known_allocs
(cd "$TMP" && "$R/usr/bin/leakhunt-record" -q -o "$TMP/k.lht" -- "$P" >"$TMP/k.out" 2>&1)
is "installed recorder: exit status passes through" "$?" 3
"$R/usr/bin/leakhunt-replay" "$TMP/k.lht" --stats --format json >"$TMP/stats.json"
is "installed tools: allocations (valgrind's count)" "$(json_get "$TMP/stats.json" "j['allocations']")" 1032
is "installed tools: leaked bytes" "$(json_get "$TMP/stats.json" "j['leaked_bytes']")" 9352
"$R/usr/bin/leakhunt-replay" "$TMP/k.lht" --leaks --by function --format json --top 0 >"$TMP/leaks.json"
is "installed replay names leak_small: 10 blocks, 1000 bytes" \
    "$(json_get "$TMP/leaks.json" "[(r['bytes'], r['count']) for r in j['rows'] if r['function'] == 'leak_small']")" \
    "[(1000, 10)]"
ok_if "installed leakhunt-dump verifies it" bash -c "\"$R/usr/bin/leakhunt-dump\" --verify \"$TMP/k.lht\" >/dev/null"

dpkg --admindir="$R/var/lib/dpkg" --instdir="$R" --force-script-chrootless --force-not-root \
     -r leakhunt >"$TMP/dpkg-r.log" 2>&1
is "dpkg -r removes it" "$?" 0
is "nothing of it left behind" "$(find "$R/usr" -type f 2>/dev/null | wc -l)" 0
done_testing
