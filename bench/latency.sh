#!/usr/bin/env bash
#/ Benchmark (not a test): event-processor's latency under load, old setting against new, on one
#/ stack in one run. One demo run (scripts/demo/run_demo.sh, N events at RATE/s) per setting:
#/   old  OLD (default "IN_FLIGHT=1 EARLY_JOINS=0"): one batch at a time, its three collections
#/        written concurrently, every join after the creations, then its receipts, then the
#/        next batch (the processor before issue 14)
#/   new  NEW (default "IN_FLIGHT=2"): a batch's receipts written while the next batch is
#/        received and its projections applied (the processor's default stays IN_FLIGHT=1:
#/        BENCHMARKS.md says why)
#/ after a warm-up run, ROUNDS times in turn (old, new, old, new, …) so that a drift of the
#/ machine falls on both. Prints per setting the queue, process and end-to-end percentiles (the best
#/ round's, by end-to-end p50), the throughput, the processor's CPU per 1,000 events (from its
#/ shutdown line), and the ratio old/new of each; then every round, with where the machine's
#/ CPU went during it: how busy the whole machine was (/proc/stat), then PostgreSQL (the
#/ postmaster and every backend it reaped, the generator's included), Kafka, Kafka Connect
#/ (Debezium), FerretDB and the processor, in CPU seconds per 1,000 events (the single-node
#/ stack; the rest of the busy time is the verifier's and the system's).
#/
#/ Usage: [N=20000] [RATE=1000] [ROUNDS=1] [OLD="IN_FLIGHT=1 EARLY_JOINS=0"] [NEW="IN_FLIGHT=2"] bench/latency.sh
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/../scripts/demo/lib.sh"

no_arguments "$@"
N="${N:-20000}"
RATE="${RATE:-1000}"
ROUNDS="${ROUNDS:-1}"
OLD="${OLD-IN_FLIGHT=1 EARLY_JOINS=0}"
NEW="${NEW-IN_FLIGHT=2}"
check_processor_settings OLD "$OLD"
check_processor_settings NEW "$NEW"
for v in "$N" "$RATE" "$ROUNDS"; do
  [[ "$v" =~ ^[1-9][0-9]*$ ]] || die "N, RATE and ROUNDS must be positive whole numbers (got '$v')"
done
require_stack

# summary DIR SIDE BEFORE AFTER -> one JSON line: the run's figures, the processor's CPU and the
# services' CPU between the BEFORE and AFTER snapshots
summary() {
  local cpu
  cpu="$(sed -n 's/.*cpu \([0-9.]*\) s (user + system) for \([0-9]*\) events (\([0-9.]*\) s per 1,000).*/\3/p' "$1/processor.log" | tail -n 1)"
  jq -c --arg f "$2" --arg cpu "${cpu:-}" --argjson a "$3" --argjson b "$4" --argjson hz "$(getconf CLK_TCK)" '
    .counts.expected as $n |
    {side: $f, run: .run.run_id, verdict,
    eps: .throughput.events_per_s, cpu: (if $cpu == "" then null else ($cpu | tonumber) end),
    services: ($b | del(.machine) | with_entries(.value = (.value - $a[.key]) / $hz * 1000 / $n)),
    busy: (($b.machine[0] - $a.machine[0]) / ($b.machine[1] - $a.machine[1])),
    stages: [.stages[] | select(.name == "queue" or .name == "process" or .name == "end_to_end")
             | {name, p50_ms, p95_ms, p99_ms}]}' "$1/report.json"
}

"$REPO_ROOT/scripts/demo/setup.sh" >/dev/null
bench_pids
bench_run "$NEW" "$((N / 4))" "$RATE" >/dev/null
rounds="$(mktemp)"
trap 'rm -f "$rounds"' EXIT
for _ in $(seq 1 "$ROUNDS"); do
  for side in old new; do
    if [ "$side" = old ]; then settings="$OLD"; else settings="$NEW"; fi
    before="$(services_cpu)"
    dir="$(bench_run "$settings" "$N" "$RATE")"
    summary "$dir" "$side" "$before" "$(services_cpu)" >>"$rounds"
  done
done

echo "processor latency: $N events at $RATE/s per run, $ROUNDS round(s); old: ${OLD:-the defaults}; new: ${NEW:-the defaults}; $(nproc) cores, $(uname -m), $(date -I)"
jq -rs '
  def best($f): map(select(.side == $f)) | min_by(.stages[] | select(.name == "end_to_end") | .p50_ms);
  def st($r; $s): $r.stages[] | select(.name == $s);
  def f($v): if $v == null then "-" else ($v * 100 | round / 100 | tostring) end;
  def f3($v): if $v == null then "-" else ($v * 1000 | round / 1000 | tostring) end;
  def ratio($x; $y): if $x == null or $y == null or $y == 0 then "-" else ($x / $y * 100 | round / 100 | tostring) + "x" end;
  best("old") as $o | best("new") as $n |
  ["figure", "old", "new", "old/new"],
  (("queue", "process", "end_to_end") as $s | ("p50_ms", "p95_ms", "p99_ms") as $p
   | ["\($s) \($p)", f(st($o; $s)[$p]), f(st($n; $s)[$p]), ratio(st($o; $s)[$p]; st($n; $s)[$p])]),
  ["events/s", f($o.eps), f($n.eps), ratio($o.eps; $n.eps)],
  ["cpu s per 1,000 events", f3($o.cpu), f3($n.cpu), ratio($o.cpu; $n.cpu)],
  [],
  ["run", "setting", "e2e p50", "e2e p99", "events/s", "verdict", "machine busy", "cpu s per 1,000 events:", "processor", "postgresql", "kafka", "connect", "ferretdb"],
  (.[] | [(.run | tostring), .side, f(st(.; "end_to_end").p50_ms),
          f(st(.; "end_to_end").p99_ms), f(.eps), .verdict, (.busy * 100 | round | tostring) + " %", "", f3(.cpu),
          f3(.services.postgresql), f3(.services.kafka), f3(.services.connect), f3(.services.ferretdb)])
  | @tsv' "$rounds" | column -t -s $'\t'
