/*
 * static: serves the web dashboard's built files from one directory (the
 * web_root option) for the GET and HEAD requests outside /api/.
 *
 * A request path is checked before it touches the file system
 * (static_path_check): percent-encoded slashes, backslashes and control
 * characters, "." and ".." segments and hidden names are refused, and the
 * file found must lie under web_root once symlinks are resolved. A path whose
 * last segment has no extension and names no file gets index.html, so the
 * single-page app can own its URLs; a missing file with an extension answers
 * 404. Files under assets/ carry content hashes in their names (the build
 * makes them so) and may be cached for a year; everything else is revalidated
 * with its ETag or Last-Modified. Source maps (*.map) answer 404 unless
 * turned on (they give away the dashboard's source). Errors answer the API's
 * JSON shape. Every answer carries the dashboard's Content-Security-Policy.
 */
#ifndef SMARTMETER_STATIC_H
#define SMARTMETER_STATIC_H

#include <stdbool.h>
#include <stddef.h>

#include "http.h"

/* Longest request path (as sent, percent-encoded) that is served. */
#define STATIC_MAX_PATH 1024

/* The policy sent with every dashboard file: scripts, styles and API calls from this origin only.
 */
#define STATIC_CSP                                                                                 \
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data: blob:; "        \
    "connect-src 'self'; font-src 'self'; object-src 'none'; base-uri 'none'; "                    \
    "form-action 'self'; frame-ancestors 'none'"

struct static_site;

/*
 * Opens the directory root for serving, with files up to max_file_bytes.
 * Returns 0 and *ret (free with static_site_free), or -errno with err set when
 * root cannot be resolved or is not a directory.
 */
int static_site_open(const char *root, size_t max_file_bytes, struct static_site **ret, char *err,
                     size_t errlen);
/* Whether *.map files are served (off when opened). */
void static_site_serve_source_maps(struct static_site *site, bool on);
/* Frees a site; accepts NULL. */
void static_site_free(struct static_site *site);

/*
 * Checks a request path as sent (percent-encoded, starting with "/", without
 * the query) and writes its decoded form relative to the root, without the
 * leading "/", to ret_rel ("" for "/"; a trailing "/" is kept). Pure: touches
 * no files. Returns 0, -EINVAL for a path that must be refused (no leading
 * "/", a bad or encoded "/", "\" or control character, an empty, ".", ".."
 * or hidden segment), or -ENAMETOOLONG (longer than STATIC_MAX_PATH or
 * rel_len).
 */
int static_path_check(const char *raw_path, char *ret_rel, size_t rel_len);

struct stat;
/*
 * Opens rel (a path static_path_check accepted) under the site's root,
 * refusing anything that resolves outside the root once symlinks are
 * followed, and anything but a regular file. Returns an open descriptor (the
 * caller closes it) and fills st, or -errno: -ENOENT for a missing or refused
 * file, -EISDIR for a directory.
 */
int static_open_file(const struct static_site *site, const char *rel, struct stat *st);

/* Whether the last segment of a relative path has an extension ("app.js": yes, "devices/m1": no).
 */
bool static_path_has_extension(const char *rel);

/* The Content-Type for a file name, by extension; application/octet-stream when unknown. */
const char *static_content_type(const char *rel);

/* The Cache-Control for a relative path: long and immutable under assets/, revalidate otherwise. */
const char *static_cache_control(const char *rel);

/*
 * Answers req from the site: the file, 304 when the client's copy is current,
 * index.html for app routes, 400 for a refused path, 404, 405 for methods
 * other than GET and HEAD. Safe to call from many threads at once.
 */
void static_serve(const struct static_site *site, const struct http_request *req,
                  struct http_response *res);

#endif
