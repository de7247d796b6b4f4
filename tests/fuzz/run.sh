#!/bin/sh
# Runs one libFuzzer harness as a test (tests/fuzz/CMakeLists.txt): each regression input
# once, then SECONDS of fuzzing from the seed corpus and the regressions, with the
# harness's dictionary when it has one. New inputs go to WORKDIR/corpus (emptied first);
# an input that fails is saved under WORKDIR/artifacts/ and the test fails.
# usage: run.sh BINARY NAME SECONDS WORKDIR
set -eu
bin=$1 name=$2 seconds=$3 work=$4
src=$(cd "$(dirname "$0")" && pwd)
rm -rf "$work/corpus"
mkdir -p "$work/corpus" "$work/artifacts"

set -- -artifact_prefix="$work/artifacts/" -timeout=10 -rss_limit_mb=2048
if [ -f "$src/dict/$name.dict" ]; then
    set -- "$@" -dict="$src/dict/$name.dict"
fi
fail() {
    echo "run.sh: fuzz_$name found a problem: the input is in $work/artifacts/;" \
        "once fixed, add it to tests/fuzz/regressions/$name/" >&2
    exit 1
}

dirs="$src/corpus/$name"
regress="$src/regressions/$name"
if [ -d "$regress" ] && [ -n "$(ls -A "$regress")" ]; then
    "$bin" "$@" "$regress"/* || fail
    dirs="$dirs $regress"
fi
# shellcheck disable=SC2086 # dirs holds paths without blanks, one argument each
"$bin" "$@" -max_total_time="$seconds" -print_final_stats=1 "$work/corpus" $dirs || fail
