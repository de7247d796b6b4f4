#!/usr/bin/env bash
# The verify check must be able to fail: each unit broken in one way at a time (an unknown
# key, a bad value, an ExecStart= binary that is not there) must be refused by verify_units.sh.
#   verify_catches_broken.sh METER_SERVER METERD UNIT...
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
server=$1 meterd=$2
shift 2
work=$(mktemp -d "${TMPDIR:-/tmp}/smartmeter-broken.XXXXXX")
trap 'rm -rf "$work"' EXIT
breakages=(
    's/^Type=notify$/Typ=notify/'                      # unknown key
    's/^Type=notify$/Type=notfy/'                      # bad value
    's/^NotifyAccess=main$/NotifyAccess=mian/'
    's/^WatchdogSec=.*/WatchdogSec=soon/'
    's/^SystemCallFilter=@system-service$/SystemCallFilter=@no-such-set/'
    's|^ExecStart=/usr/bin/\([a-z-]*\)|ExecStart=/usr/bin/\1-missing|' # binary not there
)
fails=0
for unit in "$@"; do
    name=$(basename "$unit")
    for b in "${breakages[@]}"; do
        mkdir -p "$work/u"
        sed "$b" "$unit" > "$work/u/$name"
        if cmp -s "$unit" "$work/u/$name"; then
            echo "FAIL: '$b' changes nothing in $name (the unit no longer has that line?)" >&2
            fails=$((fails + 1))
        elif "$here/verify_units.sh" "$server" "$meterd" "$work/u/$name" >/dev/null 2>&1; then
            echo "FAIL: $name broken by '$b' passed verify" >&2
            fails=$((fails + 1))
        else
            echo "ok: $name broken by '$b' refused"
        fi
    done
done
[ "$fails" -eq 0 ]
