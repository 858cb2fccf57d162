#!/usr/bin/env bash
#/ End-to-end tests of the verifier against a consumer this project did not write: the example
#/ Python consumer (examples/python-consumer), verified from its METRICS_FILE
#/ (--receipts metrics-file:PATH), on the real stack. Each test has a consumer group of its own
#/ (it starts at the topic's end) and a scratch MongoDB database, dropped afterwards.
#/   1. the consumer, correct, with a malformed line already in its metrics file: a rate run of
#/      600 events passes, every event receipted from the file, the malformed line counted and
#/      named (line 1);
#/   2. --drop-every 50: exit 1, the 12 dropped events lost, and the events the report names
#/      are exactly those without a metrics line; the file, created by the consumer's first
#/      event after the verifier started, was waited for;
#/   3. --unsafe-replay, restarted mid-run (it reads the last records before its committed
#/      offset again and re-applies their joins), its metrics file rotated in between: every
#/      event receipted across both files, exit 1, applied twice found in the store and named;
#/   4. observe mode checks itself: one run through event-processor followed from its receipts
#/      and observed at once: the same counts, and end to end p50 and p99 within the stated
#/      resolution plus 2 ms.
#/   5. the demo around another consumer: run_demo.sh with CONSUMER_CMD and CONSUMER_READY, a
#/      consumer that keeps no applied_events (--plain-joins), RECEIPTS=observe: 300 of 300
#/      observed, its joins found in participants; run_demo.sh with CONSUMER=python, receipted
#/      from its metrics file; verify.sh on each.
#/   6. observe mode and a consumer that keeps no applied_events (--plain-joins), three at once on
#/      one run of 1000 events: correct (exit 0, its joins found in participants), dropping every
#/      10th join (exit 1, the events named lost are exactly those missing from its metrics file,
#/      all joins), re-applying joins after a restart (exit 1, applied twice found and named,
#/      nothing lost).
#/   7. the daemon (verifier serve, receipts from the metrics file) with the consumer dropping
#/      every 50th event: a rate run of 600 reported fail with the 12 dropped events lost and
#/      named, and only those; the daemon goes on and reports the next run (bulk, 300) the same
#/      way.
#/ Test 1 also observes its run (--receipts observe): all 600 seen, process not measured.
#/ Needs the stack up, the release binaries and stack/install.sh's Python venv.
#/
#/ Usage: tests/consumer.sh
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh" consumer-test "$@"
# On a failure: the last lines of the current case's logs.
show_on_failure() {
  local f
  for f in "${dir:-/nonexistent}"/v*.log "${dir:-/nonexistent}"/consumer*.log "${dir:-/nonexistent}"/processor.log; do
    [ ! -f "$f" ] || { printf -- '--- last lines of %s\n' "$f" >&2; tail -n 15 "$f" >&2; }
  done
}

PY="$PY_CONSUMER_VENV/bin/python"
[ -x "$PY" ] || die "the Python consumer's venv is missing ($PY_CONSUMER_VENV): run stack/install.sh"
CONSUMER=examples/python-consumer/consumer.py
tmp="$(mktemp -d)"
pids=()
dbs=()
# One way out: what this script started stops, its scratch databases are dropped.
finish() {
  local pid db
  for pid in "${pids[@]}"; do
    if kill -0 "$pid" 2>/dev/null; then
      kill -CONT "$pid" 2>/dev/null || log "pid $pid had already ended" # one held by SIGSTOP
      kill -TERM "$pid" 2>/dev/null || log "pid $pid had already ended"
      wait "$pid" 2>/dev/null || log "pid $pid exited with status $?"
    fi
  done
  for db in "${dbs[@]}"; do
    "$PY" -c 'import sys, pymongo; pymongo.MongoClient(sys.argv[1]).drop_database(sys.argv[2])' \
      "$MONGODB_URI" "$db" || log "could not drop the scratch database $db"
  done
  rm -rf "$tmp"
}
trap finish EXIT
trap 'exit 130' INT TERM HUP

# The consumer's pace is not what is tested (its consume() waits up to 100 ms for a batch).
printf '{"p50_max_ms": 60000, "p95_max_ms": 60000, "p99_max_ms": 60000, "throughput_min_eps": 1}\n' >"$tmp/generous.json"

# scratch NAME -> sets uri, group and dir for one test: a database and a group of its own.
scratch() {
  local db="consumer_test_$$_$1"
  dbs+=("$db")
  uri="${MONGODB_URI%/*}/$db"
  group="consumer-test-$$-$1"
  dir="$tmp/$1"
  mkdir -p "$dir"
}

# start_consumer LOG ARGS... -> starts the Python consumer on the test's database and group and
# waits until it holds the topic's partitions; sets consumer_pid.
start_consumer() {
  local logf="$1"
  shift
  MONGODB_URI="$uri" CONSUMER_GROUP="$group" "$PY" "$CONSUMER" "$@" 2>>"$logf" &
  consumer_pid=$!
  pids+=("$consumer_pid")
  holds_partitions() {
    kill -0 "$consumer_pid" 2>/dev/null || {
      tail -n 20 "$logf" >&2
      fail "the Python consumer exited while starting (log above)"
    }
    grep -q 'assigned partitions \[0, 1, 2\]' "$logf"
  }
  wait_until 60 holds_partitions || fail "the Python consumer did not get the partitions within 60 s; see $logf"
}

# start_verifier NAME RECEIPTS -> starts `verifier watch --run next` with --receipts RECEIPTS on
# the test's database and group (report $dir/NAME.json, log $dir/NAME.log) and waits until it
# waits for the run; records its pid in verifier_pids[NAME].
declare -A verifier_pids=()
start_verifier() {
  local name="$1" receipts="$2"
  "$VERIFIER_BIN" --log-level INFO --mongodb-uri "$uri" --processor-group "$group" \
    watch --run next --receipts "$receipts" --listen 127.0.0.1:0 --ready-file "$dir/$name.ready" \
    --idle-timeout 10 --slo "$tmp/generous.json" --format json --out "$dir/$name" \
    >"$dir/$name.json" 2>"$dir/$name.log" &
  verifier_pids[$name]=$!
  pids+=("$!")
  waiting() {
    local addr
    addr="$(ready_addr "$dir/$name.ready" status)" && curl -fsS --max-time 2 "http://$addr/status" | grep -q '"phase":"waiting'
  }
  wait_until 60 waiting || fail "the verifier ($receipts) was not waiting for the run within 60 s; see $dir/$name.log"
}

# verify N RATE [RECEIPTS...] -> a verifier per RECEIPTS (default: the test's metrics file;
# names v1, v2 …), then (in the background) the rate run once they wait.
verify() {
  local n="$1" rate="$2" i=0 receipts
  shift 2
  [ $# -gt 0 ] || set -- "metrics-file:$dir/metrics.jsonl"
  for receipts in "$@"; do
    i=$((i + 1))
    start_verifier "v$i" "$receipts"
  done
  app_sql "CALL demo_run($n, $rate)" >"$dir/generator.txt" 2>&1 &
  generator_pid=$!
  pids+=("$generator_pid")
}

# verdict [NAME] -> waits for the rate run (it must succeed) and verifier NAME (v1); sets rc to
# its exit status and r to its report.
verdict() {
  local name="${1:-v1}"
  if [ -n "${generator_pid:-}" ]; then
    wait "$generator_pid" || fail "the rate run failed: $(cat "$dir/generator.txt")"
    generator_pid=""
  fi
  wait "${verifier_pids[$name]}" && rc=0 || rc=$?
  r="$dir/$name.json"
}

# ---- 1. correct, with a malformed line already in the file
scratch correct
printf 'this is not json\n' >"$dir/metrics.jsonl"
start_consumer "$dir/consumer.log" --metrics-file "$dir/metrics.jsonl"
verify 600 200 "metrics-file:$dir/metrics.jsonl" observe
verdict v1
[ "$rc" -eq 0 ] || fail "a correct consumer's run exited $rc: $(jq -c '{verdict, integrity: .integrity.status, missing: .integrity.missing_total, receipts}' "$r")"
[ "$(jq -r '.receipts.mode' "$r")" = metrics-file ] || fail "the report does not name the metrics file: $(jq -c .receipts "$r")"
[ "$(jq -r '.counts.receipts' "$r")" = 600 ] || fail "not every event was receipted from the file: $(jq -c .counts "$r")"
[ "$(jq -r '.receipts.file.malformed' "$r")" = 1 ] || fail "the malformed line was not counted: $(jq -c .receipts.file "$r")"
jq -r '.receipts.file.malformed_lines[0]' "$r" | grep -q '^line 1: not JSON' ||
  fail "the malformed line is not named: $(jq -c .receipts.file.malformed_lines "$r")"
[ "$(jq -r '.stages[] | select(.name == "process") | .count' "$r")" = 600 ] ||
  fail "process was not measured for every event: $(jq -c '.stages[] | select(.name == "process")' "$r")"
pass "a correct Python consumer: 600 of 600 receipted from its metrics file (end to end p50 $(jq -r '.stages[] | select(.name == "end_to_end") | .p50_ms' "$r") ms), the malformed line 1 counted and named"
verdict v2
[ "$rc" -eq 0 ] || fail "the same run observed: exit $rc: $(jq -c '{verdict, integrity: .integrity.status, missing: .integrity.missing_total, receipts}' "$r")"
{ [ "$(jq -r '.receipts.mode' "$r")" = observe ] && [ "$(jq -r '.counts.receipts' "$r")" = 600 ]; } ||
  fail "observe mode did not see all 600 effects: $(jq -c '{counts: .counts.receipts, receipts}' "$r")"
{ [ "$(jq -r '.stages[] | select(.name == "process") | .count' "$r")" = 0 ] &&
  [ "$(jq -r '.stages[] | select(.name == "process") | .p50_ms' "$r")" = null ]; } ||
  fail "observe mode reported process, which it cannot see: $(jq -c '.stages[] | select(.name == "process")' "$r")"
[ "$(jq -r '.receipts.observe.documents_read > 0 and .receipts.observe.resolution.count == 600' "$r")" = true ] ||
  fail "observe mode did not report its read load and resolution: $(jq -c .receipts.observe "$r")"
pass "the same run observed in the store: 600 of 600, process not measured, $(jq -r '.receipts.observe.documents_read' "$r") documents read, T5 within $(jq -r '.receipts.observe.resolution.p99_ms' "$r") ms (p99)"

# ---- 2. every 50th event dropped
scratch drop
start_consumer "$dir/consumer.log" --metrics-file "$dir/metrics.jsonl" --drop-every 50
# The consumer is held (SIGSTOP) until the verifier has looked for the file and not found it, so
# "created late" is what happened, not a race between the first event and the verifier's start.
kill -STOP "$consumer_pid"
verify 600 200
looked_for_file() { grep -q 'not there yet; waiting for the consumer to create it' "$dir/v1.log"; }
wait_until 60 looked_for_file || fail "the verifier did not look for the metrics file within 60 s; see $dir/v1.log"
kill -CONT "$consumer_pid"
verdict
[ "$rc" -eq 1 ] || fail "a consumer dropping every 50th event: exit $rc, not 1"
[ "$(jq -r '.integrity.lost' "$r")" = 12 ] || fail "not 12 lost: $(jq -c '.integrity | {lost, pending, undetermined, missing_total}' "$r")"
run_id="$(jq -r '.run.run_id' "$r")"
app_sql "SELECT id FROM activity.event_outbox WHERE run_id = $run_id ORDER BY id" >"$dir/all-ids"
jq -r '.event_id' "$dir/metrics.jsonl" | sort >"$dir/applied-ids"
comm -23 <(sort "$dir/all-ids") "$dir/applied-ids" >"$dir/dropped-ids"
jq -r '.integrity.missing[].event_id' "$r" | sort >"$dir/named-ids"
[ "$(jq -r '.receipts.file.created_late' "$r")" = true ] || fail "the metrics file, created by the consumer's first event, was not waited for: $(jq -c .receipts.file "$r")"
[ "$(wc -l <"$dir/dropped-ids")" -eq 12 ] || fail "the metrics file lacks $(wc -l <"$dir/dropped-ids") events, not 12"
cmp -s "$dir/dropped-ids" "$dir/named-ids" ||
  fail "the events named missing are not the dropped ones: $(diff "$dir/dropped-ids" "$dir/named-ids" | head -n 5)"
pass "a consumer dropping every 50th event: exit 1, 12 lost, each named, and only those"

# ---- 3. unsafe replay after a restart
scratch replay
start_consumer "$dir/consumer.log" --metrics-file "$dir/metrics.jsonl" --unsafe-replay
verify 1000 100
half_applied() { [ -f "$dir/metrics.jsonl" ] && [ "$(wc -l <"$dir/metrics.jsonl")" -ge 400 ]; }
wait_until 60 half_applied || fail "the consumer did not apply 400 events within 60 s"
kill -TERM "$consumer_pid"
wait "$consumer_pid" || fail "the Python consumer exited $? on SIGTERM"
mv "$dir/metrics.jsonl" "$dir/metrics.jsonl.1" # rotated: the restarted consumer starts a new file
start_consumer "$dir/consumer-2.log" --metrics-file "$dir/metrics.jsonl" --unsafe-replay
grep -q 'unsafe replay: partition' "$dir/consumer-2.log" || fail "the restarted consumer did not go back before its committed offsets"
verdict
[ "$rc" -eq 1 ] || fail "a consumer re-applying joins: exit $rc, not 1: $(jq -c '.integrity | {status, applied_twice}' "$r")"
{ [ "$(jq -r '.counts.receipts' "$r")" = 1000 ] && [ "$(jq -r '.receipts.file.reopened' "$r")" -ge 1 ]; } ||
  fail "the rotated metrics file was not followed into the new one: $(jq -c '{counts: .counts.receipts, file: .receipts.file}' "$r")"
[ "$(jq -r '.integrity.applied_twice' "$r")" -gt 0 ] || fail "nothing applied twice found: $(jq -c .integrity "$r")"
jq -r '.integrity.findings[] | select(.kind == "applied_twice") | .at' "$r" | grep -q . ||
  fail "the documents applied twice are not named: $(jq -c .integrity.findings "$r")"
pass "a consumer re-applying joins after a restart: exit 1, $(jq -r .integrity.applied_twice "$r") effects applied twice, named"

# ---- 4. observe mode checks itself: one run through event-processor, receipts and observe agree
scratch agree
# its own group, positioned at the topic's end, and its own database
MONGODB_URI="$uri" PROCESSOR_GROUP="$group" "$PROCESSOR_BIN" --reset >"$dir/reset.log" 2>&1 || fail "event-processor --reset failed: $(cat "$dir/reset.log")"
MONGODB_URI="$uri" PROCESSOR_GROUP="$group" METRICS_ADDR=127.0.0.1:0 READY_FILE="$dir/processor.ready" \
  LOG_LEVEL=INFO "$PROCESSOR_BIN" 2>"$dir/processor.log" &
processor_pid=$!
pids+=("$processor_pid")
processor_assigned() {
  local addr
  kill -0 "$processor_pid" 2>/dev/null || fail "event-processor exited while starting"
  addr="$(ready_addr "$dir/processor.ready" metrics)" && curl -fsS --max-time 2 "http://$addr/metrics" | grep -Eq '^processor_assigned_partitions 3$'
}
wait_until 60 processor_assigned || fail "event-processor did not get the 3 partitions within 60 s"
verify 1000 200 processed-events observe
verdict v1
rec="$r"
[ "$rc" -eq 0 ] || fail "the run through event-processor, from its receipts: exit $rc"
verdict v2
obs="$r"
[ "$rc" -eq 0 ] || fail "the run through event-processor, observed: exit $rc: $(jq -c '{integrity: .integrity.status, receipts}' "$obs")"
{ [ "$(jq -r .counts.receipts "$rec")" = 1000 ] && [ "$(jq -r .counts.receipts "$obs")" = 1000 ]; } ||
  fail "the counts differ: receipts $(jq -c .counts "$rec"), observed $(jq -c .counts "$obs")"
# Observed T5 is the end of the first read that found the effect; the receipt's T5 is when
# event-processor had the acknowledgement of the batch's projections. The write lies between the
# two clocks' views: observed is later by at most the window each event's write is known to lie
# in, and earlier when a read sees an effect before the batch that wrote it is acknowledged (on a
# loaded machine that is several ms; the fresh-clone CI saw p99 5.9 ms earlier). So, as the issue
# states it, p50 and p99 of end to end agree within the resolution's p50 and p99 plus 2 ms.
agreement="$(jq -n --slurpfile a "$rec" --slurpfile b "$obs" '
  def e2e($r): $r.stages[] | select(.name == "end_to_end");
  (e2e($a[0])) as $x | (e2e($b[0])) as $y | ($b[0].receipts.observe.resolution) as $res |
  def r2: . * 100 | round / 100;
  {p50: ($y.p50_ms - $x.p50_ms | r2), p99: ($y.p99_ms - $x.p99_ms | r2), res_p50: $res.p50_ms, res_p99: $res.p99_ms,
   ok: ((($y.p50_ms - $x.p50_ms) | fabs) <= $res.p50_ms + 2 and (($y.p99_ms - $x.p99_ms) | fabs) <= $res.p99_ms + 2)}')"
[ "$(jq -r .ok <<<"$agreement")" = true ] ||
  fail "observe and receipts disagree beyond the resolution: $agreement"
pass "observe agrees with event-processor's receipts on one run: 1000 = 1000, end to end observed minus receipts: p50 $(jq -r .p50 <<<"$agreement") ms (resolution p50 $(jq -r .res_p50 <<<"$agreement") ms), p99 $(jq -r .p99 <<<"$agreement") ms (resolution p99 $(jq -r .res_p99 <<<"$agreement") ms)"


# ---- 5. the demo around another consumer: run_demo.sh with CONSUMER_CMD (and CONSUMER_READY), a
# consumer that keeps no applied_events, observed; then CONSUMER=python and its metrics file;
# verify.sh on each run
scratch demo
clog="$dir/cmd-consumer.log"
SLO_FILE="$tmp/generous.json" TARGET_EVENTS=300 RATE=150 LOG_LEVEL=WARNING RECEIPTS=observe CONSUMER_GROUP="$group" \
  CONSUMER_CMD="exec '$PY' '$PWD/$CONSUMER' --plain-joins --from-end --group '$group' --ready-file '$dir/cmd.ready' 2>'$clog'" \
  CONSUMER_READY="test -f '$dir/cmd.ready'" \
  scripts/demo/run_demo.sh >"$dir/cmd.out" 2>"$dir/cmd.err" && rc=0 || rc=$?
[ "$rc" -eq 0 ] || fail "run_demo.sh with CONSUMER_CMD (--plain-joins) RECEIPTS=observe exited $rc: $(tail -n 5 "$dir/cmd.err")"
run="$(readlink "$DEMO_DIR/latest" | sed 's/^run-//')"
rdir="$(run_dir "$run")"
observed="$(jq -r '[.receipts.mode, .counts.receipts, .receipts.observe.joins_in_participants, .receipts.observe.joins_in_applied_events] | map(tostring) | join(" ")' "$rdir/report.json")"
[[ "$observed" =~ ^observe\ 300\ [1-9][0-9]*\ 0$ ]] ||
  fail "run $run (CONSUMER_CMD, no applied_events) was not observed whole by its participants: $observed"
SLO_FILE="$tmp/generous.json" scripts/demo/verify.sh "$run" >"$dir/verify.out" 2>"$dir/verify.err" || fail "verify.sh $run (observed) exited $?: $(tail -n 3 "$dir/verify.err")"
grep -q '^integrity: PASS' "$dir/verify.out" || fail "verify.sh did not check the observed run's effects: $(head -n 5 "$dir/verify.out")"
pass "run_demo.sh with CONSUMER_CMD, a consumer without applied_events, RECEIPTS=observe: 300 of 300 observed ($(cut -d' ' -f3 <<<"$observed") joins found in participants); verify.sh checks the effects again"

SLO_FILE="$tmp/generous.json" CONSUMER=python TARGET_EVENTS=300 RATE=150 LOG_LEVEL=WARNING \
  scripts/demo/run_demo.sh >"$dir/run.out" 2>"$dir/run.err" && rc=0 || rc=$?
[ "$rc" -eq 0 ] || fail "run_demo.sh with CONSUMER=python exited $rc: $(tail -n 5 "$dir/run.err")"
run="$(readlink "$DEMO_DIR/latest" | sed 's/^run-//')"
rdir="$(run_dir "$run")"
[ "$(jq -r '.receipts.mode + " " + (.counts.receipts | tostring)' "$rdir/report.json")" = "metrics-file 300" ] ||
  fail "run $run (CONSUMER=python) was not receipted from its metrics file: $(jq -c '{receipts, counts: .counts}' "$rdir/report.json")"
{ grep -q '^consumer=the Python consumer' "$rdir/consumer.txt" && [ -f "$rdir/consumer.ready" ]; } ||
  fail "the run's folder does not say which consumer ran: $(cat "$rdir/consumer.txt")"
SLO_FILE="$tmp/generous.json" scripts/demo/verify.sh "$run" >"$dir/verify2.out" 2>"$dir/verify2.err" || fail "verify.sh $run (metrics file) exited $?: $(tail -n 3 "$dir/verify2.err")"
pass "run_demo.sh with CONSUMER=python: 300 of 300 from its metrics file; verify.sh reads the file again"

# ---- 6. a consumer that keeps no applied_events, observed: correct, dropping every 10th join,
# re-applying joins after a restart; three consumers (a database and a group each) on one run
declare -A plain_dir=() plain_pid=() plain_uri=() plain_group=()
for case in plain drop-joins replay-joins; do
  scratch "$case"
  plain_dir[$case]="$dir" plain_uri[$case]="$uri" plain_group[$case]="$group"
  args=(--plain-joins --metrics-file "$dir/metrics.jsonl")
  case "$case" in
    drop-joins) args+=(--drop-every 10 --drop-type ParticipantJoined) ;;
    replay-joins) args+=(--unsafe-replay) ;;
  esac
  start_consumer "$dir/consumer.log" "${args[@]}"
  plain_pid[$case]="$consumer_pid"
  start_verifier "$case" observe
done
app_sql "CALL demo_run(1000, 200)" >"$tmp/plain-generator.txt" 2>&1 &
generator_pid=$!
pids+=("$generator_pid")
dir="${plain_dir[replay-joins]}" uri="${plain_uri[replay-joins]}" group="${plain_group[replay-joins]}"
replay_half_applied() { [ -f "$dir/metrics.jsonl" ] && [ "$(wc -l <"$dir/metrics.jsonl")" -ge 400 ]; }
wait_until 60 replay_half_applied || fail "the replaying consumer did not apply 400 events within 60 s"
kill -TERM "${plain_pid[replay-joins]}"
wait "${plain_pid[replay-joins]}" || fail "the Python consumer exited $? on SIGTERM"
start_consumer "$dir/consumer-2.log" --plain-joins --metrics-file "$dir/metrics-2.jsonl" --unsafe-replay

dir="${plain_dir[plain]}"
verdict plain
[ "$rc" -eq 0 ] || fail "a correct consumer without applied_events, observed: exit $rc: $(jq -c '{integrity: .integrity | {status, lost, missing_total}, observe: .receipts.observe}' "$r")"
[ "$(jq -r '.counts.receipts' "$r")" = 1000 ] || fail "not all 1000 effects observed: $(jq -c .counts "$r")"
[ "$(jq -r '.receipts.observe | .joins_in_participants > 0 and .joins_in_applied_events == 0' "$r")" = true ] ||
  fail "the joins were not found by their user in participants: $(jq -c .receipts.observe "$r")"
pass "a correct consumer without applied_events, observed: exit 0, 1000 of 1000, $(jq -r .receipts.observe.joins_in_participants "$r") joins found in participants"

dir="${plain_dir[drop-joins]}"
verdict drop-joins
[ "$rc" -eq 1 ] || fail "a consumer without applied_events dropping every 10th join, observed: exit $rc, not 1"
run_id="$(jq -r '.run.run_id' "$r")"
app_sql "SELECT id FROM activity.event_outbox WHERE run_id = $run_id ORDER BY id" | sort >"$dir/all-ids"
jq -r '.event_id' "$dir/metrics.jsonl" | sort >"$dir/applied-ids"
comm -23 "$dir/all-ids" "$dir/applied-ids" >"$dir/dropped-ids"
jq -r '.integrity.missing[] | select(.fate == "lost") | .event_id' "$r" | sort >"$dir/named-ids"
[ -s "$dir/dropped-ids" ] || fail "the consumer dropped no join"
cmp -s "$dir/dropped-ids" "$dir/named-ids" ||
  fail "the events named lost are not the dropped joins: $(diff "$dir/dropped-ids" "$dir/named-ids" | head -n 5)"
[ "$(jq -r '.integrity.missing_total' "$r")" = "$(wc -l <"$dir/dropped-ids")" ] ||
  fail "more events named missing than were dropped: $(jq -c '.integrity | {lost, pending, missing_total}' "$r")"
types="$(app_sql "SELECT string_agg(DISTINCT event_type, ',') FROM activity.event_outbox WHERE id::text IN ($(sed "s/.*/'&'/" "$dir/dropped-ids" | paste -sd,))")"
[ "$types" = ParticipantJoined ] || fail "the consumer dropped events other than joins: $types"
pass "a consumer without applied_events dropping every 10th join, observed: exit 1, the $(wc -l <"$dir/dropped-ids") dropped joins named lost, and only those"

dir="${plain_dir[replay-joins]}"
verdict replay-joins
[ "$rc" -eq 1 ] || fail "a consumer without applied_events re-applying joins, observed: exit $rc, not 1"
[ "$(jq -r '.integrity.applied_twice' "$r")" -gt 0 ] || fail "nothing applied twice found: $(jq -c .integrity "$r")"
[ "$(jq -r '.integrity.missing_total' "$r")" = 0 ] ||
  fail "events of a consumer that lost nothing named missing: $(jq -c '.integrity | {missing_total, missing: .missing[:3]}' "$r")"
pass "a consumer without applied_events re-applying joins, observed: exit 1, $(jq -r .integrity.applied_twice "$r") effects applied twice, nothing missing"

# ---- 7. the daemon and a consumer dropping events: each run's dropped events named, run after run
scratch daemon
start_consumer "$dir/consumer.log" --metrics-file "$dir/metrics.jsonl" --drop-every 50
"$VERIFIER_BIN" --log-level INFO --mongodb-uri "$uri" --processor-group "$group" \
  serve --listen 127.0.0.1:0 --ready-file "$dir/daemon.ready" --runs-dir "$dir/runs" --idle-timeout 10 \
  --receipts "metrics-file:$dir/metrics.jsonl" --slo "$tmp/generous.json" 2>"$dir/v-daemon.log" &
pids+=("$!")
wait_until 60 test -s "$dir/daemon.ready" || fail "verifier serve was not ready within 60 s; see $dir/v-daemon.log"
daemon="$(ready_addr "$dir/daemon.ready" http)"
# daemon_lost RUN WHAT -> waits for the daemon's report of RUN; it must fail with exactly the
# events missing from the consumer's metrics file named lost.
daemon_lost() {
  local run="$1" what="$2"
  # shellcheck disable=SC2317 # called by wait_until
  reported() { curl -fsS --max-time 5 "http://$daemon/api/runs/$run" 2>/dev/null | jq -e .verdict >/dev/null; }
  wait_until 120 reported || fail "the daemon did not report run $run ($what) within 120 s; see $dir/v-daemon.log"
  curl -fsS --max-time 5 "http://$daemon/api/runs/$run" >"$dir/run-$run.json"
  app_sql "SELECT id FROM activity.event_outbox WHERE run_id = $run ORDER BY id" | sort >"$dir/all-$run"
  jq -r '.event_id' "$dir/metrics.jsonl" | sort >"$dir/applied-ids"
  comm -23 "$dir/all-$run" "$dir/applied-ids" >"$dir/dropped-$run"
  jq -r '.integrity.missing[] | select(.fate == "lost") | .event_id' "$dir/run-$run.json" | sort >"$dir/named-$run"
  [ "$(jq -r .verdict "$dir/run-$run.json")" = fail ] || fail "the daemon's verdict on run $run ($what) is not fail: $(jq -c '{verdict, integrity: .integrity | {lost, pending, missing_total}}' "$dir/run-$run.json")"
  [ -s "$dir/dropped-$run" ] || fail "the consumer dropped nothing of run $run"
  cmp -s "$dir/dropped-$run" "$dir/named-$run" ||
    fail "run $run ($what): the events named lost are not the dropped ones: $(diff "$dir/dropped-$run" "$dir/named-$run" | head -n 5)"
  pass "the daemon with a consumer dropping every 50th event: run $run ($what) fail, the $(wc -l <"$dir/dropped-$run") dropped events named lost, and only those"
}
app_sql "CALL demo_run(600, 200)" >"$dir/generator.txt" 2>&1 || fail "the rate run failed: $(cat "$dir/generator.txt")"
daemon_lost "$(app_sql "SELECT max(run_id) FROM outbox_demo.runs")" "a rate run of 600"
daemon_lost "$(app_sql "SELECT run_id FROM demo_generate(300)")" "the next run, bulk, 300"
