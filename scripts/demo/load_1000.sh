#!/usr/bin/env bash
#/ Demo load of 1,000 events, logging at WARNING: run_demo.sh with TARGET_EVENTS=1000, LOG_LEVEL=WARNING
#/ and, unless RATE is set, RATE=120 events/s (RATE=bulk writes one transaction). The rate is
#/ above the 100 events/s throughput objective (a bulk load meets it only with latencies far
#/ above the latency objectives).
#/ Any other run_demo.sh variable (BATCH_SIZE, MIX, SEED, SLO_FILE, ...) passes through.
#/
#/ Usage: scripts/demo/load_1000.sh
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
demo_load 1000 WARNING 120 "$@"
