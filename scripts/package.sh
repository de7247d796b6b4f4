#!/usr/bin/env bash
# Builds the Debian packages (debian/): smartmeter-server for amd64 and arm64,
# smartmeter-meterd for arm64 and armhf, natively or with Debian's cross toolchains.
#
#   scripts/package.sh [--werror] [--check] [amd64|arm64|armhf|all]    (default all)
#
# Installs what is missing first (debhelper, the cross compilers, the target's -dev
# packages as multiarch packages), with sudo when not run as root. Each architecture is
# built by dpkg-buildpackage -b in a fresh copy of the tree's files (tracked and new ones,
# uncommitted changes included) in build/package/src-<arch>; the .debs land in
# build/package/out. Nothing is written into the tree itself.
#
# --werror: warnings are errors (SMARTMETER_WERROR=ON) in the build with
#           dpkg-buildflags' hardening flags.
# --check:  lintian on every .deb (fails on an error), the packages with their sizes, their
#           contents checked (binaries, units, conffiles, web root, man pages, the shared
#           libraries in Depends), and with amd64 an install of the server package into a
#           throwaway Debian root (debootstrap, kept in build/package/chroot for reruns):
#           apt-get installs its Depends, the postinst makes the user and jwt.secret, the
#           installed server answers /api/health, and a purge removes what the postinst made;
#           with an ARM meterd package too, its maintainer scripts run there (dpkg --force-*).
#
# Environment: PACKAGE_MIRROR (debootstrap's mirror; default the first of apt's sources),
# PACKAGE_REUSE=1 (check the .debs of an earlier run instead of building them again).
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)
pkgdir=$root/build/package
out=$pkgdir/out

usage() {
    echo "usage: scripts/package.sh [--werror] [--check] [amd64|arm64|armhf|all]" >&2
    exit 2
}

werror=OFF check=0 target=all
while [ $# -gt 0 ]; do
    case "$1" in
        --werror) werror=ON ;;
        --check) check=1 ;;
        amd64 | arm64 | armhf | all) target=$1 ;;
        *) usage ;;
    esac
    shift
done
case "$target" in
    all) arches=(amd64 arm64 armhf) ;;
    *) arches=("$target") ;;
esac

sudo=()
if [ "$(id -u)" != 0 ]; then
    command -v sudo >/dev/null || { echo "package.sh: needs root or sudo" >&2; exit 1; }
    sudo=(sudo)
fi
native=$(dpkg --print-architecture)
log() { echo "package.sh: $*"; }
t_start=$SECONDS
phases=()
phase_done() { # name start
    phases+=("$(printf '%-34s %4d s' "$1" $((SECONDS - $2)))")
    log "$1: $((SECONDS - $2)) s"
}

triplet_of() {
    case "$1" in
        amd64) echo x86_64-linux-gnu ;;
        arm64) echo aarch64-linux-gnu ;;
        armhf) echo arm-linux-gnueabihf ;;
    esac
}

# What the packages' builds need, per architecture. meterd's libraries everywhere (meter/ is
# always built), the server's where smartmeter-server is built. On bookworm libmariadb-dev
# cannot be installed for two architectures at once (it is not Multi-Arch: same), so a
# cross build of the server takes the target's copy unpacked (mariadb_for).
meter_libs=(libjansson-dev libkissfft-dev libpaho-mqtt-dev libsodium-dev libgpiod-dev)
server_libs=(libgnutls28-dev libjwt-dev libmicrohttpd-dev libmodbus-dev libsqlite3-dev
    libcurl4-openssl-dev libssl-dev zlib1g-dev)
build_tools=(debhelper dpkg-dev fakeroot lintian debootstrap cmake "pkgconf:$native" build-essential)

installed() { # package[:arch]
    [ "$(dpkg-query -W -f='${Status}' "$1" 2>/dev/null || true)" = "install ok installed" ]
}

install_missing() {
    local missing=() update=0 a p
    for p in "${build_tools[@]}"; do installed "$p" || missing+=("$p"); done
    # The dashboard's bundler: Debian's node and npm, unless a node is already on the PATH.
    command -v node >/dev/null 2>&1 && command -v npm >/dev/null 2>&1 || missing+=(nodejs npm)
    for a in "${arches[@]}"; do
        local q=":$a" libs=("${meter_libs[@]}")
        case "$a" in amd64 | arm64) libs+=("${server_libs[@]}") ;; esac
        if [ "$a" = "$native" ]; then
            libs+=(libmariadb-dev)
        else
            if ! dpkg --print-foreign-architectures | grep -qx "$a"; then
                log "adding architecture $a"
                "${sudo[@]}" dpkg --add-architecture "$a"
                update=1
            fi
            installed "crossbuild-essential-$a" || missing+=("crossbuild-essential-$a")
            # The target's pkg-config (<triplet>-pkg-config), which debhelper gives CMake, and
            # its C library for development (libm.so: crossbuild-essential has only its own
            # copy in /usr/<triplet>, which CMake does not search), as sbuild installs them.
            libs+=(pkgconf libc6-dev)
            [ "$a" = arm64 ] && libs+=(libmariadb3)
        fi
        for p in "${libs[@]}"; do installed "$p$q" || missing+=("$p$q"); done
    done
    [ ${#missing[@]} -gt 0 ] || [ $update = 1 ] || return 0
    log "installing ${missing[*]}"
    export DEBIAN_FRONTEND=noninteractive
    "${sudo[@]}" apt-get update -qq
    "${sudo[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
}

# The target's libmariadb-dev unpacked into build/package/mariadb-<arch>, its pkg-config
# files pointed there and its libmariadb.so at the installed libmariadb3:<arch>; prints the
# directory of its .pc files, for PKG_CONFIG_PATH.
mariadb_for() { # arch
    local a=$1 t dir deb
    t=$(triplet_of "$a")
    dir=$pkgdir/mariadb-$a
    if [ ! -f "$dir/ok" ]; then
        rm -rf "$dir" && mkdir -p "$dir"
        (cd "$dir" && apt-get download -q "libmariadb-dev:$a" >/dev/null 2>&1)
        deb=$(ls "$dir"/libmariadb-dev_*.deb)
        dpkg-deb -x "$deb" "$dir/root"
        sed -i "s|^prefix=.*|prefix=$dir/root/usr|" "$dir/root/usr/lib/$t/pkgconfig/"*.pc
        ln -sfn "/usr/lib/$t/libmariadb.so.3" "$dir/root/usr/lib/$t/libmariadb.so"
        rm -f "$dir/root/usr/lib/$t/"*.a
        touch "$dir/ok"
    fi
    echo "$dir/root/usr/lib/$t/pkgconfig"
}

# The tree's files (tracked and untracked but not ignored, as they are on disk) into a fresh
# directory.
copy_tree() { # dest
    rm -rf "$1" && mkdir -p "$1"
    git -C "$root" ls-files -z --cached --others --exclude-standard |
        while IFS= read -r -d '' f; do [ -e "$f" ] && printf '%s\0' "$f"; done |
        tar --null -T - -cf - | tar -xf - -C "$1"
}

build_arch() { # arch
    local a=$1 t0=$SECONDS src=$pkgdir/src-$1 args=(-us -uc -b) env=()
    copy_tree "$src"
    if [ "$a" != "$native" ]; then
        args+=("-a$a")
        # The cross compiler (debhelper gives CMake the same); without it dpkg-architecture
        # warns that the build machine's CC does not match.
        env+=("CC=$(triplet_of "$a")-gcc")
        if [ "$a" = arm64 ]; then
            # Build-Depends names libmariadb-dev, which is installed for the build machine;
            # the target's copy comes from mariadb_for, so the check is skipped here.
            args+=(-d)
            env+=("PKG_CONFIG_PATH=$(mariadb_for "$a")")
        fi
    fi
    log "$a: dpkg-buildpackage ${args[*]} (SMARTMETER_WERROR=$werror), log in $pkgdir/build-$a.log"
    if ! (cd "$src" && env "${env[@]}" DEB_BUILD_OPTIONS="nocheck parallel=2" \
        SMARTMETER_WERROR=$werror dpkg-buildpackage "${args[@]}") > "$pkgdir/build-$a.log" 2>&1; then
        tail -n 60 "$pkgdir/build-$a.log"
        echo "package.sh: $a: dpkg-buildpackage failed (log: $pkgdir/build-$a.log)" >&2
        exit 1
    fi
    mkdir -p "$out"
    rm -f "$out"/*_"$a".deb "$out"/*_"$a".changes "$out"/*_"$a".buildinfo
    mv "$pkgdir"/*_"$a".deb "$pkgdir"/*_"$a".changes "$pkgdir"/*_"$a".buildinfo "$out"/
    phase_done "build $a" "$t0"
}

# ---- checks ---------------------------------------------------------------------------
failures=0
fail() { echo "package.sh: FAIL: $*" >&2; failures=$((failures + 1)); }
ok() { echo "  ok: $*"; }

# The shared libraries each binary links, as the packages its Depends must name.
server_depends=(libc6 libjansson4 libpaho-mqtt1.3 libsodium23 libkissfft-float131
    libmicrohttpd12 libgnutls30 libmariadb3 libsqlite3-0 libjwt0 libcurl4 libssl3 libmodbus5 adduser)
meterd_depends=(libc6 libjansson4 libpaho-mqtt1.3 libsodium23 libkissfft-float131 libgpiod2 adduser)

check_deb() { # deb
    local deb=$1 pkg arch contents depends conffiles bin unit conf paths=() libs=() p machine
    pkg=$(dpkg-deb -f "$deb" Package)
    arch=$(dpkg-deb -f "$deb" Architecture)
    contents=$(dpkg-deb -c "$deb" | awk '{ print $6 }')
    depends=$(dpkg-deb -f "$deb" Depends)
    conffiles=$(dpkg-deb --ctrl-tarfile "$deb" | tar -xOf - ./conffiles 2>/dev/null || true)
    echo "== $pkg ($arch): contents"
    dpkg-deb -c "$deb" | awk '$1 !~ /^d/ { printf "  %s %8s %s\n", $1, $3, $6 }' |
        grep -v '/usr/share/doc/.*\.md' || true
    echo "  Depends: $depends"
    case "$pkg" in
        smartmeter-server)
            bin=meter-server unit=meter-server.service conf=meter-server.conf
            paths=(./usr/share/smartmeter/web/index.html)
            libs=("${server_depends[@]}")
            ;;
        smartmeter-meterd)
            bin=meterd unit=meterd.service conf=meterd.conf
            paths=(./lib/udev/rules.d/60-smartmeter-meterd.rules)
            libs=("${meterd_depends[@]}")
            ;;
        *) fail "$deb: unknown package $pkg"; return ;;
    esac
    paths+=("./usr/bin/$bin" "./lib/systemd/system/$unit" "./etc/smartmeter/$conf"
        "./usr/share/man/man8/$bin.8.gz" "./usr/share/doc/$pkg/copyright"
        "./usr/share/doc/$pkg/changelog.gz" "./usr/share/doc/$pkg/install.md.gz")
    for p in "${paths[@]}"; do
        if grep -qxF "$p" <<< "$contents"; then ok "$pkg has $p"; else fail "$pkg lacks $p"; fi
    done
    if grep -qxF "/etc/smartmeter/$conf" <<< "$conffiles"; then
        ok "$pkg: /etc/smartmeter/$conf is a conffile"
    else
        fail "$pkg: /etc/smartmeter/$conf is not in conffiles ($conffiles)"
    fi
    if grep -E '^\./etc/' <<< "$contents" | grep -Eqi 'secret|password|\.key$'; then
        fail "$pkg ships a secret under /etc"
    else
        ok "$pkg: no secret under /etc"
    fi
    if grep -q '/web/.*\.map$' <<< "$contents"; then fail "$pkg ships the dashboard's source maps"; fi
    for p in "${libs[@]}"; do
        if grep -Eq "(^|, )$p( |,|$)" <<< "$depends"; then
            ok "$pkg Depends on $p"
        else
            fail "$pkg: Depends lacks $p"
        fi
    done
    # The binary is for the package's architecture (ELF e_machine).
    local tmp
    tmp=$(mktemp -d)
    dpkg-deb -x "$deb" "$tmp"
    machine=$(od -An -tx1 -j18 -N2 "$tmp/usr/bin/$bin" | tr -d ' ')
    case "$arch:$machine" in
        amd64:3e00 | arm64:b700 | armhf:2800) ok "$pkg: usr/bin/$bin is an $arch binary" ;;
        *) fail "$pkg: usr/bin/$bin has e_machine $machine, not $arch's" ;;
    esac
    # The unit runs the packaged binary; the config points at the package's directories.
    local exec
    exec=$(sed -n 's/^ExecStart=[-@:+!]*\([^ ]*\).*/\1/p' "$tmp/lib/systemd/system/$unit" | head -n 1)
    if [ "$exec" = "/usr/bin/$bin" ]; then
        ok "$unit: ExecStart=$exec"
    else
        fail "$unit: ExecStart runs '$exec', not the packaged /usr/bin/$bin"
    fi
    case "$pkg" in
        smartmeter-server)
            for p in 'db sqlite:/var/lib/smartmeter/server/meter.db' 'web_root /usr/share/smartmeter/web'; do
                if grep -qxF "$p" "$tmp/etc/smartmeter/$conf"; then ok "$conf: $p"; else fail "$conf lacks '$p'"; fi
            done
            ;;
        smartmeter-meterd)
            p='state_dir /var/lib/smartmeter/meterd'
            if grep -qxF "$p" "$tmp/etc/smartmeter/$conf"; then ok "$conf: $p"; else fail "$conf lacks '$p'"; fi
            ;;
    esac
    rm -rf "$tmp"
}

run_lintian() {
    local t0=$SECONDS a debs report errors=0 deb pkg
    echo "== lintian"
    # One run per architecture (a package's name is unique within one): lintian's start-up
    # is much of its time.
    for a in "${arches[@]}"; do
        debs=("$out"/*_"$a".deb)
        [ -e "${debs[0]}" ] || continue
        report=$(lintian --display-info --tag-display-limit 0 "${debs[@]}" 2>&1 |
            grep -v 'running with root privileges' || true)
        for deb in "${debs[@]}"; do
            pkg=$(dpkg-deb -f "$deb" Package)
            printf '%s: %s errors, %s warnings, %s info\n' "${deb##*/}" \
                "$(grep -c "^E: $pkg[: ]" <<< "$report" || true)" \
                "$(grep -c "^W: $pkg[: ]" <<< "$report" || true)" \
                "$(grep -c "^I: $pkg[: ]" <<< "$report" || true)"
        done
        [ -z "$report" ] || sed 's/^/  /' <<< "$report"
        errors=$((errors + $(grep -c '^E: ' <<< "$report" || true)))
    done
    [ $errors = 0 ] || fail "lintian: $errors errors"
    phase_done "lintian" "$t0"
}

list_packages() {
    echo "== packages"
    local deb
    for deb in "${debs_built[@]}"; do
        printf '  %-44s %-8s %6s KiB installed, %6s KiB .deb\n' "${deb##*/}" \
            "$(dpkg-deb -f "$deb" Architecture)" "$(dpkg-deb -f "$deb" Installed-Size)" \
            "$(( ($(stat -c %s "$deb") + 1023) / 1024 ))"
    done
}

# ---- install into a throwaway root ----------------------------------------------------
chroot_dir=$pkgdir/chroot
server_pid=

chroot_cleanup() {
    if [ -n "$server_pid" ]; then
        kill "$server_pid" 2>/dev/null || true
        wait "$server_pid" 2>/dev/null || true
        server_pid=
    fi
    if mountpoint -q "$chroot_dir/proc"; then "${sudo[@]}" umount "$chroot_dir/proc" || true; fi
}

mirror() {
    if [ -n "${PACKAGE_MIRROR:-}" ]; then echo "$PACKAGE_MIRROR"; return; fi
    local m
    m=$(cat /etc/apt/sources.list.d/*.sources 2>/dev/null |
        awk '/^URIs:/ && $2 ~ /debian\/?$/ && $2 !~ /security/ { print $2; exit }')
    [ -n "$m" ] || m=$(awk '$1 == "deb" && $2 !~ /^\[/ && $3 !~ /security/ { print $2; exit }' \
        /etc/apt/sources.list 2>/dev/null || true)
    echo "${m:-http://deb.debian.org/debian}"
}

in_chroot() { "${sudo[@]}" chroot "$chroot_dir" "$@"; }

install_check() {
    local deb t0=$SECONDS
    deb=$(ls "$out"/smartmeter-server_*_amd64.deb)
    echo "== install ${deb##*/} into a throwaway Debian root ($chroot_dir)"
    if [ ! -x "$chroot_dir/usr/bin/apt-get" ]; then
        log "debootstrap --variant=minbase bookworm from $(mirror) (once; kept for reruns)"
        "${sudo[@]}" rm -rf "$chroot_dir.new"
        "${sudo[@]}" debootstrap --variant=minbase bookworm "$chroot_dir.new" "$(mirror)" \
            > "$pkgdir/debootstrap.log" 2>&1 || {
            tail -n 20 "$pkgdir/debootstrap.log"
            fail "debootstrap failed"
            return
        }
        "${sudo[@]}" mv "$chroot_dir.new" "$chroot_dir"
    fi
    phase_done "throwaway root ready" "$t0"
    t0=$SECONDS
    trap chroot_cleanup EXIT
    "${sudo[@]}" mount -t proc proc "$chroot_dir/proc"
    "${sudo[@]}" cp /etc/resolv.conf "$chroot_dir/etc/resolv.conf"
    "${sudo[@]}" cp "$deb" "$chroot_dir/tmp/"
    # The package lists once a day; the downloaded .debs stay in the root's apt cache.
    if [ -z "$(find "$chroot_dir/var/lib/apt/lists" -maxdepth 1 -name '*Packages*' -mmin -1440)" ]; then
        in_chroot apt-get update -qq
    fi
    if ! in_chroot env DEBIAN_FRONTEND=noninteractive apt-get install -y -q \
        --no-install-recommends "/tmp/${deb##*/}" > "$pkgdir/chroot-install.log" 2>&1; then
        cat "$pkgdir/chroot-install.log"
        fail "apt-get install ${deb##*/} in the throwaway root failed"
        chroot_cleanup
        return
    fi
    ok "apt-get install ./${deb##*/}: $(grep -c '^Setting up' "$pkgdir/chroot-install.log") packages set up"
    # What the postinst made.
    local passwd st
    passwd=$(in_chroot getent passwd meter-server || true)
    if [ -n "$passwd" ]; then ok "user: $passwd"; else fail "postinst made no user meter-server"; fi
    st=$(in_chroot stat -c '%a %U:%G' /etc/smartmeter/jwt.secret 2>/dev/null || true)
    if [ "$st" = "600 meter-server:meter-server" ]; then
        ok "/etc/smartmeter/jwt.secret: $st, $(in_chroot stat -c %s /etc/smartmeter/jwt.secret) bytes"
    else
        fail "/etc/smartmeter/jwt.secret: '$st', expected 600 meter-server:meter-server"
    fi
    st=$(in_chroot stat -c '%a %U:%G' /etc/smartmeter/meter-server.conf)
    [ "$st" = "640 root:meter-server" ] && ok "meter-server.conf: $st" || fail "meter-server.conf: $st"
    st=$(in_chroot stat -c '%a %U:%G' /var/lib/smartmeter/server)
    [ "$st" = "750 meter-server:meter-server" ] && ok "/var/lib/smartmeter/server: $st" ||
        fail "/var/lib/smartmeter/server: $st"

    # The first-run step of docs/install.md (the broker password), then the server from the
    # installed files as its unit would run it, without systemd: migrate, then serve. The
    # broker is a closed port: the API answers without one.
    in_chroot sh -c 'umask 077; echo first-run-password > /etc/smartmeter/mqtt.password;
        chown meter-server: /etc/smartmeter/mqtt.password'
    local port health index
    port=$(/usr/bin/python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
    if ! in_chroot setpriv --reuid=meter-server --regid=meter-server --init-groups \
        /usr/bin/meter-server migrate --config /etc/smartmeter/meter-server.conf \
        > "$pkgdir/chroot-server.log" 2>&1; then
        cat "$pkgdir/chroot-server.log"
        fail "meter-server migrate failed in the throwaway root"
    fi
    "${sudo[@]}" chroot --userspec=meter-server:meter-server "$chroot_dir" /usr/bin/meter-server \
        --config /etc/smartmeter/meter-server.conf --listen "127.0.0.1:$port" \
        --mqtt tcp://127.0.0.1:1 >> "$pkgdir/chroot-server.log" 2>&1 &
    server_pid=$!
    local i
    for i in $(seq 1 50); do
        health=$(curl -s -m 2 "http://127.0.0.1:$port/api/health" || true)
        [ -z "$health" ] || break
        kill -0 "$server_pid" 2>/dev/null || break
        sleep 0.2
    done
    if grep -q '"database":"ok"' <<< "$health"; then
        ok "installed meter-server on 127.0.0.1:$port: GET /api/health -> $health"
    else
        cat "$pkgdir/chroot-server.log"
        fail "installed meter-server: GET /api/health answered '$health'"
    fi
    index=$(curl -s -m 2 "http://127.0.0.1:$port/" || true)
    if [ -n "$index" ] && [ "$index" = "$(cat "$chroot_dir/usr/share/smartmeter/web/index.html")" ]; then
        ok "GET / serves /usr/share/smartmeter/web/index.html"
    else
        fail "GET / does not serve the installed dashboard"
    fi
    grep -E 'serving' "$pkgdir/chroot-server.log" | sed 's/^/  log: /' || true
    kill "$server_pid" 2>/dev/null || true
    wait "$server_pid" 2>/dev/null || true
    server_pid=
    if [ -s "$chroot_dir/var/lib/smartmeter/server/meter.db" ]; then
        ok "the database is /var/lib/smartmeter/server/meter.db"
    else
        fail "no database in /var/lib/smartmeter/server"
    fi

    # A purge removes what the postinst made, and autoremove leaves the root as it was.
    if in_chroot env DEBIAN_FRONTEND=noninteractive apt-get purge -y -q smartmeter-server \
        > "$pkgdir/chroot-purge.log" 2>&1; then
        in_chroot rm -f /etc/smartmeter/mqtt.password
        in_chroot rmdir /etc/smartmeter 2>/dev/null || true
        in_chroot env DEBIAN_FRONTEND=noninteractive apt-get autoremove --purge -y -q >> "$pkgdir/chroot-purge.log" 2>&1 || true
        if in_chroot getent passwd meter-server >/dev/null; then fail "purge left the user meter-server"; else ok "purge removed the user meter-server"; fi
        if [ -e "$chroot_dir/etc/smartmeter/jwt.secret" ] || [ -e "$chroot_dir/var/lib/smartmeter" ]; then
            fail "purge left jwt.secret or /var/lib/smartmeter"
        else
            ok "purge removed jwt.secret and /var/lib/smartmeter"
        fi
    else
        cat "$pkgdir/chroot-purge.log"
        fail "apt-get purge smartmeter-server failed"
    fi
    in_chroot rm -f "/tmp/${deb##*/}"
    meterd_scripts_check
    chroot_cleanup
    trap - EXIT
    phase_done "install, serve and purge (chroot)" "$t0"
}

# meterd's package is for ARM: in the amd64 root dpkg installs it by force (architecture and
# the ARM libraries), so that its maintainer scripts run; its binary does not.
meterd_scripts_check() {
    local deb st g
    local a
    deb=
    for a in "${arches[@]}"; do
        case "$a" in arm64 | armhf) deb=${deb:-$(ls "$out"/smartmeter-meterd_*_"$a".deb 2>/dev/null | head -n 1)} ;; esac
    done
    [ -n "$deb" ] || return 0
    echo "== ${deb##*/}'s maintainer scripts in the throwaway root (forced: the binary is not run)"
    "${sudo[@]}" cp "$deb" "$chroot_dir/tmp/"
    if ! in_chroot dpkg --force-architecture --force-depends -i "/tmp/${deb##*/}" \
        > "$pkgdir/chroot-meterd.log" 2>&1; then
        cat "$pkgdir/chroot-meterd.log"
        fail "dpkg -i ${deb##*/} failed in the throwaway root"
        return
    fi
    st=$(in_chroot getent passwd meterd || true)
    [ -n "$st" ] && ok "user: $st" || fail "postinst made no user meterd"
    for g in spi i2c gpio; do
        in_chroot getent group "$g" >/dev/null && ok "group $g" || fail "postinst made no group $g"
    done
    st=$(in_chroot stat -c '%a %U:%G' /var/lib/smartmeter/meterd 2>/dev/null || true)
    [ "$st" = "750 meterd:meterd" ] && ok "/var/lib/smartmeter/meterd: $st" ||
        fail "/var/lib/smartmeter/meterd: '$st'"
    st=$(in_chroot stat -c '%a %U:%G' /etc/smartmeter/meterd.conf 2>/dev/null || true)
    [ "$st" = "640 root:meterd" ] && ok "meterd.conf: $st" || fail "meterd.conf: '$st'"
    in_chroot dpkg --force-depends --purge smartmeter-meterd >> "$pkgdir/chroot-meterd.log" 2>&1 ||
        fail "dpkg --purge smartmeter-meterd failed"
    if in_chroot getent passwd meterd >/dev/null || [ -e "$chroot_dir/var/lib/smartmeter" ] ||
        [ -e "$chroot_dir/etc/smartmeter/meterd.conf" ]; then
        fail "purge left the user meterd, /var/lib/smartmeter or meterd.conf"
    else
        ok "purge removed the user meterd, its state and its config"
    fi
    # The device groups stay on a purge (others may use them); the root is left as it was.
    for g in spi i2c gpio; do in_chroot delgroup --quiet "$g" >/dev/null 2>&1 || true; done
    in_chroot rm -f "/tmp/${deb##*/}"
}

# ---- main -----------------------------------------------------------------------------
t0=$SECONDS
install_missing
phase_done "packages for the builds" "$t0"
mkdir -p "$pkgdir"
for a in "${arches[@]}"; do
    if [ "${PACKAGE_REUSE:-0}" = 1 ] && ls "$out"/*_"$a".deb >/dev/null 2>&1; then
        log "$a: PACKAGE_REUSE=1: checking the .debs already in $out"
    else
        build_arch "$a"
    fi
done
if [ $check = 1 ]; then
    t0=$SECONDS
    # The packages of the architectures asked for, not others an earlier run left in $out.
    debs_built=()
    for a in "${arches[@]}"; do debs_built+=("$out"/*_"$a".deb); done
    list_packages
    for deb in "${debs_built[@]}"; do
        case "$deb" in
            *-dbgsym_*) ;;
            *) check_deb "$deb" ;;
        esac
    done
    phase_done "contents checks" "$t0"
    run_lintian
    if [ -e "$(ls "$out"/smartmeter-server_*_amd64.deb 2>/dev/null | head -n 1)" ] &&
        [[ " ${arches[*]} " == *" amd64 "* ]]; then
        install_check
    fi
fi
echo "== phases"
printf '  %s\n' "${phases[@]}"
echo "  total                              $((SECONDS - t_start)) s"
if [ $failures -gt 0 ]; then
    echo "package.sh: $failures checks failed" >&2
    exit 1
fi
log "done: $(cd "$out" && for a in "${arches[@]}"; do ls ./*_"$a".deb; done | tr '\n' ' ')"
