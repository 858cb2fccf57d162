#!/usr/bin/env bash
#/ Removes the demo's data, and only that: the generated events and the run manifest in
#/ PostgreSQL (demo_reset; outbox rows of other writers stay), the projections and receipts in
#/ MongoDB (users, activities, statistics, processed_events) with the processor group moved to
#/ the end of the topic, and the run folders in .stack/demo. The stack keeps running; Kafka keeps
#/ its records (the topic's retention ages them out). Asks first unless --yes.
#/
#/ Usage: scripts/demo/cleanup.sh [--yes]
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

yes=0
case "${1:-}" in
  -h | --help)
    script_help
    exit 0
    ;;
  -y | --yes) yes=1 ;;
  "") ;;
  *) die "unknown argument '$1' (usage: scripts/demo/cleanup.sh [--yes])" ;;
esac

require_up postgresql kafka connect ferretdb
require_no_demo_run
build_binaries
runs="$(app_sql "SELECT count(*) || ' runs, ' || coalesce(sum(written), 0) || ' events' FROM outbox_demo.runs")"
if [ "$yes" -eq 0 ]; then
  [ -t 0 ] || die "not asking without a terminal: run scripts/demo/cleanup.sh --yes"
  printf 'Delete the demo data (%s in PostgreSQL, the collections of %s, %s)? [y/N] ' \
    "$runs" "$MONGODB_URI" "$DEMO_DIR" >&2
  read -r answer
  case "$answer" in
    y | Y | yes | YES) ;;
    *)
      log "nothing deleted"
      exit 0
      ;;
  esac
fi
clear_demo_data
rm -rf "$DEMO_DIR"
log "demo data removed ($runs; the MongoDB collections; $DEMO_DIR)"
