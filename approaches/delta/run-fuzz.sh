#!/bin/bash
# approaches/delta/run-fuzz.sh [SECONDS] - build the delta frame parser's
# libFuzzer target with clang under ASan+UBSan and run it for SECONDS
# (default 60) from the seeds in approaches/delta/fuzz-seeds. Crashes are
# left in $MEMSYNC_FUZZ_OUT (default build-fuzz-delta/fuzz/artifacts) and
# fail the run (exit 1); exit 77 without clang.
set -eu
secs=${1:-60}
src=$(cd "$(dirname "$0")/../.." && pwd)
build=${MEMSYNC_FUZZ_BUILD:-$src/build-fuzz-delta}
out=${MEMSYNC_FUZZ_OUT:-$build/fuzz/artifacts}
command -v clang >/dev/null || { echo "run-fuzz: clang not installed" >&2; exit 77; }
# -Wno-unknown-warning-option: the top-level flags include GCC-only warnings.
CC=clang CFLAGS="${CFLAGS:-} -Wno-unknown-warning-option" cmake -S "$src" -B "$build" -DCMAKE_BUILD_TYPE=Debug \
	-DMEMSYNC_SANITIZE=ON -DMEMSYNC_FUZZ=ON >/dev/null
cmake --build "$build" -j"$(nproc)" --target fuzz_delta_proto >/dev/null
mkdir -p "$out" "$build/fuzz/corpus/delta"
cp "$src"/approaches/delta/fuzz-seeds/* "$build/fuzz/corpus/delta"/
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}
echo "run-fuzz: fuzz_delta_proto for ${secs}s" >&2
status=0
"$build/fuzz/fuzz_delta_proto" -max_total_time="$secs" -max_len=70000 -artifact_prefix="$out/delta-" \
	-print_final_stats=1 "$build/fuzz/corpus/delta" 2>"$out/delta.log" || status=1
tail -n 8 "$out/delta.log" >&2
[ $status = 0 ] && echo "run-fuzz: no crashes" >&2 || echo "run-fuzz: FAILED, see $out" >&2
exit $status
