#!/usr/bin/env bash
#/ Benchmark (not a test): where the boundary between `publish` and `queue` falls, on one
#/ stack, same script, same rate. The CDC topic's message.timestamp.type decides what T2 is:
#/   CreateTime     Kafka Connect's producer stamps the record when it creates it, so its
#/                  linger, its request and the broker's append count in `queue`;
#/   LogAppendTime  the broker stamps its append (what stack/up.sh sets), so they count in
#/                  `publish`.
#/ Runs a warm-up, then one demo run (scripts/demo/run_demo.sh) on each setting, and prints the
#/ publish and queue percentiles of each side by side with the ratio LogAppendTime/CreateTime,
#/ and the T2 kind each report names. End to end is the same pipeline either way: only the
#/ split moves. Leaves the topic on LogAppendTime (records written meanwhile keep their stamp).
#/
#/ Usage: [N=3000] [RATE=200] bench/timestamps.sh
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/../scripts/demo/lib.sh"

no_arguments "$@"
N="${N:-3000}"
RATE="${RATE:-200}"
[[ "$N" =~ ^[1-9][0-9]*$ ]] || die "N must be a positive whole number (got '$N')"
require_up postgresql kafka connect ferretdb
kafka_is_local || die "this benchmark alters the CDC topic: run it on the local stack, not on $KAFKA_BOOTSTRAP"

set_timestamp_type() {
  kafka_tool kafka.admin.ConfigCommand --bootstrap-server "$KAFKA_BOOTSTRAP" --entity-type topics \
    --entity-name "$CDC_TOPIC" --alter --add-config "message.timestamp.type=$1" \
    >>"$LOG_DIR/kafka-tools.log" 2>&1 || die "could not set message.timestamp.type=$1 on $CDC_TOPIC; see $LOG_DIR/kafka-tools.log"
}
trap 'set_timestamp_type LogAppendTime' EXIT

# run_on TYPE -> one demo run of N events at RATE with the topic on TYPE; prints its report.json
run_on() {
  set_timestamp_type "$1"
  log "bench: $N events at $RATE/s with message.timestamp.type=$1"
  TARGET_EVENTS="$N" RATE="$RATE" LOG_LEVEL=WARNING "$REPO_ROOT/scripts/demo/run_demo.sh" >/dev/null && rc=0 || rc=$?
  [ "$rc" -le 1 ] || die "the run on $1 could not be verified (exit $rc)"
  printf '%s\n' "$(run_dir "$(readlink "$DEMO_DIR/latest" | sed 's/^run-//')")/report.json"
}

"$REPO_ROOT/scripts/demo/setup.sh" >/dev/null
log "bench: warm-up"
run_on LogAppendTime >/dev/null
create="$(run_on CreateTime)"
append="$(run_on LogAppendTime)"

echo "T2 boundary: $N events at $RATE/s per setting; $(nproc) cores, $(uname -m), $(date -I)"
jq -rn --slurpfile c "$create" --slurpfile a "$append" '
  def st($r; $s): $r.stages[] | select(.name == $s);
  def f($v): if $v == null then "-" else ($v * 100 | round / 100 | tostring) end;
  def ratio($x; $y): if $x == null or $y == null or $y == 0 then "-" else ($x / $y * 100 | round / 100 | tostring) + "x" end;
  ["stage", "percentile", "CreateTime ms", "LogAppendTime ms", "LogAppendTime/CreateTime"],
  (("publish", "queue", "end_to_end") as $s | ("p50_ms", "p99_ms") as $p
   | [$s, $p, f(st($c[0]; $s)[$p]), f(st($a[0]; $s)[$p]), ratio(st($a[0]; $s)[$p]; st($c[0]; $s)[$p])]),
  [],
  ["run", "t2_kind", "records", "verdict"],
  ($c[0], $a[0] | [(.run.run_id | tostring), .t2_kind, (.t2_records | tostring), .verdict])
  | @tsv' | column -t -s $'\t'
