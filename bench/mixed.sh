#!/usr/bin/env bash
# Mixed load: full-speed ingest and dashboard users at the same time (bench/README.md,
# "Mixed").
#
#   bench/mixed.sh
#
# Starts a throwaway MariaDB and mosquitto on free loopback ports. On each store of
# BENCH_MIXED_STORES (MariaDB, then SQLite): registers BENCH_MIXED_DEVICES devices (100),
# starts meter-server (default options, but ingest_nice BENCH_MIXED_INGEST_NICE: 10, so the
# users' requests run before ingest's threads) and gives every device a day of 1-minute readings
# through its real ingest path (so the charts read the rollups it keeps). Then
# BENCH_MIXED_ROUNDS rounds of each, alternating which goes first:
#   - solo: every device publishes BENCH_MIXED_READINGS readings (1,000) as fast as QoS 1
#     allows, one `mosquitto_pub -l -q 1` per device (the payloads written beforehand by
#     bench_loadgen --lines); the publishers stand in for meters on other machines and run
#     at nice BENCH_MIXED_PUB_NICE (19), so that a hundred of them do not queue the
#     dashboard's requests on this machine's two cores as remote meters would not; the rate: readings committed from the first publish to the
#     last commit (GET /api/stats);
#   - mixed: the same, while BENCH_MIXED_USERS dashboard users (16) each open a device's
#     24 h chart (points=500) and the device list (limit=100) in turn, BENCH_MIXED_THINK_MS
#     (250) apart (bench/lib/dashboard_users.py), from before the first publish to the last
#     commit.
# Prints per round the ingest rate and, for mixed rounds, each request kind's count, p50,
# p99 and maximum; then the medians, the ingest ratio mixed / solo (the aim: >= 0.8) and
# the chart's p99 over every mixed round (the aim: < 50 ms).
# Environment: BENCH_BUILD_DIR (build/bench), BENCH_MIXED_STORES ("mysql sqlite"),
# BENCH_MIXED_DEVICES (100), BENCH_MIXED_READINGS (1000), BENCH_MIXED_ROUNDS (2),
# BENCH_MIXED_USERS (16), BENCH_MIXED_THINK_MS (250), BENCH_MIXED_PUB_NICE (19),
# BENCH_MIXED_IDLE_S (10: how long the users run alone first, their reference line "users"),
# BENCH_MIXED_SETTLE_S (15), BENCH_MIXED_INGEST_NICE (10).
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/.." && pwd)
devices=${BENCH_MIXED_DEVICES:-100}
per=${BENCH_MIXED_READINGS:-1000}
rounds=${BENCH_MIXED_ROUNDS:-2}
users=${BENCH_MIXED_USERS:-16}
think=${BENCH_MIXED_THINK_MS:-250}
pub_nice=${BENCH_MIXED_PUB_NICE:-19}
n=$((devices * per))

tmp=$(mktemp -d /tmp/smartmeter-bench-mixed.XXXXXX)
# shellcheck source=bench/lib/pipeline.sh
. "$here/lib/pipeline.sh"
trap 'bench_cleanup; rm -rf "$tmp"' EXIT

bench_build meter-server bench_loadgen
bench_services


seq_next=1
# One round's readings: every device's next $per seqs, ending now, one a second.
publish() {
    rm -rf "$tmp/lines" && mkdir -p "$tmp/lines"
    "$loadgen" --lines "$tmp/lines" --prefix mixed- --devices "$devices" --readings "$per" \
        --seq-start "$seq_next" || { echo "mixed: the load generator failed" >&2; exit 1; }
    seq_next=$((seq_next + per))
    bench_publish_lines "$tmp/lines" "$pub_nice" > "$tmp/first_publish_ms"
}
# Prints the round's ingest rate.
round() { # solo | mixed
    local stored users_pid=
    stored=$(bench_stat readings_stored)
    bench_wait_stored $((stored + n)) "$tmp/stored.txt"
    if [ "$1" = mixed ]; then
        rm -f "$tmp/stop"
        python3 "$here/lib/dashboard_users.py" "$api" "$token" "$users" "$think" mixed- \
            "$devices" "$tmp/stop" "$tmp/users.txt" 600 &
        users_pid=$!
        bench_pids+=("$users_pid")
        sleep 1
    fi
    publish
    wait "$poller_pid" || true
    [ -z "${BENCH_MIXED_DEBUG:-}" ] || cat "$tmp/stored.txt" >&2
    if [ -n "$users_pid" ]; then
        touch "$tmp/stop"
        wait "$users_pid" || { echo "mixed: a dashboard request failed" >&2; exit 1; }
    fi
    awk -v s="$(kv "$tmp/stored.txt" stored)" -v s0="$stored" -v fp="$(cat "$tmp/first_publish_ms")" \
        -v lc="$(kv "$tmp/stored.txt" last_commit_ms)" -v n="$n" 'BEGIN {
        if (s - s0 < n) { print 0; exit }
        printf "%.0f\n", n / ((lc - fp) / 1000) }'
}

for store in ${BENCH_MIXED_STORES-mysql sqlite}; do
    case $store in
    mysql) db=bench_mixed ;;
    sqlite) db=sqlite:$tmp/mixed.db ;;
    *) echo "mixed: BENCH_MIXED_STORES: unknown store '$store' (mysql, sqlite)" >&2; exit 2 ;;
    esac
    echo
    echo "== mixed load ($store): $devices devices x $per readings a round, $users dashboard users ${think} ms apart, $rounds rounds each, alternating"
    bench_newdb "$db"
    bench_add_devices "$db" mixed- 1 "$devices"
    bench_server_start "$db" --ingest-nice "${BENCH_MIXED_INGEST_NICE:-10}"
    # A day of 1-minute readings per device, ending an hour ago, in arrays as a backlog.
    bench_wait_stored $((devices * 1440)) "$tmp/seeded.txt"
    "$loadgen" --url "$MQTT_URL" --prefix mixed- --devices "$devices" --readings 1440 \
        --batch 720 --step-ms 60000 --ts-end-ms $(($(date +%s%3N) - 3600000)) \
        --seq-start 1 > /dev/null || { echo "mixed: seeding failed" >&2; exit 1; }
    wait "$poller_pid" || true
    seq_next=1441
    sleep "${BENCH_MIXED_SETTLE_S:-15}" # billing and the rollups catch up with the seeded day
    echo "  seeded: $(kv "$tmp/seeded.txt" stored) readings; $(bench_load)"
    # The users alone first: what they see without ingest, the reference for the rounds.
    rm -f "$tmp/stop"
    python3 "$here/lib/dashboard_users.py" "$api" "$token" "$users" "$think" mixed- \
        "$devices" "$tmp/stop" "$tmp/users.txt" 600 &
    users_pid=$!
    bench_pids+=("$users_pid")
    sleep "${BENCH_MIXED_IDLE_S:-10}"
    touch "$tmp/stop"
    wait "$users_pid" || { echo "mixed: a dashboard request failed" >&2; exit 1; }
    read -r _ hn h50 h99 hmax < <(grep '^history ' "$tmp/users.txt")
    read -r _ ln l50 l99 lmax < <(grep '^list ' "$tmp/users.txt")
    printf '  %-5s %-6s %10s   %-40s %-40s\n' round kind readings/s \
        "chart 24h: n p50 p99 max ms" "device list: n p50 p99 max ms"
    printf '  %-5s %-6s %10s   %-40s %-40s\n' - users - "$hn $h50 $h99 $hmax" "$ln $l50 $l99 $lmax"
    : > "$tmp/solo-rates"; : > "$tmp/mixed-rates"; : > "$tmp/history-p99"
    for r in $(seq 1 "$rounds"); do
        if [ $((r % 2)) = 1 ]; then order="solo mixed"; else order="mixed solo"; fi
        for kind in $order; do
            round "$kind" > "$tmp/rate" # not in a subshell: it moves seq_next
            rate=$(cat "$tmp/rate")
            echo "$rate" >> "$tmp/$kind-rates"
            if [ "$kind" = mixed ]; then
                read -r _ hn h50 h99 hmax < <(grep '^history ' "$tmp/users.txt")
                read -r _ ln l50 l99 lmax < <(grep '^list ' "$tmp/users.txt")
                echo "$h99" >> "$tmp/history-p99"
                printf '  %-5s %-6s %10s   %-40s %-40s\n' "$r" "$kind" "$rate" \
                    "$hn $h50 $h99 $hmax" "$ln $l50 $l99 $lmax"
            else
                printf '  %-5s %-6s %10s\n' "$r" "$kind" "$rate"
            fi
        done
    done
    echo "  after: $(bench_load)"
    bench_server_stop
    solo=$(median < "$tmp/solo-rates")
    mixed=$(median < "$tmp/mixed-rates")
    worst=$(sort -n "$tmp/history-p99" | tail -1)
    awk -v s="$solo" -v m="$mixed" -v w="$worst" -v st="$store" 'BEGIN {
        printf "  median ingest: solo %.0f readings/s, with the dashboard users %.0f readings/s\n", s, m
        printf "mixed (%s): ingest %.2f of solo (aim >= 0.8); 24 h chart p99 %.1f ms, the worst round (aim < 50 ms)\n",
            st, (s > 0) ? m / s : 0, w }'
done
