#!/usr/bin/env bash
# delta hub: one source pushes to a hub on host 1 that fans out to N
# destinations; remote_read verifies every destination against the hub's
# copy (and the runner checks that against the content model). The last
# destination joins late and gets a full initial sync from the hub while
# the others keep receiving cycles.
. "$(dirname "$0")/functions.sh"
requires jq
requires_root

out=$TMPDIR_TEST/r.jsonl
run_ok() {
	local what=$1; shift
	rm -f "$out"
	memsync run -v -a delta -s 16M --workdir "$TMPDIR_TEST" --out "$out" "$@" 2>"$TMPDIR_TEST/log" ||
		fail "$what: run failed: $(tail -1 "$out" 2>/dev/null | jq -r .reason)"
	jq -e -s '[.[] | select(.type == "scenario")] | length > 0 and all(.status == "pass" and .verified_remote == "yes")' \
		"$out" >/dev/null || fail "$what: not every scenario passed with every destination verified"
}

run_ok "two destinations" -w rand-write-1pct,rand-write-10pct,hotset-rw -o dests=2
run_ok "late joiner" -w hotset-rw,mixed -o dests=2 -o late_join_ms=300 -o poll_interval=20
grep -q "destination 1 joined" "$TMPDIR_TEST/log" || fail "the late destination never joined: $(grep hub "$TMPDIR_TEST/log" | head)"
run_ok "three destinations, stale, pagemap" -w rand-write-1pct -o dests=3 -o initial=stale -o dirty=pagemap -o chunk=16k
run_ok "hub over lan" -w rand-write-1pct -o dests=2 -p lan
run_ok "hub with tls-psk" -w rand-write-1pct -o dests=2 -o tls=psk

# Mutual X.509 (the thesis's mTLS hub): every leg presents a certificate of
# the test CA. A client certificate from another CA is refused by the hub,
# and the run fails naming the certificate problem.
make_x509_dir "$TMPDIR_TEST/ca1"
run_ok "hub with mutual x509" -w rand-write-1pct -o dests=2 -o tls=x509 -o tls_dir="$TMPDIR_TEST/ca1"
make_x509_dir "$TMPDIR_TEST/ca2"
mkdir -p "$TMPDIR_TEST/mixed"
cp "$TMPDIR_TEST"/ca1/{ca-cert,server-cert,server-key}.pem "$TMPDIR_TEST"/ca2/client-{cert,key}.pem "$TMPDIR_TEST/mixed/"
rc=0
memsync run -q -a delta -w rand-write-1pct -s 4M -o tls=x509 -o tls_dir="$TMPDIR_TEST/mixed" --workdir "$TMPDIR_TEST" \
	--out "$TMPDIR_TEST/x509bad.jsonl" 2>"$TMPDIR_TEST/x509bad.log" || rc=$?
[ "$rc" = 1 ] || fail "a client certificate from a foreign CA must fail the run (exit $rc)"
grep -qi "TLS" "$TMPDIR_TEST/x509bad.log" "$TMPDIR_TEST/x509bad.jsonl" || fail "the TLS failure is not named: $(tail -3 "$TMPDIR_TEST/x509bad.log")"
expect_fail 2 "tls_dir" memsync run -a delta -w rand-write-1pct -s 4M -o tls=x509 --workdir "$TMPDIR_TEST" --out "$TMPDIR_TEST/nodir.jsonl"

# A destination that differs is caught: corrupt the hub's copy after the run?
# The runner verifies the hub's copy against the content model and every
# destination against the hub's copy, so injected corruption in the source
# (which reaches every copy) must fail on the local view only.
rc=0
MEMSYNC_INJECT_CORRUPTION=4242 memsync run -q -a delta -w rand-write-1pct -s 4M -o dests=2 --workdir "$TMPDIR_TEST" \
	--out "$TMPDIR_TEST/bad.jsonl" || rc=$?
[ "$rc" = 1 ] || fail "injected corruption must fail the run"
echo "delta hub: fan-out to 2 and 3 destinations and a late joiner verified"
