# Third-party libraries, all from Debian 12's packages. Each becomes an
# imported target so a module links exactly what it owns.
find_package(PkgConfig REQUIRED)
find_package(Threads REQUIRED)

pkg_check_modules(JANSSON REQUIRED IMPORTED_TARGET jansson)
find_library(MATH_LIB m REQUIRED)

# KissFFT, the float build (Debian's libkissfft-dev); only common/pq.c includes its headers.
pkg_check_modules(KISSFFT REQUIRED IMPORTED_TARGET kissfft-float)

# paho.mqtt.c ships no pkg-config file; the async library with TLS support.
find_path(PAHO_INCLUDE_DIR MQTTAsync.h REQUIRED)
find_library(PAHO_ASYNC_LIB paho-mqtt3as REQUIRED)
add_library(paho_async INTERFACE)
target_include_directories(paho_async INTERFACE ${PAHO_INCLUDE_DIR})
target_link_libraries(paho_async INTERFACE ${PAHO_ASYNC_LIB})

# libgpiod v1 (Debian 12 ships 1.6); only meter/hal/gpio_gpiod.c includes gpiod.h.
pkg_check_modules(GPIOD REQUIRED IMPORTED_TARGET libgpiod)

# libsodium: the keyed BLAKE2b of device credentials and signed acks and commands
# (common/wire/sign.c, both daemons); on the server also Argon2id (server/auth/auth.c).
pkg_check_modules(SODIUM REQUIRED IMPORTED_TARGET libsodium)

if(SMARTMETER_BUILD_SERVER)
  pkg_check_modules(MHD REQUIRED IMPORTED_TARGET libmicrohttpd)
  # HTTPS: libmicrohttpd speaks TLS through GnuTLS; server/http/https.c checks the certificate
  # and key with it before libmicrohttpd loads them.
  pkg_check_modules(GNUTLS REQUIRED IMPORTED_TARGET gnutls)
  pkg_check_modules(MARIADB REQUIRED IMPORTED_TARGET libmariadb)
  pkg_check_modules(SQLITE REQUIRED IMPORTED_TARGET sqlite3)
  pkg_check_modules(JWT REQUIRED IMPORTED_TARGET libjwt)
  # Outbound HTTPS to WeChat's login API (OpenSSL flavour); only server/auth/wechat.c includes curl.h.
  pkg_check_modules(CURL REQUIRED IMPORTED_TARGET libcurl)
  # WeChat Pay API v3: RSA-SHA256 signatures and AES-256-GCM (OpenSSL's libcrypto); only
  # server/wxpay/wxpay_crypto.c includes OpenSSL's headers.
  pkg_check_modules(LIBCRYPTO REQUIRED IMPORTED_TARGET libcrypto)
  # The Modbus TCP server (modbus_listen); only server/modbus/session.c includes modbus.h.
  pkg_check_modules(MODBUS REQUIRED IMPORTED_TARGET libmodbus)
endif()

if(SMARTMETER_BUILD_TESTS)
  pkg_check_modules(CMOCKA REQUIRED IMPORTED_TARGET cmocka)
endif()
