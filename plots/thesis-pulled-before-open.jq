# thesis-pulled-before-open.jq - nbd managed: data pulled before the device is ready vs pull workers, per RTT (VM lab) (stats.jq; records of harness/bench/thesis.sh, lab vm-tcg).
include "thesis-lib"; pulled_before_open("vm-tcg")
