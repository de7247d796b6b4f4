#!/usr/bin/env bash
# The demo: installs what is missing, builds, starts mosquitto, meter-server on
# SQLite and three simulated meters, and prints where to look. Ctrl-C stops
# everything it started. State lives in var/demo/ (recreated on every run, mode
# 0700: it holds the secrets). The broker runs as docs/security.md deploys it:
# the dynamic-security plugin, no anonymous clients, an account per meter that
# meter-server keeps, and signed acks and commands.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)

scripts/deps.sh
cmake -S "$root" -B build/demo -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build build/demo -j "$(nproc 2>/dev/null || echo 2)" >/dev/null
server=build/demo/server/meter-server
meterd=build/demo/meter/meterd

demo=var/demo
rm -rf "$demo"
# Secrets, the database and the broker's accounts: readable by us alone.
umask 077
mkdir -p "$demo"
chmod 700 "$demo"
pids=()
cleanup() {
    trap - INT TERM EXIT
    echo
    echo "demo: stopping"
    for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
    wait 2>/dev/null || true
}
trap cleanup INT TERM EXIT

free_port() { python3 tests/lib/free_port.py; }
port_open() { python3 tests/lib/free_port.py --check "$1"; }
wait_port() { for _ in $(seq 1 100); do port_open "$1" && return 0; sleep 0.1; done; return 1; }

# The broker, on loopback, just for the demo: accounts in the dynamic-security plugin, whose
# admin is meter-server's own account (password generated, given on stdin, not as an argument).
plugin=$(ls /usr/lib/*/mosquitto_dynamic_security.so /usr/lib/mosquitto_dynamic_security.so \
         2>/dev/null | head -n 1 || true)
[ -n "$plugin" ] || { echo "demo: mosquitto's dynamic-security plugin is missing" >&2; exit 1; }
mqtt_pw=$(head -c 24 /dev/urandom | base64 | tr -d '/+=')
printf '%s\n' "$mqtt_pw" > "$demo/mqtt-server.password"
printf '%s\n%s\n' "$mqtt_pw" "$mqtt_pw" |
    mosquitto_ctrl dynsec init "$root/$demo/dynamic-security.json" meter-server >/dev/null
mqtt_port=$(free_port)
cat > "$demo/mosquitto.conf" <<CONF
per_listener_settings false
listener $mqtt_port 127.0.0.1
allow_anonymous false
plugin $plugin
plugin_opt_config_file $root/$demo/dynamic-security.json
persistence true
persistence_location $root/$demo/
log_dest file $root/$demo/mosquitto.log
CONF
[ "$(id -u)" = 0 ] && echo "user root" >> "$demo/mosquitto.conf"
mosquitto -c "$demo/mosquitto.conf" >/dev/null 2>&1 &
pids+=($!)
wait_port "$mqtt_port" || { echo "demo: mosquitto did not start" >&2; exit 1; }

# Database, accounts and meters. Passwords and the JWT secret are generated, never defaults.
db="sqlite:$demo/meter.db"
"$server" migrate --db "$db" 2>/dev/null
admin_pw=$(head -c 12 /dev/urandom | base64 | tr -d '/+=')
user_pw=$(head -c 12 /dev/urandom | base64 | tr -d '/+=')
echo "$admin_pw" | "$server" user add admin --role admin --db "$db" 2>/dev/null
echo "$user_pw" | "$server" user add demo --role user --db "$db" 2>/dev/null
head -c 48 /dev/urandom | base64 > "$demo/jwt.secret"
chmod 600 "$demo/jwt.secret"
for m in meter-01 meter-02 meter-03 meter-04; do
    "$server" device add "$m" --owner demo --db "$db" > "$demo/$m.secret" 2>/dev/null
    chmod 600 "$demo/$m.secret"
done
# meter-05: a supply that swells (250 V where 220 V is nominal), for the alarms (docs/alarms.md).
"$server" device add meter-05 --owner demo --db "$db" > "$demo/meter-05.secret" 2>/dev/null
chmod 600 "$demo/meter-05.secret"

api_port=8080
port_open "$api_port" && api_port=$(free_port)
# The terminal gateway (docs/terminal-protocol.md): meter-05 reaches the server over it, as a
# 4G terminal without a broker route would.
term_port=$(free_port)
# Days and months of energy start at local midnight in the site's zone (DEMO_TIMEZONE).
# The server logs in as the plugin's admin and gives every device its broker account.
DEMO_TZ_SHOWN="${DEMO_TIMEZONE:-Asia/Shanghai} time"
"$server" --db "$db" --mqtt "tcp://127.0.0.1:$mqtt_port" --listen "127.0.0.1:$api_port" \
    --timezone "${DEMO_TIMEZONE:-Asia/Shanghai}" --terminal-listen "127.0.0.1:$term_port" \
    --mqtt-username meter-server --mqtt-password-file "$demo/mqtt-server.password" \
    --jwt-secret-file "$demo/jwt.secret" 2>"$demo/meter-server.log" &
pids+=($!)
wait_port "$api_port" || { echo "demo: meter-server did not start; see $demo/meter-server.log" >&2; exit 1; }
for _ in $(seq 1 100); do
    grep -q "device accounts in step" "$demo/meter-server.log" && break
    sleep 0.1
done

# Prepaid, on meter-02 (about 5.5 kW): a day/night tariff and a small balance, set through
# the API as the admin before the meters start, so the balance runs out within minutes, the
# cut-off rule switches the meter's relay off, and a recharge (printed below) restores it.
# DEMO_PREPAID_BALANCE (yuan, default 0.15) sets the starting balance.
api="http://127.0.0.1:$api_port"
json_field() { python3 -c 'import sys,json; print(json.load(sys.stdin)[sys.argv[1]])' "$1"; }
admin_token=$(printf '{"username":"admin","password":"%s"}' "$admin_pw" |
    curl -sf -X POST "$api/api/login" --data-binary @- | json_field token)
printf '%s\n' "$admin_token" > "$demo/admin.token"
auth=(-H "Authorization: Bearer $admin_token")
prepaid_balance="${DEMO_PREPAID_BALANCE:-0.15}"
curl -sf "${auth[@]}" -X PUT "$api/api/devices/meter-02/tariff" \
    -d '{"periods":[{"from":"08:00","price":"1.2000","label":"峰"},{"from":"22:00","price":"0.4000","label":"谷"}]}' \
    >/dev/null || { echo "demo: setting meter-02's tariff failed" >&2; exit 1; }
curl -sf "${auth[@]}" -X POST "$api/api/device/recharge/meter-02" \
    -H "Idempotency-Key: demo-initial-$(date +%s)" -d "{\"amount\":\"$prepaid_balance\"}" \
    >/dev/null || { echo "demo: the first recharge of meter-02 failed" >&2; exit 1; }

# Three single-phase meters with different loads: resistive, inductive with harmonics,
# leading; and meter-04 on a three-phase four-wire feeder (a motor and lighting: phase b
# loaded more, phase c's voltage sagging, a little 5th harmonic and negative sequence).
sims=("sim:v=230,i=12,phase=0"
      "sim:v=228,i=30,phase=36.87,h3=5,h5=3,h7=2,noise=0.1"
      "sim:v=231,i=5,phase=-30,freq=49.95"
      "sim:wiring=3p4w,v=230,i=40,ib=48,ic=36,vc=224,phase=25,phaseb=32,h5=3,u2=0.8,noise=0.05")
for k in 0 1 2 3; do
    m="meter-0$((k + 1))"
    "$meterd" --device-id "$m" --mqtt "tcp://127.0.0.1:$mqtt_port" --adc "${sims[$k]}" \
        --secret-file "$demo/$m.secret" --interval 1 --state-dir "$demo" 2>"$demo/$m.log" &
    pids+=($!)
done

# The swelling meter-05, over the TCP terminal link instead of MQTT: over-voltage (and swell)
# alarms after a minute.
"$meterd" --device-id meter-05 --link "tcp://127.0.0.1:$term_port" --adc "sim:v=250,i=8" \
    --secret-file "$demo/meter-05.secret" --interval 1 --state-dir "$demo" 2>"$demo/meter-05.log" &
pids+=($!)

grep -q "not serving the dashboard" "$demo/meter-server.log" &&
    echo "demo: the dashboard is not built (needs node and npm); the API works without it" >&2
cat <<TEXT

smartmeter demo is running (Ctrl-C stops it).

  dashboard:  $api/   (log in as admin or demo below)
  API:        $api/api/
  admin:      admin / $admin_pw
  user:       demo / $user_pw   (owns meter-01 .. meter-05; meter-04 is three-phase, meter-05 swells and
              talks to the server over the TCP terminal link on port $term_port, not MQTT)
  broker:     tcp://127.0.0.1:$mqtt_port   (accounts only; to watch it as the server's account:
              mosquitto_sub -p $mqtt_port -u meter-server -P "\$(cat $demo/mqtt-server.password)" -t 'meters/#' -v)
  logs:       $demo/

Try:
  TOKEN=\$(curl -s -X POST $api/api/login -d '{"username":"demo","password":"$user_pw"}' | python3 -c 'import sys,json; print(json.load(sys.stdin)["token"])')
  curl -s -H "Authorization: Bearer \$TOKEN" $api/api/devices
  curl -s -H "Authorization: Bearer \$TOKEN" "$api/api/device/data/meter-02?limit=3"
  curl -s -H "Authorization: Bearer \$TOKEN" "$api/api/device/data/meter-04?limit=1"   # per phase

Prepaid (meter-02): a day/night tariff (08:00-22:00 峰 1.2000, 22:00-08:00 谷 0.4000 yuan/kWh,
$DEMO_TZ_SHOWN) and a balance of $prepaid_balance yuan, which its ~5.5 kW load uses up in 2 to 5
minutes. Then the cut-off rule switches its relay off and its current drops to 0 (0.05 A of
simulated noise). Watch:
  ADMIN=\$(cat $root/$demo/admin.token)
  curl -s -H "Authorization: Bearer \$ADMIN" $api/api/devices/meter-02/tariff
  curl -s -H "Authorization: Bearer \$ADMIN" "$api/api/devices/meter-02/ledger?limit=5"   # charge rows
  curl -s -H "Authorization: Bearer \$ADMIN" $api/api/devices/meter-02                    # balance, relay
  curl -s -H "Authorization: Bearer \$ADMIN" "$api/api/device/data/meter-02?limit=1"      # current 0 once cut
Recharge (above 1.00 yuan restores the load within seconds):
  curl -s -X POST -H "Authorization: Bearer \$ADMIN" -H "Idempotency-Key: \$(date +%s%N)" \\
       $api/api/device/recharge/meter-02 -d '{"amount":"5.00"}'
Or on the dashboard: meter-02's page (balance, relay, tariff, cost per day).

Alarms (meter-05's supply swells to 250 V; the over-voltage limit is 235.4 V, held 60 s):
  curl -s -H "Authorization: Bearer \$ADMIN" "$api/api/alarms?state=open"
  curl -s -N -H "Authorization: Bearer \$ADMIN" $api/api/alarms/stream     # live
  curl -s -X POST -H "Authorization: Bearer \$ADMIN" $api/api/alarms/1/ack -d '{"note":"seen"}'

TEXT
wait
