#!/usr/bin/env bash
# summary: where the remote copy lives: memory, file, dir, Redis, an HTTP object store (nginx WebDAV) behind memsync-serve, and nbdkit's memory plugin; first-chunk latency and read throughput vs pull workers, local and wan
# runtime: about 10 minutes (quick: about 2 minutes, of which wan 1.5); wan needs memsync-net and root
#
# The thesis kept the remote copy in memory, a file, a directory, Redis, S3
# and Cassandra. Here memsync-serve exports the same region from each of
# its backends (approaches/common/backend.h, backend_net.h: one key or
# object per chunk of 1 MiB), next to nbdkit's memory plugin; Redis
# (redis-server) and the object store (nginx with its WebDAV module, GET
# with Range and PUT, S3's access pattern) run on the server host with the
# servers, started and stopped by this bench (harness/bench/stores.sh).
# Cassandra has no Debian package and is not measured. Every export is
# filled once before timing. The client is memsync-remote-bench on the
# remote.h client layer, on the other host:
#   first chunk: one 1 MiB read on a fresh connection (connect not timed),
#                R runs per backend (the median is the row)
#   throughput:  random 1 MiB reads with W requests in flight (W pull
#                workers, each with one chunk outstanding) over min(W, 4)
#                connections, R runs per backend and W
# Backends take turns within each run, the first one rotating run by run,
# so a burst of other load on a shared host does not decide a row.
# Profiles: local (loopback) always; wan through memsync-net's emulated
# link (server on host 0, client on host 1) when it is built and we are
# root. One JSON line per row to $MEMSYNC_OUT/backends.jsonl (MB/s = 10^6
# bytes/s, ms); a table on stderr and in $MEMSYNC_OUT/backends.md.
#
# options: --profiles LIST (default local,wan)  --workers LIST (default 1,2,4,8,16)
set -euo pipefail
. "$(dirname "$0")/functions.sh"
. "$(dirname "$0")/stores.sh"
. "$(dirname "$0")/hosts.sh"
quick=${MEMSYNC_QUICK:-0}
profiles="local wan" workers_list="1 2 4 8 16"
[ "$quick" = 1 ] && workers_list="1 4 16"
while [ $# -gt 0 ]; do
	case $1 in
	--profiles) profiles=${2//,/ }; shift 2 ;;
	--workers) workers_list=${2//,/ }; shift 2 ;;
	*) echo "backends.sh: unknown option '$1'" >&2; exit 2 ;;
	esac
done
serve=$MEMSYNC_BUILD/memsync-serve
client=$MEMSYNC_BUILD/memsync-remote-bench
net=$MEMSYNC_BUILD/memsync-net
for f in "$serve" "$client"; do [ -x "$f" ] || { echo "backends.sh: $f not built" >&2; exit 1; }; done
for c in jq nbdinfo; do command -v $c >/dev/null || { echo "backends.sh: needs $c" >&2; exit 1; }; done
mkdir -p "$MEMSYNC_OUT"
out=$MEMSYNC_OUT/backends.jsonl
table=$MEMSYNC_OUT/backends.md
repeats=5 export_size=256M chunk=1M
[ "$quick" = 1 ] && repeats=1 export_size=32M

# Which backends this host and build can measure (a missing one is said, not failed).
backends=(memory file dir)
# Can memsync-serve open this kind at all? (a build without the library says "unsupported")
kind_built() { ! "$serve" --backend "$1" 2>&1 | grep -q 'unsupported: built without'; }
if ! command -v redis-server >/dev/null; then echo "backends.sh: redis-server missing: redis skipped" >&2
elif ! kind_built redis:127.0.0.1:1:1M:timeout=1; then echo "backends.sh: memsync-serve built without hiredis: redis skipped" >&2
else backends+=(redis); fi
if ! command -v nginx >/dev/null; then echo "backends.sh: nginx missing: http skipped" >&2
elif ! kind_built http://127.0.0.1:1/x:1M:timeout=1; then echo "backends.sh: memsync-serve built without libcurl: http skipped" >&2
else backends+=(http); fi
if command -v nbdkit >/dev/null; then backends+=(nbdkit); else echo "backends.sh: nbdkit missing: nbdkit skipped" >&2; fi

state=$(mktemp -u /tmp/memsync-backends-bench.XXXXXX)
work= server_ns= client_ns=
# Stop the servers, the stores and the emulated network.
cleanup() {
	stop_servers
	stores_stop
	[ -f "$state" ] && "$net" down --state "$state" >/dev/null 2>&1
	[ -z "$work" ] || rm -rf "$work"
	return 0
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# The memsync-serve backend spec of a kind (stores on $addr).
spec_of() {
	case $1 in
	memory) echo "memory:$export_size" ;;
	file) echo "file:$work/file.img:$export_size" ;;
	dir) echo "dir:$work/chunks:$export_size:chunk=$chunk" ;;
	redis) echo "redis:$addr:$redis_port:$export_size:chunk=$chunk" ;;
	http) echo "http://$addr:$http_port/objects:$export_size:chunk=$chunk" ;;
	esac
}

# Start store $1 (redis|nginx) on a free port (three tries: a port can be
# taken between the check and the bind); sets store_port.
start_store() {
	local try
	for try in 1 2 3; do
		store_port=$(stores_free_port)
		if "stores_$1" "$work/$1" "$addr" "$store_port"; then return 0; fi
	done
	echo "backends.sh: $1 did not start" >&2
	return 1
}

# Start the server of one backend on a free port (three tries, as for the
# stores); sets uri[kind].
start_backend() {
	local kind=$1 try port
	for try in 1 2 3; do
		port=$(stores_free_port)
		if [ "$kind" = nbdkit ]; then spawn_server nbdkit -f -i "$addr" -p "$port" memory "$export_size"
		else spawn_server "$serve" --listen "$addr:$port" --backend "$(spec_of "$kind")" -q; fi
		uri[$kind]=nbd://$addr:$port/
		wait_ready "${uri[$kind]}" && return 0
		kill "${pids[-1]}" 2>/dev/null || true
	done
	return 1
}

# Start the stores and one server per backend, fill each; sets uri[kind].
declare -A uri
start_all() {
	local kind port
	work=$(mktemp -d /tmp/memsync-backends.XXXXXX)
	stores_ns=$server_ns
	if [[ " ${backends[*]} " == *" redis "* ]]; then start_store redis; redis_port=$store_port; fi
	if [[ " ${backends[*]} " == *" http "* ]]; then start_store nginx; http_port=$store_port; fi
	for kind in "${backends[@]}"; do
		start_backend "$kind"
		on_client "$client" --uri "${uri[$kind]}" --op write --bs "$chunk" --total "$export_size" --inflight 16 --nconn 4 >/dev/null
	done
}

# Stop everything start_all started.
stop_all() {
	stop_servers
	stores_stop
	[ -z "$work" ] || rm -rf "$work"
	work=
}

# Bytes to read per throughput run on this profile.
total_for() {
	local t=256
	[ "$profile" = local ] || t=64
	[ "$quick" = 1 ] && t=$((t / 8))
	echo "${t}M"
}

# One client run against a backend; prints the JSON line.
client_run() {
	local kind=$1 inflight=$2 nconn=$3 total=$4
	on_client "$client" --uri "${uri[$kind]}" --op read --pattern rand --bs "$chunk" --total "$total" \
		--inflight "$inflight" --nconn "$nconn" --label "$kind"
}

# Runs of one row for every backend, rotating the first; fills runs[kind] with
# space-separated values: first-chunk ms (workers 0) or MB/s.
declare -A runs
measure_row() {
	local workers=$1 r i kind n=${#backends[@]} v
	for kind in "${backends[@]}"; do runs[$kind]=; done
	for ((r = 0; r < repeats; r++)); do
		for ((i = 0; i < n; i++)); do
			kind=${backends[$(((i + r) % n))]}
			if [ "$workers" = 0 ]; then
				v=$(client_run "$kind" 1 1 "$chunk" | jq '.seconds * 1000 | . * 1000 | round / 1000')
			else
				v=$(client_run "$kind" "$workers" $((workers < 4 ? workers : 4)) "$(total_for)" | jq .mbps)
			fi
			runs[$kind]+="$v "
		done
	done
}

# Emit the records and table lines of the row just measured.
emit_row() {
	local workers=$1 kind m list
	for kind in "${backends[@]}"; do
		m=$(printf '%s\n' ${runs[$kind]} | median)
		list=$(printf '%s\n' ${runs[$kind]} | jq -sc .)
		if [ "$workers" = 0 ]; then
			jq -nc --arg profile "$profile" --arg backend "$kind" --arg chunk "$chunk" --argjson ms "$m" \
				--argjson runs "$list" '{bench: "backends", metric: "first_chunk", profile: $profile,
				backend: $backend, chunk: $chunk, first_chunk_ms: $ms, runs_ms: $runs, unit: "ms"}' >>"$out"
			printf '| %-5s | %-6s | first chunk | %9.3f ms |\n' "$profile" "$kind" "$m"
		else
			jq -nc --arg profile "$profile" --arg backend "$kind" --arg chunk "$chunk" --argjson w "$workers" \
				--argjson nconn $((workers < 4 ? workers : 4)) --argjson mbps "$m" --argjson runs "$list" \
				'{bench: "backends", metric: "throughput", profile: $profile, backend: $backend, chunk: $chunk,
				  workers: $w, nconn: $nconn, op: "read", pattern: "rand", mbps: $mbps, runs_mbps: $runs,
				  unit: "MB/s = 10^6 bytes/s"}' >>"$out"
			printf '| %-5s | %-6s | %2d workers | %9.1f MB/s |\n' "$profile" "$kind" "$workers" "$m"
		fi
	done | tee -a "$table" >&2
}

# Stop the profile's servers and its emulated link.
profile_teardown() {
	stop_all
	hosts_down
}

# Every row on one profile (in bench_run's subshell, which tears down however it ends).
measure_profile() {
	local w
	profile=$1 pids=()
	trap profile_teardown EXIT
	trap 'exit 130' INT TERM
	hosts_up "$profile"
	start_all
	measure_row 0
	emit_row 0
	for w in $workers_list; do
		measure_row "$w"
		emit_row "$w"
	done
}

bench_params "backends=${backends[*]}" "export=$export_size filled before timing" "chunk=$chunk" \
	"repeats=$repeats" "workers=$workers_list" "profiles=$profiles" \
	"redis=$(redis-server --version 2>/dev/null | sed -n 's/.*v=\([^ ]*\).*/\1/p')" \
	"nginx=$(nginx -v 2>&1 | sed -n 's|.*nginx/||p')" "nbdkit=$(nbdkit --version 2>/dev/null || echo none)"
bench_header "$out"
{
	echo "| profile | backend | row | median |"
	echo "|---|---|---|---|"
} | tee -a "$table" >&2
for profile in $profiles; do
	if [ "$profile" != local ] && { [ ! -x "$net" ] || [ "$(id -u)" != 0 ]; }; then
		echo "backends.sh: profile $profile skipped: needs $net and root" >&2
		continue
	fi
	bench_run "backends.jsonl: profile $profile" measure_profile "$profile"
done
echo "backends.sh: results in $out, table in $table" >&2
bench_finish
