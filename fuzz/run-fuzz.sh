#!/bin/bash
# fuzz/run-fuzz.sh [SECONDS] - build memsync's libFuzzer targets with clang
# under ASan+UBSan and run each for SECONDS (default 60, split between the
# targets) from a small generated seed corpus. Crashes are left in
# $MEMSYNC_FUZZ_OUT (default build-fuzz/fuzz/artifacts) and fail the run.
set -eu
SECONDS_TOTAL=${1:-60}
SRC=$(cd "$(dirname "$0")/.." && pwd)
BUILD=${MEMSYNC_FUZZ_BUILD:-$SRC/build-fuzz}
OUT=${MEMSYNC_FUZZ_OUT:-$BUILD/fuzz/artifacts}
command -v clang >/dev/null || { echo "run-fuzz: clang not installed" >&2; exit 77; }

# -Wno-unknown-warning-option: the top-level flags include GCC-only warnings.
CC=clang CFLAGS="${CFLAGS:-} -Wno-unknown-warning-option" cmake -S "$SRC" -B "$BUILD" -DCMAKE_BUILD_TYPE=Debug -DMEMSYNC_SANITIZE=ON -DMEMSYNC_FUZZ=ON >/dev/null
cmake --build "$BUILD" -j"$(nproc)" --target fuzz_nbd_server fuzz_nbd_proto >/dev/null
mkdir -p "$OUT" "$BUILD/fuzz/corpus/server" "$BUILD/fuzz/corpus/proto"
python3 "$SRC/fuzz/make-seeds.py" "$BUILD/fuzz/corpus/server" "$BUILD/fuzz/corpus/proto"

per_target=$((SECONDS_TOTAL * 3 / 4))
[ "$per_target" -ge 1 ] || per_target=1
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}
status=0
echo "run-fuzz: fuzz_nbd_server for ${per_target}s" >&2
"$BUILD/fuzz/fuzz_nbd_server" -max_total_time="$per_target" -max_len=65536 -timeout=20 \
	-dict="$SRC/fuzz/nbd.dict" -artifact_prefix="$OUT/server-" -print_final_stats=1 \
	"$BUILD/fuzz/corpus/server" 2>"$OUT/server.log" || status=1
tail -n 12 "$OUT/server.log" >&2
rest=$((SECONDS_TOTAL - per_target))
[ "$rest" -ge 1 ] || rest=1
echo "run-fuzz: fuzz_nbd_proto for ${rest}s" >&2
"$BUILD/fuzz/fuzz_nbd_proto" -max_total_time="$rest" -artifact_prefix="$OUT/proto-" -print_final_stats=1 \
	"$BUILD/fuzz/corpus/proto" 2>"$OUT/proto.log" || status=1
tail -n 12 "$OUT/proto.log" >&2
[ $status = 0 ] && echo "run-fuzz: no crashes" >&2 || echo "run-fuzz: FAILED, see $OUT" >&2
exit $status
