#!/usr/bin/env bash
# systemd-analyze security on a unit file, offline (no running manager needed): prints the
# findings that still count and the exposure score, and fails above the limit.
#   security_score.sh UNIT [MAX]     (MAX: 2.0 unless given)
set -euo pipefail
unit=$1 max=${2:-2.0}
command -v systemd-analyze >/dev/null || { echo "systemd-analyze is not installed" >&2; exit 1; }
out=$(systemd-analyze security --offline=true --no-pager "$unit" 2>&1) && rc=0 || rc=$?
score=$(printf '%s\n' "$out" | sed -n 's/.*Overall exposure level for .*: \([0-9][0-9.]*\) .*/\1/p')
if [ -z "$score" ]; then
    printf '%s\n' "$out" >&2
    echo "$(basename "$unit"): no exposure score (systemd-analyze exit $rc)" >&2
    exit 1
fi
printf '%s\n' "$out" | grep -F '✗' || true
echo "$(basename "$unit"): exposure $score (limit $max)"
awk -v s="$score" -v m="$max" 'BEGIN { exit !(s + 0 <= m + 0) }' || {
    echo "$(basename "$unit"): exposure $score is above $max" >&2
    exit 1
}
