#!/bin/bash
# pkg/build-deb.sh TREE - build TREE/leakhunt_VERSION-1_ARCH.deb.
#
# Compiles in its own build tree with Debian's hardening flags (its
# CPPFLAGS go into CFLAGS: the Makefile's own CPPFLAGS must stay), stages
# `make install PREFIX=/usr` there, lays out what Debian policy asks of a
# binary package (stripped objects, gzipped man pages and changelog, a
# copyright file, md5sums, dependencies from dpkg-shlibdeps), builds the
# package with dpkg-deb as root:root and fails on any lintian error.
set -euo pipefail
cd "$(dirname "$0")/.."
tree=${1:-build-deb}
version=$(sed -n 's/^#define LH_VERSION "\(.*\)"$/\1/p' format/lh_trace.h)-1
arch=$(dpkg --print-architecture)
work=$tree/pkg
stage=$work/debian/leakhunt
deb=$tree/leakhunt_${version}_${arch}.deb

[ -n "$version" ] || { echo "build-deb: no LH_VERSION in format/lh_trace.h" >&2; exit 2; }
[ "$(sed -n '1s/^leakhunt (\(.*\)).*/\1/p' pkg/changelog)" = "$version" ] ||
    { echo "build-deb: pkg/changelog does not start with version $version" >&2; exit 2; }

export DEB_BUILD_MAINT_OPTIONS=hardening=+all
make --no-print-directory B="$tree" \
    CFLAGS="$(dpkg-buildflags --get CPPFLAGS) $(dpkg-buildflags --get CFLAGS)" \
    LDFLAGS="$(dpkg-buildflags --get LDFLAGS)" all man
rm -rf "$work" && mkdir -p "$work/debian"
make --no-print-directory B="$tree" PREFIX=/usr DESTDIR="$PWD/$stage" install >/dev/null

doc=$stage/usr/share/doc/leakhunt
strip --strip-unneeded --remove-section=.comment --remove-section=.note \
    "$stage"/usr/bin/leakhunt-* "$stage"/usr/lib/leakhunt/libleakhunt.so
chmod 644 "$stage"/usr/lib/leakhunt/libleakhunt.so
gzip -9n "$stage"/usr/share/man/man1/*.1 "$doc"/README.md "$doc"/FORMAT.md
install -m 644 pkg/copyright "$doc/copyright"
gzip -9nc pkg/changelog > "$doc/changelog.Debian.gz"
chmod 644 "$doc/changelog.Debian.gz"

mkdir -p "$stage/DEBIAN"
# dpkg-shlibdeps wants the staged tree inside a source package's debian/.
printf 'Source: leakhunt\n\nPackage: leakhunt\nArchitecture: any\n' > "$work/debian/control"
depends=$(cd "$work" && dpkg-shlibdeps -O -e debian/leakhunt/usr/bin/leakhunt-* \
            -e debian/leakhunt/usr/lib/leakhunt/libleakhunt.so | sed -n 's/^shlibs:Depends=//p')
[ -n "$depends" ] || { echo "build-deb: dpkg-shlibdeps found no dependencies" >&2; exit 1; }

cat > "$stage/DEBIAN/control" <<CONTROL
Package: leakhunt
Version: $version
Architecture: $arch
Maintainer: leakhunt developers <maintainers@users.noreply.r-seed-1bdb77fa.example>
Installed-Size: $(du -sk --exclude=DEBIAN "$stage" | cut -f1)
Depends: $depends
Section: devel
Priority: optional
Description: find memory leaks and memory growth in unmodified programs
 leakhunt-record runs a program (or attaches to a running one) with a
 preloaded recorder that streams every allocation and free, with its stack,
 thread and time, into a compressed trace. leakhunt-replay rebuilds the live
 heap at any moment from it, diffs two moments, lists leaks, peak and growth
 suspects by stack, function, source line or module, and exports flame
 graphs, pprof and speedscope profiles and an HTML report. leakhunt-top
 shows which sites grow while the program runs; leakhunt-mark drops markers
 into a running recording; leakhunt-dump checks a trace.
CONTROL
(cd "$stage" && find usr -type f -printf '%P\n' | LC_ALL=C sort |
    sed 's|^|usr/|' | xargs md5sum) > "$stage/DEBIAN/md5sums"
chmod 644 "$stage/DEBIAN/control" "$stage/DEBIAN/md5sums"

dpkg-deb --root-owner-group -Zxz --build "$stage" "$deb" >/dev/null
echo "built $deb"
lintian --fail-on error "$deb" || {
    echo "build-deb: lintian found errors in $deb" >&2; exit 1; }
