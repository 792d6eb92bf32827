# thesis.jq - our measurements next to the figures the thesis reported,
# one row per thesis point ($thesis: paper/thesis-values.json, the cited
# values with the figure each comes from) and per side of ours it compares
# with (fuse and nbd both for its direct and managed mounts), like for like:
#   loopback   `--netem none`: no emulator in the path (RTT 0 only; device
#              starts, data pulled before ready without a profile or at
#              local, and the backends' and transports' local rows go here too)
#   emulator   through the link emulator at the thesis's RTT (local or
#              rtt-0ms for 0 ms)
# Each cell comes from the records of the row's own experiment (thesis-NAME.jsonl,
# "thesis": NAME) when there are any, else from every record (results without
# the thesis set): no pooling of one configuration across experiments.
# Each cell: the best configuration's median (min-max) and n (paperlib.jq's
# pcell; "workers: max" rows use the most pull requests in flight we ran,
# named in the cell; efficiency: the measured time, with the sync for
# writes, over the link's limit RTT + size/rate from the record's "link", as
# harness/bench/thesis.sh defines it). The thesis's "MB/s" were MiB/s: shown converted to
# 10^6 B/s with its number in parentheses. Rows of the VM lab (QEMU TCG; the
# nbd approach here) come after the native ones, never in one cell with them.
include "stats";
include "paperlib";
def kib4: . != null and ((tostring | ascii_downcase) as $s | $s == "4k" or $s == "4096");
def rtts: .rtt | if type == "array" then . elif . == null then [0] else [.] end;
def nonet($s): $s == "memory" or $s == "disk";
def count_workers: .options.pull_inflight // .options.inflight // .pull_inflight // .workers // null
  | if . == null then null else tonumber end;
# The thesis's value as printed: converted to MB/s when it was MiB/s.
def thesis_text:
  if .value == null then .rel
  else (if .rel == "=" then "" elif .rel == "~" then "~" else .rel + " " end) as $r
    | if .unit == "MiB/s" then "\($r)\(.value * 1.048576 | num) MB/s (\(.value) MiB/s)" else "\($r)\(.value) \(.unit)" end end;
# Records -> the ones with the query's worker count ("max": the most we ran), tagged.
def with_workers($q):
  if $q.workers == null then .
  elif $q.workers == "max" then (map(count_workers | select(. != null)) | max) as $w
    | map(select($w != null and count_workers == $w) | . + {wtag: " at \($w) in flight"})
  else map(select(count_workers == $q.workers)) end;
def wcell: pcell + (if .s.n > 0 then (.r[0].wtag // "") else "" end);
# Arrays of per-run numbers (runs_ms, runs_mbps) of records -> a cell.
def runs_cell(runs): {r: ., s: (map(runs) | add // [] | summary)} | wcell;
def kindsel($q):
  if $q.kind == "first" then map(select(.mode == "access" and .workload == "first-access"))
  elif $q.kind == "write" then map(select(.mode == "access" and .workload == "seq-write"))
  elif $q.kind == "migration" then map(select(.mode == "migrate" and .migration != null))
  elif $q.kind == "efficiency" then map(select(.mode == "access" and (.link.limit_s // 0) > 0))
  elif $q.kind == "chunk" then map(select(.mode == "access" and .workload == "seq-read"
    and (if $q.chunking == "remote" then (.options.server_chunk | kib4)
         else (.options.chunk | kib4) and ((.options.server_chunk // "0") | tostring) == "0" end)))
  else map(select(.mode == "access" and .workload == "seq-read")) end;
def kindpick($q; $div):
  if $q.kind == "first" then pick_min(.first_access_ns / $div)
  elif $q.kind == "write" then pick_max(wmbs)
  elif $q.kind == "migration" then pick_min(.migration.downtime_s * 1000)
  elif $q.kind == "cpu" then pick_max(.throughput_mb_s) | {r, s: (.r | map(.cpu_s.per_gib) | summary)}
  elif $q.kind == "efficiency" then pick_min((.elapsed_s + (if .bytes_written > 0 then .sync_s // 0 else 0 end)) / .link.limit_s)
  else pick_max(.throughput_mb_s) end;
# Scenario records of one side and lab -> [loopback cell, emulator cell].
def scenario($q; $u; $side):
  (if $u == "us" then 1000 elif $u == "ms" then 1e6 else 1 end) as $div
  | ($q | rtts) as $rt
  | map(select(rtt_ms as $r | $rt | index($r))) | kindsel($q) | with_workers($q)
  | [ (if $rt == [0] then map(select(.netem == "none")) | kindpick($q; $div) | wcell else "(needs a delay)" end),
      (if nonet($side) then "(no network)" else map(select(.netem != "none")) | kindpick($q; $div) | wcell end) ];
# The rows of one thesis point: [{side, lab, lo, em}], for every lab with data (else the expected one).
def ours($all; $p):
  .query as $q | .unit as $u | (.figure | ltrimstr("thesis-")) as $exp
  | ($p | map(select(.thesis == $exp))) as $own
  | (if $own == [] then $p else $own end) as $p
  | if ($q.sides // null) != null then
      [ $q.sides[] as $s | ($p | map(select(side == $s))) as $r
        | (($r | map(lab) | unique) as $l | if $l == [] then [if $s | startswith("nbd") then "vm-tcg" else "native" end] else $l end)[] as $lab
        | ($r | map(select(lab == $lab)) | scenario($q; $u; $s)) as [$lo, $em]
        | {side: $s, lab: $lab, lo: $lo, em: $em} ]
    elif $q.kind == "start" or $q.kind == "pulled" then
      ($all | map(measured | select(.type == "nbd-start" and .managed == ($q.kind == "pulled")
          and ($q.ready == null or .ready == $q.ready)
          and ((if .profile == null then 0 else rtt_ms end) as $t | $q | rtts | index($t))))) as $r
      | [ (($r | map(lab) | unique) as $l | if $l == [] then ["vm-tcg"] else $l end)[] as $lab
          | ($r | map(select(lab == $lab)) | with_workers($q)) as $g
          | def one: if $q.kind == "start" then {r: ., s: (map(.start_ns / 1e6) | summary)}
              else {r: ., s: (map(.pulled_before_ready / 1e6) | summary)} end | wcell;
            {side: "nbd", lab: $lab,
             lo: ($g | map(select(.profile == null or .profile == "local")) | one),
             em: ($g | map(select(.profile != null and .profile != "local")) | one)} ]
    elif $q.kind == "backend-first" or $q.kind == "backend-read" then
      ($all | map(measured | select(.bench == "backends" and .backend == $q.backend and .profile == "local"
          and .metric == (if $q.kind == "backend-first" then "first_chunk" else "throughput" end))) | with_workers($q)) as $r
      | [{side: "memsync-serve, \($q.backend) backend", lab: "native", em: "-",
          lo: (if $r == [] and $q.backend == "cassandra" then "no Debian package: not measured"
               elif $q.kind == "backend-first" then $r | runs_cell(.runs_ms // [.first_chunk_ms] | map(. * 1000))
               else $r | runs_cell(.runs_mbps // [.mbps]) end)}]
    elif $q.kind == "transport" then
      # harness/bench/thesis.sh's transport rows: one per run, metric seq_read_1m (MB/s).
      ($all | map(measured | select(.type == "transport" and .metric == $q.metric and .mbps != null))) as $r
      | def per_transport: group_by(.transport) | map("\(.[0].transport) \({r: ., s: (map(.mbps) | summary)} | pcell)")
          | join("; ") | if . == "" then "-" else . end;
        [{side: "memsync-remote-bench per transport", lab: "native",
          lo: ($r | map(select(.profile == "local")) | per_transport),
          em: ($r | map(select(.profile != "local" and rtt_ms == 0)) | per_transport)}]
    elif $q.kind == "delta-rsync" then
      ($all | map(measured | select(.type == "delta-rsync" and .method != null and .fraction == $q.fraction))) as $r
      | [ ($r | group_by(.profile))[] as $g
          | {side: "delta vs rsync, profile \($g[0].profile)", lab: "native", lo: "-",
             em: ($g | group_by(.method) | map({m: .[0].method, c: ({r: ., s: (map(.seconds * 1000) | summary)})})
                  | sort_by(.c.s.median) | map("\(.m) \(.c | pcell)") | join("; "))} ]
      | if . == [] then [{side: "delta vs rsync", lab: "native", lo: "-", em: "-"}] else . end
    else error("thesis.jq: no kind \($q.kind)") end;
. as $all
| [ $all[] | passed ] as $p
| [ $thesis.rows[] | . as $t | ours($all; $p)[] | . + {t: $t} ]
| (map(select(.lab == "native")) | map(. as $o
    | "| `\($o.t.figure)` | \($o.t.from) | \($o.t.what) | \($o.t | thesis_text) | \($o.side) | \($o.lo) | \($o.em) |")) as $native
| (map(select(.lab != "native")) | map(. as $o
    | "| `\($o.t.figure)` | \($o.t.from) | \($o.t.what) | \($o.t | thesis_text) | \($o.side) [\($o.lab)] | \($o.lo) | \($o.em) |")) as $vm
| ["| thesis figure | thesis measure | point | thesis | ours | ours, loopback (no emulator) | ours, through the link emulator |",
   "|---|---|---|---:|---|---:|---:|"]
  + $native
  + (if $vm == [] then [] else ["| **VM lab** | \(nbd_lab_note) | | | | | |"] + $vm end)
| .[]
