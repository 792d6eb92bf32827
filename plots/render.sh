#!/usr/bin/env bash
# render.sh - regenerate every figure from raw results.
#
#   plots/render.sh [--out DIR] [RESULTS...]
#
# RESULTS are .jsonl files or directories searched for them (default:
# results/). For every plots/<fig>.gp with a plots/<fig>.jq next to it, the jq
# program runs over all records (slurped) and writes DIR/<fig>.dat; gnuplot
# then renders DIR/<fig>.png and DIR/<fig>.svg. A figure with no data is
# skipped with a message, not drawn empty.
set -euo pipefail
src=$(cd "$(dirname "$0")/.." && pwd)
out=$src/plots/out
files=()
while [ $# -gt 0 ]; do
	case $1 in
	--out) out=$2; shift 2 ;;
	-h|--help) sed -n '2,11p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
	*) files+=("$1"); shift ;;
	esac
done
[ ${#files[@]} -gt 0 ] || files=("$src/results")
mapfile -t inputs < <(find "${files[@]}" -name '*.jsonl' -type f 2>/dev/null | sort)
if [ ${#inputs[@]} -eq 0 ]; then
	echo "render: no .jsonl results under ${files[*]}" >&2
	exit 1
fi
for tool in jq gnuplot; do
	command -v $tool >/dev/null || { echo "render: '$tool' is missing (apt-get install ${tool/gnuplot/gnuplot-nox})" >&2; exit 1; }
done
mkdir -p "$out"
n=0
cd "$src"
for gp in plots/*.gp; do
	fig=$(basename "$gp" .gp)
	[ "$fig" = style ] && continue
	jqf=plots/$fig.jq
	[ -f "$jqf" ] || continue
	dat=$out/$fig.dat
	jq -r -s -L plots -f "$jqf" "${inputs[@]}" > "$dat"
	# The first line is the column header: no line after it, no figure.
	if [ "$(tail -n +2 "$dat" | grep -c . || true)" = 0 ]; then
		echo "render: $fig: no data in these results, skipped" >&2
		continue
	fi
	gnuplot -e "datafile='$dat'; outbase='$out/$fig'" "$gp" 2> "$out/$fig.log" || {
		echo "render: $fig: gnuplot failed:" >&2; cat "$out/$fig.log" >&2; exit 1; }
	n=$((n + 1))
	echo "render: $out/$fig.png (.svg)" >&2
done
echo "render: $n figure(s) from ${#inputs[@]} result file(s) in $out" >&2
