# pivot.jq - shared by bar-chart figures: turns [[series, case, value], ...]
# into a tab-separated table with a header row ("case", series...) and one
# row per case; missing cells are NaN. Use: include "pivot"; ... | pivot
def pivot:
  (map(.[0]) | unique) as $series
  | (map(.[1]) | unique) as $cases
  | (reduce .[] as $r ({}; .[$r[1]][$r[0]] = $r[2])) as $m
  | (["case"] + $series | @tsv),
    ($cases[] as $c | [$c] + [$series[] as $s | ($m[$c][$s] // "NaN")] | @tsv);
