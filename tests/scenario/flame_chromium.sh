#!/bin/bash
# flame_chromium.sh - the SVG flame graph and the HTML report, as written by
# build/tests/test_flame (LH_FLAME_OUT), loaded in headless chromium: the
# scripts run without errors and the frame names reach the DOM. Skipped
# (one passing "skip" line) when chromium is not installed.
. "$(dirname "$0")/../lib.sh"

if ! command -v chromium >/dev/null; then
    pass "skip: chromium not installed (apt-get install -y chromium)"
    done_testing; exit
fi
write_outputs() { LH_FLAME_OUT="$TMP" "$TBIN/test_flame" >"$TMP/test_flame.log"; }
ok_if "test_flame writes its outputs" write_outputs

# load FILE: the DOM after scripts ran in $TMP/FILE.dom, console in .log
load() {
    timeout 60 chromium --headless --no-sandbox --disable-gpu --enable-logging=stderr --v=0 \
        --user-data-dir="$TMP/profile" --dump-dom "file://$TMP/$1" >"$TMP/$1.dom" 2>"$TMP/$1.log"
}

for f in nasty.svg diff.svg report.html; do
    ok_if "$f loads in chromium" load "$f"
    ok_if "$f: no JS errors" bash -c "! grep -E 'Uncaught|SyntaxError|ReferenceError|TypeError' '$TMP/$f.log'"
done
for name in 'fish &amp; chips' 'a&lt;b' 'café_été' 'std::vector&lt;int, std::allocator&lt;int&gt; &gt;::push_back'; do
    ok_if "svg DOM has $name" grep -qF "$name" "$TMP/nasty.svg.dom"
done
# The report's flame graph and top-sites table are built by its script,
# so names in the dumped DOM prove it ran.
ok_if "report rendered flame frames" grep -q 'class="fr"' "$TMP/report.html.dom"
ok_if "report rendered the sites table" grep -qF '<td>operator new(unsigned long)</td>' "$TMP/report.html.dom"
ok_if "report drew the heap line" grep -q 'id="heap-line"' "$TMP/report.html.dom"
ok_if "report drew the peak" grep -q 'id="peak"' "$TMP/report.html.dom"
done_testing
