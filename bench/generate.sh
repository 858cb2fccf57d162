#!/usr/bin/env bash
#/ Benchmark (not a test): how fast outbox_demo writes events, against two baselines, in one run
#/ on one machine, printing events/s and ratios:
#/   demo_generate(N)            the extension, bulk mode (one transaction)
#/   plain SQL floor             one INSERT … SELECT generate_series of N rows of the same shape
#/                               and size (time-ordered ids, ~208-byte jsonb) into the same table
#/   Python Faker + psycopg2     bench/python_generator.py, N_PY events (batched execute_values)
#/ Targets (issue "outbox_demo"): 1M events in <= 8 s; >= 0.6x the floor; >= 30x Python.
#/
#/ It runs in a scratch database, bench_generate, on the stack's PostgreSQL: same cluster and
#/ settings, the same activity.event_outbox (sql/outbox.sql) and the installed extension build,
#/ but outside database app, so the millions of rows are neither captured into Kafka nor raced
#/ by Debezium's decoding while they are measured. The table is emptied and a CHECKPOINT taken
#/ before each contender. With --profile, perf records the backend during demo_generate and the
#/ inclusive share of each stage of the insert is printed (needs perf: apt-get install linux-perf).
#/
#/ Usage: bench/generate.sh [N] [N_PY] [--profile]     defaults: 1000000 100000
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/../stack/lib.sh"

PROFILE=0
args=()
for a in "$@"; do
  case "$a" in
    --profile) PROFILE=1 ;;
    -h | --help)
      script_help
      exit 0
      ;;
    *) args+=("$a") ;;
  esac
done
N="${args[0]:-1000000}"
N_PY="${args[1]:-100000}"
for v in "$N" "$N_PY"; do
  [[ "$v" =~ ^[1-9][0-9]*$ ]] || die "N and N_PY must be positive whole numbers (got '$v')"
done
require_up postgresql
[ -n "$(pg_admin -d postgres -tAc "SELECT 1 FROM pg_available_extensions WHERE name = 'outbox_demo'")" ] ||
  die "the outbox_demo extension is not installed: run stack/install.sh"
if [ "$PROFILE" -eq 1 ]; then
  command -v perf >/dev/null || die "--profile needs perf: apt-get install linux-perf"
fi

PY="$(bench_venv 'faker, psycopg2' 'Faker==37.4.0' 'psycopg2-binary==2.9.10')"

DB=bench_generate
pg_admin -d postgres -c "DROP DATABASE IF EXISTS $DB" -c "CREATE DATABASE $DB OWNER app" >/dev/null
pg_admin -d "$DB" >/dev/null <<SQL
SET ROLE app;
\i $REPO_ROOT/sql/outbox.sql
RESET ROLE;
CREATE EXTENSION outbox_demo;
GRANT INSERT, UPDATE, DELETE ON outbox_demo.runs TO app;
SQL
# Role app's password comes from PGPASSFILE (stack/lib.sh), never from a command line.
app_psql() { psql -X -q -v ON_ERROR_STOP=1 -h 127.0.0.1 -p "$PGPORT" -U app -d "$DB" "$@"; }

# Empty table, nothing dirty: each contender starts from the same state.
fresh() {
  pg_admin -d "$DB" -c "TRUNCATE activity.event_outbox" -c "CHECKPOINT" >/dev/null
}

# Arithmetic with awk (bc is not on every machine): calc EXPR prints its value, holds EXPR
# succeeds when the comparison is true.
calc() { awk "BEGIN { printf \"%.6f\", $1 }"; }
holds() { awk "BEGIN { exit !($1) }"; }

# seconds CMD... -> runs CMD and prints its wall-clock duration in seconds
seconds() {
  local t0 t1
  t0="$(date +%s.%N)"
  "$@" >/dev/null
  t1="$(date +%s.%N)"
  calc "$t1 - $t0"
}

run_extension() {
  app_psql -c "SELECT * FROM demo_generate($N)"
}

run_floor() {
  app_psql -c "
    INSERT INTO activity.event_outbox (id, run_id, seq, event_type, aggregate_type, aggregate_id, payload)
    SELECT ('01900000-0000-7000-8000-' || lpad(to_hex(g), 12, '0'))::uuid, 1, g,
           'UserCreated', 'user', gen_random_uuid(),
           ('{\"user_id\":\"' || gen_random_uuid() || '\",\"name\":\"Fay Weissnat\",\"email\":\"fay.weissnat.'
            || g || '@yahoo.com\",\"city\":\"Tysonfort\",\"country\":\"Palestinian Territory\",'
            || '\"interests\":[\"cooking\",\"yoga\"]}')::jsonb
      FROM generate_series(1, $N) g"
}

run_python() {
  "$PY" "$REPO_ROOT/bench/python_generator.py" "$N_PY" \
    "host=127.0.0.1 port=$PGPORT user=app dbname=$DB"
}

profile_extension() {
  local pid rc=0
  PGAPPNAME=bench-generate-profile app_psql -c "SELECT pg_sleep(1)" -c "SELECT * FROM demo_generate($N)" >/dev/null &
  local client=$!
  sleep 0.5
  pid="$(pg_admin -d "$DB" -tAc "SELECT pid FROM pg_stat_activity WHERE application_name = 'bench-generate-profile'")"
  [ -n "$pid" ] || die "could not find the profiled backend"
  perf record -q -g -p "$pid" -o "$STACK_DIR/generate.perf" >/dev/null 2>&1 &
  local perf_pid=$!
  wait "$client"
  kill -INT "$perf_pid"
  wait "$perf_pid" || rc=$?
  # perf record ends with 130 when stopped by SIGINT, which is how it is stopped here
  [ "$rc" -eq 0 ] || [ "$rc" -eq 130 ] || die "perf record failed (exit $rc)"
}

echo "generate: $(nproc) cores $(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -1), $(awk '/^MemTotal:/ {printf "%.0f GiB", $2 / 1048576}' /proc/meminfo), $(uname -m), $(date -I)"
echo "PostgreSQL $(pg_admin -d postgres -tAc 'SHOW server_version'), shared_buffers $(pg_admin -d postgres -tAc 'SHOW shared_buffers'), max_wal_size $(pg_admin -d postgres -tAc 'SHOW max_wal_size'), database $DB"

fresh
t_ext="$(seconds run_extension)"
fresh
t_floor="$(seconds run_floor)"
fresh
t_py="$(seconds run_python)"

e_ext="$(calc "$N / $t_ext")"
e_floor="$(calc "$N / $t_floor")"
e_py="$(calc "$N_PY / $t_py")"
row() { printf '%-40s %10s %9.2f %12.0f %17.2f\n' "$1" "$2" "$3" "$4" "$(calc "$e_ext / $4")"; }
printf '\n%-40s %10s %9s %12s %17s\n' contender events seconds events/s "demo_generate is"
row "demo_generate($N)" "$N" "$t_ext" "$e_ext"
row "plain SQL floor (INSERT ... SELECT)" "$N" "$t_floor" "$e_floor"
row "Python Faker + psycopg2 (batched)" "$N_PY" "$t_py" "$e_py"

verdict() { if holds "$1"; then echo met; else echo "NOT met"; fi; }
t_1m="$(calc "1000000 / $e_ext")"
printf '\ntargets: 1M events in <= 8 s: %s (%.1f s at this rate); >= 0.6x the floor: %s (%.2fx); >= 30x Python: %s (%.1fx)\n' \
  "$(verdict "$t_1m <= 8")" "$t_1m" \
  "$(verdict "$e_ext >= 0.6 * $e_floor")" "$(calc "$e_ext / $e_floor")" \
  "$(verdict "$e_ext >= 30 * $e_py")" "$(calc "$e_ext / $e_py")"

if [ "$PROFILE" -eq 1 ]; then
  fresh
  profile_extension
  echo
  echo "where demo_generate's time goes (perf, inclusive share of the backend's samples; $STACK_DIR/generate.perf):"
  perf report -i "$STACK_DIR/generate.perf" --children --sort sym --stdio -g none 2>/dev/null |
    grep -E '\] (standard_ExecutorRun|jsonb_in|ExecInsertIndexTuples|heap_insert|XLogInsert|ProjectSet|ExecProjectSet|array_unnest|CommitTransaction|XLogFlush|datagen::|serde_json::ser)' |
    sed -E 's/^ +([0-9.]+)% +[0-9.]+% +\[.\] /  \1%  /' | head -14
fi

pg_admin -d postgres -c "DROP DATABASE $DB" >/dev/null
