#!/usr/bin/env bash
#/ Installs everything the local stack needs that is missing, from the package registries only:
#/   Debian packages  PostgreSQL 15 server and headers, clang/libclang, sudo, build tools,
#/                    jq, tmux, shellcheck (scripts/test.sh lints every script with it),
#/                    promtool (only the binary, from the prometheus package: checks
#/                    docs/prometheus/alerts.yml)
#/   Maven Central    Kafka 4.3 broker, Connect and tools, a log4j2 binding (stack/maven/kafka),
#/                    the Debezium 3.6.1 PostgreSQL connector (stack/maven/debezium)
#/   Go module proxy  FerretDB v1.24.2, built from the wrapper module in stack/ferretdb
#/   crates.io        cargo-pgrx 0.18.1, then `cargo pgrx init` against the system PostgreSQL 15
#/   PyPI             the example Python consumer's requirements (confluent-kafka, pymongo) into
#/                    .stack/venv-python-consumer
#/   Debian + npm     Chromium and Firefox ESR (the daemon's page is tested in both, headless),
#/                    Node.js when missing, and tests/browser's puppeteer-core (npm ci; it never
#/                    downloads a browser)
#/ and builds and installs the outbox_demo extension from pg_extension/.
#/
#/ Idempotent, asks nothing, safe to re-run: each step checks first and does nothing when its
#/ result is already in place. Usage: stack/install.sh [--no-extension]
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

WITH_EXTENSION=1
case "${1:-}" in
  --no-extension) WITH_EXTENSION=0 ;;
  -h | --help)
    script_help
    exit 0
    ;;
  "") ;;
  *) die "unknown argument '$1' (usage: stack/install.sh [--no-extension])" ;;
esac

mkdir -p "$STACK_DIR" "$LOG_DIR"

# ---------------------------------------------------------------- Debian packages
apt_install_missing() {
  local missing=() pkg
  for pkg in "$@"; do
    dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep 'install ok installed' >/dev/null || missing+=("$pkg")
  done
  [ ${#missing[@]} -eq 0 ] && return 0
  [ "$(id -u)" -eq 0 ] || die "missing Debian packages (${missing[*]}); run stack/install.sh as root"
  log "apt: installing ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq >"$LOG_DIR/apt.log" 2>&1 || die "apt-get update failed; see $LOG_DIR/apt.log"
  apt-get install -y -qq --no-install-recommends "${missing[@]}" >>"$LOG_DIR/apt.log" 2>&1 ||
    die "apt-get install ${missing[*]} failed; see $LOG_DIR/apt.log"
}

apt_install_missing \
  "postgresql-$PG_MAJOR" "postgresql-client-$PG_MAJOR" "postgresql-server-dev-$PG_MAJOR" \
  postgresql-common libclang-dev clang pkg-config sudo curl ca-certificates \
  build-essential make patch jq tmux shellcheck

# The browser test of the daemon's page: Debian's Chromium and Firefox ESR, driven by
# puppeteer-core from npm (Chromium over CDP, Firefox over WebDriver BiDi, no geckodriver).
apt_install_missing chromium firefox-esr
command -v node >/dev/null || apt_install_missing nodejs npm
BROWSER_TESTS="$REPO_ROOT/tests/browser"
if [ ! -f "$BROWSER_TESTS/node_modules/.package-lock.json" ] ||
  [ "$BROWSER_TESTS/package-lock.json" -nt "$BROWSER_TESTS/node_modules/.package-lock.json" ]; then
  log "npm: installing tests/browser's packages"
  npm ci --prefix "$BROWSER_TESTS" --no-audit --no-fund >"$LOG_DIR/npm.log" 2>&1 ||
    die "npm ci in tests/browser failed; see $LOG_DIR/npm.log"
fi

command -v java >/dev/null || apt_install_missing openjdk-17-jdk-headless
command -v mvn >/dev/null || apt_install_missing maven
java_major="$(java -XshowSettings:properties -version 2>&1 | sed -n 's/.*java.specification.version = \([0-9]*\).*/\1/p')"
[ "${java_major:-0}" -ge 17 ] || die "Java 17 or newer is needed for Kafka $KAFKA_VERSION (found: ${java_major:-none})"

# ---------------------------------------------------------------- Kafka and Debezium jars
# A folder is (re)filled when the pom that describes it changed since it was filled.
maven_folder() {
  local pom="$1" out="$2" stamp
  stamp="$(sha256sum "$pom" | cut -c1-16)"
  [ -f "$out/.pom-$stamp" ] && return 0
  log "maven: resolving $(basename "$(dirname "$pom")") jars into $out"
  rm -rf "$out"
  mkdir -p "$out"
  mvn -B -q -f "$pom" org.apache.maven.plugins:maven-dependency-plugin:3.8.1:copy-dependencies \
    -DoutputDirectory="$out" -DincludeScope=runtime >"$LOG_DIR/maven.log" 2>&1 ||
    die "Maven could not resolve $pom; see $LOG_DIR/maven.log"
  touch "$out/.pom-$stamp"
}
maven_folder "$STACK_SRC/maven/kafka/pom.xml" "$KAFKA_LIB"

# ---------------------------------------------------------------- Debezium's patches
# stack/debezium/patches/ARTIFACT/*.patch fix Debezium's own sources: the files they touch are
# taken from ARTIFACT's -sources jar (Maven Central), patched, compiled against the plugin folder
# and written into ARTIFACT's jar there. Upstream's jars stay in $DEBEZIUM_UPSTREAM_DIR, which
# DEBEZIUM_BUILD=upstream (stack/settings.sh) runs. Redone when the pom or a patch changes.
# patch_debezium ARTIFACT -> its patches applied to its jar in $DEBEZIUM_DIR; every step checked
patch_debezium() {
  local artifact="$1" work="$STACK_DIR/build/debezium/$1" jar p files=()
  jar="$DEBEZIUM_DIR/$artifact-$DEBEZIUM_VERSION.jar"
  [ -f "$jar" ] || { echo "$jar is not in the plugin folder: stack/debezium/patches/$artifact names no jar of it"; return 1; }
  rm -rf "$work" && mkdir -p "$work/src" "$work/classes" || return 1
  mvn -B -q org.apache.maven.plugins:maven-dependency-plugin:3.8.1:copy \
    -Dartifact="io.debezium:$artifact:$DEBEZIUM_VERSION:jar:sources" -DoutputDirectory="$work" || return 1
  mapfile -t files < <(sed -n 's#^+++ b/\([^[:space:]]*\).*#\1#p' "$STACK_SRC/debezium/patches/$artifact"/*.patch | sort -u)
  [ "${#files[@]}" -gt 0 ] || { echo "the patches of $artifact name no file"; return 1; }
  (cd "$work/src" && unzip -q "$work/$artifact-$DEBEZIUM_VERSION-sources.jar" "${files[@]}") || return 1
  for p in "$STACK_SRC/debezium/patches/$artifact"/*.patch; do
    echo "applying $artifact/$(basename "$p")"
    patch -p1 -d "$work/src" --forward --batch <"$p" || return 1
  done
  (cd "$work/src" && javac --release 17 -nowarn -cp "$DEBEZIUM_DIR/*:$KAFKA_LIB/*" -d "$work/classes" "${files[@]}") || return 1
  (cd "$work/classes" && jar uf "$jar" .) || return 1
}
debezium_stamp="$(cat "$STACK_SRC/maven/debezium/pom.xml" "$STACK_SRC"/debezium/patches/*/*.patch | sha256sum | cut -c1-16)"
if [ ! -f "$DEBEZIUM_DIR/.patched-$debezium_stamp" ]; then
  rm -rf "$DEBEZIUM_DIR" # refilled from Maven's cache: the patches apply to upstream's jars
  maven_folder "$STACK_SRC/maven/debezium/pom.xml" "$DEBEZIUM_DIR"
  rm -rf "$DEBEZIUM_UPSTREAM_DIR"
  mkdir -p "$(dirname "$DEBEZIUM_UPSTREAM_DIR")"
  cp -a "$DEBEZIUM_DIR" "$DEBEZIUM_UPSTREAM_DIR" || die "cannot copy $DEBEZIUM_DIR to $DEBEZIUM_UPSTREAM_DIR"
  log "javac: patching Debezium (stack/debezium/patches)"
  : >"$LOG_DIR/debezium-patch.log"
  for dir in "$STACK_SRC"/debezium/patches/*/; do
    (patch_debezium "$(basename "$dir")") >>"$LOG_DIR/debezium-patch.log" 2>&1 ||
      die "patching Debezium's $(basename "$dir") failed; see $LOG_DIR/debezium-patch.log"
  done
  touch "$DEBEZIUM_DIR/.patched-$debezium_stamp"
fi

# ---------------------------------------------------------------- FerretDB
# `go install .../cmd/ferretdb@v1.24.2` gives a binary that panics at start: FerretDB embeds
# build/version/version.txt, which the module zip lacks. So: vendor the wrapper module, write
# that file into the vendored copy, apply stack/ferretdb/patches/*.patch, build with -mod=vendor.
# The build is redone when the wrapper module or a patch changes (stamp next to the binary).
# build_ferretdb DIR -> vendors, patches and builds FerretDB in DIR. Every step is checked on
# its own: `set -e` does nothing in a function or subshell called as `… || die`, and a failed
# `go mod vendor` or patch must never leave an unpatched binary that still counts as built.
build_ferretdb() {
  local p dir
  cd "$1" || return 1
  go mod vendor || return 1
  echo "$FERRETDB_VERSION" >"$FERRETDB_MODULE/build/version/version.txt" || return 1
  for p in "$STACK_SRC"/ferretdb/patches/*.patch; do
    echo "applying $(basename "$p")"
    dir="$(ferretdb_patch_dir "$p")" || return 1
    patch -p1 -d "$dir" --forward --batch <"$p" || return 1
  done
  ferretdb_go_build "$FERRETDB_BIN"
}
ferretdb_stamp="$(cat "$STACK_SRC"/ferretdb/go.mod "$STACK_SRC"/ferretdb/go.sum "$STACK_SRC"/ferretdb/patches/*.patch | sha256sum | cut -c1-16)"
if mongodb_is_local && [ "$(cat "$FERRETDB_BIN.stamp" 2>/dev/null)" != "$ferretdb_stamp" ]; then
  command -v go >/dev/null || die "Go 1.24 or newer is needed to build FerretDB (not found on PATH)"
  log "go: building FerretDB $FERRETDB_VERSION (a few minutes on 2 cores)"
  build="$FERRETDB_BUILD_DIR"
  rm -rf "$build"
  mkdir -p "$build" "$(dirname "$FERRETDB_BIN")"
  cp "$STACK_SRC/ferretdb/go.mod" "$STACK_SRC/ferretdb/go.sum" "$STACK_SRC/ferretdb/tools.go" "$build/"
  (build_ferretdb "$build") >"$LOG_DIR/ferretdb-build.log" 2>&1 ||
    die "FerretDB build failed; see $LOG_DIR/ferretdb-build.log"
  # Captured first: `--version | grep -q` fails under pipefail when grep exits on the first line
  # and FerretDB then dies of SIGPIPE writing the rest.
  built_version="$("$FERRETDB_BIN" --version)" || die "the FerretDB binary built at $FERRETDB_BIN does not run; see $LOG_DIR/ferretdb-build.log"
  grep -q "version: $FERRETDB_VERSION" <<<"$built_version" ||
    die "the FerretDB binary built at $FERRETDB_BIN reports $(head -n 1 <<<"$built_version"), not $FERRETDB_VERSION"
  echo "$ferretdb_stamp" >"$FERRETDB_BIN.stamp"
fi

# ---------------------------------------------------------------- cargo-pgrx
command -v cargo >/dev/null || die "cargo not found on PATH: install Rust 1.95 with rustup"
if ! cargo pgrx --version 2>/dev/null | grep "$PGRX_VERSION" >/dev/null; then
  log "cargo: installing cargo-pgrx $PGRX_VERSION (about 5 minutes on 2 cores)"
  cargo install cargo-pgrx --version "$PGRX_VERSION" --locked >"$LOG_DIR/cargo-pgrx.log" 2>&1 ||
    die "cargo install cargo-pgrx failed; see $LOG_DIR/cargo-pgrx.log"
fi
PGRX_HOME="${PGRX_HOME:-$HOME/.pgrx}"
if ! grep -qs "pg$PG_MAJOR = \"$PG_CONFIG\"" "$PGRX_HOME/config.toml"; then
  log "cargo pgrx init --pg$PG_MAJOR $PG_CONFIG"
  cargo pgrx init "--pg$PG_MAJOR" "$PG_CONFIG" >"$LOG_DIR/pgrx-init.log" 2>&1 ||
    die "cargo pgrx init failed; see $LOG_DIR/pgrx-init.log"
fi

# ---------------------------------------------------------------- PyPI: the example Python consumer
# examples/python-consumer (confluent-kafka, pymongo) in its own venv; reinstalled when its
# requirements.txt changes.
py_req="$REPO_ROOT/examples/python-consumer/requirements.txt"
if [ -f "$py_req" ] && ! cmp -s "$py_req" "$PY_CONSUMER_VENV/requirements.txt"; then
  log "pip: installing examples/python-consumer/requirements.txt into $PY_CONSUMER_VENV"
  if [ ! -x "$PY_CONSUMER_VENV/bin/python" ]; then
    python3 -m venv "$PY_CONSUMER_VENV" >"$LOG_DIR/python-consumer.log" 2>&1 ||
      die "python3 -m venv $PY_CONSUMER_VENV failed; see $LOG_DIR/python-consumer.log"
  fi
  "$PY_CONSUMER_VENV/bin/pip" install -q -r "$py_req" >>"$LOG_DIR/python-consumer.log" 2>&1 ||
    die "pip install -r $py_req failed; see $LOG_DIR/python-consumer.log"
  cp "$py_req" "$PY_CONSUMER_VENV/requirements.txt"
fi

# ---------------------------------------------------------------- promtool
# Checks docs/prometheus's alerting rules (scripts/test.sh). Only the promtool binary is taken
# from Debian's prometheus package: installing the package would start a Prometheus server on
# 0.0.0.0:9090.
if [ ! -x "$PROMTOOL_BIN" ]; then
  log "apt: extracting promtool from Debian's prometheus package into $(dirname "$PROMTOOL_BIN")"
  prom_tmp="$(mktemp -d)"
  (cd "$prom_tmp" && apt-get download prometheus) >"$LOG_DIR/promtool.log" 2>&1 ||
    die "apt-get download prometheus failed; see $LOG_DIR/promtool.log"
  dpkg-deb -x "$prom_tmp"/prometheus_*.deb "$prom_tmp/x" >>"$LOG_DIR/promtool.log" 2>&1 ||
    die "dpkg-deb -x of the prometheus package failed; see $LOG_DIR/promtool.log"
  mkdir -p "$(dirname "$PROMTOOL_BIN")"
  cp "$prom_tmp/x/usr/bin/promtool" "$PROMTOOL_BIN"
  rm -rf "$prom_tmp"
  "$PROMTOOL_BIN" --version >>"$LOG_DIR/promtool.log" 2>&1 ||
    die "$PROMTOOL_BIN does not run; see $LOG_DIR/promtool.log"
fi

# ---------------------------------------------------------------- the extension
if [ "$WITH_EXTENSION" -eq 1 ] && [ -f "$REPO_ROOT/pg_extension/Cargo.toml" ]; then
  log "cargo pgrx install --release (pg_extension/)"
  cargo_pgrx install --release --pg-config "$PG_CONFIG" >"$LOG_DIR/extension-install.log" 2>&1 ||
    die "building or installing the extension failed; see $LOG_DIR/extension-install.log"
fi

log "install: everything is in place"
