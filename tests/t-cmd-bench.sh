#!/bin/sh
# t-cmd-bench: `slice bench` on a plain directory finishes, prints its
# table (every phase with a rate), and leaves the directory as it found it.
# No timing is judged.  Bad input: a missing directory, a bad --size.
# Env: BUILD_DIR (default: build).
set -u

B=${BUILD_DIR:-build}
S=$B/bin/slice
[ -x "$S" ] || { echo "t-cmd-bench: $S not built" >&2; exit 1; }
TMP=$(mktemp -d /tmp/t-cmd-bench.XXXXXX)
trap 'rm -rf "$TMP"' EXIT
trap 'exit 1' INT TERM HUP

fail() {
	echo "t-cmd-bench: FAIL: $*" >&2
	for f in "$TMP"/*.out "$TMP"/*.err; do
		[ -f "$f" ] && { echo "--- $f" >&2; cat "$f" >&2; }
	done
	exit 1
}

mkdir "$TMP/d"
echo keep >"$TMP/d/mine"
"$S" bench "$TMP/d" --size 8 --files 50 >"$TMP/bench.out" 2>"$TMP/bench.err" || fail "slice bench exited $?"
for row in "seq write+fsync .* MB/s" "seq read .* MB/s" "rand read 4K .* IOPS" \
	   "create+write 4K .*50 files.* ops/s" "stat .* ops/s" "unlink .* ops/s"; do
	grep -q "^$row" "$TMP/bench.out" || fail "no row '$row' in the table"
done
# stderr is not a terminal here: plain lines, no bar.
grep -q 'seq read done in' "$TMP/bench.err" || fail "no plain progress lines on stderr"
grep -q '\[#' "$TMP/bench.err" && fail "a progress bar on a non-terminal"
[ "$(ls -A "$TMP/d")" = mine ] || fail "bench left files: $(ls -A "$TMP/d")"

"$S" bench "$TMP/none" >/dev/null 2>"$TMP/none.err"
[ $? -eq 1 ] || fail "bench of a missing directory did not exit 1"
grep -q 'not a directory' "$TMP/none.err" || fail "no clear error for a missing directory"
"$S" bench "$TMP/d" --size 0 >/dev/null 2>&1
[ $? -eq 2 ] || fail "--size 0 is not exit 2"
"$S" bench "$TMP/d" --size lots >/dev/null 2>&1
[ $? -eq 2 ] || fail "--size lots is not exit 2"
exit 0
