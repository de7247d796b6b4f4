/* regmap: the register map format's parser and the built-in maps (regmap.h). */
#include "regmap.h"

#include <errno.h>
#include <math.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "regmap_builtin.h"

static const struct {
    const char *name;
    enum regmap_type type;
    bool low_word_first;
} type_names[] = {
    {"uint16", REGMAP_UINT16, false},   {"int16", REGMAP_INT16, false},
    {"uint32", REGMAP_UINT32, false},   {"int32", REGMAP_INT32, false},
    {"float32", REGMAP_FLOAT32, false}, {"uint32_swap", REGMAP_UINT32, true},
    {"int32_swap", REGMAP_INT32, true}, {"float32_swap", REGMAP_FLOAT32, true},
};

static const char *const pseudo_names[REGMAP__PSEUDO_COUNT] = {
    [REGMAP_AGE_S] = "$age_s",
    [REGMAP_ONLINE] = "$online",
    [REGMAP_TS_S] = "$ts_s",
    [REGMAP_UNIT] = "$unit",
    [REGMAP_ENERGY_TOTAL_WH] = "$energy_total_wh",
    [REGMAP_REACTIVE_TOTAL_VARH] = "$reactive_total_varh",
};

unsigned regmap_type_words(enum regmap_type t)
{
    return t == REGMAP_UINT16 || t == REGMAP_INT16 ? 1 : 2;
}

__attribute__((format(printf, 3, 4))) static int fail(char err[REGMAP_ERR_LEN], unsigned line,
                                                      const char *fmt, ...)
{
    int n = line ? snprintf(err, REGMAP_ERR_LEN, "line %u: ", line) : 0;
    if (n < 0 || n >= REGMAP_ERR_LEN)
        n = 0;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err + n, REGMAP_ERR_LEN - (size_t)n, fmt, ap);
    va_end(ap);
    return -EINVAL;
}

/* An unsigned integer, decimal or 0x hex, whole token; false when it is not one or > max. */
static bool parse_uint(const char *s, unsigned long max, unsigned long *ret)
{
    int base = 10;
    if (s[0] == '0' && (s[1] == 'x' || s[1] == 'X')) {
        base = 16;
        s += 2;
    }
    if (!s[0] || strlen(s) > 8)
        return false;
    for (const char *p = s; *p; p++)
        if (base == 10 ? !(*p >= '0' && *p <= '9')
                       : !((*p >= '0' && *p <= '9') || (*p >= 'a' && *p <= 'f') ||
                           (*p >= 'A' && *p <= 'F')))
            return false;
    unsigned long v = strtoul(s, NULL, base);
    if (v > max)
        return false;
    *ret = v;
    return true;
}

static bool name_ok(const char *s, size_t max, const char *extra)
{
    size_t n = strlen(s);
    if (n == 0 || n > max)
        return false;
    for (const char *p = s; *p; p++)
        if (!((*p >= 'a' && *p <= 'z') || (*p >= '0' && *p <= '9') || strchr(extra, *p)))
            return false;
    return true;
}

static bool unit_ok(const char *s)
{
    size_t n = strlen(s);
    if (n == 0 || n > REGMAP_UNIT_MAX)
        return false;
    for (const char *p = s; *p; p++)
        if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') ||
              *p == '%' || *p == '_' || *p == '-'))
            return false;
    return true;
}

/* A field by its wire name or pseudo name: 0, or -1 when there is none. */
static int field_named(const char *s, struct regmap_field *ret)
{
    for (int i = 0; i < RR__COUNT; i++)
        if (!strcmp(s, reading_reals[i].json)) {
            *ret = (struct regmap_field){REGMAP_REAL, i};
            return 0;
        }
    for (int i = 0; i < RC__COUNT; i++)
        if (!strcmp(s, reading_counters[i].json)) {
            *ret = (struct regmap_field){REGMAP_COUNTER, i};
            return 0;
        }
    for (int i = 0; i < REGMAP__PSEUDO_COUNT; i++)
        if (!strcmp(s, pseudo_names[i])) {
            *ret = (struct regmap_field){REGMAP_PSEUDO, i};
            return 0;
        }
    return -1;
}

#define MAX_TOKENS 6

/* Splits line (modified in place) at blanks into tok[]; the count, or MAX_TOKENS + 1 past it. */
static int tokenize(char *line, char *tok[MAX_TOKENS])
{
    int n = 0;
    char *p = line;
    for (;;) {
        while (*p == ' ' || *p == '\t')
            p++;
        if (!*p)
            return n;
        if (n == MAX_TOKENS)
            return MAX_TOKENS + 1;
        tok[n++] = p;
        while (*p && *p != ' ' && *p != '\t')
            p++;
        if (*p)
            *p++ = '\0';
    }
}

static int parse_entry(char *tok[], int nt, unsigned line, struct regmap *m,
                       char err[REGMAP_ERR_LEN])
{
    if (nt != 5)
        return fail(err, line, "expected ADDR TYPE SCALE UNIT FIELD, found %d item%s", nt,
                    nt == 1 ? "" : "s");
    if (m->n == REGMAP_ENTRIES_MAX)
        return fail(err, line, "more than %d entries", REGMAP_ENTRIES_MAX);
    struct regmap_entry *e = &m->e[m->n];
    memset(e, 0, sizeof(*e));
    e->line = line;
    unsigned long addr;
    if (!parse_uint(tok[0], 65535, &addr))
        return fail(err, line, "'%.20s' is not a register address (0..65535, or 0x0000..0xFFFF)",
                    tok[0]);
    e->addr = (uint16_t)addr;
    size_t t = 0;
    while (t < sizeof(type_names) / sizeof(type_names[0]) && strcmp(tok[1], type_names[t].name))
        t++;
    if (t == sizeof(type_names) / sizeof(type_names[0]))
        return fail(err, line,
                    "unknown type '%.20s' (uint16, int16, uint32, int32, float32, or a 32-bit "
                    "one with _swap)",
                    tok[1]);
    e->type = type_names[t].type;
    e->low_word_first = type_names[t].low_word_first;
    unsigned words = regmap_type_words(e->type);
    if (addr + words > 65536)
        return fail(err, line, "register 0x%04lX and the next do not fit below 0x10000", addr);
    char *end;
    errno = 0;
    double scale = strtod(tok[2], &end);
    if (*end || errno || !isfinite(scale) || fabs(scale) < 1e-9 || fabs(scale) > 1e9)
        return fail(err, line, "'%.20s' is not a scale (a number, 1e-9 <= |scale| <= 1e9)", tok[2]);
    e->scale = scale;
    if (!unit_ok(tok[3]))
        return fail(err, line, "'%.20s' is not a unit (1..%d of A-Z a-z 0-9 %% _ -)", tok[3],
                    REGMAP_UNIT_MAX);
    memcpy(e->unit, tok[3], strlen(tok[3]) + 1);
    char *f = tok[4];
    for (;;) {
        char *bar = strchr(f, '|');
        if (bar)
            *bar = '\0';
        if (e->n_fields == REGMAP_ALTS_MAX)
            return fail(err, line, "more than %d fields", REGMAP_ALTS_MAX);
        if (field_named(f, &e->fields[e->n_fields]))
            return fail(err, line,
                        "unknown field '%.40s' (a reading's number field, or $age_s, "
                        "$online, $ts_s, $unit, $energy_total_wh, $reactive_total_varh)",
                        f);
        e->n_fields++;
        if (!bar)
            break;
        f = bar + 1;
    }
    if (m->n > 0) {
        const struct regmap_entry *p = &m->e[m->n - 1];
        if (addr < (unsigned long)p->addr + regmap_type_words(p->type))
            return fail(err, line,
                        "register 0x%04lX overlaps or comes before the entry of line %u (entries "
                        "ascend without overlapping)",
                        addr, p->line);
    }
    m->end = (uint32_t)(addr + words);
    m->n++;
    return 0;
}

int regmap_parse(const char *text, size_t len, struct regmap *ret, char err[REGMAP_ERR_LEN])
{
    memset(ret, 0, sizeof(*ret));
    if (!text || len > REGMAP_TEXT_MAX)
        return fail(err, 0, "a map is at most %d bytes", REGMAP_TEXT_MAX);
    bool have_name = false, have_function = false, extra = false;
    unsigned line = 0;
    size_t pos = 0;
    while (pos < len) {
        line++;
        size_t eol = pos;
        while (eol < len && text[eol] != '\n')
            eol++;
        size_t n = eol - pos;
        if (n > 0 && text[pos + n - 1] == '\r')
            n--;
        if (n > REGMAP_LINE_MAX)
            return fail(err, line, "longer than %d characters", REGMAP_LINE_MAX);
        char buf[REGMAP_LINE_MAX + 1];
        memcpy(buf, text + pos, n);
        buf[n] = '\0';
        pos = eol + 1;
        for (size_t i = 0; i < n; i++) {
            unsigned char c = (unsigned char)buf[i];
            if (c == '#') {
                buf[i] = '\0';
                break;
            }
            if ((c < 0x20 && c != '\t') || c >= 0x7f)
                return fail(err, line, "character 0x%02X (a map is printable ASCII)", c);
        }
        char *tok[MAX_TOKENS];
        int nt = tokenize(buf, tok);
        if (nt == 0)
            continue;
        if (nt > MAX_TOKENS)
            return fail(err, line, "too many items");
        if (!strcmp(tok[0], "map")) {
            if (have_name)
                return fail(err, line, "a second 'map'");
            if (nt != 2 || !name_ok(tok[1], REGMAP_NAME_MAX, "_-"))
                return fail(err, line, "expected 'map NAME' (1..%d of a-z 0-9 _ -)",
                            REGMAP_NAME_MAX);
            memcpy(ret->name, tok[1], strlen(tok[1]) + 1);
            have_name = true;
            continue;
        }
        if (!have_name)
            return fail(err, line, "a map starts with 'map NAME'");
        if (!strcmp(tok[0], "extra")) {
            if (nt != 1 || extra)
                return fail(err, line, "'extra' comes once, alone on its line");
            extra = true;
            continue;
        }
        if (!strcmp(tok[0], "function")) {
            if (have_function || ret->n)
                return fail(err, line, "'function' comes once, before the entries");
            if (nt != 2 || (strcmp(tok[1], "3") && strcmp(tok[1], "4")))
                return fail(err, line, "expected 'function 3' or 'function 4'");
            ret->function = tok[1][0] - '0';
            have_function = true;
            continue;
        }
        int r = parse_entry(tok, nt, line, ret, err);
        if (r)
            return r;
        ret->e[ret->n - 1].server_extra = extra;
        if (!extra)
            ret->meter_end = ret->end;
    }
    if (!have_name)
        return fail(err, 0, "empty map: it starts with 'map NAME'");
    if (!ret->n)
        return fail(err, 0, "map '%s' has no entries", ret->name);
    if (!ret->function)
        ret->function = 4;
    return 0;
}

const char *const regmap_builtin_names[] = {"sdm630", "generic", "dtsu666", NULL};

static struct regmap builtin_maps[sizeof(regmap_builtin_names) / sizeof(char *) - 1];
static bool builtin_ok[sizeof(regmap_builtin_names) / sizeof(char *) - 1];
static pthread_once_t builtin_once = PTHREAD_ONCE_INIT;

static void builtin_load(void)
{
    for (size_t i = 0; regmap_builtin_names[i]; i++) {
        const char *text = regmap_builtin_text(regmap_builtin_names[i]);
        char err[REGMAP_ERR_LEN];
        /* A built-in map that does not parse is a build mistake the unit tests catch. */
        builtin_ok[i] = text && !regmap_parse(text, strlen(text), &builtin_maps[i], err);
    }
}

const struct regmap *regmap_builtin(const char *name)
{
    if (!name)
        return NULL;
    pthread_once(&builtin_once, builtin_load);
    for (size_t i = 0; regmap_builtin_names[i]; i++)
        if (!strcmp(name, regmap_builtin_names[i]))
            return builtin_ok[i] ? &builtin_maps[i] : NULL;
    return NULL;
}
