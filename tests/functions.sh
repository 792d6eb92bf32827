# tests/functions.sh - shared helpers for memsync's shell integration tests.
# Source it first: `. "$(dirname "$0")/functions.sh"`.
#
#   requires CMD...        skip (77) unless every command exists
#   requires_root          skip unless root
#   cleanup_fn FN          run FN on exit (in reverse order of registration)
#   fail MSG / skip MSG    end the test with exit 1 / 77 and a message
#   tmpdir                 $TMPDIR_TEST, removed on exit
#   memsync ARGS...        the built harness binary
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

# The harness binary.
memsync() { "$MEMSYNC_BUILD/memsync" "$@"; }

# Assert that a command fails with the given exit code and prints a pattern.
expect_fail() {
	local code=$1 pattern=$2; shift 2
	local out rc=0
	out=$("$@" 2>&1) || rc=$?
	[ "$rc" = "$code" ] || fail "expected exit $code from '$*', got $rc: $out"
	echo "$out" | grep -qE -- "$pattern" || fail "expected /$pattern/ in output of '$*': $out"
}
