# thesis.jq - our measurements next to the figures the thesis reported
# (Pojtinger 2023, final figures; its "MB/s" were MiB/s, converted here to
# 10^6 B/s). The thesis column is the citation; ours comes from the records.
def med: sort | if length == 0 then null else .[(length / 2 | floor)] end;
def pass: select(.type == "scenario" and .status == "pass");
def best_mean($rows): $rows | group_by([.profile, .netem, .size, (.options | tostring)])
  | map(map(.throughput_mb_s) | add / length) | max;
def fmt: if . == null then "no runs in these results" else (. * 10 | round / 10 | tostring) end;
. as $all
| [ $all[] | pass ] as $p
| [
  ["memory: first access, 4 KiB (us)", "0.77 (767 ns)",
   ($p | map(select(.approach == "memory" and .workload == "first-access") | .first_access_ns / 1000) | med)],
  ["uffd: first access at 0 ms RTT (us)", "about 58",
   ($p | map(select(.approach == "uffd" and .workload == "first-access" and (.profile == "local" or .profile == "rtt-0ms")) | .first_access_ns / 1000) | med)],
  ["uffd: sequential read at 0 ms RTT (MB/s)", "472 (450 MiB/s)",
   best_mean([ $p[] | select(.approach == "uffd" and .mode == "access" and .workload == "seq-read" and (.profile == "local" or .profile == "rtt-0ms")) ])],
  ["uffd: sequential read at 6 ms RTT (MB/s)", "below 1",
   best_mean([ $p[] | select(.approach == "uffd" and .mode == "access" and .workload == "seq-read" and .profile == "rtt-6ms") ])],
  ["uffd: sequential writes, tracked with WP (MB/s)", "not possible (read-only)",
   best_mean([ $p[] | select(.approach == "uffd" and .mode == "access" and .workload == "seq-write") ])],
  ["delta (mmap + hash push): sync after 1 % changed (s)", "not measured",
   ($all | map(select(.type == "delta-rsync" and .method == "delta-steady-4k" and .fraction == 0.01) | .seconds) | med)],
  ["migration downtime, pre-copy (delta, ms, median of all its runs)", "not measured",
   ($p | map(select(.approach == "delta" and .mode == "migrate") | .migration.downtime_s * 1000) | med)],
  ["migration downtime, post-copy (uffd, ms, median of all its runs)", "not measured",
   ($p | map(select(.approach == "uffd" and .mode == "migrate") | .migration.downtime_s * 1000) | med)]
  ]
| ["| measure | thesis | memsync (these results) |", "|---|---:|---:|"]
  + map("| \(.[0]) | \(.[1]) | \(.[2] | fmt) |")
| .[]
