#!/usr/bin/env bash
# Runs every test: installs what is missing, builds three times (Release with
# -Werror, with AddressSanitizer + UndefinedBehaviorSanitizer, and the libFuzzer
# harnesses with clang), and runs ctest on all three. ctest starts a throwaway
# mosquitto and MariaDB on free loopback ports for the tests that need them and
# stops them afterwards. The fuzz pass runs each harness for a few seconds over its
# seed corpus and regressions (scripts/fuzz.sh runs them for longer).
# Before that, scripts/cross.sh cross-builds meterd for arm64 and runs its
# unit tests under qemu-user (SMARTMETER_CROSS=0 skips this), and scripts/package.sh
# builds and checks the Debian packages (SMARTMETER_PACKAGES=0 skips this).
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)

scripts/deps.sh
jobs=$(nproc 2>/dev/null || echo 2)

build() { # dir, cmake args...
    local dir=$1; shift
    mkdir -p "$dir"
    if ! { cmake -S "$root" -B "$dir" -DSMARTMETER_WERROR=ON "$@" &&
           cmake --build "$dir" -j "$jobs"; } > "$dir/build.log" 2>&1; then
        cat "$dir/build.log"
        echo "test.sh: build in $dir failed" >&2
        exit 1
    fi
}

# The optimised pass is the Release configuration (-O3), the one a packager or a user building
# from source gets; scripts/package.sh builds with Debian's flags (dpkg-buildflags: -O2 and the
# hardening options), also with -Werror.
echo "== build (Release, -Werror) (at $((SECONDS / 60))m$((SECONDS % 60))s)"
build build/release -DCMAKE_BUILD_TYPE=Release
echo "== build (ASan + UBSan) (at $((SECONDS / 60))m$((SECONDS % 60))s)"
# test_pq integrates ten minutes of signal here, not an hour: this pass is for memory safety.
build build/sanitize -DCMAKE_BUILD_TYPE=Debug -DSMARTMETER_SANITIZE=ON -DSMARTMETER_PQ_TEST_ENERGY_SECONDS=600
echo "== build (libFuzzer harnesses, clang) (at $((SECONDS / 60))m$((SECONDS % 60))s)"
# The whole tree with clang -Werror, instrumented, and only the fuzz tests (tests/fuzz).
build build/fuzz -DCMAKE_C_COMPILER=clang -DCMAKE_BUILD_TYPE=RelWithDebInfo -DSMARTMETER_FUZZ=ON \
    -DSMARTMETER_FUZZ_SECONDS="${SMARTMETER_FUZZ_SECONDS:-5}" -DSMARTMETER_BUILD_TESTS=OFF -DSMARTMETER_BUILD_BENCH=OFF -DSMARTMETER_BUILD_WEB=OFF

# meterd for a Raspberry Pi: cross-built for arm64, unit tests and a smoke run under
# qemu-user. About 3.5 minutes on 2 cores (20 s of it a fresh install), most of it test_pq's
# hour of samples at emulated speed. SMARTMETER_CROSS=0 skips it.
if [ "${SMARTMETER_CROSS:-1}" != 0 ]; then
    echo "== cross build (arm64, tests under qemu-user) (at $((SECONDS / 60))m$((SECONDS % 60))s)"
    if ! timeout 900 scripts/cross.sh arm64; then
        echo "test.sh: the arm64 cross build or its tests failed" >&2
        exit 1
    fi
fi

# The Debian packages (scripts/package.sh, docs/install.md): built with Debian's flags and
# -Werror for every architecture they exist for, then lintian, their contents, the systemd
# units, and the server package installed into a throwaway Debian root where it must answer
# /api/health. SMARTMETER_PACKAGES=0 skips this.
if [ "${SMARTMETER_PACKAGES:-1}" != 0 ]; then
    echo "== packages (build, lintian, contents, install) (at $((SECONDS / 60))m$((SECONDS % 60))s)"
    if ! scripts/package.sh --werror --check all; then
        echo "test.sh: building or checking the packages failed" >&2
        exit 1
    fi
fi

export ASAN_OPTIONS="detect_leaks=1:abort_on_error=0:strict_string_checks=1"
export LSAN_OPTIONS="suppressions=$root/tests/lsan.supp:print_suppressions=0"
export UBSAN_OPTIONS="print_stacktrace=1:halt_on_error=1"

# Tests run two and a half per core, five on two cores (CTEST_JOBS overrides): most of an
# integration test's time is waiting (for meters to sample, services to start, timeouts to
# pass), so on two cores five at a time take about a third of the time two did (release pass
# 14.6 to about 8.5 minutes, sanitizer pass 9.7 to about 4.7). Each integration test has its own
# ports and directories, and the ones that kill shared services run alone (RUN_SERIAL).
jobs=${CTEST_JOBS:-$(( ($(nproc 2>/dev/null || echo 2) * 5 + 1) / 2 ))}
echo "== tests (optimised build) (at $((SECONDS / 60))m$((SECONDS % 60))s)"
ctest --test-dir build/release --output-on-failure -j "$jobs" "$@"
# The sanitizer pass leaves out the two front-end suites (they test JavaScript; the server's
# side of them is covered by the integration tests here) and runs the integration tests that
# exist for both databases on SQLite only (the MariaDB driver runs under the sanitizers in the
# store suites, store.*.mysql), to keep the run short.
echo "== tests (sanitizer build) (at $((SECONDS / 60))m$((SECONDS % 60))s)"
ctest --test-dir build/sanitize --output-on-failure -j "$jobs" -LE "browser|frontend" \
    -E '^it\..*\.mysql$' "$@"
# About 1.5 minutes on 2 cores: each harness 5 s (SMARTMETER_FUZZ_SECONDS; scripts/fuzz.sh runs
# them for longer) over its corpus and regressions, one per core: they never wait, and each
# runs for its time whatever share of a core it gets.
echo "== fuzz (libFuzzer harnesses over their corpora and regressions) (at $((SECONDS / 60))m$((SECONDS % 60))s)"
ctest --test-dir build/fuzz --output-on-failure -j "$(nproc 2>/dev/null || echo 2)" -L fuzz "$@"
echo "== all tests passed (in $((SECONDS / 60))m$((SECONDS % 60))s)"
