# summary.jq - the approaches at a glance: one row per approach and mount
# style (memory, disk, uffd, delta, fuse direct/managed, nbd direct/managed)
# and lab (native first; rows of the VM lab, QEMU TCG, after them, labelled,
# never in a cell with native numbers): first access at 0 ms, sequential
# and random read and write MB/s (writes including the final sync) at 0 ms
# (profiles local, rtt-0ms; over plain loopback or through the emulator)
# and at 20 ms (wan, rtt-20ms; the nbd bench's nbd-20ms), CPU seconds per
# GiB (the runs of the 0 ms sequential-read cell), GB on the link per GiB
# accessed (the runs of the 20 ms sequential-read cell), migration downtime
# at 20 ms, and lines of C ($loc from paper/build.sh). Each cell is the best
# configuration's median (min-max) and n (paperlib.jq's col and pcell); a
# row with a cell of n < 5 is marked \* in its first column.
include "stats";
include "paperlib";
def cols: ["first0", "sr0", "sr20", "rr0", "rr20", "sw0", "sw20", "rw0", "rw20", "cpu", "wire", "down"];
def order: ["memory", "disk", "uffd", "delta", "fuse direct", "fuse managed", "nbd direct", "nbd managed"];
def net($side): $side != "memory" and $side != "disk";
[ .[] | passed ] as $p
| ($p | group_by([(lab != "native"), ((side as $s | order | index($s)) // 99), side, lab])) as $rows
| ["| approach | first access, 0 ms (us) | seq read MB/s, 0 ms | seq read, 20 ms | rand read, 0 ms | rand read, 20 ms | seq write incl. sync, 0 ms | seq write, 20 ms | rand write incl. sync, 0 ms | rand write, 20 ms | CPU s/GiB (seq read, 0 ms) | link GB/GiB (seq read, 20 ms) | migration downtime, 20 ms (ms) | lines of C |",
   "|---|---|---|---|---|---|---|---|---|---|---|---|---|---:|"]
  + ($rows | map(. as $g | ($g[0] | side) as $s | ($g[0] | lab) as $lab
      | (cols | map(. as $c | $g | col($c))) as $cells
      | [ $cells[] | if (.s.n > 0 and .s.n < 5) then 1 else empty end ] as $few
      | [ cols, $cells ] | transpose
      | map(. as [$c, $v] | if ($v.s.n == 0) and ($c | test("20$")) and (net($s) | not) then "(no network)"
                            elif ($v.s.n == 0) and $c == "wire" and (net($s) | not) then "(no network)"
                            else $v | pcell end)
      | "| **\($s)**\(if $lab != "native" then " [\($lab)]: \(nbd_lab_note)" else "" end)\(if ($few | length) > 0 then " \\*" else "" end) | \(join(" | ")) | \($loc[$g[0].approach] // "-") |"))
  + (if ($rows | length) == 0 then [] else
      ["", "*Each cell: the best configuration's median (min-max) over its runs and n (configuration: profile, link driver, size and options, as in the tables below);"
       + " \"lo\": over plain loopback (`--netem none`, no emulator in the path); † from a result file without a header record;"
       + " lines of C: `wc -l` of the approach's own `approaches/NAME/*.c` and `*.h` at the time this paper was built (comments, blank lines and its tools in that directory included;"
       + " `approaches/common`, shared by the NBD-based approaches: \($loc.common // "-") lines, not in any row).*"] end)
| .[]
