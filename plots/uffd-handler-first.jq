# uffd-handler-first.jq - uffd first-access latency, median over runs (ms),
# one row per profile, one column per handler mode.
include "pivot";
[ .[] | select(.type == "scenario" and .approach == "uffd" and .status == "pass" and .mode == "access"
        and .options.handler != null and .workload == "first-access") ]
| group_by([.options.handler, .profile])
| map((map(.first_access_ns) | sort) as $v
      | [ ("handler=" + .[0].options.handler), .[0].profile, ($v[(($v | length) / 2 | floor)] / 1e6) ])
| pivot
