#!/usr/bin/env bash
#/ Stops what stack/up.sh started, by the pids it recorded in .stack/run/, and nothing else: a
#/ PostgreSQL cluster that was already running when up.sh came is left running, and so are
#/ services named by KAFKA_BOOTSTRAP or MONGODB_URI. Data stays in .stack/data/.
#/ Usage: stack/down.sh [PART...]   PART: verifier processor connect ferretdb kafka postgresql
#/ (default: all; the pipeline's verifier serve and event-processor first)
#/ kafka and connect mean every broker and worker of either profile (kafka-1..3, connect-1,2 on
#/ the cluster profile); one of them can be named alone (kafka-2, connect-1).
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

# stop PART... -> asks each running part to stop (SIGTERM; PostgreSQL by pg_ctlcluster, fast), all
# of them at once, then waits for them together, 30 s at most before SIGKILL. Together: the last
# broker of a three-node KRaft quorum stopped alone has no quorum left to shut down with, and
# waited its full 30 s before it was killed.
stop() {
  local part pid stopping=()
  for part in "$@"; do
    pid="$(pid_of "$part")" || {
      rm -f "$RUN_DIR/$part.pid"
      continue
    }
    log "$part: stopping pid $pid"
    if [ "$part" = postgresql ]; then
      pg_ctlcluster "$PG_MAJOR" "$PG_CLUSTER" stop -m fast >/dev/null 2>&1 || kill -INT "$pid" 2>/dev/null
    else
      kill -TERM "$pid" 2>/dev/null
    fi
    stopping+=("$part:$pid")
  done
  local deadline=$((SECONDS + 30)) left entry
  while [ ${#stopping[@]} -gt 0 ]; do
    left=()
    for entry in "${stopping[@]}"; do
      if ! alive "${entry#*:}"; then
        rm -f "$RUN_DIR/${entry%%:*}.pid"
      elif [ "$SECONDS" -ge "$deadline" ]; then
        log "${entry%%:*}: pid ${entry#*:} still running after 30 s; sending SIGKILL"
        kill -KILL "${entry#*:}" 2>/dev/null
        rm -f "$RUN_DIR/${entry%%:*}.pid"
      else
        left+=("$entry")
      fi
    done
    stopping=("${left[@]}")
    [ ${#stopping[@]} -eq 0 ] || sleep 0.2
  done
}

parts=("$@")
[ ${#parts[@]} -gt 0 ] || parts=(verifier processor connect ferretdb kafka postgresql)
for part in "${parts[@]}"; do
  case "$part" in
    connect) stop connect-2 connect-1 connect ;;
    kafka) stop kafka-3 kafka-2 kafka-1 kafka ;;
    verifier | processor | ferretdb | postgresql | kafka-[123] | connect-[12]) stop "$part" ;;
    -h | --help)
      script_help
      exit 0
      ;;
    *) die "unknown part '$part' (known: verifier processor connect ferretdb kafka postgresql kafka-1 kafka-2 kafka-3 connect-1 connect-2)" ;;
  esac
done
