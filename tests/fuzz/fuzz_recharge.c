/*
 * The recharge amount parser (server/billing/recharge.c,
 * recharge_amount_from_json, over common/money.c) on the "amount" of a
 * recharge body, or on a bare JSON value; and the Idempotency-Key check
 * (recharge_key_valid) on the input as a header value.
 *
 * Checks: an accepted amount is more than 0 and at most RECHARGE_MAX_FEN;
 * the refusals are the documented ones; the accepted amount written as money
 * text (money_format), as a JSON real and, when whole yuan, as a JSON integer
 * is accepted again as the same fen.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz.h"
#include "money.h"
#include "recharge.h"
#include "store.h"

static void check_same(json_t *v, int64_t fen)
{
    int64_t again = 0;
    FUZZ_CHECK(v != NULL);
    FUZZ_CHECK(recharge_amount_from_json(v, &again) == 0 && again == fen);
    json_decref(v);
}

static void check_amount(const json_t *v)
{
    int64_t fen = 0;
    int r = recharge_amount_from_json(v, &fen);
    if (r) {
        FUZZ_CHECK(r == -ENOENT || r == -EMEDIUMTYPE || r == -EINVAL || r == -ERANGE);
        FUZZ_CHECK((r == -ENOENT) == (v == NULL));
        FUZZ_CHECK((r == -EMEDIUMTYPE) == (v && !json_is_number(v) && !json_is_string(v)));
        return;
    }
    FUZZ_CHECK(fen > 0 && fen <= RECHARGE_MAX_FEN);
    char text[MONEY_TEXT_LEN];
    money_format(fen, text);
    check_same(json_string(text), fen);
    check_same(json_real((double)fen / 100.0), fen);
    if (fen % 100 == 0)
        check_same(json_integer(fen / 100), fen);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    json_error_t e;
    json_t *root =
        json_loadb((const char *)data, size, JSON_DECODE_ANY | JSON_REJECT_DUPLICATES, &e);
    if (root)
        check_amount(json_is_object(root) ? json_object_get(root, "amount") : root);
    json_decref(root);

    char *key = fuzz_cstr(data, size);
    FUZZ_CHECK(!recharge_key_valid(key) || (key[0] && strlen(key) <= IDEMPOTENCY_KEY_MAX));
    free(key);
    return 0;
}
