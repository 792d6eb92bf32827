# fuse-series.jq - shared by the fuse figures (a module: no .gp of its own;
# the statistics are plots/stats.jq's).
#   series   "fuse direct", "fuse managed" (with " 4k requests" when max_io
#            is set), or the approach's name
#   only($k) the record's options are among the keys $k (the side-by-side runs)
#   rtt      the RTT in ms of an rtt-Nms profile (name or path)
def series: if .approach == "fuse"
	then "fuse " + (.options.mount // "managed") + (if .options.max_io then " \(.options.max_io) requests" else "" end)
	else .approach end;
def only($k): (.options // {} | keys) - $k == [];
def rtt: .profile | capture("rtt-(?<n>[0-9]+)ms") | .n | tonumber;
