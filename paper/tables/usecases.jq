# usecases.jq - which approach to use, per use case, decided by a measured
# column of the summary table (paperlib.jq's col: the same cells): among
# the approaches that can serve the use case by construction (the
# candidates, with the reason), the one with the best median on native
# runs; VM-lab rows (QEMU TCG) are listed apart, never ranked against
# native ones. Delta vs rsync is decided by table delta-rsync's rows
# (median seconds to bring 1 GiB up to date, 1 % changed, per profile);
# TLS for untrusted peers by the thesis set's transport rows (sequential
# 1 MiB reads over loopback, TLS next to plain TCP, a UNIX socket, nbdkit).
include "stats";
include "paperlib";
def pull: ["uffd", "fuse direct", "fuse managed", "nbd direct", "nbd managed"];
def mounts: ["fuse direct", "fuse managed", "nbd direct", "nbd managed"];
def cases: [
  {use: "remote memory, read-mostly", col: "sr20", what: "seq read MB/s, 20 ms", max: true, cands: pull,
   why: "pull on demand, usable at once"},
  {use: "remote memory, read-mostly", col: "first0", what: "first access, 0 ms (us)", max: false, cands: pull,
   why: "pull on demand, usable at once"},
  {use: "a copy kept current at many destinations", col: "rw20", what: "rand write incl. sync MB/s, 20 ms", max: true,
   cands: ["delta"], why: "only delta pushes to many destinations (its hub); the others keep one remote copy"},
  {use: "moving a running writer", col: "down", what: "migration downtime, 20 ms (ms)", max: false,
   cands: ["uffd", "delta", "fuse managed", "fuse direct", "nbd managed", "nbd direct"],
   why: "post-copy (uffd), pre-copy (delta), two-phase (fuse, nbd)"},
  {use: "files and devices an unmodified program can open", col: "sr20", what: "seq read MB/s, 20 ms", max: true,
   cands: mounts, why: "a FUSE file, a block device /dev/nbdX"},
  {use: "files and devices an unmodified program can open", col: "sw20", what: "seq write incl. sync MB/s, 20 ms", max: true,
   cands: mounts, why: "a FUSE file, a block device /dev/nbdX"}
];
# A side's record groups -> {side, lab, v} for column $c.
def measured_sides($c): map({side: (.[0] | side), lab: (.[0] | lab), v: col($c)}) | map(select(.v.s.n > 0));
def ranked($max): sort_by(.v.s.median) | if $max then reverse else . end;
def name: "**\(.side)**" + (if .lab != "native" then " [\(.lab)]" else "" end);
[ .[] | passed ] as $p
| ($p | group_by([side, lab])) as $groups
| [ .[] | measured | select(.type == "delta-rsync" and .method != null and .fraction == 0.01) ] as $rs
| [ .[] | measured | select(.type == "transport") ] as $tr
| if ($p | length) == 0 and ($rs | length) == 0 and ($tr | length) == 0 then [] else
  (cases | map(. as $u
    | ($groups | map(select(.[0] | side as $s | $u.cands | index($s))) | measured_sides($u.col)) as $m
    | ($m | map(select(.lab == "native")) | ranked($u.max)) as $n
    | ($m | map(select(.lab != "native")) | ranked($u.max)) as $vm
    | "| \($u.use) | \($u.what) | \($u.cands | join(", ")): \($u.why) | \(if ($n | length) > 0 then ($n[0] | name) else "no native runs" end) | \($n[0].v // {s: {n: 0}} | pcell) | \($n[1:] | map("\(name) \(.v | pcell)") | join("; ") | if . == "" then "-" else . end) | \($vm | map("\(name) \(.v | pcell)") | join("; ") | if . == "" then "-" else . end) |"))
  + ($rs | group_by(.profile) | map(. as $g
    | ($g | group_by(.method) | map({m: .[0].method, v: {r: ., s: (map(.seconds * 1000) | summary)}}) | sort_by(.v.s.median)) as $ms
    | "| a copy kept current: bringing it up to date (1 % of 1 GiB changed, \($g[0].profile)) | time to sync (ms), table delta-rsync | \($ms | map(.m) | join(", ")): delta's push, rsync's daemon | **\($ms[0].m)** | \($ms[0].v | pcell) | \($ms[1:] | map("\(.m) \(.v | pcell)") | join("; ")) | - |"))
  + [[ $p[] | select(.options.tls == "psk" or .options.tls == "x509" or .options.hash == "sha256") ]
    | group_by([side, lab]) | map({side: (.[0] | side), lab: (.[0] | lab),
        v: (map(select(.mode == "access" and rtt_ms == 0)) | pick_max(wmbs))}) | map(select(.v.s.n > 0)) | ranked(true)
    | "| untrusted peers | best MB/s incl. sync at 0 ms with `-o tls=psk` or `x509`, or `-o hash=sha256` | the runs with TLS or SHA-256 chunk hashes | \(if length > 0 then (.[0] | name) else "no runs with TLS or SHA-256 in these results" end) | \(.[0].v // {s: {n: 0}} | pcell) | \(.[1:] | map("\(name) \(.v | pcell)") | join("; ") | if . == "" then "-" else . end) | - |"]
  + ([ .[] | measured | select(.type == "transport" and .metric == "seq_read_1m" and .profile == "local" and .mbps != null) ]
    | if length == 0 then [] else
      (group_by(.transport) | map({m: .[0].transport, v: {r: ., s: (map(.mbps) | summary)}})) as $t
      | ($t | map(select(.m | startswith("tls"))) | sort_by(.v.s.median) | reverse) as $tls
      | ["| untrusted peers: NBD over TLS (the client layer of the NBD-based approaches) | seq read MB/s over TLS, loopback (1 MiB, 16 in flight; thesis transport rows) | \($t | map(.m) | join(", ")): TLS with a pre-shared key or X.509 certificates next to plain TCP, a UNIX socket and nbdkit | \(if ($tls | length) > 0 then "**\($tls[0].m)**" else "no TLS runs" end) | \($tls[0].v // {s: {n: 0}} | pcell) | \($t - $tls[:1] | sort_by(.v.s.median) | reverse | map("\(.m) \(.v | pcell)") | join("; ") | if . == "" then "-" else . end) | - |"] end)
  | ["| use case | decided by | candidates: why | best (native runs) | its median (min-max) n | the others, best first | VM lab (TCG), not ranked with native |",
     "|---|---|---|---|---|---|---|"] + . end
| .[]
