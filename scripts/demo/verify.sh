#!/usr/bin/env bash
#/ Integrity and latency report of a finished run: the latest one, or the one given. Joins the
#/ run's manifest, its events on Kafka and their receipts in MongoDB, audits MongoDB's state,
#/ judges the SLOs (SLO_FILE, JSON, replaces the defaults) and prints the report. Writes
#/ report.txt, report.json, report.html and the .hlog files into the run's folder
#/ (.stack/demo/run-<id>/verify/). Exit code: 0 pass, 1 fail (integrity or an SLO), 2 could not
#/ run, 3 incomplete (events still on their way, none proven lost).
#/
#/ Usage: [SLO_FILE=slo.json] scripts/demo/verify.sh [RUN_ID]
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

case "${1:-}" in
  -h | --help)
    script_help
    exit 0
    ;;
  "" | latest) run=latest ;;
  *)
    [[ "$1" =~ ^[1-9][0-9]*$ ]] || die "RUN_ID must be a run id from SELECT * FROM demo_status() (got '$1')"
    run="$1"
    ;;
esac
[ $# -le 1 ] || die "too many arguments (usage: scripts/demo/verify.sh [RUN_ID])"
require_up postgresql kafka ferretdb
if [ "$run" = latest ]; then
  # A failing query is said as it is (the extension missing, a permission), not taken for an
  # empty manifest.
  run="$(app_sql "SELECT max(run_id) FROM outbox_demo.runs" 2>&1)" ||
    die "cannot read the run manifest outbox_demo.runs in PostgreSQL at $PG_ADDR: $run"
  [ -n "$run" ] || die "there is no run to verify: outbox_demo.runs is empty (load events with scripts/demo/load_10.sh)"
fi
build_binaries
args=(report --run "$run" --out "$(run_dir "$run")/verify" --idle-timeout 30)
if [ -n "${SLO_FILE:-}" ]; then
  [ -r "$SLO_FILE" ] || die "SLO_FILE $SLO_FILE cannot be read"
  args+=(--slo "$SLO_FILE")
fi
exec "$VERIFIER_BIN" "${args[@]}"
