#!/usr/bin/env bash
# Runs the benchmarks (bench/README.md) and prints their results; asserts nothing.
#
#   bench/run.sh [pq|http|ingest|history|memory|terminals|billing|grid|devices|mixed|all]...
#                (default: all)
#
#   pq       bench/pq.sh: power-quality analysis cost (CPU and callgrind), meterd's RSS
#   http     bench/http_vs_seed.sh: REST GET and POST against the seed's Flask peer
#   ingest   bench/ingest.sh: meter-server's committed rate against the broker's drain rate
#   history  bench/history.sh: history and energy answers from rollups against raw readings
#   memory   bench/memory.sh: meter-server's peak RSS with 10,000 devices against idle,
#            and meterd's with a full spool (bench/spool_rss.sh, when present)
#   terminals bench/terminals.sh: 10,000 terminals on the TCP gateway (RSS per connection,
#            CPU, latency to the ack after commit); the terminal path's ingest rate vs MQTT's
#   billing  bench/billing.sh: ingest with prepaid billing doing real work against the
#            same server with the billing thread left out (and with no tariff)
#   grid     bench/grid.sh: reads per second of the Modbus TCP and MMS servers for 100
#            devices against the REST API's device detail
#   devices  bench/devices.sh: 50,000 devices imported in one transaction against device add;
#            a page of 100 of the device list, the summary, RSS idle (SQLite and MariaDB)
#   mixed    bench/mixed.sh: full-speed ingest of 100 devices with 16 dashboard users (24 h
#            charts and the device list) against the same ingest alone (MariaDB and SQLite)
# Each section builds what it needs optimised in build/bench (BENCH_BUILD_DIR) and
# starts its own throwaway services; each one's environment is in its script.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
sections=("$@")
[ ${#sections[@]} -gt 0 ] || sections=(all)
run=()
for s in "${sections[@]}"; do
    case "$s" in
    pq | http | ingest | history | memory | terminals | billing | grid) run+=("$s") ;;
    devices | mixed) run+=("$s") ;;
    all) run+=(pq http ingest history memory terminals billing grid devices mixed) ;;
    -h | --help)
        sed -n '2,21p' "$0" | sed 's/^# \{0,1\}//'
        exit 0
        ;;
    *)
        echo "run.sh: unknown section '$s' (pq, http, ingest, history, memory, terminals, billing, grid, devices, mixed or all)" >&2
        exit 2
        ;;
    esac
done

echo "bench/run.sh ${run[*]}: $(date -u +%Y-%m-%dT%H:%M:%SZ), commit $(git -C "$here" rev-parse --short HEAD 2>/dev/null || echo unknown)"
echo "machine: $(nproc) cores, $(awk '{ print "load average", $1, $2, $3 }' /proc/loadavg)"
for s in "${run[@]}"; do
    echo
    echo "######## $s"
    case "$s" in
    pq) "$here/pq.sh" ;;
    http) "$here/http_vs_seed.sh" ;;
    ingest) "$here/ingest.sh" ;;
    history) "$here/history.sh" ;;
    memory) "$here/memory.sh" ;;
    terminals) "$here/terminals.sh" ;;
    billing) "$here/billing.sh" ;;
    grid) "$here/grid.sh" ;;
    devices) "$here/devices.sh" ;;
    mixed) "$here/mixed.sh" ;;
    esac
done
