#!/usr/bin/env bash
#/ THE test command (README): brings the real stack up, then runs every check; any failure fails it.
#/   1. stack/up.sh                        PostgreSQL, Kafka, Kafka Connect + Debezium, FerretDB
#/   2. cargo fmt --check
#/   3. every script's --help (tests/help.sh)
#/   4. cargo clippy --workspace --all-targets -- -D warnings
#/   5. pgrx tests of pg_extension/        (as root: --runas postgres --pgdata .stack/pgrx-test)
#/   6. the release build of the extension installed into PostgreSQL (step 5 leaves a test build)
#/      and the extension in database app brought up to date with it
#/   7. the SQL regression test of the extension's user-visible API (pg_regress against the
#/      stack's PostgreSQL: pg_extension/tests/pg_regress/{sql,expected})
#/   8. workspace tests: unit and property tests of every crate, and the end-to-end tests in
#/      tests/ against the real stack
#/   9. the release build of event-processor and verifier (what the demo runs)
#/  10. docker/docker-compose.yml checked (tests/compose.sh; CI has no Docker engine to run it)
#/  11. the demo's tests (tests/demo.sh): full_demo.sh without a terminal, the dashboard in tmux,
#/      cleanup.sh's and setup.sh's refusals
#/  12. the capacity search's tests (tests/capacity.sh): a short search, an impossible objective,
#/      a search stopped mid-step
#/  13. a consumer this project did not write (tests/consumer.sh): the example Python consumer
#/      verified from its metrics file, correct, dropping events, and replaying unsafely
#/  14. faults (tests/faults.sh): scripts/demo/faults.sh with processor-kill, connect-kill and
#/      store-pause: nothing missing or applied twice, the fault and its recovery reported; a
#/      consumer dropping events under a fault fails with each lost event named; postgres-restart;
#/      broker-failover on the cluster profile (brought up for it, switched back after)
#/ Prints the duration of each step and of the whole run.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
source stack/lib.sh

case "${1:-}" in
  -h | --help)
    script_help
    exit 0
    ;;
  "") ;;
  *) die "unknown argument '$1' (usage: scripts/test.sh)" ;;
esac

run_start=$SECONDS
step() {
  local name="$1" t=$SECONDS
  shift
  printf '\n==> %s\n' "$name"
  "$@"
  printf '<== %s: ok (%ss)\n' "$name" "$((SECONDS - t))"
}

pgrx_tests() {
  install -d -o postgres -g postgres "$STACK_DIR/pgrx-test"
  (cd pg_extension && cargo pgrx test "pg$PG_MAJOR" --runas postgres --pgdata "$STACK_DIR/pgrx-test")
}

install_extension() {
  (cd pg_extension && cargo pgrx install --release --pg-config "$PG_CONFIG")
  ensure_extension
}

# pg_regress against the stack's PostgreSQL, in a scratch database it is given; on a difference
# it prints regression.diffs and fails.
sql_regression() {
  local out="$STACK_DIR/regress" regress tests
  regress="$(dirname "$("$PG_CONFIG" --pgxs)")/../test/regress/pg_regress"
  rm -rf "$out"
  install -d -o postgres -g postgres "$out"
  pg_admin -d postgres -c "DROP DATABASE IF EXISTS outbox_demo_regress" -c "CREATE DATABASE outbox_demo_regress"
  tests=setup
  for f in pg_extension/tests/pg_regress/sql/*.sql; do
    f="$(basename "$f" .sql)"
    [ "$f" = setup ] || tests="$tests $f"
  done
  # shellcheck disable=SC2086 # one word per test
  if ! sudo -u postgres "$regress" --use-existing --port "$PGPORT" --dbname=outbox_demo_regress \
    --inputdir=pg_extension/tests/pg_regress --outputdir="$out" $tests; then
    cat "$out/regression.diffs" >&2
    return 1
  fi
  pg_admin -d postgres -c "DROP DATABASE outbox_demo_regress"
}

step "stack up" stack/up.sh
step "cargo fmt --check" cargo fmt --all --check
step "scripts' --help" tests/help.sh
step "cargo clippy" cargo clippy --workspace --all-targets -- -D warnings
step "pgrx tests" pgrx_tests
step "install the release extension" install_extension
step "SQL regression test" sql_regression
step "workspace and end-to-end tests" cargo test --workspace --exclude outbox_demo
step "release build of event-processor and verifier" cargo build --release -p event-processor -p verifier
step "docker compose file" tests/compose.sh
step "demo tests" tests/demo.sh
step "capacity tests" tests/capacity.sh
step "foreign consumer tests" tests/consumer.sh
step "fault tests" tests/faults.sh

printf '\nscripts/test.sh: all checks passed in %ss\n' "$((SECONDS - run_start))"
