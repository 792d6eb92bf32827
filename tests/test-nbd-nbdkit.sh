#!/usr/bin/env bash
# nbd approach against another NBD server (VM lab when this kernel has no
# nbd module): nbdkit's memory plugin, started here, is the remote copy
# (-o remote=URI). The remote side fills it with the version-0 content over
# NBD and reads it back for verification; the local side's /dev/nbdX is
# served from it, directly (mount=direct: every kernel request goes to
# nbdkit) and through the managed engine (mount=managed). seq-write then
# seq-read on both, each verified byte for byte (local view and the copy
# in nbdkit). Skipped, with the reason, where nbdkit is not installed.
. "$(dirname "$0")/functions.sh"
requires_root
requires jq nbdkit nbdinfo
requires_kernel_feature nbd
requires_approach nbd
T=$TMPDIR_TEST
size=16M
sock=$T/nbdkit.sock
# nbdkit writes its pid file once it accepts connections; it ends with this test.
nbdkit -f -U "$sock" -P "$T/nbdkit.pid" --exit-with-parent memory $size 2>"$T/nbdkit.err" &
npid=$!
cleanup_fn "kill $npid"
timeout 20 sh -c 'until [ -s "$1" ]; do sleep 0.05; done' wait-pid "$T/nbdkit.pid" ||
	fail "nbdkit did not start: $(cat "$T/nbdkit.err")"
uri="nbd+unix:///?socket=$sock"
out=$T/k.jsonl
for m in direct managed; do
	memsync_run_logged "$out" -a nbd -p local -s $size -o remote="$uri" -o mount=$m -w seq-write,seq-read
done
expect_scenarios "$out" 4
n=4
bad=$(jq -c -s '[.[] | select(.type == "scenario" and (.status != "pass" or .verified_remote != "yes"
	or .options.remote != $uri))] | map({workload, options, status, reason})' --arg uri "$uri" "$out")
[ "$bad" = "[]" ] || fail "runs against nbdkit not passed or not verified through it: $bad"
# The managed engine pulled from nbdkit; seq-write pushed to it.
jq -e -s '[.[] | select(.type == "scenario" and .options.mount == "managed") | .approach_stats.bytes_pulled > 0] | all' \
	"$out" >/dev/null || fail "the managed mount pulled nothing from nbdkit"
kill -0 $npid || fail "nbdkit is gone"
data=$(nbdinfo --map --totals "$uri" | awk '$4 == "data" {print $1}')
[ "${data:-0}" -ge $((16 << 20)) ] || fail "nbdkit holds ${data:-0} bytes of data, expected the 16 MiB region"
# A remote of the wrong size is refused naming it.
rc=0
memsync run -q -a nbd -p local -s 8M -o remote="$uri" -w seq-read --out "$T/bad.jsonl" >/dev/null 2>&1 || rc=$?
[ "$rc" = 1 ] || fail "an 8 MiB region on a 16 MiB export: expected exit 1, got $rc"
jq -e 'select(.type == "scenario") | .reason | test("has 16777216 bytes")' "$T/bad.jsonl" >/dev/null ||
	fail "size mismatch not named: $(jq -c 'select(.type == "scenario") | .reason' "$T/bad.jsonl")"
left=$(cd /sys/block && ls -d nbd*/pid 2>/dev/null)
[ -z "$left" ] || fail "devices still connected: $left"
echo "nbd nbdkit: $n runs on mount=direct and mount=managed through nbdkit's memory plugin passed, remote copy verified through nbdkit"
