# shellcheck shell=bash
# Shared steps of the pipeline benchmarks (ingest.sh, history.sh, memory.sh); sourced, not run.
#
# The caller sets: root (the repository), tmp (a scratch folder it removes), and
# runs bench_cleanup from its EXIT trap. Functions:
#   bench_build TARGET...          -O2 build of the targets in $build (build/bench)
#   bench_services                 throwaway MariaDB (tests/lib/services.sh) and a
#                                  benchmark mosquitto: sets MQTT_URL, MQTT_PORT and what
#                                  services.sh's env gives (MYSQL_URL_BASE, MYSQL_SOCKET)
#   sql [ARGS]                     the mariadb client as root on that MariaDB
#   bench_newdb DB                 an empty database DB (a MariaDB name or sqlite:FILE),
#                                  migrated, with user admin (and a new admin password)
#   bench_add_devices DB PREFIX FIRST COUNT
#                                  registers PREFIX<FIRST..FIRST+COUNT-1>, owned by admin,
#                                  in one INSERT the way `device add` stores them
#   bench_server_start DB [ARGS]   starts meter-server (default options) on DB (on port
#                                  server_port when set, else a free one); sets
#                                  server_pid, api (its base URL) and, unless token is
#                                  set already (a restart on the same database), token
#                                  (admin's JWT)
#   bench_server_stop              SIGTERM and wait
#   bench_wait_stored TARGET OUT   starts bench/lib/wait_stored.py on $api in the
#                                  background (pid in poller_pid) and returns once it polls
#   bench_stat KEY                 /api/stats mqtt.KEY
#   bench_load                     "1-minute load average / cores", for the record

: "${root:?}" "${tmp:?}"
build=${BENCH_BUILD_DIR:-$root/build/bench}
bench_pids=()
server_pid=

bench_cleanup() {
    for p in "${bench_pids[@]}"; do kill "$p" 2>/dev/null || true; done
    wait 2>/dev/null || true
    if [ -s "$tmp/broker/mosquitto.pid" ]; then kill "$(cat "$tmp/broker/mosquitto.pid")" 2>/dev/null || true; fi
    "$root/tests/lib/services.sh" stop "$tmp/svc" > /dev/null 2>&1 || true
}

bench_build() {
    echo "== build ($build, -O2)"
    cmake -S "$root" -B "$build" -DCMAKE_BUILD_TYPE=RelWithDebInfo -DSMARTMETER_BUILD_TESTS=OFF \
        -DSMARTMETER_BUILD_SERVER=ON -DSMARTMETER_BUILD_BENCH=ON > "$tmp/cmake.log" 2>&1 \
        || { cat "$tmp/cmake.log" >&2; exit 1; }
    cmake --build "$build" -j"$(nproc)" --target "$@" > "$tmp/build.log" 2>&1 \
        || { cat "$tmp/build.log" >&2; exit 1; }
    server=$build/server/meter-server
    # shellcheck disable=SC2034 # for the caller
    loadgen=$build/bench/bench_loadgen
}

# MariaDB from the test services. The broker is our own, started like the tests' one
# but with no cap on the messages it queues per client (max_queued_messages 0; the
# default, 1000, drops messages for any subscriber slower than the publishers, see
# docs/protocol.md) and no persistence, so the figures are the broker's and the
# server's, not a drop count. BENCH_MQTT_INFLIGHT sets max_inflight_messages (unset:
# mosquitto's default, 20 unacknowledged QoS 1 messages per client; 0: no limit).
bench_services() {
    echo "== services"
    "$root/tests/lib/services.sh" start "$tmp/svc" > /dev/null
    # shellcheck disable=SC1091
    . "$tmp/svc/env"
    local port
    port=$(python3 "$root/tests/lib/free_port.py")
    mkdir -p "$tmp/broker"
    cat > "$tmp/broker/mosquitto.conf" << CONF
listener $port 127.0.0.1
allow_anonymous true
max_queued_messages 0
${BENCH_MQTT_INFLIGHT:+max_inflight_messages $BENCH_MQTT_INFLIGHT}
pid_file $tmp/broker/mosquitto.pid
log_dest file $tmp/broker/mosquitto.log
CONF
    if [ "$(id -u)" = 0 ]; then echo "user root" >> "$tmp/broker/mosquitto.conf"; fi
    mosquitto -c "$tmp/broker/mosquitto.conf" -d
    local _
    for _ in $(seq 1 50); do
        python3 "$root/tests/lib/free_port.py" --check "$port" && break
        sleep 0.2
    done
    python3 "$root/tests/lib/free_port.py" --check "$port" \
        || { echo "mosquitto did not start" >&2; cat "$tmp/broker/mosquitto.log" >&2; exit 1; }
    MQTT_URL=tcp://127.0.0.1:$port
    MQTT_PORT=$port
    echo "  mariadb on $MYSQL_PORT, mosquitto on $MQTT_PORT (max_queued_messages 0${BENCH_MQTT_INFLIGHT:+, max_inflight_messages $BENCH_MQTT_INFLIGHT})"
}

sql() { mariadb --no-defaults -uroot -S "$MYSQL_SOCKET" "$@"; }

# A database is a MariaDB database's name or a SQLite URL (sqlite:FILE).
bench_db_url() {
    case $1 in
    sqlite:*) echo "$1" ;;
    *) echo "$MYSQL_URL_BASE/$1" ;;
    esac
}

bench_newdb() {
    local db=$1
    case $db in
    sqlite:*) rm -f "${db#sqlite:}" ;;
    *) "$root/tests/lib/services.sh" newdb "$tmp/svc" "$db" ;;
    esac
    "$server" migrate --db "$(bench_db_url "$db")" > /dev/null
    printf 'bench-password-%s\n' "$RANDOM$RANDOM" > "$tmp/admin.pw"
    "$server" user add admin --role admin --db "$(bench_db_url "$db")" < "$tmp/admin.pw" > /dev/null
    token= # a new database: a new login
}

# `meter-server device add` opens the database and commits once per device (seconds for
# thousands); this writes the same rows in one statement: a random 64-hex-digit secret
# per device, stored as the hex BLAKE2b-256 of the secret (server/auth/auth.c), and the owner
# binding in user_devices. The secrets are not kept: MQTT ingest does not use them.
bench_add_devices() {
    local db=$1 prefix=$2 first=$3 count=$4
    python3 - "$prefix" "$first" "$count" > "$tmp/devices.sql" << 'PY'
import hashlib, secrets, sys, time
prefix, first, count = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
now = int(time.time() * 1000)
rows = []
for n in range(first, first + count):
    secret = secrets.token_hex(32)
    h = hashlib.blake2b(secret.encode(), digest_size=32).hexdigest()
    rows.append(f"('{prefix}{n}','{h}',{now},'{prefix.lower()}{n}')")
# search_key and the binding's device_id: the keys of the device list (server/store/ops.h)
print("INSERT INTO devices (device_id, secret_hash, created_ms, search_key) VALUES")
print(",\n".join(rows) + ";")
print("INSERT INTO user_devices (user_id, device_pk, created_ms, device_id)")
print(f"  SELECT u.id, d.id, {now}, d.device_id FROM users u JOIN devices d WHERE u.username = 'admin'")
print(f"  AND d.device_id LIKE '{prefix}%' AND d.id NOT IN (SELECT device_pk FROM user_devices);")
PY
    case $db in
    sqlite:*) sqlite3 "${db#sqlite:}" < "$tmp/devices.sql" ;;
    *) sql "$db" < "$tmp/devices.sql" ;;
    esac
}

bench_server_start() {
    local db=$1
    shift
    [ -s "$tmp/jwt.key" ] || head -c 48 /dev/urandom > "$tmp/jwt.key"
    chmod 600 "$tmp/jwt.key"
    local port=${server_port:-}
    [ -n "$port" ] || port=$(python3 "$root/tests/lib/free_port.py")
    server_port=
    local log=$tmp/server-${db//[^A-Za-z0-9_]/_}.log
    "$server" --db "$(bench_db_url "$db")" --mqtt "$MQTT_URL" --listen "127.0.0.1:$port" \
        --jwt-secret-file "$tmp/jwt.key" --log-level warn --rate-limit-address 0 \
        --rate-limit-user 0 --rate-limit-device 0 --max-connections-per-ip 0 "$@" \
        > "$log" 2>&1 &
    server_pid=$!
    bench_pids+=("$server_pid")
    api=http://127.0.0.1:$port
    local _
    for _ in $(seq 1 400); do
        curl -sf "$api/api/health" > /dev/null && break
        kill -0 "$server_pid" 2> /dev/null || break
        sleep 0.05
    done
    curl -sf "$api/api/health" > /dev/null \
        || { echo "meter-server did not start:" >&2; cat "$log" >&2; exit 1; }
    [ -z "${token:-}" ] || return 0
    token=$(curl -sf "$api/api/login" \
        -d "{\"username\":\"admin\",\"password\":\"$(cat "$tmp/admin.pw")\"}" |
        python3 -c 'import json,sys; print(json.load(sys.stdin)["token"])')
}

bench_server_stop() {
    [ -n "$server_pid" ] || return 0
    kill -TERM "$server_pid" 2> /dev/null || true
    wait "$server_pid" 2> /dev/null || true
    local keep=() p
    for p in "${bench_pids[@]}"; do [ "$p" = "$server_pid" ] || keep+=("$p"); done
    bench_pids=("${keep[@]}")
    server_pid=
}

bench_wait_stored() {
    local target=$1 out=$2
    rm -f "$tmp/poller.ready"
    python3 "$root/bench/lib/wait_stored.py" "$api" "$token" "$target" --ready "$tmp/poller.ready" \
        > "$out" &
    poller_pid=$!
    bench_pids+=("$poller_pid")
    local _
    for _ in $(seq 1 600); do
        [ -e "$tmp/poller.ready" ] && return 0
        sleep 0.1
    done
    echo "wait_stored.py did not start" >&2
    exit 1
}

bench_stat() {
    curl -sf -H "Authorization: Bearer $token" "$api/api/stats" |
        python3 -c "import json,sys; print(json.load(sys.stdin)['mqtt']['$1'])"
}

bench_load() {
    awk -v n="$(nproc)" '{ printf "load average %s %s %s on %d cores", $1, $2, $3, n }' /proc/loadavg
}

# The value of key K in a file of key=value pairs separated by spaces (what bench_loadgen and
# wait_stored.py print).
kv() { tr ' ' '\n' < "$1" | awk -F= -v k="$2" '$1 == k { print $2 }'; }
# The median of the numbers on stdin, one a line.
median() { sort -n | awk '{ v[NR] = $1 } END { if (NR % 2) print v[(NR + 1) / 2]; else print (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }

# Publishes each file of DIR (named by a device id, a payload a line, as bench_loadgen
# --lines writes them) with its own `mosquitto_pub -l -q 1` at nice NICE (default 0), all
# at once, and waits for them; prints the wall-clock epoch ms of the start.
bench_publish_lines() { # DIR [NICE]
    local f pids=() t0
    t0=$(date +%s%3N)
    for f in "$1"/*; do
        nice -n "${2:-0}" mosquitto_pub -h 127.0.0.1 -p "$MQTT_PORT" -q 1 -l \
            -t "meters/${f##*/}/telemetry" < "$f" &
        pids+=("$!")
    done
    for f in "${pids[@]}"; do wait "$f" || { echo "mosquitto_pub failed" >&2; exit 1; }; done
    echo "$t0"
}
