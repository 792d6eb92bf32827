#!/usr/bin/env bash
# uffd reads: sequential, random and zipf reads over a few sizes and chunk
# sizes, prefetch on and off, 1 and 4 handler threads. Every run is verified
# by the harness (local view and remote copy against the content model).
. "$(dirname "$0")/functions.sh"
requires_root
requires jq
requires_approach uffd
out=$TMPDIR_TEST/r.jsonl
run() { memsync_run_logged "$out" -a uffd "$@"; }
run -w seq-read,seq-read-4k,rand-read,zipf-read -s 32M -o chunk=64k -o prefetch=off -o threads=1
run -w seq-read-4k,rand-read,zipf-read -s 16M -o chunk=4k -o prefetch=off -o threads=4
run -w seq-read,rand-read,zipf-read -s 48M -o chunk=1m -o prefetch=both -o threads=4
run -w seq-read-4k,rand-read -s 32M -o chunk=16k -o prefetch=readahead -o threads=1 -o page_first=off
run -w rand-read,header-first -s 32M -o chunk=64k -o prefetch=background -o order=header-first -o pullers=4 -o inflight=32
run -w zipf-read -s 20M -o chunk=64k -o prefetch=both -o order=follow -o overtake=off
n=$(jq -s '[.[] | select(.type == "scenario")] | length' "$out")
bad=$(jq -c -s '[.[] | select(.type == "scenario" and (.status != "pass" or .verified != true or .verified_remote != "yes"))]' "$out")
[ "$n" = 15 ] || fail "expected 15 scenario records, got $n"
[ "$bad" = "[]" ] || fail "runs not passed and verified: $bad"
pulled=$(jq -s '[.[] | select(.type == "scenario") | .approach_stats.bytes_pulled > 0] | all' "$out")
[ "$pulled" = true ] || fail "a run pulled nothing"
echo "uffd read: $n runs passed and verified"
