/*
 * log: leveled logging to stderr (which systemd's journal collects).
 *
 * The level is checked in the macro before any argument is evaluated, so a
 * debug line costs one comparison when debug is off. Never pass secrets
 * (passwords, tokens, device secrets, DB passwords) to these functions.
 */
#ifndef SMARTMETER_LOG_H
#define SMARTMETER_LOG_H

enum log_level { LOGL_ERROR = 0, LOGL_WARN = 1, LOGL_INFO = 2, LOGL_DEBUG = 3 };

extern enum log_level log_threshold;

/* Parses "error", "warn", "info" or "debug". Returns 0, or -EINVAL. */
int log_level_parse(const char *name, enum log_level *ret_level);
void log_set_level(enum log_level level);
/* Prefix every line with this program name (not copied: pass a literal). */
void log_set_program(const char *name);

void log_write(enum log_level level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#define log_at(lvl, ...)                                                                           \
    do {                                                                                           \
        if ((lvl) <= log_threshold)                                                                \
            log_write((lvl), __VA_ARGS__);                                                         \
    } while (0)
#define log_error(...) log_at(LOGL_ERROR, __VA_ARGS__)
#define log_warn(...)  log_at(LOGL_WARN, __VA_ARGS__)
#define log_info(...)  log_at(LOGL_INFO, __VA_ARGS__)
#define log_debug(...) log_at(LOGL_DEBUG, __VA_ARGS__)

#endif
