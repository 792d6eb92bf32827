#!/usr/bin/env bash
# The approach contract as the harness enforces it: requires_approach skips
# (77) an approach that is not built or unsupported here, with the reason;
# a scenario that needs a capability the approach lacks is a skip record
# with the reason; -o keys no selected approach lists are refused (exit 2)
# before anything starts.
. "$(dirname "$0")/functions.sh"
requires jq

# requires_approach, run in a child shell that sources functions.sh.
try_requires() { # BUILD_DIR NAME -> prints the exit code and the output
	local rc=0 out
	out=$(MEMSYNC_BUILD=$1 bash -c '. "$MEMSYNC_SRC/tests/functions.sh"; requires_approach "$0"; echo present' "$2" 2>&1) ||
		rc=$?
	echo "$rc $out"
}
res=$(try_requires "$MEMSYNC_BUILD" memory)
[ "$res" = "0 present" ] || fail "requires_approach memory: $res"
res=$(try_requires "$MEMSYNC_BUILD" nosuch)
[[ $res == "77 SKIP: approach nosuch: not in this build" ]] || fail "requires_approach nosuch: $res"
# A build whose `memsync list` says an approach is unsupported (as for fuse
# built without libfuse3): a fake memsync prints that listing.
fake=$TMPDIR_TEST/fakebuild
mkdir -p "$fake"
cat >"$fake/memsync" <<'SH'
#!/bin/sh
cat <<'LIST'
approaches:
  memory   baseline: local anonymous memory, no network [write]
  fuse     libfuse3 file mapped with mmap [write] [network]
           unsupported here: built without libfuse3 (install libfuse3-dev, rebuild)
  nbd      kernel NBD client [write] [network]
LIST
SH
chmod +x "$fake/memsync"
res=$(try_requires "$fake" fuse)
[[ $res == "77 SKIP: approach fuse: built without libfuse3 (install libfuse3-dev, rebuild)" ]] ||
	fail "requires_approach on an unsupported approach: $res"
res=$(try_requires "$fake" nbd)
[ "$res" = "0 present" ] || fail "requires_approach on a supported approach after an unsupported one: $res"
res=$(try_requires "$fake" memory)
[ "$res" = "0 present" ] || fail "requires_approach memory (fake list): $res"

# A migration needs CAP_MIGRATE: the baselines are skipped with the reason, exit 0.
out=$TMPDIR_TEST/mig.jsonl
memsync run -q --migrate -a memory,disk -w migrate-writer -s 4M --out "$out" 2>/dev/null || fail "skip run failed"
jq -e -s '[.[] | select(.type == "scenario")] | length == 2 and all(.status == "skip" and .verified == false
	and (.reason | test("approach (memory|disk) does not implement migration")))' "$out" >/dev/null ||
	fail "no skip records with a reason: $(cat "$out")"

# -o keys: refused when no selected approach lists them, naming key and approaches.
expect_fail 2 "option 'chnk' is not known to any selected approach \(memory, disk; see \`memsync help memory\`\)" \
	memsync run -a memory,disk -o chnk=1m --out "$TMPDIR_TEST/x.jsonl"
[ ! -e "$TMPDIR_TEST/x.jsonl" ] || fail "a refused run wrote results"
echo "contract: requires_approach skips with the reason; capability skips recorded; unknown -o keys refused"
