#!/usr/bin/env bash
# test-paper-html.sh - the paper as a reader gets it: build it from the
# committed reference results (paper/build.sh: md, html, pdf), open
# paper.html in headless Chromium with a check script added, and require
# that every figure loaded (natural width > 0), every table has rows, and no
# "no data" placeholder is left for the reference results. Keeps a
# full-page screenshot in paper/out/paper.png. Skips (77) only when
# Chromium cannot be installed.
#
# The "no placeholder" check applies to every section whose data is in
# results/reference. The slots in PENDING below are sections whose
# experiments are not in results/reference yet; a placeholder is allowed
# there and nowhere else (a slot outside the list without data fails, as a
# broken extractor would). When the reference gets their data, a pending
# slot that now renders is reported: take it off the list.
. "$(dirname "$0")/functions.sh"
requires jq gnuplot
src=$MEMSYNC_SRC
out=$src/paper/out

# Slots ("figure NAME", "table NAME"; globs) without data in results/reference, and why.
PENDING=(
)
# Whether slot $1 is in PENDING.
pending() {
	local p
	for p in "${PENDING[@]}"; do
		# shellcheck disable=SC2053 # a glob on purpose
		[[ $1 == $p ]] && return 0
	done
	return 1
}

# Chromium and pandoc are Debian packages: install them when missing.
if ! command -v chromium >/dev/null || ! command -v pandoc >/dev/null; then
	[ "$(id -u)" = 0 ] || skip "chromium/pandoc missing and not root to install them"
	apt-get install -y -o DPkg::Lock::Timeout=120 chromium pandoc >"$TMPDIR_TEST/apt.log" 2>&1 ||
		skip "chromium/pandoc cannot be installed: $(tail -2 "$TMPDIR_TEST/apt.log")"
fi

"$src/paper/build.sh" "$src/results/reference" >"$TMPDIR_TEST/build.log" 2>&1 ||
	fail "paper/build.sh results/reference: $(tail -5 "$TMPDIR_TEST/build.log")"
for f in paper.md paper.html paper.pdf; do
	[ -s "$out/$f" ] || fail "paper/out/$f missing or empty"
done
[ "$(head -c 5 "$out/paper.pdf")" = "%PDF-" ] || fail "paper.pdf is not a PDF"
# Placeholders: only in pending slots, and every placeholder names its slot.
placeholders=$(grep -c 'class="nodata"' "$out/paper.md" || true)
slots=$(sed -n 's/.*class="nodata" data-slot="\([^"]*\)".*/\1/p' "$out/paper.md")
[ "$(grep -c . <<<"$slots" || true)" = "$placeholders" ] || fail "a placeholder in paper.md without its data-slot"
bad=() pend_fig=0 pend_tab=0
while IFS= read -r slot; do
	[ -n "$slot" ] || continue
	if pending "$slot"; then
		case $slot in figure\ *) pend_fig=$((pend_fig + 1)) ;; *) pend_tab=$((pend_tab + 1)) ;; esac
	else
		bad+=("$slot")
	fi
done <<<"$slots"
[ ${#bad[@]} = 0 ] || fail "placeholders left in paper.md for the reference results: ${bad[*]}"
while IFS= read -r slot; do
	if pending "$slot" && ! grep -qxF "$slot" <<<"$slots"; then
		echo "note: pending slot '$slot' has data in results/reference now: take it off PENDING in $0"
	fi
done <<<"$(sed -n 's/^<!-- \(figure\|table\): \([a-z0-9-]*\) -->$/\1 \2/p' "$src/paper/paper.md")"
echo "placeholders: $pend_fig figure(s) and $pend_tab table(s), all in pending sections (no data in results/reference yet)"
figures=$(($(grep -c '^<!-- figure: ' "$src/paper/paper.md") - pend_fig))
tables=$(($(grep -c '^<!-- table: ' "$src/paper/paper.md") - pend_tab))

# The check runs in the page once it has loaded and writes one line into it.
cat >"$TMPDIR_TEST/check.js" <<'EOF'
<script>
window.addEventListener('load', function () {
	var imgs = Array.from(document.images);
	var broken = imgs.filter(function (i) { return !i.complete || i.naturalWidth === 0; })
		.map(function (i) { return i.alt || 'image'; });
	var tables = Array.from(document.querySelectorAll('table'));
	var empty = tables.filter(function (t) { return t.querySelectorAll('tbody tr').length === 0; }).length;
	var line = document.createElement('pre');
	line.id = 'memsync-check';
	line.textContent = 'CHECK images=' + imgs.length + ' broken=' + broken.length +
		' tables=' + tables.length + ' empty=' + empty +
		' nodata=' + document.querySelectorAll('.nodata').length +
		' height=' + document.documentElement.scrollHeight + ' END broken: ' + broken.join('; ') +
		' NODATA: ' + Array.from(document.querySelectorAll('.nodata')).map(function (e) {
			return e.getAttribute('data-slot') || '(unnamed)'; }).join('; ');
	document.body.appendChild(line);
});
</script>
EOF
sed '/<\/body>/e cat '"$TMPDIR_TEST/check.js" "$out/paper.html" >"$TMPDIR_TEST/check.html"
. "$src/paper/chromium.sh"
PAPER_CHROMIUM_LOG=$TMPDIR_TEST/chromium.log paper_chromium --virtual-time-budget=10000 --dump-dom \
	"file://$TMPDIR_TEST/check.html" >"$TMPDIR_TEST/dom.html" ||
	fail "chromium --dump-dom failed: $(tail -3 "$TMPDIR_TEST/chromium.log")"
check=$(grep -o 'id="memsync-check">CHECK [^<]*' "$TMPDIR_TEST/dom.html") || fail "the check script did not run (no CHECK line in the DOM)"
echo "$check"
val() { sed -n "s/.* $1=\([0-9]*\) .*/\1/p" <<<"$check"; }
[ "$(val images)" -ge "$figures" ] || fail "$(val images) images in the page, paper.md has $figures figures"
[ "$(val broken)" = 0 ] || fail "figures that did not load: $(sed 's/.*END broken: \(.*\) NODATA: .*/\1/' <<<"$check")"
[ "$(val tables)" -ge "$tables" ] || fail "$(val tables) tables in the page, paper.md has $tables"
[ "$(val empty)" = 0 ] || fail "$(val empty) table(s) without rows"
[ "$(val nodata)" = $((pend_fig + pend_tab)) ] ||
	fail "$(val nodata) 'no data' placeholder(s) in the page, $((pend_fig + pend_tab)) in pending sections: ${check#*NODATA: }"

# A full-page screenshot: the window as tall as the page. Chromium cannot
# capture a bitmap much over 40000 px tall (at 82183 px the capture fails),
# so a taller page is drawn at a scale halved until it fits.
height=$(val height)
[ "$height" -gt 1000 ] || fail "page height $height px: too short for the paper"
scale=$(awk -v h="$height" 'BEGIN { s = 1; while (h * s > 40000) s /= 2; print s }')
rm -f "$out/paper.png"
PAPER_CHROMIUM_LOG=$TMPDIR_TEST/chromium.log paper_chromium --virtual-time-budget=10000 \
	--force-device-scale-factor="$scale" --window-size="1200,$height" --screenshot="$out/paper.png" \
	"file://$out/paper.html" || fail "chromium --screenshot failed: $(tail -3 "$TMPDIR_TEST/chromium.log")"
[ -s "$out/paper.png" ] || fail "no screenshot"
echo "paper: $figures figures and $tables tables checked in Chromium ($pend_fig figure and $pend_tab table slots pending); screenshot $out/paper.png (1200x$height CSS px at scale $scale)"
