#!/usr/bin/env bash
# The faults themselves, shared by scripts/demo/faults.sh (one fault per run) and
# scripts/demo/soak.sh (a fault every few minutes): sourced after lib.sh, not run. Each
# injection appends its start and its healing to the fault log ($FAULT_LOG) that the verifier
# reads. Its callers set: FAULT_LOG, dir (a folder for the injectors' logs), pid_file (the
# supervised consumer's, scripts/demo/fault_processor.sh), STACK_MONGODB_URI (the stack's own,
# for stack/up.sh, which starts a killed part again with STACK_PIPELINE=off: the stack's own
# event-processor, paused by the caller, must not join the group beside the caller's), and keep
# paused_pid (a part stopped by SIGSTOP, resumed by their exit trap).
# shellcheck disable=SC2154,SC2034 # those variables are the callers'

# nap SECONDS -> sleeps, and a signal ends the sleep at once (its trap runs).
nap() {
  sleep "$1" &
  wait "$!"
}

# fault_line FAULT EVENT -> appends the fault's start or healing, now, to the fault log.
fault_line() {
  printf '{"fault": "%s", "event": "%s", "at_us": %s}\n' "$1" "$2" "$(date +%s%6N)" >>"$FAULT_LOG"
  log "$1: $2"
}

# processor_pid -> the supervised event-processor's pid (the last line of its pid file).
processor_pid() { tail -n 1 "$pid_file" | cut -d' ' -f1; }

# restarted BEFORE -> waits until the supervisor has started a processor other than BEFORE,
# then writes the healing.
restarted() {
  local before="$1" fault="$2"
  # shellcheck disable=SC2317 # called by wait_until
  new_pid() { [ "$(processor_pid)" != "$before" ]; }
  wait_until 60 new_pid || die "$fault: event-processor was not restarted within 60 s; see its log in the run's folder"
  fault_line "$fault" healed
}

# pause PART SECONDS FAULT -> SIGSTOP of the stack's PART for SECONDS, then SIGCONT.
pause() {
  local pid
  pid="$(pid_of "$1")" || die "$3: $1 is not running"
  kill -STOP "$pid"
  paused_pid="$pid"
  fault_line "$3" start
  nap "$2"
  kill -CONT "$pid"
  paused_pid=""
  fault_line "$3" healed
}

# kill_part PART WAIT_S FAULT -> kill -9 of the stack's PART, WAIT_S later stack/up.sh.
kill_part() {
  local pid
  pid="$(pid_of "$1")" || die "$3: $1 is not running"
  kill -KILL "$pid"
  fault_line "$3" start
  [ "$2" -eq 0 ] || nap "$2"
  STACK_PIPELINE=off MONGODB_URI="$STACK_MONGODB_URI" "$REPO_ROOT/stack/up.sh" >"$dir/up.log" 2>&1 || die "$3: stack/up.sh could not start $1 again; see $dir/up.log"
  fault_line "$3" healed
}

# restart_postgres FAULT -> a fast restart of the stack's PostgreSQL cluster; healed once it
# answers again.
restart_postgres() {
  fault_line "$1" start
  pg_ctlcluster "$PG_MAJOR" "$PG_CLUSTER" stop -m fast >"$dir/pg-restart.log" 2>&1 ||
    die "$1: pg_ctlcluster $PG_MAJOR $PG_CLUSTER stop -m fast failed; see $dir/pg-restart.log"
  pg_ctlcluster "$PG_MAJOR" "$PG_CLUSTER" start >>"$dir/pg-restart.log" 2>&1 &
  local starting=$! deadline=$((SECONDS + 60))
  # healed the moment it answers (pg_ctlcluster start returns a little later)
  until pg_healthy; do
    [ "$SECONDS" -lt "$deadline" ] || die "$1: PostgreSQL at $PG_ADDR did not answer within 60 s of its start"
    nap 0.1
  done
  fault_line "$1" healed
  wait "$starting" || die "$1: pg_ctlcluster $PG_MAJOR $PG_CLUSTER start failed; see $dir/pg-restart.log"
  [ ! -f "$RUN_DIR/postgresql.pid" ] || pg_pid >"$RUN_DIR/postgresql.pid"
}

# task_worker -> the Connect part (connect, or connect-N on the cluster) that runs the task.
task_worker() {
  cluster_profile || {
    echo connect
    return
  }
  local id
  id="$(connector_status | jq -r '.tasks[0].worker_id // empty')" || return 1
  [ -n "$id" ] || return 1
  printf 'connect-%s\n' $((${id##*:} - 8082))
}

# partition_leaders -> "PARTITION LEADER" per partition of the CDC topic (leader -1: none), from
# the cluster's metadata (librdkafka in the Python consumer's venv: a fraction of a second, where
# a JVM tool takes several on a busy machine).
partition_leaders() {
  "$PY_CONSUMER_VENV/bin/python" - "$KAFKA_BOOTSTRAP" "$CDC_TOPIC" 2>>"$dir/leaders.log" <<'PY'
import sys
from confluent_kafka.admin import AdminClient
topic = sys.argv[2]
meta = AdminClient({"bootstrap.servers": sys.argv[1]}).list_topics(topic, timeout=5)
for p in sorted(meta.topics[topic].partitions.values(), key=lambda p: p.id):
    print(p.id, p.leader)
PY
}

# leader_part -> the broker part that leads partition 0 (kafka on the single node).
leader_part() {
  cluster_profile || {
    echo kafka
    return
  }
  local leader
  leader="$(partition_leaders | awk '$1 == 0 {print $2}')"
  [ -n "$leader" ] && [ "$leader" != -1 ] || return 1
  printf 'kafka-%s\n' "$leader"
}

# failover PART FAULT TAKEN_OVER BACK_WHEN -> kill -9 of PART; healed once TAKEN_OVER holds (the
# cluster moved its work elsewhere); PART is started again once the command BACK_WHEN returns
# (faults.sh: when the run has written its last event; soak.sh: a while later).
failover() {
  local pid
  pid="$(pid_of "$1")" || die "$2: $1 is not running"
  kill -KILL "$pid"
  fault_line "$2" start
  wait_until 120 "$3" "$1" || die "$2: the cluster did not take over from $1 within 120 s"
  fault_line "$2" healed
  $4
  log "$2: starting $1 again"
  STACK_PIPELINE=off MONGODB_URI="$STACK_MONGODB_URI" "$REPO_ROOT/stack/up.sh" >"$dir/up.log" 2>&1 || die "$2: stack/up.sh could not start $1 again; see $dir/up.log"
}

# new_leaders KAFKA-N -> every partition of the CDC topic has a leader, none of them node N.
new_leaders() {
  local leaders
  leaders="$(partition_leaders)"
  [ -n "$leaders" ] && ! awk -v dead="${1#kafka-}" '$2 == dead || $2 == -1 {found = 1} END {exit !found}' <<<"$leaders"
}

# task_moved CONNECT-N -> the task runs, on another worker than N.
task_moved() {
  local now
  now="$(task_worker)" && [ "$now" != "$1" ] && connect_running
}

# part_of WHO FAULT -> the part WHO (task_worker or leader_part) names, or dies.
part_of() { "$1" || die "$2: could not tell which part to strike ($1 found none)"; }

# stack_answers -> every part of the stack is healthy (Debezium streaming included).
stack_answers() { pg_healthy && kafka_healthy && connect_healthy && ferretdb_healthy; }

