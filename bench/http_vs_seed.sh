#!/usr/bin/env bash
# HTTP against the seed's own back end (the Flask peer), side by side in one run
# on the same MariaDB with the same data (bench/README.md, "HTTP against the seed").
#
#   bench/http_vs_seed.sh
#
# Starts a throwaway MariaDB and mosquitto on free loopback ports, loads 100
# devices x 1,000 readings into both schemas (ours and the seed's), starts
# meter-server and the peer (gunicorn -w 2), then measures with wrk:
#   1. GET of one device's 1,000 newest readings (ours: ?limit=1000; the seed
#      returns every row of the device, which is 1,000 here);
#   2. POST of one reading per request (ours with the device's secret and a seq),
#      with 16 connections, and again with 256: many meters uploading at once
#      (our uploads share commits, so our throughput grows with the uploads in
#      flight; the peer's two sync workers take one request each).
# Prints requests/s and p99 latency for each side and the ratios.
# Environment: BENCH_BUILD_DIR (build/bench), BENCH_HTTP_SECONDS (10 per run),
# BENCH_HTTP_CONNECTIONS (16), BENCH_HTTP_MANY_CONNECTIONS (256), BENCH_HTTP_THREADS (2),
# SEED_PEER_DIR (the peer's
# folder; default: peers/seed_flask beside this repository's parent).
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/.." && pwd)
build=${BENCH_BUILD_DIR:-$root/build/bench}
secs=${BENCH_HTTP_SECONDS:-10}
conns=${BENCH_HTTP_CONNECTIONS:-16}
many=${BENCH_HTTP_MANY_CONNECTIONS:-256}
wthreads=${BENCH_HTTP_THREADS:-2}
peer=${SEED_PEER_DIR:-$root/../shared/peers/seed_flask}
[ -f "$peer/app.py" ] || { echo "http_vs_seed: the seed peer is not at $peer (set SEED_PEER_DIR)" >&2; exit 2; }

sudo=()
[ "$(id -u)" = 0 ] || sudo=(sudo)
need=()
for p in wrk gunicorn python3-flask python3-mysqldb python3-jwt curl; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || need+=("$p")
done
if [ ${#need[@]} -gt 0 ]; then
    echo "== installing ${need[*]}"
    "${sudo[@]}" apt-get install -y -qq --no-install-recommends "${need[@]}" > /dev/null
fi

tmp=$(mktemp -d /tmp/smartmeter-bench-http.XXXXXX)
pids=()
cleanup() {
    for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
    wait 2>/dev/null || true
    "$root/tests/lib/services.sh" stop "$tmp/svc" > /dev/null 2>&1 || true
    rm -rf "$tmp"
}
trap cleanup EXIT

echo "== build ($build, -O2)"
cmake -S "$root" -B "$build" -DCMAKE_BUILD_TYPE=RelWithDebInfo -DSMARTMETER_BUILD_TESTS=OFF \
    -DSMARTMETER_BUILD_SERVER=ON -DSMARTMETER_BUILD_BENCH=ON > "$tmp/cmake.log" 2>&1 \
    || { cat "$tmp/cmake.log" >&2; exit 1; }
cmake --build "$build" -j"$(nproc)" --target meter-server > "$tmp/build.log" 2>&1 \
    || { cat "$tmp/build.log" >&2; exit 1; }
server=$build/server/meter-server

echo "== services"
"$root/tests/lib/services.sh" start "$tmp/svc"
# shellcheck disable=SC1091
. "$tmp/svc/env"
sql() { mariadb --no-defaults -uroot -S "$MYSQL_SOCKET" "$@"; }
"$root/tests/lib/services.sh" newdb "$tmp/svc" bench_ours
"$root/tests/lib/services.sh" newdb "$tmp/svc" bench_seed
db_user=${MYSQL_URL_BASE#mysql://}
db_user=${db_user%%@*}
db_pass=${db_user#*:}
db_user=${db_user%%:*}

echo "== data: 100 devices x 1000 readings in each schema"
now_s=$(date +%s)
sql bench_seed < "$peer/schema.sql"
sql bench_seed -e "
    INSERT INTO devices (device_id, owner_id, balance) SELECT CONCAT('bench-', seq), 1, 0 FROM seq_1_to_100;
    INSERT INTO data_records (device_id, timestamp, voltage, current)
        SELECT CONCAT('bench-', d.seq), FROM_UNIXTIME($now_s - 1000 + s.seq), 230 + (s.seq % 7) / 10,
               5 + (s.seq % 5) / 10
        FROM seq_1_to_100 d JOIN seq_1_to_1000 s;"

ours_url="$MYSQL_URL_BASE/bench_ours"
"$server" migrate --db "$ours_url" > /dev/null
printf 'bench-password-%s\n' "$RANDOM$RANDOM" > "$tmp/admin.pw"
"$server" user add admin --role admin --db "$ours_url" < "$tmp/admin.pw" > /dev/null
for i in $(seq 1 100); do
    "$server" device add "bench-$i" --owner admin --db "$ours_url" > "$tmp/secret-$i"
done
"$server" device add bench-post --owner admin --db "$ours_url" > "$tmp/secret-post"
secret_post=$(grep -Eo '[A-Za-z0-9_-]{20,}' "$tmp/secret-post" | tail -1)
sql bench_ours -e "
    INSERT INTO readings (device_pk, seq, ts_ms, received_ms, voltage, current, power_w, pf, freq_hz,
                          energy_import_mwh, boot)
        SELECT d.id, s.seq, ($now_s - 1000 + s.seq) * 1000, ($now_s - 1000 + s.seq) * 1000,
               230 + (s.seq % 7) / 10, 5 + (s.seq % 5) / 10, 1150 + s.seq % 13, 0.98, 50.0,
               s.seq * 320, 1
        FROM devices d JOIN seq_1_to_1000 s WHERE d.device_id LIKE 'bench-%' AND d.device_id <> 'bench-post';"
echo "  ours: $(sql -N bench_ours -e 'SELECT COUNT(*) FROM readings') readings; seed: $(sql -N bench_seed -e 'SELECT COUNT(*) FROM data_records') data_records"

echo "== start meter-server and the seed peer (gunicorn -w 2)"
# One load generator on one address: the per-address and per-user limits would measure themselves.
bench_unlimited="--rate-limit-address 0 --rate-limit-user 0 --rate-limit-device 0 --max-connections-per-ip 0"
head -c 48 /dev/urandom > "$tmp/jwt.key"
chmod 600 "$tmp/jwt.key"
ours_port=$(python3 "$root/tests/lib/free_port.py")
seed_port=$(python3 "$root/tests/lib/free_port.py")
"$server" --db "$ours_url" --mqtt "$MQTT_URL" --listen "127.0.0.1:$ours_port" \
    --jwt-secret-file "$tmp/jwt.key" --log-level warn $bench_unlimited > "$tmp/server.log" 2>&1 &
pids+=($!)
(cd "$peer" && DB_HOST=127.0.0.1 DB_PORT=$MYSQL_PORT DB_USER=$db_user DB_PASS=$db_pass \
    DB_NAME=bench_seed PORT=$seed_port WORKERS=2 exec ./run.sh) > "$tmp/peer.log" 2>&1 &
pids+=($!)
for _ in $(seq 1 100); do
    curl -sf "http://127.0.0.1:$ours_port/api/health" > /dev/null &&
        curl -s -o /dev/null "http://127.0.0.1:$seed_port/api/device/data/bench-1" && break
    sleep 0.2
done
token=$(curl -sf "http://127.0.0.1:$ours_port/api/login" \
    -d "{\"username\":\"admin\",\"password\":\"$(cat "$tmp/admin.pw")\"}" |
    python3 -c 'import json,sys; print(json.load(sys.stdin)["token"])')

rows() { python3 -c 'import json,sys; print(len(json.load(sys.stdin)))'; }
ours_get="http://127.0.0.1:$ours_port/api/device/data/bench-1?limit=1000"
seed_get="http://127.0.0.1:$seed_port/api/device/data/bench-1"
n_ours=$(curl -sf -H "Authorization: Bearer $token" "$ours_get" | rows)
n_seed=$(curl -sf "$seed_get" | rows)
echo "  one GET returns $n_ours rows (ours) and $n_seed rows (seed)"
[ "$n_ours" = 1000 ] && [ "$n_seed" = 1000 ] || { echo "http_vs_seed: expected 1000 rows from each" >&2; exit 1; }

# wrk prints "Requests/sec: N" and, with --latency, " 99%  12.34ms".
run_wrk() { # label connections url script args...
    local label=$1 c=$2 url=$3 script=$4
    shift 4
    wrk -t"$wthreads" -c"$c" -d"${secs}s" --latency -s "$script" "$url" -- "$@" > "$tmp/wrk-$label.txt" 2>&1
    local rps p99 bad
    rps=$(awk '/^Requests\/sec:/ { print $2 }' "$tmp/wrk-$label.txt")
    p99=$(awk '$1 == "99%" { v = $2; if (v ~ /us$/) { sub(/us$/, "", v); v /= 1000 }
        else if (v ~ /ms$/) sub(/ms$/, "", v); else if (v ~ /s$/) { sub(/s$/, "", v); v *= 1000 }
        print v }' "$tmp/wrk-$label.txt")
    bad=$(awk '/Non-2xx or 3xx responses:/ { print $NF }' "$tmp/wrk-$label.txt")
    if [ -n "$bad" ]; then
        echo "http_vs_seed: $label: $bad answers were not 2xx" >&2
        cat "$tmp/wrk-$label.txt" >&2
        exit 1
    fi
    printf '%s %s\n' "$rps" "$p99"
}

echo "== GET 1,000 rows of one device (wrk -t$wthreads -c$conns -d${secs}s)"
read -r g_ours g_ours_p99 < <(run_wrk get-ours "$conns" "$ours_get" "$here/lib/get_auth.lua" "$token")
read -r g_seed g_seed_p99 < <(run_wrk get-seed "$conns" "$seed_get" "$here/lib/get_auth.lua")
post_url_ours="http://127.0.0.1:$ours_port/api/device/data"
post_url_seed="http://127.0.0.1:$seed_port/api/device/data"
echo "== POST one reading per request (wrk -t$wthreads -c$conns -d${secs}s)"
read -r p_ours p_ours_p99 < <(run_wrk post-ours "$conns" "$post_url_ours" \
    "$here/lib/post_reading.lua" bench-post "$secret_post" 1)
read -r p_seed p_seed_p99 < <(run_wrk post-seed "$conns" "$post_url_seed" \
    "$here/lib/post_reading.lua" bench-post "" 1)
echo "== POST one reading per request, many meters at once (wrk -t$wthreads -c$many -d${secs}s)"
read -r m_ours m_ours_p99 < <(run_wrk post-many-ours "$many" "$post_url_ours" \
    "$here/lib/post_reading.lua" bench-post "$secret_post" 2)
read -r m_seed m_seed_p99 < <(run_wrk post-many-seed "$many" "$post_url_seed" \
    "$here/lib/post_reading.lua" bench-post "" 2)
answered=$(awk '$2 == "requests" && $3 == "in" { n += $1 } END { print n + 0 }' \
    "$tmp/wrk-post-ours.txt" "$tmp/wrk-post-many-ours.txt")
stored=$(sql -N bench_ours -e "SELECT COUNT(*) FROM readings r JOIN devices d ON d.id = r.device_pk WHERE d.device_id = 'bench-post'")

awk -v go="$g_ours" -v gop="$g_ours_p99" -v gs="$g_seed" -v gsp="$g_seed_p99" \
    -v po="$p_ours" -v pop="$p_ours_p99" -v ps="$p_seed" -v psp="$p_seed_p99" -v st="$stored" \
    -v mo="$m_ours" -v mop="$m_ours_p99" -v ms="$m_seed" -v msp="$m_seed_p99" -v c="$conns" -v mc="$many" \
    -v an="$answered" 'BEGIN {
    printf "\n%-28s %12s %10s %12s %10s %8s %6s\n", "", "ours req/s", "p99 ms", "seed req/s", "p99 ms", "ratio", "goal"
    printf "%-28s %12.0f %10.2f %12.1f %10.2f %7.1fx %5s\n", "GET 1,000 rows, " c " conns", go, gop, gs, gsp, go / gs, ">=30"
    printf "%-28s %12.0f %10.2f %12.1f %10.2f %7.1fx %5s\n", "POST one reading, " c " conns", po, pop, ps, psp, po / ps, ""
    printf "%-28s %12.0f %10.2f %12.1f %10.2f %7.1fx %5s\n", "POST one reading, " mc " conns", mo, mop, ms, msp, mo / ms, ">=20"
    printf "ours: %d uploads answered 200 in the two POST runs, %d readings stored\n", an, st
}'
