# nbd-lib.jq - shared by the nbd-* figures: records of harness/bench/nbd.sh
# (they carry "lab": vm-tcg or native), the RTT of its profiles, series names.
def nbd_bench: .[] | select(.type == "scenario" and .status == "pass" and .lab != null and .warmup != true);
def nbd_rtt: (.profile | capture("nbd-(?<n>[0-9]+)ms") | .n | tonumber) // null;
def nbd_series: (if .approach == "nbd" or .approach == "fuse" then "\(.approach)-\(.options.mount // "managed")"
                 else .approach end) + " [\(.lab)]";
def mean(f): (map(f) | add) / length;
# pivot (pivot.jq) for numeric cases (RTT, requests in flight): sorted as numbers.
def npivot:
  (map(.[0]) | unique) as $series
  | (map(.[1]) | unique) as $cases
  | (reduce .[] as $r ({}; .[$r[1] | tostring][$r[0]] = $r[2])) as $m
  | (["case"] + $series | @tsv),
    ($cases[] as $c | [$c] + [$series[] as $s | ($m[$c | tostring][$s] // "NaN")] | @tsv);
