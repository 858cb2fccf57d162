#!/usr/bin/env bash
#/ Benchmark (not a test): FerretDB's PostgreSQL backend against its SQLite backend under the
#/ event processor's write shapes, to choose the local store's backend (BENCHMARKS.md).
#/ Starts three extra FerretDB processes (the stack's own binary) and runs bench/store_backends.py
#/ against each, printing docs/s per operation and ratios against the first:
#/   postgresql    127.0.0.1:27018  postgresql handler, database ferretdb_bench in the stack's PG
#/   sqlite        127.0.0.1:27019  sqlite handler, FerretDB's defaults (WAL, synchronous=FULL)
#/   sqlite-normal 127.0.0.1:27020  sqlite handler, WAL with synchronous=NORMAL (what stack/up.sh
#/                                  runs: durable across a process crash, like MongoDB's default
#/                                  write concern, which acknowledges before the journal flush)
#/ Needs the stack's PostgreSQL up (stack/up.sh). Stops what it started on exit.
#/ Usage: bench/store_backends.sh [N]   (documents per operation, default 5000)
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/../stack/lib.sh"
case "${1:-}" in
  -h | --help)
    script_help
    exit 0
    ;;
esac
N="${1:-5000}"
[[ "$N" =~ ^[1-9][0-9]*$ ]] || die "N must be a positive whole number (got '$N')"
pg_healthy || die "PostgreSQL at $PG_ADDR is not up: run stack/up.sh"
[ -x "$FERRETDB_BIN" ] || die "FerretDB is not built ($FERRETDB_BIN): run stack/install.sh"

PY="$(bench_venv pymongo 'pymongo==4.20.1')"

# The bench role's password is generated once, like the stack's (.stack/secrets/), and reaches
# psql on its standard input and FerretDB in its environment, never on a command line.
bench_password="$(password ferretdb_bench)"
{
  printf '\\set pw %s\n' "$(psql_quote "$bench_password")"
  cat <<'SQL'
SELECT 'CREATE ROLE ferretdb_bench LOGIN'
 WHERE NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'ferretdb_bench') \gexec
ALTER ROLE ferretdb_bench PASSWORD :'pw';
SELECT 'CREATE DATABASE ferretdb_bench OWNER ferretdb_bench'
 WHERE NOT EXISTS (SELECT FROM pg_database WHERE datname = 'ferretdb_bench') \gexec
SQL
} | pg_admin -d postgres >/dev/null || die "creating the bench role and database failed"

work="$(mktemp -d)"
pids=()
cleanup() {
  for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null && wait "$pid" 2>/dev/null; done
  rm -rf "$work"
}
trap cleanup EXIT

start_ferretdb() { # NAME ADDR ARGS...
  local name="$1" addr="$2"
  shift 2
  "$FERRETDB_BIN" --listen-addr="$addr" --state-dir="$work/state-$name" --telemetry=disable \
    --debug-addr=- --log-level=warn "$@" >"$work/$name.log" 2>&1 &
  pids+=($!)
  for _ in $(seq 30); do port_open "$addr" && return 0; sleep 0.5; done
  die "bench FerretDB $name on $addr did not start; see $work/$name.log"
}
mkdir -p "$work/sqlite" "$work/sqlite-normal"
FERRETDB_POSTGRESQL_URL="postgres://ferretdb_bench:$bench_password@$PG_ADDR/ferretdb_bench" \
  start_ferretdb postgresql 127.0.0.1:27018 --handler=postgresql
start_ferretdb sqlite 127.0.0.1:27019 --handler=sqlite --sqlite-url="file:$work/sqlite/"
start_ferretdb sqlite-normal 127.0.0.1:27020 --handler=sqlite \
  --sqlite-url="file:$work/sqlite-normal/?_pragma=synchronous(normal)"

echo "store backends: $N documents per operation; FerretDB $FERRETDB_VERSION; $(nproc) cores, $(uname -m), $(date -I)"
"$PY" "$(dirname "$0")/store_backends.py" "$N" \
  postgresql=mongodb://127.0.0.1:27018/ sqlite=mongodb://127.0.0.1:27019/ \
  sqlite-normal=mongodb://127.0.0.1:27020/
