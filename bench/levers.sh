#!/usr/bin/env bash
#/ Benchmark (not a test): two sets of settings for the whole stack, side by side in one run, in
#/ both orders: legs OLD, NEW, NEW, OLD (a drift of the machine, or a first run's warm-up, falls
#/ on both). Each leg:
#/   1. stack/up.sh with the leg's stack settings (STACK_SETTINGS: only the parts whose settings
#/      differ restart), then the stack's daemon idle (it follows nothing);
#/   2. bench/efficiency.sh: IDLE_S seconds with no event flowing, then N events at RATE/s after a
#/      warm-up of N/4: CPU of every part, idle in % of one core and per 1,000 events;
#/   3. FAST_N events at FAST_RATE/s (scripts/demo/run_demo.sh): end to end p50/p95/p99;
#/   4. with CAPACITY=1, the capacity search (scripts/demo/capacity.sh, its default objectives,
#/      one processor, BUDGET_S seconds): the highest sustainable rate.
#/ Prints a table: each leg, the mean of OLD's two legs and of NEW's, and NEW / OLD, for the
#/ whole machine's CPU (idle and per 1,000 events), each part's, the end-to-end percentiles at
#/ both rates and the capacity. The settings recorded before (.stack/settings) are restored at the
#/ end, also when a leg fails. Results in .stack/bench/levers/<time>/ (a folder per leg).
#/
#/ OLD and NEW are NAME=VALUE words: the stack's settings (stack/settings.sh: FERRETDB_GOGC,
#/ FERRETDB_GOMAXPROCS, FERRETDB_MMAP_MB, FERRETDB_BINARY, VERIFIER_BINARY, DEBEZIUM_POLL_MS, DEBEZIUM_SSLMODE, DEBEZIUM_BUILD,
#/ KAFKA_NETWORK_THREADS, KAFKA_IO_THREADS, JAVA_GC, JAVA_HEAP_MB, JAVA_JIT; a setting OLD does
#/ not name is its default)
#/ and the run's (TXN_SIZE, and the processor's IN_FLIGHT, BATCH_SIZE, …). A setting that changes what is measured
#/ (TXN_SIZE: each event waits for its transaction's last) is flagged in the table.
#/ Needs the single-node stack with its pipeline (stack/up.sh). About 4 minutes a leg without
#/ the capacity search.
#/
#/ Usage: NEW="FERRETDB_GOGC=1000" [OLD=""] [N=10000] [RATE=500] [FAST_N=20000] [FAST_RATE=1000]
#/        [IDLE_S=30] [CAPACITY=0|1] [BUDGET_S=300] bench/levers.sh
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/../scripts/demo/lib.sh"

no_arguments "$@"
OLD="${OLD:-}" NEW="${NEW:-}"
N="${N:-10000}" RATE="${RATE:-500}" FAST_N="${FAST_N:-20000}" FAST_RATE="${FAST_RATE:-1000}"
IDLE_S="${IDLE_S:-30}" CAPACITY="${CAPACITY:-0}" BUDGET_S="${BUDGET_S:-300}"
for v in "$N" "$RATE" "$FAST_N" "$FAST_RATE" "$IDLE_S" "$BUDGET_S"; do
  [[ "$v" =~ ^[1-9][0-9]*$ ]] || die "N, RATE, FAST_N, FAST_RATE, IDLE_S and BUDGET_S must be positive whole numbers (got '$v')"
done
[[ "$CAPACITY" =~ ^[01]$ ]] || die "CAPACITY must be 0 or 1 (got '$CAPACITY')"
[ "$OLD" != "$NEW" ] || die "OLD and NEW are the same settings ('$OLD'): set NEW (e.g. NEW=\"FERRETDB_GOGC=1000\")"

# split WORDS -> "stack settings|run settings", each checked
split() {
  local word for_stack=() for_run=()
  for word in $1; do
    if setting_default "${word%%=*}" >/dev/null; then for_stack+=("$word")
    else
      check_run_settings "OLD and NEW" "$word" "the stack's (${SETTING_NAMES[*]}: stack/settings.sh)"
      for_run+=("$word")
    fi
  done
  settings_words "${for_stack[*]}"
  printf '%s|%s\n' "${for_stack[*]}" "${for_run[*]}"
}
old="$(split "$OLD")" new="$(split "$NEW")"
if [ "$CAPACITY" = 1 ]; then
  for word in ${old#*|} ${new#*|}; do
    [[ "$word" =~ ^(TXN_SIZE|BATCH_SIZE|IN_FLIGHT)= ]] ||
      die "CAPACITY=1: scripts/demo/capacity.sh takes TXN_SIZE, BATCH_SIZE and IN_FLIGHT of the run's settings, not '$word'"
  done
fi
require_stack
cluster_profile && die "bench/levers.sh measures the single-node stack; this stack runs the cluster profile (STACK_PROFILE=single stack/up.sh)"
pid_of verifier >/dev/null || die "the stack's verifier serve is not running: start the stack with its pipeline (stack/up.sh)"

out="$STACK_DIR/bench/levers/$(date +%Y%m%d-%H%M%S)"
mkdir -p "$out"
saved="$(recorded_settings)"
restore() {
  log "bench: restoring the stack's settings (${saved:-the defaults})"
  STACK_SETTINGS="$saved" "$REPO_ROOT/stack/up.sh" >>"$out/up.log" 2>&1 || log "bench: stack/up.sh could not restore the settings; see $out/up.log"
}
trap restore EXIT

# daemon_idle -> waits until the stack's daemon follows no run (a restarted part's catch-up, or
# the previous leg's last run, would otherwise share the cores with the next measurement)
daemon_idle() {
  is_idle() {
    local runs
    runs="$(daemon_following)" && [ -z "$runs" ]
  }
  wait_until 600 is_idle || die "the stack's verifier serve still follows runs after 600 s; see http://$STACK_VERIFIER_ADDR/"
}

# leg I NAME SPLIT -> .stack/bench/levers/<time>/leg-I-NAME/: efficiency.sh's idle.json,
# run.json and report.json, fast.json (the FAST run's report), capacity.json
leg() {
  local dir="$out/leg-$1-$2" stack="${3%|*}" run="${3#*|}" fast
  mkdir -p "$dir"
  log "bench: leg $1 ($2): stack settings '${stack:-defaults}', run settings '${run:-defaults}'"
  STACK_SETTINGS="$stack" "$REPO_ROOT/stack/up.sh" >>"$out/up.log" 2>&1 || die "stack/up.sh with '$stack' failed; see $out/up.log"
  daemon_idle
  N="$N" RATE="$RATE" IDLE_S="$IDLE_S" RUN_SETTINGS="$run" "$REPO_ROOT/bench/efficiency.sh" >"$dir/efficiency.txt" 2>>"$dir/bench.log" ||
    die "bench/efficiency.sh failed in leg $1; see $dir/bench.log"
  cp "$(sed -n 's/.*; \(\/.*\)$/\1/p' "$dir/efficiency.txt" | head -n 1)"/{idle,run,report}.json "$dir/"
  fast="$(bench_run "$run" "$FAST_N" "$FAST_RATE")"
  cp "$fast/report.json" "$dir/fast.json"
  if [ "$CAPACITY" = 1 ]; then
    log "bench: leg $1: capacity search (BUDGET_S=$BUDGET_S)"
    # shellcheck disable=SC2086 # run is a list of NAME=VALUE words, checked above
    env $run BUDGET_S="$BUDGET_S" CAPACITY_DIR="$dir/capacity" "$REPO_ROOT/scripts/demo/capacity.sh" >"$dir/capacity.txt" 2>&1 ||
      [ "$?" -eq 1 ] || die "the capacity search failed in leg $1; see $dir/capacity.txt"
    cp "$dir/capacity/latest/capacity.json" "$dir/capacity.json"
  fi
}

leg 1 old "$old"
leg 2 new "$new"
leg 3 new "$new"
leg 4 old "$old"
echo "levers: OLD '${OLD:-the defaults}' against NEW '$NEW'; $(nproc) cores, $(uname -m), $(date -I); $out"
python3 "$REPO_ROOT/bench/levers.py" "$out" "$RATE" "$FAST_RATE" "$OLD" "$NEW"
