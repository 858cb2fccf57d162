#!/usr/bin/env bash
#/ Benchmark (not a test): the pipeline's capacity (scripts/demo/capacity.sh with its defaults:
#/ 30 s steps from 100/s, the default SLOs unless SLO_FILE, mix 50/30/20) in these phases:
#/   fresh-1    a fresh store (scripts/demo/setup.sh), 1 event-processor
#/   fresh-2    a fresh store, 2 event-processors in one group (3 partitions)
#/   filled-1   the store holding STORE_EVENTS events' documents (default 1,000,000: generated
#/              with demo_generate in chunks of 100,000 and projected by FILL_PROCESSORS
#/              processors until the group's lag is 0), 1 event-processor
#/   filled-2   the same store, 2 event-processors
#/   alt-1      a fresh store, 1 event-processor with ALT (default "IN_FLIGHT=2": a batch's
#/              receipts beside the next batch): PHASES="fresh-1 alt-1" compares the
#/              processor's settings in one run
#/ A phase may be named twice (PHASES="fresh-1 fresh-1": do two runs agree?). A fresh phase
#/ starts from setup.sh; the first filled phase fills the store once, and a filled phase after it
#/ keeps that store (grown by the searches before it). Each phase is one capacity search (about
#/ 6 to 10 minutes). Prints each phase's answer, then a table: max sustainable rate, first failed
#/ rate, bottleneck, steps, and the ratio of the max sustainable rate to the first fresh-1's.
#/ Every phase's files stay in .stack/bench/capacity/<time>/<n>-<phase>/. A phase that finds no
#/ rate is shown as such (the table says why); the script goes on.
#/
#/ Usage: [PHASES="fresh-1 fresh-2 filled-1 filled-2"] [STORE_EVENTS=1000000] [FILL_PROCESSORS=2] [ALT=…] bench/capacity.sh
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/../scripts/demo/lib.sh"

no_arguments "$@"
PHASES="${PHASES:-fresh-1 fresh-2 filled-1 filled-2}"
STORE_EVENTS="${STORE_EVENTS:-1000000}"
FILL_PROCESSORS="${FILL_PROCESSORS:-2}"
[[ "$STORE_EVENTS" =~ ^[1-9][0-9]*$ ]] || die "STORE_EVENTS must be a positive whole number (got '$STORE_EVENTS')"
[[ "$FILL_PROCESSORS" =~ ^[1-9]$ ]] || die "FILL_PROCESSORS must be 1 to 9 (got '$FILL_PROCESSORS')"
for phase in $PHASES; do
  case "$phase" in
    fresh-1 | fresh-2 | filled-1 | filled-2 | alt-1) ;;
    *) die "unknown phase '$phase' in PHASES (fresh-1, fresh-2, filled-1, filled-2, alt-1)" ;;
  esac
done
ALT="${ALT-IN_FLIGHT=2}"
check_processor_settings ALT "$ALT"
require_stack
build_binaries
require_no_demo_run

out="$STACK_DIR/bench/capacity/$(date +%Y%m%d-%H%M%S)"
mkdir -p "$out"

fill_pids=()
stop_fillers() {
  local pid
  for pid in "${fill_pids[@]}"; do
    if kill -0 "$pid" 2>/dev/null; then
      kill -TERM "$pid" 2>/dev/null || log "event-processor (pid $pid) had already ended"
      wait "$pid" 2>/dev/null || log "event-processor (pid $pid) exited with status $?"
    fi
  done
  fill_pids=()
}
trap stop_fillers EXIT
trap 'exit 130' INT TERM HUP

# Generates STORE_EVENTS events in bulk and projects them all into the store.
fill_store() {
  local left="$STORE_EVENTS" chunk i
  log "bench: filling the store with $STORE_EVENTS events' documents"
  while [ "$left" -gt 0 ]; do
    chunk=$((left < 100000 ? left : 100000))
    app_sql "SELECT count(*) FROM demo_generate($chunk)" >/dev/null || die "demo_generate($chunk) failed (above)"
    left=$((left - chunk))
    log "bench: generated $((STORE_EVENTS - left)) of $STORE_EVENTS"
  done
  for i in $(seq 1 "$FILL_PROCESSORS"); do
    LOG_LEVEL=WARNING METRICS_ADDR=127.0.0.1:0 "$PROCESSOR_BIN" 2>"$out/fill-processor-$i.log" &
    fill_pids+=($!)
  done
  drained() {
    local lag
    lag="$("$VERIFIER_BIN" --log-level ERROR lag --json | jq -r '.lag')" || return 1
    if [ "$SECONDS" -ge "${next_note:-0}" ]; then
      log "bench: projecting the fill: $lag records to go"
      next_note=$((SECONDS + 30))
    fi
    [ "$lag" = 0 ]
  }
  wait_until "$((STORE_EVENTS / 200 + 120))" drained ||
    die "the fill was not projected within $((STORE_EVENTS / 200 + 120)) s; see $out/fill-processor-*.log"
  stop_fillers
  log "bench: the store holds $STORE_EVENTS events' documents"
}

# phase DIR PROCESSORS [SETTINGS…]: one capacity search into $out/DIR, the processors with
# SETTINGS; its answer goes to stdout.
phase() {
  local started=$SECONDS rc dir="$1" processors="$2"
  shift 2
  log "bench: phase $dir ($processors processor(s)${1:+, $*})"
  env "$@" CAPACITY_DIR="$out/$dir" PROCESSORS="$processors" "$REPO_ROOT/scripts/demo/capacity.sh" \
    >"$out/$dir.out" 2>"$out/$dir.err" && rc=0 || rc=$?
  [ "$rc" -le 1 ] || die "the $dir search could not run (exit $rc): see $out/$dir.err"
  printf '%s: %s (exit %s, %s s)\n' "$dir" "$(tail -n 1 "$out/$dir.out")" "$rc" "$((SECONDS - started))"
}

fresh_setup() {
  "$REPO_ROOT/scripts/demo/setup.sh" >"$out/setup-$1.log" 2>&1 || die "setup.sh failed: see $out/setup-$1.log"
}

dirs=()
filled=""
n=0
for p in $PHASES; do
  n=$((n + 1))
  dir="$n-$p"
  case "$p" in
    fresh-* | alt-*)
      fresh_setup "$dir"
      filled=""
      ;;
    filled-*)
      if [ -z "$filled" ]; then
        fresh_setup "$dir"
        fill_store
        filled=1
      fi
      ;;
  esac
  if [ "${p%-*}" = alt ]; then
    # shellcheck disable=SC2086 # ALT is a list of NAME=VALUE words, checked above
    phase "$dir" "${p##*-}" $ALT
  else
    phase "$dir" "${p##*-}"
  fi
  dirs+=("$dir")
done

echo
echo "capacity: $(nproc) cores, $(uname -m), $(date -I); STEP_S ${STEP_S:-30}, mix ${MIX:-50/30/20}, ${SLO_FILE:-the default SLOs}"
base=""
for dir in "${dirs[@]}"; do
  if [ "${dir#*-}" = fresh-1 ] && [ -f "$out/$dir/latest/capacity.json" ]; then
    base="$(jq -r '.max_sustainable // empty' "$out/$dir/latest/capacity.json")"
    break
  fi
done
printf '%-10s %16s %14s %-16s %6s %10s\n' phase "max sustainable" "first failed" bottleneck steps "vs fresh-1"
for p in "${dirs[@]}"; do
  jq -r --arg p "$p" --arg base "$base" '
    def r($v): if $v == null then "-" else ($v | tostring) + "/s" end;
    def x2: (. * 100 | round) as $c | ($c / 100 | floor | tostring) + "." + ($c % 100 | tostring | if length < 2 then "0" + . else . end);
    [$p, r(.max_sustainable), r(.first_failed),
     (if .bottleneck == [] then "-" else .bottleneck | join("+") end), (.steps | length),
     (if .max_sustainable == null or $base == "" then "-"
      else (.max_sustainable / ($base | tonumber) | x2) + "x" end)]
    | "\(.[0] | . + " " * (10 - length)) \(.[1] | " " * (16 - length) + .) \(.[2] | " " * (14 - length) + .) \(.[3] | . + " " * ([16 - length, 0] | max)) \(.[4] | tostring | " " * (6 - length) + .) \(.[5] | " " * (10 - length) + .)"' \
    "$out/$p/latest/capacity.json"
done
echo "files: $out"
