#!/usr/bin/env bash
# Ingest throughput: meter-server's committed rate against the broker's own drain rate
# for the same stream, side by side in one run (bench/README.md, "Ingest").
#
#   bench/ingest.sh
#
# Starts a throwaway MariaDB and mosquitto on free loopback ports, registers
# BENCH_INGEST_DEVICES devices and starts meter-server with its default options.
# A second subscriber, mosquitto_sub -q 1 with a persistent session of its own,
# reads the same telemetry. bench_loadgen then publishes BENCH_INGEST_READINGS
# readings (one JSON object per message, QoS 1, seq and energy increasing per device)
# as fast as the broker takes them. Prints:
#   - the publishers' rate (first publish to last PUBACK);
#   - the broker's drain rate: messages per second mosquitto_sub received, first to last;
#   - the server's committed rate: readings stored per second from the first publish to
#     the last commit (GET /api/stats, polled every 50 ms);
#   - the ratio server / broker (the aim: >= 0.9).
# When the publishers are slower than both subscribers, that ratio only says the server
# keeps up. So a second phase measures each consumer's own ceiling: with meter-server
# and mosquitto_sub stopped (both have persistent sessions), the same number of readings
# is published again and waits queued in the broker; then both start together and each
# drains its backlog. Printed: each one's rate from its start to its last message or
# commit, and the ratio.
# Environment: BENCH_BUILD_DIR (build/bench), BENCH_INGEST_DEVICES (100),
# BENCH_INGEST_READINGS (200000 in all), BENCH_INGEST_CONNECTIONS (4), BENCH_MQTT_INFLIGHT
# (the broker's max_inflight_messages; unset: mosquitto's default, 20), BENCH_SERVER_ARGS
# (more meter-server options, split at spaces: "--alarms false" measures without the alarms).
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/.." && pwd)
devices=${BENCH_INGEST_DEVICES:-100}
total=${BENCH_INGEST_READINGS:-200000}
connections=${BENCH_INGEST_CONNECTIONS:-4}
per_device=$(((total + devices - 1) / devices))
total=$((per_device * devices))

tmp=$(mktemp -d /tmp/smartmeter-bench-ingest.XXXXXX)
# shellcheck source=bench/lib/pipeline.sh
. "$here/lib/pipeline.sh"
trap 'bench_cleanup; rm -rf "$tmp"' EXIT

bench_build meter-server bench_loadgen
bench_services
bench_newdb bench_ingest
bench_add_devices bench_ingest bench- 1 "$devices"
# shellcheck disable=SC2086 # BENCH_SERVER_ARGS: options, split at spaces
bench_server_start bench_ingest ${BENCH_SERVER_ARGS:-}
echo "  meter-server (default options) on $api; $devices devices registered"

# The drain reference: its own persistent session, created before the first publish
# so the broker keeps every message for it.
sub_id=bench-drain-$$
mosquitto_sub -h 127.0.0.1 -p "$MQTT_PORT" -q 1 -c -i "$sub_id" -t 'meters/+/telemetry' -E
mosquitto_sub -h 127.0.0.1 -p "$MQTT_PORT" -q 1 -c -i "$sub_id" -t 'meters/+/telemetry' \
    -C "$total" -W 900 -F '%U' > "$tmp/drain.txt" 2> "$tmp/drain.err" &
sub_pid=$!
bench_pids+=("$sub_pid")
sleep 1

echo "== publish $total readings: $devices devices x $per_device, QoS 1, $connections connections"
echo "  before: $(bench_load)"
bench_wait_stored "$total" "$tmp/stored.txt"
"$loadgen" --url "$MQTT_URL" --prefix bench- --devices "$devices" --readings "$per_device" \
    --connections "$connections" > "$tmp/loadgen.txt" &
gen_pid=$!
bench_pids+=("$gen_pid")
wait "$poller_pid" || true
wait "$gen_pid" || { echo "ingest: the load generator failed" >&2; exit 1; }
wait "$sub_pid" || { echo "ingest: mosquitto_sub did not get every message:" >&2; cat "$tmp/drain.err" >&2; }
echo "  after:  $(bench_load)"

kv() { tr ' ' '\n' < "$1" | awk -F= -v k="$2" '$1 == k { print $2 }'; }
first_pub=$(kv "$tmp/loadgen.txt" first_publish_ms)
last_ack=$(kv "$tmp/loadgen.txt" last_puback_ms)
stored=$(kv "$tmp/stored.txt" stored)
first_commit=$(kv "$tmp/stored.txt" first_commit_ms)
last_commit=$(kv "$tmp/stored.txt" last_commit_ms)
received=$(wc -l < "$tmp/drain.txt")
drain_first=$(head -1 "$tmp/drain.txt")
drain_last=$(tail -1 "$tmp/drain.txt")
rows=$(sql -N bench_ingest -e "SELECT COUNT(*) FROM readings")
echo "  server: $(cat "$tmp/stored.txt"); readings table: $rows rows"

echo
echo "== live stream"
awk -v n="$total" -v fp="$first_pub" -v la="$last_ack" -v rcv="$received" -v df="$drain_first" \
    -v dl="$drain_last" -v st="$stored" -v fc="$first_commit" -v lc="$last_commit" 'BEGIN {
    pub = n / ((la - fp) / 1000)
    drain = (rcv > 1) ? (rcv - 1) / (dl - df) : 0
    drain_fp = rcv / (dl - fp / 1000)
    server = st / ((lc - fp) / 1000)
    printf "\n%-52s %10s %10s\n", "", "readings/s", "seconds"
    printf "%-52s %10.0f %10.2f\n", "publishers (first publish to last PUBACK)", pub, (la - fp) / 1000
    printf "%-52s %10.0f %10.2f\n", "broker drain, mosquitto_sub (first to last message)", drain, dl - df
    printf "%-52s %10.0f %10.2f\n", "  the same from the first publish", drain_fp, dl - fp / 1000
    printf "%-52s %10.0f %10.2f\n", "meter-server committed (first publish to last commit)", server, (lc - fp) / 1000
    printf "%-52s %10s %10.2f\n", "  first commit after the first publish", "", (fc - fp) / 1000
    printf "ratio server / broker drain: %.2f (aim >= 0.9); mosquitto_sub got %d of %d, the server stored %d\n",
        (drain > 0) ? server / drain : 0, rcv, n, st
}'

echo
echo "== backlog: $total more readings queued in the broker while both subscribers are away"
bench_server_stop
"$loadgen" --url "$MQTT_URL" --prefix bench- --devices "$devices" --readings "$per_device" \
    --seq-start $((per_device + 1)) --connections "$connections" > "$tmp/loadgen2.txt" \
    || { echo "ingest: the load generator failed" >&2; exit 1; }
echo "  queued: $(cat "$tmp/loadgen2.txt")"
echo "  before: $(bench_load)"
# The poller first, on the port the server will get (a restarted server counts from 0).
server_port=$(python3 "$root/tests/lib/free_port.py")
api=http://127.0.0.1:$server_port
bench_wait_stored "$total" "$tmp/stored2.txt"
sub_start=$(date +%s%3N)
mosquitto_sub -h 127.0.0.1 -p "$MQTT_PORT" -q 1 -c -i "$sub_id" -t 'meters/+/telemetry' \
    -C "$total" -W 900 -F '%U' > "$tmp/drain2.txt" 2> "$tmp/drain2.err" &
sub_pid=$!
bench_pids+=("$sub_pid")
server_start=$(date +%s%3N)
# shellcheck disable=SC2086 # BENCH_SERVER_ARGS: options, split at spaces
bench_server_start bench_ingest ${BENCH_SERVER_ARGS:-}
wait "$poller_pid" || true
wait "$sub_pid" || { echo "ingest: mosquitto_sub did not get every message:" >&2; cat "$tmp/drain2.err" >&2; }
echo "  after:  $(bench_load)"
echo "  server: $(cat "$tmp/stored2.txt")"
received=$(wc -l < "$tmp/drain2.txt")
drain_first=$(head -1 "$tmp/drain2.txt")
drain_last=$(tail -1 "$tmp/drain2.txt")
stored=$(kv "$tmp/stored2.txt" stored)
last_commit=$(kv "$tmp/stored2.txt" last_commit_ms)
awk -v n="$total" -v ss="$sub_start" -v rcv="$received" -v df="$drain_first" -v dl="$drain_last" \
    -v st="$stored" -v sv="$server_start" -v lc="$last_commit" 'BEGIN {
    drain = rcv / (dl - ss / 1000)
    server = st / ((lc - sv) / 1000)
    printf "\n%-52s %10s %10s\n", "", "readings/s", "seconds"
    printf "%-52s %10.0f %10.2f\n", "broker to mosquitto_sub (its start to last message)", drain, dl - ss / 1000
    printf "%-52s %10.0f %10.2f\n", "  first to last message", (rcv - 1) / (dl - df), dl - df
    printf "%-52s %10.0f %10.2f\n", "meter-server (its start to last commit)", server, (lc - sv) / 1000
    printf "ratio server / broker drain of a backlog: %.2f; mosquitto_sub got %d of %d, the server stored %d\n",
        (drain > 0) ? server / drain : 0, rcv, n, st
}'
