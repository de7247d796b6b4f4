#!/usr/bin/env bash
# systemd-analyze verify on our units, in a throwaway root that holds the built binaries
# where the units expect them (/usr/bin) and the host's own units (sysinit.target and the
# rest a service depends on), so verify checks ExecStart= as the installed system would.
#   verify_units.sh METER_SERVER METERD UNIT...
# Fails on any complaint, not only on verify's exit status: an unknown key or a bad value
# is a warning ("ignoring") that leaves the status 0. Man pages are not checked (--man=no):
# the packages install them.
set -euo pipefail
[ $# -ge 3 ] || { echo "usage: $0 METER_SERVER METERD UNIT..." >&2; exit 2; }
server=$1 meterd=$2
shift 2
command -v systemd-analyze >/dev/null || { echo "systemd-analyze is not installed" >&2; exit 1; }
units=/lib/systemd/system
[ -d "$units" ] || units=/usr/lib/systemd/system
[ -e "$units/sysinit.target" ] || { echo "no systemd units on this host ($units)" >&2; exit 1; }

root=$(mktemp -d "${TMPDIR:-/tmp}/smartmeter-verify.XXXXXX")
trap 'rm -rf "$root"' EXIT
mkdir -p "$root/usr/bin" "$root/usr/lib/systemd" "$root/etc/systemd/system"
cp -a "$units" "$root/usr/lib/systemd/system"
install -m 0755 "$server" "$root/usr/bin/meter-server"
install -m 0755 "$meterd" "$root/usr/bin/meterd"

names=()
for u in "$@"; do
    cp "$u" "$root/etc/systemd/system/"
    names+=("$(basename "$u")")
done
out=$(systemd-analyze verify --man=no --root="$root" "${names[@]}" 2>&1) && rc=0 || rc=$?
if [ "$rc" -ne 0 ] || [ -n "$out" ]; then
    echo "systemd-analyze verify ${names[*]}: exit $rc" >&2
    echo "$out" | sed "s|$root||g" >&2
    exit 1
fi
echo "systemd-analyze verify ${names[*]}: no complaints"
