#!/usr/bin/env bash
# Runs a command with the test services' addresses in its environment.
#   with-services.sh [--fresh-db NAME] COMMAND ARGS...
# Needs SERVICES_DIR (set by ctest). In ARGS, @MYSQL_DB_URL@ and @MQTT_URL@
# are replaced by the fresh database's URL and the broker's URL.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
: "${SERVICES_DIR:?SERVICES_DIR is not set}"
[ -f "$SERVICES_DIR/env" ] || { echo "test services are not running ($SERVICES_DIR/env missing)" >&2; exit 1; }
set -a
# shellcheck disable=SC1091
. "$SERVICES_DIR/env"
set +a
if [ "${1:-}" = --fresh-db ]; then
    "$here/services.sh" newdb "$SERVICES_DIR" "$2"
    export MYSQL_DB_URL="$MYSQL_URL_BASE/$2"
    shift 2
fi
args=()
for a in "$@"; do
    a=${a//@MYSQL_DB_URL@/${MYSQL_DB_URL:-}}
    a=${a//@MQTT_URL@/$MQTT_URL}
    args+=("$a")
done
exec "${args[@]}"
