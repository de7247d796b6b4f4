#!/usr/bin/env bash
# Runs the mini program's tests: installs the exact packages of miniprogram/package-lock.json
# (no install scripts run), then jest. METER_SERVER names the meter-server binary that the
# live test starts; ctest sets it.
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
for tool in node npm; do
    command -v "$tool" >/dev/null || { echo "run-miniprogram.sh: $tool is missing (scripts/deps.sh installs nodejs and npm)" >&2; exit 1; }
done
[ -n "${METER_SERVER:-}" ] || { echo "run-miniprogram.sh: METER_SERVER must name the meter-server binary" >&2; exit 2; }
[ -x "$METER_SERVER" ] || { echo "run-miniprogram.sh: METER_SERVER=$METER_SERVER is not an executable" >&2; exit 2; }

cd "$root/miniprogram"
npm ci --no-audit --no-fund --ignore-scripts
exec ./node_modules/.bin/jest --ci
