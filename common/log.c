#include "log.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "timeutil.h"

enum log_level log_threshold = LOGL_INFO;
static const char *program = "smartmeter";

static const char *const level_names[] = {"error", "warn", "info", "debug"};

int log_level_parse(const char *name, enum log_level *ret_level)
{
    for (unsigned i = 0; i < sizeof(level_names) / sizeof(level_names[0]); i++) {
        if (strcmp(name, level_names[i]) == 0) {
            *ret_level = (enum log_level)i;
            return 0;
        }
    }
    return -EINVAL;
}

void log_set_level(enum log_level level)
{
    log_threshold = level;
}

void log_set_program(const char *name)
{
    program = name;
}

void log_write(enum log_level level, const char *fmt, ...)
{
    char stamp[TIME_RFC3339_LEN];
    char line[1024];
    va_list ap;

    time_format_rfc3339_ms(time_now_ms(), stamp);
    va_start(ap, fmt);
    vsnprintf(line, sizeof(line), fmt, ap);
    va_end(ap);
    /* One fprintf per line keeps concurrent threads' lines whole. */
    fprintf(stderr, "%s %s[%s] %s\n", stamp, program, level_names[level], line);
}
