#!/usr/bin/env bash
#/ Benchmark (not a test): what one of our FerretDB patches (stack/ferretdb/patches) buys, old
#/ against new in one run. Builds FerretDB without that patch (stack/install.sh's vendored and
#/ patched source, copied, with the patch reversed) into .stack/bench/ferretdb-without-NNNN/,
#/ then runs bench/levers.sh with OLD="FERRETDB_BINARY=<that build>" and NEW="" (the stack's own
#/ build, every patch applied): legs OLD, NEW, NEW, OLD, and its table (CPU per 1,000 events of
#/ the machine and of each part, idle, end to end at both rates, with CAPACITY=1 the capacity).
#/ levers.sh's other settings pass through; OLD and NEW are this script's.
#/ Needs the single-node stack with its pipeline (stack/up.sh) on the local FerretDB, and Go.
#/
#/ Usage: PATCH=0005 [N=10000] [RATE=500] [FAST_N=20000] [FAST_RATE=1000] [IDLE_S=30]
#/        [CAPACITY=0|1] [BUDGET_S=300] bench/ferretdb_patch.sh
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/../scripts/demo/lib.sh"

no_arguments "$@"
[ -z "${OLD:-}${NEW:-}" ] || die "bench/ferretdb_patch.sh sets OLD and NEW itself (the build without PATCH, the stack's); unset them"
PATCH="${PATCH:-}"
have="$(cd "$STACK_SRC/ferretdb/patches" && printf '%s ' *.patch)"
[[ "$PATCH" =~ ^[0-9]{4}$ ]] || die "PATCH is the number of one of stack/ferretdb/patches (e.g. PATCH=0005; have: $have)"
patches=("$STACK_SRC/ferretdb/patches/$PATCH"-*.patch)
[ -f "${patches[0]}" ] || die "no patch numbered $PATCH in stack/ferretdb/patches (have: $have)"
patch_file="${patches[0]}"
mongodb_is_local || die "bench/ferretdb_patch.sh measures the stack's own FerretDB; MONGODB_URI names another store"
command -v go >/dev/null || die "Go is needed to build FerretDB (not found on PATH)"

src="$FERRETDB_BUILD_DIR" dir="$(ferretdb_patch_dir "$patch_file")"
[ -d "$src/$FERRETDB_MODULE" ] || die "FerretDB's vendored source is not in $src: run stack/install.sh"
patch -R -p1 -d "$src/$dir" --dry-run --batch --silent <"$patch_file" >/dev/null ||
  die "$(basename "$patch_file") is not applied in $src (an older build?): run stack/install.sh"

out="$STACK_DIR/bench/ferretdb-without-$PATCH"
rm -rf "$out"
mkdir -p "$out"
log "bench: building FerretDB without $(basename "$patch_file") in $out (a minute or more on 2 cores; log: $out/build.log)"
build() {
  cp -a "$src" "$out/src" &&
    patch -R -p1 -d "$out/src/$dir" --batch <"$patch_file" &&
    cd "$out/src" && ferretdb_go_build "$out/ferretdb"
}
(build) >"$out/build.log" 2>&1 || die "building FerretDB without $(basename "$patch_file") failed; see $out/build.log"
rm -rf "$out/src"
log "bench: OLD is FerretDB without $(basename "$patch_file"), NEW the stack's build with it"
OLD="FERRETDB_BINARY=$out/ferretdb" NEW="" exec "$REPO_ROOT/bench/levers.sh"
