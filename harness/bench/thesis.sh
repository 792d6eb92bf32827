#!/usr/bin/env bash
# summary: the thesis set: one experiment per figure of the thesis (first chunk and read MB/s at 0 ms, vs RTT and vs pull workers; writes vs RTT; nbd device start and data pulled before open; chunking local vs remote; backends; transport) plus delta vs rsync, migration downtime, CPU and wire cost, efficiency against the link limit; nbd in the VM lab (vm-tcg). Also ./run.sh thesis
# runtime: about 2 h 35 min, measured per experiment on the idle project machine (quick: about 45 minutes); ./run.sh thesis --list prints each experiment's
#
# usage: thesis.sh [--quick] [--list] [--only NAME,...]
#        thesis.sh --vm-part NAME      (inside the VM lab: the nbd part of NAME)
#
# MEMSYNC_THESIS_VM=0 runs the native parts only: the VM lab parts are not
# run, and the VM lab records of an earlier pass in the same results
# directory (thesis-NAME.jsonl's VM lab headers and vm-tcg records) are kept,
# after the new native records (say, to measure a native change again).
#
# The experiments, where they run and their estimated run times are in
# thesis.plan next to this file; the parameters are below (full, then quick).
# Every experiment writes $MEMSYNC_OUT/thesis-NAME.jsonl: a header record
# (bench_header: bench "thesis", params with experiment=NAME), then the
# records of its runs, each tagged "thesis": NAME and "lab": native or
# vm-tcg (the parts run inside the VM lab through harness/vm/vm-run.sh, which
# also write their own header). Most runs are `memsync run` scenarios (every
# byte verified, one warm-up run each, "warmup": true); transport,
# device-start and pulled-before-open write one record per run, the first
# of each series marked as the warm-up; backends and delta-rsync are
# harness/bench/backends.sh and delta.sh's rsync part, their records tagged.
# Figures: plots/thesis-NAME.gp/.jq (native records only) and
# plots/thesis-NAME-vm.gp/.jq (the vm-tcg records of the same experiment).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
plan=$here/thesis.plan
quick=${MEMSYNC_QUICK:-0} list=0 only="" vm_part=""
while [ $# -gt 0 ]; do
	case $1 in
	--quick) quick=1; shift ;;
	--list) list=1; shift ;;
	--only) [ $# -ge 2 ] || { echo "thesis: --only needs NAME,..." >&2; exit 2; }; only=$2; shift 2 ;;
	--vm-part) [ $# -ge 2 ] || { echo "thesis: --vm-part needs NAME" >&2; exit 2; }; vm_part=$2; shift 2 ;;
	*) echo "thesis: unknown option '$1' (usage: thesis.sh [--quick] [--list] [--only NAME,...])" >&2; exit 2 ;;
	esac
done
export MEMSYNC_QUICK=$quick

# ---- the plan ----------------------------------------------------------------
names=()
declare -A where full qmin what
while IFS='|' read -r n w f q d; do
	case $n in ''|'#'*) continue ;; esac
	names+=("$n")
	where[$n]=$w full[$n]=$f qmin[$n]=$q what[$n]=$d
done <"$plan"
# Estimated minutes of an experiment in this mode.
est() { if [ "$quick" = 1 ]; then echo "${qmin[$1]}"; else echo "${full[$1]}"; fi; }
# Minutes as "N min" or "H h M min".
hm() { if [ "$1" -ge 60 ]; then echo "$(($1 / 60)) h $(($1 % 60)) min"; else echo "$1 min"; fi; }

selected=()
if [ -n "$only" ]; then
	for n in ${only//,/ }; do
		[ -n "${where[$n]:-}" ] || { echo "thesis: unknown experiment '$n' (known: ${names[*]})" >&2; exit 2; }
	done
	for n in "${names[@]}"; do [[ ",$only," == *",$n,"* ]] && selected+=("$n"); done
else
	selected=("${names[@]}")
fi

# Print the plan: every selected experiment, where, what, its estimate; the total.
print_plan() {
	local n total=0 mode=full
	[ "$quick" = 1 ] && mode=quick
	echo "thesis set ($mode): ${#selected[@]} experiment(s), results \$OUT/thesis-NAME.jsonl, figures plots/thesis-NAME"
	for n in "${selected[@]}"; do
		printf '  %-19s %-14s estimated %s\n' "$n" "${where[$n]}" "$(hm "$(est "$n")")"
		fold -s -w 78 <<<"${what[$n]}" | sed 's/ *$//; s/^/                      /'
		total=$((total + $(est "$n")))
	done
	echo "  total estimated run time: $(hm $total) (estimates; vm-tcg parts run in the VM lab under TCG)"
}
if [ "$list" = 1 ]; then
	print_plan
	exit 0
fi

# ---- parameters --------------------------------------------------------------
: "${MEMSYNC_BUILD:?}" "${MEMSYNC_OUT:?}"
. "$(dirname "$0")/functions.sh"
. "$(dirname "$0")/hosts.sh"
. "$(dirname "$0")/stores.sh"
M=$MEMSYNC_BUILD/memsync
W=$MEMSYNC_SRC/approaches/delta/workloads
if [ "$quick" = 1 ]; then
	size=32M vsize=16M msize=32M vmsize=16M rep=2 frep=3 vfrep=2 starts=5
	rtts="0 20" vrtts="0 20" wrtts="0 6" vwrtts="6" frtts="20" workers="1 16" wkrtts="20"
	chunks="4k 1m" vchunks="64k 1m" mrtts="20" writers="migrate-writer" eprofiles="wan" tprofiles="local"
	prtts="0 20" pworkers="1 16"
else
	size=256M vsize=64M msize=256M vmsize=64M rep=5 frep=20 vfrep=10 starts=100
	rtts="0 2 4 6 8 10 12 16 20 24 30 40" vrtts="0 10 20 40" wrtts="0 2 4 6 10 20" vwrtts="0 6 20"
	frtts="0 10 30" workers="1 4 16 64 256" wkrtts="10 30"
	chunks="4k 16k 64k 256k 1m" vchunks="64k 256k 1m" mrtts="0 10 20 40"
	writers="$W/migrate-writer-50mbit.conf migrate-writer $W/migrate-writer-800mbit.conf"
	eprofiles="metro wan continental" tprofiles="local lan wan" prtts="0 6 20" pworkers="1 16 64 256"
fi
scratch=$(mktemp -d /tmp/memsync-thesis.XXXXXX)
state=$scratch/net.state
trap 'stop_servers; hosts_down; rm -rf "$scratch"' EXIT
trap 'exit 130' INT TERM
mkdir -p "$MEMSYNC_OUT"
lab=native
[ "${MEMSYNC_IN_VM:-0}" = 1 ] && lab=vm-tcg

# "0 2 4" -> rtt-0ms,rtt-2ms,rtt-4ms
rttp() { local r out=(); for r in $1; do out+=("rtt-${r}ms"); done; (IFS=,; echo "${out[*]}"); }

# ---- recording -----------------------------------------------------------------
# Tag the records on stdin (not the headers) with the experiment, the lab
# and the JSON object $extra; with $first_warm, the record with "run": 0
# becomes the warm-up.
tag() {
	local ex=${extra:-}
	[ -n "$ex" ] || ex='{}'
	jq -c --arg x "$x" --arg lab "$lab" --argjson extra "$ex" --argjson fw "${first_warm:-false}" \
		'if .type == "header" then . else . + {thesis: $x, lab: $lab} + $extra
		 + (if $fw and .run == 0 then {warmup: true} else {} end) end'
}
# Append the records of scratch file TMP tagged to $file, remove TMP; return RC.
collect() { # TMP RC
	tag <"$1" >>"$file"
	rm -f "$1"
	return "$2"
}
# Run CMD... writing JSON lines to a scratch file; append them tagged to $file.
tagged() {
	local tmp rc=0
	tmp=$(mktemp "$scratch/out.XXXXXX")
	"$@" >"$tmp" || rc=$?
	collect "$tmp" $rc
}
# `memsync run` with --out into a scratch file, appended tagged to $file.
run_out() {
	local tmp rc=0
	tmp=$(mktemp "$scratch/run.XXXXXX")
	"$M" run -q "$@" --out "$tmp" || rc=$?
	collect "$tmp" $rc
}
# One `memsync run` of the current experiment (a failure is counted, not fatal).
trun() {
	bench_header "$file"
	bench_run "thesis-$x ($lab): memsync run $*" run_out "$@"
}
# trun for the delta approach, its region file in $bench_delta_workdir (tmpfs).
dtrun() { trun --workdir "$bench_delta_workdir" -a delta "$@"; }
# The native approaches one after the other on the same profiles: fuse
# direct, fuse managed, uffd and the baselines in $base (default memory,disk;
# empty: none).
sides() {
	trun -a fuse -o mount=direct "$@"
	trun -a fuse -o mount=managed "$@"
	local b=${base-memory,disk}
	trun -a "uffd${b:+,$b}" "$@"
}
# The same in the VM lab: nbd direct and managed, and the baselines in $vbase
# (default memory; empty: none; no disk: the VM's scratch space is tmpfs).
vsides() {
	trun -a nbd -o mount=direct "$@"
	trun -a nbd -o mount=managed "$@"
	[ -z "${vbase-memory}" ] || trun -a "${vbase-memory}" "$@"
}

# ---- first-chunk latency ---------------------------------------------------------
# fuse with 4 KiB requests (the thesis's one 4 KiB read is one small round
# trip, not the default 1 MiB READ with its readahead window), both mounts,
# on a 1 MiB region: every run's verification reads the whole region back
# through the mount, one 4 KiB round trip at a time on the direct mount
# (8 MiB at 40 ms: 82 s per run; 1 MiB: 10 s).
small() {
	local m
	for m in direct managed; do trun -a fuse -o mount=$m -o max_io=4k -o ra=4k -o chunk=4k "$@" -s 1M; done
}
n_first_0ms() {
	local loop=(-p local --netem none) emul=(-p rtt-0ms)
	sides -w first-access "${loop[@]}" -s 8M -r "$frep"
	small -w first-access "${loop[@]}" -r "$frep"
	sides -w first-access "${emul[@]}" -s 8M -r "$frep"
	small -w first-access "${emul[@]}" -r "$frep"
}
v_first_0ms() {
	vsides -w first-access -p local --netem none -s 8M -r "$vfrep"
	vsides -w first-access -p rtt-0ms -s 8M -r "$vfrep"
}
n_first_rtt() {
	sides -w first-access -p "$(rttp "$rtts")" -s 8M -r "$frep"
	small -w first-access -p "$(rttp "$rtts")" -r "$frep"
}
v_first_rtt() { vsides -w first-access -p "$(rttp "$vrtts")" -s 8M -r "$vfrep"; }
# fuse managed with the default 1 MiB requests and, like the thesis's one
# 4 KiB read, with 4 KiB requests (small()'s options and region).
n_first_workers() {
	local n p
	p=$(rttp "$frtts")
	for n in $workers; do
		trun -a uffd -o inflight="$n" -w first-access -p "$p" -s 8M -r "$frep"
		trun -a fuse -o mount=managed -o inflight="$n" -w first-access -p "$p" -s 8M -r "$frep"
		trun -a fuse -o mount=managed -o inflight="$n" -o max_io=4k -o ra=4k -o chunk=4k -w first-access -p "$p" \
			-s 1M -r "$frep"
	done
}
v_first_workers() {
	local n
	for n in $workers; do
		trun -a nbd -o mount=managed -o pull_inflight="$n" -w first-access -p "$(rttp "$frtts")" -s 8M -r "$vfrep"
	done
}

# ---- read and write throughput ----------------------------------------------------
n_read_0ms() {
	sides -w seq-read -p local --netem none -s "$size" -r "$rep"
	sides -w seq-read -p rtt-0ms -s "$size" -r "$rep"
}
v_read_0ms() {
	vsides -w seq-read -p local --netem none -s "$vsize" -r "$rep"
	vsides -w seq-read -p rtt-0ms -s "$vsize" -r "$rep"
}
n_read_rtt() { sides -w seq-read -p "$(rttp "$rtts")" -s "$size" -r "$rep"; }
v_read_rtt() { vsides -w seq-read -p "$(rttp "$vrtts")" -s "$vsize" -r "$rep"; }
n_read_workers() {
	local n
	for n in $workers; do
		trun -a uffd -o inflight="$n" -w seq-read -p "$(rttp "$wkrtts")" -s "$size" -r "$rep"
		trun -a fuse -o mount=managed -o inflight="$n" -w seq-read -p "$(rttp "$wkrtts")" -s "$size" -r "$rep"
	done
}
v_read_workers() {
	local n
	for n in $workers; do
		trun -a nbd -o mount=managed -o pull_inflight="$n" -w seq-read -p "$(rttp "$wkrtts")" -s "$vsize" -r "$rep"
	done
}
n_write_rtt() {
	sides -w seq-write -p "$(rttp "$wrtts")" -s "$size" -r "$rep"
	dtrun -w seq-write -p "$(rttp "$wrtts")" -s "$size" -r "$rep"
}
v_write_rtt() { vsides -w seq-write -p "$(rttp "$vwrtts")" -s "$vsize" -r "$rep"; }

# ---- nbd device start and data pulled before open (VM lab only) --------------------
v_device_start() {
	local a r
	bench_header "$file"
	for a in netlink ioctl; do
		for r in poll uevent; do
			first_warm=true bench_run "thesis-$x: start-time --ready $r --attach $a" \
				tagged "$MEMSYNC_BUILD/memsync-nbd" start-time --ready $r --attach $a --size 64M --count $((starts + 1))
		done
	done
}
# One RTT of pulled-before-open: memsync-serve on host 0, start-time on host 1.
pulled_at() { # RTT_MS
	local n port
	trap 'stop_servers; hosts_down' EXIT
	hosts_up "rtt-${1}ms"
	port=$(stores_free_port)
	spawn_server "$MEMSYNC_BUILD/memsync-serve" --listen "$addr:$port" --backend "memory:$vsize" -q
	wait_ready "nbd://$addr:$port/"
	for n in $pworkers; do
		extra="{\"profile\":\"rtt-${1}ms\"}" first_warm=true tagged on_client "$MEMSYNC_BUILD/memsync-nbd" start-time \
			--ready uevent --size "$vsize" --count $((rep + 1)) --remote "nbd://$addr:$port/" --pull "$n"
	done
}
v_pulled_before_open() {
	local r
	bench_header "$file"
	for r in $prtts; do bench_run "thesis-$x: RTT $r ms" pulled_at "$r"; done
}

# ---- chunking: local (engine chunk) vs remote (server_chunk) --------------------------
n_chunking() {
	local c p=rtt-0ms,rtt-2ms s=64M
	[ "$quick" = 1 ] && p=rtt-0ms s=32M
	for c in $chunks; do
		trun -a fuse -o mount=managed -o prefetch=off -o chunk="$c" -w seq-read -p "$p" -s $s -r "$rep"
		trun -a fuse -o mount=managed -o prefetch=off -o chunk=1m -o server_chunk="$c" -w seq-read -p "$p" -s $s -r "$rep"
	done
}
v_chunking() {
	local c
	for c in $vchunks; do
		trun -a nbd -o mount=managed -o pull_inflight=0 -o chunk="$c" -w seq-read -p rtt-0ms -s "$vsize" -r "$rep"
		trun -a nbd -o mount=managed -o pull_inflight=0 -o chunk=1m -o server_chunk="$c" -w seq-read -p rtt-0ms \
			-s "$vsize" -r "$rep"
	done
}

# ---- benches reused as they are: backends, delta vs rsync -----------------------------
# Run harness/bench/NAME.sh into a scratch directory; append its FILE tagged.
reuse() { # BENCH FILE [ARGS...]
	local b=$1 f=$2 d=$scratch/$1 rc=0
	shift 2
	mkdir -p "$d"
	MEMSYNC_OUT=$d bash "$here/$b.sh" "$@" || rc=$?
	[ ! -f "$d/$f" ] || tag <"$d/$f" >>"$file"
	rm -rf "$d"
	return $rc
}
n_backends() {
	local p=local,wan
	[ "$quick" = 1 ] && p=local
	bench_header "$file"
	bench_run "thesis-$x: harness/bench/backends.sh" reuse backends backends.jsonl --profiles "$p"
}
# delta.sh with its rsync part only.
delta_rsync_part() { export MEMSYNC_DELTA_PARTS=rsync; reuse delta delta-rsync.jsonl; }
n_delta_rsync() {
	bench_header "$file"
	bench_run "thesis-$x: harness/bench/delta.sh (rsync part)" delta_rsync_part
}

# ---- transport: TCP, TLS-PSK, TLS-X.509, UNIX socket, nbdkit ----------------------------
# A CA and server and client certificates in DIR under the names memsync-serve
# and libnbd look for, for localhost, 127.0.0.1 and the server address $addr.
make_certs() { # DIR
	local d=$1 side
	mkdir -p "$d"
	certtool --generate-privkey --outfile "$d/ca-key.pem" 2>/dev/null
	printf 'cn = memsync thesis transport CA\nca\ncert_signing_key\nexpiration_days = 1\n' >"$d/ca.tmpl"
	certtool --generate-self-signed --load-privkey "$d/ca-key.pem" --template "$d/ca.tmpl" \
		--outfile "$d/ca-cert.pem" 2>/dev/null
	for side in server client; do
		certtool --generate-privkey --outfile "$d/$side-key.pem" 2>/dev/null
		printf '%s\n' "cn = memsync-thesis-$side" "dns_name = localhost" "ip_address = 127.0.0.1" \
			"ip_address = $addr" "tls_www_$side" encryption_key signing_key "expiration_days = 1" >"$d/$side.tmpl"
		certtool --generate-certificate --load-ca-certificate "$d/ca-cert.pem" --load-ca-privkey "$d/ca-key.pem" \
			--load-privkey "$d/$side-key.pem" --template "$d/$side.tmpl" --outfile "$d/$side-cert.pem" 2>/dev/null
	done
}
# Start one server per transport on $addr (unix only on loopback), each
# exporting $tsize of memory filled before timing; sets turi[].
declare -A turi
tsize=$vsize
start_transports() {
	local k=$scratch/keys port
	serve() { spawn_server "$MEMSYNC_BUILD/memsync-serve" --backend "memory:$tsize" -q "$@"; }
	turi=()
	port=$(stores_free_port); serve --listen "$addr:$port"; turi[tcp]=nbd://$addr:$port/
	if command -v psktool >/dev/null && command -v certtool >/dev/null; then
		rm -rf "$k"; mkdir -p "$k"
		psktool -u memsync -p "$k/keys.psk" >/dev/null
		make_certs "$k/x509"
		port=$(stores_free_port); serve --listen "$addr:$port" --tls-psk "$k/keys.psk"
		turi[tls-psk]="nbds://memsync@$addr:$port/?tls-psk-file=$k/keys.psk"
		port=$(stores_free_port); serve --listen "$addr:$port" --tls-x509 "$k/x509"
		turi[tls-x509]="nbds://$addr:$port/?tls-certificates=$k/x509"
	else
		echo "thesis: psktool/certtool missing (gnutls-bin): TLS transports skipped" >&2
	fi
	if [ "$profile" = local ]; then
		serve --unix "$scratch/nbd.sock"
		turi[unix]="nbd+unix:///?socket=$scratch/nbd.sock"
	fi
	if command -v nbdkit >/dev/null; then
		port=$(stores_free_port); spawn_server nbdkit -f -i "$addr" -p "$port" memory "$tsize"
		turi[nbdkit]=nbd://$addr:$port/
	fi
	for t in "${!turi[@]}"; do
		wait_ready "${turi[$t]}"
		on_client "$MEMSYNC_BUILD/memsync-remote-bench" --uri "${turi[$t]}" --op write --bs 1M --total "$tsize" \
			--inflight 16 >/dev/null
	done
}
# One measurement of transport T: METRIC and memsync-remote-bench options; one record.
tmeasure() { # T RUN METRIC ARGS...
	local t=$1 r=$2 m=$3
	shift 3
	on_client "$MEMSYNC_BUILD/memsync-remote-bench" --uri "${turi[$t]}" --op read --label "$t" "$@" |
		jq -c --arg p "$profile" --arg m "$m" --argjson r "$r" \
			'{type: "transport", profile: $p, transport: .label, metric: $m, run: $r} + del(.label)
			 + (if $r == 0 then {warmup: true} else {} end)' | tag >>"$file"
}
# Every transport on one profile, rep + 1 rounds (the first a warm-up), turns rotating.
transport_profile() { # PROFILE
	local r i t ts n
	profile=$1
	trap 'stop_servers; hosts_down' EXIT
	hosts_up "$profile"
	start_transports
	mapfile -t ts < <(printf '%s\n' "${!turi[@]}" | sort)
	n=${#ts[@]}
	for ((r = 0; r <= rep; r++)); do
		for ((i = 0; i < n; i++)); do
			t=${ts[$(((i + r) % n))]}
			tmeasure "$t" "$r" first_chunk --bs 4k --total 4k --inflight 1 --nconn 1
			tmeasure "$t" "$r" seq_read_1m --pattern seq --bs 1M --total "$tsize" --inflight 16 --nconn 1
			tmeasure "$t" "$r" rand_read_4k --pattern rand --bs 4k --total 16M --inflight 16 --nconn 1
		done
	done
}
n_transport() {
	local p
	bench_header "$file"
	for p in $tprofiles; do bench_run "thesis-$x: profile $p" transport_profile "$p"; done
}

# ---- migration -------------------------------------------------------------------------
n_migration() {
	local a w
	for a in uffd delta fuse; do
		local run=(trun -a $a)
		[ $a = delta ] && run=(dtrun)
		"${run[@]}" --migrate -w migrate-writer -p "$(rttp "$mrtts")" -s "$msize" -r "$rep"
		for w in $writers; do
			[ "$w" = migrate-writer ] && continue
			"${run[@]}" --migrate -w "$w" -p rtt-20ms -s "$msize" -r "$rep"
		done
	done
}
v_migration() {
	local w
	trun --migrate -a nbd -w migrate-writer -p "$(rttp "$mrtts")" -s "$vmsize" -r "$rep"
	for w in $writers; do
		[ "$w" = migrate-writer ] || trun --migrate -a nbd -w "$w" -p rtt-20ms -s "$vmsize" -r "$rep"
	done
}

# ---- cost: from read-rtt and write-rtt, else runs of its own -------------------------------
# The rtt-0ms and rtt-20ms scenario records of read-rtt and write-rtt, retagged.
cost_from() {
	jq -c --arg x "$x" 'select(.type == "scenario" and (.profile == "rtt-0ms" or .profile == "rtt-20ms"))
		| . + {derived_from: .thesis, thesis: $x}' \
		"$MEMSYNC_OUT/thesis-read-rtt.jsonl" "$MEMSYNC_OUT/thesis-write-rtt.jsonl" >>"$file"
}
n_cost() {
	local f ok=1
	for f in read-rtt write-rtt; do
		jq -e -s 'map(select(.type == "scenario" and .status == "pass")) | length > 0' \
			"$MEMSYNC_OUT/thesis-$f.jsonl" >/dev/null 2>&1 || ok=0
	done
	if [ $ok = 1 ]; then
		echo "thesis: cost from the records of read-rtt and write-rtt (no new runs)" >&2
		bench_params derived_from=read-rtt,write-rtt
		bench_header "$file"
		bench_run "thesis-$x: the records of read-rtt and write-rtt" cost_from
		skip_vm=1
		return 0
	fi
	sides -w seq-read,seq-write -p rtt-0ms,rtt-20ms -s "$size" -r "$rep"
	dtrun -w seq-write -p rtt-0ms,rtt-20ms -s "$size" -r "$rep"
}
v_cost() { vsides -w seq-read,seq-write -p rtt-0ms,rtt-20ms -s "$vsize" -r "$rep"; }

# ---- efficiency: measured time vs the link limit RTT + size/rate ------------------------------
# The link of a profile and the limit for SIZE bytes, as JSON {rtt_s, rate_bit_s, limit_s}.
link_of() { # PROFILE SIZE
	local bytes
	bytes=$(numfmt --from=iec "$2")
	awk -F' *= *' -v b="$bytes" '
		$1 == "delay" { d = $2 + 0; if ($2 ~ /us$/) d /= 1000; else if ($2 ~ /[0-9]s$/) d *= 1000 }
		$1 == "rate" { r = $2 + 0; if ($2 ~ /kbit/) r *= 1e3; else if ($2 ~ /mbit/) r *= 1e6; else if ($2 ~ /gbit/) r *= 1e9 }
		END { rtt = 2 * d / 1000; lim = rtt + (r > 0 ? b * 8 / r : 0)
		      printf "{\"link\":{\"rtt_s\":%g,\"rate_bit_s\":%g,\"limit_s\":%g}}\n", rtt, r, lim }' \
		"$MEMSYNC_SRC/netem/profiles/$1.conf"
}
n_efficiency() {
	local p
	for p in $eprofiles; do
		extra=$(link_of "$p" "$size") base="" sides -w seq-read -p "$p" -s "$size" -r "$rep"
		extra=$(link_of "$p" "$size") dtrun -w seq-write -p "$p" -s "$size" -r "$rep"
	done
}
v_efficiency() {
	local p
	for p in $eprofiles; do
		extra=$(link_of "$p" "$vsize") vbase="" vsides -w seq-read -p "$p" -s "$vsize" -r "$rep"
	done
}

# ---- driver ------------------------------------------------------------------------------
# The function of part P (n: native, v: VM lab) of experiment NAME, if any.
part_fn() { local f="$1_${2//-/_}"; declare -F "$f" >/dev/null && echo "$f"; }
# Start experiment NAME's records: $x, $file, the header's parameters.
begin() {
	x=$1 file=$MEMSYNC_OUT/thesis-$1.jsonl skip_vm=0
	bench_param_list=()
	bench_params "experiment=$x" "where=${where[$x]}" "lab=$lab" "size=$size" "vm_size=$vsize" "repeat=$rep" \
		"first_access_repeat=$frep" "vm_first_access_repeat=$vfrep" "rtts=$rtts" "vm_rtts=$vrtts" \
		"write_rtts=$wrtts" "workers=$workers" "chunks=$chunks" "migrate_size=$msize" "migrate_rtts=$mrtts" \
		"efficiency_profiles=$eprofiles" "transport_profiles=$tprofiles"
}
# The VM lab part of experiment NAME: this script inside harness/vm/vm-run.sh.
vm_part() { # NAME
	local why
	why=$("$MEMSYNC_SRC/harness/vm/vm-available.sh") || { echo "thesis: VM lab unavailable: $why" >&2; return 1; }
	MEMSYNC_VM_RW="$MEMSYNC_OUT${MEMSYNC_VM_RW:+:$MEMSYNC_VM_RW}" "$MEMSYNC_SRC/harness/vm/vm-run.sh" \
		--timeout "${MEMSYNC_VM_TIMEOUT:-14400}" -- bash "$here/thesis.sh" --vm-part "$1"
}

# With MEMSYNC_THESIS_VM=0, copy experiment FILE's VM lab section (its VM lab
# headers and the records that ran there, as the paper tells them apart:
# plots/nbd-lib.jq) to KEPT, to be appended after the new native records;
# otherwise leave KEPT empty.
keep_vm_records() { # FILE KEPT
	: >"$2"
	[ "${MEMSYNC_THESIS_VM:-1}" = 0 ] && [ -f "$1" ] || return 0
	jq -c -n -L "$MEMSYNC_SRC/plots" 'include "nbd-lib"; file_labels
		| select(if .type == "header" then header_vm != "none" else (.lab // "native") != "native" end)' "$1" >"$2"
}

if [ -n "$vm_part" ]; then # inside the VM lab
	[ "$lab" = vm-tcg ] || { echo "thesis: --vm-part runs inside the VM lab only" >&2; exit 2; }
	fn=$(part_fn v "$vm_part") || { echo "thesis: $vm_part has no VM lab part" >&2; exit 2; }
	begin "$vm_part"
	"$fn"
	bench_finish
	exit 0
fi
[ "$lab" = native ] || { echo "thesis: run ./run.sh thesis on the host; it starts the VM lab for the nbd parts" >&2; exit 2; }
[ "$(id -u)" = 0 ] || { echo "thesis: needs root (network namespaces, FUSE and NBD mounts)" >&2; exit 2; }

[ "${MEMSYNC_THESIS_PLANNED:-0}" = 1 ] || print_plan # run.sh printed it before building
failed=() i=0
for n in "${selected[@]}"; do
	i=$((i + 1))
	echo "[$i/${#selected[@]}] $n (estimated $(hm "$(est "$n")")) ..." >&2
	before=${#bench_failed[@]} t0=$SECONDS
	begin "$n"
	keep_vm_records "$file" "$scratch/vm-kept.jsonl"
	rm -f "$file"
	if fn=$(part_fn n "$n"); then "$fn"; fi
	if [[ ${where[$n]} == *vm-tcg* ]] && [ "$skip_vm" = 0 ]; then
		if [ "${MEMSYNC_THESIS_VM:-1}" = 0 ]; then
			cat "$scratch/vm-kept.jsonl" >>"$file"
			echo "thesis-$n: VM lab part not run (MEMSYNC_THESIS_VM=0); the file's" \
				"$(grep -c . "$scratch/vm-kept.jsonl") earlier VM lab records kept after the new native ones" >&2
		else
			bench_run "thesis-$n: VM lab part" vm_part "$n"
		fi
	fi
	dt=$((SECONDS - t0)) status=done
	[ ${#bench_failed[@]} = "$before" ] || { status=FAILED; failed+=("$n"); }
	echo "[$i/${#selected[@]}] $n $status in $((dt / 60)) min $((dt % 60)) s (estimated $(hm "$(est "$n")")) -> $file" >&2
done

# Render the figures of these results, and say which thesis figures came out.
files=()
for n in "${selected[@]}"; do [ -f "$MEMSYNC_OUT/thesis-$n.jsonl" ] && files+=("$MEMSYNC_OUT/thesis-$n.jsonl"); done
log=$scratch/render.log
if [ ${#files[@]} -gt 0 ]; then
	"$MEMSYNC_SRC/plots/render.sh" --out "${MEMSYNC_PLOTS:-$MEMSYNC_SRC/plots/out}" "${files[@]}" 2>"$log" ||
		echo "thesis: plotting failed: $(tail -3 "$log")" >&2
fi
echo "figures rendered (.png and .svg):" >&2
[ ! -f "$log" ] || sed -n 's|^render: \(.*/thesis-[^ ]*\)\.png (.svg)$|  \1.png|p' "$log" >&2
if [ ${#failed[@]} -gt 0 ]; then
	echo "failed experiments (${#failed[@]}): ${failed[*]}" >&2
	bench_finish
	exit 1
fi
echo "thesis: all ${#selected[@]} experiment(s) done; results in $MEMSYNC_OUT/thesis-*.jsonl" >&2
