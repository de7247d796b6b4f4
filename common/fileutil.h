/*
 * fileutil: small, careful file operations.
 */
#ifndef SMARTMETER_FILEUTIL_H
#define SMARTMETER_FILEUTIL_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

/*
 * Replaces path with data atomically and durably: writes path.tmp, fsyncs it,
 * renames it over path and fsyncs the directory. After a crash at any instant
 * path holds either the old or the new content. Returns 0 or -errno.
 */
int file_write_atomic(const char *path, const void *data, size_t len, unsigned mode);

/*
 * Reads a whole file of at most max bytes into a NUL-terminated heap buffer
 * the caller frees. Returns 0, -E2BIG when larger, or -errno.
 */
int file_read_all(const char *path, size_t max, char **ret_data, size_t *ret_len);

/*
 * Reads a secret (a key, a password) from a file that only its owner may
 * read: a regular file whose mode gives the group and others nothing. Like
 * file_read_all() otherwise (at most max bytes, NUL-terminated, the caller
 * frees it, best wiped first). Returns 0, or -errno with err set to one line
 * naming what (e.g. "JWT secret file") and path: -EPERM when the group or
 * others have any permission on it, -EINVAL when it is not a regular file,
 * -E2BIG when larger than max.
 */
int file_read_secret(const char *what, const char *path, size_t max, char **ret_data,
                     size_t *ret_len, char *err, size_t errlen);

/*
 * Reads up to len bytes at offset off, retrying short reads and EINTR: fewer
 * than len only at the end of the file. Returns the bytes read or -errno.
 */
ssize_t file_pread_full(int fd, void *buf, size_t len, off_t off);

/* Creates a directory and its missing parents (like mkdir -p). Returns 0 or -errno. */
int file_mkdirs(const char *path, unsigned mode);

/*
 * Creates path as an empty file readable and writable by its owner only (0600)
 * when it does not exist, with its missing parent folders (dir_mode); an
 * existing file is left as it is. Returns 0 or -errno.
 */
int file_create_private(const char *path, unsigned dir_mode);

/*
 * Opens (creating it) path and takes an exclusive, non-blocking flock on it,
 * held until the returned descriptor is closed or the process ends, however it
 * ends. Returns the descriptor, -EWOULDBLOCK when another process holds the
 * lock, or -errno.
 */
int file_lock_exclusive(const char *path);

/* CRC-32 (IEEE 802.3), for checksumming small state files. */
uint32_t crc32_ieee(const void *data, size_t len);

#endif
