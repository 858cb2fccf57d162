#!/usr/bin/env bash
#/ Fault tests on the real stack (scripts/test.sh runs them): scripts/demo/faults.sh with three
#/ scenarios, short runs (200 events/s for 15 s, the fault at 40 %):
#/   processor-kill (kill -9 of event-processor, restarted 3 s later), connect-kill (kill -9 of
#/   the Kafka Connect worker, stack/up.sh starts it again) and store-pause (SIGSTOP of FerretDB
#/   for 10 s).
#/ Each must pass with 0 missing and 0 applied twice, its report must show the fault (start and
#/ healing from the fault log) and a finite time to recover, and the run must be judged on
#/ integrity alone. Then the harness sees what it is meant to see: processor-restart through
#/ the example Python consumer with --drop-every 100 (FAULT_CONSUMER=python DROP_EVERY=100)
#/ must fail, its lost events named, each one absent from the consumer's metrics file.
#/ postgres-restart (a fast restart of PostgreSQL at 40 %) ends the rate run's session: the run
#/ must read interrupted, every event it committed must arrive, and the verifier must have
#/ connected again.
#/ Last, on the cluster profile, brought up for the test (STACK_PROFILE=cluster stack/up.sh:
#/ three brokers, two Connect workers) and switched back to the single node after it, even when
#/ the test fails: broker-failover (kill -9 of the leader of partition 0, restarted only once
#/ the run has written its last event) must pass likewise, with the leaders moved.
#/ About 4 min (the cluster's start and the switch back about 75 s of them). Needs the stack up,
#/ the release binaries and the Python consumer's venv.
#/
#/ Usage: tests/faults.sh
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh" faults-test "$@"
tmp="$(mktemp -d)"
on_cluster=0
# One way out: the single-node stack back when the cluster was brought up, the scratch folder gone.
finish() {
  if [ "$on_cluster" -eq 1 ]; then
    log "switching the stack back to the single node"
    env -u KAFKA_BOOTSTRAP STACK_PROFILE=single stack/up.sh >"$tmp/single-up.log" 2>&1 ||
      log "stack/up.sh could not bring the single node back: $(tail -n 5 "$tmp/single-up.log")"
  fi
  rm -rf "$tmp"
}
trap finish EXIT
trap 'exit 130' INT TERM HUP

# run_faults EXIT NAME DURATION_S SCENARIO... -> scripts/demo/faults.sh at 200/s into $tmp/NAME
# (FAULTS_DIR), with a group of its own, its table shown; fails unless it exits EXIT. Further
# settings come from the caller's environment (VAR=value run_faults …).
run_faults() {
  local want="$1" name="$2" secs="$3" rc
  shift 3
  FAULTS_DIR="$tmp/$name" RATE=200 DURATION_S="$secs" FAULTS_DB=faults_test FAULTS_GROUP="faults-test-$$-$name" \
    scripts/demo/faults.sh "$@" >"$tmp/$name.out" 2>"$tmp/$name.err" && rc=0 || rc=$?
  cat "$tmp/$name.out"
  [ "$rc" -eq "$want" ] || {
    tail -n 30 "$tmp/$name.err" >&2
    fail "faults.sh $* exited $rc, not $want"
  }
}

run_faults 0 faults 15 processor-kill connect-kill store-pause
json="$tmp/faults/faults.json"
[ "$(jq '.scenarios | length' "$json")" -eq 3 ] || fail "faults.json does not hold the three scenarios: $(jq -c '[.scenarios[].scenario]' "$json")"
for s in processor-kill connect-kill store-pause; do
  row="$(jq -c --arg s "$s" '.scenarios[] | select(.scenario == $s)' "$json")"
  [ -n "$row" ] || fail "$s is not in faults.json"
  jq -e '.written == 3000 and .missing == 0 and .applied_twice == 0 and .verdict == "pass"' <<<"$row" >/dev/null ||
    fail "$s: $(jq -c '{written, missing, applied_twice, verdict}' <<<"$row")"
  jq -e --arg s "$s" '.fault.fault == $s and (.fault.started_us | type) == "number" and (.fault.healed_us > .fault.started_us)
      and (.fault.recovery_s | type) == "number" and .fault.recovery_s >= 0 and .fault.recovery_s < 60
      and .fault.during.count > 0 and .fault.before.count > 0' <<<"$row" >/dev/null ||
    fail "$s: the report does not show the fault and its recovery: $(jq -c .fault <<<"$row" | head -c 600)"
  report="$(jq -r .report <<<"$row")/report.txt"
  { grep -q "^fault: $s from" "$report" && grep -q 'shown, not judged' "$report"; } ||
    fail "$s: report.txt does not name the fault or still judges the SLOs: $(grep -A2 '^fault\|^SLO' "$report")"
  pass "$s: 3000 of 3000, 0 missing, 0 applied twice, $(jq -r .kafka_duplicates <<<"$row") Kafka duplicates, recovered $(jq -r .fault.recovery_s <<<"$row") s after healing (worst end to end $(jq -r '.fault.worst_ms | round' <<<"$row") ms)"
done

# ---- a consumer that loses events, restarted mid-run: the fault run fails and names them
FAULT_CONSUMER=python DROP_EVERY=100 IDLE_TIMEOUT=15 run_faults 1 lossy 10 processor-restart
row="$(jq -c '.scenarios[0]' "$tmp/lossy/faults.json")"
jq -e '.verdict == "fail" and .missing > 0 and .fault.fault == "processor-restart"' <<<"$row" >/dev/null ||
  fail "the lossy run: $(jq -c '{verdict, missing, applied_twice}' <<<"$row")"
report="$(jq -r .report <<<"$row")/report.json"
jq -r '.integrity.missing[] | select(.fate == "lost") | .event_id' "$report" | sort >"$tmp/named"
[ -s "$tmp/named" ] || fail "no lost event named: $(jq -c '.integrity.missing[:3]' "$report")"
[ "$(wc -l <"$tmp/named")" -eq "$(jq '[.integrity.missing[]] | length' "$report")" ] ||
  fail "some missing events are not lost: $(jq -c '[.integrity.missing[].fate] | unique' "$report")"
jq -r '.event_id' "$(jq -r .report <<<"$row")/consumer-events.jsonl" | sort >"$tmp/applied"
[ -z "$(comm -12 "$tmp/named" "$tmp/applied")" ] || fail "an event named lost is in the consumer's metrics file"
pass "a consumer dropping every 100th event, restarted mid-run: the run fails, $(jq -r .missing <<<"$row") lost, each named and none of them applied"

# ---- PostgreSQL restarted mid-run: the rate run's session ends; what it committed all arrives
run_faults 0 pg 15 postgres-restart
row="$(jq -c '.scenarios[0]' "$tmp/pg/faults.json")"
report="$(jq -r .report <<<"$row")/report.json"
jq -e '.written > 0 and .written < 3000 and .missing == 0 and .applied_twice == 0 and .verdict == "pass"
    and .fault.healed_us > .fault.started_us and (.fault.recovery_s | type) == "number"' <<<"$row" >/dev/null ||
  fail "postgres-restart: $(jq -c '{written, missing, applied_twice, verdict, fault: (.fault | {started_us, healed_us, recovery_s})}' <<<"$row")"
[ "$(jq -r .run.status "$report")" = interrupted ] || fail "postgres-restart: the run reads $(jq -r .run.status "$report"), not interrupted"
grep -q 'PostgreSQL at .*: connected again after' "$tmp/pg/postgres-restart/run.err" ||
  fail "postgres-restart: the verifier's log does not show it connecting to PostgreSQL again"
pass "postgres-restart: the rate run's session ended after $(jq -r .written <<<"$row") of 3000 events; all $(jq -r .written <<<"$row") committed arrived, 0 applied twice, the verifier connected again"

# ---- the cluster profile: a broker that dies for good mid-run loses nothing
on_cluster=1
t=$SECONDS
env -u KAFKA_BOOTSTRAP STACK_PROFILE=cluster stack/up.sh >"$tmp/cluster-up.log" 2>&1 ||
  fail "STACK_PROFILE=cluster stack/up.sh failed: $(tail -n 5 "$tmp/cluster-up.log")"
log "the cluster profile is up ($((SECONDS - t)) s)"
# this script's KAFKA_BOOTSTRAP is the single node's: faults.sh must find the cluster's itself
unset KAFKA_BOOTSTRAP
run_faults 0 cluster 20 broker-failover
row="$(jq -c '.scenarios[0]' "$tmp/cluster/faults.json")"
[ "$(jq -r .profile "$tmp/cluster/faults.json")" = cluster ] || fail "faults.json does not say the cluster profile"
jq -e '.scenario == "broker-failover" and .written == 4000 and .missing == 0 and .applied_twice == 0 and .verdict == "pass"
    and .fault.fault == "broker-failover" and .fault.healed_us > .fault.started_us
    and (.fault.recovery_s | type) == "number" and .fault.recovery_s < 60' <<<"$row" >/dev/null ||
  fail "broker-failover: $(jq -c '{written, missing, applied_twice, verdict, fault: (.fault | {fault, started_us, healed_us, recovery_s})}' <<<"$row")"
{ grep -q 'broker-failover: start' "$tmp/cluster.err" && grep -Eq 'starting kafka-[123] again' "$tmp/cluster.err"; } ||
  fail "broker-failover did not kill a broker of the cluster and start it again: $(grep broker-failover "$tmp/cluster.err")"
pass "broker-failover on three brokers: 4000 of 4000, 0 missing, 0 applied twice, $(jq -r .kafka_duplicates <<<"$row") Kafka duplicates, leaders moved in $(jq -r '(.fault.healed_us - .fault.started_us) / 1e5 | round / 10' <<<"$row") s, recovered $(jq -r .fault.recovery_s <<<"$row") s after"
