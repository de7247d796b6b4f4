/*
 * https: the certificate and key the HTTP listener serves HTTPS with (options
 * tls_cert_file and tls_key_file), read and checked at start so that a
 * mistake stops the server with one line naming the option. The only file
 * that includes GnuTLS's headers (libmicrohttpd speaks TLS through GnuTLS).
 *
 * The PEM text is heap memory owned by struct http_tls; http_tls_clear()
 * wipes the key and frees both. libmicrohttpd reads them only while starting
 * (http_start()), so the caller clears them right after.
 */
#ifndef SMARTMETER_HTTPS_H
#define SMARTMETER_HTTPS_H

#include <stddef.h>

/* TLS 1.2 and 1.3 only, GnuTLS's normal suites within them. */
#define HTTP_TLS_PRIORITIES "NORMAL:-VERS-ALL:+VERS-TLS1.3:+VERS-TLS1.2"

struct http_tls {
    char *cert_pem; /* the certificate chain, server first */
    char *key_pem;  /* its private key, unencrypted */
};

/*
 * Reads both files: with neither set, leaves t empty (plain HTTP) and returns
 * 0. Otherwise both must be set; the key must pass tlsopt_check_key() (no
 * access for the group or others), and the pair must load as libmicrohttpd
 * will load it (PEM, the key matching the certificate). Returns 0, or -errno
 * with err set: every error is the configuration's.
 */
int http_tls_load(struct http_tls *t, const char *cert_file, const char *key_file, char *err,
                  size_t errlen);

/* Wipes the key and frees both; t is empty after. */
void http_tls_clear(struct http_tls *t);

#endif
