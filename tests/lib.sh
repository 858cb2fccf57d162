# shellcheck shell=bash
# Shared by the test scripts in tests/, sourced right after their #/ header as
#   source "$(dirname "${BASH_SOURCE[0]}")/lib.sh" TAG "$@"
# Enters the repository, sources scripts/demo/lib.sh (the stack's and the demo's helpers), tags
# every line the test prints ([TAG] …), answers --help with the test's header and refuses any
# other argument, and defines fail and pass. A test with more to show when it fails (logs)
# defines show_on_failure; fail calls it before exiting 1. Sourced, never run.

cd "$(dirname "${BASH_SOURCE[0]}")/.." || exit 2
source scripts/demo/lib.sh
LOG_TAG="$1"
shift
no_arguments "$@"

# fail MESSAGE… -> prints it (and whatever show_on_failure shows), exits 1.
fail() {
  printf '[%s] FAILED: %s\n' "$LOG_TAG" "$*" >&2
  if declare -F show_on_failure >/dev/null; then show_on_failure; fi
  exit 1
}
# pass MESSAGE… -> one line saying what was shown to hold.
pass() { printf '[%s] ok: %s\n' "$LOG_TAG" "$*" >&2; }
