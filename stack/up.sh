#!/usr/bin/env bash
#/ Starts the real CDC pipeline on this machine, each part only when it is not already healthy,
#/ and waits until every part is healthy:
#/   postgresql  127.0.0.1:5432   PostgreSQL 15, wal_level=logical, database app, sql/*.sql applied
#/   kafka       127.0.0.1:9092   Kafka (KRaft, one node); topic postgres.activity.event_outbox
#/   connect     127.0.0.1:8083   Kafka Connect standalone + Debezium PostgreSQL connector
#/   ferretdb    127.0.0.1:27017  FerretDB (MongoDB wire protocol), SQLite backend, patched (stack/ferretdb)
#/ STACK_PROFILE=cluster stack/up.sh starts the cluster profile instead of Kafka and Connect's
#/ single node (STACK_PROFILE=single goes back; the profile is recorded in .stack/profile, so
#/ every other script follows it):
#/   kafka-1..3  127.0.0.1:9092, :9192, :9292   three KRaft nodes (controllers :9093, :9193,
#/               :9293, a quorum of three); topics on 3 replicas, min.insync.replicas=2
#/   connect-1,2 127.0.0.1:8083, :8084          Kafka Connect distributed (group outbox-connect),
#/               producer acks=all + idempotence; the connector created over the REST API
#/ Switching profiles stops the other profile's Kafka and Connect, and the stack's
#/ event-processor (started again against the new Kafka); the cluster's storage is formatted
#/ anew each time it is switched to (its topics hold only runs made on it).
#/ Kafka is skipped when KAFKA_BOOTSTRAP points elsewhere, FerretDB when MONGODB_URI does.
#/ Runs stack/install.sh first when something is missing (with INSTALL_EXTENSION=0, without
#/ building the extension: scripts/test.sh builds it once its own build is done, and an
#/ extension not installed yet is skipped). State, pids and logs: .stack/.
#/ Then the pipeline itself, so that psql alone is enough (STACK_PIPELINE=off: the services only):
#/   processor   127.0.0.1:9101   event-processor, the reference consumer, in event-processor-group
#/   verifier    127.0.0.1:9102   verifier serve: follows every run, its page, API and metrics
#/                                (its reports in .stack/verifier/runs; VERIFIER_ALLOW_START=1:
#/                                runs may be started from its page, with the token it writes
#/                                into .stack/secrets/verifier.token; VERIFIER_CANARY_RATE=N:
#/                                a canary of N events/s, docs/soak.md)
#/ The binaries are built first when missing (cargo build --release). The demo's scripts that run
#/ their own event-processor in the same group pause this one while they run.
#/ STACK_SETTINGS="NAME=VALUE …" sets the services' tunable settings (Go's GOGC for FerretDB,
#/ Debezium's poll interval, Kafka's threads, the JVMs' garbage collector, heap and JIT; each,
#/ its default and what it accepts in stack/settings.sh), recorded in .stack/settings for every
#/ later call (STACK_SETTINGS= goes back to the defaults); a running part whose settings differ
#/ is restarted, and only that part.
#/ Running it twice changes nothing; after a part dies, it restarts only that part.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

no_arguments "$@"

mkdir -p "$RUN_DIR" "$LOG_DIR" "$DATA_DIR"
previous_profile="$(cat "$STACK_DIR/profile" 2>/dev/null || printf single)"
# Rendered configs are their owner's only (those an older stack/up.sh left readable too).
if [ -d "$CONF_DIR" ]; then chmod -R go-rwx "$CONF_DIR" || die "cannot restrict $CONF_DIR to its owner"; fi

# ---------------------------------------------------------------- install what is missing
install_needed() {
  [ -x "$PG_BIN/postgres" ] || return 0
  command -v sudo >/dev/null || return 0
  command -v java >/dev/null || return 0
  compgen -G "$KAFKA_LIB/.pom-*" >/dev/null || return 0
  compgen -G "$DEBEZIUM_DIR/.pom-*" >/dev/null || return 0
  if mongodb_is_local; then [ -f "$FERRETDB_BIN.stamp" ] || return 0; fi
  command -v chromium >/dev/null || return 0
  command -v firefox-esr >/dev/null || return 0
  [ -f "$REPO_ROOT/tests/browser/node_modules/.package-lock.json" ] || return 0
  [ -x "$PROMTOOL_BIN" ] || return 0
  return 1
}
if install_needed; then
  log "some parts are not installed yet: running stack/install.sh"
  if [ "${INSTALL_EXTENSION:-1}" = 0 ]; then "$STACK_SRC/install.sh" --no-extension; else "$STACK_SRC/install.sh"; fi
fi

# JIT: Kafka and Connect run with the C1 compiler only (the setting JAVA_JIT=c1; tiered for the
# default C1 + C2). On 2 cores shared by the whole pipeline, C2 compiling in bursts for
# minutes after a start made end-to-end latency swing (p99 643 ms in the first 3,000 events at
# 150/s, 186 ms in the next 3,000 and 228 to 251 ms in later runs); with C1 only, the second
# 3,000 already measured p99 60 ms and every later run stayed under 63 ms, at a cost of about
# 5 ms of steady-state p50 (21 ms against 16.5 ms). docs/demo.md.
record_settings
java_opts
not_default="$(settings_changed)"
[ -z "$not_default" ] || log "stack: settings other than the defaults: $not_default ($SETTINGS_FILE)"

# ---------------------------------------------------------------- PostgreSQL
pg_up() {
  local cluster_port
  cluster_port="$(pg_lsclusters -h 2>/dev/null | awk -v v="$PG_MAJOR" -v c="$PG_CLUSTER" '$1==v && $2==c {print $3}')"
  if [ -z "$cluster_port" ] && ! pg_healthy; then
    log "postgresql: creating cluster $PG_MAJOR/$PG_CLUSTER on port $PGPORT"
    pg_createcluster "$PG_MAJOR" "$PG_CLUSTER" --port "$PGPORT" >>"$LOG_DIR/postgresql-setup.log" 2>&1 ||
      die "pg_createcluster $PG_MAJOR $PG_CLUSTER failed; see $LOG_DIR/postgresql-setup.log"
    cluster_port="$PGPORT"
  fi

  if ! pg_healthy; then
    [ "$cluster_port" = "$PGPORT" ] ||
      die "postgresql: nothing answers on $PG_ADDR and cluster $PG_MAJOR/$PG_CLUSTER is set to port ${cluster_port:-?}; set PGPORT=$cluster_port or change the cluster's port"
    log "postgresql: starting cluster $PG_MAJOR/$PG_CLUSTER"
    pg_ctlcluster "$PG_MAJOR" "$PG_CLUSTER" start >>"$LOG_DIR/postgresql-setup.log" 2>&1 ||
      die "postgresql did not start; see $(pg_log_file) and $LOG_DIR/postgresql-setup.log"
    wait_for postgresql 60 "$(pg_log_file)" pg_healthy
    # up.sh started it, so down.sh may stop it
    pg_pid >"$RUN_DIR/postgresql.pid"
  fi

  # Logical decoding for Debezium; loopback only. A cluster that listens on more than the
  # default 'localhost' was set up that way on purpose and is left alone.
  local wal listen restart=0
  wal="$(pg_admin -d postgres -tAc 'SHOW wal_level')"
  listen="$(pg_admin -d postgres -tAc 'SHOW listen_addresses')"
  if [ "$wal" != logical ]; then
    log "postgresql: wal_level is $wal; setting it to logical (needs a restart)"
    pg_admin -d postgres -c 'ALTER SYSTEM SET wal_level = logical'
    restart=1
  fi
  if [ "$listen" = localhost ]; then
    log "postgresql: listen_addresses is localhost (also ::1); setting it to 127.0.0.1 (needs a restart)"
    pg_admin -d postgres -c "ALTER SYSTEM SET listen_addresses = '127.0.0.1'"
    restart=1
  elif [ "$listen" != 127.0.0.1 ]; then
    log "postgresql: note: listen_addresses is '$listen' (set by its owner; left as it is)"
  fi
  # Memory and checkpoints, only when still at Debian's defaults (a tuned cluster is left
  # alone): with 128 MB of shared_buffers a million-event outbox (~800 MB) is written through
  # the backend's own evictions, and 1 GB of max_wal_size forces checkpoints mid-run. Measured:
  # the plain-SQL floor of bench/generate.sh went from 22 s to 18 s (BENCHMARKS.md).
  local buffers wal_max ram_mb target_mb
  buffers="$(pg_admin -d postgres -tAc 'SHOW shared_buffers')"
  wal_max="$(pg_admin -d postgres -tAc 'SHOW max_wal_size')"
  if [ "$buffers" = 128MB ]; then
    ram_mb="$(awk '/^MemTotal:/ {print int($2 / 1024)}' /proc/meminfo)"
    target_mb=$((ram_mb / 4 > 2048 ? 2048 : ram_mb / 4))
    log "postgresql: shared_buffers is the default 128MB; setting it to ${target_mb}MB (a quarter of RAM, at most 2 GB; needs a restart)"
    pg_admin -d postgres -c "ALTER SYSTEM SET shared_buffers = '${target_mb}MB'"
    restart=1
  fi
  if [ "$wal_max" = 1GB ]; then
    log "postgresql: max_wal_size is the default 1GB; setting it to 4GB"
    pg_admin -d postgres -c "ALTER SYSTEM SET max_wal_size = '4GB'" -c 'SELECT pg_reload_conf()' >/dev/null
  fi
  if [ "$restart" -eq 1 ]; then
    [ "$cluster_port" = "$PGPORT" ] ||
      die "postgresql on $PG_ADDR needs wal_level=logical and a restart, and it is not cluster $PG_MAJOR/$PG_CLUSTER: restart it yourself"
    log "postgresql: restarting cluster $PG_MAJOR/$PG_CLUSTER (data is kept)"
    pg_ctlcluster "$PG_MAJOR" "$PG_CLUSTER" restart >>"$LOG_DIR/postgresql-setup.log" 2>&1 ||
      die "postgresql did not restart; see $(pg_log_file)"
    wait_for postgresql 60 "$(pg_log_file)" pg_healthy
    [ -f "$RUN_DIR/postgresql.pid" ] && pg_pid >"$RUN_DIR/postgresql.pid"
  fi
  if [ "$(pg_admin -d postgres -tAc 'SHOW synchronous_commit')" = off ]; then
    log "postgresql: warning: synchronous_commit=off delays what CDC sees until the WAL is flushed"
  fi

  write_secrets
  # The passwords reach psql on its standard input, never on its command line.
  {
    printf '\\set app_password %s\n' "$(psql_quote "$(password app)")"
    printf '\\set debezium_password %s\n' "$(psql_quote "$(password debezium)")"
    printf '\\i %s\n' "$REPO_ROOT/sql/roles.sql"
  } | pg_admin -d postgres >/dev/null || die "applying sql/roles.sql failed"
  pg_admin -d app -f "$REPO_ROOT/sql/schema.sql" >/dev/null || die "applying sql/schema.sql failed"
  ensure_extension
}

# ---------------------------------------------------------------- Kafka
# The CDC topic and the dead-letter topic stamp each record with the broker's append time
# (message.timestamp.type=LogAppendTime), so T2 is when Kafka appended the record, not when Kafka
# Connect's producer created it (Kafka's default, CreateTime, puts the producer's linger and
# request in `queue`). docs/design.md, "Timestamps".
ensure_topics() {
  local existing
  existing="$(kafka_tool org.apache.kafka.tools.TopicCommand --bootstrap-server "$KAFKA_BOOTSTRAP" --list 2>>"$LOG_DIR/kafka-tools.log")" ||
    die "could not list the topics of Kafka at $KAFKA_BOOTSTRAP; see $LOG_DIR/kafka-tools.log"
  local topic parts replication=(--replication-factor 1)
  cluster_profile && replication=(--replication-factor 3 --config min.insync.replicas=2)
  for spec in "$CDC_TOPIC:$CDC_PARTITIONS" "$DLQ_TOPIC:1"; do
    topic="${spec%:*}" parts="${spec##*:}"
    if grep -qx "$topic" <<<"$existing"; then
      ensure_log_append_time "$topic"
      continue
    fi
    log "kafka: creating topic $topic ($parts partitions, ${replication[1]} replicas, message.timestamp.type=LogAppendTime)"
    kafka_tool org.apache.kafka.tools.TopicCommand --bootstrap-server "$KAFKA_BOOTSTRAP" --create \
      --if-not-exists --topic "$topic" --partitions "$parts" "${replication[@]}" \
      --config message.timestamp.type=LogAppendTime >>"$LOG_DIR/kafka-tools.log" 2>&1 ||
      die "could not create topic $topic on Kafka at $KAFKA_BOOTSTRAP; see $LOG_DIR/kafka-tools.log"
  done
}

# ensure_log_append_time TOPIC -> an existing topic of the local broker on another timestamp
# type is altered (and says so): records already on it keep the stamp they were written with.
# A topic of a broker named by KAFKA_BOOTSTRAP is left as it is, and measured as it is.
ensure_log_append_time() {
  local described
  described="$(kafka_tool kafka.admin.ConfigCommand --bootstrap-server "$KAFKA_BOOTSTRAP" \
    --entity-type topics --entity-name "$1" --describe --all 2>>"$LOG_DIR/kafka-tools.log")" ||
    die "could not read the configuration of topic $1 on Kafka at $KAFKA_BOOTSTRAP; see $LOG_DIR/kafka-tools.log"
  grep -q 'message.timestamp.type=LogAppendTime' <<<"$described" && return 0
  if ! kafka_is_local; then
    log "kafka: topic $1 on $KAFKA_BOOTSTRAP stamps records with the producer's create time; left as it is (not our broker): the verifier's report says T2 is the producer's create time"
    return 0
  fi
  log "kafka: topic $1 stamps records with the producer's create time; setting message.timestamp.type=LogAppendTime so T2 is the broker's append time (records already on it keep their stamp)"
  kafka_tool kafka.admin.ConfigCommand --bootstrap-server "$KAFKA_BOOTSTRAP" --entity-type topics \
    --entity-name "$1" --alter --add-config message.timestamp.type=LogAppendTime \
    >>"$LOG_DIR/kafka-tools.log" 2>&1 ||
    die "could not alter topic $1 on Kafka at $KAFKA_BOOTSTRAP; see $LOG_DIR/kafka-tools.log"
}

# switch_profile -> when the recorded profile is not STACK_PROFILE: the other profile's Kafka
# and Connect are stopped (one Connect may stream from the slot at a time), and so is the
# stack's event-processor, a client of that Kafka (started again below against the new one:
# one that outlived its cluster still held no partition of the new cluster's topic 90 s later,
# and up.sh gave up on it); a cluster being switched to starts from
# empty storage (a stored Connect offset older than the slot would stop Debezium). Records the
# profile.
switch_profile() {
  [ "$previous_profile" != "$STACK_PROFILE" ] || return 0
  log "stack: switching from the $previous_profile profile to $STACK_PROFILE: stopping the $previous_profile profile's Kafka and Connect, and the stack's event-processor"
  STACK_PROFILE="$previous_profile" "$STACK_SRC/down.sh" processor connect kafka
  if cluster_profile && [ -d "$DATA_DIR/kafka-cluster" ]; then
    log "kafka: the cluster starts from empty storage ($DATA_DIR/kafka-cluster formatted anew)"
    rm -rf "$DATA_DIR/kafka-cluster"
  fi
  printf '%s\n' "$STACK_PROFILE" >"$STACK_DIR/profile"
}

# kafka_cluster_up -> starts each of the three nodes that is not healthy (all before waiting:
# a node needs a quorum of two to start), then the topics.
kafka_cluster_up() {
  local ready="$DATA_DIR/kafka-cluster/.topics-ready" cluster_id n started=()
  mkdir -p "$DATA_DIR/kafka-cluster"
  if [ ! -f "$DATA_DIR/kafka-cluster/cluster.id" ]; then
    kafka_tool kafka.tools.StorageTool random-uuid >"$DATA_DIR/kafka-cluster/cluster.id" 2>>"$LOG_DIR/kafka-tools.log" ||
      die "kafka: StorageTool random-uuid failed; see $LOG_DIR/kafka-tools.log"
  fi
  cluster_id="$(cat "$DATA_DIR/kafka-cluster/cluster.id")"
  local QUORUM_VOTERS="" NODE_ID BROKER_PORT CONTROLLER_PORT conf logfile
  for n in "${KAFKA_NODES[@]}"; do QUORUM_VOTERS+="${QUORUM_VOTERS:+,}$n@$(controller_addr "$n")"; done
  for n in "${KAFKA_NODES[@]}"; do restart_if_settings_changed "kafka-$n"; done
  for n in "${KAFKA_NODES[@]}"; do
    kafka_node_healthy "kafka-$n" "$(broker_addr "$n")" && continue
    # shellcheck disable=SC2034 # NODE_ID is read by render, through ${!name}
    NODE_ID="$n" BROKER_PORT="$(broker_addr "$n")" CONTROLLER_PORT="$(controller_addr "$n")"
    BROKER_PORT="${BROKER_PORT##*:}" CONTROLLER_PORT="${CONTROLLER_PORT##*:}"
    conf="$(render server-cluster.properties "server-$n.properties")"
    logfile="$LOG_DIR/kafka-$n.log"
    if [ ! -f "$DATA_DIR/kafka-cluster/node-$n/meta.properties" ]; then
      log "kafka-$n: formatting storage in $DATA_DIR/kafka-cluster/node-$n (cluster $cluster_id)"
      kafka_tool kafka.tools.StorageTool format -t "$cluster_id" -c "$conf" --ignore-formatted \
        >>"$logfile" 2>&1 || die "kafka-$n: formatting storage failed; see $logfile"
    fi
    log "kafka-$n: starting on $(broker_addr "$n") (controller $(controller_addr "$n"))"
    start_daemon "kafka-$n" "$logfile" java "${JAVA_OPTS[@]}" -cp "$KAFKA_LIB/*" kafka.Kafka "$conf"
    started+=("$n")
  done
  for n in "${started[@]}"; do
    wait_for "kafka-$n" 120 "$LOG_DIR/kafka-$n.log" kafka_node_healthy "kafka-$n" "$(broker_addr "$n")"
  done
  [ -f "$ready" ] && return
  all_registered() {
    [ "$(kafka_tool org.apache.kafka.tools.BrokerApiVersionsCommand --bootstrap-server "$KAFKA_BOOTSTRAP" 2>/dev/null | grep -c ' (id: ')" -ge 3 ]
  }
  wait_until 90 all_registered || die "kafka: the three nodes did not all register within 90 s; see $LOG_DIR/kafka-*.log"
  ensure_topics
  touch "$ready"
}

kafka_up() {
  if ! kafka_is_local; then
    port_open "$KAFKA_BOOTSTRAP" || die "Kafka at $KAFKA_BOOTSTRAP (KAFKA_BOOTSTRAP) is not reachable"
    log "kafka: using $KAFKA_BOOTSTRAP (KAFKA_BOOTSTRAP); the local broker is not started"
    ensure_topics
    return
  fi
  if cluster_profile; then
    kafka_cluster_up
    return
  fi
  # The marker says the topics are as ensure_topics leaves them (v2: LogAppendTime), so a healthy
  # broker costs no tool start; a stack set up by an older up.sh checks them once more.
  local ready="$DATA_DIR/kafka/.topics-ready-v2"
  restart_if_settings_changed kafka
  if kafka_healthy; then
    [ -f "$ready" ] && return
    ensure_topics
    touch "$ready"
    return
  fi
  local logfile="$LOG_DIR/kafka.log" conf
  conf="$(render server.properties)"
  mkdir -p "$DATA_DIR/kafka"
  if [ ! -f "$DATA_DIR/kafka/meta.properties" ]; then
    local cluster_id
    cluster_id="$(kafka_tool kafka.tools.StorageTool random-uuid 2>>"$logfile")" ||
      die "kafka: StorageTool random-uuid failed; see $logfile"
    log "kafka: formatting storage in $DATA_DIR/kafka (cluster $cluster_id)"
    kafka_tool kafka.tools.StorageTool format --standalone -t "$cluster_id" -c "$conf" --ignore-formatted \
      >>"$logfile" 2>&1 || die "kafka: formatting storage failed; see $logfile"
  fi
  log "kafka: starting on $LOCAL_KAFKA (controller $KAFKA_CONTROLLER)"
  start_daemon kafka "$logfile" java "${JAVA_OPTS[@]}" -cp "$KAFKA_LIB/*" kafka.Kafka "$conf"
  wait_for kafka 90 "$logfile" kafka_healthy
  ensure_topics
  touch "$ready"
}

# ---------------------------------------------------------------- Kafka Connect + Debezium
# Debezium refuses to start when its stored offset is older than what the replication slot
# still holds ("no longer available on the server"). That happens when another Connect worker
# (another checkout of this project, e.g. a CI clone, sharing this PostgreSQL cluster) streamed
# from the same slot, or when the slot was dropped. The changes in between went to that worker's
# Kafka, not ours, and cannot be replayed; say so and resume at the slot's position.
discard_stale_offsets() {
  local file="$DATA_DIR/connect/connect.offsets" offset slot_lsn behind
  [ -f "$file" ] || return 0
  offset="$(grep -aoE '"lsn":[0-9]+' "$file" | tail -n 1 | cut -d: -f2)"
  [ -n "$offset" ] || return 0
  slot_lsn="$(pg_admin -d app -tAc "SELECT confirmed_flush_lsn FROM pg_replication_slots WHERE slot_name = '$SLOT_NAME'")"
  if [ -z "$slot_lsn" ]; then
    behind="slot $SLOT_NAME does not exist"
  elif [ "$(pg_admin -d app -tAc "SELECT $offset < ('$slot_lsn'::pg_lsn - '0/0'::pg_lsn)")" = t ]; then
    behind="slot $SLOT_NAME has confirmed up to $slot_lsn, past the stored offset (LSN $offset)"
  else
    return 0
  fi
  log "connect: WARNING: $behind; another Connect worker streamed from this slot, so changes in between are not in this Kafka. Moving $file aside (.stale) and resuming at the slot"
  mv -f "$file" "$file.stale"
}

# Whether the running connector's config shows its password (a worker started by an older
# stack/up.sh, before the password moved into .stack/secrets/connect.properties).
connector_shows_password() {
  local config
  config="$(curl -fsS --max-time 3 "http://$CONNECT_ADDR/connectors/$CONNECTOR_NAME/config" 2>/dev/null)" || return 1
  jq -e '."database.password" | startswith("${file:") | not' <<<"$config" >/dev/null
}

# connect_cluster_up -> starts each of the two workers that is not running, creates (or
# updates) the connector over the REST API from the same properties as the single node's, and
# waits until it captures.
connect_cluster_up() {
  local w WORKER_PORT conf launched=0
  for w in "${CONNECT_WORKERS[@]}"; do
    restart_if_settings_changed "connect-$w"
    pid_of "connect-$w" >/dev/null && continue
    WORKER_PORT="$(worker_addr "$w")" WORKER_PORT="${WORKER_PORT##*:}"
    conf="$(render connect-distributed.properties "connect-$w.properties")"
    log "connect-$w: starting on $(worker_addr "$w") (group outbox-connect)"
    start_daemon "connect-$w" "$LOG_DIR/connect-$w.log" java "${JAVA_OPTS[@]}" -cp "$KAFKA_LIB/*" \
      org.apache.kafka.connect.cli.ConnectDistributed "$conf"
    launched=1
  done
  local addr
  addr="$(worker_addr "${CONNECT_WORKERS[0]}")"
  any_rest() {
    local w
    for w in "${CONNECT_WORKERS[@]}"; do
      curl -fsS --max-time 3 "http://$(worker_addr "$w")/connectors" >/dev/null 2>&1 && addr="$(worker_addr "$w")" && return 0
    done
    return 1
  }
  wait_until 180 any_rest || die "no Kafka Connect worker answers on $CONNECT_ADDR within 180 s; see $LOG_DIR/connect-*.log"
  if [ "$launched" -eq 1 ] || ! connect_running; then
    local body
    body="$(connector_config_json)"
    # the leader may still be joining: a PUT refused with 409 (rebalance in progress) is retried
    put_config() { curl -fsS --max-time 10 -X PUT -H 'Content-Type: application/json' --data "$body" \
      "http://$addr/connectors/$CONNECTOR_NAME/config" >>"$LOG_DIR/connect-rest.log" 2>&1; }
    wait_until 120 put_config || die "Kafka Connect at $addr refused the connector's config; see $LOG_DIR/connect-rest.log and $LOG_DIR/connect-*.log"
  fi
  wait_for "connect-${CONNECT_WORKERS[0]}" 180 "$LOG_DIR/connect-${CONNECT_WORKERS[0]}.log" connect_healthy
  for w in "${CONNECT_WORKERS[@]}"; do
    wait_for "connect-$w" 180 "$LOG_DIR/connect-$w.log" worker_answers "$w"
  done
}

connect_up() {
  if cluster_profile; then
    connect_cluster_up
    return
  fi
  if connect_healthy && connector_shows_password; then
    log "connect: the running connector's config holds its password (started by an older stack/up.sh); restarting the worker to read it from $SECRETS_DIR"
    "$STACK_SRC/down.sh" connect
  fi
  restart_if_settings_changed connect
  connect_healthy && return
  local logfile="$LOG_DIR/connect.log"
  if connect_running; then
    # Running but not streaming: after PostgreSQL restarts, Debezium reconnects by itself
    # (about 10 s). Give it that chance before restarting the worker.
    log "connect: $CONNECTOR_NAME is RUNNING but slot $SLOT_NAME is not active; waiting for Debezium to reconnect"
    wait_until 60 slot_active && return
    log "connect: slot $SLOT_NAME still inactive after 60 s; restarting the worker"
    "$STACK_SRC/down.sh" connect
  elif pid_of connect >/dev/null; then
    # The worker runs but the connector or its task is not RUNNING (e.g. FAILED): restart the
    # worker, the one path that always recovers.
    log "connect: worker runs but $CONNECTOR_NAME is not RUNNING; restarting the worker"
    "$STACK_SRC/down.sh" connect
  fi
  discard_stale_offsets
  local worker connector
  worker="$(render connect-standalone.properties)"
  connector="$(render debezium-outbox.properties)"
  mkdir -p "$DATA_DIR/connect"
  log "connect: starting on $CONNECT_ADDR with connector $CONNECTOR_NAME"
  start_daemon connect "$logfile" java "${JAVA_OPTS[@]}" -cp "$KAFKA_LIB/*" \
    org.apache.kafka.connect.cli.ConnectStandalone "$worker" "$connector"
  wait_for connect 180 "$logfile" connect_healthy
}

# ---------------------------------------------------------------- FerretDB
ferretdb_up() {
  if ! mongodb_is_local; then
    ferretdb_healthy || die "the MongoDB store at $MONGODB_URI (MONGODB_URI) is not reachable"
    log "store: using $MONGODB_URI (MONGODB_URI); FerretDB is not started"
    return
  fi
  restart_if_settings_changed ferretdb
  ferretdb_healthy && return
  local logfile="$LOG_DIR/ferretdb.log"
  mkdir -p "$DATA_DIR/ferretdb" "$DATA_DIR/ferretdb-state"
  # SQLite backend, WAL with synchronous=NORMAL: chosen over the PostgreSQL backend by
  # bench/store_backends.sh (BENCHMARKS.md): faster on every write shape the processor
  # uses, and it keeps the store's writes out of the WAL that Debezium decodes. NORMAL survives a
  # process crash, like MongoDB's default write concern (acknowledged before the journal flush).
  log "ferretdb: starting on $FERRETDB_ADDR (SQLite backend in $DATA_DIR/ferretdb)"
  [ "$FERRETDB_BINARY" = built ] || log "ferretdb: running $FERRETDB_BINARY (FERRETDB_BINARY), not the stack's build"
  local procs=() mmap="" # GOMAXPROCS unset: Go's own, one per core
  [ "$FERRETDB_MMAP_MB" = 0 ] || mmap="&_pragma=mmap_size($((FERRETDB_MMAP_MB * 1048576)))"
  [ "$FERRETDB_GOMAXPROCS" = auto ] || procs=(GOMAXPROCS="$FERRETDB_GOMAXPROCS")
  start_daemon ferretdb "$logfile" env -u GOMAXPROCS GOGC="$FERRETDB_GOGC" "${procs[@]}" \
    "$(ferretdb_binary)" \
    --listen-addr="$FERRETDB_ADDR" --handler=sqlite \
    --sqlite-url="file:$DATA_DIR/ferretdb/?_pragma=synchronous(normal)$mmap" \
    --state-dir="$DATA_DIR/ferretdb-state" --telemetry=disable --debug-addr=- --log-level=warn
  wait_for ferretdb 30 "$logfile" ferretdb_healthy
}

# ---------------------------------------------------------------- the pipeline
pipeline_up() {
  case "$STACK_PIPELINE" in
    off)
      log "pipeline: not started (STACK_PIPELINE=off): no event-processor, no verifier serve"
      return
      ;;
    on) ;;
    *) die "STACK_PIPELINE must be on or off (got '$STACK_PIPELINE')" ;;
  esac
  build_binaries
  processor_up
  verifier_up
}

switch_profile
pg_up
kafka_up
connect_up
ferretdb_up
pipeline_up
"$STACK_SRC/status.sh"
