#!/usr/bin/env bash
# Throwaway mosquitto and MariaDB for the tests, on free loopback ports.
#
#   services.sh start DIR        start both; DIR/env gets their addresses
#   services.sh stop DIR         stop both and remove their data
#   services.sh newdb DIR NAME   (re)create an empty database NAME
#
# DIR/env is shell syntax: MQTT_URL, MQTT_PORT, MYSQL_PORT, MYSQL_SOCKET,
# MYSQL_URL_BASE (mysql://USER:PASS@127.0.0.1:PORT), RUN_DIR, and the broker's accounts:
# MQTT_SERVER_USER with MQTT_SERVER_PASSWORD_FILE (meter-server's, the admin of the
# dynamic-security plugin) and MQTT_TOOLS_USER with MQTT_TOOLS_PASSWORD_FILE (the tests' own
# mosquitto_pub and mosquitto_sub, allowed everywhere). No anonymous client gets in.
set -euo pipefail

cmd=${1:?usage: services.sh start|stop|newdb DIR [NAME]}
dir=${2:?usage: services.sh start|stop|newdb DIR [NAME]}
here=$(cd "$(dirname "$0")" && pwd)

free_port() { python3 "$here/free_port.py"; }

wait_for() { # seconds, command...
    local deadline=$((SECONDS + $1)); shift
    until "$@" >/dev/null 2>&1; do
        [ $SECONDS -lt $deadline ] || return 1
        sleep 0.2
    done
}

start() {
    stop_quietly
    mkdir -p "$dir"
    local run; run=$(mktemp -d /tmp/smartmeter-services.XXXXXX)
    chmod 755 "$run"
    echo "$run" > "$dir/rundir"

    # mosquitto on loopback only, persistent sessions on disk, as docs/security.md deploys it:
    # the dynamic-security plugin holds the accounts, anonymous clients are refused.
    local mport; mport=$(free_port)
    mkdir -p "$run/mosquitto"
    python3 "$here/mqtt_accounts.py" init "$run/mosquitto" "$mport" > "$run/mosquitto/accounts.env"
    echo "pid_file $run/mosquitto/mosquitto.pid" >> "$run/mosquitto/mosquitto.conf"
    mosquitto -c "$run/mosquitto/mosquitto.conf" -d
    wait_for 20 python3 "$here/free_port.py" --check "$mport" || { echo "mosquitto did not start" >&2; cat "$run/mosquitto/mosquitto.log" >&2; exit 1; }

    # MariaDB in its own datadir; as root it must run as the mysql user.
    local dport; dport=$(free_port)
    local my="$run/mysql"
    mkdir -p "$my/data"
    local as_user=()
    if [ "$(id -u)" = 0 ]; then
        chown -R mysql:mysql "$my"
        as_user=(--user=mysql)
    fi
    mariadb-install-db --no-defaults --datadir="$my/data" --auth-root-authentication-method=normal \
        --skip-test-db "${as_user[@]}" > "$my/install.log" 2>&1 \
        || { echo "mariadb-install-db failed:" >&2; cat "$my/install.log" >&2; exit 1; }
    mariadbd --no-defaults --datadir="$my/data" --port="$dport" --bind-address=127.0.0.1 \
        --socket="$my/mysqld.sock" --pid-file="$my/mysqld.pid" --skip-name-resolve \
        --innodb-buffer-pool-size=256M --max-connections=500 --log-error="$my/error.log" \
        "${as_user[@]}" > /dev/null 2>&1 &
    wait_for 60 mariadb-admin --no-defaults -uroot -S "$my/mysqld.sock" ping \
        || { echo "mariadbd did not start:" >&2; cat "$my/error.log" >&2; exit 1; }
    local pass; pass=$(head -c 12 /dev/urandom | od -An -tx1 | tr -d ' \n')
    mariadb --no-defaults -uroot -S "$my/mysqld.sock" -e \
        "CREATE USER 'smartmeter'@'127.0.0.1' IDENTIFIED BY '$pass';
         GRANT ALL ON *.* TO 'smartmeter'@'127.0.0.1';"

    cat > "$dir/env" <<ENV
RUN_DIR=$run
MQTT_PORT=$mport
MQTT_URL=tcp://127.0.0.1:$mport
$(cat "$run/mosquitto/accounts.env")
MYSQL_PORT=$dport
MYSQL_SOCKET=$my/mysqld.sock
MYSQL_URL_BASE=mysql://smartmeter:$pass@127.0.0.1:$dport
ENV
    echo "services up: mosquitto on $mport, mariadb on $dport"
}

kill_pidfile() { # pidfile
    [ -f "$1" ] || return 0
    local pid; pid=$(cat "$1" 2>/dev/null) || return 0
    [ -n "$pid" ] || return 0
    kill "$pid" 2>/dev/null || return 0
    for _ in $(seq 1 100); do kill -0 "$pid" 2>/dev/null || return 0; sleep 0.2; done
    kill -9 "$pid" 2>/dev/null || true
}

stop_quietly() {
    [ -f "$dir/rundir" ] || return 0
    local run; run=$(cat "$dir/rundir")
    if [ -d "$run" ]; then
        kill_pidfile "$run/mosquitto/mosquitto.pid"
        kill_pidfile "$run/mysql/mysqld.pid"
        rm -rf "$run"
    fi
    rm -f "$dir/rundir" "$dir/env"
}

newdb() {
    local name=${1:?database name}
    # shellcheck disable=SC1091
    . "$dir/env"
    mariadb --no-defaults -uroot -S "$MYSQL_SOCKET" -e \
        "DROP DATABASE IF EXISTS \`$name\`; CREATE DATABASE \`$name\`"
}

case "$cmd" in
    start) start ;;
    stop) stop_quietly; echo "services stopped" ;;
    newdb) newdb "${3:-}" ;;
    *) echo "unknown command $cmd" >&2; exit 2 ;;
esac
