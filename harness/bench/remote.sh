#!/usr/bin/env bash
# summary: remote region server: memsync-serve vs nbdkit memory plugin, same clients, seq/rand reads/writes 4 KiB-4 MiB, local (+lan/wan)
# runtime: about 4 minutes for local (quick: about 2 minutes); lan/wan add about 3 minutes each when memsync-net and root are available
#
# Both servers export 512 MiB of memory (memsync-serve --backend memory:512M,
# nbdkit memory 512M) and are filled once before timing. The same client
# (memsync-remote-bench on approaches/common/remote.c: libnbd, N requests in
# flight, M connections) runs sequential and random reads and writes of
# 4 KiB, 64 KiB, 1 MiB and 4 MiB; each row is the median of R runs (5; 2 in
# quick mode), servers alternating run by run and which goes first swapping
# every run (a run lasts about a second: one burst of other load on a
# shared host would otherwise decide a row). nbdcopy adds a multi-conn copy
# out and in of the whole export (5 runs; 3 in quick mode).
# Each run also records the server process's CPU time (utime+stime from
# /proc): on a shared host MB/s moves with the other load, CPU per run much
# less so.
# Profiles: local (loopback) always; lan and wan through memsync-net's
# emulated link when $MEMSYNC_BUILD/memsync-net exists and we are root
# (server on host 0, client on host 1). One JSON line per row to
# $MEMSYNC_OUT/remote.jsonl (MB/s = 10^6 bytes/s); a table on stderr and
# in $MEMSYNC_OUT/remote.md.
#
# options: --profiles LIST (default local,lan,wan)  --workers N (memsync-serve; default 0 = auto)
set -euo pipefail
. "$(dirname "$0")/functions.sh"
. "$(dirname "$0")/hosts.sh"
quick=${MEMSYNC_QUICK:-0}
profiles="local lan wan" workers=0
while [ $# -gt 0 ]; do
	case $1 in
	--profiles) profiles=${2//,/ }; shift 2 ;;
	--workers) workers=$2; shift 2 ;;
	*) echo "remote.sh: unknown option '$1'" >&2; exit 2 ;;
	esac
done
serve=$MEMSYNC_BUILD/memsync-serve
client=$MEMSYNC_BUILD/memsync-remote-bench
net=$MEMSYNC_BUILD/memsync-net
for f in "$serve" "$client"; do [ -x "$f" ] || { echo "remote.sh: $f not built" >&2; exit 1; }; done
for c in jq nbdinfo; do command -v $c >/dev/null || { echo "remote.sh: needs $c" >&2; exit 1; }; done
have_nbdkit=1
command -v nbdkit >/dev/null || { have_nbdkit=0; echo "remote.sh: nbdkit missing: only memsync-serve is measured" >&2; }
mkdir -p "$MEMSYNC_OUT"
out=$MEMSYNC_OUT/remote.jsonl
table=$MEMSYNC_OUT/remote.md
repeats=5 copy_repeats=5
[ "$quick" = 1 ] && repeats=2 copy_repeats=3
export_size=512M

state=$(mktemp -u /tmp/memsync-remote-bench.XXXXXX)
server_ns= client_ns=
# Stop the servers and the emulated network.
cleanup() {
	local p
	for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
	wait 2>/dev/null || true
	[ -f "$state" ] && "$net" down --state "$state" >/dev/null 2>&1
	rm -f "${fill_file:-}"
	return 0
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# CPU time of a process so far (utime + stime) in ms.
cpu_ms() { awk -v hz="$(getconf CLK_TCK)" '{ printf "%d\n", ($14 + $15) * 1000 / hz }' "/proc/$1/stat"; }

# Start both servers on $addr; sets uri_memsync and uri_nbdkit.
start_servers() {
	spawn_server "$serve" --listen "$addr:10809" --backend "memory:$export_size" --workers "$workers" -q
	pid_memsync=${pids[-1]}
	uri_memsync=nbd://$addr:10809/
	wait_ready "$uri_memsync"
	on_client "$client" --uri "$uri_memsync" --op write --bs 1M --total $export_size --inflight 16 >/dev/null
	if [ $have_nbdkit = 1 ]; then
		spawn_server nbdkit -f -i "$addr" -p 10810 memory "$export_size"
		pid_nbdkit=${pids[-1]}
		uri_nbdkit=nbd://$addr:10810/
		wait_ready "$uri_nbdkit"
		on_client "$client" --uri "$uri_nbdkit" --op write --bs 1M --total $export_size --inflight 16 >/dev/null
	fi
}

# Bytes to move per run for a request size on this profile.
total_for() {
	local bs=$1 t
	case $profile:$bs in
	local:4K) t=64 ;; local:64K) t=256 ;; local:*) t=512 ;;
	lan:4K) t=16 ;; lan:64K) t=128 ;; lan:*) t=256 ;;
	*:4K) t=4 ;; *:64K) t=32 ;; *:1M) t=128 ;; *) t=256 ;;
	esac
	[ "$quick" = 1 ] && t=$(((t + 3) / 4))
	echo "${t}M"
}

# One client run; prints MB/s.
run_bench() {
	local uri=$1 op=$2 pat=$3 bs=$4 inflight=$5 nconn=$6 total
	total=$(total_for "$bs")
	on_client "$client" --uri "$uri" --op "$op" --pattern "$pat" --bs "$bs" --total "$total" \
		--inflight "$inflight" --nconn "$nconn" | jq .mbps
}

# One nbdcopy run (op read: export -> null:, write: file -> export); prints MB/s.
run_nbdcopy() {
	local uri=$1 op=$2 t0 t1 bytes
	bytes=$(numfmt --from=iec "$export_size")
	t0=$(date +%s.%N)
	if [ "$op" = read ]; then on_client nbdcopy "$uri" null:
	else on_client nbdcopy "$fill_file" "$uri"; fi
	t1=$(date +%s.%N)
	awk -v b="$bytes" -v a="$t0" -v z="$t1" 'BEGIN { printf "%.1f\n", b / (z - a) / 1e6 }'
}

# One run of a row against server memsync|nbdkit: appends MB/s to m_runs/k_runs
# and the server's CPU ms to mc_runs/kc_runs.
run_one() {
	local server=$1 clientname=$2 op=$3 pat=$4 bs=$5 inflight=$6 nconn=$7 uri pid c0 mbps
	if [ "$server" = memsync ]; then uri=$uri_memsync pid=$pid_memsync; else uri=$uri_nbdkit pid=$pid_nbdkit; fi
	c0=$(cpu_ms "$pid")
	if [ "$clientname" = nbdcopy ]; then mbps=$(run_nbdcopy "$uri" "$op")
	else mbps=$(run_bench "$uri" "$op" "$pat" "$bs" "$inflight" "$nconn"); fi
	if [ "$server" = memsync ]; then m_runs+=("$mbps"); mc_runs+=($(($(cpu_ms "$pid") - c0)))
	else k_runs+=("$mbps"); kc_runs+=($(($(cpu_ms "$pid") - c0))); fi
}

# Measure one row on both servers (alternating, first one swapping), emit JSON and a table line.
row() {
	local clientname=$1 op=$2 pat=$3 bs=$4 inflight=$5 nconn=$6 r m k mc kc n=$repeats
	m_runs=() k_runs=() mc_runs=() kc_runs=()
	[ "$clientname" = nbdcopy ] && n=$copy_repeats
	for ((r = 0; r < n; r++)); do
		if [ $have_nbdkit = 1 ] && [ $((r % 2)) = 1 ]; then
			run_one nbdkit "$@"
			run_one memsync "$@"
		else
			run_one memsync "$@"
			[ $have_nbdkit = 1 ] && run_one nbdkit "$@"
		fi
	done
	m=$(printf '%s\n' "${m_runs[@]}" | median)
	mc=$(printf '%s\n' "${mc_runs[@]}" | median)
	k=null kc=null
	if [ $have_nbdkit = 1 ]; then
		k=$(printf '%s\n' "${k_runs[@]}" | median)
		kc=$(printf '%s\n' "${kc_runs[@]}" | median)
	fi
	local server mbps runs cpu cpus
	for server in memsync nbdkit; do
		if [ $server = memsync ]; then
			mbps=$m cpu=$mc runs=$(printf '%s\n' "${m_runs[@]}" | jq -sc .) cpus=$(printf '%s\n' "${mc_runs[@]}" | jq -sc .)
		else
			[ $have_nbdkit = 1 ] || continue
			mbps=$k cpu=$kc runs=$(printf '%s\n' "${k_runs[@]}" | jq -sc .) cpus=$(printf '%s\n' "${kc_runs[@]}" | jq -sc .)
		fi
		jq -nc --arg profile "$profile" --arg server $server --arg client "$clientname" --arg op "$op" \
			--arg pattern "$pat" --arg bs "$bs" --argjson inflight "$inflight" --argjson nconn "$nconn" \
			--argjson mbps "$mbps" --argjson runs "$runs" --argjson cpu "$cpu" --argjson cpus "$cpus" \
			--argjson workers "$workers" \
			'{bench: "remote", profile: $profile, server: $server, client: $client, op: $op, pattern: $pattern,
			  bs: $bs, inflight: $inflight, nconn: $nconn, mbps: $mbps, runs_mbps: $runs,
			  server_cpu_ms: $cpu, runs_server_cpu_ms: $cpus,
			  memsync_workers: $workers, unit: "MB/s = 10^6 bytes/s"}' >>"$out"
	done
	local ratio=-
	[ $have_nbdkit = 1 ] && ratio=$(awk -v a="$m" -v b="$k" 'BEGIN { if (b > 0) printf "%.2f", a / b; else print "-" }')
	printf '| %-6s | %-13s | %-5s | %-4s | %4s | %3d | %2d | %8.1f | %8s | %5s | %6s | %6s |\n' "$profile" "$clientname" "$op" \
		"$pat" "$bs" "$inflight" "$nconn" "$m" "$k" "$ratio" "$mc" "$kc" | tee -a "$table" >&2
}

bench_params "nbdkit=$(nbdkit --version 2>/dev/null || echo none)" \
	"libnbd=$(pkg-config --modversion libnbd 2>/dev/null || echo unknown)" "repeats=$repeats" \
	"copy_repeats=$copy_repeats" "memsync_workers=$workers" "profiles=$profiles" \
	"export=memory $export_size, filled before timing"
bench_header "$out"

fill_file=$(mktemp /tmp/memsync-remote-fill.XXXXXX)
head -c $export_size /dev/urandom >"$fill_file"
{
	echo "| profile | client | op | pattern | bs | inflight | nconn | memsync MB/s | nbdkit MB/s | ratio | memsync CPU ms | nbdkit CPU ms |"
	echo "|---|---|---|---|---|---|---|---|---|---|---|---|"
} | tee -a "$table" >&2

# Stop the profile's servers and its emulated link.
profile_teardown() {
	stop_servers
	hosts_down
}

# Every row on one profile (runs in bench_run's subshell, which stops the
# servers and the link however it ends).
measure_profile() {
	profile=$1 pids=()
	trap profile_teardown EXIT
	trap 'exit 130' INT TERM
	hosts_up "$profile"
	start_servers
	inflight=16
	[ "$profile" = local ] || inflight=64
	for bs in 4K 64K 1M 4M; do
		for op in read write; do
			for pat in seq rand; do
				row memsync-bench "$op" "$pat" "$bs" $inflight 1
			done
		done
	done
	for bs in 64K 1M; do
		row memsync-bench read rand "$bs" 64 4
		row memsync-bench write rand "$bs" 64 4
	done
	row nbdcopy read seq 256K 64 4
	row nbdcopy write seq 256K 64 4
}
for profile in $profiles; do
	if [ "$profile" != local ] && { [ ! -x "$net" ] || [ "$(id -u)" != 0 ]; }; then
		echo "remote.sh: profile $profile skipped: needs $net and root" >&2
		continue
	fi
	bench_run "remote.jsonl: profile $profile" measure_profile "$profile"
done
rm -f "$fill_file"
echo "remote.sh: results in $out, table in $table" >&2
bench_finish
