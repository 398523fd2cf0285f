"""Turn the raw measurements of bench/run.sh into bench/RESULTS.md and a chart.

usage: report.py SCRATCH RAW.tsv OUT.md REPS "WORKLOADS"
"""
import datetime
import json
import os
import platform
import re
import statistics
import subprocess
import sys

scratch, raw_path, out_md, reps, workloads = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4]), sys.argv[5].split()

rows = {}
for line in open(raw_path):
    wl, tool, rep, secs, rss, size = line.rstrip("\n").split("\t")
    rows.setdefault((wl, tool), []).append((float(secs), int(rss), int(size)))


def med(wl, tool, i):
    vals = [r[i] for r in rows.get((wl, tool), [])]
    return statistics.median(vals) if vals else float("nan")


def timing_file_median(prefix):
    secs, rss = [], []
    for rep in range(1, reps + 1):
        p = os.path.join(scratch, f"{prefix}.{rep}")
        if os.path.exists(p):
            parts = open(p).read().split()
            if len(parts) >= 2:
                try:
                    secs.append(float(parts[-2])); rss.append(int(parts[-1]))
                except ValueError:
                    pass
    if not secs:
        return float("nan"), float("nan")
    return statistics.median(secs), statistics.median(rss)


def load_json(p):
    try:
        return json.load(open(p))
    except (OSError, ValueError):
        return {}


def fmt(x, spec=".2f"):
    return "n/a" if x != x else format(x, spec)


cpu = "unknown cpu"
try:
    for line in open("/proc/cpuinfo"):
        if line.startswith("model name"):
            cpu = line.split(":", 1)[1].strip(); break
except OSError:
    pass
ht_version = subprocess.run(["heaptrack", "--version"], capture_output=True, text=True).stdout.strip()

lines = []
lines.append("# leakhunt benchmark results\n")
lines.append(f"Machine: {cpu}, {os.cpu_count()} cores, {platform.system()} {platform.release()}; "
             f"{ht_version}; {reps} repetitions, medians; {datetime.date.today().isoformat()}.\n")
lines.append("Produced by `make bench` (bench/run.sh); commands alternate native / leakhunt / heaptrack "
             "within each repetition.\n")
lines.append("## Recording\n")
lines.append("| workload | native s | leakhunt slowdown | heaptrack slowdown | ratio (lh/ht) | leakhunt B/event | heaptrack B/event | leakhunt peak RSS MiB | heaptrack peak RSS MiB | events | lh allocs | ht allocs |")
lines.append("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
chart = []
replay_lines = []
for wl in workloads:
    nat = med(wl, "native", 0)
    lh, ht = med(wl, "leakhunt", 0), med(wl, "heaptrack", 0)
    s_lh, s_ht = lh / nat if nat else float("nan"), ht / nat if nat else float("nan")
    dump = load_json(os.path.join(scratch, f"{wl}.dump.json"))
    stats = load_json(os.path.join(scratch, f"{wl}.stats.json"))
    events = dump.get("events", 0)
    lh_allocs = stats.get("allocations", "n/a")
    ht_allocs = "n/a"
    try:
        m = re.search(r"calls to allocation functions: (\d+)", open(os.path.join(scratch, f"{wl}.htprint.out")).read())
        if m:
            ht_allocs = int(m.group(1))
    except OSError:
        pass
    bpe_lh = med(wl, "leakhunt", 2) / events if events else float("nan")
    bpe_ht = med(wl, "heaptrack", 2) / events if events else float("nan")
    lines.append(f"| {wl} | {fmt(nat, '.3f')} | {fmt(s_lh)}x | {fmt(s_ht)}x | {fmt(s_lh / s_ht if s_ht else float('nan'))} | "
                 f"{fmt(bpe_lh)} | {fmt(bpe_ht)} | {fmt(med(wl, 'leakhunt', 1) / 1024, '.1f')} | "
                 f"{fmt(med(wl, 'heaptrack', 1) / 1024, '.1f')} | {events} | {lh_allocs} | {ht_allocs} |")
    chart.append((wl, s_lh, s_ht))
    r_s, r_rss = timing_file_median(f"{wl}.replay")
    h_s, h_rss = timing_file_median(f"{wl}.htprint")
    replay_lines.append(f"| {wl} | {events} | {fmt(events / r_s / 1e6 if r_s else float('nan'))} | "
                        f"{fmt(events / h_s / 1e6 if h_s else float('nan'))} | {fmt(h_s / r_s if r_s else float('nan'))}x | "
                        f"{fmt(r_rss / 1024, '.1f')} | {fmt(h_rss / 1024, '.1f')} |")

lines.append("\nSlowdown = wall time under the tool / native wall time. B/event = trace bytes / events "
             "(allocations + frees + reallocs) counted by leakhunt on the same program. "
             "Allocation counts: leakhunt `--stats` allocations vs heaptrack_print \"calls to allocation functions\".\n")
lines.append("## Replay\n")
lines.append("| workload | events | leakhunt-replay --leaks M events/s | heaptrack_print M events/s | speedup | replay peak RSS MiB | heaptrack_print peak RSS MiB |")
lines.append("|---|---:|---:|---:|---:|---:|---:|")
lines += replay_lines
lines.append("\n## Recorder scaling with threads (churn, 400k iterations per thread)\n")
lines.append("| threads | native s | leakhunt slowdown | heaptrack slowdown |")
lines.append("|---:|---:|---:|---:|")
for th in (1, 2, 4, 8):
    wl = f"threads{th}"
    nat = med(wl, "native", 0)
    lines.append(f"| {th} | {fmt(nat, '.3f')} | {fmt(med(wl, 'leakhunt', 0) / nat if nat else float('nan'))}x | "
                 f"{fmt(med(wl, 'heaptrack', 0) / nat if nat else float('nan'))}x |")

# Chart: slowdown per workload per tool, grouped bars, log-free linear scale.
svg_path = os.path.splitext(out_md)[0] + ".svg"
W, H, pad = 640, 320, 50
vals = [v for _, a, b in chart for v in (a, b) if v == v]
top = max(vals + [1.0]) * 1.1
bw = (W - 2 * pad) / max(1, len(chart)) / 3
svg = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{W}" height="{H}" font-family="sans-serif" font-size="12">',
       f'<text x="{W/2}" y="20" text-anchor="middle" font-size="14">Recording slowdown vs native (lower is better)</text>',
       f'<line x1="{pad}" y1="{H-pad}" x2="{W-pad}" y2="{H-pad}" stroke="black"/>']
for i, (wl, a, b) in enumerate(chart):
    x0 = pad + i * 3 * bw + bw / 2
    for j, (v, colour, name) in enumerate(((a, "#2a7ab9", "leakhunt"), (b, "#d9822b", "heaptrack"))):
        if v != v:
            continue
        h = (H - 2 * pad) * v / top
        x = x0 + j * bw
        svg.append(f'<rect x="{x:.1f}" y="{H-pad-h:.1f}" width="{bw*0.9:.1f}" height="{h:.1f}" fill="{colour}"><title>{name} {wl}: {v:.2f}x</title></rect>')
        svg.append(f'<text x="{x+bw*0.45:.1f}" y="{H-pad-h-4:.1f}" text-anchor="middle">{v:.1f}x</text>')
    svg.append(f'<text x="{x0+bw:.1f}" y="{H-pad+16}" text-anchor="middle">{wl}</text>')
svg.append(f'<rect x="{W-pad-150}" y="30" width="12" height="12" fill="#2a7ab9"/><text x="{W-pad-132}" y="41">leakhunt</text>')
svg.append(f'<rect x="{W-pad-70}" y="30" width="12" height="12" fill="#d9822b"/><text x="{W-pad-52}" y="41">heaptrack</text>')
svg.append("</svg>")
open(svg_path, "w").write("\n".join(svg) + "\n")
lines.append(f"\n![slowdown chart]({os.path.basename(svg_path)})\n")
open(out_md, "w").write("\n".join(lines) + "\n")
print("\n".join(lines))
