#!/bin/bash
# test-remote-interop.sh - memsync-serve against libnbd's tools: nbdinfo
# (size, export list, block sizes), nbdcopy (multi-conn copy in and out),
# nbdsh (pread/pwrite/flush/trim/zero, out-of-range errors on a connection
# that keeps working), TLS with PSK and X.509 keys made by psktool/certtool.
. "$(dirname "$0")/functions.sh"
requires nbdinfo nbdcopy cmp
# nbdsh is "python3 -m nbd": find a python3 that has libnbd's module.
NBDSH=
for py in python3 /usr/bin/python3; do
	if "$py" -c 'import nbd' 2>/dev/null; then NBDSH="$py -m nbd"; break; fi
done
[ -n "$NBDSH" ] || skip "requires nbdsh (python3-libnbd)"
SERVE=$MEMSYNC_BUILD/memsync-serve
[ -x "$SERVE" ] || fail "memsync-serve not built"

# kill PID unless it is gone already.
kill_quietly() { kill "$1" 2>/dev/null || true; }

# Start memsync-serve on a free port with extra args; sets PORT and PID.
start_server() {
	local portfile=$TMPDIR_TEST/port.$RANDOM
	"$SERVE" --listen 127.0.0.1:0 --ready-fd 3 "$@" 3>"$portfile" 2>>"$TMPDIR_TEST/serve.log" &
	PID=$!
	cleanup_fn kill_quietly $PID
	for _ in $(seq 100); do
		[ -s "$portfile" ] && break
		kill -0 $PID 2>/dev/null || fail "memsync-serve $* exited: $(cat "$TMPDIR_TEST/serve.log")"
		sleep 0.05
	done
	PORT=$(cat "$portfile")
	[ -n "$PORT" ] && [ "$PORT" -gt 0 ] || fail "no port from memsync-serve"
}

start_server --backend memory:64M --export mem
URI=nbd://127.0.0.1:$PORT/mem

# nbdinfo: size, multi-conn, block size constraints, export list
info=$(nbdinfo "$URI") || fail "nbdinfo failed"
echo "$info" | grep -q 'export-size: 67108864' || fail "size: $info"
echo "$info" | grep -q 'can_multi_conn: true' || fail "multi-conn: $info"
echo "$info" | grep -q 'block_size_minimum: 1' || fail "min block: $info"
echo "$info" | grep -q 'block_size_preferred: 4096' || fail "pref block: $info"
echo "$info" | grep -q 'block_size_maximum: 33554432' || fail "max block: $info"
nbdinfo --list "nbd://127.0.0.1:$PORT" | grep -q 'export="mem"' || fail "export list"
nbdinfo "nbd://127.0.0.1:$PORT/nosuch" >/dev/null 2>&1 && fail "unknown export accepted"
nbdinfo --json "$URI" | grep -q '"protocol": "newstyle-fixed"' || fail "protocol"

# nbdcopy: 64 MiB in (multi-conn), back out, compare
head -c 64M /dev/urandom >"$TMPDIR_TEST/in.bin"
nbdcopy --connections=4 --requests=16 "$TMPDIR_TEST/in.bin" "$URI" || fail "nbdcopy in"
nbdcopy --connections=4 "$URI" "$TMPDIR_TEST/out.bin" || fail "nbdcopy out"
cmp "$TMPDIR_TEST/in.bin" "$TMPDIR_TEST/out.bin" || fail "nbdcopy round trip differs"

# nbdsh: every command, out-of-range errors, the connection keeps working
$NBDSH -c "
import errno
h.set_strict_mode(0)   # let bad requests reach the server
h.connect_uri('$URI')
size = h.get_size()
h.pwrite(b'a' * 8192, 4096)
assert h.pread(8192, 4096) == b'a' * 8192
h.pwrite(b'b' * 512, 0, nbd.CMD_FLAG_FUA)
h.flush()
h.trim(4096, 4096)
assert h.pread(4096, 4096) == bytes(4096)
h.zero(100, 8192)
assert h.pread(200, 8150) == bytes(142) + b'a' * 58  # trimmed, zeroed, intact
for call, code in ((lambda: h.pread(10, size - 5), errno.EINVAL),
                   (lambda: h.pwrite(b'x' * 10, size - 5), errno.ENOSPC),
                   (lambda: h.zero(10, size), errno.ENOSPC),
                   (lambda: h.pread(33554433, 0), errno.EINVAL)):
    try:
        call()
        raise SystemExit('out-of-range request succeeded')
    except nbd.Error as e:
        assert e.errno in (code, errno.errorcode[code]), (e.errno, e.string)
assert h.pread(512, 0) == b'b' * 512
h.shutdown()
" || fail "nbdsh round trips"
grep -q 'READ offset 67108859 length 10' "$TMPDIR_TEST/serve.log" || fail "no log line for the bad read"

# A proxy: a second memsync-serve whose backend is the first (remote:URI).
FIRST=$PID
start_server --backend "remote:$URI" --workers 4
nbdcopy "nbd://127.0.0.1:$PORT/" "$TMPDIR_TEST/proxied.bin" || fail "nbdcopy through the proxy"
nbdcopy "$URI" "$TMPDIR_TEST/direct.bin" || fail "nbdcopy from the first server"
cmp "$TMPDIR_TEST/proxied.bin" "$TMPDIR_TEST/direct.bin" || fail "proxy read differs"
head -c 1M /dev/urandom >"$TMPDIR_TEST/p.bin"
nbdcopy "$TMPDIR_TEST/p.bin" "nbd://127.0.0.1:$PORT/" || fail "write through the proxy"
nbdcopy "$URI" "$TMPDIR_TEST/direct.bin" || fail "nbdcopy from the first server"
cmp -n 1048576 "$TMPDIR_TEST/direct.bin" "$TMPDIR_TEST/p.bin" || fail "write through the proxy did not reach the remote"
kill $PID $FIRST

# TLS with PSK
if command -v psktool >/dev/null; then
	psktool -u alice -p "$TMPDIR_TEST/keys.psk" >/dev/null || fail "psktool"
	start_server --backend memory:16M --tls-psk "$TMPDIR_TEST/keys.psk"
	TURI="nbds://alice@127.0.0.1:$PORT/?tls-psk-file=$TMPDIR_TEST/keys.psk"
	nbdinfo "$TURI" | grep -q 'with TLS' || fail "TLS PSK nbdinfo"
	head -c 16M /dev/urandom >"$TMPDIR_TEST/tin.bin"
	nbdcopy "$TMPDIR_TEST/tin.bin" "$TURI" && nbdcopy "$TURI" "$TMPDIR_TEST/tout.bin" || fail "nbdcopy over TLS"
	cmp "$TMPDIR_TEST/tin.bin" "$TMPDIR_TEST/tout.bin" || fail "TLS round trip differs"
	"$MEMSYNC_BUILD/memsync-remote-bench" --uri "$TURI" --op write --pattern rand --bs 64K --total 16M \
		--inflight 32 --nconn 2 >/dev/null || fail "memsync client over TLS"
	nbdinfo "nbd://127.0.0.1:$PORT/" >/dev/null 2>&1 && fail "plain client accepted by a TLS server"
	psktool -u alice -p "$TMPDIR_TEST/wrong.psk" >/dev/null
	nbdinfo "nbds://alice@127.0.0.1:$PORT/?tls-psk-file=$TMPDIR_TEST/wrong.psk" >/dev/null 2>&1 &&
		fail "wrong PSK accepted"
	nbdinfo "$TURI" >/dev/null || fail "server stopped serving after bad TLS clients"
	kill $PID
else
	echo "psktool missing (apt-get install gnutls-bin): TLS PSK part skipped" >&2
fi

# TLS with X.509
if command -v certtool >/dev/null; then
	X=$TMPDIR_TEST/x509
	mkdir -p "$X"
	certtool --generate-privkey --outfile "$X/ca-key.pem" 2>/dev/null
	printf 'cn = memsync test CA\nca\ncert_signing_key\nexpiration_days = 2\n' >"$X/ca.info"
	certtool --generate-self-signed --load-privkey "$X/ca-key.pem" --template "$X/ca.info" \
		--outfile "$X/ca-cert.pem" 2>/dev/null || fail "certtool CA"
	certtool --generate-privkey --outfile "$X/server-key.pem" 2>/dev/null
	printf 'organization = memsync\ncn = localhost\ndns_name = localhost\nip_address = 127.0.0.1\ntls_www_server\nencryption_key\nsigning_key\nexpiration_days = 2\n' >"$X/server.info"
	certtool --generate-certificate --load-ca-certificate "$X/ca-cert.pem" --load-ca-privkey "$X/ca-key.pem" \
		--load-privkey "$X/server-key.pem" --template "$X/server.info" --outfile "$X/server-cert.pem" 2>/dev/null ||
		fail "certtool server cert"
	start_server --backend memory:16M --tls-x509 "$X"
	nbdinfo "nbds://127.0.0.1:$PORT/?tls-certificates=$X" | grep -q 'with TLS' || fail "TLS X.509 nbdinfo"
	kill $PID
fi
echo "interop OK"
