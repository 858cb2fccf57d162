#!/usr/bin/env bash
#/ The pipeline stack/up.sh runs beside the services, as a user meets it: psql alone is enough.
#/   1. STACK_PIPELINE=on stack/up.sh starts event-processor and verifier serve (its runs in a
#/      folder of this test's): stack/status.sh shows both healthy.
#/   2. psql: SELECT run_id FROM demo_generate(10000) (the size the README's walk-through uses)
#/      -> the daemon's /api/runs/N says pass within 300 s with all 10,000 verified, and
#/      `verifier report --run N` agrees (verdict, counts, missing, applied twice); the page's
#/      row for run N on / shows the same figures; /runs/N is its report; scripts/demo/monitor.sh
#/      N shows the daemon's view of it (following nothing itself) and exits 0.
#/   3. scripts/demo/run_demo.sh (300 events at 150/s) while the pair runs: it pauses the stack's
#/      event-processor (never two processors in one group), passes, and the stack's
#/      event-processor is running and healthy again after it; the daemon followed the run and
#/      no verifier watch of the script's (one follower): the run's folder says daemon and holds
#/      the daemon's report.json, the one it printed.
#/   4. stack/down.sh verifier processor: stack/status.sh shows both off and exits 0.
#/ The pair runs on a scratch database, dropped afterwards, and event-processor-group is moved
#/ to the topic's end first (event-processor --reset), so it starts at this test's runs.
#/ Needs the stack up (with STACK_PIPELINE=off, as scripts/test.sh starts it), the release
#/ binaries and stack/install.sh's Python venv.
#/
#/ Usage: tests/pipeline.sh
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh" pipeline-test "$@"
show_on_failure() {
  local f
  for f in "$LOG_DIR/processor.log" "$LOG_DIR/verifier.log" "${tmp:-/nonexistent}/demo.err"; do
    [ ! -f "$f" ] || { printf -- '--- last lines of %s\n' "$f" >&2; tail -n 15 "$f" >&2; }
  done
}

tmp="$(mktemp -d)"
export VERIFIER_RUNS="$tmp/runs"
# A scratch database of its own, and the group (event-processor-group) moved to the topic's end
# first, so that the stack's processor starts at this test's runs, not behind earlier tests'.
db="pipeline_test_$$"
export MONGODB_URI="${MONGODB_URI%/*}/$db"
PY="$PY_CONSUMER_VENV/bin/python"
[ -x "$PY" ] || die "the Python venv is missing ($PY_CONSUMER_VENV): run stack/install.sh"
# One way out: the pair this test started stops, its folder and database go.
finish() {
  "$REPO_ROOT/stack/down.sh" verifier processor || log "stack/down.sh verifier processor failed"
  "$PY" -c 'import sys, pymongo; pymongo.MongoClient(sys.argv[1]).drop_database(sys.argv[2])' \
    "$MONGODB_URI" "$db" || log "could not drop the scratch database $db"
  rm -rf "$tmp"
}
trap finish EXIT
trap 'exit 130' INT TERM HUP

api() { curl -fsS --max-time 5 "http://$STACK_VERIFIER_ADDR$1"; }
# reported N [SECONDS] -> waits (120 s unless told) until the daemon has a verdict for run N;
# prints report.json.
reported() {
  local id="$1" bound="${2:-120}"
  # shellcheck disable=SC2317 # called by wait_until
  has_verdict() { api "/api/runs/$id" 2>/dev/null | jq -e '.verdict' >/dev/null; }
  wait_until "$bound" has_verdict || fail "the daemon has no verdict for run $id after $bound s: $(api "/api/runs/$id" | jq -c '.row // .')"
  api "/api/runs/$id"
}
# page_row N -> run N's row in the page's runs table, its cells joined by '|' (from "events" on).
page_row() {
  api / | grep -o "<tr data-run=\"$1\">.*</tr>" | sed 's|</tr>.*||; s|<td[^>]*>|\||g; s|<[^>]*>||g' |
    cut -d'|' -f5-
}

# ---- 1. the pair, started by stack/up.sh
LOG_LEVEL=WARNING "$PROCESSOR_BIN" --reset >"$tmp/reset.log" 2>&1 ||
  fail "event-processor --reset (moving event-processor-group to the end) failed: $(tail -n 3 "$tmp/reset.log")"
STACK_PIPELINE=on DEMO_BINARIES_BUILT=1 "$REPO_ROOT/stack/up.sh" >"$tmp/up.out" 2>&1 ||
  fail "stack/up.sh with the pipeline failed: $(tail -n 5 "$tmp/up.out")"
"$REPO_ROOT/stack/status.sh" >"$tmp/status.out" || fail "stack/status.sh: a part is down: $(cat "$tmp/status.out")"
{ grep -Eq '^processor +healthy' "$tmp/status.out" && grep -Eq '^verifier +healthy' "$tmp/status.out"; } ||
  fail "stack/status.sh does not show the pair healthy: $(cat "$tmp/status.out")"
pass "stack/up.sh started event-processor and verifier serve; stack/status.sh shows both healthy"

# ---- 2. psql alone
n=10000
run="$(app_sql "SELECT run_id FROM demo_generate($n)")"
started=$SECONDS
report="$(reported "$run" 300)"
jq -e --argjson n "$n" '.verdict == "pass" and .counts.matched == $n and .counts.expected == $n and .integrity.missing_total == 0 and .integrity.applied_twice == 0' <<<"$report" >/dev/null ||
  fail "run $run from psql, as the daemon reports it: $(jq -c '{verdict, counts, integrity: {missing_total: .integrity.missing_total, applied_twice: .integrity.applied_twice}}' <<<"$report")"
"$VERIFIER_BIN" --log-level ERROR report --run "$run" --idle-timeout 10 --format json >"$tmp/report.json" ||
  fail "verifier report --run $run exited $?: $(jq -c '{verdict, counts}' "$tmp/report.json")"
same='{verdict, counts: (.counts | {expected, kafka, receipts, matched}), missing: .integrity.missing_total, twice: .integrity.applied_twice}'
[ "$(jq -c "$same" <<<"$report")" = "$(jq -c "$same" "$tmp/report.json")" ] ||
  fail "the daemon and verifier report differ on run $run: $(jq -c "$same" <<<"$report") vs $(jq -c "$same" "$tmp/report.json")"
row="$(page_row "$run")"
want="$(jq -r '[.counts.expected, .counts.kafka, .counts.receipts, .integrity.pending, .integrity.lost, .integrity.applied_twice] | map(tostring) | join("|")' "$tmp/report.json")|$(jq -r .verdict "$tmp/report.json")"
# the row's cells: events, on Kafka, in MongoDB, pending, lost, applied twice, p50, p99, state
[ "$(cut -d'|' -f1-6,9 <<<"$row")" = "$want" ] ||
  fail "the page's row for run $run ($row) is not verifier report's figures ($want)"
api "/runs/$run" | grep -q "<h1>Run $run: <span>PASS</span>" || fail "/runs/$run is not run $run's report"
DEMO_BINARIES_BUILT=1 scripts/demo/monitor.sh "$run" >"$tmp/monitor.out" 2>"$tmp/monitor.err" ||
  fail "monitor.sh $run exited $?: $(tail -n 3 "$tmp/monitor.err")"
{ grep -q "its view from http://$STACK_VERIFIER_ADDR/api/runs/$run" "$tmp/monitor.err" &&
  grep -q "^run $run: PASS: $n of $n verified" "$tmp/monitor.out"; } ||
  fail "monitor.sh did not show the daemon's view of run $run: $(cat "$tmp/monitor.out" "$tmp/monitor.err")"
pass "SELECT demo_generate($n) from psql: the daemon reports run $run pass, $n of $n verified, $((SECONDS - started)) s after the call returned; verifier report and the page's row show the same figures ($row); monitor.sh shows the daemon's view"

# ---- 3. a demo run while the pair runs
before="$(pid_of processor)"
TARGET_EVENTS=300 RATE=150 DEMO_BINARIES_BUILT=1 scripts/demo/run_demo.sh >"$tmp/demo.out" 2>"$tmp/demo.err" ||
  fail "run_demo.sh with the pipeline running exited $?: $(tail -n 3 "$tmp/demo.err")"
grep -q "pausing the stack's event-processor (pid $before)" "$tmp/demo.err" ||
  fail "run_demo.sh did not pause the stack's event-processor: $(grep -m3 -i processor "$tmp/demo.err")"
processor_healthy || fail "the stack's event-processor is not running and healthy after run_demo.sh"
demo_run="$(app_sql "SELECT max(run_id) FROM outbox_demo.runs")"
[ "$demo_run" -gt "$run" ] || fail "no run after run $run in the manifest: run_demo.sh wrote none"
[ "$(reported "$demo_run" | jq -r .verdict)" = pass ] || fail "the daemon's verdict on the demo's run $demo_run is not pass"
demo_dir="$(run_dir "$demo_run")"
[ "$(cat "$demo_dir/follower.txt")" = daemon ] || fail "run_demo.sh followed run $demo_run with '$(cat "$demo_dir/follower.txt")', not the daemon: $(grep -m2 follow "$tmp/demo.err")"
cmp -s "$demo_dir/report.json" "$VERIFIER_RUNS/run-$demo_run/report.json" ||
  fail "the demo's report.json of run $demo_run is not the daemon's ($VERIFIER_RUNS/run-$demo_run)"
grep -q "^verdict: PASS" "$tmp/demo.out" || fail "run_demo.sh did not print the daemon's report: $(tail -n 3 "$tmp/demo.out")"
pass "run_demo.sh paused the stack's event-processor (pid $before), passed, and it runs again (pid $(pid_of processor)); the daemon followed run $demo_run (pass), its report in the run's folder, no second follower"

# ---- 4. stopped by stack/down.sh
"$REPO_ROOT/stack/down.sh" verifier processor 2>"$tmp/down.err" || fail "stack/down.sh verifier processor: $(cat "$tmp/down.err")"
"$REPO_ROOT/stack/status.sh" >"$tmp/status.out" || fail "stack/status.sh exits non-zero with the pair off: $(cat "$tmp/status.out")"
{ grep -Eq '^processor +off' "$tmp/status.out" && grep -Eq '^verifier +off' "$tmp/status.out"; } ||
  fail "stack/status.sh does not show the pair off: $(cat "$tmp/status.out")"
pass "stack/down.sh stopped the pair; stack/status.sh shows both off and exits 0"
