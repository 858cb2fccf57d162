#!/usr/bin/env bash
#/ The soak (scripts/demo/soak.sh), short: three minutes at 100 events/s in runs of 30 s, a
#/ connect-kill at 60 s and a store-pause at 120 s, resources sampled each second.
#/   1. event-processor: exit 0, soak.json says pass: every event written verified, nothing
#/      lost or applied twice, both faults healed and recovered (a recovery time each), the
#/      memory of the daemon and the processor judged by the leak rule (not "not judged"), the
#/      timeline and the resource samples there; soak.html and soak.txt written.
#/   2. the same with a consumer that drops every 50th event (the example Python consumer,
#/      DROP_EVERY=50): exit 1, soak.json says fail with the events lost, lost = written -
#/      verified, and every lost event soak.txt names has no line in the consumer's metrics
#/      file.
#/ Needs the stack up, the release binaries and stack/install.sh's Python venv.
#/
#/ Usage: tests/soak.sh
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh" soak-test "$@"

tmp="$(mktemp -d)"
finish() { rm -rf "$tmp"; }
trap finish EXIT
trap 'exit 130' INT TERM HUP

# soak NAME [VAR=VALUE...] -> runs the short soak into $tmp/NAME; its exit status in $rc.
soak() {
  local name="$1"
  shift
  rc=0
  env DEMO_BINARIES_BUILT=1 DURATION=3m FAULT_EVERY=60s SETTLE=30s RATE=100 WINDOW_S=30 SAMPLE_S=1 \
    FAULTS="connect-kill store-pause" DRAIN_S=120 SOAK_DIR="$tmp/$name" "$@" \
    scripts/demo/soak.sh >"$tmp/$name.out" 2>"$tmp/$name.err" || rc=$?
}
show() { printf '%s\n--- %s\n%s\n' "$(cat "$tmp/$1.out")" "last lines of its log" "$(tail -n 8 "$tmp/$1.err")"; }

# ---- 1. a correct consumer
soak correct
s="$tmp/correct/soak.json"
[ "$rc" -eq 0 ] || fail "the soak with event-processor exited $rc: $(show correct)"
jq -e '.verdict == "pass" and .totals.written > 0 and .totals.verified == .totals.written
  and .totals.lost == 0 and .totals.applied_twice == 0 and .totals.pending == 0' "$s" >/dev/null ||
  fail "soak.json: $(jq -c '{verdict, reasons, totals}' "$s")"
jq -e '[.faults[].fault] == ["connect-kill", "store-pause"] and all(.faults[]; .healed_us != null and .recovery_s != null)' "$s" >/dev/null ||
  fail "the faults are not both there, healed and recovered: $(jq -c '.faults' "$s")"
jq -e 'all(.leaks[]; .verdict == "pass") and (.leaks | length) == 2' "$s" >/dev/null ||
  fail "the leak rule did not judge the daemon and the processor: $(jq -c '.leaks' "$s")"
# events in every 10 s of the load, and resources sampled from its start to its end (each
# second asked; a sample takes a fraction of one on a busy machine)
jq -e '(.timeline | map(select(.events > 0)) | length) >= 17 and (.resources | length) >= 90
  and (.resources[0].at_us - .meta.started_us) < 10e6 and (.meta.load_ended_us - .resources[-1].at_us) < 10e6' "$s" >/dev/null ||
  fail "the timeline or the resource samples are thin: $(jq -c '{buckets: (.timeline | length), with_events: (.timeline | map(select(.events > 0)) | length), samples: (.resources | length)}' "$s")"
grep -q '<h1>Soak: <span>PASS</span></h1>' "$tmp/correct/soak.html" || fail "soak.html does not say PASS"
grep -q '^soak: PASS' "$tmp/correct/soak.txt" || fail "soak.txt does not say PASS"
pass "a 3-minute soak with connect-kill and store-pause: pass, $(jq -r '.totals | "\(.verified) of \(.written) verified, \(.lost) lost, \(.applied_twice) applied twice, \(.kafka_duplicates) Kafka duplicates"' "$s"); recovery $(jq -r '[.faults[] | "\(.fault) \(.recovery_s) s"] | join(", ")' "$s"); memory $(jq -r '[.leaks[] | "\(.part) \(.growth * 1000 | round / 10) %"] | join(", ")' "$s")"

# ---- 2. a consumer that drops events
soak dropping DROP_EVERY=50
s="$tmp/dropping/soak.json"
[ "$rc" -eq 1 ] || fail "the soak with a consumer dropping every 50th event exited $rc, not 1: $(show dropping)"
jq -e '.verdict == "fail" and .totals.lost > 0 and .totals.lost == .totals.written - .totals.verified
  and .totals.pending == 0 and (.reasons | any(test("events lost")))' "$s" >/dev/null ||
  fail "soak.json: $(jq -c '{verdict, reasons, totals}' "$s")"
named="$(grep -o 'seq [0-9]* ([0-9a-f-]*)' "$tmp/dropping/soak.txt" | grep -o '[0-9a-f-]\{36\}')" ||
  fail "soak.txt names no lost event: $(cat "$tmp/dropping/soak.txt")"
while read -r id; do
  ! grep -q "$id" "$tmp/dropping/consumer-metrics.jsonl" || fail "event $id is named lost but the consumer's metrics file has it"
done <<<"$named"
pass "the same with a consumer dropping every 50th event: exit 1, $(jq -r '.totals.lost' "$s") of $(jq -r '.totals.written' "$s") lost; the $(wc -l <<<"$named") events soak.txt names have no line in the consumer's metrics file"
