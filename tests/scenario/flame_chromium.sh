#!/bin/bash
# flame_chromium.sh - the SVG flame graph and the HTML report, as written by
# build/tests/test_flame (LH_FLAME_OUT), loaded in headless chromium: the
# scripts run without errors and the frame names reach the DOM; and the
# report's chart as laid out (measured with getBoundingClientRect): every
# label inside the chart and none on another, the time axis ending within
# one tick of the trace's end, round ticks, each label at its value's
# position, the heap on a scale of its own. Skipped (one passing "skip"
# line) when chromium is not installed.
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

# The chart as laid out: a copy of each report with a probe appended that
# runs after the page's script and leaves its measurements in the DOM.
cat >"$TMP/probe.js" <<'JS'
(function(){
 var svg=document.getElementById('chart'),s=svg.getBoundingClientRect(),out={w:s.width,h:s.height,texts:[],
  dur:Math.max.apply(null,D.points.map(function(p){return p[0];})),
  hmax:Math.max.apply(null,D.points.map(function(p){return p[1];}).concat(D.peak?[D.peak[1]]:[])),
  rmax:Math.max.apply(null,D.points.map(function(p){return p[2];}))};
 function box(e){if(!e)return null;var b=e.getBoundingClientRect();return [b.left-s.left,b.top-s.top,b.right-s.left,b.bottom-s.top];}
 svg.querySelectorAll('text').forEach(function(t){out.texts.push([t.textContent,t.getAttribute('class')||'',box(t)]);});
 ['x-axis','heap-axis','rss-axis','heap-line','rss-line'].forEach(function(id){out[id]=box(document.getElementById(id));});
 var pre=document.createElement('pre');pre.id='probe';pre.textContent=JSON.stringify(out);document.body.appendChild(pre);
})();
JS
cat >"$TMP/check_chart.py" <<'PY'
import html, json, re, sys
dom = open(sys.argv[1], encoding="utf-8").read()
m = re.search(r'<pre id="probe">(.*?)</pre>', dom, re.S)
if not m:
    print("the probe ran\tno measurements in the DOM"); sys.exit()
p = json.loads(html.unescape(m.group(1)))
EPS = 1.5
def check(name, ok, detail=""):
    print("%s\t%s" % (name, "OK" if ok else (detail or "failed")))
texts = p["texts"]
out = [(t, b) for t, c, b in texts if b[0] < -0.5 or b[1] < -0.5 or b[2] > p["w"] + 0.5 or b[3] > p["h"] + 0.5]
check("every label inside the chart's box", not out, "outside the %gx%g box: %s" % (p["w"], p["h"], out))
over = [(a[0], b[0]) for i, a in enumerate(texts) for b in texts[i + 1:]
        if a[2][0] < b[2][2] - 0.5 and b[2][0] < a[2][2] - 0.5 and a[2][1] < b[2][3] - 0.5 and b[2][1] < a[2][3] - 0.5]
check("no label overlaps another", not over, "overlapping: %s" % over)
def mid(b, k): return (b[k] + b[k + 2]) / 2
# Positions are checked against the tick labels themselves (the first and
# the last give the scale) and the data: a label must read the value its
# place on the axis stands for.
# Time axis: labels "N s", from 0 at the axis' left end to its right end.
xt = [(float(t[:-2]), mid(b, 0)) for t, c, b in texts if re.fullmatch(r"\d+(\.\d+)? s", t)]
ax = p["x-axis"]
check("time axis and at least three tick labels are drawn", ax and len(xt) >= 3, "axis %s, ticks %s" % (ax, xt))
if len(xt) >= 3:
    step, last = xt[1][0] - xt[0][0], xt[-1][0]
    check("time axis ends within one tick of the trace's end (%g s): last tick %g s, step %g s" % (p["dur"], last, step),
          p["dur"] <= last + 1e-9 and last - p["dur"] < step - 1e-9)
    def X(v): return xt[0][1] + (v - xt[0][0]) / (last - xt[0][0]) * (xt[-1][1] - xt[0][1])
    bad = [(v, round(x, 1), round(X(v), 1)) for v, x in xt if abs(x - X(v)) > EPS]
    check("every time tick label sits at its value's position", not bad, "label, at, should be at: %s" % bad)
    check("the time axis runs from its first tick label to its last",
          ax and xt[0][0] == 0 and abs(ax[0] - xt[0][1]) <= EPS and abs(ax[2] - xt[-1][1]) <= EPS,
          "axis %s, ticks at %s and %s" % (ax, xt[0][1], xt[-1][1]))
    hl = p["heap-line"]
    check("the heap line ends at the trace's end on that axis", hl and abs(hl[2] - X(p["dur"])) <= EPS,
          "ends at %s, the end is at %s" % (hl and hl[2], X(p["dur"])))
UNITS = {"B": 1, "KiB": 1024, "MiB": 1024 ** 2, "GiB": 1024 ** 3, "TiB": 1024 ** 4}
def byte_ticks(cls, side):
    r = []
    for t, c, b in texts:
        m = re.fullmatch(r"(\d+(?:\.\d+)?)(?: (B|KiB|MiB|GiB|TiB))?", t)
        mine = cls in c.split() if any(cls in c2.split() for t2, c2, b2 in texts) else side(b)
        if m and mine:
            r.append((t, float(m.group(1)), float(m.group(1)) * UNITS[m.group(2) or "B"], mid(b, 1)))
    return sorted(r, key=lambda x: x[2])
for name, cls, side, line, vmax in (("heap", "heap-tick", lambda b: b[2] < 0.15 * p["w"], "heap-line", p["hmax"]),
                                    ("RSS", "rss-tick", lambda b: b[0] > 0.85 * p["w"], "rss-line", p["rmax"])):
    yt, ln = byte_ticks(cls, side), p[line]
    if name == "RSS" and p["rmax"] < 0:
        check("no RSS, no RSS axis", not p["rss-axis"] and not yt)
        continue
    check("%s tick labels are drawn" % name, len(yt) >= 3, "ticks %s" % yt)
    if len(yt) < 3:
        continue
    top = yt[-1][2]
    def Y(v): return yt[0][3] + (v - yt[0][2]) / (top - yt[0][2]) * (yt[-1][3] - yt[0][3])
    odd = [t for t, n, v, y in yt if n >= 1000 or re.search(r"\.\d\d\d", t)]
    unit_step = yt[1][1] - yt[0][1]
    odd += [t for t, n, v, y in yt if abs(n / unit_step - round(n / unit_step)) > 1e-6]
    check("%s ticks are round values under 1000 of their unit: %s" % (name, ", ".join(t for t, n, v, y in yt)), not odd,
          "not round: %s" % odd)
    bad = [(t, round(y, 1), round(Y(v), 1)) for t, n, v, y in yt if abs(y - Y(v)) > EPS]
    check("every %s tick label sits at its value's position" % name, yt[0][2] == 0 and not bad,
          "label, at, should be at: %s" % bad)
    check("the %s line's highest point sits where its tick labels put its maximum" % name,
          ln and abs(ln[1] - Y(vmax)) <= EPS, "top at %s, maximum at %s" % (ln and ln[1], Y(vmax)))
    check("%s has a scale of its own: its maximum reaches above the middle of its axis" % name,
          vmax / top >= 0.5, "maximum %d of an axis to %d" % (vmax, top))
PY
for f in report.html chart.html chart-heap.html; do
    cp "$TMP/$f" "$TMP/probe-$f"
    printf '<script>\n%s</script>\n' "$(cat "$TMP/probe.js")" >>"$TMP/probe-$f"
    ok_if "$f with the probe loads in chromium" load "probe-$f"
    ok_if "$f with the probe: no JS errors" bash -c "! grep -E 'Uncaught|SyntaxError|ReferenceError|TypeError' '$TMP/probe-$f.log'"
    while IFS=$'\t' read -r name verdict; do
        if [ "$verdict" = OK ]; then pass "$f chart: $name"; else fail "$f chart: $name" "$verdict"; fi
    done < <(python3 "$TMP/check_chart.py" "$TMP/probe-$f.dom")
done
done_testing
