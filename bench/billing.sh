#!/usr/bin/env bash
# What prepaid billing costs ingest (bench/README.md, "Billing"): the ingest benchmark's
# work on three servers built from the same tree, each alone, in alternating rounds.
#
#   bench/billing.sh
#
#   off       meter-server with the billing thread left out (bench_server_nobilling:
#             bench/biller_off.c instead of server/billing/biller.c): the reference
#   notariff  meter-server, no tariff and no money on any device. Billing still runs for
#             every device with new readings (nothing in the thread or in the store's run
#             skips a device without a tariff: it bills at price 0, so it locks the device,
#             reads the readings, adds to charge rows and saves its frontier); it only
#             writes no ledger entry (0 fen)
#   tariff    meter-server, every device with a 3-period time-of-use tariff in force from
#             before its first reading and 1,000,000.00 yuan on its ledger: charge rows
#             grow and `charge` ledger entries are written
#
# Each round, for each side in turn (the order rotates from round to round): a fresh
# database, BENCH_BILLING_DEVICES devices, the server started, then
#   live stream: bench_loadgen publishes BENCH_BILLING_READINGS/2 readings (one per
#     message, QoS 1, BENCH_BILLING_CONNECTIONS connections) while the server runs;
#     the figure is readings committed per second, first publish to last commit;
#   queued backlog: the server stopped (its session stays), as many readings again are
#     published and wait in the broker; the server started alone drains them; the figure
#     is readings committed per second from its start to its last commit.
# After each phase the script waits (at most 300 s) for billing to reach every device's
# last seq and prints how long after the last commit that was. At the end of a round
# with billing, bench/lib/billing_check.py checks every device: balance = sum(ledger) =
# recharge - charged; the fen charged = an independent reference computed from the
# stored readings and the tariff; the charge rows add up to it; the frontier is at the
# last seq. The load average is recorded before each phase. Then the medians per side
# and the ratios to the reference; the aim: billing costs at most 10 % (ratio >= 0.90).
#
# The readings: seq 1..2N per device, ts every BENCH_BILLING_STEP_MS (10 s) ending now, so
# the two phases are one continuous history of about 11 h crossing at least one period
# change; energy_wh grows as BENCH_BILLING_POWER_W (10 kW) draws (about 28 Wh a reading).
# Environment: BENCH_BUILD_DIR (build/bench), BENCH_BILLING_DBS ("mariadb sqlite"),
# BENCH_BILLING_SIDES ("off notariff tariff"), BENCH_BILLING_ROUNDS (4),
# BENCH_BILLING_DEVICES (100), BENCH_BILLING_READINGS (400000: 200,000 a phase, as
# bench/ingest.sh), BENCH_BILLING_CONNECTIONS (4), BENCH_BILLING_STEP_MS (10000),
# BENCH_BILLING_POWER_W (10000).
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/.." && pwd)
read -r -a dbs <<< "${BENCH_BILLING_DBS:-mariadb sqlite}"
read -r -a sides <<< "${BENCH_BILLING_SIDES:-off notariff tariff}"
rounds=${BENCH_BILLING_ROUNDS:-4}
devices=${BENCH_BILLING_DEVICES:-100}
total=$((${BENCH_BILLING_READINGS:-400000} / 2)) # a phase
connections=${BENCH_BILLING_CONNECTIONS:-4}
step_ms=${BENCH_BILLING_STEP_MS:-10000}
power_w=${BENCH_BILLING_POWER_W:-10000}
per_device=$(((total + devices - 1) / devices))
total=$((per_device * devices))
last_seq=$((2 * per_device))
recharge_fen=100000000 # 1,000,000.00 yuan a device
# 00:00 valley 0.3000, 08:00 peak 1.2000, 18:00 flat 0.7000 yuan/kWh (UTC, the default zone)
tariff_json='{"periods":[{"from":"00:00","price":"0.3000","label":"谷"},{"from":"08:00","price":"1.2000","label":"峰"},{"from":"18:00","price":"0.7000","label":"平"}],"effective_from":"EFFECTIVE"}'
tariff_ref=0:3000,480:12000,1080:7000

for s in "${sides[@]}"; do
    case "$s" in off | notariff | tariff) ;; *)
        echo "billing: unknown side '$s' (off, notariff, tariff)" >&2
        exit 2
        ;;
    esac
done
for d in "${dbs[@]}"; do
    case "$d" in mariadb | sqlite) ;; *)
        echo "billing: unknown database '$d' (mariadb, sqlite)" >&2
        exit 2
        ;;
    esac
done

tmp=$(mktemp -d /tmp/smartmeter-bench-billing.XXXXXX)
# shellcheck source=bench/lib/pipeline.sh
. "$here/lib/pipeline.sh"
trap 'bench_cleanup; rm -rf "$tmp"' EXIT

bench_build meter-server bench_loadgen bench_server_nobilling
nobilling=$build/bench/bench_server_nobilling
bench_services

kind=mariadb
# pipeline.sh's sql, on SQLite too (bench_add_devices feeds it a file).
sql() {
    if [ "$kind" = sqlite ]; then
        local db=$1
        shift
        sqlite3 -batch "$tmp/$db.db" "$@"
    else
        mariadb --no-defaults -uroot -S "$MYSQL_SOCKET" "$@"
    fi
}
# dbq DB QUERY: tab-separated rows, no header.
dbq() {
    if [ "$kind" = sqlite ]; then
        sqlite3 -batch -noheader -separator $'\t' "$tmp/$1.db" "$2"
    else
        mariadb --no-defaults -uroot -S "$MYSQL_SOCKET" -N -B "$1" -e "$2"
    fi
}
db_url() { if [ "$kind" = sqlite ]; then echo "sqlite:$tmp/$1.db"; else echo "$MYSQL_URL_BASE/$1"; fi; }
# A money column in fen.
fen() { if [ "$kind" = sqlite ]; then echo "$1"; else echo "CAST($1 * 100 AS SIGNED)"; fi; }

newdb() {
    local db=$1
    if [ "$kind" = sqlite ]; then
        rm -f "$tmp/$db.db"*
    else
        "$root/tests/lib/services.sh" newdb "$tmp/svc" "$db"
    fi
    "$server" migrate --db "$(db_url "$db")" > "$tmp/newdb.log" 2>&1 \
        || { cat "$tmp/newdb.log" >&2; exit 1; }
    printf 'bench-password-%s\n' "$RANDOM$RANDOM" > "$tmp/admin.pw"
    "$server" user add admin --role admin --db "$(db_url "$db")" < "$tmp/admin.pw" \
        > "$tmp/newdb.log" 2>&1 || { cat "$tmp/newdb.log" >&2; exit 1; }
}

dropdb() {
    if [ "$kind" = sqlite ]; then rm -f "$tmp/$1.db"*; else sql -e "DROP DATABASE $1"; fi
}

# start BINARY DB: as bench_server_start, with the binary and the database's URL.
start() {
    local bin=$1 db=$2
    [ -s "$tmp/jwt.key" ] || head -c 48 /dev/urandom > "$tmp/jwt.key"
    chmod 600 "$tmp/jwt.key"
    local port=${server_port:-}
    [ -n "$port" ] || port=$(python3 "$root/tests/lib/free_port.py")
    server_port=
    "$bin" --db "$(db_url "$db")" --mqtt "$MQTT_URL" --listen "127.0.0.1:$port" \
        --jwt-secret-file "$tmp/jwt.key" --log-level warn --rate-limit-address 0 \
        --rate-limit-user 0 --rate-limit-device 0 --max-connections-per-ip 0 \
        >> "$tmp/server-$db.log" 2>&1 &
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
        || { echo "meter-server did not start:" >&2; cat "$tmp/server-$db.log" >&2; exit 1; }
    [ -z "${token:-}" ] || return 0
    token=$(curl -sf "$api/api/login" \
        -d "{\"username\":\"admin\",\"password\":\"$(cat "$tmp/admin.pw")\"}" |
        python3 -c 'import json,sys; print(json.load(sys.stdin)["token"])')
}

# Every device's tariff and money, through the API as an operator sets them.
prepay() {
    local effective n out
    effective=$(date -u -d "@$(((ts_first - 2 * 86400000) / 1000))" +%Y-%m-%dT%H:%M:%SZ)
    for n in $(seq 1 "$devices"); do
        out=$(curl -sS -X PUT "$api/api/devices/bench-$n/tariff" -H "Authorization: Bearer $token" \
            -H 'Content-Type: application/json' -d "${tariff_json/EFFECTIVE/$effective}")
        case "$out" in *'"success"'*) ;; *) echo "billing: tariff of bench-$n: $out" >&2; exit 1 ;; esac
        out=$(curl -sS -X POST "$api/api/device/recharge/bench-$n" -H "Authorization: Bearer $token" \
            -H 'Content-Type: application/json' -d "{\"amount\":\"$((recharge_fen / 100)).00\"}")
        case "$out" in *'"success"'*) ;; *) echo "billing: recharge of bench-$n: $out" >&2; exit 1 ;; esac
    done
}

# billed DB SEQ: waits until every device's frontier is at SEQ; prints the wall-clock ms.
billed() {
    local db=$1 want=$2 n _
    for _ in $(seq 1 3000); do
        n=$(dbq "$db" "SELECT COUNT(*) FROM billing_state WHERE started = 1 AND seq = $want") || n=-
        [ "$n" = "$devices" ] && break
        sleep 0.1
    done
    [ "$n" = "$devices" ] || { echo "billing: after 300 s $n of $devices devices billed to seq $want" >&2; exit 1; }
    date +%s%3N
}

# CPU time (user + system) of a process so far, ms; 0 when there is none.
clk_tck=$(getconf CLK_TCK)
cpu_ms() {
    if [ -z "${1:-}" ] || [ ! -r "/proc/$1/stat" ]; then
        echo 0
        return
    fi
    awk -v hz="$clk_tck" '{ sub(/^.*\) /, ""); printf "%d", ($12 + $13) * 1000 / hz }' "/proc/$1/stat"
}
db_pid() { [ "$kind" = sqlite ] || cat "$RUN_DIR/mysql/mysqld.pid"; }
# per1k MS: ms per 1000 readings of a phase.
per1k() { awk -v ms="$1" -v n="$total" 'BEGIN { printf "%.1f", ms * 1000 / n }'; }
load1() { cut -d' ' -f1 /proc/loadavg; }

# round SIDE N: one side's round; appends a line to $results.
round() {
    local side=$1 n=$2 db=bb_${kind}_$1_$2 bin=$server
    [ "$side" = off ] && bin=$nobilling
    : > "$tmp/server-$db.log"
    newdb "$db"
    bench_add_devices "$db" bench- 1 "$devices" > /dev/null
    token=
    start "$bin" "$db"
    local now
    now=$(date +%s%3N)
    now=$((now - now % 60000))
    ts_first=$((now - (2 * per_device - 1) * step_ms))
    [ "$side" = tariff ] && prepay

    # live stream
    local load_live load_backlog
    load_live=$(load1)
    bench_wait_stored "$total" "$tmp/stored.txt"
    local srv0 db0
    srv0=$(cpu_ms "$server_pid")
    db0=$(cpu_ms "$(db_pid)")
    "$loadgen" --url "$MQTT_URL" --prefix bench- --devices "$devices" --readings "$per_device" \
        --connections "$connections" --step-ms "$step_ms" --power-w "$power_w" \
        --ts-end-ms $((now - per_device * step_ms)) > "$tmp/loadgen.txt" &
    gen_pid=$!
    bench_pids+=("$gen_pid")
    wait "$poller_pid" || { echo "billing: the server did not store every reading: $(cat "$tmp/stored.txt")" >&2; exit 1; }
    wait "$gen_pid" || { echo "billing: the load generator failed" >&2; exit 1; }
    local fp lc live pub lag_live=- lag_backlog=-
    fp=$(kv "$tmp/loadgen.txt" first_publish_ms)
    pub=$(awk -v n="$total" -v a="$fp" -v b="$(kv "$tmp/loadgen.txt" last_puback_ms)" 'BEGIN { printf "%.0f", n / ((b - a) / 1000) }')
    lc=$(kv "$tmp/stored.txt" last_commit_ms)
    live=$(awk -v n="$(kv "$tmp/stored.txt" stored)" -v a="$fp" -v b="$lc" 'BEGIN { printf "%.0f", n / ((b - a) / 1000) }')
    if [ "$side" != off ]; then
        lag_live=$(awk -v a="$lc" -v b="$(billed "$db" "$per_device")" 'BEGIN { printf "%.2f", (b - a) / 1000 }')
    fi
    local cpu_live cpu_live_db cpu_backlog cpu_backlog_db
    cpu_live=$(per1k $(($(cpu_ms "$server_pid") - srv0)))
    cpu_live_db=$(per1k $(($(cpu_ms "$(db_pid)") - db0)))

    # queued backlog
    bench_server_stop
    "$loadgen" --url "$MQTT_URL" --prefix bench- --devices "$devices" --readings "$per_device" \
        --seq-start $((per_device + 1)) --connections "$connections" --step-ms "$step_ms" \
        --power-w "$power_w" --ts-end-ms "$now" > "$tmp/loadgen2.txt" \
        || { echo "billing: the load generator failed" >&2; exit 1; }
    server_port=$(python3 "$root/tests/lib/free_port.py")
    api=http://127.0.0.1:$server_port
    load_backlog=$(load1)
    bench_wait_stored "$total" "$tmp/stored2.txt"
    local ss backlog
    ss=$(date +%s%3N)
    db0=$(cpu_ms "$(db_pid)")
    start "$bin" "$db"
    wait "$poller_pid" || { echo "billing: the server did not store every reading: $(cat "$tmp/stored2.txt")" >&2; exit 1; }
    lc=$(kv "$tmp/stored2.txt" last_commit_ms)
    backlog=$(awk -v n="$(kv "$tmp/stored2.txt" stored)" -v a="$ss" -v b="$lc" 'BEGIN { printf "%.0f", n / ((b - a) / 1000) }')
    if [ "$side" != off ]; then
        lag_backlog=$(awk -v a="$lc" -v b="$(billed "$db" "$last_seq")" 'BEGIN { printf "%.2f", (b - a) / 1000 }')
    fi
    cpu_backlog=$(per1k "$(cpu_ms "$server_pid")")
    cpu_backlog_db=$(per1k $(($(cpu_ms "$(db_pid)") - db0)))
    bench_server_stop

    local check="not billed" rows
    rows=$(dbq "$db" "SELECT COUNT(*) FROM readings")
    if [ "$side" != off ]; then
        dbq "$db" "SELECT d.device_id, r.seq, r.ts_ms, r.energy_import_mwh FROM readings r
            JOIN devices d ON d.id = r.device_pk WHERE r.energy_import_mwh IS NOT NULL
            ORDER BY d.device_id, r.seq" > "$tmp/readings.tsv"
        dbq "$db" "SELECT d.device_id, $(fen d.balance),
            COALESCE((SELECT $(fen 'SUM(l.amount)') FROM ledger l WHERE l.device_pk = d.id), 0),
            COALESCE((SELECT -$(fen 'SUM(l.amount)') FROM ledger l WHERE l.device_pk = d.id
                      AND l.kind = 'charge'), 0),
            COALESCE((SELECT SUM(c.fen) FROM charges c WHERE c.device_pk = d.id), 0),
            (SELECT COUNT(*) FROM ledger l WHERE l.device_pk = d.id AND l.kind = 'charge'),
            b.seq, b.remainder_nfen
            FROM devices d LEFT JOIN billing_state b ON b.device_pk = d.id" > "$tmp/state.tsv"
        local ref=none recharge=0
        [ "$side" = tariff ] && ref=$tariff_ref && recharge=$recharge_fen
        if check=$(python3 "$here/lib/billing_check.py" "$tmp/readings.tsv" "$tmp/state.tsv" "$ref" \
            --recharge "$recharge" --last-seq "$last_seq"); then
            :
        else
            failed=1
        fi
        check="$check; $(dbq "$db" "SELECT COUNT(*) FROM charges") charge rows"
    fi
    printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$kind" "$side" "$n" "$load_live" "$live" "$lag_live" \
        "$load_backlog" "$backlog" "$lag_backlog" "$pub" "$cpu_live" "$cpu_live_db" "$cpu_backlog" \
        "$cpu_backlog_db" >> "$results"
    printf '  %-8s round %d: live %6s readings/s (publishers %s; load %s), billed %5s s after the last commit; backlog %6s readings/s (load %s), billed %5s s after; %s readings stored\n' \
        "$side" "$n" "$live" "$pub" "$load_live" "$lag_live" "$backlog" "$load_backlog" "$lag_backlog" "$rows"
    printf '           CPU ms per 1000 readings, server + database: live %s + %s, backlog %s + %s\n' \
        "$cpu_live" "$cpu_live_db" "$cpu_backlog" "$cpu_backlog_db"
    [ "$side" = off ] || printf '           %s\n' "$check"
    dropdb "$db"
}

results=$tmp/results.tsv
: > "$results"
failed=0
echo "== $devices devices, $total readings a phase ($per_device a device), $connections connections, ${#sides[@]} sides x $rounds rounds"
for kind in "${dbs[@]}"; do
    echo
    echo "== $kind"
    for n in $(seq 1 "$rounds"); do
        # The order rotates, so no side always follows the same one.
        k=$(((n - 1) % ${#sides[@]}))
        order=("${sides[@]:k}" "${sides[@]:0:k}")
        for side in "${order[@]}"; do round "$side" "$n"; done
    done
done

echo
python3 - "$results" "${sides[@]}" << 'PY'
import statistics, sys
rows = [l.rstrip("\n").split("\t") for l in open(sys.argv[1])]
sides = sys.argv[2:]
def med(rs, f):
    return statistics.median(f(r) for r in rs)
for kind in dict.fromkeys(r[0] for r in rows):
    m = {}
    print(f"{kind}: medians of {max(int(r[2]) for r in rows if r[0] == kind)} rounds")
    print(f"  {'side':<9} {'live r/s':>9} {'publishers':>11} {'backlog r/s':>12} {'billed after (live, backlog) s':>31}"
          f" {'CPU ms/1000 (live, backlog)':>28}  load average")
    for s in sides:
        rs = [r for r in rows if r[0] == kind and r[1] == s]
        if not rs:
            continue
        live, backlog, pub = (med(rs, lambda r, i=i: float(r[i])) for i in (4, 7, 9))
        lags = ", ".join(f"{med(rs, lambda r, i=i: float(r[i])):.2f}" if rs[0][i] != "-" else "-" for i in (5, 8))
        # meter-server and the database together (SQLite: the server alone)
        cpu = [med(rs, lambda r, i=i: float(r[i]) + float(r[i + 1])) for i in (10, 12)]
        loads = [float(r[3]) for r in rs] + [float(r[6]) for r in rs]
        m[s] = (live, backlog, cpu[0], cpu[1])
        print(f"  {s:<9} {live:>9.0f} {pub:>11.0f} {backlog:>12.0f} {lags:>31} {cpu[0]:>13.1f}, {cpu[1]:>12.1f}"
              f"  {min(loads):.2f}-{max(loads):.2f}")
    for a, b in (("tariff", "off"), ("notariff", "off"), ("tariff", "notariff")):
        if a in m and b in m:
            aim = b == "off"
            print(f"  {a} / {b}: rate live {m[a][0] / m[b][0]:.3f}, backlog {m[a][1] / m[b][1]:.3f}"
                  + (" (aim >= 0.90)" if aim else "")
                  + f"; CPU per reading live {m[a][2] / m[b][2]:.3f}, backlog {m[a][3] / m[b][3]:.3f}"
                  + (" (aim <= 1.10)" if aim else ""))
PY
[ "$failed" = 0 ] || { echo "billing: a check failed (above)" >&2; exit 1; }
