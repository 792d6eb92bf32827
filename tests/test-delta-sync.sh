#!/usr/bin/env bash
# delta: write workloads with every hash, chunk sizes 4k..1M, both modes,
# both dirty detections and every initial destination state; the workload's
# view and the destination's copy are verified byte for byte by the runner.
. "$(dirname "$0")/functions.sh"
requires jq
requires_root

out=$TMPDIR_TEST/r.jsonl
n=0
# Run one memsync invocation; every scenario must pass with the remote verified.
run_ok() {
	local what=$1; shift
	rm -f "$out"
	memsync run -q -a delta -s 16M --workdir "$TMPDIR_TEST" --out "$out" "$@" || fail "$what: run failed: $(tail -1 "$out" 2>/dev/null | jq -r .reason)"
	jq -e -s '[.[] | select(.type == "scenario")] | length > 0 and all(.status == "pass" and .verified_remote == "yes")' \
		"$out" >/dev/null || fail "$what: not every scenario passed with the remote verified"
	n=$((n + $(jq -s '[.[] | select(.type == "scenario")] | length' "$out")))
}

chunks=(4k 16k 64k 256k 1M 4k 64k)
i=0
for h in xxh3 xxh128 xxh64 crc32 adler32 sha256 crc32c; do
	[ $h = sha256 ] && ! "$MEMSYNC_BUILD/memsync-delta" --help | grep -q "sha256 (gnutls)" && continue
	run_ok "hash $h" -w rand-write-1pct,rand-write-10pct -o hash=$h -o chunk=${chunks[$i]}
	i=$((i + 1))
done
# Bytes pushed are whole dirty chunks: with 4k chunks exactly the written blocks.
run_ok "counters" -w rand-write-1pct -o chunk=4k
jq -e -s '[.[] | select(.type == "scenario")][0] | .approach_stats.chunks_dirty == (16777216 / 4096 * 0.01 | floor)
	and .approach_stats.bytes_pushed == .approach_stats.chunks_dirty * 4096' "$out" >/dev/null ||
	fail "chunks_dirty/bytes_pushed do not match the 1 % change set: $(jq -c -s '.[1].approach_stats' "$out")"
run_ok "whole-file" -w rand-write-1pct -o mode=whole-file
jq -e -s '[.[] | select(.type == "scenario")][0].approach_stats.bytes_pushed == 16777216' "$out" >/dev/null ||
	fail "whole-file mode must resend the whole file"
run_ok "background polling" -w mixed,hotset-rw,seq-write -o poll_interval=10
run_ok "initial stale" -w rand-write-1pct -o initial=stale
run_ok "initial empty" -w rand-write-1pct -o initial=empty -o chunk=16k
run_ok "pagemap" -w rand-write-1pct,rand-write-10pct,hotset-rw -o dirty=pagemap -o poll_interval=10
run_ok "pagemap 4k" -w rand-write-1pct -o dirty=pagemap -o chunk=4k
jq -e -s '[.[] | select(.type == "scenario")][0] | .approach_stats.chunks_dirty == (16777216 / 4096 * 0.01 | floor)' \
	"$out" >/dev/null || fail "pagemap tracking must find exactly the written blocks"
run_ok "lan profile" -w rand-write-1pct -p lan
run_ok "tls-psk, poll_interval with a unit" -w rand-write-1pct,mixed -o tls=psk -o poll_interval=10ms
# Content-defined chunks: in-place writes go into the copy; every average; background cycles.
run_ok "chunking=cdc" -w rand-write-1pct,rand-write-10pct,mixed -o chunking=cdc
run_ok "chunking=cdc 4k, stale, polling" -w hotset-rw,seq-write -o chunking=cdc -o cdc_avg=4k -o initial=stale \
	-o poll_interval=10
run_ok "chunking=cdc 64k crc32c" -w rand-write-1pct -o chunking=cdc -o cdc_avg=64k -o hash=crc32c -o initial=empty
expect_fail 2 "chunking=cdc needs dests=0" memsync run -q -a delta -w rand-write-1pct -s 4M -o chunking=cdc \
	-o dests=2 --workdir "$TMPDIR_TEST" --out "$TMPDIR_TEST/bad.jsonl"
expect_fail 2 "cdc_avg must be a power of two" memsync run -q -a delta -w rand-write-1pct -s 4M -o chunking=cdc \
	-o cdc_avg=1M --workdir "$TMPDIR_TEST" --out "$TMPDIR_TEST/bad.jsonl"
# Bad options are clear errors.
expect_fail 2 "chunk must be a power of two" memsync run -q -a delta -w rand-write-1pct -s 4M -o chunk=5000 \
	--workdir "$TMPDIR_TEST" --out "$TMPDIR_TEST/bad.jsonl"
expect_fail 2 "hash=md5: expected one of xxh3, xxh128" memsync run -q -a delta -w rand-write-1pct -s 4M -o hash=md5 \
	--workdir "$TMPDIR_TEST" --out "$TMPDIR_TEST/bad.jsonl"
expect_fail 2 "dirty=kernel: expected one of hash, pagemap" memsync run -q -a delta -w rand-write-1pct -s 4M \
	-o dirty=kernel --workdir "$TMPDIR_TEST" --out "$TMPDIR_TEST/bad.jsonl"
expect_fail 2 "poll_interval=soon" memsync run -q -a delta -w rand-write-1pct -s 4M -o poll_interval=soon \
	--workdir "$TMPDIR_TEST" --out "$TMPDIR_TEST/bad.jsonl"
echo "delta sync: $n scenarios verified"
