#!/usr/bin/env bash
#/ THE test command (README): brings the real stack up, then runs every check; any failure fails it.
#/ Two tiers: `cargo test --workspace` is the unit tier (needs nothing but Rust); the stack tier
#/ is the tests marked `#[ignore = "stack tier: …"]` and the scripts in tests/, run here against
#/ the real stack. The tests, the binaries they start and the demo's binaries are one release
#/ build.
#/   1. stack/up.sh                        PostgreSQL, Kafka, Kafka Connect + Debezium, FerretDB
#/                                         (STACK_PIPELINE=off: the tests start their own consumers
#/                                         and verifiers; step 13 starts the stack's pair);
#/                                         in the background while steps 2-4 lint and build, without
#/                                         the extension (step 6) (its output:
#/                                         .stack/logs/test-stack.log, shown when it ends)
#/   2. cargo fmt --check                  both workspaces (the repository's and pg_extension/'s)
#/   3. every script's --help (tests/help.sh)
#/   4. clippy and the release build in one compile: every test, example and binary
#/      (cargo test --release --workspace --all-targets --no-run), this repository's crates
#/      compiled by clippy-driver with -D warnings (see lint_while_building below)
#/   5. the stack waited for
#/   6. the release build of the extension (pg_extension/), linted likewise,
#/      installed into PostgreSQL, and the extension in database app brought up to date with it
#/   7. in the background beside steps 9-14, at nice 19 (output: .stack/logs/test-beside.log):
#/      shellcheck over every tracked *.sh (Debian's shellcheck), and the release build of the
#/      pgrx tests, linted likewise
#/   8. workspace tests, both tiers: unit and property tests of every crate, and the stack tier's
#/      end-to-end tests (--include-ignored) against the real stack
#/   9. docker/docker-compose.yml checked (tests/compose.sh; CI has no Docker engine to run it)
#/  10. the demo's tests (tests/demo.sh): full_demo.sh without a terminal, the dashboard in tmux,
#/      cleanup.sh's and setup.sh's refusals
#/  11. the capacity search's tests (tests/capacity.sh): a short search, an impossible objective,
#/      a search stopped mid-step
#/  12. a consumer this project did not write (tests/consumer.sh): the example Python consumer
#/      verified from its metrics file, correct, dropping events, and replaying unsafely; and
#/      observed in the store, with and without applied_events
#/  13. the pipeline stack/up.sh runs (tests/pipeline.sh): event-processor and verifier serve
#/      started by it; a run of 10,000 from psql reported pass by the daemon (API and page) as by
#/      verifier report; run_demo.sh pausing the stack's event-processor and starting it
#/      again; stopped by down.sh; and the stack's settings (tests/settings.sh): one changed,
#/      its part alone restarted with it, a refused value refused, the defaults back
#/  14. faults (tests/faults.sh): scripts/demo/faults.sh with processor-kill, connect-kill and
#/      store-pause: nothing missing or applied twice, the fault and its recovery reported; a
#/      consumer dropping events under a fault fails with each lost event named; postgres-restart;
#/      broker-failover on the cluster profile (brought up for it, switched back after)
#/  15. the soak (tests/soak.sh): scripts/demo/soak.sh for 3 minutes at 100/s with a
#/      connect-kill and a store-pause: pass, both recovered, the leak rule judged; the same with
#/      a consumer dropping every 50th event fails with the lost events named
#/  16. step 7 waited for (its output shown)
#/  17. pgrx tests of pg_extension/ in release (as root: --runas postgres --pgdata .stack/pgrx-test),
#/      on step 7's build: they install a test build of the extension, so they come last
#/  18. the release build installed again (step 17 leaves the test build installed)
#/  19. the SQL regression test of the extension's user-visible API (pg_regress against the
#/      stack's PostgreSQL: pg_extension/tests/pg_regress/{sql,expected})
#/ Prints the duration of each step and of the whole run.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
source stack/lib.sh
no_arguments "$@"
# The stack's own event-processor and verifier serve stay off: each test starts the consumers and
# verifiers it tests (tests/pipeline.sh starts the stack's pair, and stops it).
export STACK_PIPELINE=off
# A canary asked for in the caller's environment would write runs into every test's stack.
unset VERIFIER_CANARY_RATE

run_start=$SECONDS

# The extension is a workspace of its own (pg_extension/Cargo.toml); these run in both.
in_both_workspaces() {
  "$@"
  (cd pg_extension && "$@")
}

lint_shell() {
  command -v shellcheck >/dev/null || die "shellcheck is not installed: run stack/install.sh"
  git ls-files -z '*.sh' | xargs -0 -n 8 -P 2 shellcheck -x
}

# Clippy and the release build are one compile: cargo runs clippy-driver in place of rustc for
# the workspaces' own crates (RUSTC_WORKSPACE_WRAPPER, as `cargo clippy` does, and CLIPPY_ARGS in
# its format: -D warnings) and rustc once for each dependency. `cargo clippy` compiles the
# whole dependency tree a second time (metadata only; about 300 s of a fresh clone's run on 2
# cores). Every cargo command after this, the scripts' and the pgrx tests' included, builds with
# the same wrapper, so none compiles again what another built (stack/up.sh, started before,
# builds no extension here: INSTALL_EXTENSION=0).
# A plain `cargo build` after this run compiles the repository's crates once more (the
# dependencies are shared): their builds with and without the wrapper are kept side by side.
lint_while_building() {
  local driver
  driver="$(command -v clippy-driver)" || die "clippy-driver is missing: rustup component add clippy"
  export RUSTC_WORKSPACE_WRAPPER="$driver" CLIPPY_ARGS="-D__CLIPPY_HACKERY__warnings__CLIPPY_HACKERY__"
}

pgrx_tests() {
  install -d -o postgres -g postgres "$STACK_DIR/pgrx-test"
  cargo_pgrx test --release "pg$PG_MAJOR" --runas postgres --pgdata "$STACK_DIR/pgrx-test"
}

install_extension() {
  cargo_pgrx install --release --pg-config "$PG_CONFIG"
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

# The stack comes up while the code is linted and built (on a fresh clone both take minutes:
# stack/up.sh runs stack/install.sh there), its output in a log shown when it is waited for.
# The build stays in the foreground: on two cores it is bound by the CPU, and a build beside it
# only slows it (measured: BENCHMARKS.md, "scripts/test.sh").
stack_log="$LOG_DIR/test-stack.log"
# wait_background PID LOG EPOCH WHAT -> waits for a job started in the background at EPOCH, shows
# its LOG, and fails naming WHAT when the job failed.
wait_background() {
  local pid="$1" log="$2" epoch="$3" what="$4" status=0
  wait "$pid" || status=$?
  cat "$log"
  [ "$status" -eq 0 ] || die "$what failed (exit $status); its output is above"
  # its log's last line was written when it finished
  printf '(%s finished %ss after it started, beside the steps before)\n' \
    "$what" "$(($(stat -c %Y "$log") - epoch))"
}
wait_for_stack() { wait_background "$stack_pid" "$stack_log" "$stack_epoch" stack/up.sh; }
# Beside the stack tier, which waits on the pipeline most of the time (half of both cores idle,
# measured: BENCHMARKS.md, "scripts/test.sh"), at the lowest CPU and I/O priority so that it takes only what
# the tests leave: shellcheck, and the release builds the last steps need, linted like the rest:
# the pgrx test binary and the extension's test build (what `cargo pgrx test` compiles: its
# features, pg_test, and its `cargo build --lib`).
# It starts once the workspace tests are done: from then on nothing in the foreground runs
# cargo (DEMO_BINARIES_BUILT=1: the scripts use the binaries of step 4), so it holds target/'s
# lock alone. The pgrx tests run last, on what it built, once nothing else uses the stack's
# extension: they install a test build of it.
beside_log="$LOG_DIR/test-beside.log"
beside_the_tests() {
  lint_shell
  # The features as cargo-pgrx gives them.
  (cd pg_extension && cargo test --release --features pg_test --no-run &&
    cargo build --release --lib --no-default-features --features "pg$PG_MAJOR pg_test")
}
start_beside() {
  printf '\n==> shellcheck and the pgrx test build (in the background, nice 19: %s)\n' "$beside_log"
  beside_epoch="$(date +%s)"
  (
    renice -n 19 -p "$BASHPID" >/dev/null
    ionice -c 3 -p "$BASHPID"
    beside_the_tests
  ) >"$beside_log" 2>&1 &
  beside_pid=$!
}
wait_beside() {
  wait_background "$beside_pid" "$beside_log" "$beside_epoch" "shellcheck or the pgrx test build"
}

step() {
  local name="$1" t=$SECONDS
  shift
  printf '\n==> %s\n' "$name"
  "$@"
  printf '<== %s: ok (%ss)\n' "$name" "$((SECONDS - t))"
}

mkdir -p "$LOG_DIR"
# A new machine gets what the builds need (a C toolchain for librdkafka; libclang and cargo-pgrx's
# setup for the extension) from stack/install.sh before anything is compiled.
pgrx_set_up() { grep -qs "pg$PG_MAJOR = \"$PG_CONFIG\"" "${PGRX_HOME:-$HOME/.pgrx}/config.toml"; }
if ! command -v cc >/dev/null || ! command -v make >/dev/null || ! pgrx_set_up; then
  step "install (a new machine)" stack/install.sh
fi
printf '\n==> stack up (in the background: %s)\n' "$stack_log"
stack_epoch="$(date +%s)"
INSTALL_EXTENSION=0 stack/up.sh >"$stack_log" 2>&1 &
stack_pid=$!
step "cargo fmt --check" in_both_workspaces cargo fmt --all --check
step "scripts' --help" tests/help.sh
lint_while_building
step "clippy and the release build of the tests and binaries" \
  cargo test --release --workspace --all-targets --no-run
# the scripts' build_binaries: built just now
export DEMO_BINARIES_BUILT=1
step "stack up (waited for)" wait_for_stack
step "the release extension built and installed" install_extension
step "workspace tests, both tiers" cargo test --release --workspace -- --include-ignored
start_beside
step "docker compose file" tests/compose.sh
step "demo tests" tests/demo.sh
step "capacity tests" tests/capacity.sh
step "foreign consumer tests" tests/consumer.sh
step "the stack's own pipeline" tests/pipeline.sh
step "the stack's settings" tests/settings.sh
step "fault tests" tests/faults.sh
step "soak tests" tests/soak.sh
step "shellcheck and the pgrx test build (waited for)" wait_beside
step "pgrx tests" pgrx_tests
step "the release extension installed again" install_extension
step "SQL regression test" sql_regression

printf '\nscripts/test.sh: all checks passed in %ss\n' "$((SECONDS - run_start))"
