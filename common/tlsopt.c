#include "tlsopt.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "log.h"
#include "url.h"

/* Opens path for reading and stats it; returns 0 or -errno with err set. */
static int open_stat(const char *option, const char *path, struct stat *ret, char *err,
                     size_t errlen)
{
    int r = 0, fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0 || fstat(fd, ret))
        r = -errno;
    if (fd >= 0)
        close(fd);
    if (r)
        snprintf(err, errlen, "%s %s: %s", option, path, strerror(-r));
    return r;
}

int tlsopt_check_readable(const char *option, const char *path, char *err, size_t errlen)
{
    struct stat st;
    return open_stat(option, path, &st, err, errlen);
}

int tlsopt_check_key(const char *option, const char *path, char *err, size_t errlen)
{
    struct stat st;
    int r = open_stat(option, path, &st, err, errlen);
    if (r)
        return r;
    if (!S_ISREG(st.st_mode)) {
        snprintf(err, errlen, "%s %s: not a regular file", option, path);
        return -EINVAL;
    }
    if (st.st_mode & (S_IRWXG | S_IRWXO)) {
        snprintf(err, errlen,
                 "%s %s: other users have access to this private key (mode %04o); make it "
                 "readable by its owner only (chmod 600)",
                 option, path, (unsigned)(st.st_mode & 07777));
        return -EPERM;
    }
    return 0;
}

int tlsopt_check_mqtt(const char *url, const struct tlsopt_mqtt *f, char *err, size_t errlen)
{
    struct url u;
    int r = url_parse_mqtt(url, &u, err, errlen);
    bool tls = r == 0 && url_mqtt_tls(&u);
    url_clear(&u);
    if (r)
        return r;
    if (!tls) {
        if (!f->cafile && !f->certfile && !f->keyfile)
            return 0;
        snprintf(err, errlen,
                 "mqtt_cafile, mqtt_certfile and mqtt_keyfile are not used with %s: the link to "
                 "the broker is not encrypted (ssl://HOST:PORT for TLS)",
                 url);
        return 1;
    }
    if (!f->certfile != !f->keyfile) {
        snprintf(err, errlen,
                 "mqtt_certfile and mqtt_keyfile go together: set both for a client "
                 "certificate, or neither");
        return -EINVAL;
    }
    if (f->cafile)
        r = tlsopt_check_readable("mqtt_cafile", f->cafile, err, errlen);
    if (!r && f->certfile)
        r = tlsopt_check_readable("mqtt_certfile", f->certfile, err, errlen);
    if (!r && f->keyfile)
        r = tlsopt_check_key("mqtt_keyfile", f->keyfile, err, errlen);
    return r;
}

int tlsopt_log_error(const char *str, size_t len, void *uri)
{
    while (len > 0 && (str[len - 1] == '\n' || str[len - 1] == '\r'))
        len--;
    log_warn("TLS with %s: %.*s", (const char *)uri, (int)(len < 300 ? len : 300), str);
    return 1;
}
