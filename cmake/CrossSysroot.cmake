# Included by the toolchain files. Optional: the target's libraries unpacked
# from Debian's pool into one folder (scripts/cross.sh --from-pool) instead of
# installed as multiarch packages, for machines whose mirror lacks the target
# architecture's indexes. Headers, libraries and .pc files then come from
# SMARTMETER_CROSS_SYSROOT, the C library from the cross toolchain's own
# /usr/<triplet>, and the tests run under qemu-user with that pair.
if(SMARTMETER_CROSS_SYSROOT)
  set(_sysroot ${SMARTMETER_CROSS_SYSROOT})
  set(_libdir ${_sysroot}/usr/lib/${SMARTMETER_CROSS_TRIPLET})
  set(CMAKE_FIND_ROOT_PATH /usr/${SMARTMETER_CROSS_TRIPLET} ${_sysroot})
  set(ENV{PKG_CONFIG_LIBDIR} ${_libdir}/pkgconfig:${_sysroot}/usr/share/pkgconfig)
  set(ENV{PKG_CONFIG_SYSROOT_DIR} ${_sysroot})
  string(APPEND CMAKE_C_FLAGS_INIT
    " -I${_sysroot}/usr/include -I${_sysroot}/usr/include/${SMARTMETER_CROSS_TRIPLET}")
  set(CMAKE_EXE_LINKER_FLAGS_INIT "-L${_libdir} -Wl,-rpath-link=${_libdir}")
  set(CMAKE_CROSSCOMPILING_EMULATOR
    ${SMARTMETER_CROSS_QEMU};-L;/usr/${SMARTMETER_CROSS_TRIPLET};-E;LD_LIBRARY_PATH=${_libdir})
  list(APPEND CMAKE_TRY_COMPILE_PLATFORM_VARIABLES SMARTMETER_CROSS_SYSROOT)
endif()
