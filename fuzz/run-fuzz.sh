#!/usr/bin/env bash
# fuzz/run-fuzz.sh [SECONDS] - the one runner of memsync's libFuzzer targets.
#
# Configures one build directory ($MEMSYNC_FUZZ_BUILD, default build-fuzz:
# clang, ASan+UBSan, -DMEMSYNC_FUZZ=ON), builds the memsync_fuzz target (every
# fuzz_* executable an approaches/*/CMakeLists.txt registers) and runs each
# target for SECONDS (default 60) from its seed corpus. Crashes are left in
# $MEMSYNC_FUZZ_OUT (default build-fuzz/fuzz/artifacts) and fail the run
# (exit 1); exit 77 without clang. `./run.sh fuzz [SECONDS]` calls this.
#
# Seeds: fuzz/make-seeds.py generates NBD sessions (fuzz_nbd_server) and
# headers (fuzz_nbd_proto); approaches/delta/fuzz-seeds/ holds delta frames
# (fuzz_delta_proto). A new target runs with libFuzzer's defaults until it is
# given options and seeds in the table below.
set -euo pipefail
secs=${1:-60}
src=$(cd "$(dirname "$0")/.." && pwd)
build=${MEMSYNC_FUZZ_BUILD:-$src/build-fuzz}
out=${MEMSYNC_FUZZ_OUT:-$build/fuzz/artifacts}
corpus=$build/fuzz/corpus
case $secs in
'' | *[!0-9]* | 0) echo "run-fuzz: SECONDS must be a positive integer, not '$secs'" >&2; exit 2 ;;
esac
command -v clang >/dev/null || { echo "run-fuzz: clang not installed" >&2; exit 77; }

mkdir -p "$build"
# -Wno-unknown-warning-option: the top-level flags include GCC-only warnings.
# -O1: a Debug build is -O0, which runs the targets 2-3x slower; -O1 keeps the
# sanitizers' reports precise (what libFuzzer's documentation builds with).
# Given on the command line, not through CFLAGS: a configured directory keeps
# its first flags otherwise.
CC=clang cmake -S "$src" -B "$build" -DCMAKE_BUILD_TYPE=Debug -DCMAKE_C_FLAGS="${CFLAGS:-} -O1 -Wno-unknown-warning-option" \
	-DMEMSYNC_SANITIZE=ON -DMEMSYNC_FUZZ=ON >"$build/configure.log" 2>&1 ||
	{ tail -20 "$build/configure.log" >&2; echo "run-fuzz: cmake failed" >&2; exit 1; }
# Relinking every target makes the set under fuzz/ exactly the registered one.
rm -f "$build"/fuzz/fuzz_*
cmake --build "$build" -j"$(nproc)" --target memsync_fuzz >"$build/build.log" 2>&1 ||
	{ tail -40 "$build/build.log" >&2; echo "run-fuzz: build failed (log: $build/build.log)" >&2; exit 1; }
targets=()
for t in "$build"/fuzz/fuzz_*; do
	[ -x "$t" ] && targets+=("$(basename "$t")")
done
[ ${#targets[@]} -gt 0 ] || { echo "run-fuzz: no fuzz targets were built" >&2; exit 1; }

mkdir -p "$out"
python3 "$src/fuzz/make-seeds.py" "$corpus/fuzz_nbd_server" "$corpus/fuzz_nbd_proto"
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}
failed=()
for t in "${targets[@]}"; do
	# Options of this target (input size, per-input timeout, dictionary) and seeds.
	opts=() seeds=
	case $t in
	fuzz_nbd_server) opts=(-max_len=65536 -timeout=20 -dict="$src/fuzz/nbd.dict") ;;
	fuzz_delta_proto) opts=(-max_len=70000) seeds=$src/approaches/delta/fuzz-seeds ;;
	esac
	mkdir -p "$corpus/$t"
	[ -z "$seeds" ] || cp "$seeds"/* "$corpus/$t"/
	echo "run-fuzz: $t for ${secs}s" >&2
	if "$build/fuzz/$t" -max_total_time="$secs" "${opts[@]}" -artifact_prefix="$out/$t-" -print_final_stats=1 \
		"$corpus/$t" 2>"$out/$t.log"; then
		tail -n 8 "$out/$t.log" >&2
	else
		tail -n 30 "$out/$t.log" >&2
		failed+=("$t")
	fi
done
if [ ${#failed[@]} -gt 0 ]; then
	echo "run-fuzz: FAILED: ${failed[*]} (inputs and logs in $out)" >&2
	exit 1
fi
echo "run-fuzz: ${#targets[@]} target(s), no crashes" >&2
