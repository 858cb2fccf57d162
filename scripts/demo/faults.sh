#!/usr/bin/env bash
#/ Fault runs: proves that nothing is lost or applied twice while a part of the pipeline fails.
#/ Each scenario is one steady rate run (scripts/demo/run_demo.sh: RATE events/s for
#/ DURATION_S) through event-processor under supervision (scripts/demo/fault_processor.sh,
#/ which restarts it when it dies), with one fault injected at FAULT_AT % of the run and healed
#/ as the scenario says:
#/   processor-kill     kill -9 of event-processor; the supervisor restarts it 3 s later
#/   processor-restart  SIGTERM to event-processor; restarted at once
#/   rebalance          a second event-processor joins the group at 30 %, leaves (SIGTERM) at 60 %
#/   connect-kill       kill -9 of the Kafka Connect worker; stack/up.sh starts it again
#/   connect-pause      SIGSTOP of the Connect worker for 15 s (a hung worker, a long GC), SIGCONT
#/   broker-kill        kill -9 of the Kafka broker (a full outage); stack/up.sh after 5 s
#/   store-kill         kill -9 of the store (FerretDB); stack/up.sh starts it again
#/   store-pause        SIGSTOP of the store for 10 s, then SIGCONT
#/   postgres-restart   a fast restart of PostgreSQL (pg_ctlcluster stop -m fast, start): the
#/                      rate run's session ends with it, Debezium reconnects; the run is judged
#/                      by what it committed, and not one committed event may be missing
#/ On the cluster profile (STACK_PROFILE=cluster stack/up.sh) the Connect scenarios strike the
#/ worker that runs the connector's task, broker-kill the leader of the CDC topic's partition 0,
#/ and two more scenarios run:
#/   broker-failover    kill -9 of the leader of the CDC topic's partition 0; healed when every
#/                      partition has a leader again; the broker is started again once the run
#/                      has written its last event
#/   connect-failover   kill -9 of the worker that runs the task; healed when the task runs on
#/                      the other worker; the killed worker is started again once the run has
#/                      written its last event
#/ The injector appends the fault's start and healing to a fault log that the verifier reads
#/ (verifier watch --fault-log): its report shows the fault, the time to recover (from the
#/ healing until the oldest event on its way is younger than 1 s), the worst end to end during
#/ the fault and end to end before and after it. A fault run is judged on integrity alone:
#/ missing and applied twice must be 0; Kafka duplicates (Debezium re-sending after a restart)
#/ are counted and allowed; latency is reported, not judged.
#/
#/ Prints a table of every scenario, writes .stack/demo/faults/faults.json (FAULTS_DIR) and
#/ keeps each run's full report in .stack/demo/run-<id>/. Exits 0 when every scenario passed,
#/ 1 when one lost or double-applied an event (or could not be verified), 2 on bad input.
#/
#/ Environment:
#/   RATE        events/s of each run                        default 300
#/   DURATION_S  seconds of each run                         default 40
#/   FAULT_AT    when the fault starts, % of the run          default 40
#/   LOG_LEVEL   for event-processor and the verifier         default WARNING
#/   IDLE_TIMEOUT  seconds the verifier waits, once the run is written, while nothing moves
#/               and every part answers (events a consumer lost never come)   default 120
#/   FAULT_CONSUMER  event-processor, or python: the example consumer (examples/python-consumer,
#/               its metrics file as receipts), e.g. with DROP_EVERY=N to watch a consumer that
#/               loses events fail (every scenario but rebalance)   default event-processor
#/   FAULTS_DB   the MongoDB database the runs project into   default faults (dropped first)
#/   FAULTS_GROUP  event-processor's group, moved to the topic's end first
#/                                                             default faults-processor-group
#/
#/ Usage: scripts/demo/faults.sh [SCENARIO...]     default: every scenario above (but rebalance
#/                                                  with FAULT_CONSUMER=python)
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
source "$(dirname "${BASH_SOURCE[0]}")/fault_lib.sh"

ALL=(processor-kill processor-restart rebalance connect-kill connect-pause broker-kill store-kill store-pause postgres-restart)
CLUSTER_ONLY=(broker-failover connect-failover)
case "${1:-}" in
  -h | --help)
    script_help
    exit 0
    ;;
esac
scenarios=("$@")
for s in "${scenarios[@]}"; do
  if [[ " ${CLUSTER_ONLY[*]} " == *" $s "* ]]; then
    cluster_profile || die "$s needs the cluster profile: STACK_PROFILE=cluster stack/up.sh (this stack is $STACK_PROFILE)"
    continue
  fi
  [[ " ${ALL[*]} " == *" $s "* ]] || die "unknown scenario '$s'; the scenarios: ${ALL[*]} ${CLUSTER_ONLY[*]} (the last two on the cluster profile)"
done
if cluster_profile; then ALL+=("${CLUSTER_ONLY[@]}"); fi
RATE="${RATE:-300}" DURATION_S="${DURATION_S:-40}" FAULT_AT="${FAULT_AT:-40}"
[[ "$RATE" =~ ^[1-9][0-9]*$ ]] || die "RATE must be a positive whole number of events/s (got '$RATE')"
[[ "$DURATION_S" =~ ^[1-9][0-9]*$ ]] || die "DURATION_S must be a positive whole number of seconds (got '$DURATION_S')"
[[ "$FAULT_AT" =~ ^[0-9]+$ && "$FAULT_AT" -lt 100 ]] || die "FAULT_AT must be a percentage of the run, 0 to 99 (got '$FAULT_AT')"
LOG_LEVEL="${LOG_LEVEL:-WARNING}"
IDLE_TIMEOUT="${IDLE_TIMEOUT:-120}"
[[ "$IDLE_TIMEOUT" =~ ^[1-9][0-9]*$ ]] || die "IDLE_TIMEOUT must be a positive whole number of seconds (got '$IDLE_TIMEOUT')"
FAULT_CONSUMER="${FAULT_CONSUMER:-event-processor}"
case "$FAULT_CONSUMER" in
  event-processor) ;;
  python) [ -x "$PY_CONSUMER_VENV/bin/python" ] || die "the Python consumer's venv is missing ($PY_CONSUMER_VENV): run stack/install.sh" ;;
  *) die "FAULT_CONSUMER must be event-processor or python (got '$FAULT_CONSUMER')" ;;
esac
if [ ${#scenarios[@]} -eq 0 ]; then
  scenarios=("${ALL[@]}")
  # rebalance adds a second event-processor
  [ "$FAULT_CONSUMER" = event-processor ] || mapfile -t scenarios < <(printf '%s\n' "${ALL[@]}" | grep -vx rebalance)
fi
[ "$FAULT_CONSUMER" = event-processor ] || [[ " ${scenarios[*]} " != *" rebalance "* ]] ||
  die "rebalance adds a second event-processor: it runs with FAULT_CONSUMER=event-processor only (name the other scenarios)"
FAULTS_DIR="${FAULTS_DIR:-$DEMO_DIR/faults}"
require_stack
require_no_demo_run
build_binaries
mkdir -p "$FAULTS_DIR"
PROCESSOR_METRICS_ADDR="${PROCESSOR_METRICS_ADDR:-127.0.0.1:9101}"
# A database and a group of their own, started over (the demo's data stays as it is); the group
# at the topic's end, so no backlog of other runs queues ahead of the first scenario.
STACK_MONGODB_URI="$MONGODB_URI"
export MONGODB_URI="${MONGODB_URI%/*}/${FAULTS_DB:-faults}" PROCESSOR_GROUP="${FAULTS_GROUP:-faults-processor-group}"
"$PROCESSOR_BIN" --reset >"$FAULTS_DIR/reset.log" 2>&1 ||
  die "event-processor --reset (database $MONGODB_URI, group $PROCESSOR_GROUP) failed: $(tail -n 3 "$FAULTS_DIR/reset.log")"

second_pid="" paused_pid="" demo_pid=""
# One way out: a paused part is resumed, the second processor and the run stop.
finish() {
  if [ -n "$paused_pid" ] && kill -CONT "$paused_pid" 2>/dev/null; then log "resumed pid $paused_pid"; fi
  if [ -n "$second_pid" ] && kill -TERM "$second_pid" 2>/dev/null; then wait "$second_pid" || log "the second event-processor exited $?"; fi
  # run_demo.sh leads a process group of its own: its verifier and processor stop with it.
  if [ -n "$demo_pid" ] && kill -TERM -- "-$demo_pid" 2>/dev/null; then wait "$demo_pid" || log "run_demo.sh exited $?"; fi
}
trap finish EXIT
trap 'exit 130' INT TERM HUP

# at_percent P -> sleeps until P % of the run's DURATION_S after its first event was due.
at_percent() {
  local due_us now_us
  due_us=$((run_origin_us + DURATION_S * 10000 * $1))
  now_us="$(date +%s%6N)"
  # a fault after the run's last event was due would prove nothing
  [ "$1" -eq 100 ] || [ "$now_us" -lt $((run_origin_us + DURATION_S * 1000000)) ] ||
    die "the fault is due at $1 % of the run, and the run has already written its last event (the injector was late): nothing would be tested"
  [ "$now_us" -ge "$due_us" ] || nap "$(printf '%d.%06d' $(((due_us - now_us) / 1000000)) $(((due_us - now_us) % 1000000)))"
}

# inject SCENARIO -> the fault, at FAULT_AT % of the run, and its healing.
inject() {
  local before target
  case "$1" in
    processor-kill | processor-restart)
      at_percent "$FAULT_AT"
      before="$(processor_pid)"
      if [ "$1" = processor-kill ]; then kill -KILL "$before"; else kill -TERM "$before"; fi
      fault_line "$1" start
      restarted "$before" "$1"
      ;;
    rebalance)
      at_percent 30
      METRICS_ADDR=off LOG_LEVEL="$LOG_LEVEL" "$PROCESSOR_BIN" 2>"$dir/second-processor.log" &
      second_pid=$!
      fault_line "$1" start
      at_percent 60
      kill -TERM "$second_pid"
      wait "$second_pid" || die "$1: the second event-processor exited $? on SIGTERM; see $dir/second-processor.log"
      second_pid=""
      fault_line "$1" healed
      ;;
    # the part to strike is found before the wait, so the fault comes on time
    connect-kill) target="$(part_of task_worker "$1")" && at_percent "$FAULT_AT" && kill_part "$target" 0 "$1" ;;
    connect-pause) target="$(part_of task_worker "$1")" && at_percent "$FAULT_AT" && pause "$target" 15 "$1" ;;
    broker-kill) target="$(part_of leader_part "$1")" && at_percent "$FAULT_AT" && kill_part "$target" 5 "$1" ;;
    broker-failover) target="$(part_of leader_part "$1")" && at_percent "$FAULT_AT" && failover "$target" "$1" new_leaders "at_percent 100" ;;
    connect-failover) target="$(part_of task_worker "$1")" && at_percent "$FAULT_AT" && failover "$target" "$1" task_moved "at_percent 100" ;;
    store-kill) at_percent "$FAULT_AT" && kill_part ferretdb 0 "$1" ;;
    store-pause) at_percent "$FAULT_AT" && pause ferretdb 10 "$1" ;;
    postgres-restart) at_percent "$FAULT_AT" && restart_postgres "$1" ;;
  esac
}

# scenario NAME -> one fault run; appends its line to the results. It starts once the stack is
# healthy again after the last one (after postgres-restart Debezium reconnects by itself, within
# about 10 to 30 s).
scenario() {
  local name="$1" before run rc=0 t=$SECONDS
  if ! stack_answers; then
    log "$name: waiting until every part of the stack is healthy again"
    wait_until 180 stack_answers || die "$name: the stack is not healthy within 180 s of the last scenario: stack/status.sh shows which part"
    log "$name: the stack is healthy again after $((SECONDS - t)) s"
  fi
  dir="$FAULTS_DIR/$name"
  rm -rf "$dir"
  mkdir -p "$dir"
  FAULT_LOG="$dir/fault.jsonl"
  pid_file="$dir/processor.pids"
  : >"$FAULT_LOG"
  : >"$pid_file"
  before="$(app_sql "SELECT coalesce(max(run_id), 0) FROM outbox_demo.runs")"
  log "$name: $((RATE * DURATION_S)) events at $RATE/s, the fault at $FAULT_AT % of $DURATION_S s"
  local supervised="" receipts=processed-events may_end=0
  # the restart ends the rate run's session: the run is judged by what it committed
  [ "$name" != postgres-restart ] || may_end=1
  local ready="curl -fsS --max-time 2 http://$PROCESSOR_METRICS_ADDR/metrics | grep -Eq '^processor_assigned_partitions [1-9]'"
  if [ "$FAULT_CONSUMER" = python ]; then
    # In the faults group, which starts where --reset put it; its metrics file is the receipts.
    supervised="CONSUMER_GROUP='$PROCESSOR_GROUP' READY_FILE='$dir/consumer.ready' exec '$PY_CONSUMER_VENV/bin/python' '$REPO_ROOT/examples/python-consumer/consumer.py'"
    receipts=metrics-file ready="test -f '$dir/consumer.ready'"
  fi
  local consumer="PID_FILE='$pid_file' METRICS_ADDR='$PROCESSOR_METRICS_ADDR' LOG_LEVEL='$LOG_LEVEL' exec '$SCRIPT_DIR/fault_processor.sh'"
  FAULT_LOG="$FAULT_LOG" TARGET_EVENTS=$((RATE * DURATION_S)) RATE="$RATE" LOG_LEVEL="$LOG_LEVEL" \
    IDLE_TIMEOUT="$IDLE_TIMEOUT" RECEIPTS="$receipts" GENERATOR_MAY_END="$may_end" CONSUMER_GROUP="$PROCESSOR_GROUP" SUPERVISED_CMD="$supervised" \
    CONSUMER_CMD="$consumer" CONSUMER_READY="$ready" \
    setsid "$SCRIPT_DIR/run_demo.sh" >"$dir/run.out" 2>"$dir/run.err" &
  demo_pid=$!
  run_started() {
    kill -0 "$demo_pid" 2>/dev/null || die "$name: run_demo.sh ended before its run started; see $dir/run.err"
    run="$(app_sql "SELECT run_id FROM outbox_demo.runs WHERE run_id > $before ORDER BY run_id LIMIT 1")"
    [ -n "$run" ]
  }
  wait_until 120 run_started || die "$name: no run started within 120 s; see $dir/run.err"
  run_origin_us="$(app_sql "SELECT (extract(epoch FROM coalesce(first_due_at, started_at)) * 1000000)::bigint FROM outbox_demo.runs WHERE run_id = $run")"
  inject "$name"
  wait "$demo_pid" || rc=$?
  demo_pid=""
  local report
  report="$(run_dir "$run")/report.json"
  [ -f "$report" ] || die "$name: run $run has no report (run_demo.sh exited $rc); see $dir/run.err"
  jq -c --arg s "$name" --argjson rc "$rc" --arg dir "$(run_dir "$run")" '{
      scenario: $s, run: .run.run_id, exit: $rc, verdict, report: $dir,
      written: .counts.expected, missing: .integrity.missing_total, kafka_duplicates: .counts.kafka_duplicates,
      applied_twice: .integrity.applied_twice, fault: .fault}' "$report" >>"$FAULTS_DIR/results.jsonl"
  log "$name: run $run $(jq -r .verdict "$report"): missing $(jq -r .integrity.missing_total "$report"), applied twice $(jq -r .integrity.applied_twice "$report"), Kafka duplicates $(jq -r .counts.kafka_duplicates "$report")"
}

SCRIPT_DIR="$REPO_ROOT/scripts/demo"
: >"$FAULTS_DIR/results.jsonl"
for s in "${scenarios[@]}"; do
  scenario "$s"
done
jq -s --arg rate "$RATE" --arg d "$DURATION_S" --arg at "$FAULT_AT" --arg profile "$STACK_PROFILE" \
  '{profile: $profile, rate: ($rate | tonumber), duration_s: ($d | tonumber), fault_at_percent: ($at | tonumber), scenarios: .}' \
  "$FAULTS_DIR/results.jsonl" >"$FAULTS_DIR/faults.json"

echo
jq -r '
  def ms: if . == null then "-" else (. * 10 | round / 10 | tostring) end;
  def s: if . == null then "-" else (. * 10 | round / 10 | tostring) + " s" end;
  def secs($f): if $f.healed_us == null or $f.started_us == null then "-" else (($f.healed_us - $f.started_us) / 1e5 | round / 10 | tostring) + " s" end;
  (["scenario", "run", "written", "missing", "applied twice", "Kafka dup", "fault for", "recovery", "worst e2e ms", "p50/p99 before", "p50/p99 after", "verdict"] | @tsv),
  (.scenarios[] | [.scenario, .run, .written, .missing, .applied_twice, .kafka_duplicates,
    (if .fault then secs(.fault) else "no fault" end),
    (.fault.recovery_s | s), (.fault.worst_ms | ms),
    ((.fault.before.p50_ms | ms) + "/" + (.fault.before.p99_ms | ms)),
    ((.fault.after.p50_ms | ms) + "/" + (.fault.after.p99_ms | ms)), .verdict] | @tsv)' \
  "$FAULTS_DIR/faults.json" | column -t -s $'\t'
echo
failed="$(jq -r '[.scenarios[] | select(.verdict != "pass")] | length' "$FAULTS_DIR/faults.json")"
if [ "$failed" -eq 0 ]; then
  log "every scenario passed: nothing lost, nothing applied twice ($FAULTS_DIR/faults.json)"
else
  log "$failed scenario(s) failed (the table above; each run's report.txt says why; $FAULTS_DIR/faults.json)"
  exit 1
fi
