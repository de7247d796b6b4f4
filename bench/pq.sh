#!/usr/bin/env bash
# The meter-side benchmarks (bench/README.md, "pq"): prints results, asserts nothing.
#
#   bench/pq.sh        (or bench/run.sh pq)
#
# Builds an optimised (-O2) tree in build/bench, then:
#   1. bench_pq_cost: CPU time of the power-quality analysis per second of
#      signal, two channels at 12.8 and 6.4 kHz, against the 2 % aim;
#   2. with valgrind installed, the same analysis under callgrind: instructions
#      per second of signal, a figure that does not move with machine load;
#   2b. bench_pq3_cost: the three-phase analysis (pq3), six channels at 6.4 kHz,
#      3p4w and 3p3w Aron, against the single-phase one in the same run, and
#      under callgrind;
#   3. meterd's peak RSS (VmHWM) after BENCH_RSS_SECONDS of sampling the sim
#      ADC at 12.8 kHz, publishing to a throwaway mosquitto on a free loopback
#      port, against the 8 MB aim.
# Environment: BENCH_BUILD_DIR (build/bench), BENCH_SECONDS (60), BENCH_RSS_SECONDS (15).
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/.." && pwd)
build=${BENCH_BUILD_DIR:-$root/build/bench}
seconds=${BENCH_SECONDS:-60}
rss_seconds=${BENCH_RSS_SECONDS:-15}
aim_rss_kb=$((8 * 1024))

tmp=$(mktemp -d /tmp/smartmeter-bench.XXXXXX)
meterd_pid=
cleanup() {
    if [ -n "$meterd_pid" ]; then kill "$meterd_pid" 2>/dev/null || true; fi
    if [ -s "$tmp/mosquitto.pid" ]; then kill "$(cat "$tmp/mosquitto.pid")" 2>/dev/null || true; fi
    rm -rf "$tmp"
}
trap cleanup EXIT

echo "== build ($build, -O2)"
cmake -S "$root" -B "$build" -DCMAKE_BUILD_TYPE=RelWithDebInfo -DSMARTMETER_BUILD_TESTS=OFF \
    -DSMARTMETER_BUILD_SERVER=OFF -DSMARTMETER_BUILD_BENCH=ON > "$tmp/cmake.log" 2>&1 \
    || { cat "$tmp/cmake.log" >&2; exit 1; }
cmake --build "$build" -j"$(nproc)" --target bench_pq_cost bench_pq3_cost meterd > "$tmp/build.log" 2>&1 \
    || { cat "$tmp/build.log" >&2; exit 1; }

echo "== pq analysis cost"
"$build/bench/bench_pq_cost" "$seconds"

echo "== pq analysis under callgrind"
if command -v valgrind > /dev/null; then
    cg_seconds=10
    valgrind --tool=callgrind --callgrind-out-file="$tmp/callgrind.out" \
        --toggle-collect=pq_analyzer_feed --toggle-collect=pq_interval_finish \
        "$build/bench/bench_pq_cost" --callgrind 12800 "$cg_seconds" > "$tmp/callgrind.log" 2>&1 \
        || { cat "$tmp/callgrind.log" >&2; exit 1; }
    ir=$(awk '/^(summary|totals):/ { print $2; exit }' "$tmp/callgrind.out")
    awk -v ir="$ir" -v s="$cg_seconds" 'BEGIN {
        per_s = ir / s
        printf "  instructions per second of signal (2 channels at 12800 Hz): %.3g", per_s
        printf " = %.0f per sample pair\n", per_s / 12800
        printf "  against a core retiring 1e9 instructions per second (1 GHz at 1 per cycle):"
        printf " %.3f %% of it\n", per_s / 1e9 * 100
    }'
else
    echo "  valgrind not installed: skipped"
fi

echo "== pq3 three-phase analysis cost"
"$build/bench/bench_pq3_cost" "$seconds"

echo "== pq3 three-phase analysis under callgrind"
if command -v valgrind > /dev/null; then
    cg_seconds=10
    valgrind --tool=callgrind --callgrind-out-file="$tmp/callgrind3.out" \
        --toggle-collect=pq3_analyzer_feed --toggle-collect=pq3_interval_finish \
        "$build/bench/bench_pq3_cost" --callgrind "$cg_seconds" > "$tmp/callgrind3.log" 2>&1 \
        || { cat "$tmp/callgrind3.log" >&2; exit 1; }
    ir=$(awk '/^(summary|totals):/ { print $2; exit }' "$tmp/callgrind3.out")
    awk -v ir="$ir" -v s="$cg_seconds" 'BEGIN {
        per_s = ir / s
        printf "  instructions per second of signal (6 channels at 6400 Hz, 3p4w): %.3g", per_s
        printf " = %.0f per sample instant\n", per_s / 6400
        printf "  against a core retiring 1e9 instructions per second (1 GHz at 1 per cycle):"
        printf " %.3f %% of it\n", per_s / 1e9 * 100
    }'
else
    echo "  valgrind not installed: skipped"
fi

echo "== meterd peak RSS"
port=$(python3 "$root/tests/lib/free_port.py")
cat > "$tmp/mosquitto.conf" <<CONF
listener $port 127.0.0.1
allow_anonymous true
pid_file $tmp/mosquitto.pid
log_dest file $tmp/mosquitto.log
CONF
if [ "$(id -u)" = 0 ]; then echo "user root" >> "$tmp/mosquitto.conf"; fi
mosquitto -c "$tmp/mosquitto.conf" -d 2> "$tmp/mosquitto.err"
for _ in $(seq 50); do
    python3 "$root/tests/lib/free_port.py" --check "$port" && break
    sleep 0.2
done
python3 "$root/tests/lib/free_port.py" --check "$port" \
    || { echo "mosquitto did not start" >&2; cat "$tmp/mosquitto.log" >&2; exit 1; }

"$build/meter/meterd" --device-id bench-rss --mqtt "tcp://127.0.0.1:$port" \
    --adc "sim:rate=12800,phase=36.87,h3=5,h5=3,h7=2,noise=0.1" --state-dir "$tmp/var" \
    --log-level warn > "$tmp/meterd.log" 2>&1 &
meterd_pid=$!
sleep "$rss_seconds"
if ! kill -0 "$meterd_pid" 2>/dev/null; then
    echo "meterd exited early:" >&2
    cat "$tmp/meterd.log" >&2
    exit 1
fi
hwm_kb=$(awk '/^VmHWM:/ { print $2 }' "/proc/$meterd_pid/status")
ticks=$(awk '{ print $14 + $15 }' "/proc/$meterd_pid/stat")
kill -TERM "$meterd_pid"
wait "$meterd_pid" || true
meterd_pid=
# The floor: the same binary and libraries, doing nothing (--help); needs GNU time.
floor_kb=0
if [ -x /usr/bin/time ]; then
    floor_kb=$(/usr/bin/time -f %M "$build/meter/meterd" --help 2>&1 > /dev/null | tail -1)
fi
awk -v hwm="$hwm_kb" -v aim="$aim_rss_kb" -v fl="$floor_kb" -v s="$rss_seconds" \
    -v ticks="$ticks" -v hz="$(getconf CLK_TCK)" 'BEGIN {
    printf "  meterd VmHWM after %d s at 12800 Hz: %.2f MB = %.0f %% of the %.0f MB aim (ratio %.2f)\n",
        s, hwm / 1024, hwm / aim * 100, aim / 1024, hwm / aim
    if (fl > 0)
        printf "  floor, the same binary printing --help: %.2f MB; running adds %.2f MB\n",
            fl / 1024, (hwm - fl) / 1024
    printf "  meterd CPU over the run, sim ADC included: %.2f %% of one core\n", ticks / hz / s * 100
}'
