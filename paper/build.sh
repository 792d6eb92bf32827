#!/usr/bin/env bash
# paper/build.sh - render the paper from raw results.
#
#   paper/build.sh [RESULTS...]
#
# RESULTS are .jsonl files or directories (default: the newest run directory
# under results/, as plots/render.sh chooses it; the committed reference
# data only when named: paper/build.sh results/reference).
#
# paper.md is the source. A line "<!-- table: NAME -->" is replaced by the
# markdown table that paper/tables/NAME.jq prints from all result records
# (slurped); a line "<!-- figure: NAME -->" by a link to the figure that
# plots/render.sh drew. Output: paper/out/paper.md and paper/out/figures/.
# Nothing in the paper is typed in by hand: a table without data says so.
set -euo pipefail
src=$(cd "$(dirname "$0")/.." && pwd)
out=$src/paper/out
inputs=("$@")
if [ ${#inputs[@]} -eq 0 ]; then
	inputs=("$("$src/plots/render.sh" --newest)")
	[ -n "${inputs[0]}" ] || { echo "paper: no run directory under $src/results (name RESULTS, e.g. results/reference)" >&2; exit 1; }
	echo "paper: results from ${inputs[0]} (the newest run; name others, e.g. results/reference, to use them)" >&2
fi
found=$(find "${inputs[@]}" -name '*.jsonl' -type f 2>/dev/null | sort)
files=()
[ -z "$found" ] || mapfile -t files <<<"$found" # a here-string: no /dev/fd in the VM lab
[ ${#files[@]} -gt 0 ] || { echo "paper: no results under ${inputs[*]}" >&2; exit 1; }
mkdir -p "$out/figures"
"$src/plots/render.sh" --out "$out/figures" "${files[@]}" 2>"$out/render.log" || { cat "$out/render.log" >&2; exit 1; }
{
	while IFS= read -r line; do
		if [[ $line =~ ^\<\!--\ table:\ ([a-z0-9-]+)\ --\>$ ]]; then
			name=${BASH_REMATCH[1]}
			table=$(jq -r -s -f "$src/paper/tables/$name.jq" "${files[@]}")
			if [ "$(printf '%s\n' "$table" | wc -l)" -le 2 ]; then
				echo "*(no results for table \`$name\` in the results used to build this paper)*"
			else
				printf '%s\n' "$table"
			fi
		elif [[ $line =~ ^\<\!--\ figure:\ ([a-z0-9-]+)\ --\>$ ]]; then
			name=${BASH_REMATCH[1]}
			if [ -f "$out/figures/$name.png" ]; then
				echo "![$name](figures/$name.png)"
			else
				echo "*(figure \`$name\` has no data in the results used to build this paper)*"
			fi
		else
			printf '%s\n' "$line"
		fi
	done < "$src/paper/paper.md"
	echo
	echo "---"
	echo "Built $(date -u +%Y-%m-%dT%H:%MZ) from ${#files[@]} result file(s):"
	# Headers written before every file had the one header shape named some
	# fields differently (git, cpu, cpus/nproc; remote's "record": "header").
	jq -r -s '[.[] | select(.type == "header" or .record == "header")
		| {v: (.memsync_version // "?"), c: (.git_commit // .git // "?"), h: (.host // "?"), k: (.kernel // "?"),
		   cpu: (.cpu_model // .cpu // "?"), n: (.ncpu // .cpus // .nproc // "?"), b: (.build_type // "?"),
		   d: (.netem_driver // "?")}] | unique[]
		| "- memsync \(.v) (\(.c)), \(.h), \(.k), \(.cpu), \(.n) CPUs, \(.b), netem \(.d)"' "${files[@]}"
} > "$out/paper.md"
echo "paper: $out/paper.md" >&2
