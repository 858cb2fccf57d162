#!/usr/bin/env bash
#/ Benchmark (not a test): the pipeline's own latency settings, each against the stack's, on one
#/ stack in one run. For every setting the connector's config is replaced through Kafka Connect's
#/ REST API (PUT /connectors/NAME/config: debezium-outbox.properties with the setting's lowercase
#/ words on top; the task restarts, the worker and its JIT stay warm), a warm-up run of N/4
#/ events passes, then one demo run (scripts/demo/run_demo.sh, N events at RATE/s, the processor
#/ with the setting's UPPERCASE words) is measured. The settings:
#/   stack                        debezium-outbox.properties and connect-standalone.properties as
#/                                they are (poll.interval.ms=5, max.batch.size=2048, the
#/                                producer's linger.ms=1)
#/   poll.interval.ms=500         Debezium's default poll interval
#/   poll.interval.ms=1           a shorter one
#/   max.batch.size=256           smaller batches from Debezium's queue
#/   producer.override.linger.ms=5  the Kafka 4 producer's default linger (a per-connector
#/                                override of the worker's producer.linger.ms)
#/   producer.override.linger.ms=0  no linger
#/   FETCH_WAIT_MS=500            the processor's fetch wait before issue 14 (librdkafka's
#/                                default fetch.wait.max.ms; the processor's default is 50)
#/ Prints per setting the capture, publish and end-to-end percentiles, the throughput, the
#/ ratio of its end-to-end p50 and p99 to the stack's (the best of the stack's runs), Kafka
#/ Connect's CPU seconds per 1,000 events and how busy the machine was (/proc/stat). The stack's
#/ settings run first and last (so a drift of the machine shows) and are restored at the end,
#/ also when a run fails.
#/
#/ Usage: [N=20000] [RATE=1000] [SETTINGS="poll.interval.ms=500;…"] bench/pipeline.sh
#/   SETTINGS  ';'-separated; each is one or more space-separated words: a connector config
#/             name=value (lowercase) or a processor setting NAME=VALUE (IN_FLIGHT, STORE_WRITERS,
#/             BATCH_SIZE, FETCH_WAIT_MS, EARLY_JOINS); an empty one is the stack's settings again
#/             (";poll.interval.ms=1;" interleaves)
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/../scripts/demo/lib.sh"

no_arguments "$@"
N="${N:-20000}"
RATE="${RATE:-1000}"
SETTINGS="${SETTINGS-poll.interval.ms=500;poll.interval.ms=1;max.batch.size=256;producer.override.linger.ms=5;producer.override.linger.ms=0;FETCH_WAIT_MS=500}"
for v in "$N" "$RATE"; do
  [[ "$v" =~ ^[1-9][0-9]*$ ]] || die "N and RATE must be positive whole numbers (got '$v')"
done
IFS=';' read -r -a variants <<<"$SETTINGS"
# connector_words SETTING / processor_words SETTING -> the words of SETTING for Connect / the
# processor
connector_words() { words_matching '^[a-z]' "$1"; }
processor_words() { words_matching '^[A-Z]' "$1"; }
words_matching() {
  local word out=()
  for word in $2; do
    if [[ "$word" =~ $1 ]]; then out+=("$word"); fi
  done
  echo "${out[*]}"
}
for variant in "${variants[@]}"; do
  for word in $variant; do
    [[ "$word" =~ ^([a-z][a-z.]*=[0-9A-Za-z_.-]+|[A-Z][A-Z_]*=[0-9]+)$ ]] ||
      die "SETTINGS holds connector config name=value and processor NAME=VALUE words, ';' between settings (got '$word')"
  done
  check_processor_settings SETTINGS "$(processor_words "$variant")"
done
cluster_profile && die "bench/pipeline.sh measures the single-node stack; this stack runs the cluster profile (stack/up.sh --profile single)"
require_stack

# apply_config SETTING -> the connector runs with debezium-outbox.properties plus SETTING, its
# task streaming from the slot again
apply_config() {
  local body
  body="$(connector_config_json)"
  for word in $1; do
    body="$(jq -c --arg k "${word%%=*}" --arg v "${word#*=}" '.[$k] = $v' <<<"$body")"
  done
  log "bench: connector config ${1:-as in debezium-outbox.properties}"
  curl -fsS --max-time 30 -X PUT -H 'Content-Type: application/json' --data "$body" \
    "http://$CONNECT_ADDR/connectors/$CONNECTOR_NAME/config" >>"$LOG_DIR/connect-rest.log" ||
    die "Kafka Connect at $CONNECT_ADDR refused the connector config '$1'; see $LOG_DIR/connect-rest.log and $LOG_DIR/connect.log"
  wait_until 120 connect_healthy ||
    die "the connector did not run again with '$1' within 120 s; see $LOG_DIR/connect.log"
}
restore() { apply_config ""; }

# summary DIR SETTING BEFORE AFTER -> one JSON line: the run's figures and the CPU Connect and
# the machine used between the BEFORE and AFTER snapshots (services_cpu)
summary() {
  jq -c --arg s "$2" --argjson a "$3" --argjson b "$4" --argjson hz "$(getconf CLK_TCK)" '
    .counts.expected as $n |
    {setting: $s, run: .run.run_id, verdict, eps: .throughput.events_per_s,
    connect: (($b.connect - $a.connect) / $hz * 1000 / $n),
    busy: (($b.machine[0] - $a.machine[0]) / ($b.machine[1] - $a.machine[1])),
    stages: [.stages[] | select(.name == "capture" or .name == "publish" or .name == "end_to_end")
             | {name, p50_ms, p95_ms, p99_ms}]}' "$1/report.json"
}

"$REPO_ROOT/scripts/demo/setup.sh" >/dev/null
bench_pids
rows="$(mktemp)"
changed=0
trap 'rm -f "$rows"; [ "$changed" -eq 0 ] || restore' EXIT
for variant in "" "${variants[@]}" ""; do
  changed=1
  apply_config "$(connector_words "$variant")"
  bench_run "$(processor_words "$variant")" "$((N / 4))" "$RATE" >/dev/null
  before="$(services_cpu)"
  dir="$(bench_run "$(processor_words "$variant")" "$N" "$RATE")"
  summary "$dir" "${variant:-stack}" "$before" "$(services_cpu)" >>"$rows"
done
changed=0

echo "pipeline settings: $N events at $RATE/s per run; the stack's settings first and last; $(nproc) cores, $(uname -m), $(date -I)"
jq -rs '
  def st($r; $s): $r.stages[] | select(.name == $s);
  def f($v): if $v == null then "-" else ($v * 100 | round / 100 | tostring) end;
  def ratio($x; $y): if $x == null or $y == null or $y == 0 then "-" else ($x / $y * 100 | round / 100 | tostring) + "x" end;
  (map(select(.setting == "stack")) | min_by(st(.; "end_to_end").p50_ms)) as $b |
  ["run", "setting", "capture p50", "p99", "publish p50", "p99", "e2e p50", "p95", "p99", "events/s", "verdict", "e2e p50 / stack", "p99 / stack", "connect cpu s / 1,000", "machine busy"],
  (.[] | [(.run | tostring), .setting,
          f(st(.; "capture").p50_ms), f(st(.; "capture").p99_ms),
          f(st(.; "publish").p50_ms), f(st(.; "publish").p99_ms),
          f(st(.; "end_to_end").p50_ms), f(st(.; "end_to_end").p95_ms), f(st(.; "end_to_end").p99_ms),
          f(.eps), .verdict,
          ratio(st(.; "end_to_end").p50_ms; st($b; "end_to_end").p50_ms),
          ratio(st(.; "end_to_end").p99_ms; st($b; "end_to_end").p99_ms),
          (.connect * 1000 | round / 1000 | tostring), (.busy * 100 | round | tostring) + " %"])
  | @tsv' "$rows" | column -t -s $'\t'
