#!/usr/bin/env bash
# paper/build.sh - render the paper from raw results.
#
#   paper/build.sh [RESULTS...]     (default: results/)
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
[ ${#inputs[@]} -gt 0 ] || inputs=("$src/results")
mapfile -t files < <(find "${inputs[@]}" -name '*.jsonl' -type f 2>/dev/null | sort)
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
	jq -r -s '[.[] | select(.type == "header")] | unique_by(.git_commit, .host, .kernel)[]
		| "- memsync \(.memsync_version) (\(.git_commit)), \(.host), \(.kernel), \(.cpu_model), \(.ncpu) CPUs, \(.build_type), netem \(.netem_driver)"' "${files[@]}"
} > "$out/paper.md"
echo "paper: $out/paper.md" >&2
