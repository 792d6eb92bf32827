# harness/bench/functions.sh - shared by the bench scripts (not an
# experiment itself: it has no "# summary:" line). Source it first:
#   . "$(dirname "$0")/functions.sh"
#
#   bench_params KEY=VALUE...  the bench's parameters, recorded in every header it
#                              writes (with quick=true|false from $MEMSYNC_QUICK)
#   bench_header FILE          append the header record (`memsync header --bench NAME`:
#                              the same fields as `memsync run`'s) to FILE, once per
#                              invocation of the bench; every results file starts with it
#   bench_run WHAT CMD...      run CMD in a subshell with errexit; when it fails, say
#                              "WHAT" failed and go on (Ctrl-C still stops the bench)
#   bench_parts VAR ALL        the parts to run: those the variable VAR names
#                              (comma- or space-separated), else all of ALL; an
#                              unknown part ends the bench; recorded as parts=
#   bench_want PART            whether PART is one of them
#   bench_fail WHAT            count a failure found otherwise
#   bench_finish               exit 1 naming the failed runs, if any
#   $bench_delta_workdir       where delta's region file lives in every bench: tmpfs
#                              (/dev/shm), as a memory region does; on a disk the final
#                              msync would be timed as sync time and migration downtime
#                              (MEMSYNC_DELTA_WORKDIR changes it)
#
# A command that fails outside bench_run ends the bench (errexit), and the
# ERR trap says which command and line. $MEMSYNC_SRC defaults to this tree.
: "${MEMSYNC_BUILD:?}" "${MEMSYNC_OUT:?}"
MEMSYNC_SRC=${MEMSYNC_SRC:-$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)}
export MEMSYNC_SRC
bench_name=$(basename "$0" .sh)
bench_command="bench $bench_name${*:+ $*}"
bench_param_list=()
bench_failed=()
bench_delta_workdir=${MEMSYNC_DELTA_WORKDIR:-/dev/shm}
declare -A bench_headed=()

# Report the command that failed (errexit follows); bench_run names its own.
bench_on_err() {
	[ "$BASH_COMMAND" != '"$@"' ] || return 0
	echo "$bench_name bench: command failed ($(basename "${BASH_SOURCE[1]:-$0}"):${BASH_LINENO[0]}): $BASH_COMMAND" >&2
}
set -E
trap bench_on_err ERR

# Record the bench's parameters for its headers.
bench_params() { bench_param_list+=("$@"); }

# Append the header record to a results file (once per file and invocation).
bench_header() {
	local file=$1 kv quick=false args=()
	[ -z "${bench_headed[$file]:-}" ] || return 0
	[ "${MEMSYNC_QUICK:-0}" = 1 ] && quick=true
	for kv in "quick=$quick" "${bench_param_list[@]}"; do
		args+=(--param "$kv")
	done
	"$MEMSYNC_BUILD/memsync" header --bench "$bench_name" --netem "${MEMSYNC_NETEM:-auto}" \
		--command "$bench_command" "${args[@]}" >>"$file"
	bench_headed[$file]=1
}

# Select the bench's parts from $VAR (default: all of ALL); bench_want asks.
bench_parts() {
	local var=$1 all=$2 p
	bench_selected=" $(echo "${!var:-$all}" | tr ',' ' ') "
	for p in $bench_selected; do
		[[ " $all " == *" $p "* ]] || { echo "$bench_name bench: unknown part '$p' in $var (parts: $all)" >&2; exit 2; }
	done
	bench_params "parts=$(echo $bench_selected | tr ' ' ',')"
}

# Whether part $1 was selected (bench_parts).
bench_want() { [[ $bench_selected == *" $1 "* ]]; }

# Count a failed run and say which.
bench_fail() {
	echo "$bench_name bench: FAILED: $*" >&2
	bench_failed+=("$*")
}

# Run one part of the bench; a failure is reported and counted, not fatal.
bench_run() {
	local what=$1 rc
	shift
	set +e
	trap - ERR
	(
		trap bench_on_err ERR
		set -e
		"$@"
	)
	rc=$?
	trap bench_on_err ERR
	set -e
	[ "$rc" = 130 ] && exit 130 # interrupted: stop the whole bench
	[ "$rc" = 0 ] || bench_fail "$what (exit $rc)"
	return 0
}

# End the bench: exit 1 if a run failed, listing them.
bench_finish() {
	[ ${#bench_failed[@]} -gt 0 ] || return 0
	echo "$bench_name bench: ${#bench_failed[@]} run(s) failed:" >&2
	printf '  %s\n' "${bench_failed[@]}" >&2
	exit 1
}
