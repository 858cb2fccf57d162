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

# daemon_view RUN -> the daemon's view of RUN, a line a second until its verdict; exits with it.
# Returns 1 when the daemon has not answered for the run in 10 s (it follows runs from the one
# after its first start).
daemon_view() {
  local id="$1" api="http://$STACK_VERIFIER_ADDR/api/runs/$1" body verdict unknown=0
  log "the stack's verifier serve follows run $id: its view from $api (the page: http://$STACK_VERIFIER_ADDR/runs/$id)"
  while true; do
    body="$(curl -fsS --max-time 5 "$api" 2>/dev/null)" || body=""
    verdict="$(jq -r '.verdict // empty' <<<"${body:-{\}}")"
    if [ -n "$verdict" ]; then
      jq -r '"run \(.run.run_id): \(.verdict | ascii_upcase): \(.counts.matched) of \(.counts.expected) verified, \(.integrity.missing_total) missing (\(.integrity.lost) lost), \(.integrity.applied_twice) applied twice; end to end p50 \(.stages[] | select(.name == "end_to_end") | .p50_ms) ms, p99 \(.stages[] | select(.name == "end_to_end") | .p99_ms) ms"' <<<"$body"
      case "$verdict" in pass) exit 0 ;; fail) exit 1 ;; *) exit 3 ;; esac
    fi
    if [ -n "$body" ]; then
      jq -r '"run \(.run.run_id) [\(.phase)] \(.elapsed_s | floor) s: \(.counts.receipts) of \(.counts.expected) in MongoDB, \(.counts.kafka) on Kafka; e2e p50 \([.stages[] | select(.name == "end_to_end") | .p50_ms][0] // "-") ms, p99 \([.stages[] | select(.name == "end_to_end") | .p99_ms][0] // "-") ms; not matched \(.backlog.unmatched)"' <<<"$body"
    else
      unknown=$((unknown + 1))
      [ "$unknown" -lt 10 ] || return 1
    fi
    sleep 1
  done
}

if verifier_healthy; then
  [ "$run" != latest ] || run="$(app_sql "SELECT max(run_id) FROM outbox_demo.runs")"
  [ -n "$run" ] || die "no run in the manifest yet"
  daemon_view "$run" || log "the daemon does not follow run $run (it began after it): following it here"
fi
build_binaries
args=(watch --run "$run" --listen off)
if [ -t 1 ]; then
  mkdir -p "$DEMO_DIR"
  args=(--log-file "$DEMO_DIR/monitor.log" "${args[@]}" --dashboard)
fi
exec "$VERIFIER_BIN" "${args[@]}"
