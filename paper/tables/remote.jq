# remote.jq - memsync-serve vs nbdkit's memory plugin, same client, side by
# side in one run (harness/bench/remote.sh rows): median (min-max) over the
# repeats (runs_mbps of every row with the same key), n marked * below 5.
include "stats";
include "paperlib";
def runs: map(.runs_mbps // [.mbps]) | add // [] | summary;
[ .[] | measured | select(.bench == "remote" and .record == null and .type != "header" and .mbps != null) ]
| group_by([.profile, .client, .op, .pattern, .bs, .inflight, .nconn])
| ["| profile | client | op | pattern | request | in flight | conns | n | memsync MB/s | nbdkit MB/s | ratio of medians |",
   "|---|---|---|---|---:|---:|---:|---:|---:|---:|---:|"]
  + map(. as $g
    | ($g | map(select(.server == "memsync")) | runs) as $m
    | ($g | map(select(.server == "nbdkit")) | runs) as $k
    | "| \($g[0].profile)\($g | nohead) | \($g[0].client) | \($g[0].op) | \($g[0].pattern) | \($g[0].bs) | \($g[0].inflight) | \($g[0].nconn) | \([$m.n, $k.n] | min | {n: .} | nmark) | \($m | spread) | \($k | spread) | \(if $m.median and $k.median and $k.median > 0 then ($m.median / $k.median * 100 | round / 100) else "-" end) |")
| .[]
