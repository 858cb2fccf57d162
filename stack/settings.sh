# shellcheck shell=bash
# shellcheck disable=SC2034 # the settings' variables are read by stack/up.sh, which sources this
# The stack's tunable settings: what each service runs with, beyond its config files. Sourced at
# the end of stack/lib.sh (so every script reads the same settings); never run.
#
# STACK_SETTINGS="NAME=VALUE …" given to stack/up.sh replaces the recorded settings
# (.stack/settings; an empty STACK_SETTINGS goes back to every default); without it, up.sh and
# every script that calls it (the faults' healing, the demo) keep the recorded ones. A running
# part whose settings differ from the ones asked for is restarted by up.sh, and only that part.
#
#   name                   part            default  accepts
#   FERRETDB_GOGC          ferretdb        400      10..100000, or off: Go's GOGC (the garbage
#                                                   collector runs when the heap grows by that %)
#   FERRETDB_GOMAXPROCS    ferretdb        auto     auto (one per core), or 1..64: Go's
#                                                   GOMAXPROCS (threads running Go code at once)
#   FERRETDB_MMAP_MB       ferretdb        0        0..65536: SQLite's mmap_size in MiB (0: every
#                                                   page read is a pread into each connection's
#                                                   own cache)
#   FERRETDB_BINARY        ferretdb        built    built (stack/install.sh's, with the patches
#                                                   in stack/ferretdb/patches), or the absolute
#                                                   path of another FerretDB 1.x build to run
#                                                   (bench/ferretdb_patch.sh compares one)
#   VERIFIER_BINARY        verifier        built    built (target/release/verifier) or the absolute
#                                                   path of another verifier build for the stack's
#                                                   verifier serve (to measure a change to the
#                                                   tool's own cost in bench/levers.sh)
#   DEBEZIUM_POLL_MS       connect         10       1..10000: Debezium's poll.interval.ms (how
#                                                   long its queue waits for more changes)
#   DEBEZIUM_SSLMODE       connect         disable  disable, prefer, require: Debezium's
#                                                   database.sslmode (TLS to PostgreSQL)
#   DEBEZIUM_BUILD         connect         patched  patched (with stack/debezium/patches) or
#                                                   upstream (Maven Central's jars as they are)
#   KAFKA_NETWORK_THREADS  kafka           1        1..16: num.network.threads (single node)
#   KAFKA_IO_THREADS       kafka           2        1..16: num.io.threads (single node)
#   JAVA_GC                kafka, connect  serial   serial, g1 (G1, 20 ms pause goal), parallel
#   JAVA_HEAP_MB           kafka, connect  512      64..8192: the JVM's -Xmx (-Xms is half)
#   JAVA_JIT               kafka, connect  c1       c1 (C1 only: steadier latency after a start,
#                                                   docs/stack.md) or tiered (C1 then C2)
#
# The defaults are what bench/levers.sh measured cheapest on two cores (2026-12-05, BENCHMARKS.md
# "bench/levers.sh"), as one set against the earlier defaults (100, 5, 2, 4, g1), both orders;
# each part's figure below moved with its own settings only (JAVA_GC is Kafka's and Connect's):
#   FERRETDB_GOGC=400     FerretDB's CPU per event at 500/s 0.72x (Go's collector runs a quarter
#                         as often; its heap is tens of MB, so the extra garbage costs little
#                         memory). 1000 bought 0.96x more in another run, within noise: not kept.
#   DEBEZIUM_POLL_MS=10   with JAVA_GC=serial, Kafka Connect idle 0.59x (11.6 % of one core, was
#                         19.8: an idle queue is polled 100 times a second, not 200), and 0.79x per
#                         event; end to end at 500/s p50 0.81x (the machine less busy outweighs the
#                         longer poll). At 120/s it costs end to end p50 12.2 -> 17.8 ms (Debezium
#                         waits the poll in its queue and in its streaming loop) for 0.76x the CPU
#                         per event: 5 where the lowest latency at low rates matters more.
#   DEBEZIUM_SSLMODE=disable (2026-12-06, against prefer, the JDBC driver's default, which used TLS
#                         since Debian's PostgreSQL offers it): Connect's CPU per event 0.85x and
#                         the WAL sender's 0.72x (AES-GCM and GHASH were 7 % of Connect's Java
#                         samples); end to end at 500/s p99 0.65x. The replication stream never
#                         leaves 127.0.0.1 and SCRAM never sends the password, so TLS bought
#                         nothing here; require for a PostgreSQL on another host.
#   DEBEZIUM_BUILD=patched (2026-12-06, against upstream): Connect idle 0.51x (13.3 -> 6.8 % of one
#                         core) and 0.94x per event: upstream's queue spun on the clock for the
#                         last millisecond of every poll (stack/debezium/patches/README.md).
#   KAFKA_NETWORK_THREADS=1, KAFKA_IO_THREADS=2, JAVA_GC=serial: Kafka's CPU per event 0.66x, idle
#                         0.80x: two cores cannot run more of them at once, and G1's concurrent
#                         threads go. The whole set: the machine's CPU per event 0.92x, idle 0.69x,
#                         end to end at 1,000/s p50 0.11x and p99 0.20x (the old set fell behind).
#   FERRETDB_GOMAXPROCS=1 (FerretDB's Go code on one thread: less of its scheduler's spinning) was
#                         measured against this set twice (2026-12-06): FerretDB's CPU per event
#                         0.80x, then 0.96x, and the parts' sum 0.84x, then 1.05x; capacity 675
#                         against 650/s: no steady win, so auto stays.
#   FERRETDB_MMAP_MB=1024 (SQLite reads the store's pages from a memory map instead of pread)
#                         was measured against the defaults (2026-12-06): FerretDB's CPU per event
#                         1.00x (1.064 and 1.067 CPU s per 1,000 events): no win, so 0 stays.
#   JAVA_JIT=tiered (with FERRETDB_GOGC=1000) was measured against this set too: C2's compiling
#   after each restart cost Kafka and Connect more than its faster code saved in a 10,000-event
#   run (their CPU per event 1.24x and 1.11x). Once warm (40,000 events after a 10,000-event
#   warm-up, 2026-12-06) C2 pays: Connect 0.82x, Kafka 0.85x, the machine 0.89x, e2e p50 at
#   500/s 0.69x. c1 stays the default, for the tests' and the demo's latency in the minutes after
#   a start; tiered is the cheaper choice for a stack left running.

SETTINGS_FILE="$STACK_DIR/settings"
SETTING_NAMES=(FERRETDB_GOGC FERRETDB_GOMAXPROCS FERRETDB_MMAP_MB FERRETDB_BINARY VERIFIER_BINARY DEBEZIUM_POLL_MS DEBEZIUM_SSLMODE DEBEZIUM_BUILD KAFKA_NETWORK_THREADS KAFKA_IO_THREADS JAVA_GC JAVA_HEAP_MB JAVA_JIT)

# setting_default NAME -> its default
setting_default() {
  case "$1" in
    FERRETDB_GOGC) echo 400 ;;
    FERRETDB_GOMAXPROCS) echo auto ;;
    FERRETDB_MMAP_MB) echo 0 ;;
    FERRETDB_BINARY | VERIFIER_BINARY) echo built ;;
    DEBEZIUM_POLL_MS) echo 10 ;;
    DEBEZIUM_SSLMODE) echo disable ;;
    DEBEZIUM_BUILD) echo patched ;;
    KAFKA_NETWORK_THREADS) echo 1 ;;
    KAFKA_IO_THREADS) echo 2 ;;
    JAVA_GC) echo serial ;;
    JAVA_HEAP_MB) echo 512 ;;
    JAVA_JIT) echo c1 ;;
    *) return 1 ;;
  esac
}

# setting_check NAME VALUE -> dies unless NAME is a setting and VALUE one it accepts
setting_check() {
  local n="$1" v="$2" ok=1 # n: a name, v: its value
  case "$n" in
    FERRETDB_GOGC) [[ "$v" = off || ("$v" =~ ^[1-9][0-9]{1,5}$ && "$v" -le 100000) ]] || ok=0 ;;
    FERRETDB_GOMAXPROCS) [[ "$v" = auto || ("$v" =~ ^[1-9][0-9]?$ && "$v" -le 64) ]] || ok=0 ;;
    FERRETDB_MMAP_MB) [[ "$v" =~ ^(0|[1-9][0-9]{0,4})$ && "$v" -le 65536 ]] || ok=0 ;;
    FERRETDB_BINARY | VERIFIER_BINARY) [[ "$v" = built || ("$v" = /* && -f "$v" && -x "$v") ]] || ok=0 ;;
    DEBEZIUM_POLL_MS) [[ "$v" =~ ^[1-9][0-9]{0,4}$ && "$v" -le 10000 ]] || ok=0 ;;
    DEBEZIUM_SSLMODE) [[ "$v" =~ ^(disable|prefer|require)$ ]] || ok=0 ;;
    DEBEZIUM_BUILD)
      [[ "$v" =~ ^(patched|upstream)$ ]] || ok=0
      [[ "$v" != upstream || -d "$DEBEZIUM_UPSTREAM_DIR" ]] ||
        die "STACK_SETTINGS: DEBEZIUM_BUILD=upstream needs $DEBEZIUM_UPSTREAM_DIR: run stack/install.sh"
      ;;
    KAFKA_NETWORK_THREADS | KAFKA_IO_THREADS) [[ "$v" =~ ^[1-9][0-9]?$ && "$v" -le 16 ]] || ok=0 ;;
    JAVA_GC) [[ "$v" =~ ^(g1|serial|parallel)$ ]] || ok=0 ;;
    JAVA_HEAP_MB) [[ "$v" =~ ^[1-9][0-9]{1,3}$ && "$v" -ge 64 && "$v" -le 8192 ]] || ok=0 ;;
    JAVA_JIT) [[ "$v" =~ ^(c1|tiered)$ ]] || ok=0 ;;
    *) die "STACK_SETTINGS: unknown setting '$n' (known: ${SETTING_NAMES[*]}; stack/settings.sh says what each does)" ;;
  esac
  [ "$ok" = 1 ] || die "STACK_SETTINGS: $n=$v is not accepted (stack/settings.sh says what $n accepts)"
}

# ferretdb_binary -> the FerretDB binary the stack runs (FERRETDB_BINARY)
ferretdb_binary() { if [ "$FERRETDB_BINARY" = built ]; then echo "$FERRETDB_BIN"; else echo "$FERRETDB_BINARY"; fi; }
# verifier_binary -> the verifier binary the stack's verifier serve runs (VERIFIER_BINARY)
verifier_binary() { if [ "$VERIFIER_BINARY" = built ]; then echo "$VERIFIER_BIN"; else echo "$VERIFIER_BINARY"; fi; }

# settings_words TEXT -> dies unless TEXT is a list of NAME=VALUE words of known settings, each
# accepted, no name twice
settings_words() {
  local word seen=" "
  for word in $1; do
    [[ "$word" =~ ^[A-Z_]+=.+$ ]] || die "STACK_SETTINGS is a list of NAME=VALUE words (got '$word')"
    setting_check "${word%%=*}" "${word#*=}"
    [[ "$seen" != *" ${word%%=*} "* ]] || die "STACK_SETTINGS names ${word%%=*} twice"
    seen+="${word%%=*} "
  done
}

# recorded_settings -> the settings recorded in .stack/settings (nothing when none were)
recorded_settings() { if [ -f "$SETTINGS_FILE" ]; then cat "$SETTINGS_FILE"; fi; }

# read_settings -> each setting's variable set: from STACK_SETTINGS when given, else from the
# recorded .stack/settings, else its default. Runs when stack/lib.sh is sourced.
read_settings() {
  local words="" name word
  if [ -n "${STACK_SETTINGS+set}" ]; then words="$STACK_SETTINGS"; else words="$(recorded_settings)"; fi
  settings_words "$words"
  for name in "${SETTING_NAMES[@]}"; do printf -v "$name" '%s' "$(setting_default "$name")"; done
  for word in $words; do printf -v "${word%%=*}" '%s' "${word#*=}"; done
  # Connect's plugin.path (stack/config/connect-*.properties): the patched Debezium or upstream's
  if [ "$DEBEZIUM_BUILD" = upstream ]; then CONNECT_PLUGIN_PATH="$DEBEZIUM_UPSTREAM_PLUGINS"; else CONNECT_PLUGIN_PATH="$PLUGIN_DIR"; fi
}

# record_settings -> STACK_SETTINGS, when given, recorded in .stack/settings (owner-only like the
# rest of .stack) for every later script; stack/up.sh calls it
record_settings() {
  [ -n "${STACK_SETTINGS+set}" ] || return 0
  # shellcheck disable=SC2086 # one word per line
  (umask 077 && mkdir -p "$STACK_DIR" && printf '%s\n' $STACK_SETTINGS >"$SETTINGS_FILE") || die "cannot write $SETTINGS_FILE"
}

# settings_changed -> the settings that differ from their defaults, as NAME=VALUE words
settings_changed() {
  local name changed=()
  for name in "${SETTING_NAMES[@]}"; do
    [ "${!name}" = "$(setting_default "$name")" ] || changed+=("$name=${!name}")
  done
  echo "${changed[*]}"
}

# part_settings PART [defaults] -> the settings PART runs with (or would by default), as
# NAME=VALUE words: what up.sh records in .stack/run/PART.settings when it starts PART
part_settings() {
  local names=() name words=()
  case "$1" in
    kafka) names=(JAVA_GC JAVA_HEAP_MB JAVA_JIT KAFKA_NETWORK_THREADS KAFKA_IO_THREADS) ;;
    kafka-*) names=(JAVA_GC JAVA_HEAP_MB JAVA_JIT) ;;
    connect | connect-*) names=(JAVA_GC JAVA_HEAP_MB JAVA_JIT DEBEZIUM_POLL_MS DEBEZIUM_SSLMODE DEBEZIUM_BUILD) ;;
    ferretdb) names=(FERRETDB_GOGC FERRETDB_GOMAXPROCS FERRETDB_MMAP_MB FERRETDB_BINARY) ;;
    verifier) names=(VERIFIER_BINARY) ;;
  esac
  for name in "${names[@]}"; do
    if [ "${2:-}" = defaults ]; then words+=("$name=$(setting_default "$name")"); else words+=("$name=${!name}"); fi
  done
  echo "${words[*]}"
}

# part_settings_recorded PART -> what PART was started with: its .settings file, or, for a part
# started before up.sh recorded them, the defaults it was started with then
part_settings_recorded() {
  if [ -f "$RUN_DIR/$1.settings" ]; then cat "$RUN_DIR/$1.settings"; else part_settings "$1" defaults; fi
}

# restart_if_settings_changed PART -> PART stopped (stack/down.sh) when it runs with other
# settings than the ones asked for, so up.sh starts it again with them
restart_if_settings_changed() {
  pid_of "$1" >/dev/null || return 0
  local was now
  was="$(part_settings_recorded "$1")"
  now="$(part_settings "$1")"
  [ "$was" != "$now" ] || return 0
  log "$1: runs with $was; restarting it with $now (STACK_SETTINGS)"
  "$STACK_SRC/down.sh" "$1"
}

# record_part_settings PART -> what PART was started with, for restart_if_settings_changed
# (start_daemon calls it; a part no setting is read by records nothing)
record_part_settings() {
  local words
  words="$(part_settings "$1")"
  [ -z "$words" ] || printf '%s\n' "$words" >"$RUN_DIR/$1.settings"
}

# java_opts -> the JVM options of Kafka and Connect, from JAVA_GC, JAVA_HEAP_MB and JAVA_JIT
java_opts() {
  local gc=() jit=()
  case "$JAVA_GC" in
    g1) gc=(-XX:+UseG1GC -XX:MaxGCPauseMillis=20) ;;
    serial) gc=(-XX:+UseSerialGC) ;;
    parallel) gc=(-XX:+UseParallelGC) ;;
  esac
  [ "$JAVA_JIT" = tiered ] || jit=(-XX:TieredStopAtLevel=1)
  JAVA_OPTS=("-Xms$((JAVA_HEAP_MB / 2))m" "-Xmx${JAVA_HEAP_MB}m" "${gc[@]}" "${jit[@]}" -Djava.awt.headless=true
    -Djava.net.preferIPv4Stack=true "-Dlog4j2.configurationFile=$STACK_SRC/config/log4j2.properties")
}

read_settings
