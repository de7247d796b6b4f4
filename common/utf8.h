/*
 * utf8: text from a peer made safe to store and show: well-formed UTF-8 of
 * printable characters only. Pure; the caller owns both buffers.
 */
#ifndef SMARTMETER_UTF8_H
#define SMARTMETER_UTF8_H

#include <stddef.h>

/*
 * Copies in to out (size bytes, size >= 1), NUL-terminated: every well-formed
 * UTF-8 character that is printable (no C0 or C1 control, no DEL, no
 * surrogate or overlong form) as it is, every other byte as '?'; cut at a
 * character boundary so that it fits. Returns the length written.
 */
size_t utf8_clean(const char *in, char *out, size_t size);

#endif
