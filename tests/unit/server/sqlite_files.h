/* For the server's unit tests: removing a SQLite database a test made. */
#ifndef SMARTMETER_TEST_SQLITE_FILES_H
#define SMARTMETER_TEST_SQLITE_FILES_H

#include <stdio.h>
#include <unistd.h>

/* Removes the database file at path and its -wal and -shm companions. */
static inline void sqlite_files_remove(const char *path)
{
    char p[4096];
    unlink(path);
    snprintf(p, sizeof(p), "%s-wal", path);
    unlink(p);
    snprintf(p, sizeof(p), "%s-shm", path);
    unlink(p);
}

#endif
