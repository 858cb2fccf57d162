# shellcheck shell=bash
# Shared by the scripts in scripts/demo: the stack's paths and helpers (stack/lib.sh), where the
# demo keeps its runs, the two binaries, and psql as role app. Sourced, never run.

# shellcheck source=../../stack/lib.sh
source "$(cd "$(dirname "${BASH_SOURCE[0]}")/../../stack" && pwd)/lib.sh"
LOG_TAG=demo
DIE_STATUS=2

# One folder per run: $DEMO_DIR/run-<run_id>/ (report.txt, report.json, report.html, *.hlog,
# processor.log, processor-events.jsonl, generator.txt, verifier.log); $DEMO_DIR/latest points
# at the newest.
DEMO_DIR="${DEMO_DIR:-$STACK_DIR/demo}"
# The processor a demo run started (one at a time).
# shellcheck disable=SC2034 # written by run_demo.sh and capacity.sh; read as pid_of demo-processor
DEMO_PROCESSOR_PID="$RUN_DIR/demo-processor.pid"

# Role app in database app over TCP, as the application and the verifier connect; its password
# comes from PGPASSFILE (stack/lib.sh), unless PGPASSWORD is set.
export PGHOST="${PGHOST:-127.0.0.1}" PGPORT PGUSER="${PGUSER:-app}" PGDATABASE="${PGDATABASE:-app}"
export KAFKA_BOOTSTRAP MONGODB_URI CDC_TOPIC CONNECT_ADDR

# app_sql SQL -> runs SQL as role app; prints unaligned tuples only; fails on an SQL error.
app_sql() {
  PGOPTIONS="-c client_min_messages=warning" psql -X -q -v ON_ERROR_STOP=1 -tA -c "$1"
}


# bench_run SETTINGS EVENTS RATE -> one demo run (run_demo.sh, EVENTS at RATE/s) with the
# processor's SETTINGS (NAME=VALUE words, checked by the caller); prints its run directory. A run
# that missed its SLOs (exit 1) still counts; one that could not be verified stops the benchmark.
bench_run() {
  log "bench: $2 events at $3/s with ${1:-the defaults}"
  local rc
  # shellcheck disable=SC2086 # SETTINGS is a list of NAME=VALUE words
  env $1 TARGET_EVENTS="$2" RATE="$3" LOG_LEVEL=INFO "$REPO_ROOT/scripts/demo/run_demo.sh" >/dev/null && rc=0 || rc=$?
  [ "$rc" -le 1 ] || die "the run with ${1:-the defaults} could not be verified (exit $rc)"
  run_dir "$(readlink "$DEMO_DIR/latest" | sed 's/^run-//')"
}

# bench_pids -> sets postgres_pid, kafka_pid, connect_pid and store_pid: the single-node stack's
# running parts, for services_cpu
bench_pids() {
  postgres_pid="$(running_pid postgresql)"
  kafka_pid="$(running_pid kafka)"
  connect_pid="$(running_pid connect)"
  store_pid="$(running_pid ferretdb)"
}
# ticks PID -> CPU ticks of PID and of its children it has reaped
ticks() { awk '{ print $14 + $15 + $16 + $17 }' "/proc/$1/stat"; }
# services_cpu -> one JSON object: CPU ticks used so far by each service of the stack
services_cpu() {
  jq -cn --argjson pg "$(ticks "$postgres_pid")" --argjson kafka "$(ticks "$kafka_pid")" \
    --argjson connect "$(ticks "$connect_pid")" --argjson store "$(ticks "$store_pid")" \
    --argjson machine "$(machine_ticks)" \
    '{postgresql: $pg, kafka: $kafka, connect: $connect, ferretdb: $store, machine: $machine}'
}
# machine_ticks -> [busy, all] CPU ticks of the whole machine so far (/proc/stat: user to steal;
# all but idle and iowait count as busy; guest time is inside user already and not added again)
machine_ticks() { awk '/^cpu / { all = 0; for (i = 2; i <= 9; i++) all += $i; print "[" all - $5 - $6 ", " all "]" }' /proc/stat; }

# run_id_argument "$@" -> the prologue of a script that takes one optional RUN_ID (monitor.sh,
# verify.sh): -h/--help prints the script's header and exits 0; sets run to latest (no argument
# or `latest`) or the run id; dies on anything else.
run_id_argument() {
  case "${1:-}" in
    -h | --help)
      script_help
      exit 0
      ;;
    "" | latest) run=latest ;;
    *)
      [[ "$1" =~ ^[1-9][0-9]*$ ]] || die "RUN_ID must be a run id from SELECT * FROM demo_status() (got '$1')"
      # shellcheck disable=SC2034 # the script's result: read by monitor.sh and verify.sh
      run="$1"
      ;;
  esac
  [ $# -le 1 ] || die "too many arguments (usage: $0 [RUN_ID])"
}

# Dies when a demo run's processor is still running: two would share one consumer group.
require_no_demo_run() {
  local pid
  if pid="$(pid_of demo-processor)"; then
    die "a demo run is in progress (its event-processor is pid $pid): wait for it to finish, or stop it with: kill $pid"
  fi
}

# Dies naming every part of the stack that is not healthy, with its address and how to start it,
# and when the extension is missing from database app.
require_stack() {
  local down=()
  pg_healthy || down+=("PostgreSQL at $PG_ADDR")
  kafka_healthy || down+=("Kafka at $KAFKA_BOOTSTRAP")
  connect_healthy || down+=("Kafka Connect with Debezium at $CONNECT_ADDR (connector $CONNECTOR_NAME, slot $SLOT_NAME)")
  ferretdb_healthy || down+=("the MongoDB store at $MONGODB_URI")
  if [ ${#down[@]} -gt 0 ]; then
    local part
    for part in "${down[@]}"; do log "not running: $part"; done
    die "$(printf '%s; ' "${down[@]}")start the stack with stack/up.sh (it starts only what is down; stack/status.sh shows each part)"
  fi
  [ -n "$(app_sql "SELECT 1 FROM pg_extension WHERE extname = 'outbox_demo'")" ] ||
    die "the outbox_demo extension is not installed in database app: run stack/install.sh, then stack/up.sh"
}

# run_dir ID -> the folder of run ID.
run_dir() { printf '%s/run-%s\n' "$DEMO_DIR" "$1"; }

# Clears the demo's data: the generated events and the manifest (demo_reset; rows of other
# writers stay), waits until Debezium has read past the deletion (so the next load does not
# queue behind it), then drops the projections and receipts in MongoDB and moves the processor
# group to the end of the CDC topic (event-processor --reset). The stack must be up and no demo
# run in progress.
clear_demo_data() {
  local deleted target deadline next_note
  deleted="$(app_sql "SELECT deleted_events || ' events and ' || deleted_runs || ' runs' FROM demo_reset(confirm => true)")" ||
    die "demo_reset failed (above): stop a running rate run with: psql -c 'SELECT demo_stop()'"
  log "postgresql: deleted $deleted"

  # Debezium reads the deletions (and skips them: outbox semantics). It confirms a position to the
  # slot with its next record or heartbeat (every 10 s).
  target="$(app_sql "SELECT pg_current_wal_lsn()")"
  behind() {
    app_sql "SELECT greatest(0, pg_wal_lsn_diff('$target', confirmed_flush_lsn))::bigint FROM pg_replication_slots WHERE slot_name = '$SLOT_NAME'"
  }
  deadline=$((SECONDS + 600))
  next_note=$SECONDS
  until [ "$(behind)" = 0 ]; do
    [ "$SECONDS" -lt "$deadline" ] ||
      die "Debezium has not read past the deletion within 600 s ($(behind) bytes behind): see stack/status.sh and $LOG_DIR/connect.log"
    if [ "$SECONDS" -ge "$next_note" ]; then
      log "waiting for Debezium to read past the deletion: $(behind) bytes of WAL to go"
      next_note=$((SECONDS + 10))
    fi
    sleep 1
  done

  # the group must have no member to be moved: the stack's event-processor waits meanwhile
  pause_stack_processor
  LOG_LEVEL=WARNING "$PROCESSOR_BIN" --reset >&2 ||
    die "event-processor --reset failed (above)"
  resume_stack_processor
}

# warn_if_behind N -> when the processor group is far behind the CDC topic's end (more records
# than the N events about to be generated, and over 1,000), says so with the figure, how fast
# the group drains (two readings 3 s apart) and the wait that means, and how to skip it.
# Generates nothing and stops nothing: the run's events queue behind those records.
warn_if_behind() {
  local first second lag rate group="${PROCESSOR_GROUP:-event-processor-group}"
  first="$("$VERIFIER_BIN" --log-level ERROR lag --json)" || {
    log "could not read the processor group's lag (above): going on without the check"
    return 0
  }
  lag="$(jq -r '.lag // 0' <<<"$first")"
  [ "$lag" -gt 1000 ] && [ "$lag" -gt "$1" ] || return 0
  sleep 3
  second="$("$VERIFIER_BIN" --log-level ERROR lag --json)" || {
    log "could not read the processor group's lag a second time (above): going on"
    return 0
  }
  rate="$(jq -rn --argjson a "$lag" --argjson b "$(jq -r '.lag // 0' <<<"$second")" '(($a - $b) / 3) | floor')"
  if [ "$rate" -gt 0 ]; then
    log "WARNING: the processor group $group is $lag records behind the end of $CDC_TOPIC and drains about $rate/s: this run's events wait about $((lag / rate)) s behind them, and its latency counts that wait. To start from the end instead, stop here and run scripts/demo/setup.sh (it moves the group to the end)."
  else
    log "WARNING: the processor group $group is $lag records behind the end of $CDC_TOPIC and did not move in 3 s: this run's events wait behind them. Run scripts/demo/setup.sh to move the group to the end."
  fi
}

# ---- the consumer under test (run_demo.sh): CONSUMER, CONSUMER_CMD, CONSUMER_READY,
# CONSUMER_GROUP and RECEIPTS, validated; sets CONSUMER_KIND (event-processor, python or
# command), CONSUMER_LABEL, CONSUMER_LOG and CONSUMER_METRICS (file names in the run's folder),
# consumer_group (empty: unknown) and RECEIPTS (its default for the consumer).
consumer_choice() {
  if [ -n "${CONSUMER_CMD:-}" ]; then
    CONSUMER_KIND="command"
    CONSUMER_LABEL="your consumer (CONSUMER_CMD)"
  else
    case "${CONSUMER:=event-processor}" in
      event-processor) CONSUMER_LABEL=event-processor ;;
      python) CONSUMER_LABEL="the Python consumer (examples/python-consumer)" ;;
      *) die "CONSUMER must be event-processor or python (got '$CONSUMER'); any other consumer: CONSUMER_CMD='the command that runs it'" ;;
    esac
    CONSUMER_KIND="$CONSUMER"
  fi
  case "$CONSUMER_KIND" in
    event-processor)
      CONSUMER_LOG=processor.log CONSUMER_METRICS=processor-events.jsonl
      consumer_group="${PROCESSOR_GROUP:-event-processor-group}"
      : "${RECEIPTS:=processed-events}"
      ;;
    python)
      [ -x "$PY_CONSUMER_VENV/bin/python" ] || die "the Python consumer's venv is missing ($PY_CONSUMER_VENV): run stack/install.sh"
      CONSUMER_LOG=consumer.log CONSUMER_METRICS=consumer-events.jsonl
      consumer_group="${CONSUMER_GROUP:-python-consumer-group}"
      : "${RECEIPTS:=metrics-file}"
      ;;
    command)
      CONSUMER_LOG=consumer.log CONSUMER_METRICS=consumer-events.jsonl
      consumer_group="${CONSUMER_GROUP:-}"
      : "${RECEIPTS:=observe}"
      ;;
  esac
  case "$RECEIPTS" in
    processed-events)
      # A CONSUMER_CMD may run event-processor (scripts/demo/fault_processor.sh does).
      [ "$CONSUMER_KIND" != python ] ||
        die "RECEIPTS=processed-events reads event-processor's receipts; $CONSUMER_LABEL writes none: use RECEIPTS=metrics-file or RECEIPTS=observe"
      ;;
    metrics-file | observe | observe:[1-9]*) ;;
    *) die "RECEIPTS must be processed-events, metrics-file or observe[:MS] (got '$RECEIPTS')" ;;
  esac
}

# start_consumer DIR -> starts the chosen consumer in the background, its log and metrics file
# in DIR; sets consumer_pid.
start_consumer() {
  local dir="$1"
  case "$CONSUMER_KIND" in
    event-processor)
      LOG_LEVEL="$LOG_LEVEL" BATCH_SIZE="$BATCH_SIZE" IN_FLIGHT="${IN_FLIGHT:-1}" METRICS_FILE="$dir/$CONSUMER_METRICS" \
        METRICS_ADDR="$PROCESSOR_METRICS_ADDR" SUMMARY_INTERVAL_S=5 \
        "$PROCESSOR_BIN" 2>"$dir/$CONSUMER_LOG" &
      ;;
    python)
      local level="${LOG_LEVEL^^}"
      case "$level" in WARN) level=WARNING ;; TRACE) level=DEBUG ;; esac
      LOG_LEVEL="$level" CONSUMER_GROUP="$consumer_group" METRICS_FILE="$dir/$CONSUMER_METRICS" \
        "$PY_CONSUMER_VENV/bin/python" "$REPO_ROOT/examples/python-consumer/consumer.py" --from-end \
        --ready-file "$dir/consumer.ready" \
        2>"$dir/$CONSUMER_LOG" &
      ;;
    command)
      METRICS_FILE="$dir/$CONSUMER_METRICS" bash -c "$CONSUMER_CMD" >"$dir/$CONSUMER_LOG" 2>&1 &
      ;;
  esac
  consumer_pid=$!
}

# wait_consumer_ready DIR -> waits (60 s at most) until the consumer holds the topic's
# partitions: event-processor's gauge, the Python consumer's ready file, or CONSUMER_READY.
wait_consumer_ready() {
  local dir="$1"
  # shellcheck disable=SC2317 # called by wait_until
  ready() {
    kill -0 "$consumer_pid" 2>/dev/null || {
      tail -n 20 "$dir/$CONSUMER_LOG" >&2
      die "$CONSUMER_LABEL exited while starting (log above)"
    }
    case "$CONSUMER_KIND" in
      event-processor)
        curl -fsS --max-time 2 "http://$PROCESSOR_METRICS_ADDR/metrics" 2>/dev/null |
          grep -E '^processor_assigned_partitions [1-9]' >/dev/null
        ;;
      python) [ -f "$dir/consumer.ready" ] ;;
      command) bash -c "$CONSUMER_READY" >/dev/null 2>&1 ;;
    esac
  }
  if [ "$CONSUMER_KIND" = command ] && [ -z "${CONSUMER_READY:-}" ]; then
    log "WARNING: without CONSUMER_READY there is no telling when your consumer holds the partitions: the run starts now, and a consumer that starts at the topic's end after it would miss its first events"
    return 0
  fi
  wait_until 60 ready ||
    die "$CONSUMER_LABEL was not given the topic's partitions within 60 s (is another member of its group running?); see its log: $dir/$CONSUMER_LOG"
}

# daemon_following -> the runs the stack's verifier serve follows now, comma-separated (nothing:
# none); fails when it does not answer
daemon_following() {
  curl -fsS --max-time 5 "http://$STACK_VERIFIER_ADDR/api/runs" |
    jq -r '[.[] | select(.state == "following") | .run_id] | map(tostring) | join(", ")'
}

# daemon_follow RUN -> the stack's verifier serve's view of RUN, a line a second until its
# verdict, then the verdict in a line. Returns 0 pass, 1 fail, 3 incomplete; 4 when the daemon
# has not answered for the run in 10 s (it follows runs from the one after its first start), or
# has not begun to follow it in 600 s (it follows four at once, the oldest first).
daemon_follow() {
  local id="$1" api="http://$STACK_VERIFIER_ADDR/api/runs/$1" body verdict unknown=0 waited=0 following
  log "the stack's verifier serve follows run $id: its view from $api (the page: http://$STACK_VERIFIER_ADDR/runs/$id)"
  while true; do
    body="$(curl -fsS --max-time 5 "$api" 2>/dev/null)" || body=""
    if [ "$(jq -r '.state // empty' <<<"${body:-{\}}")" = waiting ]; then
      following="$(jq -r '.following | map(tostring) | join(", ")' <<<"$body")"
      [ $((waited % 10)) -ne 0 ] || [ -z "$following" ] || log "run $id: the daemon follows runs $following first"
      waited=$((waited + 1))
      [ "$waited" -lt 600 ] || return 4
      sleep 1
      continue
    fi
    verdict="$(jq -r '.verdict // empty' <<<"${body:-{\}}")"
    if [ -n "$verdict" ]; then
      jq -r '"run \(.run.run_id): \(.verdict | ascii_upcase): \(.counts.matched) of \(.counts.expected) verified, \(.integrity.missing_total) missing (\(.integrity.lost) lost), \(.integrity.applied_twice) applied twice; end to end p50 \(.stages[] | select(.name == "end_to_end") | .p50_ms) ms, p99 \(.stages[] | select(.name == "end_to_end") | .p99_ms) ms"' <<<"$body"
      case "$verdict" in pass) return 0 ;; fail) return 1 ;; *) return 3 ;; esac
    fi
    if [ -n "$body" ]; then
      jq -r '"run \(.run.run_id) [\(.phase)] \(.elapsed_s | floor) s: \(.counts.receipts) of \(.counts.expected) in MongoDB, \(.counts.kafka) on Kafka; e2e p50 \([.stages[] | select(.name == "end_to_end") | .p50_ms][0] // "-") ms, p99 \([.stages[] | select(.name == "end_to_end") | .p99_ms][0] // "-") ms; not matched \(.backlog.unmatched)"' <<<"$body"
    else
      unknown=$((unknown + 1))
      [ "$unknown" -lt 10 ] || return 4
    fi
    sleep 1
  done
}

# receipts_arg DIR -> the verifier's --receipts for RECEIPTS, the metrics file in DIR.
receipts_arg() {
  case "$RECEIPTS" in
    metrics-file) printf 'metrics-file:%s\n' "$1/$CONSUMER_METRICS" ;;
    *) printf '%s\n' "$RECEIPTS" ;;
  esac
}

# The body of load_N.sh: run_demo.sh with N events logging at LEVEL, at RATE events/s unless
# the caller set RATE.
# Usage: demo_load N LEVEL RATE "$@"
demo_load() {
  local n="$1" level="$2" rate="$3"
  shift 3
  case "${1:-}" in
    -h | --help)
      script_help
      exit 0
      ;;
    "") ;;
    *) die "unknown argument '$1' (usage: $0)" ;;
  esac
  TARGET_EVENTS="$n" LOG_LEVEL="$level" RATE="${RATE:-$rate}" exec "$REPO_ROOT/scripts/demo/run_demo.sh"
}
