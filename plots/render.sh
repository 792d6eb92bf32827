#!/usr/bin/env bash
# render.sh - regenerate every figure from raw results.
#
#   plots/render.sh [--out DIR] [RESULTS...]
#   plots/render.sh --newest     print the default RESULTS directory
#
# RESULTS are .jsonl files or directories searched for them (default: the
# newest run directory under results/, by modification time; results/reference
# is used only when named, so that new figures never mix in the committed
# reference data unasked). For every plots/<fig>.gp with a plots/<fig>.jq next
# to it, the jq program runs over all records (slurped; a figure not named
# thesis-* without the records of ./run.sh thesis) and writes
# DIR/<fig>.dat; gnuplot then renders DIR/<fig>.png and DIR/<fig>.svg. A
# figure with no data is skipped with a message, not drawn empty. The
# statistics (median, min-max error bars, n; warm-ups left out) and style
# conventions every figure follows: plots/README.md.
set -euo pipefail
src=$(cd "$(dirname "$0")/.." && pwd)
out=$src/plots/out

# The newest run directory under results/ (not reference), or nothing.
newest_results() {
	find "$src/results" -mindepth 1 -maxdepth 1 -type d ! -name reference -printf '%T@ %p\n' 2>/dev/null |
		sort -n | tail -1 | cut -d' ' -f2-
}

files=()
while [ $# -gt 0 ]; do
	case $1 in
	--out) [ $# -ge 2 ] || { echo "render: --out needs a directory" >&2; exit 2; }; out=$2; shift 2 ;;
	--newest) newest_results; exit 0 ;;
	-h|--help) sed -n '2,15p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
	*) files+=("$1"); shift ;;
	esac
done
if [ ${#files[@]} -eq 0 ]; then
	files=("$(newest_results)")
	[ -n "${files[0]}" ] || { echo "render: no run directory under $src/results (name RESULTS, e.g. results/reference)" >&2; exit 1; }
	echo "render: results from ${files[0]} (the newest run; name others, e.g. results/reference, to use them)" >&2
fi
# (a here-string, not <(...): the VM lab's initramfs has no /dev/fd)
found=$(find "${files[@]}" -name '*.jsonl' -type f 2>/dev/null | sort)
inputs=()
[ -z "$found" ] || mapfile -t inputs <<<"$found"
if [ ${#inputs[@]} -eq 0 ]; then
	echo "render: no .jsonl results under ${files[*]}" >&2
	exit 1
fi
for tool in jq gnuplot; do
	command -v $tool >/dev/null || { echo "render: '$tool' is missing (apt-get install ${tool/gnuplot/gnuplot-nox})" >&2; exit 1; }
done
mkdir -p "$out"
# A thesis-NAME figure reads every record; every other figure leaves out the
# records of ./run.sh thesis ("thesis": NAME): when a results directory holds
# both, a bench's figure must not mix in runs made with other parameters.
# Two experiments are a bench's own part run unchanged (backends: backends.sh;
# delta-rsync: delta.sh's rsync part), so their rows are that bench's rows.
# Every record gets its lab from its own file's header first (file_labels in
# plots/nbd-lib.jq): slurped, a header-less file would take the file before it's.
# Records measured before the workload's msync was timed (stale_sync) are left out.
all=$(mktemp "${TMPDIR:-/tmp}/render-records.XXXXXX")
own=$(mktemp "${TMPDIR:-/tmp}/render-records.XXXXXX")
trap 'rm -f "$all" "$own"' EXIT
jq -c -n -L "$src/plots" 'include "nbd-lib"; file_labels | select(stale_sync | not)' "${inputs[@]}" >"$all"
jq -c 'select(.thesis == null or .thesis == "backends" or .thesis == "delta-rsync")' "$all" >"$own"
n=0
cd "$src"
for gp in plots/*.gp; do
	fig=$(basename "$gp" .gp)
	[ "$fig" = style ] && continue
	jqf=plots/$fig.jq
	[ -f "$jqf" ] || continue
	dat=$out/$fig.dat
	if [[ $fig == thesis-* ]]; then
		jq -r -s -L plots -f "$jqf" "$all" > "$dat"
	else
		jq -r -s -L plots -f "$jqf" "$own" > "$dat"
	fi
	# The first line is the column header: no line after it, no figure.
	if [ "$(tail -n +2 "$dat" | grep -c . || true)" = 0 ]; then
		echo "render: $fig: no data in these results, skipped" >&2
		continue
	fi
	ncols=$(head -1 "$dat" | awk -F'\t' '{print NF}')
	gnuplot -e "datafile='$dat'; outbase='$out/$fig'; ncols=$ncols" "$gp" 2> "$out/$fig.log" || {
		echo "render: $fig: gnuplot failed:" >&2; cat "$out/$fig.log" >&2; exit 1; }
	n=$((n + 1))
	echo "render: $out/$fig.png (.svg)" >&2
done
echo "render: $n figure(s) from ${#inputs[@]} result file(s) in $out" >&2
