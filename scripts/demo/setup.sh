#!/usr/bin/env bash
#/ Prepares a clean demo: checks every part of the stack (naming each one that is down, with its
#/ address, and how to start it), builds event-processor and verifier when needed, then clears
#/ the demo's data:
#/   - the generated events and the run manifest in PostgreSQL (demo_reset(confirm => true);
#/     rows of activity.event_outbox written by other code stay), then waits until Debezium has
#/     read past the deletion, so the first load does not queue behind it;
#/   - the projections and receipts in MongoDB (users, activities, statistics,
#/     processed_events) and the processor group's offsets, moved to the end of the CDC topic
#/     (event-processor --reset).
#/ Run folders under .stack/demo stay (cleanup.sh removes them).
#/
#/ Usage: scripts/demo/setup.sh
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

no_arguments "$@"

require_stack
require_no_demo_run
build_binaries

clear_demo_data
mkdir -p "$DEMO_DIR"
log "ready: load events with scripts/demo/load_10.sh (or run_demo.sh, full_demo.sh)"
