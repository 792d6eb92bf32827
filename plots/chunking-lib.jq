# chunking-lib.jq - shared by the chunking-* figures (a module: no .gp of its
# own; statistics: stats.jq). The "chunking" rows of harness/bench/chunking.sh.
#   chunking_rows   the rows that count (not warm-ups)
#   strategy_order  a stats_table (TSV lines) -> the same with its series in
#                   the order fixed-4k, fixed-64k, fixed-1m, cdc-4k, cdc-16k,
#                   cdc-64k, rsync (others after them, by name)
include "stats";
def chunking_rows: .[] | select(.type == "chunking") | measured;
def strategy_order:
  ["fixed-4k", "fixed-64k", "fixed-1m", "cdc-4k", "cdc-16k", "cdc-64k", "rsync"] as $order
  | [ .[] | split("\t") ] as $t
  | ([ range(1; $t[0] | length; 4) ] | sort_by($t[0][.] as $s | [($order | index([$s])) // 99, $s])) as $cols
  | $t[] | [ .[0] ] + [ . as $r | $cols[] | $r[. : . + 4][] ] | join("\t");
