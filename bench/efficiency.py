#!/usr/bin/env python3
"""Where every CPU second of the stack goes, for bench/efficiency.sh.

sample OUT PARTS_JSON: reads /proc every INTERVAL seconds until SIGTERM, then writes OUT: the CPU
ticks each part used between the first sample and the last. PARTS_JSON names the pids of the
stack's parts ({"postgresql": pid, "kafka": pid, ...}); the postmaster's children are each
classified by what PostgreSQL says they are (their process title, and pg_stat_activity's
application_name asked once per new backend on one session of this script's own); the
event-processor and verifier processes the run starts are found by name. A process that ends
between two samples loses at most INTERVAL of CPU; for PostgreSQL that remainder is measured
exactly (the postmaster's reaped children) and shown as its own line, never dropped.

table RESULT.json [RESULT.json ...]: prints each measurement's table, side by side: CPU seconds
per 1,000 events of each part (or CPU % of one core for an idle measurement).
"""

import json
import os
import signal
import subprocess
import sys
import time

HZ = os.sysconf("SC_CLK_TCK")
INTERVAL = float(os.environ.get("INTERVAL", "0.2"))

BACKGROUND = ("checkpointer", "background writer", "walwriter", "autovacuum", "logical replication",
              "archiver", "startup", "stats collector")


def stat(pid):
    """(comm, ppid, own ticks, reaped children's ticks) of pid, or None when it is gone."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            s = f.read()
    except OSError:
        return None
    comm = s[s.index("(") + 1:s.rindex(")")]
    f = s[s.rindex(")") + 2:].split()
    return comm, int(f[1]), int(f[11]) + int(f[12]), int(f[13]) + int(f[14])


def title(pid):
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as f:
            return f.read().replace(b"\0", b" ").decode(errors="replace").strip()
    except OSError:
        return ""


def machine_busy():
    """(busy, all) ticks of the whole machine: all but idle and iowait count as busy."""
    with open("/proc/stat") as f:
        v = [int(x) for x in f.readline().split()[1:9]]
    return sum(v) - v[3] - v[4], sum(v)


class Psql:
    """One session of this script's own, asked for application names."""

    def __init__(self):
        env = dict(os.environ, PGAPPNAME="bench-efficiency")
        self.p = subprocess.Popen(["psql", "-X", "-q", "-tA", "-F", "\t"], stdin=subprocess.PIPE,
                                  stdout=subprocess.PIPE, text=True, env=env)
        self.pid = int(self.ask("SELECT pg_backend_pid()")[0][0])

    def ask(self, sql):
        self.p.stdin.write(sql + ";\n\\echo __END__\n")
        self.p.stdin.flush()
        rows = []
        for line in self.p.stdout:
            line = line.rstrip("\n")
            if line == "__END__":
                return rows
            if line:
                rows.append(line.split("\t"))
        raise RuntimeError("psql ended: is PostgreSQL up?")

    def app_names(self):
        return {int(r[0]): r[1] for r in self.ask("SELECT pid, application_name FROM pg_stat_activity")}


def pg_class(t, app, bench_pid, pid, generator):
    """The role of one PostgreSQL process, from its title and application name."""
    if pid == bench_pid:
        return "postgresql: this benchmark's own session"
    if "walsender" in t:
        return "postgresql: WAL sender (logical decoding for Debezium)"
    if any(b in t for b in BACKGROUND):
        return "postgresql: background (checkpointer, writers, autovacuum, launchers)"
    if pid in generator:
        return "postgresql: the generator's session (demo_run)"
    if app == "verifier":
        return "postgresql: the verifiers' sessions"
    if " debezium " in f" {t} ":
        return "postgresql: Debezium's queries (not the WAL sender)"
    return f"postgresql: other sessions ({app or 'unnamed'})"


def sample(out, parts):
    stop = []
    signal.signal(signal.SIGTERM, lambda *_: stop.append(1))
    pg = Psql()
    postmaster = parts["postgresql"]
    named = {pid: name for name, pid in parts.items() if name != "postgresql"}
    first, last, what, apps, generator = {}, {}, {}, {}, set()
    # a process running when the measurement starts is measured from its first sample; one
    # that starts later, from zero
    running = {int(d) for d in os.listdir("/proc") if d.isdigit()}
    pm0 = stat(postmaster)
    busy0 = machine_busy()
    own0 = os.times()
    while True:
        seen = set()
        for d in os.listdir("/proc"):
            if not d.isdigit():
                continue
            pid = int(d)
            s = stat(pid)
            if s is None:
                continue
            comm, ppid, ticks, _ = s
            role = None
            if ppid == postmaster:
                t = title(pid)
                if " CALL" in t or "demo_run" in t or "demo_generate" in t:
                    generator.add(pid)
                if pid not in apps:
                    apps.update(pg.app_names())
                    apps.setdefault(pid, "")
                role = ("pg", t)
            elif pid in named:
                role = named[pid]
            elif comm == "event-processor":
                role = "event-processor (the run's)"
            elif comm == "verifier":
                role = "verifier watch (the run's)"
            if role is None:
                continue
            seen.add(pid)
            first.setdefault(pid, ticks if pid in running else 0)
            last[pid] = ticks
            what[pid] = role
        if stop:
            break
        time.sleep(INTERVAL)
    pm1 = stat(postmaster)
    busy1 = machine_busy()
    own1 = os.times()
    ended = [p for p in what if p not in seen]
    totals = {}
    for pid, role in what.items():
        if isinstance(role, tuple):
            role = pg_class(role[1], apps.get(pid, ""), pg.pid, pid, generator)
        totals[role] = totals.get(role, 0) + last[pid] - first[pid]
    # the postmaster itself, and what its children that ended used after their last sample
    totals["postgresql: the postmaster"] = pm1[2] - pm0[2]
    reaped = pm1[3] - pm0[3]
    # reaped is each ended child's whole life; up to its last sample is counted above
    seen_of_ended = sum(last[p] for p in ended if isinstance(what[p], tuple))
    totals["postgresql: sessions that ended, after their last sample"] = reaped - seen_of_ended
    sampler = round(((own1.user - own0.user) + (own1.system - own0.system)) * HZ)
    with open(out, "w") as f:
        json.dump({"ticks_per_s": HZ, "seconds": (busy1[1] - busy0[1]) / HZ / os.cpu_count(),
                   "machine_busy": busy1[0] - busy0[0], "sampler": sampler, "parts": totals}, f)


def table(paths):
    runs = [json.load(open(p)) for p in paths]
    for r in runs:
        r.setdefault("events", None)
    names = sorted({k for r in runs for k in r["parts"]}, key=order)
    head = ["part"] + [r["label"] for r in runs]
    rows = []

    def fig(r, ticks):
        s = ticks / r["ticks_per_s"]
        if r["events"]:
            return f"{s * 1000 / r['events']:.3f}"
        return f"{s / r['seconds'] * 100:.1f} %"

    for n in names:
        rows.append([n] + [fig(r, r["parts"].get(n, 0)) for r in runs])
    for r in runs:
        r["accounted"] = sum(r["parts"].values())
    rows.append(["all the parts above"] + [fig(r, r["accounted"]) for r in runs])
    rows.append(["this benchmark's sampler"] + [fig(r, r["sampler"]) for r in runs])
    rows.append(["the rest of the machine (scripts, psql, the kernel's own work)"]
                + [fig(r, r["machine_busy"] - r["accounted"] - r["sampler"]) for r in runs])
    rows.append(["the whole machine (busy)"] + [fig(r, r["machine_busy"]) for r in runs])
    w = [max(len(x[i]) for x in [head] + rows) for i in range(len(head))]
    for x in [head] + rows:
        print("  ".join(c.ljust(w[i]) if i == 0 else c.rjust(w[i]) for i, c in enumerate(x)))
    for r in runs:
        rest = r["machine_busy"] - r["accounted"] - r["sampler"]
        if rest < 0:
            print(f"note ({r['label']}): the parts add up to {-rest / r['ticks_per_s']:.2f} CPU s more than "
                  "the machine's busy time: per-process CPU (the scheduler's) and /proc/stat's "
                  "(tick counts) disagree by that much on this VM; both are shown as measured")


def order(name):
    rank = ["postgresql", "kafka", "connect", "ferretdb", "event-processor", "verifier"]
    for i, r in enumerate(rank):
        if name.startswith(r):
            return i, name
    return len(rank), name


if __name__ == "__main__":
    if len(sys.argv) == 4 and sys.argv[1] == "sample":
        sample(sys.argv[2], json.loads(sys.argv[3]))
    elif len(sys.argv) >= 3 and sys.argv[1] == "table":
        table(sys.argv[2:])
    else:
        sys.exit(__doc__)
