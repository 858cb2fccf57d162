#!/usr/bin/env bash
#/ Demo load of 100 events, logging at INFO: run_demo.sh with TARGET_EVENTS=100, LOG_LEVEL=INFO
#/ and, unless RATE is set, RATE=60 events/s (RATE=bulk writes one transaction). The rate is
#/ gentle: throughput is judged only from 1,000 events, and at this rate each event finds the
#/ processor idle, so the run measures the pipeline's latency rather than events queueing behind
#/ one another.
#/ Any other run_demo.sh variable (BATCH_SIZE, MIX, SEED, SLO_FILE, ...) passes through.
#/
#/ Usage: scripts/demo/load_100.sh
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
demo_load 100 INFO 60 "$@"
