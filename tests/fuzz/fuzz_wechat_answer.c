/*
 * WeChat's answers to the server-side calls alarms make (server/auth/wechat.c):
 * the access token's (GET /cgi-bin/token) and subscribeMessage.send's, parsed
 * by wechat_parse_token_answer() and wechat_parse_send_answer(). The first
 * byte picks the parser; the rest is the answer's body.
 *
 * Checks: a token accepted is 1..WECHAT_TOKEN_MAX printable characters without
 * spaces with a lifetime of 1 s .. 30 days; an errcode reported only with an
 * error; an answer that is not a JSON object is WECHAT_BAD_ANSWER.
 */
#include <string.h>

#include "fuzz.h"
#include "wechat.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    const char *body = (const char *)data + 1;
    size_t len = size - 1;
    char detail[WECHAT_ERR_LEN];
    long code = -12345;
    if (data[0] & 1) {
        enum wechat_error e = wechat_parse_send_answer(body, len, &code, detail);
        FUZZ_CHECK(e == WECHAT_OK ? code == 0 : true);
        FUZZ_CHECK(code == 0 ? e == WECHAT_OK || e == WECHAT_BAD_ANSWER : e != WECHAT_OK);
        return 0;
    }
    char token[WECHAT_TOKEN_MAX + 1];
    memset(token, 'x', sizeof(token));
    long expires = -1;
    enum wechat_error e = wechat_parse_token_answer(body, len, token, &expires, &code, detail);
    if (e == WECHAT_OK) {
        size_t n = strnlen(token, sizeof(token));
        FUZZ_CHECK(n >= 1 && n <= WECHAT_TOKEN_MAX);
        for (size_t i = 0; i < n; i++)
            FUZZ_CHECK(token[i] > ' ' && token[i] < 0x7f);
        FUZZ_CHECK(expires >= 1 && expires <= 86400 * 30);
        FUZZ_CHECK(code == 0);
    } else {
        FUZZ_CHECK(expires == -1);
    }
    return 0;
}
