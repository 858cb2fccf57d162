#!/usr/bin/env bash
#/ Finds the highest rate the pipeline sustains within its SLOs, and where it breaks:
#/   1. starts PROCESSORS event-processors (one consumer group) and waits until the group has
#/      given out every partition; warns when the group is far behind the topic's end;
#/   2. runs `verifier capacity`: steps of STEP_S seconds at a fixed offered rate (CALL
#/      demo_run), starting at START_RATE, doubling while a step is sustainable, then bisecting
#/      between the last good and the first bad rate to within 5 %, or until BUDGET_S runs out;
#/      a progress line per second, a line per step;
#/   3. stops the processors (SIGTERM: each must exit 0) and prints the answer and every step.
#/ A step is sustainable when every event of it is verified within DRAIN_S seconds of its end,
#/ the SLOs hold over it (end to end from scheduled_at), the backlog (slot lag, processor lag,
#/ oldest unmatched) did not grow through it, and integrity passed. A lost event or a double
#/ effect stops the search (exit 1).
#/ Writes .stack/capacity/<time>/ (CAPACITY_DIR): capacity.json, capacity.html, one folder per
#/ step with its report, and processor-<i>.log; .stack/capacity/latest points at it.
#/ Exit code: 0 a sustainable rate found, 1 none (or an event lost), 2 could not run.
#/
#/ Environment:
#/   START_RATE  first rate, events/s                          default 100
#/   MAX_RATE    highest rate offered, events/s                default 50000
#/   STEP_S      seconds per step                              default 30
#/   DRAIN_S     seconds after a step to verify all of it      default 5
#/   BUDGET_S    seconds for the whole search                  default 600
#/   PROCESSORS  event-processor instances in one group        default 1
#/   TXN_SIZE    events per transaction of the rate runs       default 1
#/   MIX         UserCreated/ActivityCreated/ParticipantJoined default 50/30/20
#/   SLO_FILE    JSON objectives (verifier --slo)              default: the defaults
#/   BATCH_SIZE, LOG_LEVEL  passed to the processors           default 1000, INFO
#/   IN_FLIGHT   the processors' batches in flight (2: receipts beside the next batch)  default 1
#/
#/ Usage: [STEP_S=30] [BUDGET_S=600] [PROCESSORS=1] scripts/demo/capacity.sh
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

no_arguments "$@"
PROCESSORS="${PROCESSORS:-1}"
[[ "$PROCESSORS" =~ ^[1-9][0-9]?$ ]] || die "PROCESSORS must be 1 to 99 (got '$PROCESSORS')"
LOG_LEVEL="${LOG_LEVEL:-INFO}"
require_stack
build_binaries
require_no_demo_run

CAPACITY_DIR="${CAPACITY_DIR:-$STACK_DIR/capacity}"
out="$CAPACITY_DIR/$(date +%Y%m%d-%H%M%S)"
mkdir -p "$out"
ln -sfn "$(basename "$out")" "$CAPACITY_DIR/latest"

pids=()
verifier_pid=""
# One way out: the search (if still going: it cancels its rate run and writes what it found) and
# then the processors this script started stop, whatever happens.
# shellcheck disable=SC2317 # called by the trap
finish() {
  local pid
  if [ -n "$verifier_pid" ] && kill -0 "$verifier_pid" 2>/dev/null; then
    kill -TERM "$verifier_pid" 2>/dev/null || log "the verifier (pid $verifier_pid) had already ended"
    wait "$verifier_pid" 2>/dev/null || log "the search stopped (verifier exit status $?)"
  fi
  for pid in "${pids[@]}"; do
    if kill -0 "$pid" 2>/dev/null; then
      kill -TERM "$pid" 2>/dev/null || log "event-processor (pid $pid) had already ended"
      wait "$pid" 2>/dev/null || log "event-processor (pid $pid) exited with status $?"
    fi
  done
  rm -f "$DEMO_PROCESSOR_PID"
  resume_stack_processor
}
trap finish EXIT
trap 'exit 130' INT TERM HUP

pause_stack_processor
for i in $(seq 1 "$PROCESSORS"); do
  # metrics on a port the OS picks: the ready file names it
  rm -f "$out/processor-$i.ready"
  LOG_LEVEL="$LOG_LEVEL" BATCH_SIZE="${BATCH_SIZE:-1000}" IN_FLIGHT="${IN_FLIGHT:-1}" METRICS_ADDR=127.0.0.1:0 \
    READY_FILE="$out/processor-$i.ready" "$PROCESSOR_BIN" 2>"$out/processor-$i.log" &
  pids+=($!)
done
printf '%s\n' "${pids[0]}" >"$DEMO_PROCESSOR_PID"
partitions="$("$VERIFIER_BIN" --log-level ERROR lag --json | jq '.partitions | length')" ||
  die "could not read the partitions of $CDC_TOPIC (above)"
# shellcheck disable=SC2317 # called by wait_until
group_assigned() {
  local i addr held=0 n
  for i in $(seq 1 "$PROCESSORS"); do
    kill -0 "${pids[$((i - 1))]}" 2>/dev/null || {
      tail -n 20 "$out/processor-$i.log" >&2
      die "event-processor $i exited while starting (log above)"
    }
    addr="$(ready_addr "$out/processor-$i.ready" metrics)" || return 1
    n="$(curl -fsS --max-time 2 "http://$addr/metrics" | sed -n 's/^processor_assigned_partitions //p')" || return 1
    held=$((held + ${n:-0}))
  done
  [ "$held" -eq "$partitions" ]
}
wait_until 60 group_assigned ||
  die "the processors were not given all $partitions partitions within 60 s (is another member of the group running?); see $out/processor-*.log"
warn_if_behind 1000

log "capacity search: $PROCESSORS processor(s), steps of ${STEP_S:-30} s from ${START_RATE:-100}/s, budget ${BUDGET_S:-600} s; reports in $out"
args=(--log-level WARNING capacity --out "$out")
[ -z "${SLO_FILE:-}" ] || args+=(--slo "$SLO_FILE")
# The answer is shown and kept (tee, waited for, so that it is complete when this script ends).
# The search runs in the background, so that a signal to this script reaches the trap at once
# (bash runs traps only between commands), and the trap hands it on.
exec 3> >(tee "$out/answer.txt")
tee_pid=$!
"$VERIFIER_BIN" "${args[@]}" >&3 &
verifier_pid=$!
wait "$verifier_pid" && rc=0 || rc=$?
verifier_pid=""
exec 3>&-
wait "$tee_pid"
exit "$rc"
