# paper/chromium.sh - headless Chromium for the paper (sourced by
# paper/build.sh and tests/test-paper-html.sh; not run by itself).
#
#   paper_chromium ARGS... URL   run Debian's chromium headless with a fresh
#                                profile (removed afterwards), no network
#                                services, no sandbox (we are root), at most
#                                $PAPER_CHROMIUM_TIMEOUT seconds (default 90)
#
# Chromium's chatter on stderr goes to $PAPER_CHROMIUM_LOG (default
# /dev/null); its exit status is returned.

# Run headless Chromium once with ARGS (the last one the page to load).
paper_chromium() {
	local profile rc=0
	profile=$(mktemp -d /tmp/memsync-chromium.XXXXXX)
	timeout "${PAPER_CHROMIUM_TIMEOUT:-90}" chromium --headless --no-sandbox --disable-gpu \
		--disable-quic --no-first-run --disable-background-networking \
		--disable-component-update --disable-sync --disable-dev-shm-usage \
		--hide-scrollbars --user-data-dir="$profile" "$@" 2>>"${PAPER_CHROMIUM_LOG:-/dev/null}" || rc=$?
	rm -rf "$profile"
	return $rc
}
