#!/usr/bin/env bash
# Ingest throughput: meter-server's committed rate against the broker's own drain rate
# for the same stream (bench/README.md, "Ingest").
#
#   bench/ingest.sh
#
# Starts a throwaway MariaDB and mosquitto on free loopback ports.
#
# The headline measures each consumer alone, the way a user meets it: the same
# publishers (BENCH_ALONE_DEVICES devices x BENCH_ALONE_READINGS readings a round, QoS 1, one
# JSON object per message; BENCH_ALONE_PUBLISHERS: mosquitto_pub, one `mosquitto_pub -l -q 1`
# per device fed the payloads bench_loadgen --lines wrote beforehand, or loadgen,
# bench_loadgen itself over BENCH_INGEST_CONNECTIONS connections) and the same broker; in one round mosquitto_sub -q 1 alone drains the stream, in the other
# meter-server alone (default options) stores it; BENCH_ALONE_ROUNDS rounds of each,
# alternating which goes first, on each store of BENCH_INGEST_STORES (MariaDB, then
# SQLite). Each consumer's session exists before the first publish, so it misses nothing
# however late it subscribes, and is dropped after its round, so nothing of one round
# waits for the next. A round's rate: its messages (or readings committed, from GET
# /api/stats) over the time from the first publish to the last message (or commit).
# Printed per round, with CPU time per reading (from /proc) of meter-server, mariadbd
# and the broker; then the medians and the ratio server / mosquitto_sub (the aim: >= 0.9)
# and the row count (nothing lost or doubled).
#
# Second figure, as before: both consumers on one stream at the same time (the broker
# fans every message out twice and both share the machine), live and then draining a
# backlog. BENCH_INGEST_DEVICES devices (100), BENCH_INGEST_READINGS readings in all
# (200000). A second subscriber, mosquitto_sub -q 1 with a persistent session of its own,
# reads the same telemetry as meter-server. bench_loadgen publishes (seq and energy
# increasing per device) as fast as the broker takes them. Prints:
#   - the publishers' rate (first publish to last PUBACK);
#   - the broker's drain rate: messages per second mosquitto_sub received, first to last;
#   - the server's committed rate: readings stored per second from the first publish to
#     the last commit (GET /api/stats, polled every 50 ms);
#   - the ratio server / broker.
# Then, with meter-server and mosquitto_sub stopped (both have persistent sessions), the
# same number of readings is published again and waits queued in the broker; both start
# together and each drains its backlog: each one's rate and the ratio.
# Environment: BENCH_BUILD_DIR (build/bench), BENCH_ALONE_DEVICES (40), BENCH_ALONE_READINGS
# (2500 per device and round), BENCH_ALONE_ROUNDS (4), BENCH_ALONE_PUBLISHERS (mosquitto_pub), BENCH_INGEST_STORES ("mysql sqlite";
# "" skips the headline), BENCH_INGEST_SIMULTANEOUS (1; 0 skips the second figure),
# BENCH_INGEST_DEVICES (100), BENCH_INGEST_READINGS (200000 in all),
# BENCH_INGEST_CONNECTIONS (4), BENCH_MQTT_INFLIGHT (the broker's max_inflight_messages;
# unset: mosquitto's default, 20), BENCH_SERVER_ARGS (more meter-server options, split at
# spaces: "--alarms false" measures without the alarms).
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


# ---- headline: each consumer alone on the same stream ----
alone_devices=${BENCH_ALONE_DEVICES:-40}
alone_per=${BENCH_ALONE_READINGS:-2500}
alone_rounds=${BENCH_ALONE_ROUNDS:-4}
alone_publishers=${BENCH_ALONE_PUBLISHERS:-mosquitto_pub}
case $alone_publishers in mosquitto_pub | loadgen) ;; *)
    echo "ingest: BENCH_ALONE_PUBLISHERS: mosquitto_pub or loadgen" >&2; exit 2 ;; esac
alone_n=$((alone_devices * alone_per))
alone_seq=1 # every round publishes the next alone_per seqs of each device
hz=$(getconf CLK_TCK)
broker_pid=$(cat "$tmp/broker/mosquitto.pid")
mariadbd_pid=$(cat "$(cat "$tmp/svc/rundir")/mysql/mysqld.pid" 2>/dev/null || true)

cpu_ticks() { # pid: user + system clock ticks so far (0 when there is no such process)
    if [ -n "$1" ] && [ -r "/proc/$1/stat" ]; then
        sed 's/^.*) //' "/proc/$1/stat" | awk '{ print $12 + $13 }'
    else
        echo 0
    fi
}
# A persistent session subscribed to the telemetry before the round's first publish ...
session_open() { # client id
    mosquitto_sub -h 127.0.0.1 -p "$MQTT_PORT" -q 1 -c -i "$1" -t 'meters/+/telemetry' -E
}
# ... and gone after the round (a clean-session connection under the same id ends it).
session_drop() { # client id
    mosquitto_sub -h 127.0.0.1 -p "$MQTT_PORT" -i "$1" -t 'bench/none' -E
}
alone_publish() { # out
    if [ "$alone_publishers" = loadgen ]; then
        "$loadgen" --url "$MQTT_URL" --prefix alone- --devices "$alone_devices" \
            --readings "$alone_per" --seq-start "$alone_seq" --connections "$connections" > "$1" \
            || { echo "ingest: the load generator failed" >&2; exit 1; }
    else
        # One mosquitto_pub -l -q 1 per device, its payloads written beforehand.
        rm -rf "$tmp/lines" && mkdir -p "$tmp/lines"
        "$loadgen" --lines "$tmp/lines" --prefix alone- --devices "$alone_devices" \
            --readings "$alone_per" --seq-start "$alone_seq" \
            || { echo "ingest: the load generator failed" >&2; exit 1; }
        local t0
        t0=$(bench_publish_lines "$tmp/lines") || exit 1
        echo "first_publish_ms=$t0" > "$1"
    fi
    alone_seq=$((alone_seq + alone_per))
}
# Prints "RATE SERVER_US DB_US BROKER_US" (per reading) for the round.
alone_sub_round() {
    local id=bench-alone-sub-$$ b0 b1 pid
    session_open "$id"
    mosquitto_sub -h 127.0.0.1 -p "$MQTT_PORT" -q 1 -c -i "$id" -t 'meters/+/telemetry' \
        -C "$alone_n" -W 600 -F '%U' > "$tmp/alone-sub.txt" 2> "$tmp/alone-sub.err" &
    pid=$!
    bench_pids+=("$pid")
    b0=$(cpu_ticks "$broker_pid")
    alone_publish "$tmp/alone-pub.txt"
    wait "$pid" || { echo "ingest: mosquitto_sub did not get every message:" >&2; cat "$tmp/alone-sub.err" >&2; }
    b1=$(cpu_ticks "$broker_pid")
    session_drop "$id"
    awk -v n="$(wc -l < "$tmp/alone-sub.txt")" -v fp="$(kv "$tmp/alone-pub.txt" first_publish_ms)" \
        -v last="$(tail -1 "$tmp/alone-sub.txt")" -v b="$((b1 - b0))" -v hz="$hz" 'BEGIN {
        printf "%.0f - - %.1f %d\n", n / (last - fp / 1000), b / hz * 1e6 / n, n }'
}
alone_server_round() { # db
    local s0 s1 d0 d1 b0 b1
    session_open meter-server
    bench_server_start "$1" ${BENCH_SERVER_ARGS:-}
    bench_wait_stored "$alone_n" "$tmp/alone-stored.txt"
    s0=$(cpu_ticks "$server_pid") d0=$(cpu_ticks "$mariadbd_pid") b0=$(cpu_ticks "$broker_pid")
    alone_publish "$tmp/alone-pub.txt"
    wait "$poller_pid" || true
    s1=$(cpu_ticks "$server_pid") d1=$(cpu_ticks "$mariadbd_pid") b1=$(cpu_ticks "$broker_pid")
    bench_server_stop
    session_drop meter-server
    awk -v n="$(kv "$tmp/alone-stored.txt" stored)" -v fp="$(kv "$tmp/alone-pub.txt" first_publish_ms)" \
        -v lc="$(kv "$tmp/alone-stored.txt" last_commit_ms)" -v s="$((s1 - s0))" -v d="$((d1 - d0))" \
        -v b="$((b1 - b0))" -v hz="$hz" 'BEGIN {
        if (n < 1) { print "0 - - - 0"; exit }
        printf "%.0f %.1f %.1f %.1f %d\n", n / ((lc - fp) / 1000), s / hz * 1e6 / n, d / hz * 1e6 / n,
            b / hz * 1e6 / n, n }'
}

for store in ${BENCH_INGEST_STORES-mysql sqlite}; do
    case $store in
    mysql) db=bench_alone ;;
    sqlite) db=sqlite:$tmp/alone.db ;;
    *) echo "ingest: BENCH_INGEST_STORES: unknown store '$store' (mysql, sqlite)" >&2; exit 2 ;;
    esac
    echo
    echo "== each consumer alone on the same stream ($store): $alone_devices devices x $alone_per readings a round, $alone_rounds rounds each, alternating"
    bench_newdb "$db"
    bench_add_devices "$db" alone- 1 "$alone_devices"
    alone_seq=1
    echo "  before: $(bench_load)"
    : > "$tmp/alone-sub-rates" ; : > "$tmp/alone-server-rates"
    printf '  %-5s %-24s %10s %12s %12s %12s\n' round consumer readings/s "server us/r" "db us/r" "broker us/r"
    for r in $(seq 1 "$alone_rounds"); do
        if [ $((r % 2)) = 1 ]; then order="sub server"; else order="server sub"; fi
        for who in $order; do
            if [ "$who" = sub ]; then
                alone_sub_round > "$tmp/round.txt" # not in a subshell: it moves alone_seq
                read -r rate su du bu n < <(tail -1 "$tmp/round.txt")
                echo "$rate" >> "$tmp/alone-sub-rates"
                printf '  %-5s %-24s %10s %12s %12s %12s\n' "$r" mosquitto_sub "$rate" "$su" "$du" "$bu"
            else
                alone_server_round "$db" > "$tmp/round.txt"
                read -r rate su du bu n < <(tail -1 "$tmp/round.txt")
                echo "$rate" >> "$tmp/alone-server-rates"
                printf '  %-5s %-24s %10s %12s %12s %12s\n' "$r" "meter-server ($store)" "$rate" "$su" \
                    "$([ "$store" = mysql ] && echo "$du" || echo -)" "$bu"
            fi
        done
    done
    echo "  after:  $(bench_load)"
    case $store in
    mysql) rows=$(sql -N bench_alone -e "SELECT COUNT(*) FROM readings") ;;
    sqlite) rows=$(sqlite3 "${db#sqlite:}" "SELECT COUNT(*) FROM readings") ;;
    esac
    sub_med=$(median < "$tmp/alone-sub-rates")
    srv_med=$(median < "$tmp/alone-server-rates")
    awk -v s="$sub_med" -v v="$srv_med" -v st="$store" -v rows="$rows" -v want=$((alone_rounds * alone_n)) 'BEGIN {
        printf "  median: mosquitto_sub %.0f readings/s, meter-server %.0f readings/s\n", s, v
        printf "ratio server / broker drain, each alone (%s): %.2f (aim >= 0.9); readings table %d rows of %d published%s\n",
            st, (s > 0) ? v / s : 0, rows, want, (rows == want) ? "" : " (MISMATCH)" }'
done

[ "${BENCH_INGEST_SIMULTANEOUS:-1}" != 0 ] || exit 0
echo
echo "== second figure: both consumers on one stream at the same time"
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
