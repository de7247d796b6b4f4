/*
 * The config-file parser (common/config.c, config_load_file) on a file's
 * contents, with meterd's option table (strings, integers, reals and
 * booleans; meter-server's goes through the same code), loaded over its
 * defaults as the daemon does.
 *
 * Checks: after a load, successful or not, every number is within its
 * option's bounds and every boolean is 0 or 1; config_free() releases every
 * string (LeakSanitizer sees the rest).
 */
#include <stdio.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <unistd.h>

#include "config.h"
#include "fuzz.h"
#include "options.h"

/* A memory file the parser opens by name: /proc/self/fd/<fd>. */
static int file_fd = -1;
static char file_path[64];

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    file_fd = memfd_create("fuzz.conf", 0);
    if (file_fd < 0) {
        perror("memfd_create");
        abort();
    }
    snprintf(file_path, sizeof(file_path), "/proc/self/fd/%d", file_fd);
    return 0;
}

static void check_bounds(const struct config_option *table, const void *target)
{
    for (const struct config_option *o = table; o->name; o++) {
        const void *field = (const char *)target + o->offset;
        if (o->type == CONFIG_INT) {
            int64_t v = *(const int64_t *)field;
            /* 0: an option without a default that the file did not set */
            FUZZ_CHECK(v == 0 || ((double)v >= o->min && (double)v <= o->max));
        } else if (o->type == CONFIG_DOUBLE) {
            double v = *(const double *)field;
            FUZZ_CHECK(v == 0 || (v >= o->min && v <= o->max));
        } else if (o->type == CONFIG_BOOL) {
            unsigned char v = *(const unsigned char *)field;
            FUZZ_CHECK(v == 0 || v == 1);
        }
    }
}

static void load(const struct config_option *table, void *target)
{
    char err[CONFIG_ERR_LEN];
    FUZZ_CHECK(config_defaults(table, target, err) == 0);
    if (config_load_file(table, target, file_path, err))
        FUZZ_CHECK(err[0]);
    check_bounds(table, target);
    config_free(table, target);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (ftruncate(file_fd, 0) || pwrite(file_fd, data, size, 0) != (ssize_t)size)
        abort();
    struct meterd_options o = {0};
    load(meterd_option_table, &o);
    return 0;
}
