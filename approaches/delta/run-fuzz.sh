#!/bin/bash
# run-fuzz.sh - build and run the delta frame parser fuzz target briefly.
#   approaches/delta/run-fuzz.sh [SECONDS]   (default 60; needs clang)
set -eu
src=$(cd "$(dirname "$0")/../.." && pwd)
build=${MEMSYNC_FUZZ_BUILD:-$src/build-fuzz-delta}
secs=${1:-60}
command -v clang >/dev/null || { echo "SKIP: clang not installed" >&2; exit 77; }
CC=clang cmake -S "$src" -B "$build" -DMEMSYNC_FUZZ=ON -DCMAKE_BUILD_TYPE=Debug >/dev/null
cmake --build "$build" -j2 --target fuzz_delta_proto >/dev/null
corpus=$(mktemp -d)
trap 'rm -rf "$corpus"' EXIT
cp "$src"/approaches/delta/fuzz-seeds/* "$corpus"/ 2>/dev/null || true
"$build/fuzz/fuzz_delta_proto" -max_total_time="$secs" -max_len=70000 "$corpus"
