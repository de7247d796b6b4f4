#!/usr/bin/env bash
# The long fuzzing run (docs/security.md, "Fuzzing"): builds the harnesses in build/fuzz
# with clang, then runs each of them for SECONDS (default 600) from its seed corpus, its
# regressions and what earlier long runs found (build/fuzz/long/<name>/corpus, kept), and
# prints per harness the inputs run, the coverage (cov: edges, ft: features), the corpus
# (inputs libFuzzer kept) and the findings (inputs saved in build/fuzz/long/<name>/artifacts/).
#
# FUZZ_WORKERS (default 1) parallel workers per harness, at most the number of cores.
# FUZZ_MERGE=1 afterwards merges into tests/fuzz/corpus/<name>/ the inputs of the long
# corpus that reach code the seeds do not (libFuzzer's -merge=1 on edges, not hit counts),
# no larger than FUZZ_MERGE_MAX_LEN bytes (default 1024): the test command's short run then
# starts where the long runs got to, from a few dozen more small files per harness.
#
# usage: scripts/fuzz.sh [SECONDS [NAME...]]    (no NAME: every harness)
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)
seconds=${1:-600}
[ $# -gt 0 ] && shift
cores=$(nproc 2>/dev/null || echo 1)
workers=${FUZZ_WORKERS:-1}
[ "$workers" -gt "$cores" ] && workers=$cores

build=build/fuzz
mkdir -p "$build"
if ! { cmake -S "$root" -B "$build" -DCMAKE_C_COMPILER=clang -DCMAKE_BUILD_TYPE=RelWithDebInfo \
        -DSMARTMETER_FUZZ=ON -DSMARTMETER_WERROR=ON -DSMARTMETER_BUILD_TESTS=OFF \
        -DSMARTMETER_BUILD_BENCH=OFF -DSMARTMETER_BUILD_WEB=OFF &&
        cmake --build "$build" -j "$cores" --target fuzzers; } > "$build/fuzz-build.log" 2>&1; then
    cat "$build/fuzz-build.log"
    echo "fuzz.sh: build failed" >&2
    exit 1
fi

if [ $# -eq 0 ]; then
    for f in tests/fuzz/fuzz_*.c; do
        f=${f##*/fuzz_}
        set -- "$@" "${f%.c}"
    done
fi
files() { find "$1" -type f | wc -l; }

echo "fuzz.sh: $(date -u +%FT%TZ), ${seconds}s per harness, $workers worker(s)"
printf '%-12s %12s %9s %7s %7s %8s %8s\n' harness execs exec/s cov ft corpus findings
status=0
for name in "$@"; do
    bin=$root/$build/tests/fuzz/fuzz_$name
    work=$root/$build/long/$name
    mkdir -p "$work/corpus" "$work/artifacts"
    rm -f "$work"/fuzz-*.log
    found_before=$(files "$work/artifacts")
    args=(-artifact_prefix="$work/artifacts/" -timeout=10 -rss_limit_mb=2048
        -max_total_time="$seconds" -print_final_stats=1 -jobs="$workers" -workers="$workers")
    [ -f "tests/fuzz/dict/$name.dict" ] && args+=(-dict="$root/tests/fuzz/dict/$name.dict")
    dirs=("$work/corpus" "$root/tests/fuzz/corpus/$name")
    [ -d "tests/fuzz/regressions/$name" ] && dirs+=("$root/tests/fuzz/regressions/$name")
    # Each job logs to fuzz-<job>.log in the working directory.
    (cd "$work" && "$bin" "${args[@]}" "${dirs[@]}" > run.log 2>&1) || status=1

    execs=0 cov=0 ft=0 corpus=0
    for log in "$work"/fuzz-*.log; do
        n=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -1)
        execs=$((execs + ${n:-0}))
        last=$(grep -E '^#[0-9]+.*cov: ' "$log" | tail -1 || true)
        c=$(sed -n 's/.* cov: \([0-9]*\).*/\1/p' <<< "$last")
        f=$(sed -n 's/.* ft: \([0-9]*\).*/\1/p' <<< "$last")
        n=$(sed -n 's/.* corp: \([0-9]*\).*/\1/p' <<< "$last")
        [ "${c:-0}" -gt "$cov" ] && cov=$c
        [ "${f:-0}" -gt "$ft" ] && ft=$f
        [ "${n:-0}" -gt "$corpus" ] && corpus=$n
    done
    found=$(($(files "$work/artifacts") - found_before))
    printf '%-12s %12d %9d %7d %7d %8d %8d\n' "$name" "$execs" $((execs / (seconds * workers))) \
        "$cov" "$ft" "$corpus" "$found"

    if [ "${FUZZ_MERGE:-0}" = 1 ]; then
        "$bin" -merge=1 -use_counters=0 -max_len="${FUZZ_MERGE_MAX_LEN:-1024}" \
            "$root/tests/fuzz/corpus/$name" "$work/corpus" > "$work/merge.log" 2>&1 || status=1
    fi
done
if [ "$status" != 0 ]; then
    echo "fuzz.sh: findings: see build/fuzz/long/<name>/artifacts/ and fuzz-*.log there" >&2
fi
exit "$status"
