#!/usr/bin/env bash
# paper/build.sh - render the paper from raw results.
#
#   paper/build.sh [--md] [RESULTS...]
#
# RESULTS are .jsonl files or directories (default: the newest run directory
# under results/, as plots/render.sh chooses it; the committed reference
# data only when named: paper/build.sh results/reference).
#
# paper.md is the source. A line "<!-- table: NAME -->" is replaced by the
# markdown table that paper/tables/NAME.jq prints from all result records
# (slurped, once each, with "_noheader" on those of a file without a header
# record; statistics from plots/stats.jq, shared table code from
# paper/tables/paperlib.jq, the thesis's cited values from
# paper/thesis-values.json as $thesis); a line "<!-- figure: NAME -->"
# by the figure that plots/render.sh drew, captioned with its .gp file's
# description; "<!-- testbed -->" by the testbed section (paper/testbed.jq:
# machines, builds and which file feeds which figure and table, from the
# header records). Nothing in the paper is typed in by hand: a table or
# figure without data says so (class "nodata" in the HTML, its slot named
# in data-slot: "figure NAME" or "table NAME").
#
# Output in paper/out/: paper.md and figures/, then (unless --md)
# paper.html (pandoc, self-contained: figures and style embedded) and
# paper.pdf (headless Chromium's print to PDF; paper/chromium.sh).
set -euo pipefail
src=$(cd "$(dirname "$0")/.." && pwd)
out=$src/paper/out
md_only=0
[ "${1:-}" = --md ] && { md_only=1; shift; }
inputs=("$@")
if [ ${#inputs[@]} -eq 0 ]; then
	inputs=("$("$src/plots/render.sh" --newest)")
	[ -n "${inputs[0]}" ] || { echo "paper: no run directory under $src/results (name RESULTS, e.g. results/reference)" >&2; exit 1; }
	echo "paper: results from ${inputs[0]} (the newest run; name others, e.g. results/reference, to use them)" >&2
fi
if [ $md_only = 0 ]; then
	for tool in pandoc chromium; do
		command -v $tool >/dev/null || { echo "paper: '$tool' is missing (apt-get install $tool; ./run.sh paper installs it), or use --md" >&2; exit 1; }
	done
fi
found=$(find "${inputs[@]}" -name '*.jsonl' -type f 2>/dev/null | sort)
files=()
[ -z "$found" ] || mapfile -t files <<<"$found" # a here-string: no /dev/fd in the VM lab
[ ${#files[@]} -gt 0 ] || { echo "paper: no results under ${inputs[*]}" >&2; exit 1; }
rm -rf "$out/figures" # no figure of an earlier build may stand in for one without data now
mkdir -p "$out/figures"
"$src/plots/render.sh" --out "$out/figures" "${files[@]}" 2>"$out/render.log" || { cat "$out/render.log" >&2; exit 1; }

# Lines of code per approach directory, for the summary table: every line
# (comments and blank ones included) of approaches/NAME/*.c and *.h as they
# are in this tree now (wc -l); approaches/common is counted on its own.
loc=$(for d in "$src"/approaches/*/; do
	n=$(cat "$d"*.c "$d"*.h 2>/dev/null | wc -l)
	printf '{"%s": %d}\n' "$(basename "$d")" "$n"
done | jq -s 'add // {}')
# The thesis's published figures that table thesis cites (a data file, with
# the figure each value comes from).
thesis=$(jq -c . "$src/paper/thesis-values.json")
jqargs=(-L "$src/plots" -L "$src/paper/tables" --argjson loc "$loc" --argjson thesis "$thesis")

# Every record once, for the tables: a record from a file without a header
# record (made before headers existed) carries "_noheader": true, so that a
# table can mark the rows made from it (paperlib.jq's nohead); a record
# copied from another file ("derived_from": thesis-cost's copies of the
# read-rtt and write-rtt runs) is left out, so no run counts twice; a record
# without a "lab" from a file whose headers all say it ran in the VM lab gets
# "lab": "vm-tcg" (hand-run VM commands), so it never joins native rows; a
# record measured before the workload's msync was timed is left out
# (stale_sync, plots/nbd-lib.jq).
jq -c -n -L "$src/plots" 'include "nbd-lib"; [inputs | {f: input_filename, r: .}] | group_by(.f)[]
	| (any(.[]; .r.type == "header" or .r.record == "header")) as $h
	| [.[].r | select(.type == "header") | .vm // (if (.cpu_model // "" | test("QEMU")) then "tcg" else "none" end)] as $vms
	| (if ($vms | length) > 0 and all($vms[]; . != "none") then $vms[0] else null end) as $vm
	| .[] | select(.r.derived_from == null) | .r + (if $h then {} else {_noheader: true} end)
	| if .lab == null and $vm != null and .type != "header" then . + {lab: "vm-\($vm)"} else . end
	| select(stale_sync | not)' \
	"${files[@]}" >"$out/records.jsonl"

# A table's markdown (header and rows, perhaps a note after them), from every record.
table() { # NAME
	jq -r -s "${jqargs[@]}" -f "$src/paper/tables/$1.jq" "$out/records.jsonl"
}
# Which files feed extractor JQ (a table or figure program over slurped
# records): one jq run applies it to each file's records alone and prints
# "FILE<TAB>LABEL" where the output has more than MIN lines and differs
# from its output without records (a table with fixed rows says "no runs").
# Records the paper leaves out (stale_sync) are left out here too, so a
# file is named only for what it still feeds.
feeders() { # JQ MIN LABEL
	local body includes
	# The extractor's modules (stats always): the include statements that
	# start its lines, also where the program follows on the same line.
	includes=$(sed -nE 's/^((include "[^"]*"; *)+).*/\1/p' "$1" | tr '\n' ' ')
	body=$(sed -E 's/^(include "[^"]*"; *)+//' "$1")
	jq -n -r "${jqargs[@]}" --arg what "$3" "include \"stats\"; include \"nbd-lib\"; $includes def extract: $body
;
		([] | [extract]) as \$none
		| [inputs | select(stale_sync | not) | {f: input_filename, r: .}] | group_by(.f)[]
		| .[0].f as \$f | [map(.r) | extract] as \$o
		| select((\$o | length) > $2 and \$o != \$none) | \"\(\$f)\t\(\$what)\"" "${files[@]}"
}

# Which figures and tables of the paper each file feeds: {"file": ["figure x", ...]}.
uses() {
	local line
	while IFS= read -r line; do
		if [[ $line =~ ^\<\!--\ table:\ ([a-z0-9-]+)\ --\>$ ]]; then
			feeders "$src/paper/tables/${BASH_REMATCH[1]}.jq" 2 "table ${BASH_REMATCH[1]}"
		elif [[ $line =~ ^\<\!--\ figure:\ ([a-z0-9-]+)\ --\>$ ]] && [ -f "$src/plots/${BASH_REMATCH[1]}.jq" ]; then
			feeders "$src/plots/${BASH_REMATCH[1]}.jq" 1 "figure ${BASH_REMATCH[1]}"
		fi
	done < "$src/paper/paper.md" | jq -R -s --arg base "$src" 'split("\n") | map(select(. != "") | split("\t"))
		| reduce .[] as $u ({}; .[$u[0] | ltrimstr($base) | ltrimstr("/")] += [$u[1]])'
}

# The markdown of the paper: paper.md with its placeholders filled.
expand() {
	local line name table caption
	while IFS= read -r line; do
		if [[ $line =~ ^\<\!--\ table:\ ([a-z0-9-]+)\ --\>$ ]]; then
			name=${BASH_REMATCH[1]}
			table=$(table "$name")
			if [ "$(printf '%s\n' "$table" | wc -l)" -le 2 ]; then
				echo "<span class=\"nodata\" data-slot=\"table $name\">*(no results for table \`$name\` in the results used to build this paper)*</span>"
			else
				printf '%s\n' "$table"
				printf '%s\n' "$table" | grep -q ' \\\* |' && printf '\n*Rows and cells marked \\* have fewer than 5 runs: their spread is not to be trusted.*\n'
				printf '%s\n' "$table" | grep -q '^|.* † ' && printf '\n*Rows marked † come from result files without a header record (made before headers existed; testbed section).*\n'
			fi
		elif [[ $line =~ ^\<\!--\ figure:\ ([a-z0-9-]+)\ --\>$ ]]; then
			name=${BASH_REMATCH[1]}
			if [ -f "$out/figures/$name.png" ]; then
				caption=$(sed -n '1s/^# [^ ]* - //p' "$src/plots/$name.gp")
				echo "![\`$name\`: ${caption:-$name}](figures/$name.png)"
			else
				echo "<span class=\"nodata\" data-slot=\"figure $name\">*(figure \`$name\` has no data in the results used to build this paper)*</span>"
			fi
		elif [ "$line" = "<!-- testbed -->" ]; then
			jq -n -r --argjson uses "$uses_json" --arg base "$src" -f "$src/paper/testbed.jq" "${files[@]}"
		else
			printf '%s\n' "$line"
		fi
	done < "$src/paper/paper.md"
	echo
	echo "---"
	echo
	echo "*Built $(date -u +%Y-%m-%dT%H:%MZ) by \`paper/build.sh\` from ${#files[@]} result file(s) under $(printf '`%s` ' "${inputs[@]}")(testbed section above).*"
}
uses_json=$(uses)
expand > "$out/paper.md"
echo "paper: $out/paper.md" >&2
[ $md_only = 1 ] && exit 0

# HTML: one self-contained file (figures and style embedded as data URIs).
embed=--self-contained
pandoc --help | grep -q -- --embed-resources && embed=--embed-resources
(cd "$out" && pandoc --from markdown --to html5 --standalone $embed --resource-path="$out" \
	--css "$src/paper/paper.css" --shift-heading-level-by=-1 --toc --toc-depth=1 \
	-o "$out/paper.html" "$out/paper.md")
echo "paper: $out/paper.html" >&2

# PDF: Chromium prints the HTML (no TeX needed).
. "$src/paper/chromium.sh"
rm -f "$out/paper.pdf"
PAPER_CHROMIUM_LOG=$out/chromium.log paper_chromium --no-pdf-header-footer --print-to-pdf-no-header \
	--print-to-pdf="$out/paper.pdf" "file://$out/paper.html" || true
[ -s "$out/paper.pdf" ] || { echo "paper: Chromium made no PDF (see $out/chromium.log)" >&2; exit 1; }
echo "paper: $out/paper.pdf" >&2
