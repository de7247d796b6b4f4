#include "money.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>

/* Largest magnitude we convert: 10^15 fen, far beyond any balance we allow. */
#define MONEY_LIMIT_FEN INT64_C(1000000000000000)

int money_parse(const char *s, int64_t *ret_fen)
{
    int neg = 0;
    int64_t whole = 0, frac = 0;
    int digits = 0, fdigits = 0;
    const char *p = s;
    if (*p == '-') {
        neg = 1;
        p++;
    }
    for (; *p >= '0' && *p <= '9'; p++) {
        if (whole > MONEY_LIMIT_FEN / 100)
            return -ERANGE;
        whole = whole * 10 + (*p - '0');
        digits++;
    }
    if (*p == '.') {
        p++;
        for (; *p >= '0' && *p <= '9'; p++) {
            if (++fdigits > 2)
                return -EINVAL;
            frac = frac * 10 + (*p - '0');
        }
        if (fdigits == 0)
            return -EINVAL;
        if (fdigits == 1)
            frac *= 10;
    }
    if (*p != '\0' || digits == 0)
        return -EINVAL;
    int64_t fen = whole * 100 + frac;
    if (fen > MONEY_LIMIT_FEN)
        return -ERANGE;
    *ret_fen = neg ? -fen : fen;
    return 0;
}

int money_from_double(double yuan, int64_t *ret_fen)
{
    if (!isfinite(yuan))
        return -EINVAL;
    double fen = yuan * 100.0;
    /* Past 10^12 fen a double no longer tells 0.1 fen apart reliably. */
    if (fabs(fen) > 1e12)
        return -ERANGE;
    /*
     * Whole fen only, exactly: the number must be the very double that its own value
     * written with two decimals reads as (100.1 is; 0.30000000000000004 and 0.0099999,
     * a hair off a whole fen, are not), so nothing is ever rounded, up or down.
     */
    int64_t whole = (int64_t)nearbyint(fen);
    char text[MONEY_TEXT_LEN];
    money_format(whole, text);
    if (strtod(text, NULL) != yuan)
        return -EINVAL;
    *ret_fen = whole;
    return 0;
}

void money_format(int64_t fen, char out[MONEY_TEXT_LEN])
{
    uint64_t u = fen < 0 ? (uint64_t)0 - (uint64_t)fen : (uint64_t)fen;
    snprintf(out, MONEY_TEXT_LEN, "%s%llu.%02llu", fen < 0 ? "-" : "",
             (unsigned long long)(u / 100), (unsigned long long)(u % 100));
}
