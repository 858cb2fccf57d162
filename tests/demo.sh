#!/usr/bin/env bash
#/ End-to-end tests of scripts/demo against the real stack (scripts/test.sh runs them last):
#/   1. cleanup.sh without a terminal and without --yes refuses and deletes nothing;
#/   2. setup.sh on the healthy stack exits 0; run_demo.sh in a pseudo-terminal (tmux, 120x40): the dashboard, captured while the run is
#/      followed, shows every panel with live numbers; the run's integrity passes;
#/   3. full_demo.sh without a terminal exits 0, prints the summary with four passing loads, and
#/      each run's report.json says every event reached Kafka and MongoDB (with generous
#/      objectives: the scripts are tested, not this machine's pace, which the benchmarks
#/      measure; the latency is still shown), at RATE=400 and with one warm-up round of 1000 events
#/      (the demo's own 50 to 120 events/s and 3000 add a minute and a half of waiting and test
#/      nothing more);
#/   4. setup.sh with Kafka Connect stopped names it (and its address), exits non-zero, and
#/      deletes nothing; stack/up.sh then brings Connect back.
#/ Needs the stack up and tmux. Prints what it checks; any failure fails it.
#/
#/ Usage: tests/demo.sh
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh" demo-test "$@"
command -v tmux >/dev/null || die "tmux is missing (apt-get install tmux; stack/install.sh installs it)"
tmp="$(mktemp -d)"
# A tmux server of its own (socket cdc-demo-test): nothing of the user's tmux is touched, and a
# stale default socket cannot get in the way.
tmux() { command tmux -L cdc-demo-test "$@"; }
trap 'tmux kill-server 2>/dev/null || :; rm -rf "$tmp"' EXIT

runs_count() { app_sql "SELECT count(*) FROM outbox_demo.runs"; }

before="$(runs_count)"
# The demo's own objectives are latency targets for this machine at its normal pace: a test of
# the scripts must not fail because the machine is slower (speed is the benchmarks' business).
# Generous objectives here; the latency is still measured and shown.
generous="$tmp/generous-slo.json"
printf '{"p50_max_ms": 60000, "p95_max_ms": 60000, "p99_max_ms": 60000, "throughput_min_eps": 1}\n' >"$generous"

# ---- 1. cleanup.sh without a terminal and without --yes
scripts/demo/cleanup.sh </dev/null >"$tmp/cleanup.out" 2>&1 && rc=0 || rc=$?
[ "$rc" -ne 0 ] || fail "cleanup.sh without --yes and without a terminal exited 0"
grep -q -- "--yes" "$tmp/cleanup.out" || fail "cleanup.sh did not say to use --yes: $(cat "$tmp/cleanup.out")"
[ "$(runs_count)" = "$before" ] || fail "cleanup.sh deleted runs without being asked to"
pass "cleanup.sh refuses without --yes when it cannot ask"

# ---- 2. the dashboard in a pseudo-terminal, after setup.sh (a fresh stack's processor group
# would otherwise start at the beginning of the topic, behind every event the other tests wrote)
scripts/demo/setup.sh || fail "setup.sh failed on a healthy stack (above)"
events=1500
# run_demo.sh's stdout is the pane (the dashboard starts only on a terminal); its report is read
# from the run folder afterwards.
tmux new-session -d -s demo-test -x 120 -y 40 \
  "SLO_FILE=$generous TARGET_EVENTS=$events RATE=120 LOG_LEVEL=INFO scripts/demo/run_demo.sh 2>$tmp/dash.err; echo \$? >$tmp/dash.rc"
screen=""
verified=""
mid_run() { [ -n "$verified" ] && [ "$verified" -ge 600 ] && [ "$verified" -lt "$events" ]; }
deadline=$((SECONDS + 120))
while [ "$SECONDS" -lt "$deadline" ]; do
  sleep 1
  # the session ends with run_demo.sh: then there is nothing more to capture
  screen="$(tmux capture-pane -p -t demo-test 2>/dev/null)" || break
  verified="$(printf '%s\n' "$screen" | sed -n "s#.*[^0-9]\([0-9][0-9]*\)/$events verified.*#\1#p" | head -n 1)"
  # mid-run: well past the start, well before the end
  if mid_run; then break; fi
  [ ! -f "$tmp/dash.rc" ] || break
done
printf '%s\n' "$screen" >"$tmp/screen.txt"
cat "$tmp/screen.txt" >&2
mid_run ||
  fail "no capture of the dashboard mid-run (verified '${verified:-none}' of $events; run_demo.sh exit $(cat "$tmp/dash.rc" 2>/dev/null || echo 'none yet'); its stderr: $(tail -n 20 "$tmp/dash.err"))"
for panel in "Throughput" "Backlog" "Latency per stage" "End to end by event type" "Recent events"; do
  grep -q "┌ $panel" "$tmp/screen.txt" || fail "the dashboard has no '$panel' panel"
done
number='[0-9]+(\.[0-9]+)?'
grep -Eq "run [0-9]+ +rate mode · target $events events at 120/s · elapsed $number s · following" "$tmp/screen.txt" ||
  fail "the header does not name the run, its target, rate and elapsed time"
grep -Eq "Kafka +[1-9][0-9]*(\.[0-9]+)? ev/s +MongoDB +[1-9][0-9]*(\.[0-9]+)? ev/s" "$tmp/screen.txt" ||
  fail "the throughput panel shows no live rates"
for stage in commit capture publish queue process end_to_end; do
  grep -Eq "│$stage +[1-9][0-9]* +$number +$number +$number +$number" "$tmp/screen.txt" ||
    fail "the latency panel has no live figures for stage $stage"
done
for type in UserCreated ActivityCreated ParticipantJoined; do
  grep -Eq "│$type +[1-9][0-9]* +$number +$number" "$tmp/screen.txt" ||
    fail "the by-type panel has no live figures for $type"
done
grep -Eq "seq +[1-9][0-9]* +(UserCreated|ActivityCreated|ParticipantJoined) +$number ms" "$tmp/screen.txt" ||
  fail "the recent events panel lists no event"
grep -Eq "processor lag +[0-9]+ records" "$tmp/screen.txt" || fail "the backlog panel shows no processor lag"
pass "the dashboard shows every panel with live numbers ($verified/$events verified when captured)"
wait_until 120 test -f "$tmp/dash.rc" || fail "run_demo.sh under tmux did not finish within 120 s"
rc="$(cat "$tmp/dash.rc")"
run="$(readlink "$DEMO_DIR/latest")"
run="${run#run-}"
[ "$rc" -le 1 ] || fail "run_demo.sh under tmux could not run, or its run is incomplete (exit $rc): $(tail -n 5 "$tmp/dash.err")"
[ "$(jq -r .integrity.passed "$(run_dir "$run")/report.json")" = true ] ||
  fail "run $run (dashboard) did not pass integrity: $(cat "$(run_dir "$run")/report.txt")"
pass "run $run under the dashboard: integrity passed (exit $rc)"

# ---- 3. full_demo.sh without a terminal
start=$SECONDS
SLO_FILE="$generous" RATE=400 WARMUP_EVENTS=1000 scripts/demo/full_demo.sh </dev/null >"$tmp/full.out" 2>"$tmp/full.err" && rc=0 || rc=$?
cat "$tmp/full.out"
[ "$rc" -eq 0 ] || {
  tail -n 40 "$tmp/full.err" >&2
  fail "full_demo.sh exited $rc"
}
grep -q '^full demo: PASS' "$tmp/full.out" || fail "full_demo.sh did not print its PASS line"
for n in 10 100 1000 10000; do
  line="$(grep "^load_$n " "$tmp/full.out")" || fail "the summary has no row for load_$n"
  [[ "$line" =~ pass[[:space:]]+met[[:space:]]+pass$ ]] || fail "load_$n did not pass: $line"
  run="$(awk '{ print $2 }' <<<"$line")"
  report="$(run_dir "$run")/verify/report.json"
  [ "$(jq -r '[.run.written, .counts.kafka, .counts.receipts, .counts.matched] | unique | length' "$report")" = 1 ] ||
    fail "run $run: written, on Kafka, receipts and matched differ: $(jq -c .counts "$report")"
  [ "$(jq -r .run.written "$report")" = "$n" ] || fail "run $run wrote $(jq -r .run.written "$report") events, not $n"
  [ "$(jq -r '.integrity.missing_total + .integrity.applied_twice + .integrity.broken_references + .integrity.missing_effects' "$report")" = 0 ] ||
    fail "run $run: integrity findings: $(jq -c .integrity.findings "$report")"
done
pass "full_demo.sh without a terminal: exit 0, the four loads verified and passing ($((SECONDS - start)) s)"

# ---- 4. setup.sh with Kafka Connect stopped (last: restarting Connect leaves its JVM cold)
before="$(runs_count)"
stack/down.sh connect
scripts/demo/setup.sh >"$tmp/setup.out" 2>&1 && rc=0 || rc=$?
cat "$tmp/setup.out" >&2
[ "$rc" -ne 0 ] || fail "setup.sh exited 0 with Kafka Connect stopped"
grep -q "Kafka Connect with Debezium at $CONNECT_ADDR" "$tmp/setup.out" ||
  fail "setup.sh did not name Kafka Connect and its address $CONNECT_ADDR"
grep -q "stack/up.sh" "$tmp/setup.out" || fail "setup.sh did not say how to start it (stack/up.sh)"
[ "$(runs_count)" = "$before" ] || fail "setup.sh changed outbox_demo.runs while it refused to run"
pass "setup.sh with Kafka Connect stopped names it, exits $rc, deletes nothing"
stack/up.sh
