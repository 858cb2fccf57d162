#!/usr/bin/env bash
#/ A consumer under supervision, the consumer of scripts/demo/faults.sh: runs event-processor
#/ (the release build), or SUPERVISED_CMD when given, in the foreground and, whenever it exits
#/ without this script being asked to stop (kill -9, or a SIGTERM sent to the consumer alone),
#/ starts it again: at once after a clean exit (status 0), RESTART_AFTER_S later after any other.
#/ Each start appends "<pid> <µs since the epoch>" to PID_FILE, so the fault injector knows the
#/ pid to hit and when the healing came. SIGTERM (or Ctrl-C) to this script stops the consumer
#/ cleanly and exits with its status.
#/
#/ Environment: PID_FILE (required), RESTART_AFTER_S (default 3), SUPERVISED_CMD (a command run
#/ with bash -c; it should exec the consumer, so that its pid is the consumer's), and the
#/ consumer's own (MONGODB_URI, PROCESSOR_GROUP, METRICS_ADDR, METRICS_FILE, LOG_LEVEL, ...).
#/
#/ Usage: PID_FILE=FILE scripts/demo/fault_processor.sh
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
no_arguments "$@"
[ -n "${PID_FILE:-}" ] || die "PID_FILE must name the file to append each event-processor pid to"
RESTART_AFTER_S="${RESTART_AFTER_S:-3}"
[[ "$RESTART_AFTER_S" =~ ^[0-9]+$ ]] || die "RESTART_AFTER_S must be whole seconds (got '$RESTART_AFTER_S')"

stopping=0 child=""
trap 'stopping=1; if [ -n "$child" ] && kill -0 "$child" 2>/dev/null; then kill -TERM "$child"; fi' TERM INT
while :; do
  if [ -n "${SUPERVISED_CMD:-}" ]; then
    bash -c "$SUPERVISED_CMD" &
  else
    "$PROCESSOR_BIN" &
  fi
  child=$!
  printf '%s %s\n' "$child" "$(date +%s%6N)" >>"$PID_FILE"
  wait "$child" && rc=0 || rc=$?
  if [ "$stopping" = 1 ]; then
    # wait returned for the signal; now for event-processor's own exit
    wait "$child" && rc=0 || rc=$?
    exit "$rc"
  fi
  child=""
  log "the consumer exited with status $rc; starting it again"
  if [ "$rc" -ne 0 ] && [ "$RESTART_AFTER_S" -gt 0 ]; then
    sleep "$RESTART_AFTER_S" &
    pause=$!
    wait "$pause" && slept=0 || slept=$?
    if [ "$stopping" = 1 ]; then
      kill "$pause" 2>/dev/null && log "stopped while waiting to restart (sleep status $slept)"
      exit 0
    fi
  fi
  [ "$stopping" = 0 ] || exit 0
done
