#!/usr/bin/env bash
#/ The demo, one command (the README's main one). On a fresh machine it installs and starts the
#/ real pipeline first (stack/up.sh runs stack/install.sh when something is missing), then:
#/   setup     scripts/demo/setup.sh: checks every part, clears the demo's data
#/   warm-up   rounds of WARMUP_EVENTS events at 120/s (RATE if set) through the whole pipeline,
#/             until one round meets the SLOs or WARMUP_ROUNDS were run: Kafka's and Connect's
#/             JVMs compile their hot paths during their first minutes, and a fresh stack would
#/             otherwise measure its JIT compiler. Each round's integrity is checked; its latency
#/             is shown in the summary, not judged (WARMUP_ROUNDS=0 skips the warm-up)
#/   loads     load_10.sh, load_100.sh, load_1000.sh, load_10000.sh: each starts the processor,
#/             generates its events, follows them live (dashboard in a terminal) and reports
#/   verify    verify.sh on each of the four runs once all are done: integrity and latency again,
#/             after every later load (nothing of an earlier run changed)
#/   summary   one table: events, Kafka, MongoDB, missing, applied twice, latency, verdict
#/ Exits 0 when all four runs pass (every event verified, nothing lost or applied twice, the
#/ default SLOs, or SLO_FILE's, met), 1 when one fails, 2 when the demo could not run.
#/ RATE, BATCH_SIZE, SLO_FILE, CONSUMER, CONSUMER_CMD, CONSUMER_READY, CONSUMER_GROUP and
#/ RECEIPTS pass through to the loads (run_demo.sh): CONSUMER=python RECEIPTS=observe runs the
#/ whole demo against the example Python consumer, verified without its cooperation. The
#/ summary names the consumer and the receipts.
#/
#/ Usage: [WARMUP_EVENTS=3000] [WARMUP_ROUNDS=6] scripts/demo/full_demo.sh
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/../.."
source scripts/demo/lib.sh

no_arguments "$@"
WARMUP_EVENTS="${WARMUP_EVENTS:-3000}"
WARMUP_ROUNDS="${WARMUP_ROUNDS:-6}"
[[ "$WARMUP_EVENTS" =~ ^[1-9][0-9]*$ ]] || die "WARMUP_EVENTS must be a positive whole number (got '$WARMUP_EVENTS')"
[[ "$WARMUP_ROUNDS" =~ ^[0-9]+$ ]] || die "WARMUP_ROUNDS must be a whole number (got '$WARMUP_ROUNDS')"

started=$SECONDS
phase() { printf '\n==== %s\n' "$*" >&2; }

phase "stack: install what is missing, start what is down"
stack/up.sh
command -v jq >/dev/null || die "jq is missing: run stack/install.sh"

phase "setup"
scripts/demo/setup.sh
export DEMO_BINARIES_BUILT=1 # setup.sh built them
consumer_choice # CONSUMER, CONSUMER_CMD, RECEIPTS (the stack installed the Python venv)
export CONSUMER RECEIPTS
setup_done=$SECONDS

# The run id of the latest run_demo.sh.
latest_run() { readlink "$DEMO_DIR/latest" | sed 's/^run-//'; }

warmups=()
for round in $(seq 1 "$WARMUP_ROUNDS"); do
  phase "warm-up round $round of at most $WARMUP_ROUNDS: $WARMUP_EVENTS events (integrity checked, latency shown, not judged)"
  TARGET_EVENTS="$WARMUP_EVENTS" RATE="${RATE:-120}" LOG_LEVEL=WARNING scripts/demo/run_demo.sh >/dev/null && rc=0 || rc=$?
  warmups+=("$(latest_run)")
  report="$(run_dir "$(latest_run)")/report.json"
  [ "$rc" -le 1 ] || [ "$rc" -eq 3 ] || die "warm-up round $round could not run (exit $rc; messages above)"
  case "$(jq -r .integrity.status "$report")" in
    passed) ;;
    incomplete) die "warm-up round $round (run $(latest_run)) ended with events still on their way: the processor group is behind (scripts/demo/setup.sh moves it to the end); see $(run_dir "$(latest_run)")/report.txt" ;;
    *) die "warm-up round $round (run $(latest_run)) lost or duplicated events: the pipeline is not sound; see $(run_dir "$(latest_run)")/report.txt and stack/status.sh" ;;
  esac
  log "warm-up round $round: end to end p50 $(jq -r '.stages[] | select(.name == "end_to_end") | .p50_ms' "$report") ms, p99 $(jq -r '.stages[] | select(.name == "end_to_end") | .p99_ms' "$report") ms"
  [ "$(jq -r .verdict "$report")" != pass ] || break
done

runs=()
for n in 10 100 1000 10000; do
  phase "load of $n events (scripts/demo/load_$n.sh)"
  scripts/demo/"load_$n.sh" && rc=0 || rc=$?
  [ "$rc" -le 1 ] || [ "$rc" -eq 3 ] || die "load_$n.sh could not run (exit $rc; messages above)"
  runs+=("$(latest_run)")
done
loads_done=$SECONDS

phase "verification of the four runs"
failed=0
for run in "${runs[@]}"; do
  dir="$(run_dir "$run")"
  scripts/demo/verify.sh "$run" >"$dir/verify.txt" 2>"$dir/verify.log" && rc=0 || rc=$?
  [ "$rc" -le 1 ] || [ "$rc" -eq 3 ] || {
    cat "$dir/verify.log" >&2
    die "verify.sh $run could not run (exit $rc; above)"
  }
  [ "$rc" -eq 0 ] || failed=1
  log "run $run: $(grep -E '^(verdict|integrity)' "$dir/verify.txt" | head -n 1) (report: $dir/verify.txt)"
done

phase "summary"
# One row per run from its report.json: the warm-up's (not judged) and the four verifications'.
row() {
  jq -r --arg phase "$1" '
    def ms(s): (.stages[] | select(.name == "end_to_end") | .[s]) as $v
      | if $v == null then "-" else ($v * 100 | round / 100 | tostring) end;
    [$phase, (.run.run_id | tostring), (.run.written | tostring),
     (if .run.rate == null then "bulk" else (.run.rate | tostring) end),
     "\(.counts.kafka)+\(.counts.kafka_duplicates)", (.counts.receipts | tostring),
     (.integrity.missing_total | tostring), (.integrity.applied_twice | tostring),
     ms("p50_ms"), ms("p95_ms"), ms("p99_ms"),
     (if .throughput.events_per_s == null then "-" else (.throughput.events_per_s * 10 | round / 10 | tostring) end),
     (if .integrity.status == "passed" then "pass" elif .integrity.status == "incomplete" then "INCOMPLETE" else "FAIL" end),
     ([.slo_checks[] | select(.verdict == "fail") | .name] | if length == 0 then "met" else "missed: " + join(",") end),
     .verdict] | @tsv' "$2"
}
{
  printf 'phase\trun\tevents\trate/s\tKafka(+dup)\tMongoDB\tmissing\tapplied twice\te2e p50 ms\tp95 ms\tp99 ms\tevents/s\tintegrity\tSLOs\tverdict\n'
  for run in "${warmups[@]}"; do
    row "warm-up" "$(run_dir "$run")/report.json" | awk -F'\t' -v OFS='\t' '{ $14 = "not judged"; $15 = "-"; print }'
  done
  i=0
  for n in 10 100 1000 10000; do
    # An observed run's latency is its live report's (verify.sh checked its effects again).
    report="$(run_dir "${runs[$i]}")/verify/report.json"
    [ "${RECEIPTS%%:*}" != observe ] || report="$(run_dir "${runs[$i]}")/report.json"
    row "load_$n" "$report"
    i=$((i + 1))
  done
} | column -t -s $'\t'
printf '\nconsumer: %s; receipts: %s\n' "$CONSUMER_LABEL" "$RECEIPTS"
printf '\nstack and setup %ss, warm-up and loads %ss, verification %ss; %ss in all. Reports: %s/run-<id>/\n' \
  "$((setup_done - started))" "$((loads_done - setup_done))" "$((SECONDS - loads_done))" \
  "$((SECONDS - started))" "$DEMO_DIR"
if [ "$failed" -eq 0 ]; then
  printf 'full demo: PASS: every event of the four loads verified, nothing lost or applied twice, SLOs met\n'
else
  printf 'full demo: FAIL: see the table and the reports above\n'
fi
exit "$failed"
