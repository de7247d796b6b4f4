# libFuzzer harnesses (tests/fuzz/, docs/security.md "Fuzzing"). Clang only: the whole tree
# is compiled with coverage instrumentation for libFuzzer and with ASan and UBSan (every
# UBSan report aborts), so a harness sees into every library it links; each harness links
# libFuzzer's main. The gcc builds never see any of this.
option(SMARTMETER_FUZZ "Build the libFuzzer harnesses in tests/fuzz (needs clang)" OFF)
if(NOT SMARTMETER_FUZZ)
  return()
endif()
if(NOT CMAKE_C_COMPILER_ID MATCHES "Clang")
  message(FATAL_ERROR "SMARTMETER_FUZZ needs clang (CC=clang); ${CMAKE_C_COMPILER_ID} has no "
    "libFuzzer")
endif()
include(CheckCSourceCompiles)
set(CMAKE_REQUIRED_FLAGS -fsanitize=fuzzer)
check_c_source_compiles([[
#include <stddef.h>
#include <stdint.h>
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) { return data && size ? 0 : 0; }
]] SMARTMETER_HAVE_LIBFUZZER)
unset(CMAKE_REQUIRED_FLAGS)
if(NOT SMARTMETER_HAVE_LIBFUZZER)
  message(FATAL_ERROR "clang cannot link libFuzzer: install libclang-rt-14-dev (scripts/deps.sh)")
endif()
target_compile_options(smartmeter_flags INTERFACE
  -fsanitize=fuzzer-no-link,address,undefined -fno-sanitize-recover=all -fno-omit-frame-pointer)
target_link_options(smartmeter_flags INTERFACE -fsanitize=address,undefined)
# libmicrohttpd hands its log callback a format and a va_list; clang's -Wformat=2 (not gcc's)
# warns about the vsnprintf() there. Off for that one library.
target_compile_options(smartmeter_flags INTERFACE
  $<$<STREQUAL:$<TARGET_PROPERTY:NAME>,server_http>:-Wno-format-nonliteral>)
