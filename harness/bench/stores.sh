# harness/bench/stores.sh - start Debian's redis-server and nginx (with its
# WebDAV module) as the stores behind the redis and http backends
# (approaches/common/backend_net.h), for the backend tests and the backends
# bench. Not a bench itself (no "# summary:" line). Source it:
#   . "$MEMSYNC_SRC/harness/bench/stores.sh"
#
#   stores_redis DIR ADDR PORT   redis-server on ADDR:PORT and DIR/redis.sock,
#                                nothing saved to disk
#   stores_nginx DIR ADDR PORT   nginx on ADDR:PORT storing objects under
#                                DIR/data (PUT/DELETE, create_full_put_path)
#   stores_stop                  stop every store started here (call it from
#                                the caller's EXIT trap)
#   stores_free_port             print a loopback TCP port nothing answers on
#                                (a start may still lose a race for it: retry)
# $stores_ns, when set, is the network namespace to start them in. Each
# start waits until the port answers and sets $stores_pid; it returns 1
# with the server's log on stderr when the server does not come up.
stores_pids=()
stores_ns=${stores_ns:-}

# Run a command in $stores_ns (or here); exec, so a background job's $! is the command.
stores_in_ns() { if [ -n "$stores_ns" ]; then exec ip netns exec "$stores_ns" "$@"; else exec "$@"; fi; }

# Wait until ADDR:PORT accepts a TCP connection (pid must stay alive).
stores_wait() {
	local addr=$1 port=$2 pid=$3 log=$4 i
	for i in $(seq 200); do
		if (stores_in_ns bash -c "exec 3<>/dev/tcp/$addr/$port") 2>/dev/null; then return 0; fi
		kill -0 "$pid" 2>/dev/null || break
		sleep 0.05
	done
	echo "stores: server pid $pid did not answer on $addr:$port; its log:" >&2
	cat "$log" >&2 2>/dev/null || true
	return 1
}

# Start redis-server without persistence.
stores_redis() {
	local dir=$1 addr=$2 port=$3
	mkdir -p "$dir"
	(stores_in_ns redis-server --bind "$addr" --port "$port" --unixsocket "$dir/redis.sock" \
		--unixsocketperm 700 --save '' --appendonly no --dir "$dir" --protected-mode no \
		--logfile "$dir/redis.log" --daemonize no) &
	stores_pid=$!
	stores_pids+=("$stores_pid")
	stores_wait "$addr" "$port" "$stores_pid" "$dir/redis.log"
}

# Start nginx as a WebDAV object store (one process: no user switch needed).
stores_nginx() {
	local dir=$1 addr=$2 port=$3
	mkdir -p "$dir/data" "$dir/tmp"
	cat >"$dir/nginx.conf" <<CONF
daemon off;
master_process off;
pid $dir/nginx.pid;
error_log $dir/error.log warn;
events { worker_connections 4096; }
http {
	access_log off;
	default_type application/octet-stream;
	client_body_temp_path $dir/tmp;
	proxy_temp_path $dir/tmp;
	fastcgi_temp_path $dir/tmp;
	uwsgi_temp_path $dir/tmp;
	scgi_temp_path $dir/tmp;
	client_max_body_size 0;
	keepalive_requests 1000000;
	keepalive_timeout 600s;
	server {
		listen $addr:$port;
		root $dir/data;
		location / {
			dav_methods PUT DELETE;
			create_full_put_path on;
		}
	}
}
CONF
	(stores_in_ns nginx -p "$dir" -c "$dir/nginx.conf" -e "$dir/error.log") &
	stores_pid=$!
	stores_pids+=("$stores_pid")
	stores_wait "$addr" "$port" "$stores_pid" "$dir/error.log"
}

# A random port below the kernel's ephemeral range (outgoing connections
# take those) that nothing on 127.0.0.1 answers on.
stores_free_port() {
	local i p lo
	lo=$(awk '{ print $1 }' /proc/sys/net/ipv4/ip_local_port_range 2>/dev/null || echo 32768)
	[ "$lo" -gt 12000 ] || lo=32768
	for i in $(seq 50); do
		p=$((10000 + RANDOM % (lo - 10000)))
		if ! (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null; then echo "$p"; return 0; fi
	done
	echo "stores: no free port found" >&2
	return 1
}

# Stop every store started here.
stores_stop() {
	local p
	for p in "${stores_pids[@]}"; do kill "$p" 2>/dev/null || true; done
	for p in "${stores_pids[@]}"; do wait "$p" 2>/dev/null || true; done
	stores_pids=()
}
