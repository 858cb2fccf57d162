#!/usr/bin/env bash
#/ The stack's settings (stack/settings.sh), as a user changes them with stack/up.sh:
#/   1. values a setting does not accept (FERRETDB_GOGC=5, FERRETDB_GOMAXPROCS=0,
#/      FERRETDB_MMAP_MB=70000, a relative FERRETDB_BINARY or VERIFIER_BINARY,
#/      DEBEZIUM_SSLMODE=allow, DEBEZIUM_BUILD=fork) and an unknown name: up.sh
#/      exits non-zero naming the setting, and nothing changes (the recorded settings, FerretDB's
#/      pid)
#/   2. STACK_SETTINGS="FERRETDB_GOGC=200 FERRETDB_MMAP_MB=64 FERRETDB_BINARY=<a copy of the
#/      stack's build>": FerretDB alone is restarted, running that copy with GOGC=200 and SQLite's
#/      mmap_size at 64 MiB (its /proc exe, environment and command line);
#/      Kafka and Connect keep their pids; stack/status.sh shows the settings; a later
#/      stack/up.sh without STACK_SETTINGS (as the faults' healing calls it) keeps them and
#/      restarts nothing
#/   3. STACK_SETTINGS= (empty): back to the defaults, FerretDB restarted from the stack's build
#/      with its default GOGC, and status.sh shows no setting
#/ The settings recorded before the test are restored at its end. Needs the single-node stack.
#/
#/ Usage: tests/settings.sh
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh" settings-test "$@"
require_stack
cluster_profile && die "tests/settings.sh runs on the single-node stack"

saved="$(recorded_settings)"
restore() { STACK_SETTINGS="$saved" STACK_PIPELINE=off stack/up.sh >/dev/null 2>&1 || echo "[settings-test] could not restore the settings ($saved): run stack/up.sh" >&2; }
trap restore EXIT
up() { STACK_PIPELINE=off stack/up.sh 2>&1; }
gogc_of() { tr '\0' '\n' <"/proc/$1/environ" | sed -n 's/^GOGC=//p'; }
copy="$STACK_DIR/settings-test/ferretdb"
mkdir -p "$(dirname "$copy")"
cp "$FERRETDB_BIN" "$copy"

# 1. refused, nothing changed
store="$(pid_of ferretdb)"
for bad in FERRETDB_GOGC=5 FERRETDB_GOMAXPROCS=0 FERRETDB_MMAP_MB=70000 FERRETDB_BINARY=bin/ferretdb VERIFIER_BINARY=target/release/verifier DEBEZIUM_SSLMODE=allow DEBEZIUM_BUILD=fork FERRETDB_GOGCC=400; do
  if out="$(STACK_SETTINGS="$bad" up)"; then fail "STACK_SETTINGS=$bad was accepted: $out"; fi
  grep -q "${bad%%=*}" <<<"$out" || fail "STACK_SETTINGS=$bad: the error does not name ${bad%%=*}: $out"
  [ "$(recorded_settings)" = "$saved" ] || fail "STACK_SETTINGS=$bad changed $SETTINGS_FILE"
  [ "$(pid_of ferretdb)" = "$store" ] || fail "STACK_SETTINGS=$bad restarted FerretDB"
done
pass "refused values and an unknown name: up.sh exits non-zero naming the setting; nothing changed"

# 2. one setting: its part alone restarted, with it
STACK_SETTINGS='' up >/dev/null || fail "stack/up.sh with the default settings failed"
store="$(pid_of ferretdb)" kafka="$(pid_of kafka)" connect="$(pid_of connect)"
two="FERRETDB_GOGC=200 FERRETDB_MMAP_MB=64 FERRETDB_BINARY=$copy"
out="$(STACK_SETTINGS="$two" up)" || fail "STACK_SETTINGS=\"$two\" stack/up.sh failed: $out"
new="$(pid_of ferretdb)" || fail "FerretDB is not running after STACK_SETTINGS=\"$two\""
[ "$new" != "$store" ] || fail "FerretDB was not restarted for \"$two\": $out"
[ "$(gogc_of "$new")" = 200 ] || fail "FerretDB (pid $new) runs with GOGC=$(gogc_of "$new"), not 200"
tr '\0' ' ' <"/proc/$new/cmdline" | grep -q '_pragma=mmap_size(67108864)' ||
  fail "FerretDB (pid $new) runs without SQLite's mmap_size of 64 MiB: $(tr '\0' ' ' <"/proc/$new/cmdline")"
[ "$(readlink "/proc/$new/exe")" = "$copy" ] || fail "FerretDB (pid $new) runs $(readlink "/proc/$new/exe"), not FERRETDB_BINARY=$copy"
[ "$(pid_of kafka)" = "$kafka" ] || fail "Kafka was restarted for a setting of FerretDB's: $out"
[ "$(pid_of connect)" = "$connect" ] ||
  fail "Connect was restarted for a setting of FerretDB's: $out"
stack/status.sh | grep -q "^settings  *$two " || fail "stack/status.sh does not show $two: $(stack/status.sh)"
up >/dev/null || fail "stack/up.sh without STACK_SETTINGS failed"
[ "$(pid_of ferretdb)" = "$new" ] || fail "stack/up.sh without STACK_SETTINGS restarted FerretDB (the recorded setting was not kept)"
pass "$two: FerretDB alone restarted, that binary with GOGC=200 and a 64 MiB memory map, shown by status.sh, kept by a later up.sh"

# 3. back to the defaults
out="$(STACK_SETTINGS='' up)" || fail "STACK_SETTINGS= stack/up.sh failed: $out"
store="$(pid_of ferretdb)"
[ "$store" != "$new" ] || fail "STACK_SETTINGS= did not restart FerretDB: $out"
default="$(setting_default FERRETDB_GOGC)"
[ "$(gogc_of "$store")" = "$default" ] || fail "STACK_SETTINGS= restarted FerretDB with GOGC=$(gogc_of "$store"), not $default"
! tr '\0' ' ' <"/proc/$store/cmdline" | grep -q mmap_size || fail "STACK_SETTINGS= restarted FerretDB with a memory map: $(tr '\0' ' ' <"/proc/$store/cmdline")"
[ "$(readlink "/proc/$store/exe")" = "$FERRETDB_BIN" ] || fail "STACK_SETTINGS= restarted FerretDB from $(readlink "/proc/$store/exe"), not $FERRETDB_BIN"
! stack/status.sh | grep -q '^settings' || fail "stack/status.sh shows settings after STACK_SETTINGS=: $(stack/status.sh)"
pass "STACK_SETTINGS= (empty): FerretDB back on the stack's build and GOGC=$default, no setting shown"
rm -rf "$(dirname "$copy")"
