#include "recharge.h"

#include <errno.h>
#include <string.h>

#include "money.h"
#include "store.h"

int recharge_amount_from_json(const json_t *v, int64_t *ret_fen)
{
    int64_t fen = 0;
    int r;
    if (!v)
        return -ENOENT;
    if (json_is_integer(v)) {
        json_int_t x = json_integer_value(v);
        r = x > RECHARGE_MAX_FEN / 100 || x < -RECHARGE_MAX_FEN / 100 ? -ERANGE : 0;
        fen = r ? 0 : (int64_t)x * 100;
    } else if (json_is_real(v)) {
        r = money_from_double(json_real_value(v), &fen);
    } else if (json_is_string(v)) {
        r = money_parse(json_string_value(v), &fen);
    } else {
        return -EMEDIUMTYPE;
    }
    if (r == -EINVAL)
        return r;
    if (r || fen <= 0 || fen > RECHARGE_MAX_FEN)
        return -ERANGE;
    *ret_fen = fen;
    return 0;
}

bool recharge_key_valid(const char *k)
{
    size_t n = strlen(k);
    if (n == 0 || n > IDEMPOTENCY_KEY_MAX)
        return false;
    for (size_t i = 0; i < n; i++)
        if (k[i] < 0x21 || k[i] > 0x7e)
            return false;
    return true;
}
