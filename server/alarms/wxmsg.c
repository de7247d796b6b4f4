/* wxmsg: subscribe message bodies for alarms (wxmsg.h). */
#include "wxmsg.h"

#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "jsonw.h"
#include "rules.h"

static const char *const source_names[WXS__COUNT] = {
    [WXS_DEVICE] = "device",     [WXS_KIND] = "kind",   [WXS_TITLE] = "title",
    [WXS_SEVERITY] = "severity", [WXS_VALUE] = "value", [WXS_LIMIT] = "limit",
    [WXS_DETAIL] = "detail",     [WXS_TIME] = "time",   [WXS_SITE] = "site",
    [WXS_STATE] = "state",
};

static const struct {
    const char *prefix;
    enum wxmsg_type type;
    size_t max_chars;
} types[] = {
    /* character_string first: "thing" must not match it, nor it "thing". */
    {"character_string", WXT_CHARACTER_STRING, 32},
    {"thing", WXT_THING, 20},
    {"number", WXT_NUMBER, 32},
    {"time", WXT_TIME, 16},
    {"date", WXT_DATE, 10},
};
#define N_TYPES (sizeof(types) / sizeof(types[0]))

/* "alarm_wechat_fields: <what> '<part>'" */
static int fail(char *err, const char *what, const char *part, size_t len)
{
    snprintf(err, WXMSG_ERR_LEN, "alarm_wechat_fields: %s '%.*s'", what, (int)(len > 40 ? 40 : len),
             part);
    return -EINVAL;
}

static int parse_item(const char *p, size_t len, struct wxmsg_fields *ret, char *err)
{
    const char *eq = memchr(p, '=', len);
    if (!eq)
        return fail(err, "not key=source:", p, len);
    size_t klen = (size_t)(eq - p), slen = len - klen - 1;
    size_t t = 0;
    for (; t < N_TYPES; t++) {
        size_t pl = strlen(types[t].prefix);
        if (klen > pl && strncmp(p, types[t].prefix, pl) == 0)
            break;
    }
    if (t == N_TYPES)
        return fail(err,
                    "not a field of a known type (thing, character_string, number, time, date):", p,
                    klen);
    size_t digits = klen - strlen(types[t].prefix);
    bool num_ok = digits >= 1 && digits <= 2;
    for (size_t i = klen - digits; num_ok && i < klen; i++)
        num_ok = p[i] >= '0' && p[i] <= '9';
    if (!num_ok)
        return fail(err, "a field must end in 1 or 2 digits:", p, klen);
    int src = -1;
    for (int k = 0; k < WXS__COUNT; k++)
        if (strlen(source_names[k]) == slen && strncmp(eq + 1, source_names[k], slen) == 0)
            src = k;
    if (src < 0)
        return fail(err, "unknown source:", eq + 1, slen);
    if (types[t].type == WXT_NUMBER && src != WXS_VALUE && src != WXS_LIMIT)
        return fail(err, "a number field takes value or limit only:", p, klen);
    for (size_t i = 0; i < ret->n; i++)
        if (strlen(ret->f[i].key) == klen && strncmp(ret->f[i].key, p, klen) == 0)
            return fail(err, "a field given twice:", p, klen);
    if (ret->n == WXMSG_FIELDS_MAX)
        return fail(err, "more than 10 fields at", p, len);
    memcpy(ret->f[ret->n].key, p, klen);
    ret->f[ret->n].key[klen] = '\0';
    ret->f[ret->n].type = types[t].type;
    ret->f[ret->n].source = (enum wxmsg_source)src;
    ret->n++;
    return 0;
}

int wxmsg_fields_parse(const char *text, size_t len, struct wxmsg_fields *ret,
                       char err[WXMSG_ERR_LEN])
{
    memset(ret, 0, sizeof(*ret));
    size_t i = 0;
    if (len == 0) {
        snprintf(err, WXMSG_ERR_LEN, "alarm_wechat_fields is empty");
        return -EINVAL;
    }
    while (i <= len) {
        size_t j = i;
        while (j < len && text[j] != ',')
            j++;
        size_t a = i, b = j;
        while (a < b && text[a] == ' ')
            a++;
        while (b > a && text[b - 1] == ' ')
            b--;
        if (b == a)
            return fail(err, "an empty item near", text + i, len - i);
        int r = parse_item(text + a, b - a, ret, err);
        if (r)
            return r;
        i = j + 1;
    }
    return 0;
}

/* Copies at most max_chars UTF-8 characters of s (ascii: others become '?'). */
static void cut(const char *s, size_t max_chars, bool ascii, char *out, size_t size)
{
    size_t o = 0, chars = 0;
    for (const unsigned char *p = (const unsigned char *)s; *p && chars < max_chars;) {
        size_t n = *p < 0x80         ? 1
                   : (*p >> 5) == 6  ? 2
                   : (*p >> 4) == 14 ? 3
                   : (*p >> 3) == 30 ? 4
                                     : 1;
        for (size_t k = 1; k < n; k++)
            if ((p[k] & 0xC0) != 0x80)
                n = 1; /* broken sequence: take the byte alone */
        if (ascii && (n > 1 || *p >= 0x80 || *p < 0x20)) {
            if (o + 2 > size)
                break;
            out[o++] = '?';
            p += n;
        } else {
            if (o + n + 1 > size)
                break;
            memcpy(out + o, p, n);
            o += n;
            p += n;
        }
        chars++;
    }
    out[o] = '\0';
}

/* WeChat's time ("YYYY-MM-DD HH:MM") or date, in the site's zone (the process's TZ). */
static void local_time(int64_t ms, bool date_only, char *out, size_t size)
{
    time_t t = (time_t)(ms / 1000);
    struct tm tm;
    size_t n = 0;
    if (localtime_r(&t, &tm))
        n = date_only ? strftime(out, size, "%Y-%m-%d", &tm)
                      : strftime(out, size, "%Y-%m-%d %H:%M", &tm);
    if (!n)
        snprintf(out, size, "%s", date_only ? "1970-01-01" : "1970-01-01 00:00");
}

static void source_text(enum wxmsg_source src, enum wxmsg_type type, const struct alarm_rec *a,
                        char *out, size_t size)
{
    int k = alarm_kind_parse(a->kind);
    const char *unit = k >= 0 ? alarm_kinds[k].unit : "";
    switch (src) {
    case WXS_DEVICE:
        snprintf(out, size, "%s", a->device_id);
        return;
    case WXS_KIND:
        snprintf(out, size, "%s", a->kind);
        return;
    case WXS_TITLE:
        snprintf(out, size, "%s", k >= 0 ? alarm_kinds[k].title : a->kind);
        return;
    case WXS_SEVERITY:
        snprintf(out, size, "%s", a->severity);
        return;
    case WXS_VALUE:
        if (a->has_value)
            snprintf(out, size, "%.2f%s", a->value, type == WXT_NUMBER ? "" : unit);
        else
            snprintf(out, size, type == WXT_NUMBER ? "0" : "-");
        return;
    case WXS_LIMIT:
        if (a->has_limit)
            snprintf(out, size, "%.2f%s", a->limit, type == WXT_NUMBER ? "" : unit);
        else
            snprintf(out, size, type == WXT_NUMBER ? "0" : "-");
        return;
    case WXS_DETAIL:
        if (a->has_value && a->has_limit)
            snprintf(out, size, "%.1f%s %s %.1f%s", a->value, unit,
                     k >= 0 && alarm_kinds[k].direction == ALARM_BELOW ? "<" : ">", a->limit, unit);
        else
            snprintf(out, size, "%s", a->message[0] ? a->message : a->kind);
        return;
    case WXS_TIME:
        local_time(a->raised_ms, type == WXT_DATE, out, size);
        return;
    case WXS_SITE:
        snprintf(out, size, "%s", a->site[0] ? a->site : "-");
        return;
    case WXS_STATE:
    default:
        snprintf(out, size, "%s", alarm_state_name(a->state));
        return;
    }
}

int wxmsg_body(const struct wxmsg_fields *f, const struct wxmsg_target *t,
               const struct alarm_rec *a, struct dynbuf *out)
{
    struct jsonw w;
    char page[512];
    snprintf(page, sizeof(page), "%s?id=%lld", t->page, (long long)a->id);
    jsonw_init(&w, out);
    jsonw_obj_begin(&w);
    jsonw_kstr(&w, "touser", t->openid);
    jsonw_kstr(&w, "template_id", t->template_id);
    jsonw_kstr(&w, "page", page);
    jsonw_kstr(&w, "miniprogram_state", t->state ? t->state : "formal");
    jsonw_kstr(&w, "lang", "zh_CN");
    jsonw_key(&w, "data");
    jsonw_obj_begin(&w);
    for (size_t i = 0; i < f->n; i++) {
        char raw[512], val[512];
        enum wxmsg_type ty = f->f[i].type;
        source_text(f->f[i].source, ty, a, raw, sizeof(raw));
        size_t max = 20;
        for (size_t k = 0; k < N_TYPES; k++)
            if (types[k].type == ty)
                max = types[k].max_chars;
        if (ty == WXT_TIME && f->f[i].source != WXS_TIME)
            local_time(a->raised_ms, false, raw, sizeof(raw));
        if (ty == WXT_DATE && f->f[i].source != WXS_TIME)
            local_time(a->raised_ms, true, raw, sizeof(raw));
        cut(raw, max, ty != WXT_THING, val, sizeof(val));
        jsonw_key(&w, f->f[i].key);
        jsonw_obj_begin(&w);
        jsonw_kstr(&w, "value", val);
        jsonw_obj_end(&w);
    }
    jsonw_obj_end(&w);
    jsonw_obj_end(&w);
    return jsonw_error(&w);
}
