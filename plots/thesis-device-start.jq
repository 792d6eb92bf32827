# thesis-device-start.jq - nbd device start time, readiness by sysfs polling vs uevents, netlink and ioctl attach (VM lab) (stats.jq; records of harness/bench/thesis.sh, lab vm-tcg).
include "thesis-lib"; device_start("vm-tcg")
