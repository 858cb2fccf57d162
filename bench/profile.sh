#!/usr/bin/env bash
#/ Benchmark (not a test): which stage holds one run's end-to-end latency, and why. One demo run
#/ (scripts/demo/run_demo.sh, N events at RATE/s, event-processor with SETTINGS, default its own
#/ defaults) after a warm-up of N/4 events, with perf sampling every CPU of the machine at FREQ
#/ Hz during it (perf record -a, on-CPU samples, no call graphs). Prints:
#/   stages     each stage's mean, p50 and p99, and its share of the end-to-end mean (means add
#/              up where percentiles do not: generator lag + commit + capture + publish + queue +
#/              process is end to end, event by event)
#/   machine    where both cores went during the run: each service's share of all samples
#/              (PostgreSQL with every backend, Kafka, Kafka Connect, FerretDB, event-processor,
#/              the verifier, the rest) and how much was idle
#/   inside     FerretDB's and event-processor's own samples by component: the Go package or
#/              Rust crate of the function each sample was in (SQLite, the Go runtime, the
#/              kernel, librdkafka, the MongoDB driver, …), the top ones
#/   commands   FerretDB's samples by the command they served (a second perf with call graphs
#/              on FerretDB alone): insert, update, find, … and, inside each, its transactions'
#/              begin and commit, SQLite's statements, decoding and encoding documents (sjson),
#/              BSON; then what ran outside any command (Go's collector, its sysmon, …). Who
#/              sends what: the consumer inserts and updates, the verifier finds its receipts
#/ perf.data and the run's reports stay in .stack/bench/profile/<time>/. Needs perf (apt-get
#/ install linux-perf), root (system-wide sampling) and the single-node stack (stack/up.sh).
#/
#/ Usage: [N=20000] [RATE=1000] [SETTINGS=""] [FREQ=499] bench/profile.sh
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/../scripts/demo/lib.sh"

no_arguments "$@"
N="${N:-20000}"
RATE="${RATE:-1000}"
FREQ="${FREQ:-499}"
SETTINGS="${SETTINGS:-}"
for v in "$N" "$RATE" "$FREQ"; do
  [[ "$v" =~ ^[1-9][0-9]*$ ]] || die "N, RATE and FREQ must be positive whole numbers (got '$v')"
done
check_processor_settings SETTINGS "$SETTINGS"
command -v perf >/dev/null || die "bench/profile.sh needs perf: apt-get install linux-perf"
[ "$(id -u)" = 0 ] || die "bench/profile.sh samples every CPU (perf record -a): run it as root"
require_stack
cluster_profile && die "bench/profile.sh profiles the single-node stack; this stack runs the cluster profile (stack/up.sh --profile single)"

out="$STACK_DIR/bench/profile/$(date +%Y%m%d-%H%M%S)"
mkdir -p "$out"
perf_pids=()
stop_perf() {
  local pid rc
  for pid in "${perf_pids[@]}"; do
    rc=0
    kill -INT "$pid" 2>/dev/null || log "perf (pid $pid) had already ended"
    wait "$pid" || rc=$?
    # perf record ends with 130 when stopped by SIGINT, which is how it is stopped here
    [ "$rc" -eq 0 ] || [ "$rc" -eq 130 ] || die "perf record failed (exit $rc): see $out/perf*.log"
  done
  perf_pids=()
}
trap stop_perf EXIT

"$REPO_ROOT/scripts/demo/setup.sh" >/dev/null
bench_pids
bench_run "$SETTINGS" "$((N / 4))" "$RATE" >/dev/null
log "bench: perf record -a -F $FREQ into $out/perf.data"
perf record -a -F "$FREQ" -o "$out/perf.data" >"$out/perf.log" 2>&1 &
perf_pids+=($!)
if [ -n "$store_pid" ]; then
  log "bench: perf record -g -F $FREQ -p $store_pid (FerretDB, call graphs) into $out/ferretdb.perf.data"
  perf record -g -F "$FREQ" -p "$store_pid" -o "$out/ferretdb.perf.data" >"$out/perf-ferretdb.log" 2>&1 &
  perf_pids+=($!)
fi
dir="$(bench_run "$SETTINGS" "$N" "$RATE")"
stop_perf
cp "$dir/report.json" "$dir/processor.log" "$out/"

what="${SETTINGS:-the defaults}"
echo "profile: $N events at $RATE/s, event-processor with $what; $(nproc) cores, $(uname -m), $(date -I); run $(jq -r .run.run_id "$out/report.json"): $(jq -r .verdict "$out/report.json"), $(jq -r .throughput.events_per_s "$out/report.json") events/s"
echo
jq -r '
  (.stages | map({(.name): .}) | add) as $s | ([.generator_lag] + .stages) as $all |
  $s.end_to_end.mean_ms as $e2e |
  def f: if . == null then "-" else (. * 100 | round / 100 | tostring) end;
  def row: "\(.[0] | . + " " * (14 - length))\(.[1:] | map(" " * (10 - length) + .) | join(""))";
  (["stage", "mean_ms", "p50_ms", "p99_ms", "of e2e"] | row),
  ($all[] | select(.name != "end_to_end") |
    [.name, (.mean_ms | f), (.p50_ms | f), (.p99_ms | f),
     (if $e2e > 0 and .mean_ms != null then (.mean_ms / $e2e * 100 | round | tostring) + " %" else "-" end)] | row),
  (["end_to_end", ($e2e | f), ($s.end_to_end.p50_ms | f), ($s.end_to_end.p99_ms | f),
    "100 %"] | row),
  ($all[] | select(.unmeasured > 0) | "\(.name): \(.unmeasured) events not measured (counted, not in its figures)"),
  "(the stages'"'"' means add up to \(([$all[] | select(.name != "end_to_end") | .mean_ms] | map(. // 0) | add) / $e2e * 100 | round) % of the end-to-end mean)"' \
  "$out/report.json"

# one line per sample: the process, the function and the binary it was in (a binary rebuilt while
# it ran, as the stack's verifier serve is when a demo builds it again, without perf's " (deleted)")
perf script -i "$out/perf.data" -F pid,ip,sym,dso 2>/dev/null | sed 's/ (deleted))$/)/' >"$out/samples.txt"
# each process's service, from its pid (the stack's) or the binary its samples were in
awk -v pg="$postgres_pid" -v kafka="$kafka_pid" -v connect="$connect_pid" -v store="$store_pid" '
  $1 == 0 { r[$1] = "idle" }
  $1 == kafka { r[$1] = "kafka" }
  $1 == connect { r[$1] = "connect (debezium)" }
  $1 == store { r[$1] = "ferretdb" }
  $1 == pg || $NF ~ /\/postgres\)$/ { r[$1] = "postgresql" }
  $NF ~ /\/event-processor\)$/ { r[$1] = "event-processor" }
  $NF ~ /\/verifier\)$/ { r[$1] = "verifier" }
  END { for (p in r) print p, r[p] }' "$out/samples.txt" >"$out/services.txt"
echo
echo "where both cores went (share of perf's samples on every CPU; idle is the idle task; the rest is"
echo "the scripts, psql, perf and the kernel's own threads):"
awk 'NR == FNR { p = $1; $1 = ""; r[p] = substr($0, 2); next }
  { n[($1 in r) ? r[$1] : "the rest"]++; all++ }
  END { for (s in n) printf "%6.1f %%  %s\n", 100 * n[s] / all, s }' "$out/services.txt" "$out/samples.txt" | sort -rn

# components SERVICE -> the top components of SERVICE's samples: the Go package or Rust crate of
# the function each was in (the Go runtime split into its collector and allocator, and the rest)
components() {
  awk -v who="$1" '
    NR == FNR { p = $1; $1 = ""; if (substr($0, 2) == who) mine[p] = 1; next }
    !($1 in mine) { next }
    {
      dso = $NF; sym = $0; sub(/^ *[0-9]+ +[0-9a-f]+ +/, "", sym); sub(/ +\([^)]*\)$/, "", sym)
      if (dso ~ /kernel/) c = "kernel"
      else if (sym ~ /^rd_/) c = "librdkafka"
      else if (sym ~ /^modernc\.org\/(sqlite|libc)/) c = "sqlite (modernc, in Go)"
      else if (sym ~ /^runtime\.(.*gc|.*[Ss]can|.*[Mm]ark|malloc|newobject|greyobject|.*sweep|heapBits|findObject|wbBuf|bulkBarrier|memclrNoHeap|spanOf|typePointers|tryDefer|nextFreeFast|step$|pcvalue|findfunc|\(\*(mspan|mheap|mcache|mcentral|gcWork|pageAlloc|gcBits)\))/) c = "go runtime: collector and allocator"
      else if (sym ~ /^runtime\./) c = "go runtime: scheduler, locks, the rest"
      else if (sym ~ /::/) { c = sym; sub(/^</, "", c); sub(/::.*/, "", c); sub(/ as .*/, "", c) }
      else if (sym ~ /\//) { c = sym; sub(/\.[^\/]*$/, "", c) }
      else if (dso ~ /libc\.so|libc-/) c = "libc"
      else if (sym == "[unknown]") c = "unknown (" dso ")"
      else { c = sym; sub(/\..*/, "", c) }
      n[c]++; all++
    }
    END { for (c in n) printf "%6.1f %%  %s\n", 100 * n[c] / all, c }' "$out/services.txt" "$out/samples.txt" |
    sort -rn | head -n 8
}
# by_command -> FerretDB's samples (its own perf, with call graphs) by the command each served
# (the handler's Msg<Command> frame in its stack) and what inside it: a stack is counted once,
# in the first of transactions, decode, encode, sqlite, bson it holds, else the rest
by_command() {
  perf script -i "$out/ferretdb.perf.data" -F ip,sym 2>/dev/null >"$out/ferretdb-stacks.txt"
  echo
  echo "inside ferretdb by command (share of its samples; its own perf with call graphs):"
  printf "  %-42s %6s %7s %7s %7s %7s %7s %7s\n" command all tx sqlite decode encode bson rest
  awk '
    function flush(   op, part) {
      if (stack == "") return
      if (match(stack, /handler\.\(\*Handler\)\.Msg[A-Za-z]+\|/)) {
        op = tolower(substr(stack, RSTART + 22, RLENGTH - 23))
      } else if (stack ~ /runtime\.gcBgMarkWorker/) op = "(no command) the Go collector"
      else if (stack ~ /runtime\.sysmon/) op = "(no command) the Go runtime sysmon"
      else if (stack ~ /clientconn/) op = "(no command) reading and writing messages"
      else if (stack ~ /runtime\./) op = "(no command) the Go scheduler, the rest"
      else op = "(no command) the rest"
      if (stack ~ /database\/sql\.\(\*(Tx\)\.(Commit|Rollback)|DB\)\.BeginTx)/) part = "tx"
      else if (stack ~ /sjson\.Unmarshal/) part = "decode"
      else if (stack ~ /sjson\.Marshal/) part = "encode"
      else if (stack ~ /modernc\.org\//) part = "sqlite"
      else if (stack ~ /wirebson|internal\/bson\./) part = "bson"
      else part = "rest"
      n[op]++; p[op, part]++; all++
      stack = ""
    }
    /^$/ { flush(); next }
    { sym = $2; for (i = 3; i <= NF; i++) sym = sym " " $i; stack = stack sym "|" }
    END {
      flush()
      split("tx sqlite decode encode bson rest", parts, " ")
      for (op in n) {
        printf "%d\t  %-42s %5.1f%%", n[op], op, 100 * n[op] / all
        for (i = 1; i <= 6; i++) printf " %6.1f%%", 100 * p[op, parts[i]] / all
        printf "\n"
      }
    }' "$out/ferretdb-stacks.txt" | sort -rn | cut -f2-
  echo "  (tx: the transactions' begin and commit, SQLite's WAL writes in them; sqlite: the"
  echo "  statements; decode, encode: documents from and to SQLite's JSON (sjson); bson: the wire's"
  echo "  documents. The consumer sends insert and update, the verifier find for its receipts)"
}
inside() {
  echo
  if grep -q " $1\$" "$out/services.txt"; then
    echo "inside $1 (its samples by component):"
    components "$1"
  else
    echo "inside $1: no samples"
  fi
}
inside ferretdb
inside event-processor
[ -z "$store_pid" ] || by_command
echo
echo "files: $out"
