#!/usr/bin/env bash
# Lists that scale and bulk provisioning with 50,000 devices, on SQLite and on MariaDB
# (bench/README.md, "Devices").
#
#   bench/devices.sh
#
# Per backend, on a fresh database:
#   - before: `meter-server device add` for BENCH_DEVICES_ADD (20) devices, one process
#     each (how a park was provisioned), timed and extrapolated to the fleet;
#   - after: `meter-server device import` of a CSV of BENCH_DEVICES (50,000) devices (name,
#     site; the first BENCH_DEVICES_TENANT (5,000) owned by the user "tenant", the rest by
#     admin) in one transaction, timed;
#   - meter-server started: BENCH_DEVICES_COUNT (50) sequential GETs each, one keep-alive
#     connection, median and p99 (bench/lib/latency.py): a page of 100 (first, and from a
#     cursor half-way), a page filtered by site, a search, the summary; and the one
#     before, today's full list (no limit) of the tenant's 5,000 devices, fewer times;
#   - the server's RSS (VmRSS) idle with the fleet, after those requests and 5 s of rest;
#     then its CPU time (and MariaDB's) over BENCH_DEVICES_IDLE_S (10) more seconds of rest.
# Asserts nothing. Environment: BENCH_BUILD_DIR (build/bench) and the variables above.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/.." && pwd)
fleet=${BENCH_DEVICES:-50000}
adds=${BENCH_DEVICES_ADD:-20}
tenant=${BENCH_DEVICES_TENANT:-5000}
count=${BENCH_DEVICES_COUNT:-50}

tmp=$(mktemp -d /tmp/smartmeter-bench-devices.XXXXXX)
# shellcheck source=bench/lib/pipeline.sh
. "$here/lib/pipeline.sh"
trap 'bench_cleanup; rm -rf "$tmp"' EXIT

bench_build meter-server
bench_services

now_ms() { date +%s%3N; }

python3 - "$fleet" "$tenant" > "$tmp/fleet.csv" << 'PY'
import sys
fleet, tenant = int(sys.argv[1]), int(sys.argv[2])
print("device_id,owner,name,site")
for n in range(fleet):
    owner = "tenant" if n < tenant else "admin"
    print(f"bench-d-{n:06d},{owner},Meter {n},site-{n % 50:02d}")
PY

# Starts meter-server on the database URL $1 (sets server_pid, api, token).
start_server() {
    local url=$1 port
    [ -s "$tmp/jwt.key" ] || head -c 48 /dev/urandom > "$tmp/jwt.key"
    chmod 600 "$tmp/jwt.key"
    port=$(python3 "$root/tests/lib/free_port.py")
    "$server" --db "$url" --mqtt "$MQTT_URL" --listen "127.0.0.1:$port" \
        --jwt-secret-file "$tmp/jwt.key" --log-level warn --rate-limit-address 0 \
        --rate-limit-user 0 --rate-limit-device 0 --max-connections-per-ip 0 \
        > "$tmp/server.log" 2>&1 &
    server_pid=$!
    bench_pids+=("$server_pid")
    api=http://127.0.0.1:$port
    local _
    for _ in $(seq 1 600); do
        curl -sf "$api/api/health" > /dev/null && break
        kill -0 "$server_pid" 2> /dev/null || break
        sleep 0.05
    done
    curl -sf "$api/api/health" > /dev/null \
        || { echo "meter-server did not start:" >&2; cat "$tmp/server.log" >&2; exit 1; }
}

login() { # user password-file -> token
    curl -sf "$api/api/login" -d "{\"username\":\"$1\",\"password\":\"$(cat "$2")\"}" |
        python3 -c 'import json,sys; print(json.load(sys.stdin)["token"])'
}

run_backend() {
    local backend=$1 url t0 t1
    echo
    echo "== $backend ($(bench_load))"
    if [ "$backend" = sqlite ]; then
        url=sqlite:$tmp/devices.db
        rm -f "$tmp/devices.db"*
    else
        "$root/tests/lib/services.sh" newdb "$tmp/svc" bench_devices
        url=$MYSQL_URL_BASE/bench_devices
    fi
    "$server" migrate --db "$url" > /dev/null
    printf 'bench-password-%s\n' "$RANDOM$RANDOM" > "$tmp/admin.pw"
    printf 'tenant-password-%s\n' "$RANDOM$RANDOM" > "$tmp/tenant.pw"
    "$server" user add admin --role admin --db "$url" < "$tmp/admin.pw" > /dev/null
    "$server" user add tenant --role user --db "$url" < "$tmp/tenant.pw" > /dev/null

    t0=$(now_ms)
    for n in $(seq 1 "$adds"); do
        "$server" device add "bench-add-$n" --owner admin --db "$url" > /dev/null 2>&1
    done
    t1=$(now_ms)
    local add_ms=$(((t1 - t0)))
    awk -v ms="$add_ms" -v n="$adds" -v f="$fleet" 'BEGIN {
        printf "  before: device add, %d devices one by one: %.1f ms each, %d devices would take %.0f s\n",
            n, ms / n, f, ms / n * f / 1000 }'

    t0=$(now_ms)
    "$server" device import "$tmp/fleet.csv" --db "$url" > "$tmp/secrets.csv" 2> "$tmp/import.log"
    t1=$(now_ms)
    echo "  after:  device import of $(wc -l < "$tmp/secrets.csv") devices in one transaction: $(((t1 - t0))) ms ($(awk -v ms=$((t1 - t0)) 'BEGIN { printf "%.1f", ms / 1000 }') s; aim < 60 s)"

    start_server "$url"
    token=$(login admin "$tmp/admin.pw")
    local tenant_token
    tenant_token=$(login tenant "$tmp/tenant.pw")
    local mid
    mid=$(curl -sf -H "Authorization: Bearer $token" "$api/api/devices?limit=1000&q=bench-d-02" |
        python3 -c 'import json,sys; print(json.load(sys.stdin)["next_cursor"])')
    echo "  GETs, one at a time on one connection:  label                          runs  median ms    p99 ms      bytes"
    python3 "$here/lib/latency.py" http "$api" "$token" "$count" --pid "$server_pid" \
        "page of 100 (first)" "/api/devices?limit=100" \
        "page of 100 (cursor mid-fleet)" "/api/devices?limit=100&cursor=$mid" \
        "page of 100, site=site-07" "/api/devices?limit=100&site=site-07" \
        "page of 100, q=eter 4999 (name search)" "/api/devices?limit=100&q=eter%204999" \
        "summary" "/api/devices/summary"
    python3 "$here/lib/latency.py" http "$api" "$tenant_token" "$count" --pid "$server_pid" \
        "tenant ($tenant devices): page of 100" "/api/devices?limit=100"
    python3 "$here/lib/latency.py" http "$api" "$tenant_token" 5 --pid "$server_pid" \
        "before: tenant full list (no limit)" "/api/devices"
    sleep 5
    echo "  meter-server RSS idle with $fleet devices: $(awk '/^VmRSS/ { printf "%.1f MB", $2 / 1024 }' "/proc/$server_pid/status")"
    # What the idle server (and its database) costs: CPU time over BENCH_DEVICES_IDLE_S of rest.
    local idle_s=${BENCH_DEVICES_IDLE_S:-10} db_pid= s0 s1 d0 d1
    [ "$backend" = mysql ] && db_pid=$(cat "$(cat "$tmp/svc/rundir")/mysql/mysqld.pid" 2> /dev/null || true)
    s0=$(ticks "$server_pid") d0=$(ticks "$db_pid")
    sleep "$idle_s"
    s1=$(ticks "$server_pid") d1=$(ticks "$db_pid")
    awk -v s=$((s1 - s0)) -v d=$((d1 - d0)) -v t="$idle_s" -v hz="$(getconf CLK_TCK)" -v n="$fleet" \
        -v db="$db_pid" 'BEGIN { printf "  CPU idle with %d devices, %d s: meter-server %.0f %% of a core%s\n", n, t,
        s / hz / t * 100, db == "" ? "" : sprintf(", mariadbd %.0f %%", d / hz / t * 100) }'
    bench_server_stop
}

# CPU time (user + system clock ticks) of pid so far; 0 without one.
ticks() {
    if [ -n "$1" ] && [ -r "/proc/$1/stat" ]; then sed 's/^.*) //' "/proc/$1/stat" | awk '{ print $12 + $13 }'; else echo 0; fi
}

run_backend sqlite
run_backend mysql
