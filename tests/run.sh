#!/bin/bash
# run.sh - run the Trapeze test suite.
#
#   tests/run.sh BUILD_DIR [NAME...]
#
# Runs every BUILD_DIR/tests/t-* program and every tests/t-*.sh script (with
# BUILD_DIR in the environment), each under a timeout (TEST_TIMEOUT seconds,
# default 60).  Prints one line per test: PASS, FAIL or SKIP and the time it
# took; prints the output of every failure; ends with "N passed, N failed"
# (", N skipped" when some were skipped).  Exit 1 if any test failed.
# Give NAMEs (e.g. t-ipt) to run only those.  Exit codes: 0 pass, 77 skip,
# anything else (including a timeout) fail.
set -u

if [ $# -lt 1 ] || [ ! -d "$1" ]; then
	echo "usage: $0 BUILD_DIR [NAME...]" >&2
	exit 2
fi
BUILD_DIR=$(cd "$1" && pwd)
shift
export BUILD_DIR
HERE=$(cd "$(dirname "$0")" && pwd)
TIMEOUT=${TEST_TIMEOUT:-60}
OUT=$(mktemp -d /tmp/tpz-tests.XXXXXX)
trap 'rm -rf "$OUT"' EXIT

tests=()
for t in "$BUILD_DIR"/tests/t-*; do
	[ -f "$t" ] && [ -x "$t" ] || continue
	case "$t" in *.o|*.d) continue ;; esac
	tests+=("$t")
done
for t in "$HERE"/t-*.sh; do
	[ -f "$t" ] && tests+=("$t")
done
if [ ${#tests[@]} -eq 0 ]; then
	echo "no tests found in $BUILD_DIR/tests or $HERE" >&2
	exit 1
fi

wanted() {
	[ $# -eq 1 ] && return 0
	local name=$1
	shift
	for w in "$@"; do
		[ "$name" = "$w" ] || [ "$name" = "$w.sh" ] && return 0
	done
	return 1
}

pass=0 fail=0 skip=0
failed=()
for t in "${tests[@]}"; do
	name=$(basename "$t")
	wanted "$name" "$@" || continue
	log="$OUT/$name.log"
	start=$(date +%s.%N)
	tmo=$TIMEOUT
	if [ "${t%.sh}" != "$t" ]; then
		# A script may ask for more time: a line "# test-timeout: SECONDS".
		n=$(sed -n 's/^# test-timeout: *\([0-9][0-9]*\).*/\1/p' "$t" | head -1)
		[ -n "$n" ] && tmo=$n
		timeout -k 5 "$tmo" sh "$t" >"$log" 2>&1 </dev/null
	else
		timeout -k 5 "$tmo" "$t" >"$log" 2>&1 </dev/null
	fi
	rc=$?
	secs=$(awk -v a="$start" -v b="$(date +%s.%N)" 'BEGIN { printf "%.1f", b - a }')
	case $rc in
	0)
		pass=$((pass + 1))
		printf 'PASS %-22s %6ss\n' "$name" "$secs"
		;;
	77)
		skip=$((skip + 1))
		reason=$(grep -m1 -i 'skip' "$log" | cut -c1-100)
		printf 'SKIP %-22s %6ss  %s\n' "$name" "$secs" "$reason"
		;;
	*)
		fail=$((fail + 1))
		failed+=("$name")
		why="exit code $rc"
		[ $rc -eq 124 ] || [ $rc -eq 137 ] && why="timed out after ${tmo}s"
		[ $rc -gt 128 ] && [ $rc -ne 137 ] && why="killed by signal $((rc - 128))"
		printf 'FAIL %-22s %6ss  (%s)\n' "$name" "$secs" "$why"
		cp "$log" "$OUT/failed-$name.log"
		;;
	esac
done

for name in "${failed[@]+"${failed[@]}"}"; do
	echo
	echo "======== $name: output (last 200 lines) ========"
	tail -n 200 "$OUT/failed-$name.log"
done

echo
if [ $skip -gt 0 ]; then
	echo "$pass passed, $fail failed, $skip skipped"
else
	echo "$pass passed, $fail failed"
fi
[ $fail -eq 0 ]
