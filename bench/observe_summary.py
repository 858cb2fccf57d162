"""The table of `bench/verifier.sh observe`: each load followed with observe off and on.

Usage: observe_summary.py OUT RUN_S DRAIN_N RATE...
  OUT holds rate-R-off, rate-R-on (each RATE R), drain-N-off, drain-N-on; each has
  receipts/report.json (the verifier on event-processor's receipts) and, when on,
  observe/report.json (the observer).
"""

import json
import os
import sys


def load(path):
    with open(path) as f:
        return json.load(f)


def e2e(report):
    return next(s for s in report["stages"] if s["name"] == "end_to_end")


def row(out, load_name, side):
    d = os.path.join(out, f"{load_name}-{side}")
    rec = load(os.path.join(d, "receipts", "report.json"))
    r = {
        "events": rec["counts"]["receipts"],
        "expected": rec["counts"]["expected"],
        "integrity": "pass" if rec["integrity"]["passed"] else "FAIL",
        "eps": rec["throughput"]["events_per_s"],
        "p50": e2e(rec)["p50_ms"],
        "p99": e2e(rec)["p99_ms"],
        "obs": None,
    }
    if side == "on":
        obs = load(os.path.join(d, "observe", "report.json"))
        o = obs["receipts"]["observe"]
        r["poll_ms"] = o["poll_ms"]
        r["obs"] = {
            "found": o["found"],
            "docs_per_s": o["documents_per_s"],
            "docs": o["documents_read"],
            "reads_per_s": o["polls"] / o["seconds"] if o["seconds"] > 0 else 0.0,
            # absent from reports of verifiers before the watch list (issue 33)
            "looked_per_read": o["looked_for"] / max(o["polls"], 1) if "looked_for" in o else None,
            "res_p50": o["resolution"]["p50_ms"],
            "res_p99": o["resolution"]["p99_ms"],
            "p50": e2e(obs)["p50_ms"],
            "p99": e2e(obs)["p99_ms"],
        }
    return r


def fmt_row(label, side, r):
    o = r["obs"]
    cells = [
        f"{label:<14}",
        f"{side:<7}",
        f"{r['events']:>6}/{r['expected']:<6}",
        f"{r['integrity']:<9}",
        f"{r['eps']:>9.1f}",
        f"{r['p50']:>9.2f}",
        f"{r['p99']:>9.2f}",
    ]
    if o:
        cells += [
            f"{o['docs_per_s']:>10.0f}",
            f"{o['reads_per_s']:>8.1f}",
            f"{o['looked_per_read']:>11.0f}" if o["looked_per_read"] is not None else f"{'?':>11}",
            f"{o['res_p50']:>6.1f}/{o['res_p99']:<6.1f}",
            f"{o['p50']:>7.2f}/{o['p99']:<7.2f}",
        ]
    else:
        cells += [f"{'-':>10}", f"{'-':>8}", f"{'-':>11}", f"{'-':>13}", f"{'-':>15}"]
    return "  ".join(cells)


def main():
    out, run_s, drain_n = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
    rates = [int(r) for r in sys.argv[4:]]
    loads = [(f"rate-{r}", f"rate {r}/s") for r in rates] + [(f"drain-{drain_n}", f"drain {drain_n}")]
    rows = {(l, s): row(out, l, s) for l, _ in loads for s in ("off", "on")}
    mem = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30
    print()
    print(f"machine: {os.cpu_count()} cores, {mem:.0f} GiB; store: FerretDB (SQLite); consumer: event-processor")
    print(f"loads: rate R = demo_run(R x {run_s}, R); drain = demo_generate({drain_n}); each with observe off, then on")
    on = rows[(loads[0][0], "on")]
    print(f"observer: --receipts {os.environ.get('OBSERVE', 'observe')} (poll {on['poll_ms']:.0f} ms)")
    print()
    print("load            observe  events         integrity  events/s   e2e p50   e2e p99   observer:  docs/s  reads/s  looked/read  res p50/p99 ms  e2e p50/p99 ms")
    for l, label in loads:
        for s in ("off", "on"):
            print(fmt_row(label, s, rows[(l, s)]))
    print()
    print("observe on/off (the consumer's figures, from its receipts):")
    for l, label in loads:
        off, on = rows[(l, "off")], rows[(l, "on")]
        o = on["obs"]
        print(
            f"  {label:<12} end to end p50 {on['p50'] / off['p50']:.2f}x, p99 {on['p99'] / off['p99']:.2f}x, "
            f"throughput {on['eps'] / off['eps']:.2f}x ({on['eps']:.0f} vs {off['eps']:.0f} events/s); "
            f"the observer read {o['docs_per_s']:.0f} documents/s ({o['docs'] / max(o['found'], 1):.2f} per event), "
            f"{o['reads_per_s']:.1f} reads/s"
        )


if __name__ == "__main__":
    main()
