#!/usr/bin/env bash
# Terminals: meter-server's terminal gateway at scale, and its ingest rate against the MQTT
# path's on the same machine, in one run (bench/README.md, "Terminals").
#
#   bench/terminals.sh
#
# Starts a throwaway MariaDB and mosquitto, registers the devices and starts meter-server
# with --terminal-listen. Then:
#   1. ingest rate: BENCH_TERMINALS_RATE_READINGS readings over MQTT (bench_loadgen, QoS 1,
#      BENCH_TERMINALS_RATE_DEVICES devices, 4 connections) and then as many over the
#      terminal link (bench_terminals_load --mode rate, one connection per device, a window
#      of BENCH_TERMINALS_WINDOW readings in flight each); each rate is readings committed
#      per second from the first send to the last commit (GET /api/stats, polled), and
#      the ratio terminal / MQTT;
#   2. scale: a fresh server process; BENCH_TERMINALS connections (default 10,000, fewer when
#      the descriptor limit does not allow it: the script raises its soft limit to the hard
#      one), first idle for 8 s (RSS per idle terminal), then sending one reading each every
#      BENCH_TERMINALS_INTERVAL_MS (10 s) in two halves: the first half for 20 s, then both,
#      the second for BENCH_TERMINALS_SECONDS (60) once open. Prints the server's RSS with
#      each half sending and the second half's growth per connection (the marginal cost of a
#      terminal), all connections' growth over the warm-up of 100 terminals as a second
#      figure, the CPU with every terminal sending (% of one core), and the latency from a
#      reading's send to the ACK that follows its commit (p50, p99, max).
# Asserts nothing. Environment: BENCH_BUILD_DIR (build/bench) and the variables above.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/.." && pwd)
conns=${BENCH_TERMINALS:-10000}
seconds=${BENCH_TERMINALS_SECONDS:-60}
interval_ms=${BENCH_TERMINALS_INTERVAL_MS:-10000}
rate_devices=${BENCH_TERMINALS_RATE_DEVICES:-100}
rate_total=${BENCH_TERMINALS_RATE_READINGS:-100000}
window=${BENCH_TERMINALS_WINDOW:-32}
per_device=$(((rate_total + rate_devices - 1) / rate_devices))
rate_total=$((per_device * rate_devices))

# Each side of a connection holds a descriptor; the server's database and HTTP need a few more.
want=$((conns + 1024))
hard=$(ulimit -Hn)
if [ "$hard" != unlimited ] && [ "$hard" -lt "$want" ]; then
    conns=$((hard - 1024))
    want=$hard
    echo "  the descriptor limit ($hard) allows $conns connections"
fi
ulimit -n "$want"

tmp=$(mktemp -d /tmp/smartmeter-bench-terminals.XXXXXX)
# shellcheck source=bench/lib/pipeline.sh
. "$here/lib/pipeline.sh"
trap 'bench_cleanup; rm -rf "$tmp"' EXIT

bench_build meter-server bench_loadgen bench_terminals_load
tload=$build/bench/bench_terminals_load
bench_services
db=bench_terminals
bench_newdb "$db"
bench_add_devices "$db" bench-m- 1 "$rate_devices"
# The terminals' devices, with secrets the load generator derives from their numbers.
count=$((conns > rate_devices ? conns : rate_devices))
python3 - "$count" > "$tmp/terminals.sql" << 'PY'
import hashlib, sys, time
count, now = int(sys.argv[1]), int(time.time() * 1000)
rows = [f"('bench-t-{n}','{hashlib.blake2b(f'bench-secret-{n}'.encode(), digest_size=32).hexdigest()}',{now},'bench-t-{n}')"
        for n in range(1, count + 1)]
# search_key: the lowered id of a device without a name (server/store/ops.h)
print("INSERT INTO devices (device_id, secret_hash, created_ms, search_key) VALUES")
print(",\n".join(rows) + ";")
PY
sql "$db" < "$tmp/terminals.sql"
tport=$(python3 "$root/tests/lib/free_port.py")
targs=(--terminal-listen "127.0.0.1:$tport" --terminal-max-connections $((conns + 100)))
bench_server_start "$db" "${targs[@]}"
echo "  meter-server on $api, terminals on $tport; $rate_devices MQTT devices, $count terminal devices"

rss_kib() { awk '/^VmRSS:/ { print $2 }' "/proc/$1/status"; }
cpu_ticks() { awk '{ print $14 + $15 }' "/proc/$1/stat"; }

echo
echo "== 1. ingest rate: $rate_total readings over MQTT, then over the terminal link"
echo "  before: $(bench_load)"
bench_wait_stored "$rate_total" "$tmp/stored-mqtt.txt"
"$loadgen" --url "$MQTT_URL" --prefix bench-m- --devices "$rate_devices" --readings "$per_device" \
    --connections 4 > "$tmp/loadgen.txt"
wait "$poller_pid" || true
bench_wait_stored $((2 * rate_total)) "$tmp/stored-term.txt"
"$tload" --port "$tport" --prefix bench-t- --count "$rate_devices" --mode rate \
    --readings "$per_device" --window "$window" > "$tmp/tload-rate.txt" ||
    echo "  the terminal load generator reported failures: $(cat "$tmp/tload-rate.txt")"
wait "$poller_pid" || true
echo "  after:  $(bench_load)"
echo "  mqtt:     $(cat "$tmp/loadgen.txt")"
echo "            $(cat "$tmp/stored-mqtt.txt")"
echo "  terminal: $(grep '^end' "$tmp/tload-rate.txt")"
echo "            $(cat "$tmp/stored-term.txt")"
awk -v n="$rate_total" -v mf="$(kv "$tmp/loadgen.txt" first_publish_ms)" \
    -v ml="$(kv "$tmp/stored-mqtt.txt" last_commit_ms)" \
    -v tf="$(grep '^end' "$tmp/tload-rate.txt" | tr ' ' '\n' | awk -F= '$1 == "first_send_ms" { print $2 }')" \
    -v tl="$(kv "$tmp/stored-term.txt" last_commit_ms)" 'BEGIN {
    m = n / ((ml - mf) / 1000); t = n / ((tl - tf) / 1000)
    printf "\n%-58s %10s %10s\n", "", "readings/s", "seconds"
    printf "%-58s %10.0f %10.2f\n", "MQTT: first publish to last commit", m, (ml - mf) / 1000
    printf "%-58s %10.0f %10.2f\n", "terminal link: first send to last commit", t, (tl - tf) / 1000
    printf "ratio terminal / MQTT: %.2f\n", t / m
}'

echo
echo "== 2. scale: $conns terminals, one reading each every $((interval_ms / 1000)) s, ${seconds} s"
bench_server_stop
token=
bench_server_start "$db" "${targs[@]}"
# Warm-up: 100 terminals for 5 s open what is opened once (the gateway's database
# connections, caches and buffers), so the figures below are per connection.
"$tload" --port "$tport" --prefix bench-t- --count 100 --mode steady --interval-ms 1000 \
    --seconds 5 > "$tmp/tload-warm.txt" || true
sleep 2
rss0=$(rss_kib "$server_pid")
echo "  server after a warm-up of 100 terminals, all gone: RSS $rss0 KiB; before: $(bench_load)"
# Idle terminals: every connection open, no readings.
"$tload" --port "$tport" --prefix bench-t- --count "$conns" --mode steady \
    --interval-ms 1000000000 --seconds 8 > "$tmp/tload-idle.txt" &
gen_pid=$!
bench_pids+=("$gen_pid")
for _ in $(seq 1 1200); do
    grep -q '^open' "$tmp/tload-idle.txt" 2> /dev/null && break
    kill -0 "$gen_pid" 2> /dev/null || break
    sleep 0.5
done
sleep 3
rss_idle=$(rss_kib "$server_pid")
echo "  $(grep '^open' "$tmp/tload-idle.txt"): server RSS $rss_idle KiB"
wait "$gen_pid" || true
sleep 3
# Sending terminals in two halves: the second half's cost is the marginal one per connection,
# clear of what grows once whatever the number of terminals (caches and prepared statements
# sized by the batches a busier stream forms).
half=$((conns / 2))
rest=$((conns - half))
settle=20 # seconds after a half opened: two readings from each of its terminals
start_half() { # first count seconds out
    "$tload" --port "$tport" --prefix bench-t- --first "$1" --count "$2" --mode steady \
        --interval-ms "$interval_ms" --seconds "$3" > "$4" &
    gen_pid=$!
    bench_pids+=("$gen_pid")
    local _
    for _ in $(seq 1 1200); do
        grep -q '^open' "$4" 2> /dev/null && break
        kill -0 "$gen_pid" 2> /dev/null || break
        sleep 0.5
    done
    grep '^open' "$4" > /dev/null || { echo "the connections did not open" >&2; exit 1; }
}
start_half 1 "$half" $((settle + 10 + seconds + 5)) "$tmp/tload-a.txt"
gen_a=$gen_pid
sleep "$settle"
rss_half=$(rss_kib "$server_pid")
echo "  $half terminals sending: server RSS $rss_half KiB"
start_half $((half + 1)) "$rest" "$seconds" "$tmp/tload-b.txt"
gen_b=$gen_pid
sleep 5
rss1=$(rss_kib "$server_pid")
c1=$(cpu_ticks "$server_pid")
w1=$(date +%s%3N)
sleep $((settle - 5))
rss_full=$(rss_kib "$server_pid")
sessions=$(curl -sf -H "Authorization: Bearer $token" "$api/api/stats" |
    python3 -c 'import json,sys; print(json.load(sys.stdin)["terminals"]["sessions"])')
echo "  $conns terminals sending: server RSS $rss_full KiB, $sessions sessions open"
wait "$gen_b" || echo "  the load generator reported failures"
c2=$(cpu_ticks "$server_pid")
w2=$(date +%s%3N)
rss2=$(rss_kib "$server_pid")
wait "$gen_a" || echo "  the load generator reported failures"
echo "  after: $(bench_load)"
echo "  first half:  $(grep '^end' "$tmp/tload-a.txt")"
echo "  second half: $(grep '^end' "$tmp/tload-b.txt")"
field() { grep '^end' "$1" | tr ' ' '\n' | awk -F= -v k="$2" '$1 == k { print $2 }'; }
awk -v n="$conns" -v h="$half" -v rest="$rest" -v s="$sessions" -v r0="$rss0" -v ri="$rss_idle" \
    -v rh="$rss_half" -v rf="$rss_full" -v r1="$rss1" -v r2="$rss2" \
    -v c1="$c1" -v c2="$c2" -v w1="$w1" -v w2="$w2" -v hz="$(getconf CLK_TCK)" \
    -v l50="$(field "$tmp/tload-b.txt" latency_p50_ms)" -v l99="$(field "$tmp/tload-b.txt" latency_p99_ms)" \
    -v o50="$(field "$tmp/tload-b.txt" open_latency_p50_ms)" \
    -v o99="$(field "$tmp/tload-b.txt" open_latency_p99_ms)" \
    -v lmax="$(field "$tmp/tload-b.txt" latency_max_ms)" 'BEGIN {
    printf "\nsessions open (server): %d of %d\n", s, n
    printf "server RSS: after the warm-up %d KiB, %d idle terminals %d KiB, %d sending %d KiB, %d sending %d KiB, at the end %d KiB\n", r0, n, ri, h, rh, n, rf, r2
    printf "RSS per idle connection: %.0f bytes\n", (ri - r0) * 1024 / n
    printf "RSS per sending connection, the second %d over the first %d: %.0f bytes (aim < 4096)\n", rest, h, (rf - rh) * 1024 / rest
    printf "RSS per sending connection, all %d over the warm-up: %.0f bytes (fixed growth included)\n", n, (rf - r0) * 1024 / n
    printf "server CPU with all %d sending: %.1f %% of one core (%.1f s)\n", n, (c2 - c1) / hz * 100 / ((w2 - w1) / 1000), (w2 - w1) / 1000
    printf "reading sent -> ACK after commit, second half: p50 %s ms, p99 %s ms, max %s ms (all); p50 %s ms, p99 %s ms once all were open\n", l50, l99, lmax, o50, o99
}'
