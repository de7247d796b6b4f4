/*
 * tlsopt: the TLS settings both daemons share. The checks of the certificate
 * and key files their options name (MQTT over ssl:// on both, HTTPS on the
 * server), made at start so a mistake stops the daemon with one line naming
 * the option instead of a retry loop of failed handshakes; and the TLS 1.2
 * cipher suites the MQTT clients offer.
 *
 * Messages go to err as "<option> <path>: <what is wrong>". Nothing here keeps
 * a file open or reads a key into memory.
 */
#ifndef SMARTMETER_TLSOPT_H
#define SMARTMETER_TLSOPT_H

#include <stddef.h>

/*
 * The TLS 1.2 suites the MQTT clients offer: AEAD ciphers with forward secrecy.
 * None of them exists before TLS 1.2, so no handshake can settle on TLS 1.0 or
 * 1.1. TLS 1.3 has its own suites (not set by this list, OpenSSL's defaults).
 */
#define TLSOPT_MQTT_CIPHERS "ECDHE+AESGCM:ECDHE+CHACHA20:DHE+AESGCM:DHE+CHACHA20"

/*
 * Checks that path can be opened for reading. Returns 0, or -errno with err
 * set.
 */
int tlsopt_check_readable(const char *option, const char *path, char *err, size_t errlen);

/*
 * Checks a private key file: a regular file this process can read, with no
 * permission at all for the group or other users (mode 0600 or 0400): whoever
 * else can read it can pose as this daemon. Returns 0, -EPERM when the group
 * or others have access, or another -errno, with err set (it says how to fix
 * the mode).
 */
int tlsopt_check_key(const char *option, const char *path, char *err, size_t errlen);

/* The TLS files of an MQTT client; each NULL when not set. */
struct tlsopt_mqtt {
    const char *cafile;   /* the broker's trust anchors; NULL: the system's store */
    const char *certfile; /* the client's certificate chain */
    const char *keyfile;  /* its private key, unencrypted */
};

/*
 * Checks the MQTT client's files (options mqtt_cafile, mqtt_certfile,
 * mqtt_keyfile) for the broker URL url. For ssl://, certfile and keyfile come
 * together, each given file is readable, and the key passes
 * tlsopt_check_key(): returns 0, or -errno with err set. tcp:// uses none of
 * them: when some are set anyway, returns 1 with a warning in err for the
 * caller to log (the installer probably meant TLS). A bad URL returns -EINVAL
 * with err set.
 */
int tlsopt_check_mqtt(const char *url, const struct tlsopt_mqtt *f, char *err, size_t errlen);

/*
 * Logs one of OpenSSL's error lines (why a handshake failed: an untrusted or
 * expired certificate...) as a warning naming the peer, uri, a string. Its
 * type is the MQTT library's ssl_error_cb; it returns 1 to be given the next.
 */
int tlsopt_log_error(const char *str, size_t len, void *uri);

#endif
