#!/usr/bin/env bash
#/ Demo load of 10,000 events, logging at ERROR: run_demo.sh with TARGET_EVENTS=10000, LOG_LEVEL=ERROR
#/ and, unless RATE is set, RATE=120 events/s (RATE=bulk writes one transaction). The rate is
#/ above the 100 events/s throughput objective (a bulk load meets it only with latencies far
#/ above the latency objectives).
#/ Any other run_demo.sh variable (BATCH_SIZE, MIX, SEED, SLO_FILE, ...) passes through.
#/
#/ Usage: scripts/demo/load_10000.sh
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
demo_load 10000 ERROR 120 "$@"
