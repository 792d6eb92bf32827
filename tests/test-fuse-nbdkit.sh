#!/usr/bin/env bash
# fuse against another NBD server: nbdkit's memory plugin, started here, is
# the remote copy (-o remote=URI). The remote side fills it with the
# version-0 content through the client layer, both mount styles read and
# write through it, and the harness verifies the remote copy by reading it
# back from nbdkit. nbdinfo then shows the region allocated in nbdkit.
. "$(dirname "$0")/functions.sh"
requires_root
requires jq nbdkit nbdinfo
requires_approach fuse
T=$TMPDIR_TEST
# stop PID - end a process this test started, if it still runs.
stop() { kill "$1" 2>/dev/null || true; }
sock=$T/nbdkit.sock
nbdkit -f -U "$sock" --exit-with-parent memory 64M 2>"$T/nbdkit.err" &
npid=$!
cleanup_fn "stop $npid"
for _ in $(seq 100); do
	[ -S "$sock" ] && break
	sleep 0.05
done
[ -S "$sock" ] || fail "nbdkit did not start: $(cat "$T/nbdkit.err")"
uri="nbd+unix:///?socket=$sock"
out=$T/k.jsonl
wd=$T/work
mkdir -p "$wd"
for m in direct managed; do
	memsync_run_logged "$out" -a fuse --workdir "$wd" -o remote="$uri" -o mount=$m -w seq-read,rand-write,mixed -s 32M
done
expect_scenarios "$out" 6
n=6
bad=$(jq -c -s '[.[] | select(.type == "scenario" and (.status != "pass" or .verified_remote != "yes"
	or .approach_stats.bytes_pulled == 0))] | map({workload, options, status, reason})' "$out")
[ "$bad" = "[]" ] || fail "runs against nbdkit not passed or not verified through it: $bad"
kill -0 $npid || fail "nbdkit is gone"
data=$(nbdinfo --map --totals "$uri" | awk '$4 == "data" {print $1}')
[ "${data:-0}" -ge $((32 << 20)) ] || fail "nbdkit holds ${data:-0} bytes of data, expected the 32 MiB region"
no_mount_left "$wd"
echo "fuse nbdkit: $n runs through nbdkit's memory plugin passed, remote copy verified through nbdkit"
