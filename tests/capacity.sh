#!/usr/bin/env bash
#/ Tests of the capacity search on the real stack (scripts/test.sh runs them), with a short
#/ budget:
#/   1. 5-second steps from 100/s with MAX_RATE 200 and generous objectives: a rate of at least
#/      START_RATE is found, exit 0, and capacity.json holds every step with its verdict;
#/   2. an impossible objective (p99 < 0.001 ms): "no sustainable rate", exit 1, with the first
#/      step's figures;
#/   3. SIGTERM to capacity.sh during a step: the verifier exits 3, capacity.json ends "stopped",
#/      and the step's rate run (CALL demo_run) is over.
#/ Needs the stack up and the release binaries.
#/
#/ Usage: tests/capacity.sh
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh" capacity-test "$@"
tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT
export CAPACITY_DIR="$tmp/capacity" STEP_S=5 DRAIN_S=5 START_RATE=100

# ---- 1. a short search finds a rate
printf '{"p50_max_ms": 60000, "p95_max_ms": 60000, "p99_max_ms": 60000}\n' >"$tmp/generous.json"
SLO_FILE="$tmp/generous.json" MAX_RATE=200 BUDGET_S=120 scripts/demo/capacity.sh >"$tmp/found.out" 2>"$tmp/found.err" && rc=0 || rc=$?
cat "$tmp/found.out"
[ "$rc" -eq 0 ] || {
  tail -n 30 "$tmp/found.err" >&2
  fail "a search with generous objectives exited $rc"
}
json="$CAPACITY_DIR/latest/capacity.json"
{ [ -f "$json" ] && [ -f "$CAPACITY_DIR/latest/capacity.html" ]; } || fail "capacity.json or capacity.html missing in $CAPACITY_DIR/latest"
[ "$(jq -r '.max_sustainable >= 100' "$json")" = true ] || fail "no rate >= START_RATE found: $(jq -c '{max_sustainable, ending, answer}' "$json")"
[ "$(jq -r '[.steps[] | .figures.offered] | . == [100, 200]' "$json")" = true ] ||
  fail "the steps were not 100 then 200/s: $(jq -c '[.steps[] | .figures.offered]' "$json")"
[ "$(jq -r '[.steps[] | .judged.verdict] | all(. == "sustainable")' "$json")" = true ] ||
  fail "a step is not sustainable: $(jq -c '[.steps[] | {rate: .figures.offered, judged}]' "$json")"
for dir in $(jq -r '.steps[].report' "$json"); do
  [ -f "$CAPACITY_DIR/latest/$dir/report.json" ] || fail "step report $dir/report.json missing"
done
grep -q '^max sustainable: 200/s within the SLOs' "$tmp/found.out" || fail "the answer line is missing: $(tail -n 2 "$tmp/found.out")"
pass "a short search found $(jq -r .max_sustainable "$json")/s, every step judged ($(jq -r .ending "$json"))"

# ---- 2. an impossible objective
printf '{"p50_max_ms": 60000, "p95_max_ms": 60000, "p99_max_ms": 0.001}\n' >"$tmp/impossible.json"
SLO_FILE="$tmp/impossible.json" MAX_RATE=200 BUDGET_S=60 scripts/demo/capacity.sh >"$tmp/none.out" 2>"$tmp/none.err" && rc=0 || rc=$?
cat "$tmp/none.out"
[ "$rc" -eq 1 ] || fail "an impossible objective exited $rc, not 1"
grep -q '^no sustainable rate: 100/s failed: SLO p99 missed' "$tmp/none.out" || fail "the answer does not say there is no sustainable rate: $(tail -n 2 "$tmp/none.out")"
grep -Eq '^1 +100/s +[0-9]+/s' "$tmp/none.out" || fail "the first step's figures are not shown"
pass "an impossible objective: no sustainable rate, exit 1, the first step shown"

# ---- 3. stopped mid-step: the rate run ends with the search, which says it stopped (exit 3)
CAPACITY_DIR="$tmp/stopped" STEP_S=60 BUDGET_S=120 scripts/demo/capacity.sh >"$tmp/stop.out" 2>"$tmp/stop.err" &
search=$!
rate_run_going() { [ "$(app_sql "SELECT count(*) FROM demo_status() WHERE status = 'running'")" -ge 1 ]; }
wait_until 60 rate_run_going || fail "the search's first rate run did not start within 60 s: $(tail -n 5 "$tmp/stop.err")"
kill -TERM "$search"
wait "$search" && rc=0 || rc=$?
[ "$rc" -eq 130 ] || fail "capacity.sh stopped by SIGTERM exited $rc, not 130"
grep -q 'the search stopped (verifier exit status 3)' "$tmp/stop.err" || fail "the verifier did not exit 3 (stopped): $(tail -n 3 "$tmp/stop.err")"
[ "$(jq -r .ending "$tmp/stopped/latest/capacity.json")" = stopped ] || fail "capacity.json does not say stopped: $(jq -c '{ending, answer}' "$tmp/stopped/latest/capacity.json")"
no_rate_run_session() {
  [ "$(app_sql "SELECT count(*) FROM pg_stat_activity WHERE usename = current_user AND query ILIKE 'CALL demo_run%' AND pid <> pg_backend_pid()")" -eq 0 ]
}
wait_until 5 no_rate_run_session || {
  app_sql "SELECT demo_stop()" >/dev/null
  fail "the step's rate run (CALL demo_run) still ran after the search stopped (now stopped with demo_stop())"
}
pass "a stopped search ends its rate run, writes capacity.json (ending stopped) and the verifier exits 3"
