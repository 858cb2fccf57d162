#!/usr/bin/env bash
# The README's main command. For now it installs (when needed) and starts the real pipeline and
# says so; the demo itself (setup, loads of 10, 100, 1,000 and 10,000 events, live dashboard,
# verification) comes with the generator, processor and verifier.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/../.."
stack/up.sh
cat <<'MSG'

The stack is up (above). The demo loads are not built yet: this command will run them once the
outbox_demo extension, the event processor and the verifier exist. Meanwhile:
  stack/status.sh      one line per part
  scripts/test.sh      the test suite, including the end-to-end smoke tests
MSG
