#!/bin/bash
# test-backend-stores.sh - the redis and http backends (approaches/common/
# backend_net.h) against Debian's redis-server and nginx (WebDAV), started
# here on loopback and stopped on exit:
#   - the unit test's live part (tests/unit/test_backend_net.c): chunk
#     boundaries, partial chunks, many chunks per call, zeroing, concurrent
#     partial writes, over TCP and a UNIX socket
#   - end to end: memsync-serve on each store, nbdinfo sees the size, 64 MiB
#     copied in and out with nbdcopy (4 connections) and compared; the chunks
#     are in the store (read back with redis-cli / from nginx's directory);
#     a new memsync-serve on the same store serves the same bytes
#   - a dead store: the client gets an error promptly and the server log
#     names the store; a stopped (SIGSTOP) store: opening fails after the
#     timeout= option, not never
. "$(dirname "$0")/functions.sh"
requires redis-server redis-cli nginx nbdcopy nbdinfo cmp timeout
SERVE=$MEMSYNC_BUILD/memsync-serve
UNIT=$MEMSYNC_BUILD/approaches/common/test_backend_net
[ -x "$SERVE" ] && [ -x "$UNIT" ] || fail "memsync-serve or test_backend_net not built"
for kind in redis:127.0.0.1:1:1M http://127.0.0.1:1/x:1M; do
	out=$("$SERVE" --backend "$kind:timeout=1" 2>&1) && fail "$kind opened with no server"
	case $out in *"unsupported: built without"*) skip "$out" ;; esac
done
. "$MEMSYNC_SRC/harness/bench/stores.sh"
cleanup_fn stores_stop
T=$TMPDIR_TEST
# Start store $1 (redis|nginx) on a free port, three tries; sets PORT_OUT and PID_OUT.
start_store() {
	local try
	for try in 1 2 3; do
		PORT_OUT=$(stores_free_port) || break
		if "stores_$1" "$T/$1" 127.0.0.1 "$PORT_OUT"; then PID_OUT=$stores_pid; return 0; fi
	done
	fail "$1 did not start"
}
start_store redis
RP=$PORT_OUT REDIS_PID=$PID_OUT
start_store nginx
HP=$PORT_OUT NGINX_PID=$PID_OUT

# 1. the unit test's live part
MEMSYNC_TEST_REDIS=redis:127.0.0.1:$RP MEMSYNC_TEST_HTTP=http://127.0.0.1:$HP/unit "$UNIT" ||
	fail "test_backend_net on TCP stores"
MEMSYNC_TEST_REDIS=redis+unix:$T/redis/redis.sock "$UNIT" || fail "test_backend_net on the redis socket"

# kill PID unless it is gone already.
kill_quietly() { kill "$1" 2>/dev/null || true; }

# Start memsync-serve with a backend spec; sets PORT and PID.
start_server() {
	local portfile=$T/port.$RANDOM
	"$SERVE" --listen 127.0.0.1:0 --ready-fd 3 --backend "$1" 3>"$portfile" 2>>"$T/serve.log" &
	PID=$!
	cleanup_fn kill_quietly $PID
	for _ in $(seq 200); do
		[ -s "$portfile" ] && break
		kill -0 $PID 2>/dev/null || fail "memsync-serve --backend $1 exited: $(tail -3 "$T/serve.log")"
		sleep 0.05
	done
	PORT=$(cat "$portfile")
	[ -n "$PORT" ] && [ "$PORT" -gt 0 ] || fail "no port from memsync-serve"
}

# Stop the server started last.
stop_server() { kill "$PID" && wait "$PID" 2>/dev/null || true; }

# 2. end to end through memsync-serve
head -c 64M /dev/urandom >"$T/in.bin"
dd if="$T/in.bin" of="$T/chunk3.bin" bs=256K skip=3 count=1 status=none
for spec in "redis:127.0.0.1:$RP:64M:chunk=256K:prefix=e2e-" "redis+unix:$T/redis/redis.sock:64M:chunk=256K:prefix=e2u-" \
	"http://127.0.0.1:$HP/e2e:64M:chunk=256K"; do
	start_server "$spec"
	URI=nbd://127.0.0.1:$PORT/
	nbdinfo --size "$URI" | grep -qx 67108864 || fail "$spec: nbdinfo size $(nbdinfo --size "$URI")"
	nbdcopy --connections=4 --requests=16 "$T/in.bin" "$URI" || fail "$spec: nbdcopy in"
	stop_server
	start_server "$spec" # a new server process: the bytes come from the store
	rm -f "$T/out.bin"
	nbdcopy --connections=4 "nbd://127.0.0.1:$PORT/" "$T/out.bin" || fail "$spec: nbdcopy out"
	cmp "$T/in.bin" "$T/out.bin" || fail "$spec: round trip through memsync-serve differs"
	stop_server
	echo "ok: $spec served by memsync-serve, 64 MiB round trip"
done
# the chunks really are in the stores
redis-cli -p "$RP" --raw GET e2e-0000000000000003 >"$T/key3.bin" || fail "redis-cli GET"
cmp -n 262144 "$T/key3.bin" "$T/chunk3.bin" || fail "redis key e2e-0000000000000003 is not chunk 3"
[ "$(redis-cli -p "$RP" STRLEN e2u-00000000000000ff)" = 262144 ] || fail "redis key e2u-...ff missing"
cmp "$T/nginx/data/e2e/0000000000000003" "$T/chunk3.bin" || fail "nginx object e2e/0000000000000003 is not chunk 3"

# 3. a stopped store: opening fails after timeout=2
kill -STOP "$REDIS_PID" "$NGINX_PID"
for spec in "redis:127.0.0.1:$RP:1M:timeout=2" "http://127.0.0.1:$HP/stopped:1M:timeout=2"; do
	t0=$(date +%s)
	rc=0
	out=$(timeout 30 "$SERVE" --listen 127.0.0.1:0 --backend "$spec" 2>&1) || rc=$?
	[ "$rc" != 0 ] && [ "$rc" != 124 ] || fail "$spec on a stopped store: exit $rc: $out"
	[ $(($(date +%s) - t0)) -le 15 ] || fail "$spec: took more than 15 s to give up"
	echo "$out" | grep -qE 'redis 127.0.0.1:[0-9]+: PING: no answer within 2 s|http GET http://127.0.0.1:[0-9]+/stopped/0000000000000000: Timeout' ||
		fail "$spec: unclear message: $out"
	echo "ok: stopped store: $(echo "$out" | tail -1)"
done
kill -CONT "$REDIS_PID" "$NGINX_PID"

# 4. a store that dies under a running server: the client gets an error, promptly
for spec in "redis:127.0.0.1:$RP:64M:chunk=256K:prefix=e2e-" "http://127.0.0.1:$HP/e2e:64M:chunk=256K"; do
	start_server "$spec"
	case $spec in redis*) kill "$REDIS_PID" ;; *) kill "$NGINX_PID" ;; esac
	sleep 0.2
	rc=0
	timeout 60 nbdcopy "nbd://127.0.0.1:$PORT/" "$T/dead.bin" 2>"$T/nbdcopy.err" || rc=$?
	[ "$rc" != 0 ] && [ "$rc" != 124 ] || fail "$spec: nbdcopy from a dead store: exit $rc"
	grep -q "Input/output error" "$T/nbdcopy.err" || fail "$spec: client error: $(cat "$T/nbdcopy.err")"
	case $spec in
	redis*) grep -qE "redis 127.0.0.1:$RP: (connect|Connection|Server closed)" "$T/serve.log" || fail "serve.log: $(tail -3 "$T/serve.log")" ;;
	*) grep -qE "http GET http://127.0.0.1:$HP/e2e/[0-9a-f]{16}: Couldn't connect" "$T/serve.log" || fail "serve.log: $(tail -3 "$T/serve.log")" ;;
	esac
	stop_server
	echo "ok: dead store under $spec: client got EIO"
done
echo "PASS"
