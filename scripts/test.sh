#!/usr/bin/env bash
#/ THE test command (README): brings the real stack up, then runs every check; any failure fails it.
#/ Two tiers: `cargo test --workspace` is the unit tier (needs nothing but Rust); the stack tier
#/ is the tests marked `#[ignore = "stack tier: …"]` and the scripts in tests/, run here against
#/ the real stack. The tests, the binaries they start and the demo's binaries are one release
#/ build. Work that needs nothing from the steps around it runs beside them, its output in
#/ .stack/logs/test-NAME.log, shown when it ends (a failure fails the run then):
#/   - stack/up.sh (PostgreSQL, Kafka, Kafka Connect + Debezium, FerretDB), from the start
#/   - cargo clippy --all-targets -- -D warnings, dev profile, at nice 19, from the start (the
#/     extension's workspace once the stack, and so cargo-pgrx, is installed)
#/ and in the foreground, in order:
#/   1. cargo fmt --check                  both workspaces (the repository's and pg_extension/'s)
#/   2. shellcheck                         every tracked *.sh (Debian's shellcheck)
#/   3. every script's --help (tests/help.sh)
#/   4. the release build of every test and binary (cargo test --release --workspace --no-run)
#/   5. waits for the stack
#/   6. pgrx tests of pg_extension/ in release (as root: --runas postgres --pgdata .stack/pgrx-test)
#/   7. the release build of the extension installed into PostgreSQL (step 6 leaves a test build)
#/      and the extension in database app brought up to date with it
#/   8. the SQL regression test of the extension's user-visible API (pg_regress against the
#/      stack's PostgreSQL: pg_extension/tests/pg_regress/{sql,expected})
#/   9. workspace tests, both tiers: unit and property tests of every crate, and the stack tier's
#/      end-to-end tests (--include-ignored) against the real stack
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
#/  15. waits for clippy
#/ Prints the duration of each step and of the whole run.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
source stack/lib.sh
no_arguments "$@"

run_start=$SECONDS

# The extension is a workspace of its own (pg_extension/Cargo.toml); these run in both.
in_both_workspaces() {
  "$@"
  (cd pg_extension && "$@")
}

clippy_extension() {
  cd pg_extension && nice -n 19 cargo clippy --all-targets -- -D warnings
}

lint_shell() {
  command -v shellcheck >/dev/null || die "shellcheck is not installed: run stack/install.sh"
  git ls-files -z '*.sh' | xargs -0 -n 8 -P 2 shellcheck -x
}

pgrx_tests() {
  install -d -o postgres -g postgres "$STACK_DIR/pgrx-test"
  (cd pg_extension && cargo pgrx test --release "pg$PG_MAJOR" --runas postgres --pgdata "$STACK_DIR/pgrx-test")
}

install_extension() {
  (cd pg_extension && cargo pgrx install --release --pg-config "$PG_CONFIG")
  ensure_extension
}

# pg_regress against the stack's PostgreSQL, in a scratch database it is given; on a difference
# it prints regression.diffs and fails.
sql_regression() {
  local out="$STACK_DIR/regress" regress tests=(setup) f
  regress="$(dirname "$("$PG_CONFIG" --pgxs)")/../test/regress/pg_regress"
  rm -rf "$out"
  install -d -o postgres -g postgres "$out"
  pg_admin -d postgres -c "DROP DATABASE IF EXISTS outbox_demo_regress" -c "CREATE DATABASE outbox_demo_regress"
  for f in pg_extension/tests/pg_regress/sql/*.sql; do
    f="$(basename "$f" .sql)"
    [ "$f" = setup ] || tests+=("$f")
  done
  if ! sudo -u postgres "$regress" --use-existing --port "$PGPORT" --dbname=outbox_demo_regress \
    --inputdir=pg_extension/tests/pg_regress --outputdir="$out" "${tests[@]}"; then
    cat "$out/regression.diffs" >&2
    return 1
  fi
  pg_admin -d postgres -c "DROP DATABASE outbox_demo_regress"
}

# Work that needs nothing from the steps around it runs beside them, its output in a log that
# is shown when it is waited for. A job that failed fails the run at the end of the step during
# which it ended.
declare -A bg_pid=() bg_log=() bg_epoch=()
in_background() {
  local name="$1"
  shift
  bg_log[$name]="$LOG_DIR/test-$name.log"
  bg_epoch[$name]="$(date +%s)"
  printf '\n==> %s (in the background: %s)\n' "$name" "${bg_log[$name]}"
  "$@" >"${bg_log[$name]}" 2>&1 &
  bg_pid[$name]=$!
}
waited_for() {
  local name="$1" status=0
  wait "${bg_pid[$name]}" || status=$?
  unset "bg_pid[$name]"
  cat "${bg_log[$name]}"
  [ "$status" -eq 0 ] || die "$name failed (exit $status); its output is above"
  # its log's last line was written when it finished
  printf '(%s finished %ss after it started, beside the steps in between)\n' "$name" \
    "$(($(stat -c %Y "${bg_log[$name]}") - bg_epoch[$name]))"
}
# the jobs that have ended, waited for (so a failure shows at once)
ended_jobs() {
  local name
  for name in "${!bg_pid[@]}"; do
    kill -0 "${bg_pid[$name]}" 2>/dev/null || waited_for "$name"
  done
}
step() {
  local name="$1" t=$SECONDS
  shift
  printf '\n==> %s\n' "$name"
  "$@"
  printf '<== %s: ok (%ss)\n' "$name" "$((SECONDS - t))"
  ended_jobs
}

mkdir -p "$LOG_DIR"
# librdkafka is built from C: a machine without a C toolchain (a new one) gets it from
# stack/install.sh before anything is compiled.
if ! command -v cc >/dev/null || ! command -v make >/dev/null; then step "install" stack/install.sh; fi
# The stack comes up while the code is linted and built: neither needs the other, and on a fresh
# clone both take minutes (stack/up.sh runs stack/install.sh there). Not the extension: its
# release build would wait for the build below (one cargo lock per profile) and hold the stack
# back; step 7 builds and installs it.
in_background stack env INSTALL_EXTENSION=0 stack/up.sh
# Clippy checks in the dev profile, at the lowest CPU priority, beside everything else: it shares
# no build (and no cargo lock) with the release profile the tests build and run, and takes the
# CPU the foreground leaves (most of the stack tier's time is spent waiting on the pipeline). The
# extension's clippy needs cargo-pgrx's setup, which stack/install.sh makes: it starts once the
# stack is up.
in_background clippy nice -n 19 cargo clippy --all-targets -- -D warnings
step "cargo fmt --check" in_both_workspaces cargo fmt --all --check
step "shellcheck" lint_shell
step "scripts' --help" tests/help.sh
step "release build of the tests and binaries" cargo test --release --workspace --no-run
[ -z "${bg_pid[stack]:-}" ] || step "stack up (waited for)" waited_for stack
in_background clippy-extension clippy_extension
step "pgrx tests" pgrx_tests
step "install the release extension" install_extension
step "SQL regression test" sql_regression
step "workspace tests, both tiers" cargo test --release --workspace -- --include-ignored
step "docker compose file" tests/compose.sh
step "demo tests" tests/demo.sh
step "capacity tests" tests/capacity.sh
step "foreign consumer tests" tests/consumer.sh
step "fault tests" tests/faults.sh
for job in clippy clippy-extension; do
  [ -z "${bg_pid[$job]:-}" ] || step "$job (waited for)" waited_for "$job"
done

printf '\nscripts/test.sh: all checks passed in %ss\n' "$((SECONDS - run_start))"
