/*
 * tmpdir: the one way a unit test gets a working folder of its own and
 * removes it again with everything it holds.
 */
#ifndef SMARTMETER_TEST_TMPDIR_H
#define SMARTMETER_TEST_TMPDIR_H

#include <stddef.h>

#define TMPDIR_PATH_MAX 256

/* Makes a fresh folder $TMPDIR/<name>.XXXXXX (or /tmp/...) into dir. 0 or a negative errno. */
int tmpdir_make(char dir[TMPDIR_PATH_MAX], const char *name);
/* Removes dir and everything below it. 0 or a negative errno; NULL and "" are fine. */
int tmpdir_remove(const char *dir);

#endif
