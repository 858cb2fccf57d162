#!/usr/bin/env bash
#/ Attaches the live dashboard to a run: the latest one, or the one given. Read-only: it follows
#/ the run through Kafka and MongoDB beside whatever else watches it (its own consumer group,
#/ verifier-group, reads by time and commits nothing the pipeline depends on). q or Esc leaves.
#/ Without a terminal it prints a progress line per second instead. Exits with the verdict of
#/ what it saw (0 pass, 1 fail, 2 could not run, 3 incomplete: events still on their way).
#/
#/ Usage: scripts/demo/monitor.sh [RUN_ID]
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

run_id_argument "$@"
require_up postgresql kafka ferretdb
build_binaries
args=(watch --run "$run" --listen off)
if [ -t 1 ]; then
  mkdir -p "$DEMO_DIR"
  args=(--log-file "$DEMO_DIR/monitor.log" "${args[@]}" --dashboard)
fi
exec "$VERIFIER_BIN" "${args[@]}"
