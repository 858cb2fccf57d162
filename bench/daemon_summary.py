"""The table of `bench/verifier.sh daemon`: the daemon's RSS and CPU after each run, and
watch's on the first run. Usage: daemon_summary.py OUT (the bench's folder)."""
import json
import os
import sys

out = sys.argv[1]
tick = os.sysconf("SC_CLK_TCK")
samples = [line.split() for line in open(os.path.join(out, "samples"))]
rows, prev_ticks, first_rss = [], int(samples[0][2]), None
print(f"machine: {os.cpu_count()} cores, "
      f"{os.sysconf('SC_PAGE_SIZE') * os.sysconf('SC_PHYS_PAGES') / 2**30:.0f} GiB; store: FerretDB (SQLite)")
print(f"{'run':>5} {'events':>8} {'verdict':>10} {'integrity':>10} {'RSS MB':>7} {'CPU s':>6} "
      f"{'CPU s/1,000':>11} {'report after last event s':>26}")
for run, rss_kb, ticks in samples[1:]:
    folder = os.path.join(out, "runs", f"run-{run}")
    r = json.load(open(os.path.join(folder, "report.json")))
    n = r["counts"]["expected"]
    cpu = (int(ticks) - prev_ticks) / tick
    prev_ticks = int(ticks)
    rss = int(rss_kb) / 1024
    first_rss = first_rss or rss
    last_t5 = r["throughput"].get("last_t5_us")
    summary_us = os.stat(os.path.join(folder, "summary.json")).st_mtime * 1e6
    after = f"{(summary_us - last_t5) / 1e6:.1f}" if last_t5 else "not measured"
    integrity = r["integrity"]["status"]
    print(f"{run:>5} {n:>8} {r['verdict']:>10} {integrity:>10} {rss:>7.1f} {cpu:>6.1f} "
          f"{1000 * cpu / max(n, 1):>11.3f} {after:>26}")
    rows.append((n, cpu, rss))
print(f"RSS after the last run / after the first: {rows[-1][2] / first_rss:.2f}x (target <= 1.20x)")
w_rss_kb, w_user, w_sys = open(os.path.join(out, "watch.time")).read().split()[-3:]
w_cpu = float(w_user) + float(w_sys)
n1, cpu1, rss1 = rows[0]
print(f"first run, followed by both: watch {w_cpu:.1f} CPU s ({1000 * w_cpu / n1:.3f} per 1,000 events), "
      f"peak RSS {int(w_rss_kb) / 1024:.1f} MB; the daemon {cpu1:.1f} CPU s "
      f"({1000 * cpu1 / n1:.3f} per 1,000), RSS {rss1:.1f} MB; CPU daemon/watch {cpu1 / max(w_cpu, 1e-9):.2f}x")
