# summary.jq - one row per approach (baselines first; an approach without
# no passed record has no row): first access and sequential/random read and write
# MB/s at 0 ms RTT (profiles local, rtt-0ms; loopback or emulated) and at
# 20 ms (wan, rtt-20ms), CPU seconds and bytes on the wire per GiB accessed
# (sequential read at 0 ms; wire only through the emulator), migration downtime, lines of C ($loc, counted by
# paper/build.sh). Each cell: the best configuration's median (min-max) and n
# (best(f)/least(f) and cell in plots/stats.jq).
include "stats";
def at0: select(.profile == "local" or .profile == "rtt-0ms");
def at20: select(.profile == "wan" or .profile == "rtt-20ms");
def net($a): $a != "memory" and $a != "disk";
[ .[] | passed ] as $p
| ["| approach | first access at 0 ms (us) | seq read MB/s, 0 ms | seq read, 20 ms | rand read, 0 ms | rand read, 20 ms | seq write, 0 ms | seq write, 20 ms | rand write, 0 ms | rand write, 20 ms | CPU s/GiB (seq read, 0 ms) | wire GB/GiB (seq read, 0 ms) | migration downtime (ms) | lines of C |",
   "|---|---|---|---|---|---|---|---|---|---|---|---|---|---:|"]
  + (["memory", "disk", "uffd", "delta", "fuse", "nbd"] | map(select(. as $a | $p | any(.approach == $a))) | map(. as $a
    | ($p | map(select(.approach == $a and .mode == "access"))) as $r
    | def tput($w; sel): $r | map(select(.workload == $w) | sel) | best(.throughput_mb_s) | cell;
      def tput20($w): if net($a) then tput($w; at20) else "(no network)" end;
      ($r | map(select(.workload == "seq-read") | at0)) as $sr
      | "| \($a) | \($r | map(select(.workload == "first-access") | at0) | least(.first_access_ns / 1000) | cell) | \(tput("seq-read"; at0)) | \(tput20("seq-read")) | \(tput("rand-read"; at0)) | \(tput20("rand-read")) | \(tput("seq-write"; at0)) | \(tput20("seq-write")) | \(tput("rand-write"; at0)) | \(tput20("rand-write")) | \($sr | map(.cpu_s.per_gib) | summary | cell) | \(if net($a) then ($sr | map(select(.netem != "none" and .bytes_read + .bytes_written > 0) | (.wire.bytes_in + .wire.bytes_out) / 1e9 / ((.bytes_read + .bytes_written) / 1073741824))) | summary | cell else "(no network)" end) | \($p | map(select(.approach == $a and .mode == "migrate") | .migration.downtime_s * 1000) | summary | cell) | \($loc[$a] // "-") |"))
| .[]
