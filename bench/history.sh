#!/usr/bin/env bash
# History queries: latency of the downsampled history and energy answers served from
# rollups, against the same questions answered from raw readings, in one run
# (bench/README.md, "History").
#
#   bench/history.sh
#
# Starts a throwaway MariaDB and mosquitto, registers 100 devices and starts
# meter-server (default options). Loads, through MQTT and meter-server's real ingest
# path (so the rollups are the ones the server maintains):
#   - bench-1: 30 days of 1-second readings (2,592,000), in arrays of 1000 readings
#     per message, the way a meter sends its backlog;
#   - bench-2 .. bench-100: one day of 1-minute readings each.
# Then times BENCH_HISTORY_REQUESTS sequential requests of each query (median, p99):
#   from rollups:  last 24 h in about 500 points (points=500, interval=3m),
#                  last 30 days by day (interval=1d, energy?period=day);
#   from raw rows: last 24 h in 500 buckets (interval=173: under whole minutes, so
#                  the server groups raw readings) and, as the server answers 30 days
#                  only from rollups, the same GROUP BY day over the raw readings in
#                  MariaDB directly (BENCH_HISTORY_SQL_RUNS runs).
# The aim: each rollup query under 20 ms median. The server's CPU time per request is
# printed too, and MariaDB's: on a loaded machine a request that needs several ms of CPU
# waits behind the run queue, and CPU time does not.
# Environment: BENCH_BUILD_DIR (build/bench), BENCH_HISTORY_DAYS (30),
# BENCH_HISTORY_REQUESTS (200), BENCH_HISTORY_SQL_RUNS (5), BENCH_HISTORY_EXPORT (set:
# readings carry energy_export_wh, as meterd's do; unset: import energy only, as a meter
# that does not measure export sends).
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/.." && pwd)
days=${BENCH_HISTORY_DAYS:-30}
requests=${BENCH_HISTORY_REQUESTS:-200}
sql_runs=${BENCH_HISTORY_SQL_RUNS:-5}
export=${BENCH_HISTORY_EXPORT:-}
big=$((days * 86400))
others=99
other_readings=1440

tmp=$(mktemp -d /tmp/smartmeter-bench-history.XXXXXX)
# shellcheck source=bench/lib/pipeline.sh
. "$here/lib/pipeline.sh"
trap 'bench_cleanup; rm -rf "$tmp"' EXIT

bench_build meter-server bench_loadgen
bench_services
bench_newdb bench_history
bench_add_devices bench_history bench- 1 $((others + 1))
bench_server_start bench_history
echo "  meter-server (default options) on $api; $((others + 1)) devices registered"

echo "== load through MQTT and meter-server: bench-1 $days days at 1 s ($big readings), $others others 1 day at 1 min"
echo "  before: $(bench_load)"
total=$((big + others * other_readings))
bench_wait_stored "$total" "$tmp/stored.txt"
now_ms=$(($(date +%s%3N) - 1000))
"$loadgen" --url "$MQTT_URL" --prefix bench- --first-device 1 --devices 1 --readings "$big" \
    --batch 1000 --connections 1 --window 16 --ts-end-ms "$now_ms" ${export:+--export} \
    > "$tmp/load-big.txt" &
gen_big=$!
bench_pids+=("$gen_big")
"$loadgen" --url "$MQTT_URL" --prefix bench- --first-device 2 --devices "$others" \
    --readings "$other_readings" --step-ms 60000 --batch 60 --connections 2 --window 64 \
    --ts-end-ms "$now_ms" ${export:+--export} > "$tmp/load-others.txt" &
gen_others=$!
bench_pids+=("$gen_others")
wait "$poller_pid" || { echo "history: the server stored only: $(cat "$tmp/stored.txt")" >&2; exit 1; }
wait "$gen_big" "$gen_others" || { echo "history: the load generator failed" >&2; exit 1; }
echo "  after:  $(bench_load)"
t0=$(kv "$tmp/load-big.txt" first_publish_ms)
t1=$(kv "$tmp/stored.txt" last_commit_ms)
awk -v n="$total" -v ms=$((t1 - t0)) 'BEGIN { printf "  stored %d readings in %.1f s (first publish to last commit): %.0f readings/s\n", n, ms / 1000, n / (ms / 1000) }'
sql -N bench_history -e "SELECT CONCAT('  readings: ', COUNT(*)) FROM readings;
    SELECT CONCAT('  rollups: ', period, ' ', COUNT(*)) FROM rollups GROUP BY period"

echo "== bench-1, $requests sequential requests each (one keep-alive connection)"
d=/api/device/data/bench-1
python3 "$here/lib/latency.py" http "$api" "$token" "$requests" --pid "$server_pid,$(cat "$RUN_DIR/mysql/mysqld.pid")" \
    "24 h, points=500 (rollups)" "$d?points=500" \
    "24 h, interval=3m (rollups)" "$d?interval=3m&limit=500" \
    "$days days, interval=1d (rollups)" "$d?interval=1d&from=$((now_ms - big * 1000))" \
    "$days days, energy?period=day (rollups)" "/api/devices/bench-1/energy?period=day" \
    "24 h, interval=173 (raw readings)" "$d?interval=173&limit=500" | tee "$tmp/http.txt"

echo "== the raw reference for $days days by day: the server's raw-bucket query in MariaDB, $sql_runs runs"
pk=$(sql -N bench_history -e "SELECT id FROM devices WHERE device_id = 'bench-1'")
python3 "$here/lib/latency.py" sql "$MYSQL_SOCKET" bench_history "$sql_runs" \
    "$days days by day, GROUP BY over raw readings" \
    "SELECT (ts_ms DIV 86400000) * 86400000 AS b, COUNT(*), AVG(voltage), MIN(voltage), MAX(voltage),
            AVG(current), MIN(current), MAX(current), AVG(power_w), MIN(power_w), MAX(power_w),
            MAX(energy_import_mwh)
     FROM readings WHERE device_pk = $pk AND ts_ms >= $((now_ms - big * 1000)) AND ts_ms <= $now_ms
     GROUP BY b ORDER BY b DESC" | tee "$tmp/sql.txt"

echo
echo "medians against the 20 ms aim, and the raw reference:"
python3 - "$tmp/http.txt" "$tmp/sql.txt" << 'PY'
import re, sys
rows = {}
for path in sys.argv[1:]:
    for line in open(path):
        m = re.match(r"\s+(.+?)\s{2,}(\d+)\s+([\d.]+)\s+([\d.]+)\s+(\d+)", line)
        if m:
            rows[m.group(1)] = (float(m.group(3)), float(m.group(4)))
roll = {k: v for k, v in rows.items() if "(rollups)" in k}
raw24 = next((v for k, v in rows.items() if "173" in k), None)
raw30 = next((v for k, v in rows.items() if "GROUP BY" in k), None)
start = rows.get("client start (SELECT 1)")
if raw30 and start:  # the mariadb client's own start is not the query's cost
    raw30 = (max(raw30[0] - start[0], 0.01), raw30[1])
for k, (med, p99) in roll.items():
    ref = raw30 if ("1d" in k or "energy" in k) else raw24
    ratio = f"raw/rollups {ref[0] / med:.0f}x" if ref else ""
    print(f"  {k:<46} median {med:7.2f} ms ({'under' if med < 20 else 'OVER'} 20 ms)  {ratio}")
PY
