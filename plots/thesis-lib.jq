# thesis-lib.jq - shared by the plots/thesis-*.jq figures (a module: no .gp of
# its own; the statistics are plots/stats.jq's). Records of
# harness/bench/thesis.sh carry "thesis": the experiment, and "lab": native
# or vm-tcg; every figure draws one lab only (thesis-NAME: native,
# thesis-NAME-vm: vm-tcg), so VM numbers never share an axis with native ones.
include "stats";
def ofx($x; $lab): select(.thesis == $x and (.lab // "native") == $lab);
# passed scenario records (no warm-ups) of experiment $x in $lab
def scen($x; $lab): .[] | passed | ofx($x; $lab);
# other rows (transport, nbd-start, backends, delta-rsync; no warm-ups)
def rows($x; $lab): .[] | measured | select(.type != "header") | ofx($x; $lab);
def rtt: (.profile // "" | capture("rtt-(?<n>[0-9]+)ms") | .n | tonumber) // null;
def who: if .approach == "fuse" or .approach == "nbd" then "\(.approach) \(.options.mount // "managed")"
	+ (if .options.max_io then ", \(.options.max_io) requests" else "" end) else .approach end;
# the 0 ms runs: loopback (--netem none, profile local) or through the emulator (rtt-0ms)
def link: if .profile == "rtt-0ms" then "emulated (rtt-0ms)" else "loopback (--netem none)" end;
def workers: .options.inflight // .options.pull_inflight;
def writer_mbit: .workload | (capture("(?<n>[0-9]+)mbit") | .n | tonumber) // 200;
def side: if .options.server_chunk then "remote (server_chunk)" else "local (chunk)" end;

def first_0ms($lab): [scen("first-0ms"; $lab) | [link, who, .first_access_ns / 1000]] | stats_table;
def first_rtt($lab): [scen("first-rtt"; $lab) | [who, rtt, .first_access_ns / 1e6]] | stats_table;
def first_workers($lab):
	[scen("first-workers"; $lab) | ["\(who), \(rtt) ms", workers, .first_access_ns / 1e6]] | stats_table;
def read_0ms($lab): [scen("read-0ms"; $lab) | [link, who, .throughput_mb_s]] | stats_table;
def read_rtt($lab): [scen("read-rtt"; $lab) | [who, rtt, .throughput_mb_s]] | stats_table;
def read_workers($lab): [scen("read-workers"; $lab) | ["\(who), \(rtt) ms", workers, .throughput_mb_s]] | stats_table;
def write_rtt($lab): [scen("write-rtt"; $lab) | [who, rtt, .throughput_with_sync_mb_s]] | stats_table;
def chunking($lab):
	[scen("chunking"; $lab) | ["\(who) \(side), \(rtt) ms", (.options.server_chunk // .options.chunk | kib), .throughput_mb_s]]
	| stats_table;
def migration($lab):
	[scen("migration"; $lab) | select(writer_mbit == 200) | [who, rtt, .migration.downtime_s * 1000]] | stats_table;
def migration_rate($lab):
	[scen("migration"; $lab) | select(.profile == "rtt-20ms") | [who, writer_mbit, .migration.downtime_s * 1000]]
	| stats_table;
def cost($lab): [scen("cost"; $lab) | [who, "\(.workload) \(.profile)", .cpu_s.per_gib]] | stats_table;
def cost_wire($lab):
	[scen("cost"; $lab) | [who, "\(.workload) \(.profile)", ((.wire.bytes_out + .wire.bytes_in) / 1e6 / (.size / 1073741824))]]
	| stats_table;
# measured time (with the final sync for writes) over the link limit RTT + size/rate
def efficiency($lab):
	[scen("efficiency"; $lab) | select(.link.limit_s > 0)
	 | [who, [.link.limit_s, "\(.profile) (limit \(.link.limit_s * 1000 | round) ms)"],
	    ((.elapsed_s + (if .bytes_written > 0 then .sync_s // 0 else 0 end)) / .link.limit_s)]]
	| stats_table;
# memsync-nbd start-time rows (VM lab)
def device_start($lab): [rows("device-start"; $lab) | select(.type == "nbd-start") | [.attach, .ready, .start_ns / 1e6]]
	| stats_table;
def pulled_before_open($lab):
	[rows("pulled-before-open"; $lab) | select(.type == "nbd-start")
	 | ["\(rtt) ms RTT", .pull_inflight, .pulled_before_ready / 1048576]] | stats_table;
# harness/bench/backends.sh rows: one value per run from their run lists
def backends($lab):
	[rows("backends"; $lab) | select(.metric == "throughput") | .runs_mbps[] as $v | ["\(.backend) \(.profile)", .workers, $v]]
	| stats_table;
def backends_first($lab):
	[rows("backends"; $lab) | select(.metric == "first_chunk") | .runs_ms[] as $v | [.profile, .backend, $v]] | stats_table;
# transport rows: one per run (the warm-up round left out)
def transport($lab):
	[rows("transport"; $lab) | select(.metric != "first_chunk") | [.transport, "\(.profile) \(.metric | gsub("_"; " "))", .mbps]] | stats_table;
def transport_first($lab):
	[rows("transport"; $lab) | select(.metric == "first_chunk") | [.profile, .transport, .seconds * 1000]] | stats_table;
# harness/bench/delta.sh's delta-rsync rows
def delta_rsync($lab):
	[rows("delta-rsync"; $lab) | select(.type == "delta-rsync")
	 | [.method, "\(.profile) \(.fraction * 100)% of \(.size / 1048576) MiB", .seconds]] | stats_table;
