#include "https.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <gnutls/gnutls.h>

#include "fileutil.h"
#include "tlsopt.h"

#define PEM_MAX (1u << 20) /* a certificate chain or key file, bytes */

static int read_pem(const char *option, const char *path, char **ret, size_t *ret_len, char *err,
                    size_t errlen)
{
    int r = file_read_all(path, PEM_MAX, ret, ret_len);
    if (r)
        snprintf(err, errlen, "%s %s: %s", option, path,
                 r == -E2BIG ? "larger than 1 MiB" : strerror(-r));
    return r;
}

int http_tls_load(struct http_tls *t, const char *cert_file, const char *key_file, char *err,
                  size_t errlen)
{
    memset(t, 0, sizeof(*t));
    if (!cert_file && !key_file)
        return 0;
    if (!cert_file || !key_file) {
        snprintf(err, errlen,
                 "tls_cert_file and tls_key_file go together: set both for HTTPS, or neither");
        return -EINVAL;
    }
    size_t cert_len = 0, key_len = 0;
    int r = tlsopt_check_key("tls_key_file", key_file, err, errlen);
    if (!r)
        r = read_pem("tls_cert_file", cert_file, &t->cert_pem, &cert_len, err, errlen);
    if (!r)
        r = read_pem("tls_key_file", key_file, &t->key_pem, &key_len, err, errlen);
    if (r) {
        http_tls_clear(t);
        return r;
    }
    /* What libmicrohttpd does with them at start: a mistake reads better here. */
    gnutls_certificate_credentials_t cred;
    if (gnutls_certificate_allocate_credentials(&cred) < 0) {
        snprintf(err, errlen, "out of memory");
        http_tls_clear(t);
        return -ENOMEM;
    }
    gnutls_datum_t cert = {(unsigned char *)t->cert_pem, (unsigned)cert_len};
    gnutls_datum_t key = {(unsigned char *)t->key_pem, (unsigned)key_len};
    int g = gnutls_certificate_set_x509_key_mem(cred, &cert, &key, GNUTLS_X509_FMT_PEM);
    gnutls_certificate_free_credentials(cred);
    if (g < 0) {
        snprintf(err, errlen, "tls_cert_file %s with tls_key_file %s: %s", cert_file, key_file,
                 gnutls_strerror(g));
        http_tls_clear(t);
        return -EINVAL;
    }
    return 0;
}

void http_tls_clear(struct http_tls *t)
{
    if (t->key_pem)
        explicit_bzero(t->key_pem, strlen(t->key_pem));
    free(t->key_pem);
    free(t->cert_pem);
    t->key_pem = t->cert_pem = NULL;
}
