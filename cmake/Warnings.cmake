# One INTERFACE target carries the project's warning and sanitizer flags; every
# target of ours links it, nothing sets global flags.
add_library(smartmeter_flags INTERFACE)
target_compile_options(smartmeter_flags INTERFACE
  -Wall -Wextra -Wshadow -Wstrict-prototypes -Wmissing-prototypes
  -Wformat=2 -Wvla -Wpointer-arith -Wcast-align -Wundef
  -D_GNU_SOURCE -fno-strict-aliasing)
if(SMARTMETER_WERROR)
  target_compile_options(smartmeter_flags INTERFACE -Werror)
endif()
if(SMARTMETER_SANITIZE)
  target_compile_options(smartmeter_flags INTERFACE
    -fsanitize=address,undefined -fno-sanitize-recover=undefined -fno-omit-frame-pointer)
  target_link_options(smartmeter_flags INTERFACE -fsanitize=address,undefined)
endif()
