/* wxpay_fields: the rules of WeChat Pay's values (see wxpay_fields.h). */

#include "wxpay_fields.h"

#include <string.h>

#include "utf8.h"

const char *wxpay_error_name(enum wxpay_error e)
{
    static const char *const names[] = {
        [WXPAY_OK] = "ok",
        [WXPAY_INVALID] = "invalid argument",
        [WXPAY_UNREACHABLE] = "WeChat Pay unreachable",
        [WXPAY_BAD_SIGNATURE] = "bad signature",
        [WXPAY_STALE] = "stale timestamp",
        [WXPAY_UNDECRYPTABLE] = "resource does not decrypt",
        [WXPAY_BAD_ANSWER] = "bad answer",
        [WXPAY_MISMATCH] = "not ours",
        [WXPAY_NOT_FOUND] = "no such order",
        [WXPAY_REFUSED] = "refused",
        [WXPAY_NOMEM] = "out of memory",
        [WXPAY_OVERLOADED] = "overloaded",
    };
    return (unsigned)e < sizeof(names) / sizeof(names[0]) && names[e] ? names[e] : "?";
}

static bool alnum(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
}

/* 1..max characters, each alphanumeric or one of extra. */
static bool made_of(const char *s, size_t len, size_t min, size_t max, const char *extra)
{
    if (!s || len < min || len > max)
        return false;
    for (size_t i = 0; i < len; i++)
        if (!alnum(s[i]) && !(s[i] && strchr(extra, s[i])))
            return false;
    return true;
}

bool wxpay_appid_valid(const char *s, size_t len)
{
    return made_of(s, len, 1, WXPAY_APPID_MAX, "");
}

bool wxpay_mchid_valid(const char *s, size_t len)
{
    if (!s || len < 1 || len > WXPAY_MCHID_MAX)
        return false;
    for (size_t i = 0; i < len; i++)
        if (s[i] < '0' || s[i] > '9')
            return false;
    return true;
}

bool wxpay_serial_valid(const char *s, size_t len)
{
    return made_of(s, len, 1, WXPAY_SERIAL_MAX, "_-");
}

bool wxpay_out_trade_no_valid(const char *s, size_t len)
{
    return made_of(s, len, WXPAY_OUT_TRADE_NO_MIN, WXPAY_OUT_TRADE_NO_MAX, "_-|*");
}

bool wxpay_transaction_id_valid(const char *s, size_t len)
{
    return made_of(s, len, 1, WXPAY_TRANSACTION_ID_MAX, "");
}

bool wxpay_openid_valid(const char *s, size_t len)
{
    return made_of(s, len, 1, WXPAY_OPENID_MAX, "_-");
}

bool wxpay_prepay_id_valid(const char *s, size_t len)
{
    return made_of(s, len, 1, WXPAY_PREPAY_ID_MAX, "_-");
}

bool wxpay_nonce_valid(const char *s, size_t len)
{
    if (!s || len < 1 || len > WXPAY_NONCE_MAX)
        return false;
    for (size_t i = 0; i < len; i++)
        if (s[i] <= ' ' || s[i] > '~')
            return false;
    return true;
}

bool wxpay_code_valid(const char *s, size_t len)
{
    if (!s || len < 1 || len > WXPAY_CODE_MAX)
        return false;
    for (size_t i = 0; i < len; i++)
        if (!((s[i] >= 'A' && s[i] <= 'Z') || (s[i] >= '0' && s[i] <= '9') || s[i] == '_'))
            return false;
    return true;
}

bool wxpay_description_valid(const char *s, size_t len)
{
    /* At most 4 bytes a character; utf8_clean() keeps exactly the printable characters. */
    char clean[WXPAY_DESCRIPTION_MAX * 4 + 1];
    if (!s || len < 1 || len > WXPAY_DESCRIPTION_MAX * 4 || memchr(s, '\0', len))
        return false;
    char in[WXPAY_DESCRIPTION_MAX * 4 + 1];
    memcpy(in, s, len);
    in[len] = '\0';
    if (utf8_clean(in, clean, sizeof(clean)) != len || memcmp(in, clean, len) != 0)
        return false;
    size_t chars = 0;
    for (size_t i = 0; i < len; i++)
        if (((unsigned char)s[i] & 0xC0) != 0x80)
            chars++;
    return chars <= WXPAY_DESCRIPTION_MAX;
}
