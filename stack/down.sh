#!/usr/bin/env bash
#/ Stops what stack/up.sh started, by the pids it recorded in .stack/run/, and nothing else: a
#/ PostgreSQL cluster that was already running when up.sh came is left running, and so are
#/ services named by KAFKA_BOOTSTRAP or MONGODB_URI. Data stays in .stack/data/.
#/ Usage: stack/down.sh [PART...]   PART: connect ferretdb kafka postgresql (default: all)
#/ kafka and connect mean every broker and worker of either profile (kafka-1..3, connect-1,2 on
#/ the cluster profile); one of them can be named alone (kafka-2, connect-1).
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

stop_pid() {
  local part="$1" pid
  pid="$(pid_of "$part")" || {
    rm -f "$RUN_DIR/$part.pid"
    return 0
  }
  log "$part: stopping pid $pid"
  if [ "$part" = postgresql ]; then
    pg_ctlcluster "$PG_MAJOR" "$PG_CLUSTER" stop -m fast >/dev/null 2>&1 || kill -INT "$pid" 2>/dev/null
  else
    kill -TERM "$pid" 2>/dev/null
  fi
  local deadline=$((SECONDS + 30))
  while alive "$pid"; do
    if [ "$SECONDS" -ge "$deadline" ]; then
      log "$part: pid $pid still running after 30 s; sending SIGKILL"
      kill -KILL "$pid" 2>/dev/null
      break
    fi
    sleep 0.2
  done
  rm -f "$RUN_DIR/$part.pid"
}

parts=("$@")
[ ${#parts[@]} -gt 0 ] || parts=(connect ferretdb kafka postgresql)
for part in "${parts[@]}"; do
  case "$part" in
    connect) for p in connect-2 connect-1 connect; do stop_pid "$p"; done ;;
    kafka) for p in kafka-3 kafka-2 kafka-1 kafka; do stop_pid "$p"; done ;;
    ferretdb | postgresql | kafka-[123] | connect-[12]) stop_pid "$part" ;;
    -h | --help)
      script_help
      exit 0
      ;;
    *) die "unknown part '$part' (known: connect ferretdb kafka postgresql kafka-1 kafka-2 kafka-3 connect-1 connect-2)" ;;
  esac
done
