#!/usr/bin/env bash
#/ Integrity and latency report of a finished run: the latest one, or the one given. Joins the
#/ run's manifest, its events on Kafka and their receipts in MongoDB, audits MongoDB's state,
#/ judges the SLOs (SLO_FILE, JSON, replaces the defaults) and prints the report. Writes
#/ report.txt, report.json, report.html and the .hlog files into the run's folder
#/ (.stack/demo/run-<id>/verify/). A run through another consumer (run_demo.sh's CONSUMER,
#/ CONSUMER_CMD) is verified the same way as it was followed: from the metrics file in its
#/ folder; an observed one (RECEIPTS=observe) has its effects checked again (integrity only:
#/ observing measures latency only live, and the run's report.txt has it). Exit code: 0 pass,
#/ 1 fail (integrity or an SLO), 2 could not run, 3 incomplete (events still on their way, none
#/ proven lost).
#/
#/ Usage: [SLO_FILE=slo.json] scripts/demo/verify.sh [RUN_ID]
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

run_id_argument "$@"
require_up postgresql kafka ferretdb
if [ "$run" = latest ]; then
  # A failing query is said as it is (the extension missing, a permission), not taken for an
  # empty manifest.
  run="$(app_sql "SELECT max(run_id) FROM outbox_demo.runs" 2>&1)" ||
    die "cannot read the run manifest outbox_demo.runs in PostgreSQL at $PG_ADDR: $run"
  [ -n "$run" ] || die "there is no run to verify: outbox_demo.runs is empty (load events with scripts/demo/load_10.sh)"
fi
build_binaries
dir="$(run_dir "$run")"
# The run is verified the way run_demo.sh verified it (consumer.txt: the consumer's group and
# the receipts), its metrics file found in the run's folder.
receipts=processed-events
if [ -f "$dir/consumer.txt" ]; then
  receipts="$(sed -n 's/^receipts=//p' "$dir/consumer.txt")"
  group="$(sed -n 's/^group=//p' "$dir/consumer.txt")"
  [ -z "$group" ] || export PROCESSOR_GROUP="$group"
fi
args=(report --run "$run" --out "$dir/verify" --idle-timeout 30)
case "$receipts" in
  metrics-file)
    metrics=("$dir"/*-events.jsonl)
    args+=(--receipts "metrics-file:${metrics[0]}")
    ;;
  observe*)
    # Observing measures only while the events arrive: on a run that is over, every effect is
    # found at the first look. The run's latency is its live report's; this checks the effects.
    log "run $run was observed (RECEIPTS=observe): its latency is in $dir/report.txt, measured live; checking every effect in the store again"
    exec "$VERIFIER_BIN" check --run "$run" --receipts "$receipts" --idle-timeout 30
    ;;
esac
if [ -n "${SLO_FILE:-}" ]; then
  [ -r "$SLO_FILE" ] || die "SLO_FILE $SLO_FILE cannot be read"
  args+=(--slo "$SLO_FILE")
fi
exec "$VERIFIER_BIN" "${args[@]}"
