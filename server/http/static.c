#include "static.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "log.h"
#include "url.h"

struct static_site {
    char root[PATH_MAX]; /* resolved: no symlinks, no trailing "/" */
    size_t root_len;
    size_t max_file_bytes;
    bool source_maps; /* serve *.map files */
};

int static_site_open(const char *root, size_t max_file_bytes, struct static_site **ret, char *err,
                     size_t errlen)
{
    char real[PATH_MAX];
    struct stat st;
    if (!realpath(root, real)) {
        int e = errno;
        snprintf(err, errlen, "web_root %s: %s", root, strerror(e));
        return -e;
    }
    if (stat(real, &st) || !S_ISDIR(st.st_mode)) {
        snprintf(err, errlen, "web_root %s is not a directory", root);
        return -ENOTDIR;
    }
    struct static_site *site = calloc(1, sizeof(*site));
    if (!site) {
        snprintf(err, errlen, "out of memory");
        return -ENOMEM;
    }
    snprintf(site->root, sizeof(site->root), "%s", real);
    site->root_len = strlen(site->root);
    if (site->root_len == 1) /* "/" itself: children are "/x" */
        site->root_len = 0;
    site->max_file_bytes = max_file_bytes;
    *ret = site;
    return 0;
}

void static_site_serve_source_maps(struct static_site *site, bool on)
{
    site->source_maps = on;
}

void static_site_free(struct static_site *site)
{
    free(site);
}

static bool is_control(unsigned char c)
{
    return c < 0x20 || c == 0x7f;
}

/* Whether one decoded segment may be served: not empty, ".", ".." or hidden. */
static bool segment_ok(const char *seg, size_t len)
{
    return len > 0 && seg[0] != '.';
}

int static_path_check(const char *raw_path, char *ret_rel, size_t rel_len)
{
    size_t raw_len = strlen(raw_path);
    if (raw_len > STATIC_MAX_PATH)
        return -ENAMETOOLONG;
    if (raw_path[0] != '/')
        return -EINVAL;
    char decoded[STATIC_MAX_PATH + 1];
    size_t n = 0;
    for (size_t i = 1; i < raw_len; i++) {
        unsigned char c = (unsigned char)raw_path[i];
        if (c == '%') {
            int hi = url_hex_value(raw_path[i + 1]);
            int lo = hi < 0 ? -1 : url_hex_value(raw_path[i + 2]);
            if (lo < 0)
                return -EINVAL;
            c = (unsigned char)(hi << 4 | lo);
            i += 2;
            /* A slash that was encoded would let one "segment" span directories. */
            if (c == '/')
                return -EINVAL;
        }
        if (c == '\\' || is_control(c))
            return -EINVAL;
        decoded[n++] = (char)c;
    }
    decoded[n] = '\0';

    /* Every segment must be a plain name; only the last may be empty (a trailing "/"). */
    const char *seg = decoded;
    for (;;) {
        const char *slash = strchr(seg, '/');
        size_t len = slash ? (size_t)(slash - seg) : strlen(seg);
        bool last_and_empty = !slash && len == 0;
        if (!last_and_empty && !segment_ok(seg, len))
            return -EINVAL;
        if (!slash)
            break;
        seg = slash + 1;
    }
    if (n + 1 > rel_len)
        return -ENAMETOOLONG;
    memcpy(ret_rel, decoded, n + 1);
    return 0;
}

bool static_path_has_extension(const char *rel)
{
    const char *slash = strrchr(rel, '/');
    const char *last = slash ? slash + 1 : rel;
    return strchr(last, '.') != NULL;
}

static const struct {
    const char *ext;
    const char *type;
} content_types[] = {
    {"html", "text/html; charset=utf-8"},
    {"js", "text/javascript; charset=utf-8"},
    {"mjs", "text/javascript; charset=utf-8"},
    {"css", "text/css; charset=utf-8"},
    {"json", "application/json"},
    {"map", "application/json"},
    {"webmanifest", "application/manifest+json"},
    {"svg", "image/svg+xml"},
    {"png", "image/png"},
    {"ico", "image/x-icon"},
    {"woff2", "font/woff2"},
    {"txt", "text/plain; charset=utf-8"},
};

const char *static_content_type(const char *rel)
{
    const char *slash = strrchr(rel, '/');
    const char *dot = strrchr(slash ? slash + 1 : rel, '.');
    if (dot)
        for (size_t i = 0; i < sizeof(content_types) / sizeof(content_types[0]); i++)
            if (strcasecmp(dot + 1, content_types[i].ext) == 0)
                return content_types[i].type;
    return "application/octet-stream";
}

const char *static_cache_control(const char *rel)
{
    if (strncmp(rel, "assets/", 7) == 0)
        return "public, max-age=31536000, immutable";
    return "no-cache";
}

/* The API's error shape, {"status":"error","message":...}; text is ours (nothing to escape). */
static void error_answer(struct http_response *res, int status, const char *text)
{
    dynbuf_reset(&res->body);
    res->status = status;
    res->content_type = NULL;
    dynbuf_addf(&res->body, "{\"status\":\"error\",\"message\":\"%s\"}", text);
}

/* Whether rel names a source map ("assets/app-X.js.map"). */
static bool is_source_map(const char *rel)
{
    size_t n = strlen(rel);
    return n >= 4 && strcasecmp(rel + n - 4, ".map") == 0;
}

/* The headers every dashboard answer carries, errors included. */
static void common_headers(struct http_response *res)
{
    http_response_header(res, "Content-Security-Policy", STATIC_CSP);
    http_response_header(res, "X-Frame-Options", "DENY");
    http_response_header(res, "Referrer-Policy", "no-referrer");
}

int static_open_file(const struct static_site *site, const char *rel, struct stat *st)
{
    char path[PATH_MAX], real[PATH_MAX];
    int n = snprintf(path, sizeof(path), "%.*s/%s", (int)site->root_len, site->root, rel);
    if (n < 0 || (size_t)n >= sizeof(path))
        return -ENAMETOOLONG;
    if (!realpath(path, real))
        return -errno;
    /* A symlink may point anywhere: the target itself must be under the root. */
    if (strncmp(real, site->root, site->root_len) != 0 || real[site->root_len] != '/')
        return -ENOENT;
    int fd = open(real, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
    if (fd < 0)
        return -errno;
    if (fstat(fd, st)) {
        int e = errno;
        close(fd);
        return -e;
    }
    if (S_ISDIR(st->st_mode)) {
        close(fd);
        return -EISDIR;
    }
    if (!S_ISREG(st->st_mode)) {
        close(fd);
        return -ENOENT;
    }
    return fd;
}

static int read_body(int fd, size_t size, struct dynbuf *body)
{
    char *dst = dynbuf_reserve(body, size);
    if (!dst)
        return -ENOMEM;
    size_t got = 0;
    while (got < size) {
        ssize_t r = read(fd, dst + got, size - got);
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0)
            return -errno;
        if (r == 0)
            break; /* shrank since fstat: send what is there */
        got += (size_t)r;
    }
    dynbuf_commit(body, got);
    return 0;
}

/* Whether the client's If-None-Match (a list of tags, or "*") names etag. */
static bool etag_matches(const char *if_none_match, const char *etag)
{
    return strcmp(if_none_match, "*") == 0 || strstr(if_none_match, etag) != NULL;
}

void static_serve(const struct static_site *site, const struct http_request *req,
                  struct http_response *res)
{
    char rel[STATIC_MAX_PATH + 16];
    common_headers(res);
    if (strcmp(req->method, "GET") != 0 && strcmp(req->method, "HEAD") != 0) {
        http_response_header(res, "Allow", "GET, HEAD");
        error_answer(res, 405, "method not allowed");
        return;
    }
    const char *raw = req->raw_path ? req->raw_path : req->path;
    int r = static_path_check(raw, rel, STATIC_MAX_PATH + 1);
    if (r == -ENAMETOOLONG) {
        error_answer(res, 414, "path too long");
        return;
    }
    if (r) {
        error_answer(res, 400, "bad path");
        return;
    }

    /* Source maps show the dashboard's source: served only when asked for. */
    if (!site->source_maps && is_source_map(rel)) {
        error_answer(res, 404, "not found");
        return;
    }

    /* The app's own routes (no extension, no such file) and directories get index.html. */
    bool app_route = rel[0] == '\0' || rel[strlen(rel) - 1] == '/';
    struct stat st;
    int fd = app_route ? -EISDIR : static_open_file(site, rel, &st);
    if ((fd == -ENOENT || fd == -ENOTDIR || fd == -EISDIR) && !static_path_has_extension(rel)) {
        snprintf(rel, sizeof(rel), "index.html");
        fd = static_open_file(site, rel, &st);
    }
    if (fd == -ENOENT || fd == -ENOTDIR || fd == -EISDIR || fd == -ENAMETOOLONG) {
        error_answer(res, 404, "not found");
        return;
    }
    if (fd < 0) {
        log_warn("static: cannot open %s: %s", rel, strerror(-fd));
        error_answer(res, fd == -EACCES ? 403 : 500,
                     fd == -EACCES ? "forbidden" : "internal error");
        return;
    }
    if ((uint64_t)st.st_size > site->max_file_bytes) {
        close(fd);
        log_warn("static: %s is %lld bytes, more than the %zu served", rel, (long long)st.st_size,
                 site->max_file_bytes);
        error_answer(res, 500, "file too large to serve");
        return;
    }

    char etag[64], last_modified[40];
    snprintf(etag, sizeof(etag), "\"%llx-%llx\"", (unsigned long long)st.st_size,
             (unsigned long long)st.st_mtim.tv_sec * 1000000000ull +
                 (unsigned long long)st.st_mtim.tv_nsec);
    struct tm tm;
    time_t mtime = st.st_mtim.tv_sec;
    gmtime_r(&mtime, &tm);
    strftime(last_modified, sizeof(last_modified), "%a, %d %b %Y %H:%M:%S GMT", &tm);
    http_response_header(res, "Cache-Control", static_cache_control(rel));
    http_response_header(res, "ETag", etag);
    http_response_header(res, "Last-Modified", last_modified);
    res->content_type = static_content_type(rel);

    const char *inm = http_header(req, "If-None-Match");
    const char *ims = http_header(req, "If-Modified-Since");
    if ((inm && etag_matches(inm, etag)) || (!inm && ims && strcmp(ims, last_modified) == 0)) {
        close(fd);
        dynbuf_reset(&res->body);
        res->status = 304;
        return;
    }
    dynbuf_reset(&res->body);
    r = read_body(fd, (size_t)st.st_size, &res->body);
    close(fd);
    if (r) {
        log_warn("static: cannot read %s: %s", rel, strerror(-r));
        error_answer(res, 500, "internal error");
        return;
    }
    res->status = 200;
}
