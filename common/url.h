/*
 * url: parses "scheme://[user[:password]@]host[:port][/path][?query]" as used
 * by the MQTT and MySQL URLs of the command line. User, password and path are
 * percent-decoded. IPv6 hosts are written in brackets ("tcp://[::1]:1883").
 */
#ifndef SMARTMETER_URL_H
#define SMARTMETER_URL_H

#include <stdbool.h>
#include <stddef.h>

struct url {
    char scheme[16];
    char user[128];
    char password[256];
    bool has_password;
    char host[256];
    int port; /* 0 when absent */
    char path[512];
    char query[512];
};

/* The value of a hexadecimal digit of either case, or -1: what percent-encoding uses. */
int url_hex_value(char c);

/* Returns 0, or -EINVAL with a message in err. Never writes the password into err. */
int url_parse(const char *s, struct url *ret, char *err, size_t errlen);

/*
 * Checks an MQTT broker URL (tcp:// or ssl://, a host, an optional port) and
 * fills in the default port (1883 or 8883). Returns 0 or -EINVAL with err set.
 */
int url_parse_mqtt(const char *s, struct url *ret, char *err, size_t errlen);

/* True when a URL url_parse_mqtt() accepted asks for TLS (ssl://, or its alias mqtts://). */
bool url_mqtt_tls(const struct url *u);

/*
 * A copy of url (which must name a user and no password) with password added,
 * percent-encoded: "mysql://u@h/db" + "p@ss" gives "mysql://u:p%40ss@h/db".
 * Returns 0 and *ret (the caller wipes and frees it), or -EINVAL with err set
 * (never holding the password), or -ENOMEM.
 */
int url_with_password(const char *url, const char *password, char **ret, char *err, size_t errlen);

/* Wipes the password from memory. */
void url_clear(struct url *u);

#endif
