#!/usr/bin/env bash
# run.sh - the one entry point of memsync.
#
# Installs what is missing (Debian packages; we are root), builds, runs, plots
# and summarizes. See `./run.sh --help`.
set -euo pipefail

SRC=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
cd "$SRC"

# Packages, by what needs them.
PKGS_BUILD="gcc cmake make pkg-config libjansson-dev libnbd-dev libfuse3-dev libxxhash-dev zlib1g-dev libgnutls28-dev libhiredis-dev libcurl4-gnutls-dev"
PKGS_RUN="jq gnuplot-nox iproute2 kmod fuse3 nbdkit libnbd-bin rsync"
PKGS_PAPER="pandoc chromium"
PKGS_TEST="python3-libnbd nbd-client iperf3 iputils-ping gnutls-bin clang qemu-system-x86 busybox-static cpio procps psmisc sqlite3 redis-server nginx"

usage() {
	cat <<'EOF'
memsync - synchronize Linux memory regions over an emulated network, and measure it

usage: ./run.sh [command] [options]

commands:
  (none)             the quick default suite: build, run every approach on a few
                     workloads and profiles, verify every byte, plot, print a summary
  test [REGEX]       build with ASan+UBSan and run every test (CTest), or those whose
                     names match REGEX; tests that need kernel modules this host
                     lacks (nbd, sch_netem) run in the VM lab
  bench EXP...       run benchmark experiments (see --list), results to --out DIR
  thesis             the thesis set, one experiment per figure (below): prints the plan
                     and its estimated run time first; --list: the plan only;
                     --only NAME,...: some; --quick; results DIR/thesis-NAME.jsonl;
                     MEMSYNC_THESIS_VM=0: the native parts only (no VM lab;
                     the VM lab records already in DIR are kept)
  plot [RESULTS...]  render every figure from results to plots/out/ (default: the newest
                     run directory under results/; results/reference only when named)
  paper [RESULTS...] build paper/out/paper.{md,html,pdf}: tables and figures generated from results
                     (same default as plot; e.g. ./run.sh paper results/reference)
  fuzz [SECONDS]     build every libFuzzer target with clang (build-fuzz/) and run each
                     for SECONDS (default 300)
  --list             approaches (and why one cannot run here), workloads, profiles,
                     experiments with their run times
  --help [APPROACH]  this text, or an approach's options

options (default suite and bench):
  --approach LIST    comma-separated approaches (default: all)
  --workload LIST    comma-separated workloads (default: seq-read,rand-read,mixed)
  --profile LIST     comma-separated netem profiles (default: local,lan)
  --size SIZE        region size (default 128M; --quick: 32M)
  --quick            smaller and fewer runs (CI, a first look)
  --netem DRIVER     auto|tc|user (default auto: tc where the kernel has sch_netem)
  --out DIR          results directory (default results/<date>-<host>)
  --vm               run the command inside the VM lab (a Debian kernel with nbd and
                     sch_netem under QEMU; correctness only: TCG is 3-8x slower)
  -o KEY=VALUE       approach option, passed through (see --help APPROACH)

Some experiments run only the parts an environment variable names (the script's
header lists them), e.g. MEMSYNC_NBD_PARTS=targets ./run.sh --vm bench nbd,
MEMSYNC_FUSE_PARTS=first,rtt ./run.sh bench fuse.

Results are JSON Lines: every file starts with a header record (tool, build,
machine, parameters), then one record per scenario or bench row; README.md explains
the fields, the figures and the experiments. A bench with a failed run exits 1 and
names it. Needs root and Linux >= 5.7.

thesis experiments (where; estimated run time, full and --quick):
EOF
	thesis_experiments
}

# The thesis set's experiments with their estimated run times (harness/bench/thesis.plan).
thesis_experiments() {
	awk -F'|' '/^[a-z]/ { printf "  %-19s %-14s %4d min (quick %d min)\n", $1, $2, $3, $4; f += $3; q += $4 }
		END { printf "  %-34s %4d min (quick %d min), estimated\n", "total", f, q }' "$SRC/harness/bench/thesis.plan"
}

say() { echo "run.sh: $*" >&2; }
die() { echo "run.sh: error: $*" >&2; exit 2; }

# Install the Debian packages that are missing, saying which.
ensure_packages() {
	local missing=() p
	for p in "$@"; do
		dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
	done
	[ ${#missing[@]} -eq 0 ] && return 0
	command -v apt-get >/dev/null || die "missing packages ${missing[*]} and no apt-get here: install them by hand"
	[ "$(id -u)" = 0 ] || die "missing packages ${missing[*]}: run as root (or install them)"
	say "installing missing packages: ${missing[*]}"
	if ! DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "${missing[@]}" >/tmp/memsync-apt.log 2>&1; then
		apt-get update -q >/tmp/memsync-apt.log 2>&1 || true
		DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "${missing[@]}" >>/tmp/memsync-apt.log 2>&1 ||
			{ tail -20 /tmp/memsync-apt.log >&2; die "apt-get install failed (log: /tmp/memsync-apt.log)"; }
	fi
}

# Configure and build into DIR with the given cmake arguments.
build() {
	local dir=$1; shift
	# In the VM lab the tree is read-only: the host built it before starting the VM.
	[ "${MEMSYNC_IN_VM:-0}" = 1 ] && [ -x "$dir/memsync" ] && return 0
	mkdir -p "$dir"
	# Configure every time (fast with a cache): it repairs a directory whose
	# last configure failed and picks up packages installed since.
	[ -f "$dir/CMakeCache.txt" ] || say "configuring $dir"
	cmake -S "$SRC" -B "$dir" "$@" >"$dir/configure.log" 2>&1 || { cat "$dir/configure.log" >&2; die "cmake failed"; }
	say "building $dir"
	cmake --build "$dir" -j"$(nproc)" >"$dir/build.log" 2>&1 || { tail -40 "$dir/build.log" >&2; die "build failed (log: $dir/build.log)"; }
}

# Default results directory for this machine and day.
results_dir() {
	echo "$SRC/results/$(date -u +%Y%m%d)-$(hostname -s 2>/dev/null || echo host)"
}

# Print a summary table of a results file (stdout).
summary() {
	local f=$1
	echo
	echo "Summary of $f (MB/s = 10^6 bytes/s; latencies in us; CPU in s per GiB moved):"
	{
		printf 'approach\tworkload\tprofile\tstatus\tMB/s\tfirst\tp50\tp99\tCPU/GiB\twire-MB\n'
		jq -r 'select(.type == "scenario" and .warmup != true)
		  | [ .approach, .workload, .profile, .status,
		      (if .status == "pass" then (.throughput_mb_s | floor) else "-" end),
		      (if .status == "pass" then (.first_access_ns / 1000 | . * 10 | floor / 10) else "-" end),
		      (if .status == "pass" then ((if .read_latency.count > 0 then .read_latency else .write_latency end).p50_ns / 1000 | . * 10 | floor / 10) else "-" end),
		      (if .status == "pass" then ((if .read_latency.count > 0 then .read_latency else .write_latency end).p99_ns / 1000 | . * 10 | floor / 10) else "-" end),
		      (if .status == "pass" then (.cpu_s.per_gib | . * 100 | floor / 100) else "-" end),
		      (if .status == "pass" then ((.wire.bytes_out + .wire.bytes_in) / 1e6 | . * 10 | floor / 10) else "-" end) ]
		  | @tsv' "$f"
	} | column -t -s $'\t'
	local bad
	bad=$(jq -r 'select(.type == "scenario" and .status != "pass" and .status != "skip") | "  FAILED \(.approach)/\(.workload)/\(.profile)\(if .warmup == true then " (warm-up)" else "" end): \(.reason)"' "$f")
	local skipped
	skipped=$(jq -r 'select(.type == "scenario" and .status == "skip") | "  skipped \(.approach)/\(.workload)/\(.profile): \(.reason)"' "$f" | sort -u)
	[ -z "$skipped" ] || { echo; echo "$skipped"; }
	[ -z "$bad" ] || { echo; echo "$bad"; }
}

# Is NAME an experiment (harness/bench/NAME.sh with a "# summary:" line)?
is_experiment() { [ -f "$SRC/harness/bench/$1.sh" ] && grep -q '^# summary: ' "$SRC/harness/bench/$1.sh"; }

# List the benchmark experiments with their summaries and run times.
list_experiments() {
	echo "experiments (./run.sh bench NAME; harness/bench/NAME.sh):"
	local f
	for f in harness/bench/*.sh; do
		is_experiment "$(basename "$f" .sh)" || continue
		printf '  %-10s %s\n' "$(basename "$f" .sh)" "$(sed -n 's/^# summary: //p' "$f" | head -1)"
		printf '  %-10s run time: %s\n' "" "$(sed -n 's/^# runtime: //p' "$f" | head -1)"
	done
}

cmd=${1:-}
case $cmd in
-h|--help|help)
	if [ $# -ge 2 ]; then
		ensure_packages $PKGS_BUILD
		build "$SRC/build" -DCMAKE_BUILD_TYPE=Release
		exec "$SRC/build/memsync" help "$2"
	fi
	usage; exit 0 ;;
esac

# Options shared by the suite and bench.
approach=all workload=seq-read,rand-read,mixed profile=local,lan size="" quick=0 netem=auto out="" vm=0
passthru=() args=()
[ -n "$cmd" ] && [ "${cmd#-}" = "$cmd" ] && shift || cmd=""
# Fail (exit 2) unless the option in $1 has a value after it.
needs_value() { [ $# -ge 2 ] || die "option '$1' needs a value (see ./run.sh --help)"; }
while [ $# -gt 0 ]; do
	case $1 in
	--approach|--workload|--profile|--size|--netem|--out|--only|-o) needs_value "$@" ;;
	esac
	case $1 in
	--approach) approach=$2; shift 2 ;;
	--workload) workload=$2; shift 2 ;;
	--profile) profile=$2; shift 2 ;;
	--size) size=$2; shift 2 ;;
	--quick) quick=1; shift ;;
	--netem) netem=$2; shift 2 ;;
	--out) out=$2; shift 2 ;;
	--vm) vm=1; shift ;;
	-o) passthru+=(-o "$2"); shift 2 ;;
	--list) if [ "$cmd" = thesis ]; then args+=(--list); else cmd=list; fi; shift ;;
	--only) args+=(--only "$2"); shift 2 ;;
	-h|--help) usage; exit 0 ;;
	-*) die "unknown option '$1' (see ./run.sh --help)" ;;
	*) args+=("$1"); shift ;;
	esac
done
case $netem in auto|tc|user|none) ;; *) die "bad --netem '$netem' (auto, tc, user)" ;; esac
[ "$quick" = 1 ] && [ -z "$size" ] && size=32M
[ -n "$size" ] || size=128M

if [ "$vm" = 1 ]; then
	ensure_packages $PKGS_BUILD $PKGS_RUN $PKGS_TEST
	build "$SRC/build" -DCMAKE_BUILD_TYPE=Release
	say "running inside the VM lab (TCG: figures are for correctness, not performance)"
	out=${out:-$(results_dir)} # shared writable with the VM (the rest of the tree is read-only there)
	mkdir -p "$out"
	export MEMSYNC_VM_RW="$out${MEMSYNC_VM_RW:+:$MEMSYNC_VM_RW}"
	vmargs=()
	[ -n "$cmd" ] && vmargs+=("$cmd")
	[ "$quick" = 1 ] && passthru+=(--quick)
	exec "$SRC/harness/vm/vm-run.sh" --timeout "${MEMSYNC_VM_TIMEOUT:-14400}" -- env MEMSYNC_IN_VM=1 "$SRC/run.sh" "${vmargs[@]}" "${args[@]}" \
		--approach "$approach" --workload "$workload" --profile "$profile" --size "$size" --netem "$netem" \
		${out:+--out "$out"} "${passthru[@]}"
fi

case $cmd in
"")
	[ "$(id -u)" = 0 ] || die "the suite needs root (network namespaces, FUSE and NBD mounts); run as root"
	ensure_packages $PKGS_BUILD $PKGS_RUN
	build "$SRC/build" -DCMAKE_BUILD_TYPE=Release
	dir=${out:-$(results_dir)}
	mkdir -p "$dir"
	file=$dir/suite-$(date -u +%H%M%S).jsonl
	say "quick suite: approaches=$approach workloads=$workload profiles=$profile size=$size"
	rc=0
	"$SRC/build/memsync" run --approach "$approach" --workload "$workload" --profile "$profile" \
		--size "$size" --netem "$netem" --out "$file" "${passthru[@]}" || rc=$?
	[ "$rc" = 2 ] && exit 2
	"$SRC/plots/render.sh" --out "$SRC/plots/out" "$file" || say "plotting failed"
	summary "$file"
	echo
	echo "Results: $file"
	echo "Figures: $SRC/plots/out/*.png (and .svg)"
	[ "$rc" = 0 ] || say "some scenarios FAILED (see above)"
	exit $rc
	;;
test)
	ensure_packages $PKGS_BUILD $PKGS_RUN $PKGS_TEST $PKGS_PAPER
	build "$SRC/build-test" -DCMAKE_BUILD_TYPE=Debug -DMEMSYNC_SANITIZE=ON
	say "running the tests (ctest; integration tests need root)"
	cd "$SRC/build-test"
	export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=0}
	export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}
	# ./run.sh test REGEX: only the tests whose names match (ctest -R)
	[ ${#args[@]} -le 1 ] || die "test takes one name pattern at most (e.g. ./run.sh test 'fuse-.*')"
	[ ${#args[@]} = 0 ] || args=(-R "${args[0]}")
	exec ctest --output-on-failure --timeout 900 "${args[@]}"
	;;
bench)
	[ ${#args[@]} -gt 0 ] || { list_experiments; die "bench needs an experiment name"; }
	ensure_packages $PKGS_BUILD $PKGS_RUN $PKGS_TEST
	build "$SRC/build" -DCMAKE_BUILD_TYPE=Release
	dir=${out:-$(results_dir)}
	mkdir -p "$dir"
	for exp in "${args[@]}"; do
		is_experiment "$exp" || { list_experiments; die "unknown experiment '$exp'"; }
	done
	rc=0
	for exp in "${args[@]}"; do
		say "experiment $exp -> $dir"
		MEMSYNC_BUILD=$SRC/build MEMSYNC_SRC=$SRC MEMSYNC_OUT=$dir MEMSYNC_QUICK=$quick MEMSYNC_NETEM=$netem \
			bash "$SRC/harness/bench/$exp.sh" || { rc=1; say "experiment $exp FAILED"; }
	done
	"$SRC/plots/render.sh" --out "$SRC/plots/out" "$dir" || say "plotting failed"
	exit $rc
	;;
thesis)
	[ "$quick" = 1 ] && args+=(--quick)
	# The plan first (it also rejects unknown names), then build and run.
	bash "$SRC/harness/bench/thesis.sh" --list "${args[@]}"
	[[ " ${args[*]} " == *" --list "* ]] && exit 0
	[ "$(id -u)" = 0 ] || die "the thesis set needs root (network namespaces, FUSE and NBD mounts); run as root"
	ensure_packages $PKGS_BUILD $PKGS_RUN $PKGS_TEST
	build "$SRC/build" -DCMAKE_BUILD_TYPE=Release
	dir=${out:-$(results_dir)}
	mkdir -p "$dir"
	dir=$(cd "$dir" && pwd) # the VM lab shares it by its absolute path
	MEMSYNC_BUILD=$SRC/build MEMSYNC_SRC=$SRC MEMSYNC_OUT=$dir MEMSYNC_QUICK=$quick MEMSYNC_NETEM=$netem \
		MEMSYNC_THESIS_PLANNED=1 exec bash "$SRC/harness/bench/thesis.sh" "${args[@]}"
	;;
plot)
	ensure_packages jq gnuplot-nox
	exec "$SRC/plots/render.sh" "${args[@]}"
	;;
paper)
	ensure_packages jq gnuplot-nox $PKGS_PAPER
	exec "$SRC/paper/build.sh" "${args[@]}"
	;;
fuzz)
	ensure_packages $PKGS_BUILD clang libclang-rt-dev python3
	exec bash "$SRC/fuzz/run-fuzz.sh" "${args[0]:-300}"
	;;
list)
	ensure_packages $PKGS_BUILD
	build "$SRC/build" -DCMAKE_BUILD_TYPE=Release
	"$SRC/build/memsync" list
	list_experiments
	;;
*)
	die "unknown command '$cmd' (see ./run.sh --help)"
	;;
esac
