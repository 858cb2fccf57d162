#!/usr/bin/env bash
#/ Shows a run live: the latest one, or the one given. Exits with the verdict of what it saw
#/ (0 pass, 1 fail, 2 could not run, 3 incomplete: events still on their way).
#/ When the stack's verifier serve runs (stack/up.sh starts it), it shows the daemon's view of
#/ the run, a line per second from http://127.0.0.1:9102/api/runs/N until the daemon's verdict,
#/ and follows nothing itself (the page, http://127.0.0.1:9102/runs/N, shows the same with its
#/ charts). Otherwise it follows the run itself: the live dashboard (q or Esc leaves), or
#/ without a terminal a progress line per second. Read-only either way: its own consumer group,
#/ verifier-group, reads by time and commits nothing the pipeline depends on.
#/
#/ Usage: scripts/demo/monitor.sh [RUN_ID]
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

run_id_argument "$@"
require_up postgresql kafka ferretdb

if verifier_healthy; then
  [ "$run" != latest ] || run="$(app_sql "SELECT max(run_id) FROM outbox_demo.runs")"
  [ -n "$run" ] || die "no run in the manifest yet"
  daemon_follow "$run" && exit 0 || rc=$?
  [ "$rc" -eq 4 ] || exit "$rc"
  log "the daemon does not follow run $run (it began after it): following it here"
fi
build_binaries
args=(watch --run "$run" --listen off)
if [ -t 1 ]; then
  mkdir -p "$DEMO_DIR"
  args=(--log-file "$DEMO_DIR/monitor.log" "${args[@]}" --dashboard)
fi
exec "$VERIFIER_BIN" "${args[@]}"
