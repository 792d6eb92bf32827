# thesis.jq - our measurements next to the figures the thesis reported
# (Pojtinger 2023, final figures; its "MB/s" were MiB/s, converted here to
# 10^6 B/s). The thesis column is the citation; ours comes from the records,
# like for like: over plain loopback (`--netem none`, no emulator in the
# path) and through the link emulator (netem driver user or tc), each the
# median (min-max) of the best configuration (options, size) and its n.
include "stats";
def loopback: map(select(.netem == "none"));
def emulated: map(select(.netem != "none"));
def zero_rtt: select(.profile == "local" or .profile == "rtt-0ms");
. as $all
| [ $all[] | passed ] as $p
| ($p | map(select(.approach == "uffd"))) as $u
| [
  ["memory: first access, 4 KiB (us)", "0.77 (767 ns)",
   ($p | map(select(.approach == "memory" and .workload == "first-access")) | best(.first_access_ns / 1000) | cell), "(no network)"],
  ["uffd: first access at 0 ms RTT (us)", "about 58",
   ($u | map(select(.workload == "first-access") | zero_rtt) | (loopback | best(.first_access_ns / 1000) | cell), (emulated | best(.first_access_ns / 1000) | cell))],
  ["uffd: sequential read at 0 ms RTT (MB/s)", "472 (450 MiB/s)",
   ($u | map(select(.mode == "access" and .workload == "seq-read") | zero_rtt) | (loopback | best(.throughput_mb_s) | cell), (emulated | best(.throughput_mb_s) | cell))],
  ["uffd: sequential read at 6 ms RTT (MB/s)", "below 1", "(needs a delay)",
   ($u | map(select(.mode == "access" and .workload == "seq-read" and .profile == "rtt-6ms")) | best(.throughput_mb_s) | cell)],
  ["uffd: sequential writes, tracked with WP (MB/s)", "not possible (read-only)",
   ($u | map(select(.mode == "access" and .workload == "seq-write") | zero_rtt) | (loopback | best(.throughput_mb_s) | cell), (emulated | best(.throughput_mb_s) | cell))],
  ["delta (mmap + hash push): sync after 1 % changed (s)", "not measured", "-",
   ($all | map(measured | select(.type == "delta-rsync" and .method == "delta-steady-4k" and .fraction == 0.01)) | best(.seconds) | cell)],
  ["migration downtime, pre-copy (delta, ms, all its runs)", "not measured", "-",
   ($p | map(select(.approach == "delta" and .mode == "migrate") | .migration.downtime_s * 1000) | summary | cell)],
  ["migration downtime, post-copy (uffd, ms, all its runs)", "not measured", "-",
   ($u | map(select(.mode == "migrate") | .migration.downtime_s * 1000) | summary | cell)]
  ]
| ["| measure | thesis | memsync, loopback (no emulator) | memsync, through the link emulator |", "|---|---:|---:|---:|"]
  + map("| \(.[0]) | \(.[1]) | \(.[2]) | \(.[3]) |")
| .[]
