# testbed.jq - the paper's testbed section, from the header records
# ("type": "header") that start every results file: one row per distinct
# machine and build (testbed A, B, ...), then one row per file saying which
# testbed made it, how, and which figures and tables it feeds. A file
# without a header record (made before headers existed) says so, and the
# tables mark the rows made from it (†; paper/build.sh). The benches' older
# headers (netem's with "git"/"cpu"/"vm_lab", remote's "record": "header")
# are read for what they have: no host, build or memsync version.
#
#   jq -n -r --argjson uses USES --arg base DIR -f paper/testbed.jq FILES...
#
# USES: {"FILE": ["figure x", "table y", ...]} (paper/build.sh works it out
# by running each extractor on each file alone); DIR is cut from file names.
def is_header: .type == "header" or .record == "header";
# A header record in the shape of `memsync header`'s (older bench headers mapped).
def norm:
  if .memsync_version != null or .git_commit != null then . + {older: false}
  else {older: true, bench, date, kernel, cpu_model: .cpu, ncpu: (.cpus // .nproc), git_commit: .git,
        vm: (if .vm_lab == true then "tcg" elif .vm_lab == false then "none" else null end),
        netem_driver: .drivers, params: {quick}} end;
def where:
  if .vm == "none" then "native"
  elif .vm != null then "VM lab (QEMU \(.vm))"
  elif (.cpu_model // "" | test("QEMU")) then "VM lab (inferred)"
  else "native (inferred)" end;
def gib: if . == null then "?" else "\(. / 1073741824 | round) GiB" end;
def q: if . == null or . == "" then "?" else tostring end;
def machine: {host, kernel, cpu_model, ncpu, mem_bytes, compiler, cflags, build_type,
              netem_driver, vm, memsync_version, git_commit, older, w: where};
def build: if .older then "older bench header: no build fields"
  else "\(.build_type | q), \(.compiler | q), `\(.cflags | q | ltrimstr(" "))`" end;
def version: if .older then "? (`\(.git_commit | q)`)" else "\(.memsync_version | q) (`\(.git_commit | q)`)" end;
[ inputs | {f: (input_filename | ltrimstr($base) | ltrimstr("/")), r: .} ] as $all
| ($all | map(.f) | unique) as $paths
# The directory every file is under, said once; the table names the rest.
| ($paths | map(split("/")[:-1]) | reduce .[1:][] as $d (.[0] // [];
    . as $p | [range(0; [length, ($d | length)] | min) | select($p[:. + 1] == $d[:. + 1])] | $p[:length])
  | join("/")) as $dir
| def short: if $dir == "" then . else ltrimstr($dir + "/") end;
  def feeds($f): $uses[$dir + (if $dir == "" then "" else "/" end) + $f] // [] | join(", ") | if . == "" then "-" else . end;
  ($paths | map(short)) as $files
| ($all | map(select(.r | is_header) | .r |= norm)) as $heads
| ($heads | map(.r | machine) | unique) as $machines
| def letter($m): [$machines | index([$m]) | . + 65] | implode;
  "The machines and builds the results came from, as their header records say",
  "(\"inferred\": an older header without the `vm` field, judged by its CPU model):",
  "",
  "| testbed | where | host | kernel | CPU | memory | build | link driver | memsync (commit) |",
  "|---|---|---|---|---|---:|---|---|---|",
  ($machines[] as $m
   | "| \(letter($m)) | \($m.w) | \($m.host | q) | \($m.kernel | q) | \($m.cpu_model | q) x \($m.ncpu | q) | \($m.mem_bytes | gib) | \($m | build) | \($m.netem_driver | q) | \($m | version) |"),
  "",
  "Each result file, the testbed and command that made it, the load average when it",
  "started (1 min; other jobs on the machine), and the figures and tables it feeds\(if $dir != "" then " (files under `\($dir)/`)" else "" end).",
  "A file without a header record was made before headers existed: its machine and build are",
  "not known, and table rows made from it are marked †:",
  "",
  "| file | testbed | made (UTC) | by | load | feeds |",
  "|---|---|---|---|---:|---|",
  ($files[] as $f
   | ($heads | map(select((.f | short) == $f) | .r)) as $h
   | if ($h | length) == 0 then
       "| `\($f)` | <span class=\"noheader\">no header record (made before headers existed)</span> | - | - | - | \(feeds($f)) |"
     else
       ($h | map(select(.bench != null)) | first // $h[0]) as $h0
       | "| `\($f)` | \($h | map(machine | letter(.)) | unique | join(", ")) | \($h0.date | q | sub("T"; " ") | rtrimstr("Z")) | \(if $h0.bench then "bench \($h0.bench)\(if ($h0.params.quick // false) == true or $h0.params.quick == "true" then " --quick" else "" end)" else "`memsync \($h0.command | q | sub(" --out [^ ]*"; ""))`" end) | \($h0.loadavg["1min"] // null | if . == null then "?" else (. * 100 | round / 100) end) | \(feeds($f)) |"
     end)
