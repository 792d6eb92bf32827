# remote.jq - memsync-serve vs nbdkit's memory plugin, same client, side by
# side in one run (harness/bench/remote.sh rows; median of the repeats, mean
# over runs when several result files hold the row).
[ .[] | select(.bench == "remote" and .record == null and .mbps != null) ]
| group_by([.profile, .client, .op, .pattern, .bs, .inflight, .nconn])
| ["| profile | client | op | pattern | request | in flight | conns | memsync MB/s | nbdkit MB/s | ratio |",
   "|---|---|---|---|---:|---:|---:|---:|---:|---:|"]
  + map(. as $g
    | ($g | map(select(.server == "memsync") | .mbps)) as $m
    | ($g | map(select(.server == "nbdkit") | .mbps)) as $k
    | (if ($m | length) > 0 then ($m | add / length) else null end) as $mm
    | (if ($k | length) > 0 then ($k | add / length) else null end) as $kk
    | "| \($g[0].profile) | \($g[0].client) | \($g[0].op) | \($g[0].pattern) | \($g[0].bs) | \($g[0].inflight) | \($g[0].nconn) | \(if $mm then ($mm | floor) else "-" end) | \(if $kk then ($kk | floor) else "-" end) | \(if $mm and $kk and $kk > 0 then ($mm / $kk * 100 | round / 100) else "-" end) |")
| .[]
