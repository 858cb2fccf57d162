#!/usr/bin/env bash
#/ Benchmark (not a test): the verifier following one large run through the real pipeline.
#/   demo_generate(N) in database app → Debezium → Kafka → event-processor (release, its own
#/   group and MongoDB database bench_verifier) → FerretDB, while `verifier watch` (release)
#/   follows the run from its first event to the report.
#/ Prints the verifier's peak RSS and CPU seconds (GNU time), and how long after the last event
#/ was written to MongoDB the report was ready: split into noticing that every event is
#/ accounted for, and auditing MongoDB's state (which reads every document the run touched).
#/ Targets (issue "verifier"): peak RSS <= 64 MB through a 1,000,000-event run; report <= 5 s
#/ after the last event. Ratios against them are printed.
#/
#/ The processor drains ~1,200 events/s into FerretDB on 2 cores, so N = 1,000,000 takes about
#/ 15 minutes; N = 100,000 about 1.5.
#/
#/ Usage: bench/verifier.sh [N]     default: 1000000
#/
#/ bench/verifier.sh observe: what `--receipts observe` costs the consumer, side by side in one
#/   run. event-processor (its own group and database bench_observe) takes two loads, each twice:
#/   once followed by a verifier on its receipts only (observe off), once by that verifier and a
#/   second one observing the store (observe on):
#/     rate:  CALL demo_run(R × RUN_S, R) for each R in RATES (default "500 1000": below this
#/            machine's knee, and above it), 30 s each: the consumer's end to end p50/p99 (from
#/            its receipts) and the observer's read load on the store;
#/     drain: demo_generate(DRAIN_N) in one transaction, default 20000: the consumer's
#/            throughput (first t0 to last receipt) while it drains.
#/   Prints a table and the on/off ratios. Environment: RATES, RUN_S, DRAIN_N, and OBSERVE (the
#/   observer's --receipts, default observe, i.e. a 20 ms poll; observe:100 polls every 100 ms).
#/   About 3 minutes.
#/
#/ bench/verifier.sh daemon: `verifier serve` following RUNS runs of N events one after the
#/   other (default 10 of 100000; demo_generate, event-processor on database bench_daemon), the
#/   first also followed by `verifier watch` at once. After each run's report: the daemon's RSS,
#/   its CPU seconds per 1,000 events of that run, and the time from the run's last event in
#/   MongoDB to its summary.json. Targets (issue 32): RSS after the last run within 20 % of its
#/   RSS after the first; CPU per 1,000 events no higher than watch's. About 2 minutes per
#/   100,000 events on 2 cores.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/../stack/lib.sh"

# start_bench NAME DB -> builds the binaries, empties OUT=.stack/bench/NAME and MongoDB database
# DB, and starts event-processor (processor_pid) on DB with a group of its own at the topic's
# end; it is stopped with SIGTERM on exit. Sets PY, TOOL and OUT.
start_bench() {
  PY="$(bench_venv 'confluent_kafka, pymongo' 'confluent-kafka==2.16.1' 'pymongo==4.20.1')"
  TOOL="$REPO_ROOT/bench/pipeline_tool.py"
  build_binaries
  OUT="$STACK_DIR/bench/$1"
  rm -rf "$OUT"
  mkdir -p "$OUT"
  local group
  group="bench-$1-$(date +%s)"
  "$PY" "$TOOL" drop-db "$2"
  "$PY" "$TOOL" commit-group "$group" "$CDC_TOPIC" "$("$PY" "$TOOL" ends "$CDC_TOPIC")"
  export MONGODB_URI="mongodb://127.0.0.1:27017/$2" PROCESSOR_GROUP="$group"
  METRICS_ADDR=off LOG_LEVEL=WARNING "$PROCESSOR_BIN" 2>"$OUT/processor.log" &
  processor_pid=$!
  trap 'if kill -0 "$processor_pid" 2>/dev/null; then kill -TERM "$processor_pid"; fi' EXIT
  trap 'exit 143' INT TERM
}

# ---- bench/verifier.sh observe

# watcher DIR NAME RECEIPTS -> starts `verifier watch --run next --receipts RECEIPTS` (report in
# DIR/NAME, log DIR/NAME.log) and waits until it waits for the run; appends its pid to watchers.
watcher() {
  local dir="$1" name="$2" receipts="$3"
  "$VERIFIER_BIN" --log-level INFO watch --run next --receipts "$receipts" \
    --listen 127.0.0.1:0 --ready-file "$dir/$name.ready" --idle-timeout 60 --format json --out "$dir/$name" \
    >"$dir/$name.stdout" 2>"$dir/$name.log" &
  watchers+=("$!")
  # shellcheck disable=SC2317 # called by wait_until
  waiting() {
    local addr
    addr="$(ready_addr "$dir/$name.ready" status)" && curl -fsS --max-time 2 "http://$addr/status" | grep -q '"phase":"waiting'
  }
  wait_until 60 waiting || die "the verifier ($receipts) was not waiting for the run within 60 s; see $dir/$name.log"
}

# observe_round DIR SIDE SQL -> one load (SQL, run as role app) followed on the receipts, and with
# SIDE=on by an observer too; waits for every verifier (exit 0 or 1: a report was written).
observe_round() {
  local dir="$1" side="$2" sql="$3" pid rc
  mkdir -p "$dir"
  watchers=()
  watcher "$dir" receipts processed-events
  [ "$side" = off ] || watcher "$dir" observe "${OBSERVE:-observe}"
  log "bench: $(basename "$dir"): $sql"
  PGOPTIONS="-c client_min_messages=warning" psql -X -q -v ON_ERROR_STOP=1 -h 127.0.0.1 -p "$PGPORT" \
    -U app -d app -c "$sql" >"$dir/generator.txt" 2>&1 || die "the load failed: $(cat "$dir/generator.txt")"
  for pid in "${watchers[@]}"; do
    wait "$pid" && rc=0 || rc=$?
    [ "$rc" -le 1 ] || die "a verifier exited $rc; see the logs in $dir"
  done
}

observe_bench() {
  local rates="${RATES:-500 1000}" run_s="${RUN_S:-30}" drain_n="${DRAIN_N:-20000}" rate side
  [[ "$rates" =~ ^[1-9][0-9]*( [1-9][0-9]*)*$ ]] || die "RATES must be events/s separated by spaces (got '$rates')"
  [[ "$run_s" =~ ^[1-9][0-9]*$ && "$drain_n" =~ ^[1-9][0-9]*$ ]] ||
    die "RUN_S and DRAIN_N must be positive whole numbers (got '$run_s', '$drain_n')"
  require_up postgresql kafka connect ferretdb
  start_bench verifier-observe bench_observe
  for rate in $rates; do
    for side in off on; do
      observe_round "$OUT/rate-$rate-$side" "$side" "CALL demo_run($((rate * run_s)), $rate)"
    done
  done
  for side in off on; do
    observe_round "$OUT/drain-$drain_n-$side" "$side" "SELECT run_id FROM demo_generate($drain_n)"
  done
  kill -TERM "$processor_pid"
  wait "$processor_pid" || die "event-processor exited with an error; see $OUT/processor.log"
  trap - EXIT
  # shellcheck disable=SC2086 # RATES: one argument per rate
  "$PY" "$REPO_ROOT/bench/observe_summary.py" "$OUT" "$run_s" "$drain_n" $rates
}

# ---- bench/verifier.sh daemon

# daemon_sample RUN -> appends the daemon's RSS (kB) and CPU ticks (user + system) after RUN.
daemon_sample() {
  local rss ticks
  rss="$(awk '/^VmRSS:/ { print $2 }' "/proc/$daemon_pid/status")"
  ticks="$(awk '{ print $14 + $15 }' "/proc/$daemon_pid/stat")"
  printf '%s %s %s\n' "$1" "$rss" "$ticks" >>"$OUT/samples"
}

# stop_daemon_bench -> (on exit) SIGTERM to the daemon and the processor still running.
stop_daemon_bench() {
  local pid
  for pid in "$processor_pid" "$daemon_pid"; do
    if kill -0 "$pid" 2>/dev/null; then kill -TERM "$pid"; fi
  done
}

daemon_bench() {
  local runs="${RUNS:-10}" n="${N:-100000}" i run_id watch_pid=""
  [[ "$runs" =~ ^[1-9][0-9]*$ && "$n" =~ ^[1-9][0-9]*$ ]] ||
    die "RUNS and N must be positive whole numbers (got '$runs', '$n')"
  require_up postgresql kafka connect ferretdb
  [ -x /usr/bin/time ] || die "GNU time (/usr/bin/time) is needed for watch's peak RSS: apt-get install time"
  start_bench verifier-daemon bench_daemon
  "$VERIFIER_BIN" --log-level INFO serve --listen 127.0.0.1:0 --runs-dir "$OUT/runs" \
    --ready-file "$OUT/daemon.ready" --idle-timeout 120 2>"$OUT/daemon.log" &
  daemon_pid=$!
  trap stop_daemon_bench EXIT
  wait_until 60 test -f "$OUT/daemon.ready" || die "verifier serve was not ready within 60 s; see $OUT/daemon.log"
  daemon_sample 0
  for i in $(seq 1 "$runs"); do
    run_id="$(psql -X -q -h 127.0.0.1 -p "$PGPORT" -U app -d app -tAc "SELECT run_id FROM demo_generate($n)")"
    log "bench: run $run_id ($i of $runs): $n events written; the daemon follows it"
    if [ "$i" -eq 1 ]; then
      /usr/bin/time -f '%M %U %S' -o "$OUT/watch.time" "$VERIFIER_BIN" --log-level WARNING watch \
        --run "$run_id" --listen off --idle-timeout 120 --format json >"$OUT/watch.json" 2>"$OUT/watch.err" &
      watch_pid=$!
    fi
    # its log line comes once the run is in the book and its memory given back
    wait_until 3600 grep -q "run $run_id: .*report in" "$OUT/daemon.log" ||
      die "the daemon did not report run $run_id within an hour; see $OUT/daemon.log"
    daemon_sample "$run_id"
    if [ -n "$watch_pid" ]; then
      wait "$watch_pid" || [ $? -le 1 ] || die "verifier watch could not run; see $OUT/watch.err"
      watch_pid=""
    fi
  done
  trap - EXIT
  kill -TERM "$daemon_pid" "$processor_pid"
  wait "$daemon_pid" || die "verifier serve exited with an error; see $OUT/daemon.log"
  wait "$processor_pid" || die "event-processor exited with an error; see $OUT/processor.log"
  "$PY" "$REPO_ROOT/bench/daemon_summary.py" "$OUT"
}

case "${1:-}" in
  -h | --help)
    script_help
    exit 0
    ;;
  observe)
    [ $# -eq 1 ] || die "observe takes no further arguments (RATES, RUN_S, DRAIN_N and OBSERVE come from the environment)"
    observe_bench
    exit 0
    ;;
  daemon)
    [ $# -eq 1 ] || die "daemon takes no further arguments (RUNS and N come from the environment)"
    daemon_bench
    exit 0
    ;;
esac
N="${1:-1000000}"
[[ "$N" =~ ^[1-9][0-9]*$ ]] || die "N must be a positive whole number (got '$N')"
require_up postgresql kafka connect ferretdb
[ -x /usr/bin/time ] || die "GNU time (/usr/bin/time) is needed for peak RSS: apt-get install time"

start_bench verifier bench_verifier

log "bench: demo_generate($N) in database app"
run_id="$(psql -X -q -h 127.0.0.1 -p "$PGPORT" -U app -d app -tAc "SELECT run_id FROM demo_generate($N)")"
log "bench: run $run_id written; verifier watch follows it (progress in $OUT/verifier.err)"
set +e
/usr/bin/time -f '%M %U %S %e' -o "$OUT/time" \
  "$VERIFIER_BIN" watch --run "$run_id" --listen off --out "$OUT/report" \
  --format json --idle-timeout 120 >"$OUT/report.stdout" 2>"$OUT/verifier.err"
rc=$?
set -e
[ "$rc" -le 1 ] || [ "$rc" -eq 3 ] || die "verifier could not run (exit $rc); see $OUT/verifier.err"
ready_us="$(date +%s%6N)"
kill -TERM "$processor_pid"
wait "$processor_pid" || die "event-processor exited with an error; see $OUT/processor.log"
trap - EXIT

"$PY" - "$OUT/report/report.json" "$OUT/time" "$ready_us" "$rc" <<'PYEOF'
import json, os, sys
r = json.load(open(sys.argv[1]))
rss_kb, user, system, wall = open(sys.argv[2]).read().split()[-4:]
ready_us, rc = int(sys.argv[3]), int(sys.argv[4])
rss_mb = int(rss_kb) / 1024
cpu = float(user) + float(system)
c, t, i = r["counts"], r["throughput"], r["integrity"]
last_t5 = t["last_t5_us"]
noticed = (r["stopped_following_us"] - last_t5) / 1e6
ready = (ready_us - last_t5) / 1e6
n = c["expected"]
print()
print(f"machine: {os.cpu_count()} cores, {os.sysconf('SC_PAGE_SIZE') * os.sysconf('SC_PHYS_PAGES') / 2**30:.0f} GiB; store: FerretDB (SQLite)")
print(f"run {r['run']['run_id']}: {n} events; {c['kafka']} on Kafka, {c['receipts']} in MongoDB; verdict {r['verdict']} (integrity {'pass' if i['passed'] else 'FAIL'}; exit {rc})")
print(f"pipeline: {t['events_per_s']:.0f} events/s end to end over {t['duration_s']:.0f} s; verifier followed for {float(wall):.0f} s")
print(f"verifier peak RSS {rss_mb:.1f} MB (target <= 64 MB: {rss_mb / 64:.2f}x of the limit)")
print(f"verifier CPU {cpu:.1f} s ({1000 * cpu / max(n, 1):.3f} s per 1,000 events)")
print(f"report ready {ready:.1f} s after the last event (target <= 5 s: {ready / 5:.2f}x): every event accounted for after {noticed:.1f} s, then the MongoDB state audit read {i['audit_documents']} documents in {i['audit_seconds']:.1f} s")
PYEOF
