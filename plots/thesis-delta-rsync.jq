# thesis-delta-rsync.jq - time to sync a change set: delta (steady-state cycle, one-shot push) vs rsync, per profile and fraction changed (stats.jq; records of harness/bench/thesis.sh, lab native).
include "thesis-lib"; delta_rsync("native")
