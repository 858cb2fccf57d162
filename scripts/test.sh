#!/usr/bin/env bash
# THE test command (README): brings the real stack up, then runs every check; any failure fails it.
#   1. stack/up.sh                        PostgreSQL, Kafka, Kafka Connect + Debezium, FerretDB
#   2. cargo fmt --check
#   3. cargo clippy --workspace --all-targets -- -D warnings
#   4. pgrx tests of pg_extension/        (as root: --runas postgres --pgdata .stack/pgrx-test)
#   5. the release build of the extension installed into PostgreSQL (step 4 leaves a test build)
#   6. workspace tests: unit and property tests of every crate, and the end-to-end tests in
#      tests/ against the real stack
# Prints the duration of each step and of the whole run.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
source stack/lib.sh

case "${1:-}" in
  -h | --help)
    sed -n '2,10p' "$0" | sed 's/^# \{0,1\}//'
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
}

step "stack up" stack/up.sh
step "cargo fmt --check" cargo fmt --all --check
step "cargo clippy" cargo clippy --workspace --all-targets -- -D warnings
step "pgrx tests" pgrx_tests
step "install the release extension" install_extension
step "workspace and end-to-end tests" cargo test --workspace --exclude outbox_demo

printf '\nscripts/test.sh: all checks passed in %ss\n' "$((SECONDS - run_start))"
