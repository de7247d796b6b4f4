#!/usr/bin/env bash
# Installs what building, testing and the demo need, from Debian's packages,
# skipping what is already there. Uses sudo when not run as root.
set -euo pipefail

packages=(
    build-essential cmake pkg-config git ca-certificates
    libpaho-mqtt-dev libmicrohttpd-dev libgnutls28-dev libmariadb-dev libsqlite3-dev libjansson-dev
    libjwt-dev libsodium-dev libgpiod-dev libcmocka-dev libkissfft-dev libcurl4-openssl-dev libssl-dev
    mosquitto mosquitto-clients mariadb-server mariadb-client sqlite3
    python3 curl openssl procps tzdata
    python3-cryptography # the WeChat Pay stand-in (tests/lib/wxpay_standin.py): RSA and AES-GCM
    clang libclang-rt-14-dev # the libFuzzer harnesses (tests/fuzz): clang and its runtimes
    libmodbus-dev mbpoll python3-pymodbus # the Modbus TCP server, and two clients its tests read it with
    python3-serial python3-serial-asyncio # pymodbus's server imports them (only recommended): the DTU simulator
    tshark # dissects the MMS port's test sessions (tests/integration/test_mms.py)
    systemd # systemd-analyze verify and security on the units, and the units they need (tests/systemd)
    prometheus # promtool checks GET /metrics and the Grafana dashboard's queries (tests/integration/test_metrics.py)
    # The Debian packages (scripts/package.sh): debhelper and its tools, lintian, a throwaway
    # root for the install check, the cross compilers of the arm64 and armhf packages.
    debhelper dpkg-dev fakeroot lintian debootstrap crossbuild-essential-arm64 crossbuild-essential-armhf
)
# The mini program's tests (tests/frontend) need node and npm: Debian's, unless a node is
# already on the PATH.
if ! command -v node >/dev/null 2>&1; then
    packages+=(nodejs npm)
fi
# The dashboard's browser tests (tests/browser) drive Debian's Chromium; a Chinese font lets
# its screenshots show the dashboard's default language.
packages+=(chromium fonts-wqy-microhei)

missing=()
for p in "${packages[@]}"; do
    # Native or architecture-independent: a foreign (multiarch) copy does not count.
    dpkg-query -W -f='${Architecture} ${Status}\n' "$p" 2>/dev/null |
        grep -Eq "^($(dpkg --print-architecture)|all) install ok installed$" || missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && exit 0

sudo=()
if [ "$(id -u)" != 0 ]; then
    command -v sudo >/dev/null || { echo "deps.sh: need root or sudo to install: ${missing[*]}" >&2; exit 1; }
    sudo=(sudo)
fi
echo "deps.sh: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
"${sudo[@]}" apt-get update -qq
"${sudo[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
