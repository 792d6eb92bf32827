# tests/functions.sh - shared helpers for memsync's shell integration tests.
# Source it first: `. "$(dirname "$0")/functions.sh"`.
#
#   requires CMD...        skip (77) unless every command exists
#   requires_root          skip unless root
#   cleanup_fn FN          run FN on exit (in reverse order of registration)
#   fail MSG / skip MSG    end the test with exit 1 / 77 and a message
#   tmpdir                 $TMPDIR_TEST, removed on exit
#   memsync ARGS...        the built harness binary; `memsync run` without a
#                          --warmup gets --warmup 0 (tests verify, they do not
#                          measure: a warm-up run would only double their time)
#   requires_approach NAME skip unless this build and machine can run NAME
set -u
set -o pipefail

MEMSYNC_SRC=${MEMSYNC_SRC:-$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)}
MEMSYNC_BUILD=${MEMSYNC_BUILD:-$MEMSYNC_SRC/build}
export MEMSYNC_SRC MEMSYNC_BUILD
PATH=$MEMSYNC_BUILD:$PATH

_cleanup_fns=()
# Run every registered cleanup function, newest first.
_run_cleanups() {
	local rc=$? i
	for ((i = ${#_cleanup_fns[@]} - 1; i >= 0; i--)); do
		${_cleanup_fns[$i]} || true
	done
	exit $rc
}
trap _run_cleanups EXIT
trap 'exit 130' INT TERM

# Register a cleanup function.
cleanup_fn() { _cleanup_fns+=("$*"); }

# End the test as failed.
fail() { echo "FAIL: $*" >&2; exit 1; }

# End the test as skipped.
skip() { echo "SKIP: $*" >&2; exit 77; }

# Skip unless every named command is on PATH.
requires() {
	local c
	for c in "$@"; do
		command -v "$c" >/dev/null 2>&1 || skip "requires '$c' (not installed)"
	done
}

# Skip unless running as root.
requires_root() { [ "$(id -u)" = 0 ] || skip "requires root"; }

TMPDIR_TEST=$(mktemp -d /tmp/memsync-test.XXXXXX)
_rm_tmpdir() { rm -rf "$TMPDIR_TEST"; }
cleanup_fn _rm_tmpdir

# The harness binary (`run` without --warmup: no warm-up runs).
memsync() {
	if [ "${1:-}" = run ] && [[ " $* " != *" --warmup"* ]]; then
		shift
		"$MEMSYNC_BUILD/memsync" run --warmup 0 "$@"
	else
		"$MEMSYNC_BUILD/memsync" "$@"
	fi
}

# Assert that a command fails with the given exit code and prints a pattern.
expect_fail() {
	local code=$1 pattern=$2; shift 2
	local out rc=0
	out=$("$@" 2>&1) || rc=$?
	[ "$rc" = "$code" ] || fail "expected exit $code from '$*', got $rc: $out"
	echo "$out" | grep -qE -- "$pattern" || fail "expected /$pattern/ in output of '$*': $out"
}

# requires_approach NAME - skip (77) when this build has no approach NAME, or
# `memsync list` says it is unsupported here (built without its library, or a
# kernel feature or privilege missing), with that reason.
requires_approach() {
	local list why
	list=$("$MEMSYNC_BUILD/memsync" list approaches 2>/dev/null) || skip "cannot list the approaches (memsync not built?)"
	why=$(awk -v a="$1" '
		$1 == a && !found { found = 1; next }
		found && /^ +unsupported here: / { sub(/^ +unsupported here: /, ""); print; exit }
		found { exit }
		END { if (!found) print "not in this build" }' <<<"$list")
	[ -z "$why" ] || skip "approach $1: $why"
}

# memsync_run_logged OUT ARGS... - `memsync run -q ARGS --out OUT` with its
# output in $TMPDIR_TEST/log; a failed run fails the test with the log's tail.
memsync_run_logged() {
	local out=$1; shift
	memsync run -q "$@" --out "$out" >"$TMPDIR_TEST/log" 2>&1 ||
		fail "memsync run $*: $(tail -5 "$TMPDIR_TEST/log")"
}

# expect_scenarios OUT N - fail unless OUT has N scenario records.
expect_scenarios() {
	local n
	n=$(jq -s '[.[] | select(.type == "scenario")] | length' "$1")
	[ "$n" = "$2" ] || fail "expected $2 scenario records in $(basename "$1"), got $n"
}

# no_mount_left DIR - fail when anything is still mounted under DIR (a FUSE
# mount a run left behind).
no_mount_left() {
	! grep -q " $1/" /proc/mounts || fail "a mount was left behind under $1: $(grep " $1/" /proc/mounts)"
}

# ---- VM lab (netem component; harness/vm) ---------------------------------
#   requires_kernel_feature FEATURE...   FEATURE is nbd or netem. When this
#       host's kernel lacks one, the test script re-runs itself inside the VM
#       lab (harness/vm/vm-run.sh, MEMSYNC_IN_VM=1 there) and exits with its
#       code; it is skipped (77) only when the VM lab cannot run here, with
#       the reason. $MEMSYNC_VM_TIMEOUT bounds the VM run (default 800 s).

# Does the running kernel have FEATURE (loading its module quietly)?
_have_kernel_feature() {
	case $1 in
	nbd)
		[ -d /sys/module/nbd ] || modprobe -q nbd >/dev/null 2>&1
		[ -d /sys/module/nbd ] || [ -b /dev/nbd0 ]
		;;
	netem) "$MEMSYNC_BUILD/memsync-net" probe --driver tc >/dev/null 2>&1 ;;
	*) fail "requires_kernel_feature: unknown feature '$1' (known: nbd, netem)" ;;
	esac
}

# Run natively if the kernel has every FEATURE, else re-run this script in the VM lab.
requires_kernel_feature() {
	local f missing=() why script
	for f in "$@"; do
		_have_kernel_feature "$f" || missing+=("$f")
	done
	[ ${#missing[@]} -eq 0 ] && return 0
	[ "${MEMSYNC_IN_VM:-0}" = 1 ] && fail "kernel feature(s) ${missing[*]} missing even inside the VM lab"
	why=$("$MEMSYNC_SRC/harness/vm/vm-available.sh" --prepare) ||
		skip "this kernel ($(uname -r)) lacks ${missing[*]} and the VM lab cannot run here: $why"
	script=$(cd "$(dirname "$0")" && pwd)/$(basename "$0")
	echo "this kernel ($(uname -r)) lacks ${missing[*]}: re-running $(basename "$0") in the VM lab" >&2
	"$MEMSYNC_SRC/harness/vm/vm-run.sh" --timeout "${MEMSYNC_VM_TIMEOUT:-800}" -- bash "$script"
	exit $?
}
# ---- end of VM lab section -------------------------------------------------

# make_x509_dir DIR - a test CA and a server and a client certificate signed
# by it, under the names nbdkit, libnbd and memsync use: ca-cert.pem,
# server-cert.pem, server-key.pem, client-cert.pem, client-key.pem (certtool,
# gnutls-bin). Valid two days, for 127.0.0.1/localhost and 198.18.0.0/15 hosts.
make_x509_dir() {
	local d=$1 side
	requires certtool
	mkdir -p "$d"
	certtool --generate-privkey --outfile "$d/ca-key.pem" 2>/dev/null || fail "certtool: CA key"
	printf 'cn = memsync test CA %s\nca\ncert_signing_key\nexpiration_days = 2\n' "$RANDOM" >"$d/ca.info"
	certtool --generate-self-signed --load-privkey "$d/ca-key.pem" --template "$d/ca.info" \
		--outfile "$d/ca-cert.pem" 2>/dev/null || fail "certtool: CA certificate"
	for side in server client; do
		certtool --generate-privkey --outfile "$d/$side-key.pem" 2>/dev/null || fail "certtool: $side key"
		{
			printf 'organization = memsync\ncn = memsync-%s\ndns_name = localhost\nip_address = 127.0.0.1\n' "$side"
			printf 'ip_address = 198.18.0.1\nip_address = 198.18.0.2\nip_address = 198.18.0.3\n'
			[ $side = server ] && echo tls_www_server || echo tls_www_client
			printf 'encryption_key\nsigning_key\nexpiration_days = 2\n'
		} >"$d/$side.info"
		certtool --generate-certificate --load-ca-certificate "$d/ca-cert.pem" --load-ca-privkey "$d/ca-key.pem" \
			--load-privkey "$d/$side-key.pem" --template "$d/$side.info" --outfile "$d/$side-cert.pem" 2>/dev/null ||
			fail "certtool: $side certificate"
	done
}
