# paperlib.jq - what the paper's tables share on top of plots/stats.jq (a
# module, not a table: no paper.md slot names it). Tables run with
# -L plots -L paper/tables and say: include "stats"; include "paperlib";
#
#   rtt_ms         the RTT (ms) of a record's profile (name or path): local and
#                  rtt-0ms 0, rtt-Nms and the nbd bench's nbd-Nms N, wan 20;
#                  null for the others (lan, lossy, ...)
#   lab            where a record ran: its "lab" field (the nbd bench: vm-tcg
#                  or native), else native; labtag: " [vm-tcg]" for a row
#                  label, nothing for native
#   side           the approach, with the mount style for fuse and nbd
#                  ("fuse direct", "nbd managed"; managed is their default)
#   workers        background pull requests in flight of a record (nbd
#                  pull_inflight, fuse inflight, uffd inflight), a number or null
#   wmbs           write MB/s including the final sync (scenario records)
#   pick_max(f), pick_min(f)
#                  records -> {r, s}: the configuration (profile, link driver,
#                  size, options, lab) whose median of f is highest / lowest,
#                  its records r and their summary s ({r: [], s: {n: 0}} if none)
#   col($id)       scenario records of one side and lab -> {r, s} of a summary
#                  column: first0 (first access at 0 ms, us), sr0 sr20 rr0
#                  rr20 (seq/rand read MB/s at 0/20 ms), sw0 sw20 rw0 rw20
#                  (writes incl. sync), cpu (CPU s/GiB of sr0's runs), wire (GB
#                  on the link per GiB accessed, sr20's runs), down (migration
#                  downtime at 20 ms, ms)
#   pcell          {r, s} -> a table cell: "median (min-max) n=N", with "lo"
#                  when the runs went over plain loopback (--netem none), the
#                  profile when its RTT is not 0 (wan and rtt-20ms differ in rate), the
#                  writer workload for a migration, the approach options other
#                  than mount ("[dirty=pagemap]"), † when a run came from a file
#                  without a header record and \* when n < 5; "-" without runs
#   nohead         records -> " †" if one came from a result file without a
#                  header record (paper/build.sh marks them "_noheader")
#   nbd_lab_note   the label of a VM-lab row
include "stats";

def rtt_ms:
  (.profile // "" | tostring | split("/") | (last // "") | sub("\\.conf$"; "")) as $p
  | if $p == "local" then 0 elif $p == "wan" then 20
    else ($p | capture("^(rtt|nbd)-(?<n>[0-9]+)ms$") | .n | tonumber) // null end;

def lab: .lab // "native";
def labtag: if lab == "native" then "" else " [\(lab)]" end;

def side: if .approach == "fuse" or .approach == "nbd"
  then "\(.approach) \(.options.mount // "managed")" else .approach end;

def workers: (.options.pull_inflight // .options.inflight // null) | if . == null then null else tonumber end;

def wmbs: .throughput_with_sync_mb_s // .throughput_mb_s;

def configs: group_by([.workload, .profile, .netem, .size, (.options | tostring), lab]);
def picked: map({r: ., s: (map(.v) | summary)}) | map(select(.s.n > 0));
def strip: {r: (.r | map(del(.v))), s};
def pick_max(f): configs | map(map(. + {v: f})) | picked | (max_by(.s.median) // {r: [], s: {n: 0}}) | strip;
def pick_min(f): configs | map(map(. + {v: f})) | picked | (min_by(.s.median) // {r: [], s: {n: 0}}) | strip;

def access($w; $rtt): map(select(.mode == "access" and .workload == $w and rtt_ms == $rtt));
def wire_per_gib: (.wire.bytes_in + .wire.bytes_out) / 1e9 / ((.bytes_read + .bytes_written) / 1073741824);

def col($id):
  if $id == "first0" then access("first-access"; 0) | pick_min(.first_access_ns / 1000)
  elif $id == "sr0" then access("seq-read"; 0) | pick_max(.throughput_mb_s)
  elif $id == "sr20" then access("seq-read"; 20) | pick_max(.throughput_mb_s)
  elif $id == "rr0" then access("rand-read"; 0) | pick_max(.throughput_mb_s)
  elif $id == "rr20" then access("rand-read"; 20) | pick_max(.throughput_mb_s)
  elif $id == "sw0" then access("seq-write"; 0) | pick_max(wmbs)
  elif $id == "sw20" then access("seq-write"; 20) | pick_max(wmbs)
  elif $id == "rw0" then access("rand-write"; 0) | pick_max(wmbs)
  elif $id == "rw20" then access("rand-write"; 20) | pick_max(wmbs)
  elif $id == "cpu" then col("sr0") | .r | {r: ., s: (map(.cpu_s.per_gib) | summary)}
  elif $id == "wire" then col("sr20") | .r
    | map(select(.netem != "none" and .wire != null and .bytes_read + .bytes_written > 0))
    | {r: ., s: (map(wire_per_gib) | summary)}
  elif $id == "down" then map(select(.mode == "migrate" and .migration != null and rtt_ms == 20))
    | pick_min(.migration.downtime_s * 1000)
  else error("paperlib: no column \($id)") end;

def nohead: if any(.[]; ._noheader == true) then " †" else "" end;

# " [k=v,...]": a record's approach options other than mount (the row names the mount).
def opts_tag: (.options // {}) | if type == "object" then del(.mount) | to_entries
  | map("\(.key)=\(.value)") | join(",") | if . == "" then "" else " [\(.)]" end else "" end;
def pcell:
  if .s.n == 0 then "-"
  else "\(.s | spread)\(if .r[0].netem == "none" then " lo" elif (.r[0] | rtt_ms // 0) > 0 then " \(.r[0].profile | split("/") | last | sub("\\.conf$"; ""))" else "" end)\(if .r[0].mode == "migrate" then " (\(.r[0].workload))" else "" end)\(.r[0] | opts_tag)\(.r | nohead) n=\(.s | nmark)" end;

def nbd_lab_note: "VM lab (QEMU TCG), compared only with VM-lab rows";
