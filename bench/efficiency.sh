#!/usr/bin/env bash
#/ Benchmark (not a test): where every CPU second of the stack goes, per part and per role. First
#/ IDLE_S seconds with no event flowing (the stack as a user leaves it running), then one demo run
#/ (scripts/demo/run_demo.sh, N events at RATE/s, after a warm-up of N/4 events), measured from
#/ just before it starts to just after its report. bench/efficiency.py reads /proc every INTERVAL
#/ seconds meanwhile and prints each part's CPU, for the run in CPU seconds per 1,000 events and
#/ idle in % of one core:
#/   postgresql   split by role: the generator's session (demo_run), the WAL sender Debezium
#/                reads (logical decoding), Debezium's other queries, the verifiers' sessions,
#/                background processes (checkpointer, writers, autovacuum, launchers), other
#/                sessions (by application name), the postmaster, and what sessions that ended
#/                used after their last sample (measured exactly: the postmaster's reaped
#/                children)
#/   kafka, connect, ferretdb, the stack's event-processor and verifier serve (when running; the
#/   run pauses the stack's processor), and the run's own event-processor and verifier watch
#/   then the sampler's own CPU, the rest of the machine, and the whole machine's busy time
#/ Results in .stack/bench/efficiency/<time>/ (idle.json, run.json, the run's report.json).
#/ Needs the single-node stack (stack/up.sh).
#/
#/ RUN_SETTINGS: the run's own settings, NAME=VALUE words: TXN_SIZE (the generator's events per
#/ transaction) and the processor's (IN_FLIGHT, STORE_WRITERS, BATCH_SIZE, FETCH_WAIT_MS,
#/ FETCH_QUEUE_KB, EARLY_JOINS); the stack's own settings are stack/up.sh's (STACK_SETTINGS).
#/
#/ Usage: [N=10000] [RATE=500] [IDLE_S=30] [INTERVAL=0.2] [RUN_SETTINGS=…] bench/efficiency.sh
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/../scripts/demo/lib.sh"

no_arguments "$@"
N="${N:-10000}" RATE="${RATE:-500}" IDLE_S="${IDLE_S:-30}" RUN_SETTINGS="${RUN_SETTINGS:-}"
check_run_settings RUN_SETTINGS "$RUN_SETTINGS"
for v in "$N" "$RATE" "$IDLE_S"; do
  [[ "$v" =~ ^[1-9][0-9]*$ ]] || die "N, RATE and IDLE_S must be positive whole numbers (got '$v')"
done
require_stack
cluster_profile && die "bench/efficiency.sh measures the single-node stack; this stack runs the cluster profile (stack/up.sh --profile single)"

out="$STACK_DIR/bench/efficiency/$(date +%Y%m%d-%H%M%S)"
mkdir -p "$out"
bench_pids
parts="$(jq -cn --argjson pg "$postgres_pid" --argjson kafka "$kafka_pid" --argjson connect "$connect_pid" \
  --argjson store "$store_pid" '{postgresql: $pg, kafka: $kafka, connect: $connect, ferretdb: $store}')"
for p in processor verifier; do
  pid="$(pid_of "$p")" || continue
  name="$([ "$p" = processor ] && echo "event-processor (the stack's)" || echo "verifier serve (the stack's daemon)")"
  parts="$(jq -c --arg n "$name" --argjson pid "$pid" '. + {($n): $pid}' <<<"$parts")"
done

sampler_pid=""
stop_sampler() {
  [ -n "$sampler_pid" ] || return 0
  kill -TERM "$sampler_pid" 2>/dev/null || log "the sampler (pid $sampler_pid) had already ended"
  wait "$sampler_pid" || die "the sampler failed (exit $?): see $out/sampler.log"
  sampler_pid=""
}
trap stop_sampler EXIT

# measure NAME -> starts the sampler; NAME.json is written when stop_sampler ends it
measure() {
  python3 "$REPO_ROOT/bench/efficiency.py" sample "$out/$1.json" "$parts" 2>>"$out/sampler.log" &
  sampler_pid=$!
}

log "bench: the stack idle for $IDLE_S s"
measure idle
sleep "$IDLE_S"
stop_sampler
jq --arg l "idle, % of one core" '. + {label: $l}' "$out/idle.json" >"$out/idle.tmp" && mv "$out/idle.tmp" "$out/idle.json"

"$REPO_ROOT/scripts/demo/setup.sh" >/dev/null
bench_run "$RUN_SETTINGS" "$((N / 4))" "$RATE" >/dev/null
measure run
dir="$(bench_run "$RUN_SETTINGS" "$N" "$RATE")"
stop_sampler
cp "$dir/report.json" "$out/"
events="$(jq '.counts.expected' "$dir/report.json")"
jq --arg l "$N at $RATE/s, CPU s per 1,000" --argjson n "$events" '. + {label: $l, events: $n}' "$out/run.json" >"$out/run.tmp" &&
  mv "$out/run.tmp" "$out/run.json"

echo "efficiency: run $(jq '.run.run_id' "$dir/report.json") ($(jq -r '.verdict' "$dir/report.json")), e2e p50/p99 $(jq -r '.stages[] | select(.name == "end_to_end") | "\(.p50_ms)/\(.p99_ms) ms"' "$dir/report.json"); $(nproc) cores, $(uname -m), $(date -I); $out"
python3 "$REPO_ROOT/bench/efficiency.py" table "$out/idle.json" "$out/run.json"
