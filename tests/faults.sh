#!/usr/bin/env bash
#/ Fault tests on the real stack (scripts/test.sh runs them): scripts/demo/faults.sh with three
#/ scenarios, short runs (200 events/s for 15 s, the fault at 40 %):
#/   processor-kill (kill -9 of event-processor, restarted 3 s later), connect-kill (kill -9 of
#/   the Kafka Connect worker, stack/up.sh starts it again) and store-pause (SIGSTOP of FerretDB
#/   for 10 s).
#/ Each must pass with 0 missing and 0 applied twice, its report must show the fault (start and
#/ healing from the fault log) and a finite time to recover, and the run must be judged on
#/ integrity alone. About 70 s. Needs the stack up and the release binaries.
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
