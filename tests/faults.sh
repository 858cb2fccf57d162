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
#/ About 90 s. Needs the stack up, the release binaries and the Python consumer's venv.
#/
#/ Usage: tests/faults.sh
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
source scripts/demo/lib.sh
LOG_TAG=faults-test

case "${1:-}" in
  -h | --help)
    script_help
    exit 0
    ;;
esac
fail() {
  printf '[faults-test] FAILED: %s\n' "$*" >&2
  exit 1
}
pass() { printf '[faults-test] ok: %s\n' "$*" >&2; }
tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT

FAULTS_DIR="$tmp/faults" RATE=200 DURATION_S=15 FAULTS_DB=faults_test FAULTS_GROUP="faults-test-$$" \
  scripts/demo/faults.sh processor-kill connect-kill store-pause >"$tmp/out" 2>"$tmp/err" && rc=0 || rc=$?
cat "$tmp/out"
[ "$rc" -eq 0 ] || {
  tail -n 30 "$tmp/err" >&2
  fail "faults.sh exited $rc"
}
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
  grep -q "^fault: $s from" "$report" && grep -q 'shown, not judged' "$report" ||
    fail "$s: report.txt does not name the fault or still judges the SLOs: $(grep -A2 '^fault\|^SLO' "$report")"
  pass "$s: 3000 of 3000, 0 missing, 0 applied twice, $(jq -r .kafka_duplicates <<<"$row") Kafka duplicates, recovered $(jq -r .fault.recovery_s <<<"$row") s after healing (worst end to end $(jq -r '.fault.worst_ms | round' <<<"$row") ms)"
done

# ---- a consumer that loses events, restarted mid-run: the fault run fails and names them
FAULTS_DIR="$tmp/lossy" RATE=200 DURATION_S=10 FAULTS_DB=faults_test FAULTS_GROUP="faults-test-$$-lossy" \
  FAULT_CONSUMER=python DROP_EVERY=100 IDLE_TIMEOUT=15 \
  scripts/demo/faults.sh processor-restart >"$tmp/lossy.out" 2>"$tmp/lossy.err" && rc=0 || rc=$?
[ "$rc" -eq 1 ] || {
  tail -n 30 "$tmp/lossy.err" >&2
  fail "a consumer dropping every 100th event, restarted mid-run: faults.sh exited $rc, not 1"
}
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
