#include "config.h"

#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

static void set_err(char err[CONFIG_ERR_LEN], const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static void set_err(char err[CONFIG_ERR_LEN], const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err, CONFIG_ERR_LEN, fmt, ap);
    va_end(ap);
}

static const struct config_option *find(const struct config_option *table, const char *name)
{
    for (const struct config_option *o = table; o->name; o++)
        if (strcmp(o->name, name) == 0)
            return o;
    return NULL;
}

const struct config_option *config_find_flag(const struct config_option *table, const char *flag)
{
    char name[64];
    size_t n = strlen(flag);
    if (n >= sizeof(name))
        return NULL;
    for (size_t i = 0; i <= n; i++)
        name[i] = flag[i] == '-' ? '_' : flag[i];
    return find(table, name);
}

static int parse_bool(const char *v, bool *ret)
{
    static const char *const yes[] = {"true", "yes", "on", "1"};
    static const char *const no[] = {"false", "no", "off", "0"};
    for (unsigned i = 0; i < 4; i++) {
        if (strcmp(v, yes[i]) == 0) {
            *ret = true;
            return 0;
        }
        if (strcmp(v, no[i]) == 0) {
            *ret = false;
            return 0;
        }
    }
    return -EINVAL;
}

static int store_value(const struct config_option *o, void *target, const char *value,
                       const char *where, char err[CONFIG_ERR_LEN])
{
    void *field = (char *)target + o->offset;
    char *end;

    switch (o->type) {
    case CONFIG_STRING: {
        char *copy = strdup(value);
        if (!copy) {
            set_err(err, "%s: out of memory", where);
            return -ENOMEM;
        }
        free(*(char **)field);
        *(char **)field = copy;
        return 0;
    }
    case CONFIG_INT: {
        errno = 0;
        long long v = strtoll(value, &end, 10);
        if (errno || end == value || *end != '\0') {
            set_err(err, "%s: '%s' is not an integer", where, value);
            return -EINVAL;
        }
        if ((double)v < o->min || (double)v > o->max) {
            set_err(err, "%s: %lld is out of range %.0f..%.0f", where, v, o->min, o->max);
            return -ERANGE;
        }
        *(int64_t *)field = v;
        return 0;
    }
    case CONFIG_DOUBLE: {
        errno = 0;
        double v = strtod(value, &end);
        if (errno || end == value || *end != '\0' || !isfinite(v)) {
            set_err(err, "%s: '%s' is not a number", where, value);
            return -EINVAL;
        }
        if (v < o->min || v > o->max) {
            set_err(err, "%s: %s is out of range %g..%g", where, value, o->min, o->max);
            return -ERANGE;
        }
        *(double *)field = v;
        return 0;
    }
    case CONFIG_BOOL:
        if (parse_bool(value, (bool *)field)) {
            set_err(err, "%s: '%s' is not true or false", where, value);
            return -EINVAL;
        }
        return 0;
    }
    set_err(err, "%s: bad option type", where);
    return -EINVAL;
}

int config_set(const struct config_option *table, void *target, const char *name, const char *value,
               const char *where, char err[CONFIG_ERR_LEN])
{
    const struct config_option *o = find(table, name);
    if (!o) {
        set_err(err, "%s: unknown option '%s'", where, name);
        return -ENOENT;
    }
    return store_value(o, target, value, where, err);
}

int config_defaults(const struct config_option *table, void *target, char err[CONFIG_ERR_LEN])
{
    for (const struct config_option *o = table; o->name; o++) {
        if (!o->defval)
            continue;
        int r = store_value(o, target, o->defval, o->name, err);
        if (r)
            return r;
    }
    return 0;
}

static char *trim(char *s)
{
    while (isspace((unsigned char)*s))
        s++;
    size_t n = strlen(s);
    while (n > 0 && isspace((unsigned char)s[n - 1]))
        s[--n] = '\0';
    return s;
}

int config_load_file(const struct config_option *table, void *target, const char *path,
                     char err[CONFIG_ERR_LEN])
{
    FILE *f = fopen(path, "r");
    if (!f) {
        int e = errno;
        set_err(err, "config file %s: %s", path, strerror(e));
        return -e;
    }
    char line[1024];
    int lineno = 0;
    int r = 0;
    while (fgets(line, sizeof(line), f)) {
        lineno++;
        char where[300];
        snprintf(where, sizeof(where), "%s:%d", path, lineno);
        if (!strchr(line, '\n') && !feof(f)) {
            set_err(err, "%s: line longer than %zu bytes", where, sizeof(line) - 2);
            r = -E2BIG;
            break;
        }
        char *s = trim(line);
        if (*s == '\0' || *s == '#')
            continue;
        char *sp = s;
        while (*sp && !isspace((unsigned char)*sp))
            sp++;
        if (*sp == '\0') {
            set_err(err, "%s: option '%s' has no value", where, s);
            r = -EINVAL;
            break;
        }
        *sp = '\0';
        char *value = trim(sp + 1);
        if (strcmp(s, "config") == 0) {
            set_err(err, "%s: 'config' cannot be set inside a config file", where);
            r = -EINVAL;
            break;
        }
        r = config_set(table, target, s, value, where, err);
        if (r)
            break;
    }
    if (!r && ferror(f)) {
        set_err(err, "config file %s: read error", path);
        r = -EIO;
    }
    fclose(f);
    return r;
}

/* Splits "--name=value" or "--name"; returns the flag name (without dashes) in buf. */
static int split_flag(const char *arg, char *buf, size_t buflen, const char **ret_inline_value)
{
    if (strncmp(arg, "--", 2) != 0 || arg[2] == '\0')
        return -EINVAL;
    const char *name = arg + 2;
    const char *eq = strchr(name, '=');
    size_t n = eq ? (size_t)(eq - name) : strlen(name);
    if (n == 0 || n >= buflen)
        return -EINVAL;
    memcpy(buf, name, n);
    buf[n] = '\0';
    *ret_inline_value = eq ? eq + 1 : NULL;
    return 0;
}

int config_parse_args(const struct config_option *table, void *target, int argc, char **argv,
                      int first, char err[CONFIG_ERR_LEN])
{
    /* Pass 1: the config file, so that flags override it whatever their order. */
    for (int i = first; i < argc; i++) {
        char name[64];
        const char *inl;
        if (split_flag(argv[i], name, sizeof(name), &inl) || strcmp(name, "config") != 0)
            continue;
        const char *path = inl;
        if (!path) {
            if (i + 1 >= argc) {
                set_err(err, "--config needs a FILE");
                return -EINVAL;
            }
            path = argv[i + 1];
        }
        int r = config_load_file(table, target, path, err);
        if (r)
            return r;
    }
    for (int i = first; i < argc; i++) {
        char name[64];
        const char *value;
        if (split_flag(argv[i], name, sizeof(name), &value)) {
            set_err(err, "unexpected argument '%s'", argv[i]);
            return -EINVAL;
        }
        bool is_config = strcmp(name, "config") == 0;
        const struct config_option *o = is_config ? NULL : config_find_flag(table, name);
        if (!o && !is_config) {
            set_err(err, "unknown option --%s (see --help)", name);
            return -ENOENT;
        }
        if (!value) {
            if (o && o->type == CONFIG_BOOL &&
                (i + 1 >= argc || strncmp(argv[i + 1], "--", 2) == 0)) {
                value = "true";
            } else {
                if (i + 1 >= argc) {
                    set_err(err, "--%s needs a value", name);
                    return -EINVAL;
                }
                value = argv[++i];
            }
        }
        if (is_config)
            continue;
        char where[80];
        snprintf(where, sizeof(where), "--%s", name);
        int r = store_value(o, target, value, where, err);
        if (r)
            return r;
    }
    return 0;
}

void config_print_help(const struct config_option *table, FILE *out)
{
    fprintf(out, "  %-30s %s\n", "--config FILE", "read options from FILE (mosquitto.conf style)");
    for (const struct config_option *o = table; o->name; o++) {
        char flag[96];
        int n = snprintf(flag, sizeof(flag), "--%s %s", o->name, o->metavar ? o->metavar : "VALUE");
        for (int i = 2; i < n && flag[i] != ' '; i++)
            if (flag[i] == '_')
                flag[i] = '-';
        fprintf(out, "  %-30s %s", flag, o->help);
        if (o->defval)
            fprintf(out, " (default %s)", o->defval);
        fprintf(out, "\n");
    }
}

void config_free(const struct config_option *table, void *target)
{
    for (const struct config_option *o = table; o->name; o++) {
        if (o->type != CONFIG_STRING)
            continue;
        char **field = (void *)((char *)target + o->offset);
        free(*field);
        *field = NULL;
    }
}
