#!/usr/bin/env bash
# test.sh - the whole test suite: installs the Debian packages it needs,
# builds the normal tree and the ASan/UBSan tree, runs every test program in
# both, runs each libFuzzer target for a bounded time, and ends with one line
# "N passed, N failed[, N skipped]".  Exit 1 if anything failed.
#
#   FUZZ_SECONDS=60   time per fuzz target
#   SAN=0             skip the sanitizer pass
set -uo pipefail
cd "$(dirname "$0")/.."
case ${1:-} in -h|--help) sed -n '2,9p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;; esac
scripts/deps.sh test || exit 1
FUZZ_SECONDS=${FUZZ_SECONDS:-60}
pass=0 fail=0 skip=0

tally() {   # add the counts of a run.sh summary line
    local line
    line=$(grep -E '^[0-9]+ passed, [0-9]+ failed' "$1" | tail -1)
    [[ -n $line ]] || { fail=$((fail + 1)); return; }
    pass=$((pass + $(sed -E 's/^([0-9]+) passed.*/\1/' <<<"$line")))
    fail=$((fail + $(sed -E 's/.* ([0-9]+) failed.*/\1/' <<<"$line")))
    [[ $line == *skipped* ]] && skip=$((skip + $(sed -E 's/.* ([0-9]+) skipped.*/\1/' <<<"$line")))
}

log=$(mktemp -d /tmp/tpz-test.XXXXXX)
trap 'rm -rf "$log"' EXIT

echo "== build (gcc -O2, -Wall -Wextra)"
make -j"$(nproc)" >"$log/build" 2>&1 || { cat "$log/build"; echo "0 passed, 1 failed"; exit 1; }
echo "== tests"
tests/run.sh build | tee "$log/run"
tally "$log/run"

if [[ ${SAN:-1} != 0 ]]; then
    echo "== build (ASan + UBSan)"
    if make SAN=1 -j"$(nproc)" >"$log/build-san" 2>&1; then
        echo "== tests under ASan + UBSan"
        ASAN_OPTIONS=abort_on_error=1:detect_leaks=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
            tests/run.sh build-san | tee "$log/run-san"
        tally "$log/run-san"
    else
        tail -30 "$log/build-san"; fail=$((fail + 1))
    fi
fi

echo "== fuzzing (${FUZZ_SECONDS}s per target)"
if make fuzz >"$log/build-fuzz" 2>&1; then
    for f in build-fuzz/fuzz-*; do
        name=${f##*/}
        corpus=$log/corpus-$name
        mkdir -p "$corpus"
        cp fuzz/corpus/"${name#fuzz-}"/* "$corpus"/ 2>/dev/null
        if timeout $((FUZZ_SECONDS + 60)) "$f" -max_total_time="$FUZZ_SECONDS" -rss_limit_mb=2048 \
            "$corpus" >"$log/$name" 2>&1; then
            echo "PASS $name ($(grep -o 'Done [0-9]* runs' "$log/$name"))"
            pass=$((pass + 1))
        else
            echo "FAIL $name"; tail -40 "$log/$name"; fail=$((fail + 1))
        fi
    done
else
    tail -30 "$log/build-fuzz"; fail=$((fail + 1))
fi

echo
summary="$pass passed, $fail failed"
((skip)) && summary+=", $skip skipped"
echo "$summary"
((fail == 0))
