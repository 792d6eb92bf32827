# thesis-cost-wire.jq - bytes on the emulated wire (both ways) per GiB of region per approach (stats.jq; records of harness/bench/thesis.sh, lab native).
include "thesis-lib"; cost_wire("native")
