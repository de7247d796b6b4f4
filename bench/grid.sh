#!/usr/bin/env bash
# Grid ports: reads per second the Modbus TCP and IEC 61850 MMS servers answer for 100
# devices, against the REST API's device detail on the same machine (bench/README.md,
# "Grid ports").
#
#   bench/grid.sh
#
# Starts a throwaway MariaDB and mosquitto, registers BENCH_GRID_DEVICES (100) devices, gives
# each a few readings over MQTT and its modbus_unit over the API, and starts meter-server
# with --modbus-listen and --mms-listen. Then, in BENCH_GRID_ROUNDS (2) rounds, each side
# alone for BENCH_GRID_SECONDS (10) s with BENCH_GRID_CONNECTIONS (4) connections, reading
# device 1, 2 .. 100 in turn, one device's present values per request:
#   - REST: GET /api/devices/:id (the device with its latest reading), wrk;
#   - Modbus TCP: Read Input Registers, 80 registers from 0x0000 (the SDM630's voltages,
#     currents, powers, PF, frequency and energies), bench_modbus_load (C);
#   - MMS: Read of the data set LLN0$Meas (SPEC.md's MMXU and MMTR values), bench/lib/
#     mms_load.py (the tests' client, Python: client-bound; the server's CPU per read is the
#     figure to compare).
# Prints, per side, the median over the rounds of the reads per second and of the server's
# CPU per read (utime + stime from /proc over the phase), and each against REST's.
# Asserts nothing. Environment: BENCH_BUILD_DIR (build/bench) and the variables above.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/.." && pwd)
devices=${BENCH_GRID_DEVICES:-100}
rounds=${BENCH_GRID_ROUNDS:-2}
secs=${BENCH_GRID_SECONDS:-10}
conns=${BENCH_GRID_CONNECTIONS:-4}
[ "$devices" -le 247 ] || { echo "grid.sh: at most 247 devices (Modbus units)" >&2; exit 2; }
if ! command -v wrk > /dev/null; then
    sudo=()
    [ "$(id -u)" = 0 ] || sudo=(sudo)
    echo "== installing wrk"
    "${sudo[@]}" apt-get install -y -qq --no-install-recommends wrk > /dev/null
fi

tmp=$(mktemp -d /tmp/smartmeter-bench-grid.XXXXXX)
# shellcheck source=bench/lib/pipeline.sh
. "$here/lib/pipeline.sh"
trap 'bench_cleanup; rm -rf "$tmp"' EXIT

bench_build meter-server bench_loadgen bench_modbus_load
mload=$build/bench/bench_modbus_load
bench_services
db=bench_grid
bench_newdb "$db"
bench_add_devices "$db" bench-g- 1 "$devices"
mport=$(python3 "$root/tests/lib/free_port.py")
sport=$(python3 "$root/tests/lib/free_port.py")
bench_server_start "$db" --modbus-listen "127.0.0.1:$mport" --mms-listen "127.0.0.1:$sport" \
    --modbus-max-connections 64
echo "  meter-server on $api, Modbus TCP on $mport, MMS on $sport; $devices devices"

bench_wait_stored $((devices * 5)) "$tmp/stored.txt"
"$loadgen" --url "$MQTT_URL" --prefix bench-g- --devices "$devices" --readings 5 \
    --connections 1 > /dev/null
wait "$poller_pid" || true
for n in $(seq 1 "$devices"); do
    curl -sf -X PATCH -H "Authorization: Bearer $token" -d "{\"modbus_unit\":$n}" \
        "$api/api/devices/bench-g-$n" > /dev/null
done
echo "  $(cat "$tmp/stored.txt")"
sleep 3 # the Modbus server reads the units at most every 2 s

cpu_ticks() { awk '{ print $14 + $15 }' "/proc/$1/stat"; }
kv() { tr ' ' '\n' <<< "$1" | awk -F= -v k="$2" '$1 == k { print $2 }'; }
hz=$(getconf CLK_TCK)
wthreads=$((conns < 2 ? conns : 2))

run_side() { # side -> "reads_per_s cpu_us_per_read"
    local c1 c2 out rate reads
    c1=$(cpu_ticks "$server_pid")
    case $1 in
    rest)
        out=$(wrk -t"$wthreads" -c"$conns" -d"${secs}s" -s "$here/lib/device_detail.lua" \
            "$api" -- "$token" bench-g- "$devices")
        bad=$(awk '/Non-2xx or 3xx responses:/ { print $NF }' <<< "$out")
        [ -z "$bad" ] || echo "  REST: $bad answers not 2xx" >&2
        reads=$(awk '/requests in/ { print $1 }' <<< "$out")
        rate=$(awk '/^Requests\/sec:/ { print $2 }' <<< "$out") ;;
    modbus)
        out=$("$mload" --port "$mport" --units "$devices" --connections "$conns" \
            --seconds "$secs" --count 80) || echo "  Modbus: $out" >&2
        reads=$(kv "$out" reads)
        rate=$(kv "$out" rate) ;;
    mms)
        out=$(python3 "$here/lib/mms_load.py" --port "$sport" --devices "$devices" \
            --connections "$conns" --seconds "$secs") || echo "  MMS: $out" >&2
        reads=$(kv "$out" reads)
        rate=$(kv "$out" rate) ;;
    esac
    c2=$(cpu_ticks "$server_pid")
    awk -v r="$rate" -v n="$reads" -v c="$((c2 - c1))" -v hz="$hz" \
        'BEGIN { printf "%.0f %.1f\n", r, (n > 0 ? c / hz * 1e6 / n : 0) }'
}

sides=(rest modbus mms)
for round in $(seq 1 "$rounds"); do
    echo "== round $round ($(bench_load))"
    # The order rotates each round.
    for k in 0 1 2; do
        side=${sides[$(((k + round - 1) % 3))]}
        res=$(run_side "$side")
        echo "  $side: $res (reads/s, server CPU µs per read)"
        echo "$side $res" >> "$tmp/results.txt"
    done
done

awk '
function median(a, n,    i, j, t) {
    for (i = 1; i <= n; i++) for (j = i + 1; j <= n; j++) if (a[j] < a[i]) { t = a[i]; a[i] = a[j]; a[j] = t }
    return n % 2 ? a[(n + 1) / 2] : (a[n / 2] + a[n / 2 + 1]) / 2
}
{ n[$1]++; r[$1, n[$1]] = $2; c[$1, n[$1]] = $3 }
END {
    split("rest modbus mms", order, " ")
    for (k = 1; k <= 3; k++) {
        s = order[k]
        for (i = 1; i <= n[s]; i++) { rr[i] = r[s, i]; cc[i] = c[s, i] }
        rate[s] = median(rr, n[s]); cpu[s] = median(cc, n[s])
    }
    printf "\n%-46s %12s %18s\n", "median of the rounds", "reads/s", "server CPU/read"
    printf "%-46s %12.0f %15.1f µs\n", "REST GET /api/devices/:id (wrk)", rate["rest"], cpu["rest"]
    printf "%-46s %12.0f %15.1f µs\n", "Modbus TCP, 80 input registers (C client)", rate["modbus"], cpu["modbus"]
    printf "%-46s %12.0f %15.1f µs\n", "MMS Read of LLN0$Meas (Python client)", rate["mms"], cpu["mms"]
    printf "Modbus / REST: %.2f reads/s, %.2f server CPU per read\n", rate["modbus"] / rate["rest"], cpu["modbus"] / cpu["rest"]
    printf "MMS / REST:    %.2f reads/s, %.2f server CPU per read\n", rate["mms"] / rate["rest"], cpu["mms"] / cpu["rest"]
}' "$tmp/results.txt"
