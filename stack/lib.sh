# shellcheck shell=bash
# shellcheck disable=SC2034 # its variables are read by the scripts that source this file
# Shared by stack/install.sh, up.sh, down.sh and status.sh: paths, versions, addresses and the
# small helpers they all use. Sourced, never run.

STACK_SRC="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
REPO_ROOT="$(cd "$STACK_SRC/.." && pwd)"
STACK_DIR="${STACK_DIR:-$REPO_ROOT/.stack}"
RUN_DIR="$STACK_DIR/run"
LOG_DIR="$STACK_DIR/logs"
DATA_DIR="$STACK_DIR/data"
CONF_DIR="$STACK_DIR/conf"
KAFKA_LIB="$STACK_DIR/lib/kafka"
PLUGIN_DIR="$STACK_DIR/plugins"
DEBEZIUM_DIR="$PLUGIN_DIR/debezium-connector-postgres"
# Upstream's Debezium, without stack/debezium/patches: what DEBEZIUM_BUILD=upstream runs
DEBEZIUM_UPSTREAM_PLUGINS="$STACK_DIR/plugins-upstream"
DEBEZIUM_UPSTREAM_DIR="$DEBEZIUM_UPSTREAM_PLUGINS/debezium-connector-postgres"
FERRETDB_BIN="$STACK_DIR/bin/ferretdb"
# Where stack/install.sh vendors and patches FerretDB's source, and the module inside it
FERRETDB_BUILD_DIR="$STACK_DIR/build/ferretdb"
FERRETDB_MODULE=vendor/github.com/FerretDB/FerretDB
PROMTOOL_BIN="$STACK_DIR/bin/promtool"

# Versions (the Maven poms in stack/maven and stack/ferretdb/go.mod pin the same ones).
PG_MAJOR=15
PG_CLUSTER=main
PG_BIN="/usr/lib/postgresql/$PG_MAJOR/bin"
PG_CONFIG="$PG_BIN/pg_config"
KAFKA_VERSION=4.3.1
DEBEZIUM_VERSION=3.6.1.Final
FERRETDB_VERSION=v1.24.2
PGRX_VERSION=0.18.1

# The profile: single (one Kafka node, Kafka Connect standalone; the default) or cluster (three
# Kafka nodes, two Connect workers in distributed mode). STACK_PROFILE chooses it for
# stack/up.sh, which records it in .stack/profile; every other script reads it from there, so the
# demo scripts, the processor and the verifier work on either unchanged.
STACK_PROFILE="${STACK_PROFILE:-$(cat "$STACK_DIR/profile" 2>/dev/null || printf single)}"
case "$STACK_PROFILE" in
  single | cluster) ;;
  *)
    printf '[stack] ERROR: STACK_PROFILE must be single or cluster (got %s)\n' "$STACK_PROFILE" >&2
    exit 2
    ;;
esac
cluster_profile() { [ "$STACK_PROFILE" = cluster ]; }

# Addresses. PGPORT, KAFKA_BOOTSTRAP and MONGODB_URI follow DESIGN.md's environment. On the
# cluster profile node N (1..3) listens on 9092 + 100(N-1) (broker) and 9093 + 100(N-1)
# (controller), Connect worker W (1, 2) on 8082 + W; KAFKA_BOOTSTRAP and CONNECT_ADDR list them.
PGPORT="${PGPORT:-5432}"
PG_ADDR="127.0.0.1:$PGPORT"
if cluster_profile; then
  KAFKA_NODES=(1 2 3)
  CONNECT_WORKERS=(1 2)
else
  KAFKA_NODES=()
  CONNECT_WORKERS=()
fi
broker_addr() { printf '127.0.0.1:%s' $((9092 + 100 * ($1 - 1))); }
controller_addr() { printf '127.0.0.1:%s' $((9093 + 100 * ($1 - 1))); }
worker_addr() { printf '127.0.0.1:%s' $((8082 + $1)); }
if cluster_profile; then
  LOCAL_KAFKA="$(broker_addr 1),$(broker_addr 2),$(broker_addr 3)"
  KAFKA_CONTROLLER="$(controller_addr 1),$(controller_addr 2),$(controller_addr 3)"
  CONNECT_ADDR="$(worker_addr 1),$(worker_addr 2)"
else
  LOCAL_KAFKA="127.0.0.1:9092"
  KAFKA_CONTROLLER="127.0.0.1:9093"
  CONNECT_ADDR="127.0.0.1:8083"
fi
KAFKA_BOOTSTRAP="${KAFKA_BOOTSTRAP:-$LOCAL_KAFKA}"
# connect_parts -> the pid-file names of the profile's Connect workers.
connect_parts() { if cluster_profile; then printf 'connect-%s\n' "${CONNECT_WORKERS[@]}"; else echo connect; fi; }
LOCAL_MONGODB_URI="mongodb://127.0.0.1:27017/activity"
MONGODB_URI="${MONGODB_URI:-$LOCAL_MONGODB_URI}"
FERRETDB_ADDR="127.0.0.1:27017"
CDC_TOPIC="${CDC_TOPIC:-postgres.activity.event_outbox}"
DLQ_TOPIC="$CDC_TOPIC.dlq"
CDC_PARTITIONS="${CDC_PARTITIONS:-3}"
CONNECTOR_NAME=outbox-connector
SLOT_NAME=debezium_outbox

# Secrets: the passwords of roles app and debezium are generated once per install into
# .stack/secrets/ (a folder and files readable by their owner only; APP_PASSWORD and
# DEBEZIUM_PASSWORD override them). stack/up.sh writes from them pgpass (libpq's password file,
# for psql, the verifier and the tests) and connect.properties (read by Kafka Connect's file
# config provider, so its REST API shows a placeholder instead of the password). No password is
# passed on a command line or written to a log.
SECRETS_DIR="$STACK_DIR/secrets"
# psql in every script finds role app's password there (unless PGPASSWORD or PGPASSFILE say
# otherwise); so does the verifier.
export PGPASSFILE="${PGPASSFILE:-$SECRETS_DIR/pgpass}"

# password ROLE -> the role's password: $APP_PASSWORD or $DEBEZIUM_PASSWORD when set, else the
# one generated for this install (created on first use).
password() {
  local var file pw
  var="$(tr '[:lower:]' '[:upper:]' <<<"$1")_PASSWORD"
  if [ -n "${!var:-}" ]; then
    printf '%s' "${!var}"
    return
  fi
  file="$SECRETS_DIR/$1.password"
  if [ ! -s "$file" ]; then
    (umask 077 && mkdir -p "$SECRETS_DIR" && chmod 700 "$SECRETS_DIR") ||
      die "cannot create $SECRETS_DIR"
    pw="$(head -c 48 /dev/urandom | base64 -w0)"
    pw="${pw//[^A-Za-z0-9]/}"
    (umask 077 && printf '%s' "${pw:0:24}" >"$file") || die "cannot write $file"
  fi
  cat "$file"
}

# psql_quote TEXT -> TEXT as one single-quoted argument of a psql meta-command.
psql_quote() {
  local t="${1//\\/\\\\}"
  printf "'%s'" "${t//\'/\'\'}"
}

# write_secrets -> (re)writes pgpass and connect.properties from the two passwords, owner-only.
write_secrets() {
  local app debezium
  app="$(password app)"
  debezium="$(password debezium)"
  (
    umask 077
    printf '127.0.0.1:%s:*:app:%s\n127.0.0.1:%s:*:debezium:%s\n' "$PGPORT" "$app" "$PGPORT" "$debezium" >"$SECRETS_DIR/pgpass"
    printf 'debezium.password=%s\n' "$debezium" >"$SECRETS_DIR/connect.properties"
  ) || die "cannot write the secrets in $SECRETS_DIR"
  chmod 600 "$SECRETS_DIR"/* || die "cannot restrict the secrets in $SECRETS_DIR to their owner"
}

# Who runs what: the local store is skipped when MONGODB_URI points elsewhere, Kafka likewise
# when KAFKA_BOOTSTRAP does.
kafka_is_local() { [ "$KAFKA_BOOTSTRAP" = "$LOCAL_KAFKA" ]; }
mongodb_is_local() { [ "$MONGODB_URI" = "$LOCAL_MONGODB_URI" ]; }

# Messages are tagged with LOG_TAG: [stack] here, [demo] in scripts/demo; die exits with
# DIE_STATUS (1 here; 2 in scripts/demo, where 1 means a failed verification).
LOG_TAG="${LOG_TAG:-stack}"
log() { printf '[%s] %s\n' "$LOG_TAG" "$*" >&2; }
# The scripts' --help: every line of the running script marked "#/" (its header), without the
# mark. A marked block, not line numbers, so a help text is never cut off or padded with code.
script_help() { sed -n 's@^#/ \{0,1\}@@p' "$0"; }
# The event-processor settings a benchmark may set (NAME=N), and the run's own (TXN_SIZE=N).
PROCESSOR_SETTINGS="IN_FLIGHT STORE_WRITERS BATCH_SIZE FETCH_WAIT_MS FETCH_QUEUE_KB EARLY_JOINS"
# check_processor_settings NAME VALUE -> dies unless VALUE (a benchmark's OLD or NEW) is a list of
# event-processor settings: IN_FLIGHT=N, STORE_WRITERS=N, BATCH_SIZE=N, FETCH_WAIT_MS=N,
# FETCH_QUEUE_KB=N or EARLY_JOINS=0|1.
check_processor_settings() { check_settings_of "$PROCESSOR_SETTINGS" "$1" "$2" "the event-processor settings"; }
# check_run_settings NAME VALUE [ALSO] -> dies unless VALUE is a list of a run's settings: TXN_SIZE=N
# (the generator's events per transaction) or the processor's; the message names ALSO too when
# the caller accepts more (the stack's settings).
check_run_settings() { check_settings_of "TXN_SIZE $PROCESSOR_SETTINGS" "$1" "$2" "a run's settings" "${3:-}"; }
# check_settings_of NAMES NAME VALUE WHAT [ALSO] -> dies unless each word of VALUE is one of
# NAMES=N (TXN_SIZE at least 1), naming WHAT they are (and ALSO, what else the caller takes)
check_settings_of() {
  local setting
  for setting in $3; do
    [[ "$setting" =~ ^([A-Z_]+)=[0-9]+$ && " $1 " == *" ${setting%%=*} "* && "$setting" != TXN_SIZE=0* ]] ||
      die "$2: '$setting' is none of $4 ($(sed 's/\([A-Z_]*\)/\1=N/g; s/ /, /g' <<<"$1"))${5:+ or $5}"
  done
}
# The two binaries, as build_binaries builds them.
PROCESSOR_BIN="$REPO_ROOT/target/release/event-processor"
VERIFIER_BIN="$REPO_ROOT/target/release/verifier"
# build_binaries -> event-processor and verifier built (release) when missing or out of date;
# cargo does nothing when they are current. The whole workspace is built, with the features of
# every member, so that these are the very binaries `cargo test --release --workspace` built and
# tested (building only the two packages leaves out datagen's features, e.g. rand's chacha,
# and rebuilds the store client and both binaries). Skipped when DEMO_BINARIES_BUILT=1:
# full_demo.sh sets it once setup.sh has built them.
build_binaries() {
  [ "${DEMO_BINARIES_BUILT:-}" != 1 ] || return 0
  if [ ! -x "$PROCESSOR_BIN" ] || [ ! -x "$VERIFIER_BIN" ]; then
    log "building event-processor and verifier (release; a few minutes the first time)"
  fi
  (cd "$REPO_ROOT" && cargo build --release -q --workspace) ||
    die "building event-processor and verifier failed (cargo build --release --workspace)"
}

# start_daemon PART LOGFILE CMD... -> starts CMD detached from this shell (it outlives the
# script) and records its pid in .stack/run/PART.pid, and the settings it reads in PART.settings
# (stack/settings.sh).
start_daemon() {
  local part="$1" logfile="$2"
  shift 2
  printf '\n===== %s: starting %s =====\n' "$(date -Is)" "$part" >>"$logfile"
  setsid "$@" >>"$logfile" 2>&1 </dev/null &
  echo $! >"$RUN_DIR/$part.pid"
  record_part_settings "$part"
}

# The pipeline stack/up.sh runs beside the services (STACK_PIPELINE=off: none): event-processor
# in its group, and verifier serve following every run, its reports in VERIFIER_RUNS (default
# .stack/verifier/runs).
STACK_PIPELINE="${STACK_PIPELINE:-on}"
STACK_PROCESSOR_ADDR=127.0.0.1:9101
STACK_VERIFIER_ADDR=127.0.0.1:9102
VERIFIER_RUNS="${VERIFIER_RUNS:-$STACK_DIR/verifier/runs}"
processor_healthy() {
  pid_of processor >/dev/null &&
    curl -fsS --max-time 2 "http://$STACK_PROCESSOR_ADDR/metrics" 2>/dev/null | grep -Eq '^processor_assigned_partitions [1-9]'
}
verifier_healthy() { pid_of verifier >/dev/null && curl -fsS --max-time 2 "http://$STACK_VERIFIER_ADDR/api/health" >/dev/null 2>&1; }

# pipeline_part_up PART ADDR CHECK CMD... -> PART running and CHECK passing: CMD started unless
# PART's pid runs; refused while another process holds ADDR.
pipeline_part_up() {
  local part="$1" addr="$2" check="$3"
  shift 3
  "$check" && return
  if ! pid_of "$part" >/dev/null; then
    port_open "$addr" &&
      die "$addr is taken by another process ($part's address): stop it, or start the stack with STACK_PIPELINE=off"
    log "$part: starting on $addr"
    start_daemon "$part" "$LOG_DIR/$part.log" "$@"
  fi
  wait_for "$part" 90 "$LOG_DIR/$part.log" "$check"
}

# processor_up -> the stack's event-processor running and holding partitions of its group.
processor_up() {
  pipeline_part_up processor "$STACK_PROCESSOR_ADDR" processor_healthy \
    env -u METRICS_FILE -u READY_FILE LOG_LEVEL=INFO METRICS_ADDR="$STACK_PROCESSOR_ADDR" \
    PROCESSOR_GROUP=event-processor-group "$PROCESSOR_BIN"
}

# verifier_up -> the stack's verifier serve running and answering, its runs in VERIFIER_RUNS.
# VERIFIER_ALLOW_START=1: runs may be started from its page, with the token it writes into
# .stack/secrets/verifier.token.
verifier_up() {
  local allow_start=()
  [ "${VERIFIER_ALLOW_START:-0}" = 0 ] || allow_start=(--allow-start --token-file "$SECRETS_DIR/verifier.token")
  mkdir -p "$VERIFIER_RUNS"
  restart_if_settings_changed verifier
  [ "$VERIFIER_BINARY" = built ] || log "verifier: running $VERIFIER_BINARY (VERIFIER_BINARY), not the workspace's build"
  pipeline_part_up verifier "$STACK_VERIFIER_ADDR" verifier_healthy \
    env -u VERIFIER_READY_FILE -u VERIFIER_ALLOW_START LOG_LEVEL=INFO "$(verifier_binary)" serve \
    --listen "$STACK_VERIFIER_ADDR" --runs-dir "$VERIFIER_RUNS" "${allow_start[@]}"
}

# pause_stack_processor -> when stack/up.sh's event-processor runs, stops it until
# resume_stack_processor: a script starting its own event-processor in the same group must not
# split the group's partitions with it (nor its metrics port).
pause_stack_processor() {
  local pid
  pid="$(pid_of processor)" || return 0
  log "pausing the stack's event-processor (pid $pid) while this script runs its own in the group; it starts again at the end"
  "$STACK_SRC/down.sh" processor
  STACK_PROCESSOR_PAUSED=1
}

# resume_stack_processor -> starts the stack's event-processor again after pause_stack_processor.
resume_stack_processor() {
  [ "${STACK_PROCESSOR_PAUSED:-}" = 1 ] || return 0
  STACK_PROCESSOR_PAUSED=
  log "starting the stack's event-processor again"
  processor_up
}

# ready_addr FILE ENDPOINT -> the host:port that a binary's ready file (--ready-file: READY_FILE
# for event-processor, VERIFIER_READY_FILE for verifier watch) names for ENDPOINT (metrics,
# status); fails while the file is not there yet or names none.
ready_addr() {
  [ -f "$1" ] || return 1
  jq -er --arg e "$2" '.[$e] // empty' "$1"
}

# no_arguments "$@" -> the prologue of a script that takes no arguments: -h/--help prints its
# #/ header and exits 0; anything else dies naming the script.
no_arguments() {
  case "${1:-}" in
    -h | --help)
      script_help
      exit 0
      ;;
    "") ;;
    *) die "unknown argument '$1' (usage: $0; --help says more)" ;;
  esac
}
die() {
  printf '[%s] ERROR: %s\n' "$LOG_TAG" "$*" >&2
  exit "${DIE_STATUS:-1}"
}

# port_open HOST:PORT -> 0 when something accepts a TCP connection there.
port_open() {
  local host="${1%:*}" port="${1##*:}"
  timeout 2 bash -c "exec 3<>/dev/tcp/$host/$port" 2>/dev/null
}

# alive PID -> 0 when that process exists and is not a zombie. (A daemon killed with -9 stays a
# zombie until its parent reaps it, and `kill -0` still succeeds on a zombie.)
alive() {
  local state
  state="$(sed -E 's/^.*\) ([A-Za-z]).*$/\1/' "/proc/$1/stat" 2>/dev/null)" || return 1
  [ -n "$state" ] && [ "$state" != Z ] && [ "$state" != X ]
}

# pid_of PART -> prints the recorded pid when that process is alive.
pid_of() {
  local f="$RUN_DIR/$1.pid" pid
  [ -f "$f" ] || return 1
  pid="$(cat "$f")"
  [ -n "$pid" ] && alive "$pid" && printf '%s\n' "$pid"
}

# running_pid PART -> the pid of a running part of the stack (postgresql, kafka, connect,
# ferretdb), or a stop that names it: a benchmark never reports a part's CPU it could not read
running_pid() {
  if [ "$1" = postgresql ]; then pg_pid && return 0; else pid_of "$1" && return 0; fi
  die "$1 is not running (no pid found), so its CPU cannot be measured: start the stack with stack/up.sh"
}

# wait_until SECONDS CHECK... -> runs CHECK every second until it passes (0) or time is up (1).
wait_until() {
  local deadline=$((SECONDS + $1))
  shift
  until "$@"; do
    [ "$SECONDS" -ge "$deadline" ] && return 1
    sleep 1
  done
}

# wait_for PART SECONDS LOGFILE CHECK... -> runs CHECK every second until it passes, or fails
# with a message naming the part and its log. Gives up early when the process died.
wait_for() {
  local part="$1" secs="$2" logfile="$3"
  shift 3
  local deadline=$((SECONDS + secs))
  until "$@"; do
    if [ -f "$RUN_DIR/$part.pid" ] && ! pid_of "$part" >/dev/null; then
      tail -n 30 "$logfile" >&2 2>/dev/null
      die "$part exited while starting; see its log: $logfile"
    fi
    if [ "$SECONDS" -ge "$deadline" ]; then
      tail -n 30 "$logfile" >&2 2>/dev/null
      die "$part did not become healthy within ${secs}s; see its log: $logfile"
    fi
    sleep 1
  done
}

# Runs psql as the postgres superuser over the local socket (peer authentication).
# Runs one of Kafka's command-line tools (class name and arguments) with the stack's jars.
kafka_tool() {
  java -Xmx256m -Djava.net.preferIPv4Stack=true "-Dlog4j2.configurationFile=$STACK_SRC/config/log4j2-tools.properties" \
    -cp "$KAFKA_LIB/*" "$@"
}

pg_admin() {
  sudo -u postgres -H PGOPTIONS="-c client_min_messages=warning" \
    psql -X -q -v ON_ERROR_STOP=1 -p "$PGPORT" "$@"
}

pg_log_file() { printf '/var/log/postgresql/postgresql-%s-%s.log\n' "$PG_MAJOR" "$PG_CLUSTER"; }
pg_data_dir() { printf '/var/lib/postgresql/%s/%s\n' "$PG_MAJOR" "$PG_CLUSTER"; }

# The postmaster's pid, from its pid file, when it runs.
pg_pid() {
  local f
  f="$(pg_data_dir)/postmaster.pid"
  [ -f "$f" ] || return 1
  local pid
  pid="$(head -n 1 "$f")"
  alive "$pid" && printf '%s\n' "$pid"
}

# Health checks, one per part; each is quiet and returns 0 when healthy.
pg_healthy() { "$PG_BIN/pg_isready" -q -h 127.0.0.1 -p "$PGPORT" -t 2; }

# kafka_node_healthy PART ADDR -> that broker's process runs and its port answers.
kafka_node_healthy() { pid_of "$1" >/dev/null && port_open "$2"; }

# Healthy: every broker of the profile runs and answers.
kafka_healthy() {
  if ! kafka_is_local; then
    port_open "${KAFKA_BOOTSTRAP%%,*}"
    return
  fi
  if ! cluster_profile; then
    kafka_node_healthy kafka "$LOCAL_KAFKA"
    return
  fi
  local n
  for n in "${KAFKA_NODES[@]}"; do
    kafka_node_healthy "kafka-$n" "$(broker_addr "$n")" || return 1
  done
}

# The connector's replication slot is attached (Debezium is streaming).
slot_active() {
  [ "$(pg_admin -d app -tAc "SELECT active FROM pg_replication_slots WHERE slot_name = '$SLOT_NAME'" 2>/dev/null)" = t ]
}

# Healthy means the connector captures: it and its task are RUNNING and its slot is active.
connect_healthy() { connect_running && slot_active; }

# connector_status -> the connector's status (JSON) from the first worker of the profile that
# runs and answers.
connector_status() {
  local part addr
  for part in $(connect_parts); do
    pid_of "$part" >/dev/null || continue
    if cluster_profile; then addr="$(worker_addr "${part#connect-}")"; else addr="$CONNECT_ADDR"; fi
    curl -fsS --max-time 3 "http://$addr/connectors/$CONNECTOR_NAME/status" 2>/dev/null && return 0
  done
  return 1
}

# worker_answers W -> Connect worker W (cluster profile) runs and its REST API answers.
worker_answers() { pid_of "connect-$1" >/dev/null && curl -fsS --max-time 3 "http://$(worker_addr "$1")/" >/dev/null 2>&1; }

# A worker's REST answers and the connector and its task are RUNNING.
connect_running() {
  local body states
  body="$(connector_status)" || return 1
  states="$(printf '%s' "$body" | grep -o '"state":"[A-Z_]*"' | sort | uniq -c)"
  # exactly one distinct state, RUNNING, seen for the connector and at least one task
  [ "$(printf '%s\n' "$states" | wc -l)" -eq 1 ] &&
    printf '%s' "$states" | grep '"state":"RUNNING"' >/dev/null &&
    [ "$(printf '%s' "$states" | awk '{print $1}')" -ge 2 ]
}

ferretdb_healthy() {
  if mongodb_is_local; then
    pid_of ferretdb >/dev/null && port_open "$FERRETDB_ADDR"
  else
    local hostport
    hostport="$(printf '%s' "$MONGODB_URI" | sed -E 's#^mongodb(\+srv)?://([^@/]*@)?([^/,?]+).*#\3#')"
    case "$hostport" in *:*) ;; *) hostport="$hostport:27017" ;; esac
    port_open "$hostport"
  fi
}

# Renders a config template from stack/config into .stack/conf (as DEST when given), replacing
# @NAME@ with $NAME; the folder and the file are readable by their owner only.
render() {
  local src="$STACK_SRC/config/$1" dst="$CONF_DIR/${2:-$1}" name
  (umask 077 && mkdir -p "$CONF_DIR") || die "cannot create $CONF_DIR"
  chmod 700 "$CONF_DIR" || die "cannot restrict $CONF_DIR to its owner"
  local content
  content="$(cat "$src")"
  for name in STACK_DIR DATA_DIR LOG_DIR CONNECT_PLUGIN_PATH SECRETS_DIR KAFKA_BOOTSTRAP PGPORT CDC_TOPIC \
    CONNECTOR_NAME SLOT_NAME NODE_ID BROKER_PORT CONTROLLER_PORT QUORUM_VOTERS WORKER_PORT \
    DEBEZIUM_POLL_MS DEBEZIUM_SSLMODE KAFKA_NETWORK_THREADS KAFKA_IO_THREADS; do
    content="${content//@$name@/${!name:-}}"
  done
  (umask 077 && printf '%s\n' "$content" >"$dst") || die "cannot write $dst"
  chmod 600 "$dst" || die "cannot restrict $dst to its owner"
  printf '%s\n' "$dst"
}

# connector_config_json -> the connector's config as Connect's REST API takes it (PUT
# /connectors/NAME/config): debezium-outbox.properties rendered, as one JSON object. Its password
# stays the ${file:…} placeholder the worker resolves.
connector_config_json() {
  jq -Rn '[inputs | select(test("^[^#].*=")) | capture("^(?<key>[^=]+)=(?<value>.*)$")] | from_entries' \
    <"$(render debezium-outbox.properties)"
}

# cargo_pgrx ARGS... -> `cargo pgrx ARGS...` in pg_extension/, without the rustflags cargo-pgrx
# would add to every crate (pg_extension/build.rs passes its link flag to the shared library
# alone, so that the pgrx tests and the installed build share their dependencies).
cargo_pgrx() {
  (cd "$REPO_ROOT/pg_extension" && CARGO_PGRX_DISABLE_GC_SECTIONS_WORKAROUND=1 cargo pgrx "$@")
}

# ensure_extension -> the outbox_demo extension in database app matches the installed build:
# created when missing, updated when a newer version is installed, and created again when the
# installed script changed under the same version (a development build; its run manifest is
# emptied, the events in the outbox stay). Grants role app what demo_* need.
ensure_extension() {
  local default installed script hash recorded
  default="$(pg_admin -d app -tAc "SELECT default_version FROM pg_available_extensions WHERE name = 'outbox_demo'")"
  if [ -z "$default" ]; then
    log "postgresql: extension outbox_demo is not built yet (stack/install.sh builds it); skipped"
    return 0
  fi
  script="$("$PG_CONFIG" --sharedir)/extension/outbox_demo--$default.sql"
  # A failed or interrupted `cargo pgrx test` leaves its test build installed (its script also
  # creates schemas tests and activity): put the release build back before using it.
  if grep -q 'outbox_demo::tests' "$script"; then
    log "postgresql: the installed outbox_demo is a pgrx test build (left by a failed or interrupted cargo pgrx test): installing the release build"
    cargo_pgrx install --release --pg-config "$PG_CONFIG" >"$LOG_DIR/extension-install.log" 2>&1 ||
      die "building or installing the extension failed; see $LOG_DIR/extension-install.log"
    if grep -q 'outbox_demo::tests' "$script"; then
      die "$script is still a test build after cargo pgrx install --release"
    fi
  fi
  # pgrx's script carries source locations in comments and no stable order: hash the sorted
  # set of its SQL lines, which changes only when the SQL does
  hash="$(grep -vE '^[[:space:]]*(--|/\*|\*/)' "$script" | sort | sha256sum | cut -c1-16)"
  installed="$(pg_admin -d app -tAc "SELECT extversion FROM pg_extension WHERE extname = 'outbox_demo'")"
  recorded="$(pg_admin -d app -tAc "SELECT obj_description(oid, 'pg_extension') FROM pg_extension WHERE extname = 'outbox_demo'" | sed -n 's/.*script \([0-9a-f]*\).*/\1/p')"
  if [ "$installed" = "$default" ] && [ "$recorded" = "$hash" ]; then
    return 0
  fi
  if [ "$installed" = "$default" ]; then
    log "postgresql: outbox_demo $default's SQL changed without a version bump: creating it again (run manifest emptied; events kept)"
    pg_admin -d app -c "DROP EXTENSION outbox_demo CASCADE" >/dev/null
  fi
  pg_admin -d app >/dev/null <<SQL || die "creating or updating extension outbox_demo in database app failed"
CREATE EXTENSION IF NOT EXISTS outbox_demo;
ALTER EXTENSION outbox_demo UPDATE;
COMMENT ON EXTENSION outbox_demo IS 'Writes realistic outbox events into activity.event_outbox (script $hash)';
GRANT INSERT, UPDATE, DELETE ON outbox_demo.runs TO app;
SQL
}

# Dies naming the first of the given parts (postgresql kafka connect ferretdb) that is not
# healthy, with its address and how to start it: for scripts that need the stack running.
require_up() {
  local part
  for part in "$@"; do
    case "$part" in
      postgresql) pg_healthy || die "PostgreSQL at $PG_ADDR is not up: run stack/up.sh" ;;
      kafka) kafka_healthy || die "Kafka at $KAFKA_BOOTSTRAP is not up: run stack/up.sh" ;;
      connect) connect_healthy || die "Kafka Connect (Debezium) at $CONNECT_ADDR is not capturing: run stack/up.sh" ;;
      ferretdb) ferretdb_healthy || die "the store at $MONGODB_URI is not up: run stack/up.sh" ;;
      *) die "require_up: unknown part '$part'" ;;
    esac
  done
}

# The example Python consumer's venv (stack/install.sh fills it from
# examples/python-consumer/requirements.txt).
PY_CONSUMER_VENV="$STACK_DIR/venv-python-consumer"

# The Python environment of the benchmarks' helper scripts, .stack/venv: installs the pinned
# PACKAGEs when `import MODULES` fails there. Prints the interpreter's path.
# Usage: PY="$(bench_venv 'confluent_kafka, pymongo' 'confluent-kafka==2.16.1' 'pymongo==4.20.1')"
bench_venv() {
  local venv="$STACK_DIR/venv" modules="$1"
  shift
  if ! "$venv/bin/python" -c "import $modules" 2>/dev/null; then
    log "bench: installing $* into $venv"
    [ -x "$venv/bin/python" ] || python3 -m venv "$venv"
    "$venv/bin/pip" install -q "$@" >&2
  fi
  printf '%s\n' "$venv/bin/python"
}

# The stack's settings (stack/settings.sh): read here, so every script sees the recorded ones.
# shellcheck source=stack/settings.sh
source "$STACK_SRC/settings.sh"

# ferretdb_go_build OUT -> FerretDB built into OUT from the vendored source in the current folder
# (stack/install.sh's build, and bench/ferretdb_patch.sh's without one patch)
ferretdb_go_build() { go build -mod=vendor -trimpath -o "$1" github.com/FerretDB/FerretDB/cmd/ferretdb; }
# ferretdb_patch_dir PATCH -> the folder, inside the build folder, that PATCH applies in with
# patch -p1: FerretDB's module, or the build folder itself (.) for a patch to another vendored
# module, whose paths start with vendor/ (0006, to the SQLite driver)
ferretdb_patch_dir() { if grep -q '^+++ b/vendor/' "$1"; then echo .; else echo "$FERRETDB_MODULE"; fi; }
