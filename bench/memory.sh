#!/usr/bin/env bash
# Memory: meter-server's peak RSS with 10,000 devices publishing, against the same
# binary idle with one device, in one run; then meterd's RSS with a full spool when
# bench/spool_rss.sh is there (bench/README.md, "Memory").
#
#   bench/memory.sh
#
# Starts a throwaway MariaDB and mosquitto. Reference: meter-server (default
# options) on a database with one device, idle for BENCH_MEMORY_IDLE_SECONDS after it
# answered its first request. Then a fresh meter-server on a database with
# BENCH_MEMORY_DEVICES devices (registered in one INSERT, bench/lib/pipeline.sh),
# bench_loadgen publishing BENCH_MEMORY_READINGS readings for each, one object per
# message; once all are stored, VmHWM (peak resident set) and VmRSS from /proc.
# Environment: BENCH_BUILD_DIR (build/bench), BENCH_MEMORY_DEVICES (10000),
# BENCH_MEMORY_READINGS (3), BENCH_MEMORY_IDLE_SECONDS (5).
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/.." && pwd)
devices=${BENCH_MEMORY_DEVICES:-10000}
readings=${BENCH_MEMORY_READINGS:-3}
idle=${BENCH_MEMORY_IDLE_SECONDS:-5}

tmp=$(mktemp -d /tmp/smartmeter-bench-memory.XXXXXX)
# shellcheck source=bench/lib/pipeline.sh
. "$here/lib/pipeline.sh"
trap 'bench_cleanup; rm -rf "$tmp"' EXIT

status_kb() { awk -v k="$2:" '$1 == k { print $2 }' "/proc/$1/status"; }
# The admin login the benchmark needs for /api/stats verifies an Argon2id hash, which
# takes 64 MiB for a moment (server/auth/auth.c): the peak since start is mostly that. After
# it, writing 5 to clear_refs resets VmHWM, so the second peak is the phase's own.
reset_hwm() { echo 5 > "/proc/$1/clear_refs"; }

bench_build meter-server bench_loadgen
bench_services

echo "== reference: meter-server idle with 1 device, ${idle} s"
bench_newdb bench_mem_idle
bench_add_devices bench_mem_idle bench- 1 1
bench_server_start bench_mem_idle
idle_start_hwm=$(status_kb "$server_pid" VmHWM)
reset_hwm "$server_pid"
sleep "$idle"
idle_hwm=$(status_kb "$server_pid" VmHWM)
idle_rss=$(status_kb "$server_pid" VmRSS)
bench_server_stop

echo "== meter-server with $devices devices publishing $readings readings each"
bench_newdb bench_mem
bench_add_devices bench_mem bench- 1 "$devices"
token=
bench_server_start bench_mem
start_hwm=$(status_kb "$server_pid" VmHWM)
reset_hwm "$server_pid"
echo "  before: $(bench_load)"
bench_wait_stored $((devices * readings)) "$tmp/stored.txt"
"$loadgen" --url "$MQTT_URL" --prefix bench- --devices "$devices" --readings "$readings" \
    --connections 4 > "$tmp/loadgen.txt" &
gen_pid=$!
bench_pids+=("$gen_pid")
wait "$poller_pid" || { echo "memory: the server stored only: $(cat "$tmp/stored.txt")" >&2; exit 1; }
wait "$gen_pid" || { echo "memory: the load generator failed" >&2; exit 1; }
echo "  after:  $(bench_load)"
echo "  load generator: $(cat "$tmp/loadgen.txt")"
echo "  server: $(cat "$tmp/stored.txt")"
hwm=$(status_kb "$server_pid" VmHWM)
rss=$(status_kb "$server_pid" VmRSS)
threads=$(status_kb "$server_pid" Threads)
bench_server_stop

awk -v ih="$idle_hwm" -v ir="$idle_rss" -v h="$hwm" -v r="$rss" -v n="$devices" -v t="$threads" \
    -v ish="$idle_start_hwm" -v sh="$start_hwm" 'BEGIN {
    printf "\n%-44s %12s %12s %12s\n", "", "peak MB", "at end MB", "start+login"
    printf "%-44s %12.2f %12.2f %12.2f\n", "meter-server idle, 1 device", ih / 1024, ir / 1024, ish / 1024
    printf "%-44s %12.2f %12.2f %12.2f\n", sprintf("meter-server, %d devices publishing", n), h / 1024, r / 1024, sh / 1024
    printf "peak: VmHWM after the login (reset through clear_refs); at end: VmRSS; start+login:\n"
    printf "VmHWM from start through the admin login (an Argon2id verification, 64 MiB)\n"
    printf "ratio %.2f; %.2f KB of peak per device above idle; %d threads\n", h / ih, (h - ih) / n, t
}'

echo "== meterd with a full 30-day spool"
if [ -x "$here/spool_rss.sh" ]; then
    # Its own build (with the test tools it needs) in its default folder, from the root.
    (cd "$root" && env -u BENCH_BUILD_DIR "$here/spool_rss.sh") || echo "  bench/spool_rss.sh failed"
else
    echo "  not available (bench/spool_rss.sh is not in this tree)"
fi
