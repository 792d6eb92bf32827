# stats.jq - the one statistics convention of every figure and table
# (plots/*.jq and paper/tables/*.jq: include "stats"; run with -L plots).
#
# A point is the median of its repetitions, its spread min-max, and n the
# number of repetitions; warm-up runs ("warmup": true) never count.
#
#   measured          the records that count: not warm-ups
#   passed            scenario records that passed and count
#   median            of an array of numbers (mean of the middle two when even;
#                     nulls dropped, null when none is left)
#   summary           array of numbers -> {median, min, max, n} (nulls dropped)
#   stats_table       [[series, case, value], ...], one triple per run ->
#                     TSV: "case", then per series 4 columns "S", "S min",
#                     "S max", "S n"; one row per case (sorted; numbers sort
#                     numerically; a case [key, label] sorts by key and prints
#                     the label); a missing point is NaN with n 0. This is
#                     what plots/style.gp's series helpers read.
#   num               a number for a table: 3 significant-ish digits, "-" for null
#   spread            {median, min, max} -> "median (min-max)"
#   nmark             {n} -> "n", marked "n \\*" (markdown for "n *") when n < 5
#   opts              an options object -> "k=v k=v"
#   best(f), least(f) records -> summary of f over the configuration (size and
#                     options) with the highest / lowest median ({n: 0} if none)
#   cell              a summary -> "median (min-max) n=N" for a table cell, "no runs"
#   kib               a size option ("4k", "1m", "65536") -> KiB, a number (so
#                     that chunk sizes sort as numbers, not as text)

def measured: select(.warmup != true);
def passed: select(.type == "scenario" and .status == "pass" and .warmup != true);

def median:
  map(select(. != null)) | sort | length as $n
  | if $n == 0 then null
    elif $n % 2 == 1 then .[($n - 1) / 2]
    else (.[$n / 2 - 1] + .[$n / 2]) / 2 end;

def summary:
  map(select(. != null))
  | {median: median, min: min, max: max, n: length};

def stats_table:
  (map(.[0]) | unique) as $series
  | (map(.[1]) | unique) as $cases
  | (reduce .[] as $r ({}; .[$r[1] | tostring][$r[0] | tostring] += [$r[2]])) as $m
  | (["case"] + [$series[] | tostring | ., "\(.) min", "\(.) max", "\(.) n"] | @tsv),
    ($cases[] as $c
     | [$c | if type == "array" then .[-1] else . end] + [$series[] as $s
               | ($m[$c | tostring][$s | tostring] // [] | summary)
               | (.median // "NaN"), (.min // "NaN"), (.max // "NaN"), .n]
     | @tsv);

def num:
  if . == null then "-"
  elif (. | fabs) >= 100 then (round | tostring)
  elif (. | fabs) >= 10 then (. * 10 | round / 10 | tostring)
  elif (. | fabs) >= 0.1 then (. * 100 | round / 100 | tostring)
  else (. * 10000 | round / 10000 | tostring) end;

def spread:
  if .n == 0 or .median == null then "-"
  elif .n == 1 or .min == .max then (.median | num)
  else "\(.median | num) (\(.min | num)-\(.max | num))" end;

def nmark: if .n < 5 then "\(.n) \\*" else "\(.n)" end;

def opts: (. // {}) | to_entries | map("\(.key)=\(.value)") | join(" ");

def best(f): group_by([.size, (.options | tostring)]) | map(map(f) | summary) | max_by(.median) // {n: 0};
def least(f): group_by([.size, (.options | tostring)]) | map(map(f) | summary) | min_by(.median) // {n: 0};
def cell: if .n == 0 then "no runs" else "\(spread) n=\(nmark)" end;
def kib: ascii_downcase | if endswith("k") then .[:-1] | tonumber elif endswith("m") then .[:-1] | tonumber * 1024
  else tonumber / 1024 end;
