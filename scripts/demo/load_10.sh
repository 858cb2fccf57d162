#!/usr/bin/env bash
# Demo load of 10 events, logging at DEBUG: run_demo.sh with TARGET_EVENTS=10 LOG_LEVEL=DEBUG and,
# unless set, RATE=120 (a steady load the local pipeline sustains; the default SLOs are latency
# targets, which a bulk load meets only when the pipeline drains it within them; RATE=bulk for
# that). Any other run_demo.sh variable (BATCH_SIZE, MIX, SEED, SLO_FILE, ...) passes through.
#
# Usage: scripts/demo/load_10.sh
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
demo_load 10 DEBUG "$@"
