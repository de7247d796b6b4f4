/*
 * config: one table of options drives the config file, the command line and
 * --help, so every option lives in both places with the same bounds.
 *
 * Files follow mosquitto.conf: one "name value" per line, '#' starts a comment
 * line, blank lines are ignored, a later line overrides an earlier one. On the
 * command line the same option is "--name value" with '_' written as '-'.
 * Command-line values override the file.
 *
 * String values are heap copies owned by the target struct; config_free()
 * releases them. Errors are written to an error buffer naming the file and
 * line, or the flag, so the caller can print one line and exit 2.
 */
#ifndef SMARTMETER_CONFIG_H
#define SMARTMETER_CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

enum config_type {
    CONFIG_STRING, /* char * */
    CONFIG_INT,    /* int64_t, bounded by min..max */
    CONFIG_DOUBLE, /* double, bounded by min..max */
    CONFIG_BOOL,   /* bool: true/false, yes/no, on/off, 1/0 */
};

struct config_option {
    const char *name;
    enum config_type type;
    size_t offset; /* of the field in the target struct */
    double min, max;
    const char *defval; /* applied by config_defaults; NULL = unset */
    const char *metavar;
    const char *help;
};

#define CONFIG_ERR_LEN 256

/* Sets every option that has a default. Returns 0 or -errno (message in err). */
int config_defaults(const struct config_option *table, void *target, char err[CONFIG_ERR_LEN]);

/* Validates and stores one value. where names the source for messages ("--db", "x.conf:3"). */
int config_set(const struct config_option *table, void *target, const char *name, const char *value,
               const char *where, char err[CONFIG_ERR_LEN]);

/* Reads a config file. Returns 0, or -errno with err naming the file and line. */
int config_load_file(const struct config_option *table, void *target, const char *path,
                     char err[CONFIG_ERR_LEN]);

/*
 * Finds the option for a long flag ("--jwt-secret-file" matches
 * "jwt_secret_file"). Returns NULL when there is none.
 */
const struct config_option *config_find_flag(const struct config_option *table, const char *flag);

/*
 * Parses argv[first..argc): "--config FILE" is loaded first wherever it
 * appears, then every "--name value" (or "--name=value", or a bare "--name"
 * for a boolean) is applied on top. Arguments that are not options are
 * rejected. Returns 0 or -errno with err set.
 */
int config_parse_args(const struct config_option *table, void *target, int argc, char **argv,
                      int first, char err[CONFIG_ERR_LEN]);

void config_print_help(const struct config_option *table, FILE *out);
void config_free(const struct config_option *table, void *target);

#endif
