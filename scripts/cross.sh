#!/usr/bin/env bash
# Cross-compiles meterd for a Raspberry Pi (or any ARM Linux board) with
# Debian's cross toolchains and multiarch libraries, and runs its unit tests
# and a "meterd analyze" smoke test under qemu-user.
#
#   scripts/cross.sh [--from-pool] [arm64|armhf|all]      (default arm64)
#
# --from-pool: instead of installing the target's -dev packages as multiarch
# packages (dpkg --add-architecture), download them from the Debian mirror's
# pool (CROSS_MIRROR, default http://deb.debian.org/debian; suite
# CROSS_SUITE, default bookworm) and unpack them into
# build/cross-<arch>-sysroot. For machines whose mirror lacks the target's
# indexes or has them out of step (apt then cannot install them); the cross
# compiler, its own C library and qemu-user still come from apt.
#
# Installs what is missing first (dpkg --add-architecture, the cross
# compiler, qemu-user and the target's -dev packages), with sudo when not run
# as root. Builds into build/cross-<arch> ($CROSS_BUILD_ROOT/cross-<arch> when
# set), without meter-server and without sanitizers (ASan does not run under
# qemu-user). armhf is built and tested the same way; its tests are skipped,
# with a warning, only when qemu-arm cannot start the binaries.
#
# Environment: CROSS_BUILD_ROOT (where the build trees go), CROSS_UNIT_TIMEOUT
# (seconds per unit test, default 900), CROSS_CTEST_EXCLUDE (a ctest -E regex
# of unit tests to leave out, for a quicker run).
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)
build_root=${CROSS_BUILD_ROOT:-$root/build}
jobs=$(nproc 2>/dev/null || echo 2)
# Seconds per unit test: qemu-user runs the floating-point-heavy ones 20-30 times slower.
unit_timeout=${CROSS_UNIT_TIMEOUT:-900}

usage() {
    echo "usage: scripts/cross.sh [--from-pool] [arm64|armhf|all]" >&2
    exit 2
}

from_pool=0
if [ "${1:-}" = --from-pool ]; then
    from_pool=1
    shift
fi
case "${1:-arm64}" in
    arm64) arches=(arm64) ;;
    armhf) arches=(armhf) ;;
    all) arches=(arm64 armhf) ;;
    -h | --help) usage ;;
    *) usage ;;
esac
[ $# -le 1 ] || usage

sudo=()
if [ "$(id -u)" != 0 ]; then
    sudo=(sudo)
fi

log() { echo "cross.sh: $*"; }

# What meterd and its tests link, per target architecture (runtime libraries
# listed too so a partial install is completed).
target_packages=(
    libc6
    libpaho-mqtt-dev libpaho-mqtt1.3
    libjansson-dev libjansson4
    libgpiod-dev libgpiod2
    libkissfft-dev libkissfft-float131
    libcmocka-dev libcmocka0
    libsodium-dev libsodium23
)

installed() { # package[:arch]
    [ "$(dpkg-query -W -f='${Status}' "$1" 2>/dev/null || true)" = "install ok installed" ]
}

# A mirror caught mid-sync fails an update now and then; retry, and in the end
# try the install with the lists there are (it fails clearly if they lack a package).
apt_update() {
    local try
    for try in 1 2 3; do
        "${sudo[@]}" apt-get update -qq && return 0
        [ $try = 3 ] || sleep $((try * 5))
    done
    log "warning: apt-get update failed 3 times; installing from the package lists there are"
}

install_missing() { # arches...
    local need_update=0 missing=() a p
    if [ $from_pool = 1 ]; then
        for a in "$@"; do
            installed "crossbuild-essential-$a" || missing+=("crossbuild-essential-$a")
        done
        for p in qemu-user cmake pkg-config gawk curl xz-utils; do
            installed "$p" || missing+=("$p")
        done
        if [ ${#missing[@]} -gt 0 ]; then
            log "installing ${missing[*]}"
            export DEBIAN_FRONTEND=noninteractive
            apt_update
            "${sudo[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
        fi
        for a in "$@"; do
            unpack_pool "$a"
        done
        return 0
    fi
    for a in "$@"; do
        if ! dpkg --print-foreign-architectures | grep -qx "$a" &&
            [ "$(dpkg --print-architecture)" != "$a" ]; then
            log "adding architecture $a"
            "${sudo[@]}" dpkg --add-architecture "$a"
            need_update=1
        fi
        installed "crossbuild-essential-$a" || missing+=("crossbuild-essential-$a")
        for p in "${target_packages[@]}"; do
            installed "$p:$a" || missing+=("$p:$a")
        done
    done
    for p in qemu-user cmake pkg-config gawk; do
        installed "$p" || missing+=("$p")
    done
    if [ ${#missing[@]} -eq 0 ] && [ $need_update = 0 ]; then
        return 0
    fi
    if [ ${#sudo[@]} -gt 0 ] && ! command -v sudo >/dev/null; then
        echo "cross.sh: need root or sudo to install: ${missing[*]}" >&2
        exit 1
    fi
    log "installing ${missing[*]}"
    export DEBIAN_FRONTEND=noninteractive
    apt_update
    "${sudo[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
}

# The target's libraries from the mirror's pool, unpacked into one folder (--from-pool).
# libc6 is the cross toolchain's; paho's TLS library needs libssl3 at link and run time.
unpack_pool() { # arch
    local arch=$1 mirror=${CROSS_MIRROR:-http://deb.debian.org/debian}
    local suite=${CROSS_SUITE:-bookworm} sysroot=$build_root/cross-$1-sysroot
    local index=$sysroot/Packages p f
    mkdir -p "$sysroot/debs"
    if [ ! -s "$index" ]; then
        log "$arch: reading $mirror/dists/$suite/main/binary-$arch/Packages.xz"
        curl -sSf "$mirror/dists/$suite/main/binary-$arch/Packages.xz" | xz -d > "$index.tmp"
        mv "$index.tmp" "$index"
    fi
    for p in "${target_packages[@]}" libssl3; do
        [ "$p" = libc6 ] && continue
        f=$(gawk -v p="$p" '/^Package: / { pk = $2 } /^Filename: / && pk == p { print $2; exit }' "$index")
        [ -n "$f" ] || { echo "cross.sh: $arch: $p is not in $suite's index" >&2; exit 1; }
        if [ ! -s "$sysroot/debs/${f##*/}" ]; then
            curl -sSf -o "$sysroot/debs/${f##*/}.tmp" "$mirror/$f"
            mv "$sysroot/debs/${f##*/}.tmp" "$sysroot/debs/${f##*/}"
        fi
        dpkg -x "$sysroot/debs/${f##*/}" "$sysroot/root"
    done
    log "$arch: target libraries unpacked into $sysroot/root"
}

# A 1 s capture of a known signal at 6400 Hz: 50 Hz, 230 V, 10 A lagging 30
# degrees, with 5 % third harmonic on the voltage.
write_capture() { # file
    gawk 'BEGIN {
        rate = 6400; f = 50; pi = atan2(0, -1); r2 = sqrt(2)
        print "v,i"
        for (n = 0; n < rate; n++) {
            t = n / rate
            v = 230 * r2 * (sin(2 * pi * f * t) + 0.05 * sin(2 * pi * 3 * f * t))
            i = 10 * r2 * sin(2 * pi * f * t - pi / 6)
            printf "%.6f,%.6f\n", v, i
        }
    }' > "$1"
}

smoke_analyze() { # arch dir emulator...
    local arch=$1 dir=$2
    shift 2
    local csv=$dir/smoke-50hz.csv out
    write_capture "$csv"
    if ! out=$("$@" "$dir/meter/meterd" analyze --rate 6400 < "$csv"); then
        echo "cross.sh: $arch: meterd analyze failed under $1" >&2
        return 1
    fi
    local hz
    hz=$(printf '%s\n' "$out" | sed -n 's/.*"frequency_hz":\([-0-9.eE+]*\).*/\1/p')
    if [ -z "$hz" ] || ! gawk -v hz="$hz" 'BEGIN { d = hz - 50; exit !(d < 0.01 && d > -0.01) }'; then
        echo "cross.sh: $arch: meterd analyze says frequency_hz '$hz', expected 50 +- 0.01" >&2
        echo "$out" >&2
        return 1
    fi
    log "$arch: meterd analyze under $1: frequency_hz $hz (expected 50 +- 0.01)"
}

build_and_test() { # arch
    local arch=$1 triplet qemu
    case "$arch" in
        arm64) triplet=aarch64-linux-gnu qemu=qemu-aarch64 ;;
        armhf) triplet=arm-linux-gnueabihf qemu=qemu-arm ;;
    esac
    local dir=$build_root/cross-$arch
    # As the toolchain file says: the multiarch loader and libc, not /usr/<triplet>'s;
    # with --from-pool, the cross toolchain's libc and the unpacked libraries.
    local emulator=("$qemu" -L /) pool_args=()
    if [ $from_pool = 1 ]; then
        local root_dir=$build_root/cross-$arch-sysroot/root
        emulator=("$qemu" -L "/usr/$triplet" -E "LD_LIBRARY_PATH=$root_dir/usr/lib/$triplet")
        pool_args=(-DSMARTMETER_CROSS_SYSROOT="$root_dir")
    fi
    mkdir -p "$dir"

    local t0=$SECONDS
    log "$arch: configuring and building in $dir"
    if ! { cmake -S "$root" -B "$dir" \
        -DCMAKE_TOOLCHAIN_FILE="$root/cmake/toolchain-$triplet.cmake" \
        -DCMAKE_BUILD_TYPE=RelWithDebInfo -DSMARTMETER_BUILD_SERVER=OFF \
        -DSMARTMETER_SANITIZE=OFF -DSMARTMETER_WERROR=ON -DSMARTMETER_CROSS_TESTS=OFF \
        -DSMARTMETER_UNIT_TIMEOUT="$unit_timeout" -DSMARTMETER_PQ_TEST_ENERGY_SECONDS=600 \
        "${pool_args[@]}" &&
        cmake --build "$dir" -j "$jobs"; } > "$dir/build.log" 2>&1; then
        cat "$dir/build.log"
        echo "cross.sh: $arch: build in $dir failed" >&2
        return 1
    fi
    local file_out
    file_out=$(od -An -tx1 -j18 -N2 "$dir/meter/meterd" | tr -d ' ')
    case "$arch:$file_out" in
        arm64:b700 | armhf:2800) ;; # ELF e_machine: EM_AARCH64, EM_ARM
        *)
            echo "cross.sh: $arch: $dir/meter/meterd is not an $arch binary (e_machine $file_out)" >&2
            return 1
            ;;
    esac
    log "$arch: built in $((SECONDS - t0)) s"

    if ! "${emulator[@]}" "$dir/meter/meterd" --help > /dev/null 2>&1; then
        if [ "$arch" = arm64 ]; then
            echo "cross.sh: $arch: $qemu cannot run $dir/meter/meterd" >&2
            return 1
        fi
        log "warning: $arch: $qemu cannot run the binaries here; built only, tests skipped"
        return 0
    fi
    t0=$SECONDS
    local exclude=()
    [ -z "${CROSS_CTEST_EXCLUDE:-}" ] || exclude=(-E "$CROSS_CTEST_EXCLUDE")
    if ! ctest --test-dir "$dir" -L unit "${exclude[@]}" --output-on-failure -j "$jobs"; then
        echo "cross.sh: $arch: unit tests under $qemu failed" >&2
        return 1
    fi
    smoke_analyze "$arch" "$dir" "${emulator[@]}"
    log "$arch: tests under $qemu took $((SECONDS - t0)) s"
}

t_start=$SECONDS
install_missing "${arches[@]}"
log "packages ready after $((SECONDS - t_start)) s"
for a in "${arches[@]}"; do
    build_and_test "$a"
done
log "done (${arches[*]}) in $((SECONDS - t_start)) s"
