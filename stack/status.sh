#!/usr/bin/env bash
#/ Prints one line per part of the local stack: healthy or down, address, pid, log; then the
#/ pipeline stack/up.sh runs beside them (event-processor, verifier serve): healthy, down, or off
#/ when it is not running (STACK_PIPELINE=off, or stopped by stack/down.sh); then the settings
#/ that differ from their defaults (stack/settings.sh), when some do.
#/ Exits 0 when every service is healthy and no running pipeline part is down, 1 otherwise.
set -uo pipefail # a part that is down is reported, not fatal
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

no_arguments "$@"

all_ok=0
# row PART STATE ADDRESS PID LOG -> one line, in columns
row() { printf '%-11s %-8s %-40s pid %-8s log %s\n' "$1" "$2" "$3" "${4:--}" "$5"; }
line() { # PART CHECK ADDRESS PID LOG
  local state=healthy
  if ! $2; then
    state=down
    all_ok=1
  fi
  row "$1" "$state" "$3" "$4" "$5"
}

# On the cluster profile: one line per broker and worker, and the connector's line says which
# worker runs its task.
# shellcheck disable=SC2317 # called by line, through its second argument
node_ok() { kafka_node_healthy "kafka-$n" "$(broker_addr "$n")"; }
# shellcheck disable=SC2317 # called by line, through its second argument
worker_ok() { worker_answers "$w"; }

line postgresql pg_healthy "$PG_ADDR" "$(pg_pid)" "$(pg_log_file)"
if ! kafka_is_local; then
  line kafka kafka_healthy "$KAFKA_BOOTSTRAP (external)" "" "-"
elif cluster_profile; then
  for n in "${KAFKA_NODES[@]}"; do
    line "kafka-$n" node_ok "$(broker_addr "$n") (node $n)" "$(pid_of "kafka-$n")" "$LOG_DIR/kafka-$n.log"
  done
else
  line kafka kafka_healthy "$LOCAL_KAFKA" "$(pid_of kafka)" "$LOG_DIR/kafka.log"
fi
if cluster_profile; then
  for w in "${CONNECT_WORKERS[@]}"; do
    line "connect-$w" worker_ok "$(worker_addr "$w") (worker)" "$(pid_of "connect-$w")" "$LOG_DIR/connect-$w.log"
  done
  task_on="$(connector_status | jq -r '.tasks[0].worker_id // "no worker"' 2>/dev/null)"
  line connector connect_healthy "task on ${task_on:-no worker}" "" "-"
else
  line connect connect_healthy "$CONNECT_ADDR" "$(pid_of connect)" "$LOG_DIR/connect.log"
fi
if mongodb_is_local; then
  line ferretdb ferretdb_healthy "$FERRETDB_ADDR" "$(pid_of ferretdb)" "$LOG_DIR/ferretdb.log"
else
  line mongodb ferretdb_healthy "$MONGODB_URI (external)" "" "-"
fi
# pipeline_line PART CHECK ADDRESS -> healthy or down while it runs, off when it does not.
pipeline_line() {
  if pid_of "$1" >/dev/null; then
    line "$1" "$2" "$3" "$(pid_of "$1")" "$LOG_DIR/$1.log"
  else
    row "$1" off "$3" - "$LOG_DIR/$1.log"
  fi
}
pipeline_line processor processor_healthy "$STACK_PROCESSOR_ADDR (event-processor-group)"
pipeline_line verifier verifier_healthy "http://$STACK_VERIFIER_ADDR/ (verifier serve)"
not_default="$(settings_changed)"
[ -z "$not_default" ] || printf 'settings    %s (%s)\n' "$not_default" "$SETTINGS_FILE"
exit "$all_ok"
