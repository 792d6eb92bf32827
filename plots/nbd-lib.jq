# nbd-lib.jq - shared by the nbd-* figures and by the figures that must keep
# VM-lab records out (a module: no .gp of its own; statistics: stats.jq).
#   with_lab    the slurped records, in order, each with "lab" where it ran:
#               its own "lab" (the nbd bench sets vm-tcg or native), else
#               "vm-<vm>" when the run header before it says VM lab (header
#               "vm" other than "none", or a QEMU CPU), else none (native).
#               Slurped files lose their boundaries: a file without a header
#               would take the last header of the file before it, so
#               plots/render.sh labels each file's records first (file_labels).
#   file_labels every record of the input files (jq -n, not slurped), with
#               "lab" set as with_lab does, from its own file's header only
#   native      keeps the records that did not run in a VM lab
#   nbd_bench   passed scenario records of harness/bench/nbd.sh (with a lab)
#   one_lab     an array of records -> those of one lab: vm-tcg when it has
#               records (the nbd bench runs there), else the first lab; a
#               figure never puts two labs on one axis
#   nbd_rtt     the RTT in ms of an nbd-Nms profile (name or path), or null
#   nbd_series  "nbd-direct", "nbd-managed", "fuse-...", or the approach,
#               with the lab in brackets: "nbd-managed [vm-tcg]"
def header_vm: .vm // (if (.cpu_model // "" | test("QEMU")) then "tcg" else "none" end);
def with_lab:
  foreach .[] as $r ("none";
    if $r.type == "header" or $r.record == "header" then $r | header_vm else . end;
    if $r.lab == null and . != "none" and $r.type != "header" then $r + {lab: "vm-\(.)"} else $r end);
def file_labels:
  foreach inputs as $r ({file: null, vm: "none"};
    (if input_filename != .file then {file: input_filename, vm: "none"} else . end)
    | if $r.type == "header" or $r.record == "header" then .vm = ($r | header_vm) else . end;
    if $r.lab == null and .vm != "none" and $r.type != "header" then $r + {lab: "vm-\(.vm)"} else $r end);
# A record of a file-backed approach measured before the workload's msync
# was timed (2026-12-02): a write run whose sync_s left the msync out (no
# flush_s), or a migration whose downtime started after it (no
# migration.source_flush_ns). Its numbers are too good: never shown.
def stale_sync: .type == "scenario" and (.approach | IN("delta", "fuse", "nbd", "disk"))
  and ((.mode == "migrate" and .migration != null and .migration.source_flush_ns == null)
       or (.mode == "access" and (.bytes_written // 0) > 0 and .flush_s == null));
def native: select((.lab // "native") == "native");
def nbd_bench: with_lab | select(.type == "scenario" and .status == "pass" and .lab != null and .warmup != true);
def one_lab: (map(.lab) | unique) as $l
  | (if $l | index(["vm-tcg"]) then "vm-tcg" else $l[0] end) as $pick
  | map(select(.lab == $pick));
def nbd_rtt: (.profile | capture("nbd-(?<n>[0-9]+)ms") | .n | tonumber) // null;
def nbd_series: (if .approach == "nbd" or .approach == "fuse" then "\(.approach)-\(.options.mount // "managed")"
                 else .approach end) + " [\(.lab)]";
