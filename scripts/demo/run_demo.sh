#!/usr/bin/env bash
#/ One demo run, start to verdict:
#/   1. starts the consumer (CONSUMER: event-processor, the release build, by default; python:
#/      the example in examples/python-consumer, from the topic's end; or CONSUMER_CMD, any
#/      command) with METRICS_FILE, and waits until it holds the CDC topic's partitions (for
#/      CONSUMER_CMD: until CONSUMER_READY, a command, succeeds, if given);
#/   2. chooses who follows the run. Without a terminal, the stack's verifier serve (stack/up.sh
#/      starts it) when it follows runs as this run asks (event-processor in its group, receipts
#/      processed-events, no SLO_FILE, FAULT_LOG or IDLE_TIMEOUT of the run's own) and follows no
#/      other run (it follows the oldest first: one catching up would begin this one late): it
#/      follows every run anyway, so no second follower reads the same events; its view is a
#/      line per second, its report copied into the run's folder. Otherwise verifier watch, started here,
#/      which opens its Kafka read and waits for the next run (the live dashboard when stdout is
#/      a terminal, a progress line per second otherwise). FOLLOWER=watch or daemon chooses;
#/      daemon fails (exit 2) when the daemon cannot follow the run as asked;
#/   3. generates TARGET_EVENTS events in PostgreSQL: at RATE events/s with CALL demo_run(n, rate),
#/      or in one transaction with demo_generate(n) when RATE is unset, empty or "bulk"; the
#/      verifier follows them until every event is on Kafka and in MongoDB;
#/   4. stops the consumer cleanly (SIGTERM: it commits and exits 0);
#/   5. prints the report and exits with the verdict: 0 pass, 1 fail (integrity or an SLO:
#/      an event lost or applied twice), 2 could not run, 3 incomplete (the verifier stopped
#/      with events still on their way, nothing proven lost: the report says how far behind
#/      the consumer was).
#/ Before generating, it reads the processor group's lag (verifier lag) and warns when the
#/ group is far behind the topic's end: the run's events would queue behind those records.
#/ Artifacts in .stack/demo/run-<run_id>/ (DEMO_DIR): report.txt, report.json, report.html, one
#/ .hlog per stage, the consumer's log and metrics file (processor.log and processor-events.jsonl,
#/ or consumer.log and consumer-events.jsonl), consumer.txt (which consumer, its group, the
#/ receipts), generator.txt, verifier.log (verifier watch's; the daemon's log is
#/ .stack/logs/verifier.log), follower.txt (who followed the run); .stack/demo/latest points
#/ at it.
#/
#/ Environment:
#/   TARGET_EVENTS  events to generate                                   default 1000
#/   RATE           events/s (rate mode), or unset / "bulk"              default bulk
#/   LOG_LEVEL      ERROR, WARNING, INFO or DEBUG for both binaries      default INFO
#/   BATCH_SIZE     most records event-processor applies in one batch    default 1000
#/   IN_FLIGHT      event-processor's batches in flight (2: receipts beside the next batch)  default 1
#/   MIX            UserCreated/ActivityCreated/ParticipantJoined in %   default 50/30/20
#/   SEED           the generator's seed (same seed, same payloads)      default random
#/   TXN_SIZE       events per transaction in rate mode (demo_run's txn_size; each waits for
#/                  its transaction's last one, and end to end counts that wait)  default 1
#/   SLO_FILE       JSON objectives for the verdict (verifier --slo)     default: the defaults
#/   IDLE_TIMEOUT   seconds without progress before the verifier gives up   default 30
#/   PROCESSOR_METRICS_ADDR  the processor's /metrics                    default 127.0.0.1:9101
#/   VERIFIER_ADDR  verifier watch's /status and /metrics during the run  default 127.0.0.1:9103
#/   FOLLOWER       auto, daemon or watch (step 2)                       default auto
#/ When stack/up.sh's own event-processor runs, it is paused for the run (the consumer under test
#/ takes the group, the port and the store alone) and started again at the end; its
#/ verifier serve follows this run as well.
#/   FAULT_LOG      a fault run's log (scripts/demo/faults.sh sets it): the verifier reads
#/                  it (watch --fault-log) and judges the run on integrity alone
#/   GENERATOR_MAY_END  1: the generator's session may be ended by the fault (faults.sh's
#/                  postgres-restart): its error is shown, and the run is judged by what it
#/                  committed (the manifest reads it interrupted)         default 0
#/   CONSUMER       event-processor or python                            default event-processor
#/   CONSUMER_CMD   any command that runs a consumer in the foreground (instead of CONSUMER);
#/                  it gets METRICS_FILE in its environment; SIGTERM stops it
#/   CONSUMER_READY with CONSUMER_CMD: a command that succeeds once it holds the partitions
#/   CONSUMER_GROUP the consumer's group (python: python-consumer-group): lost vs pending
#/   RECEIPTS       how the verifier learns when events were applied: processed-events
#/                  (event-processor's receipts, also for a CONSUMER_CMD that writes them),
#/                  metrics-file (the consumer's METRICS_FILE)
#/                  or observe[:MS] (the store polled)   default: processed-events for
#/                  event-processor, metrics-file for python, observe for CONSUMER_CMD
#/
#/ Usage: [TARGET_EVENTS=N] [RATE=R] [LOG_LEVEL=L] [BATCH_SIZE=B] scripts/demo/run_demo.sh
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

no_arguments "$@"

TARGET_EVENTS="${TARGET_EVENTS:-1000}"
RATE="${RATE:-bulk}"
LOG_LEVEL="${LOG_LEVEL:-INFO}"
BATCH_SIZE="${BATCH_SIZE:-1000}"
IN_FLIGHT="${IN_FLIGHT:-1}"
IDLE_TIMEOUT="${IDLE_TIMEOUT:-}"
FOLLOWER="${FOLLOWER:-auto}"
PROCESSOR_METRICS_ADDR="${PROCESSOR_METRICS_ADDR:-127.0.0.1:9101}"
VERIFIER_ADDR="${VERIFIER_ADDR:-127.0.0.1:9103}"
[[ "$TARGET_EVENTS" =~ ^[1-9][0-9]*$ ]] || die "TARGET_EVENTS must be a positive whole number (got '$TARGET_EVENTS')"
[[ "$BATCH_SIZE" =~ ^[1-9][0-9]*$ ]] || die "BATCH_SIZE must be a positive whole number (got '$BATCH_SIZE')"
[[ "$IN_FLIGHT" =~ ^[1-8]$ ]] || die "IN_FLIGHT must be 1 to 8 (got '$IN_FLIGHT')"
MIX="${MIX:-50/30/20}"
[[ "$MIX" =~ ^[0-9]+/[0-9]+/[0-9]+$ ]] || die "MIX must be three percentages like 50/30/20 (got '$MIX')"
[ -z "${SEED:-}" ] || [[ "$SEED" =~ ^-?[0-9]+$ ]] || die "SEED must be a whole number (got '$SEED')"
TXN_SIZE="${TXN_SIZE:-1}"
[[ "$TXN_SIZE" =~ ^[1-9][0-9]{0,5}$ && "$TXN_SIZE" -le 100000 ]] || die "TXN_SIZE must be 1 to 100000 events per transaction (got '$TXN_SIZE')"
[ -z "$IDLE_TIMEOUT" ] || [[ "$IDLE_TIMEOUT" =~ ^[1-9][0-9]*$ ]] || die "IDLE_TIMEOUT must be a positive whole number of seconds (got '$IDLE_TIMEOUT')"
case "$FOLLOWER" in auto | daemon | watch) ;; *) die "FOLLOWER must be auto, daemon or watch (got '$FOLLOWER')" ;; esac
[ "$RATE" = bulk ] || [[ "$RATE" =~ ^[0-9]+([.][0-9]+)?$ ]] ||
  die "RATE must be events per second (e.g. 200) or 'bulk' (got '$RATE')"
case "${LOG_LEVEL^^}" in
  ERROR | WARNING | WARN | INFO | DEBUG | TRACE) ;;
  *) die "LOG_LEVEL must be ERROR, WARNING, INFO or DEBUG (got '$LOG_LEVEL')" ;;
esac
if [ -n "${SLO_FILE:-}" ]; then
  [ -r "$SLO_FILE" ] || die "SLO_FILE $SLO_FILE cannot be read"
  SLO_FILE="$(cd "$(dirname "$SLO_FILE")" && pwd)/$(basename "$SLO_FILE")"
fi
consumer_choice

require_stack
require_no_demo_run
build_binaries

work="$DEMO_DIR/starting-$$"
mkdir -p "$work"
processor_pid=""
generator_pid=""
# One way out: whatever happens, the generator and the processor this script started stop.
# shellcheck disable=SC2317 # called by the trap
finish() {
  if [ -n "$generator_pid" ] && kill -0 "$generator_pid" 2>/dev/null; then
    log "stopping the generator"
    app_sql "SELECT demo_stop()" >/dev/null 2>&1 || kill "$generator_pid" 2>/dev/null ||
      log "the generator (pid $generator_pid) had already ended"
  fi
  if [ -n "$processor_pid" ] && kill -0 "$processor_pid" 2>/dev/null; then
    kill -TERM "$processor_pid" 2>/dev/null || log "$CONSUMER_LABEL (pid $processor_pid) had already ended"
    wait "$processor_pid" 2>/dev/null || log "$CONSUMER_LABEL exited with status $?"
  fi
  rm -f "$DEMO_PROCESSOR_PID"
  [ ! -d "$work" ] || rm -rf "$work"
  resume_stack_processor
}
trap finish EXIT
trap 'exit 130' INT TERM HUP

# ---- 1. the consumer (what it is stays with the run, for verify.sh)
printf 'consumer=%s\ngroup=%s\nreceipts=%s\n' "$CONSUMER_LABEL" "$consumer_group" "$RECEIPTS" >"$work/consumer.txt"
pause_stack_processor
start_consumer "$work"
processor_pid="$consumer_pid"
printf '%s\n' "$processor_pid" >"$DEMO_PROCESSOR_PID"
wait_consumer_ready "$work"
[ -z "$consumer_group" ] || [ "$CONSUMER_KIND" = python ] || PROCESSOR_GROUP="$consumer_group" warn_if_behind "$TARGET_EVENTS"

# ---- 2. who follows the run
# daemon_cannot -> why the stack's verifier serve cannot follow this run as it asks (nothing
# when it can): the daemon follows with its own receipts, group, objectives and idle timeout,
# and it follows runs oldest first: one still catching up on earlier runs (after a restart)
# would begin this one minutes later, while it takes the cores the run is measured on.
daemon_cannot() {
  local busy
  if ! verifier_healthy; then
    echo "the stack's verifier serve does not answer on $STACK_VERIFIER_ADDR (stack/up.sh starts it)"
  elif busy="$(daemon_following)" && [ -n "$busy" ]; then
    echo "the stack's verifier serve is following runs $busy"
  elif [ "$CONSUMER_KIND" != event-processor ] || [ "$consumer_group" != event-processor-group ]; then
    echo "the consumer is $CONSUMER_LABEL in group ${consumer_group:-none}, not event-processor in the daemon's event-processor-group"
  elif [ "$RECEIPTS" != processed-events ]; then
    echo "RECEIPTS is $RECEIPTS; the daemon reads processed-events"
  elif [ -n "${SLO_FILE:-}${FAULT_LOG:-}$IDLE_TIMEOUT" ]; then
    echo "SLO_FILE, FAULT_LOG or IDLE_TIMEOUT is set; the daemon follows with its own"
  fi
}
why_not="$(daemon_cannot)"
case "$FOLLOWER" in
  daemon) [ -z "$why_not" ] || die "FOLLOWER=daemon: $why_not" ;;
  auto) if [ -n "$why_not" ] || [ -t 1 ]; then FOLLOWER=watch; else FOLLOWER=daemon; fi ;;
esac
echo "$FOLLOWER" >"$work/follower.txt"

# ---- 3. the generator: with verifier watch, once it waits for the run. It starts first (--run
# next) and opens its Kafka read before the run exists, so nothing of its own start-up overlaps
# the run's first events; the generator starts when its /status says it is waiting. The daemon
# is already running: the generator starts at once.
before="$(app_sql "SELECT coalesce(max(run_id), 0) FROM outbox_demo.runs")"
options="mix => '$MIX'"
[ -z "${SEED:-}" ] || options="$options, seed => $SEED"
[ "$TXN_SIZE" = 1 ] || [ "$RATE" = bulk ] || options="$options, txn_size => $TXN_SIZE"
if [ "$RATE" = bulk ]; then
  sql="SELECT * FROM demo_generate($TARGET_EVENTS, $options)"
  mode="bulk (one transaction)"
else
  sql="CALL demo_run($TARGET_EVENTS, $RATE, $options)"
  mode="rate mode, $RATE events/s"
fi
# shellcheck disable=SC2317 # called by wait_until
verifier_waiting() {
  [ "$FOLLOWER" = daemon ] || curl -fsS --max-time 2 "http://$VERIFIER_ADDR/status" 2>/dev/null | grep -q '"phase":"waiting'
}
log "generating $TARGET_EVENTS events, $mode$([ "$FOLLOWER" = daemon ] || echo ", once the verifier waits"): $sql"
(
  wait_until 60 verifier_waiting || {
    echo "the verifier at $VERIFIER_ADDR was not waiting for the run within 60 s: nothing generated"
    exit 3
  }
  PGOPTIONS="-c client_min_messages=warning" exec psql -X -v ON_ERROR_STOP=1 -c "$sql"
) >"$work/generator.txt" 2>&1 &
generator_pid=$!

# the_run -> the run written after $before, once it is (nothing when none is)
the_run() { app_sql "SELECT run_id FROM outbox_demo.runs WHERE run_id > $before ORDER BY run_id LIMIT 1"; }
# shellcheck disable=SC2317 # called by wait_until
run_written() { [ -n "$(the_run)" ] || ! kill -0 "$generator_pid" 2>/dev/null; }
if [ "$FOLLOWER" = daemon ]; then
  log "the stack's verifier serve follows the run (FOLLOWER=watch: verifier watch and its dashboard instead)"
  wait_until 60 run_written || log "no run written within 60 s"
  run_id="$(the_run)"
  if [ -n "$run_id" ]; then
    daemon_follow "$run_id" >&2 && verdict=0 || verdict=$?
    from="$VERIFIER_RUNS/run-$run_id"
    if [ "$verdict" -eq 4 ]; then
      log "the daemon did not answer for run $run_id within 10 s, or did not begin to follow it within 600 s: see $LOG_DIR/verifier.log"
      verdict=2
    elif cp "$from"/report.txt "$from"/report.json "$from"/report.html "$from"/*.hlog "$work/"; then
      cat "$work/report.txt"
    else
      log "the daemon's report of run $run_id is not in $from"
      verdict=2
    fi
  fi
else
  args=(--log-level "$LOG_LEVEL" watch --run next --out "$work" --idle-timeout "${IDLE_TIMEOUT:-30}" --listen "$VERIFIER_ADDR")
  args+=(--receipts "$(receipts_arg "$work")")
  [ -z "$consumer_group" ] || args=(--processor-group "$consumer_group" "${args[@]}")
  [ -z "${SLO_FILE:-}" ] || args+=(--slo "$SLO_FILE")
  if [ -t 1 ]; then
    args+=(--dashboard)
    args=(--log-file "$work/verifier.log" "${args[@]}")
  fi
  "$VERIFIER_BIN" "${args[@]}" && verdict=0 || verdict=$?
  run_id="$(the_run)"
fi

if [ -z "$run_id" ]; then
  wait "$generator_pid" && rc=0 || rc=$?
  generator_pid=""
  cat "$work/generator.txt" >&2
  die "the generator wrote no run (exit $rc, output above; the verifier exited ${verdict:-none})"
fi
dir="$(run_dir "$run_id")"
rm -rf "$dir"
mv "$work" "$dir"
work=""
ln -sfn "run-$run_id" "$DEMO_DIR/latest"

# ---- 4. the generator's and the processor's ends
if wait "$generator_pid"; then
  generator_pid=""
else
  generator_pid=""
  cat "$dir/generator.txt" >&2
  if [ "${GENERATOR_MAY_END:-0}" = 1 ]; then
    log "the generator's session ended (output above; GENERATOR_MAY_END=1): run $run_id is judged by the $(app_sql "SELECT written FROM outbox_demo.runs WHERE run_id = $run_id") events it committed"
  else
    log "the generator failed (output above)"
    [ "$verdict" -ne 0 ] || verdict=1
  fi
fi
kill -TERM "$processor_pid"
if wait "$processor_pid"; then
  processor_pid=""
else
  rc=$?
  processor_pid=""
  tail -n 20 "$dir/$CONSUMER_LOG" >&2
  log "$CONSUMER_LABEL exited with status $rc on SIGTERM (log above)"
  # A command of the user's may answer SIGTERM as it likes; ours must exit 0.
  [ "$CONSUMER_KIND" = command ] || [ "$verdict" -ne 0 ] || verdict=2
fi

case "$verdict" in
  0) log "run $run_id: PASS ($TARGET_EVENTS events, $mode, through $CONSUMER_LABEL, receipts: $RECEIPTS); artifacts in $dir" ;;
  1) log "run $run_id: FAIL (the report above says why); artifacts in $dir" ;;
  3) log "run $run_id: INCOMPLETE: events still on their way when the verifier stopped, none proven lost (the report above says how far behind the consumer was); artifacts in $dir" ;;
  *) log "run $run_id: could not be verified (exit $verdict; messages above); artifacts in $dir" ;;
esac
exit "$verdict"
