# Cross-compiling for 64-bit ARM Linux (Raspberry Pi 3/4/5 with a 64-bit OS)
# with Debian's cross toolchain and multiarch libraries:
#
#   dpkg --add-architecture arm64 && apt-get update
#   apt-get install crossbuild-essential-arm64 qemu-user libjansson-dev:arm64 ...
#   cmake -S . -B build/cross-arm64 -DSMARTMETER_BUILD_SERVER=OFF \
#         -DCMAKE_TOOLCHAIN_FILE=cmake/toolchain-aarch64-linux-gnu.cmake
#
# scripts/cross.sh does all of this. Debian's cross gcc already searches
# /usr/include/<triplet> and /usr/lib/<triplet>; what is set here makes
# CMake's find_* and pkg-config look at the target's libraries only, and lets
# ctest run the target's test programs under qemu-user (no binfmt needed).
set(CMAKE_SYSTEM_NAME Linux)
set(CMAKE_SYSTEM_PROCESSOR aarch64)
set(SMARTMETER_CROSS_TRIPLET aarch64-linux-gnu)

set(CMAKE_C_COMPILER ${SMARTMETER_CROSS_TRIPLET}-gcc)
set(CMAKE_LIBRARY_ARCHITECTURE ${SMARTMETER_CROSS_TRIPLET})

# The cross libc lives under /usr/<triplet>; the multiarch -dev packages under
# /usr/lib/<triplet>, reached through "/" with CMAKE_LIBRARY_ARCHITECTURE.
set(CMAKE_FIND_ROOT_PATH /usr/${SMARTMETER_CROSS_TRIPLET} /)
set(CMAKE_FIND_ROOT_PATH_MODE_PROGRAM NEVER)
set(CMAKE_FIND_ROOT_PATH_MODE_LIBRARY ONLY)
set(CMAKE_FIND_ROOT_PATH_MODE_INCLUDE ONLY)
set(CMAKE_FIND_ROOT_PATH_MODE_PACKAGE ONLY)

# pkg-config must read the target's .pc files, never the build machine's.
set(ENV{PKG_CONFIG_LIBDIR} /usr/lib/${SMARTMETER_CROSS_TRIPLET}/pkgconfig:/usr/share/pkgconfig)
set(ENV{PKG_CONFIG_PATH} "")
set(ENV{PKG_CONFIG_SYSROOT_DIR} "")

# ctest (and add_custom_command) run target programs through qemu-user. The
# target's loader and libc are the multiarch ones under / (libc6:<arch>, which
# the -dev packages pull in), never /usr/<triplet>: that is the cross
# toolchain's own libc6-<arch>-cross, a different build, and its ld.so with
# the multiarch libc.so.6 hangs or crashes in pthread_create.
set(SMARTMETER_CROSS_QEMU qemu-aarch64)
set(CMAKE_CROSSCOMPILING_EMULATOR ${SMARTMETER_CROSS_QEMU};-L;/)

include(${CMAKE_CURRENT_LIST_DIR}/CrossSysroot.cmake)
