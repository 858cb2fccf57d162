"""bench/levers.sh's table: usage: levers.py OUT RATE FAST_RATE OLD NEW

Reads OUT/leg-I-{old,new}/ (idle.json and run.json from bench/efficiency.py, report.json of the
run at RATE, fast.json of the run at FAST_RATE, capacity.json when searched) and prints one row
per figure: each leg, the means of OLD's and NEW's legs, and NEW / OLD."""
import glob
import json
import os
import sys

GROUPS = [  # (row, the efficiency.py parts it sums)
    ("postgresql (all of it)", lambda p: p.startswith("postgresql")),
    ("  of which the generator's session", lambda p: "generator" in p),
    ("  of which the WAL sender (logical decoding)", lambda p: "WAL sender" in p),
    ("  of which the verifiers' sessions", lambda p: "verifiers' sessions" in p),
    ("kafka", lambda p: p == "kafka"),
    ("connect", lambda p: p == "connect"),
    ("ferretdb", lambda p: p == "ferretdb"),
    ("event-processor", lambda p: p.startswith("event-processor")),
    ("verifier (serve and any watch)", lambda p: p.startswith("verifier")),
]


def load(path):
    return json.load(open(path)) if os.path.exists(path) else None


def cpu_rows(label, legs, key, per):
    rows = [(f"{label}: the whole machine", [per(l[key], l[key]["machine_busy"]) for l in legs])]
    for name, match in GROUPS:
        rows.append((f"{label}: {name}",
                     [per(l[key], sum(v for k, v in l[key]["parts"].items() if match(k))) for l in legs]))
    return rows


def e2e(report, q):
    for s in report["stages"]:
        if s["name"] == "end_to_end":
            return s.get(f"{q}_ms")
    return None


def main(out, rate, fast_rate, old, new):
    dirs = sorted(glob.glob(os.path.join(out, "leg-*")))
    legs = []
    for d in dirs:
        legs.append({"name": os.path.basename(d), "idle": load(f"{d}/idle.json"), "run": load(f"{d}/run.json"),
                     "report": load(f"{d}/report.json"), "fast": load(f"{d}/fast.json"),
                     "capacity": load(f"{d}/capacity.json")})
    idle_pct = lambda r, t: t / r["ticks_per_s"] / r["seconds"] * 100
    per_1k = lambda r, t: t / r["ticks_per_s"] * 1000 / r["events"]
    rows = cpu_rows("idle, % of one core", legs, "idle", idle_pct)
    rows += cpu_rows(f"{rate}/s, CPU s per 1,000 events", legs, "run", per_1k)
    for q in ("p50", "p95", "p99"):
        rows.append((f"{rate}/s: end to end {q}, ms", [e2e(l["report"], q) for l in legs]))
    for q in ("p50", "p95", "p99"):
        rows.append((f"{fast_rate}/s: end to end {q}, ms", [e2e(l["fast"], q) for l in legs]))
    if any(l["capacity"] for l in legs):
        rows.append(("capacity, events/s (default objectives)",
                     [l["capacity"].get("max_sustainable") if l["capacity"] else None for l in legs]))
    head = ["figure"] + [l["name"].split("-", 1)[1] for l in legs] + ["OLD mean", "NEW mean", "NEW / OLD"]
    table = []
    for name, vals in rows:
        o = [v for l, v in zip(legs, vals) if l["name"].endswith("old") and v is not None]
        n = [v for l, v in zip(legs, vals) if l["name"].endswith("new") and v is not None]
        om = sum(o) / len(o) if len(o) == 2 else None
        nm = sum(n) / len(n) if len(n) == 2 else None
        ratio = f"{nm / om:.2f}x" if om and nm is not None else "-"
        table.append([name] + [fmt(v) for v in vals + [om, nm]] + [ratio])
    w = [max(len(r[i]) for r in [head] + table) for i in range(len(head))]
    for r in [head] + table:
        print("  ".join(c.ljust(w[i]) if i == 0 else c.rjust(w[i]) for i, c in enumerate(r)))
    print("verdicts: " + ", ".join(f"{l['name']} {l['report']['verdict']}/{l['fast']['verdict']}" for l in legs)
          + f" (at {rate}/s / at {fast_rate}/s)")
    if "TXN_SIZE" in old + new:
        print("note: TXN_SIZE changes what is measured: an event waits for its transaction's last one, "
              "and end to end (from scheduled_at) counts that wait")


def fmt(v):
    if v is None:
        return "-"
    return f"{v:.3f}" if isinstance(v, float) and abs(v) < 10 else f"{v:.1f}" if isinstance(v, float) else str(v)


if __name__ == "__main__":
    if len(sys.argv) != 6:
        sys.exit(__doc__)
    main(*sys.argv[1:])
