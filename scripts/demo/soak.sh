#!/usr/bin/env bash
#/ A soak: steady load for DURATION with a fault every FAULT_EVERY, every event verified by the
#/ daemon (verifier serve), then a report on the whole soak: nothing lost or applied twice,
#/ every fault recovered, and the memory of the daemon and the processor flat (their anonymous
#/ memory: what they allocated, not the pages of their code).
#/
#/ The load is consecutive rate runs of WINDOW_S seconds (CALL demo_run, back to back), not one
#/ long run: each run is accounted for and its memory given back as the soak goes on (so the
#/ daemon's memory is flat when nothing leaks, and the leak rule can judge it), a fault that
#/ ends a session (postgres-restart) ends one window and the next one starts, and each window
#/ has its own report. The consumer is event-processor under supervision
#/ (scripts/demo/fault_processor.sh: restarted when it dies) in the stack's group and database,
#/ the stack's own event-processor paused meanwhile. The daemon is the stack's when it runs
#/ (stack/up.sh), else one of the soak's own on 127.0.0.1:9104.
#/
#/ Faults rotate through FAULTS, one every FAULT_EVERY (the first after FAULT_EVERY), with the
#/ injections of scripts/demo/faults.sh; the last one at least SETTLE before the load ends, so
#/ the load goes on after it. Then the runs drain, for DRAIN_S at most; integrity is judged
#/ whether the drain finished or not (events still on their way are counted pending, never
#/ lost, and fail the soak). Sampled meanwhile: each second the backlog (the oldest event on its
#/ way, from the daemon: a fault has recovered when it is younger than 1 s again), every
#/ SAMPLE_S the RSS (and its anonymous part) and CPU of the daemon, the processor and each
#/ service, the heap in use of the daemon and the processor (their /metrics), and the disk held
#/ by the WAL (the slot's lag), Kafka's logs and the store.
#/
#/ Writes SOAK_DIR (default .stack/soak/<time>, .stack/soak/latest points to it): meta.json,
#/ fault.jsonl, backlog.jsonl, resources.jsonl, runs/run-N/ (each window's report), and then
#/ `verifier soak-report`'s soak.json, soak.txt and soak.html; prints soak.txt. Exit 0: pass;
#/ 1: failed (soak.txt says why); 2: bad input or the stack is not up.
#/
#/ Environment:
#/   DURATION     how long the load runs: 90s, 10m, 1h or seconds            default 1h
#/   RATE         events/s; default half the last capacity answer (.stack/capacity/latest,
#/                scripts/demo/capacity.sh), else 200
#/   FAULT_EVERY  time between faults (as DURATION)                            default 5m
#/   FAULTS       the rotation (faults.sh's scenario names, space-separated), or none; default
#/                processor-kill store-pause connect-kill broker-kill postgres-restart
#/                store-kill connect-pause processor-restart, and broker-failover
#/                connect-failover on the cluster profile
#/   WINDOW_S     seconds of each rate run                                     default 60
#/   SETTLE       load after the last fault (as DURATION)                      default 60s
#/   DRAIN_S      seconds the runs may take to be accounted for after the load  default 300
#/   SAMPLE_S     seconds between resource samples                             default 5
#/   DROP_EVERY   the consumer drops every Nth event (to watch a soak fail): runs the example
#/                Python consumer instead of event-processor, its metrics file the receipts
#/   SOAK_DIR     where the soak's files go
#/
#/ Usage: scripts/demo/soak.sh        e.g. DURATION=10m FAULT_EVERY=2m scripts/demo/soak.sh
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
source "$(dirname "${BASH_SOURCE[0]}")/fault_lib.sh"
no_arguments "$@"

# seconds TEXT NAME -> TEXT (90, 90s, 10m, 1h) in seconds, or dies naming NAME.
seconds() {
  [[ "$1" =~ ^([1-9][0-9]*)(s|m|h)?$ ]] || die "$2 must be a duration such as 90s, 10m or 1h (got '$1')"
  case "${BASH_REMATCH[2]}" in
    h) echo $((BASH_REMATCH[1] * 3600)) ;;
    m) echo $((BASH_REMATCH[1] * 60)) ;;
    *) echo "${BASH_REMATCH[1]}" ;;
  esac
}
duration_s="$(seconds "${DURATION:-1h}" DURATION)"
fault_every_s="$(seconds "${FAULT_EVERY:-5m}" FAULT_EVERY)"
settle_s="$(seconds "${SETTLE:-60s}" SETTLE)"
WINDOW_S="${WINDOW_S:-60}" DRAIN_S="${DRAIN_S:-300}" SAMPLE_S="${SAMPLE_S:-5}"
for v in WINDOW_S DRAIN_S SAMPLE_S; do
  [[ "${!v}" =~ ^[1-9][0-9]*$ ]] || die "$v must be a positive whole number of seconds (got '${!v}')"
done
if [ -z "${RATE:-}" ]; then
  found="$(jq -r '.max_sustainable // empty' "$STACK_DIR/capacity/latest/capacity.json" 2>/dev/null)" || found=""
  RATE=$((${found:-400} / 2))
  log "RATE: $RATE events/s ($([ -n "$found" ] && echo "half the last capacity answer, $found/s" || echo "no capacity answer in $STACK_DIR/capacity: the default"))"
fi
[[ "$RATE" =~ ^[1-9][0-9]*$ ]] || die "RATE must be a positive whole number of events/s (got '$RATE')"
rotation=(processor-kill store-pause connect-kill broker-kill postgres-restart store-kill connect-pause processor-restart)
if cluster_profile; then rotation+=(broker-failover connect-failover); fi
if [ "${FAULTS:-}" = none ]; then
  rotation=()
elif [ -n "${FAULTS:-}" ]; then
  read -r -a wanted <<<"$FAULTS"
  for f in "${wanted[@]}"; do
    [[ " ${rotation[*]} " == *" $f "* ]] || die "FAULTS: '$f' is not a scenario of this profile ($STACK_PROFILE): ${rotation[*]}, or none"
  done
  rotation=("${wanted[@]}")
fi
[ "${#rotation[@]}" -eq 0 ] || [ "$fault_every_s" -lt "$duration_s" ] ||
  die "FAULT_EVERY ($fault_every_s s) must be shorter than DURATION ($duration_s s), or FAULTS=none"
consumer=event-processor
if [ -n "${DROP_EVERY:-}" ]; then
  [[ "$DROP_EVERY" =~ ^[1-9][0-9]*$ ]] || die "DROP_EVERY must be a positive whole number (got '$DROP_EVERY')"
  [ -x "$PY_CONSUMER_VENV/bin/python" ] || die "the Python consumer's venv is missing ($PY_CONSUMER_VENV): run stack/install.sh"
  consumer=python
fi

require_stack
require_no_demo_run
build_binaries
SOAK_DIR="${SOAK_DIR:-$STACK_DIR/soak/$(date +%Y%m%d-%H%M%S)}"
mkdir -p "$SOAK_DIR/runs" "$SOAK_DIR/logs"
[ "$(dirname "$SOAK_DIR")" != "$STACK_DIR/soak" ] || ln -sfn "$(basename "$SOAK_DIR")" "$STACK_DIR/soak/latest"
dir="$SOAK_DIR/logs" FAULT_LOG="$SOAK_DIR/fault.jsonl" pid_file="$SOAK_DIR/processor.pids"
STACK_MONGODB_URI="$MONGODB_URI"
: >"$FAULT_LOG"
: >"$pid_file"

paused_pid="" supervisor_pid="" daemon_pid="" sampler_pid="" load_pid=""
# One way out: a paused part resumed; the load, the sampler, the consumer and the soak's own
# daemon stopped; the stack's event-processor started again.
# shellcheck disable=SC2317 # called by the EXIT trap
finish() {
  if [ -n "$paused_pid" ] && kill -CONT "$paused_pid" 2>/dev/null; then log "resumed pid $paused_pid"; fi
  local p
  for p in "$load_pid" "$sampler_pid" "$supervisor_pid" "$daemon_pid"; do
    if [ -n "$p" ] && kill -TERM "$p" 2>/dev/null; then wait "$p" || log "pid $p exited $? when stopped"; fi
  done
  resume_stack_processor
}
trap finish EXIT
trap 'exit 130' INT TERM HUP

# ---- the consumer, under supervision, in the stack's group and database
pause_stack_processor
metrics_addr=127.0.0.1:9105 receipts=processed-events
ready="curl -fsS --max-time 2 http://$metrics_addr/metrics 2>/dev/null | grep -Eq '^processor_assigned_partitions [1-9]'"
supervised=""
if [ "$consumer" = python ]; then
  metrics_file="$SOAK_DIR/consumer-metrics.jsonl"
  supervised="DROP_EVERY='$DROP_EVERY' METRICS_FILE='$metrics_file' CONSUMER_GROUP='${PROCESSOR_GROUP:-event-processor-group}' READY_FILE='$SOAK_DIR/consumer.ready' exec '$PY_CONSUMER_VENV/bin/python' '$REPO_ROOT/examples/python-consumer/consumer.py'"
  receipts="metrics-file:$metrics_file" ready="test -f '$SOAK_DIR/consumer.ready'"
fi
PID_FILE="$pid_file" METRICS_ADDR="$metrics_addr" LOG_LEVEL=WARNING SUPERVISED_CMD="$supervised" \
  "$REPO_ROOT/scripts/demo/fault_processor.sh" 2>"$dir/consumer.log" &
supervisor_pid=$!
# shellcheck disable=SC2317 # called by wait_until
consumer_ready() { kill -0 "$supervisor_pid" 2>/dev/null && bash -c "$ready"; }
wait_until 120 consumer_ready || die "the consumer ($consumer) was not ready within 120 s; see $dir/consumer.log"
log "consumer: $consumer (pid $(processor_pid)), supervised"

# ---- the daemon: the stack's, or the soak's own
if [ "$consumer" = event-processor ] && verifier_healthy; then
  daemon_addr="$STACK_VERIFIER_ADDR" daemon_runs="$VERIFIER_RUNS" own_daemon=0
  log "daemon: the stack's, http://$daemon_addr/ (pid $(pid_of verifier))"
else
  daemon_addr=127.0.0.1:9104 daemon_runs="$SOAK_DIR/runs" own_daemon=1
  RECEIPTS="$receipts" "$VERIFIER_BIN" --log-level WARNING serve --listen "$daemon_addr" --runs-dir "$daemon_runs" \
    2>"$dir/daemon.log" &
  daemon_pid=$!
  # shellcheck disable=SC2317 # called by wait_until
  daemon_up() { kill -0 "$daemon_pid" 2>/dev/null && curl -fsS --max-time 2 "http://$daemon_addr/api/health" >/dev/null 2>&1; }
  wait_until 60 daemon_up || die "verifier serve did not answer on $daemon_addr within 60 s; see $dir/daemon.log"
  log "daemon: the soak's own, http://$daemon_addr/ (pid $daemon_pid)"
fi
daemon_pid_now() { if [ "$own_daemon" = 1 ]; then echo "$daemon_pid"; else pid_of verifier; fi; }

# ---- the samplers
api() { curl -fsS --max-time 2 "http://$daemon_addr$1"; }
# backlog -> one line of backlog.jsonl: the oldest event on its way over the runs being
# followed (null: none on its way), and how many of the soak's runs the daemon neither
# follows nor has finished (one it could not start following while a part was down: what is on
# its way there is not known, so no fault has recovered while there is one); nothing when the
# daemon or PostgreSQL does not answer (no guess).
backlog() {
  local at rows runs oldest="null" id newest unfollowed
  at="$(date +%s%6N)"
  rows="$(api /api/runs)" || return 0
  runs="$(jq -r '.[] | select(.state == "following") | .run_id' <<<"$rows")" || return 0
  newest="$(app_sql "SELECT coalesce(max(run_id), 0) FROM outbox_demo.runs" 2>/dev/null)" || return 0
  unfollowed="$(jq --argjson from "$first_run" --argjson to "$newest" '[range($from; $to + 1)] - map(.run_id) | length' <<<"$rows")" || return 0
  local reply code
  for id in $runs; do
    reply="$(curl -sS --max-time 2 -w '\n%{http_code}' "http://$daemon_addr/api/runs/$id")" || return 0
    code="${reply##*$'\n'}"
    # 404: the run ended between the two calls, so nothing of it is on its way
    [ "$code" != 404 ] || continue
    [ "$code" = 200 ] || return 0
    oldest="$(printf '%s' "${reply%$'\n'*}" | jq --argjson o "$oldest" '[$o, .backlog.oldest_unmatched_s] | map(select(. != null)) | max')" || return 0
  done
  printf '{"at_us": %s, "oldest_s": %s, "unfollowed": %s}\n' "$at" "$oldest" "$unfollowed"
}
# heap_of ADDR PREFIX -> the heap in use its /metrics gives (PREFIX_heap_in_use_bytes), or
# nothing when it does not answer or does not know.
heap_of() {
  curl -fsS --max-time 2 "http://$1/metrics" 2>/dev/null | awk -v n="$2_heap_in_use_bytes" '$1 == n {printf "%.0f\n", $2}'
}
# [HEAP=BYTES] part_json NAME PID... -> "NAME": {"rss_bytes", "cpu_s", "pid"[, "anon_bytes"]
# [, "heap_bytes"]} summed over the pids, the first one named (nothing for a part with no pid
# running; a new pid is a restart). Memory is VmRSS for one process, and its anonymous part
# (RssAnon: what it allocated, not the pages of its code and libraries); over several
# (PostgreSQL's) it is their PSS, so that the shared buffers count once. HEAP: the heap in use,
# for the tool's own parts.
part_json() {
  local name="$1" mem=0 ticks=0 pid n=0 field=VmRSS file=status first="" anon=""
  shift
  [ "$#" -le 1 ] || field=Pss file=smaps_rollup
  for pid in "$@"; do
    # (an empty pid would read /proc/stat, the machine's)
    if ! [[ "$pid" =~ ^[0-9]+$ ]] || ! [ -r "/proc/$pid/stat" ]; then continue; fi
    mem=$((mem + $(awk -v f="$field:" '$1 == f {printf "%.0f\n", $2 * 1024}' "/proc/$pid/$file" 2>/dev/null || echo 0)))
    ticks=$((ticks + $(awk '{printf "%.0f\n", $14 + $15}' "/proc/$pid/stat" 2>/dev/null || echo 0)))
    n=$((n + 1))
    first="${first:-$pid}"
  done
  [ "$n" -gt 0 ] || return 0
  [ "$n" -gt 1 ] || anon="$(awk '$1 == "RssAnon:" {printf "%.0f\n", $2 * 1024}' "/proc/$first/status" 2>/dev/null)" || anon=""
  printf '"%s": {"rss_bytes": %s, "cpu_s": %s, "pid": %s%s%s}\n' "$name" "$mem" "$(awk -v t="$ticks" -v hz="$(getconf CLK_TCK)" 'BEGIN {printf "%.2f", t / hz}')" "$first" \
    "${anon:+, \"anon_bytes\": $anon}" "${HEAP:+, \"heap_bytes\": $HEAP}"
}
kafka_parts() { if cluster_profile; then printf 'kafka-%s\n' "${KAFKA_NODES[@]}"; else echo kafka; fi; }
bytes_of() { du -sb "$@" 2>/dev/null | awk '{s += $1} END {printf "%.0f\n", s}'; }
# resources -> one line of resources.jsonl.
resources() {
  local parts=() p pg
  parts+=("$(HEAP="$(heap_of "$daemon_addr" verifier)" part_json verifier "$(daemon_pid_now)")")
  parts+=("$(HEAP="$(heap_of "$metrics_addr" processor)" part_json processor "$(processor_pid)")")
  # shellcheck disable=SC2046 # the postmaster's children, one word each
  pg="$(pg_pid)" && parts+=("$(part_json postgresql "$pg" $(pgrep -P "$pg"))")
  for p in $(kafka_parts) $(connect_parts) ferretdb; do
    # shellcheck disable=SC2046 # one pid, or none
    parts+=("$(part_json "$p" "$(pid_of "$p" 2>/dev/null)")")
  done
  local wal
  wal="$(app_sql "SELECT coalesce(max(pg_wal_lsn_diff(pg_current_wal_lsn(), confirmed_flush_lsn)), 0)::bigint FROM pg_replication_slots" 2>/dev/null)" || wal=null
  printf '{"at_us": %s, "parts": {%s}, "wal_bytes": %s, "kafka_bytes": %s, "store_bytes": %s}\n' \
    "$(date +%s%6N)" "$(printf '%s\n' "${parts[@]}" | grep -v '^$' | paste -sd, -)" "${wal:-null}" \
    "$(bytes_of "$DATA_DIR"/kafka*)" "$(bytes_of "$DATA_DIR/ferretdb")"
}
sampler() {
  local n=0
  while :; do
    backlog >>"$SOAK_DIR/backlog.jsonl"
    [ $((n % SAMPLE_S)) -ne 0 ] || resources >>"$SOAK_DIR/resources.jsonl"
    n=$((n + 1))
    nap 1
  done
}

# ---- the load: rate runs of WINDOW_S back to back until the load's end
# load UNTIL_US -> CALL demo_run for each window (the last one shorter); a window whose session
# a fault ended (postgres-restart) is judged by what it committed, and the next one starts once
# PostgreSQL answers again.
load() {
  local until_us="$1" left_s n
  while :; do
    left_s=$(((until_us - $(date +%s%6N)) / 1000000))
    [ "$left_s" -gt 0 ] || return 0
    n=$((RATE * (left_s < WINDOW_S ? left_s : WINDOW_S)))
    app_sql "CALL demo_run($n, $RATE)" >/dev/null 2>>"$dir/load.log" ||
      log "a window of $n events ended early ($(tail -n 1 "$dir/load.log")); the next one starts when PostgreSQL answers"
    wait_until 120 pg_healthy || die "PostgreSQL at $PG_ADDR did not answer for 120 s: the load stopped"
  done
}

first_run=$(($(app_sql "SELECT coalesce(max(run_id), 0) FROM outbox_demo.runs") + 1))
started_us="$(date +%s%6N)"
load_end_us=$((started_us + duration_s * 1000000))
log "soak: $RATE events/s for $duration_s s in runs of $WINDOW_S s from run $first_run; $(
  [ "${#rotation[@]}" -eq 0 ] && echo "no fault" || echo "a fault every $fault_every_s s: ${rotation[*]}"
); $SOAK_DIR"
sampler &
sampler_pid=$!
load "$load_end_us" &
load_pid=$!

# ---- the faults, one every FAULT_EVERY, the last at least SETTLE before the load ends
# inject SCENARIO -> the fault now, and its healing.
inject() {
  local before target
  case "$1" in
    processor-kill | processor-restart)
      before="$(processor_pid)"
      if [ "$1" = processor-kill ]; then kill -KILL "$before"; else kill -TERM "$before"; fi
      fault_line "$1" start
      restarted "$before" "$1"
      ;;
    connect-kill) target="$(part_of task_worker "$1")" && kill_part "$target" 0 "$1" ;;
    connect-pause) target="$(part_of task_worker "$1")" && pause "$target" 15 "$1" ;;
    broker-kill) target="$(part_of leader_part "$1")" && kill_part "$target" 5 "$1" ;;
    broker-failover) target="$(part_of leader_part "$1")" && failover "$target" "$1" new_leaders "nap 30" ;;
    connect-failover) target="$(part_of task_worker "$1")" && failover "$target" "$1" task_moved "nap 30" ;;
    store-kill) kill_part ferretdb 0 "$1" ;;
    store-pause) pause ferretdb 10 "$1" ;;
    postgres-restart) restart_postgres "$1" ;;
  esac
}
k=0
while [ "${#rotation[@]}" -gt 0 ]; do
  due_us=$((started_us + (k + 1) * fault_every_s * 1000000))
  [ $((due_us + settle_s * 1000000)) -le "$load_end_us" ] || break
  now_us="$(date +%s%6N)"
  [ "$now_us" -ge "$due_us" ] || nap "$(((due_us - now_us) / 1000000)).$(printf '%06d' $(((due_us - now_us) % 1000000)))"
  scenario="${rotation[$((k % ${#rotation[@]}))]}"
  if ! stack_answers; then
    log "$scenario: waiting until every part of the stack is healthy again"
    wait_until 180 stack_answers || die "$scenario: the stack is not healthy within 180 s of the last fault: stack/status.sh shows which part"
  fi
  inject "$scenario"
  k=$((k + 1))
done
wait "$load_pid" || die "the load stopped early (exit $?); see $dir/load.log"
load_pid=""
load_ended_us="$(date +%s%6N)"
last_run="$(app_sql "SELECT coalesce(max(run_id), 0) FROM outbox_demo.runs")"
log "the load ended: runs $first_run to $last_run; $k fault(s); draining (at most $DRAIN_S s)"

# ---- the drain, bounded; then each run's report (the daemon's, or verifier report's)
# shellcheck disable=SC2317 # called by wait_until
accounted() {
  local id
  for id in $(seq "$first_run" "$last_run"); do
    [ -f "$daemon_runs/run-$id/report.json" ] || return 1
  done
}
drained=true
wait_until "$DRAIN_S" accounted || drained=false
# the sampler ends at SIGTERM (status 143); one that stopped by itself failed (its error above)
kill -0 "$sampler_pid" 2>/dev/null || die "the sampler stopped before the soak ended: its samples are incomplete (its error is above)"
kill -TERM "$sampler_pid"
wait "$sampler_pid" || [ $? -eq 143 ] || log "the sampler exited $? when stopped"
sampler_pid=""
for id in $(seq "$first_run" "$last_run"); do
  if [ -f "$daemon_runs/run-$id/report.json" ]; then
    [ "$daemon_runs" = "$SOAK_DIR/runs" ] || cp -r "$daemon_runs/run-$id" "$SOAK_DIR/runs/"
  else
    log "run $id: not accounted for within the drain; verifier report says where its events are"
    RECEIPTS="$receipts" "$VERIFIER_BIN" --log-level ERROR report --run "$id" --idle-timeout 5 --format json \
      --out "$SOAK_DIR/runs/run-$id" >/dev/null 2>>"$dir/report.log" || log "verifier report --run $id exited $? (its verdict is in its report)"
  fi
done
jq -n --arg profile "$STACK_PROFILE" --argjson rate "$RATE" --argjson window "$WINDOW_S" \
  --argjson every "$([ "${#rotation[@]}" -eq 0 ] && echo 0 || echo "$fault_every_s")" \
  --arg faults "${rotation[*]}" --argjson started "$started_us" --argjson ended "$load_ended_us" \
  --argjson first "$first_run" --argjson last "$last_run" --argjson drain "$DRAIN_S" --argjson drained "$drained" \
  '{profile: $profile, rate: $rate, window_s: $window, fault_every_s: $every, faults: ($faults | split(" ") | map(select(. != ""))),
    started_us: $started, load_ended_us: $ended, first_run: $first, last_run: $last, drain_s: $drain, drained: $drained}' \
  >"$SOAK_DIR/meta.json"
rc=0
"$VERIFIER_BIN" soak-report "$SOAK_DIR" || rc=$?
exit "$rc"
