#!/bin/bash
# test-remote-badinput.sh - memsync-serve under hostile clients: garbage,
# bad magics, huge options and requests, out-of-range requests, clients
# vanishing mid-request, a burst of connections. Each bad connection gets
# the protocol's error or is closed with one log line; the server keeps
# serving a well-behaved client whose data stays intact, and a write torn
# by a disconnect changes nothing.
. "$(dirname "$0")/functions.sh"
requires python3 nbdcopy nbdinfo cmp
SERVE=$MEMSYNC_BUILD/memsync-serve
[ -x "$SERVE" ] || fail "memsync-serve not built"

# kill PID unless it is gone already.
kill_quietly() { kill "$1" 2>/dev/null || true; }

LOG=$TMPDIR_TEST/serve.log
"$SERVE" --listen 127.0.0.1:0 --backend memory:32M --workers 4 --ready-fd 3 \
	3>"$TMPDIR_TEST/port" 2>"$LOG" &
PID=$!
cleanup_fn kill_quietly $PID
for _ in $(seq 100); do [ -s "$TMPDIR_TEST/port" ] && break; sleep 0.05; done
PORT=$(cat "$TMPDIR_TEST/port")
URI=nbd://127.0.0.1:$PORT/

head -c 32M /dev/urandom >"$TMPDIR_TEST/good.bin"
nbdcopy "$TMPDIR_TEST/good.bin" "$URI" || fail "initial copy"

python3 - "$PORT" "$TMPDIR_TEST/ports" <<'PY' || fail "raw client checks"
import socket, struct, sys, time
port, portfile = int(sys.argv[1]), sys.argv[2]
OPTS, REQ, REPMAGIC = 0x49484156454F5054, 0x25609513, 0x3e889045565a9
closing_ports = []   # connections the server must close (and log once)

def conn():
    s = socket.create_connection(("127.0.0.1", port), timeout=5)
    hello = recv(s, 18)
    assert hello[:8] == b"NBDMAGIC" and hello[8:16] == b"IHAVEOPT", hello
    return s

def recv(s, n):
    b = b""
    while len(b) < n:
        c = s.recv(n - len(b))
        if not c:
            raise EOFError("closed after %d of %d bytes" % (len(b), n))
        b += c
    return b

def expect_closed(s, what):
    s.settimeout(5)
    try:
        while s.recv(65536):
            pass
    except ConnectionResetError:
        pass
    except socket.timeout:
        raise SystemExit("server did not close the connection after " + what)
    closing_ports.append(s.getsockname()[1])
    s.close()

def option(s, opt, data=b""):
    s.sendall(struct.pack(">QII", OPTS, opt, len(data)) + data)

def reply(s):
    magic, opt, typ, ln = struct.unpack(">QIII", recv(s, 20))
    assert magic == REPMAGIC
    return opt, typ, recv(s, ln)

def go(s, send_flags=True):
    if send_flags:
        s.sendall(struct.pack(">I", 3))
    option(s, 7, struct.pack(">IH", 0, 0))
    while True:
        opt, typ, data = reply(s)
        if typ == 1:
            return
        assert typ == 3, hex(typ)

def request(s, typ, off, ln, handle=1, flags=0):
    s.sendall(struct.pack(">IHHQQI", REQ, flags, typ, handle, off, ln))

def simple(s):
    magic, err, handle = struct.unpack(">IIQ", recv(s, 16))
    assert magic == 0x67446698
    return err, handle

# 1. garbage instead of client flags
s = conn(); s.sendall(b"\xff" * 100); expect_closed(s, "garbage flags")
# 2. bad option magic
s = conn(); s.sendall(struct.pack(">I", 3) + b"GARBAGE!" * 4); expect_closed(s, "bad option magic")
# 3. option length far beyond any limit
s = conn(); s.sendall(struct.pack(">I", 3)); option(s, 7, b""); 
s.close()
s = conn(); s.sendall(struct.pack(">I", 3) + struct.pack(">QII", OPTS, 7, 0xFFFFFFF0)); expect_closed(s, "huge option")
# 4. unknown option: NBD_REP_ERR_UNSUP, then GO still works
s = conn(); s.sendall(struct.pack(">I", 3)); option(s, 4242, b"junk")
opt, typ, _ = reply(s); assert opt == 4242 and typ == 0x80000001, hex(typ)
go(s, send_flags=False)
# 5. oversized read: EINVAL, connection stays
request(s, 0, 0, 64 << 20, handle=5); assert simple(s) == (22, 5)
# 6. read past the end: EINVAL; write past the end: ENOSPC (payload consumed)
request(s, 0, 32 << 20, 1, handle=6); assert simple(s) == (22, 6)
request(s, 1, (32 << 20) - 1, 2, handle=7); s.sendall(b"zz"); assert simple(s) == (28, 7)
# 7. unknown command and unknown flags: EINVAL
request(s, 99, 0, 1, handle=8); assert simple(s) == (22, 8)
request(s, 0, 0, 1, handle=9, flags=0x8000); assert simple(s) == (22, 9)
request(s, 0, 0, 4, handle=10); assert simple(s) == (0, 10); recv(s, 4)
# 8. bad request magic closes
s.sendall(b"\x00" * 28); expect_closed(s, "bad request magic")
# 9. write too large to skip closes
s = conn(); go(s); request(s, 1, 0, 0xFFFFFFFF); expect_closed(s, "huge write")
# 10. gone in the middle of a write payload / of a header
s = conn(); go(s); request(s, 1, 0, 1 << 20); s.sendall(b"x" * 1000); closing_ports.append(s.getsockname()[1]); s.close()
s = conn(); go(s); s.sendall(b"\x25\x60\x95\x13\x00"); closing_ports.append(s.getsockname()[1]); s.close()
# 11. a burst of connections that vanish at once
for _ in range(100):
    s = conn(); s.close()
open(portfile, "w").write("\n".join(map(str, closing_ports)) + "\n")
print("raw client: %d hostile connections done" % len(closing_ports))
PY

sleep 0.5
kill -0 $PID 2>/dev/null || fail "memsync-serve died: $(tail -5 "$LOG")"
# One log line per closed connection, naming it.
while read -r p; do
	n=$(grep -c "127.0.0.1:$p: .*closing connection" "$LOG")
	[ "$n" = 1 ] || fail "expected one log line for client port $p, got $n: $(cat "$LOG")"
done <"$TMPDIR_TEST/ports"
nbdinfo "$URI" >/dev/null || fail "server stopped answering"
# Nothing changed: not the torn write's 1000 bytes (a write whose payload
# was cut off is not applied), nothing past the end.
nbdcopy "$URI" "$TMPDIR_TEST/back.bin" || fail "copy back"
cmp <(head -c 1000 "$TMPDIR_TEST/back.bin") <(head -c 1000 "$TMPDIR_TEST/good.bin") ||
	fail "the part of a write torn by a disconnect was applied"
cmp "$TMPDIR_TEST/back.bin" "$TMPDIR_TEST/good.bin" || fail "data changed"
echo "badinput OK"
