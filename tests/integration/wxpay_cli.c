/*
 * wxpay_cli: the WeChat Pay module (server/wxpay/) driven from the command
 * line, for tests/integration/test_wxpay.py against the stand-in
 * (tests/lib/wxpay_standin.py) until the server's endpoints use it.
 *
 * The configuration comes from the environment, one variable per option:
 * WECHATPAY_APPID, WECHATPAY_MCHID, WECHATPAY_SERIAL_NO,
 * WECHATPAY_PRIVATE_KEY_FILE, WECHATPAY_APIV3_KEY_FILE,
 * WECHATPAY_PLATFORM_PUBLIC_KEY_FILE, WECHATPAY_PLATFORM_PUBLIC_KEY_ID,
 * WECHATPAY_NOTIFY_URL, WECHATPAY_BASE_URL.
 *
 *   wxpay_cli order TOTAL_FEN OPENID [DESCRIPTION]
 *   wxpay_cli query OUT_TRADE_NO
 *   wxpay_cli close OUT_TRADE_NO
 *   wxpay_cli notify TIMESTAMP NONCE SIGNATURE SERIAL [OUT_TRADE_NO TOTAL_FEN] < BODY
 *
 * Each prints one JSON object on stdout: {"result":"ok",...} and exit 0, or
 * {"result":"<error name>","detail":...} and exit 1; exit 2 for bad usage or
 * configuration. "-" for a header means "absent".
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dynbuf.h"
#include "jsonw.h"
#include "timeutil.h"
#include "wxpay.h"

static struct wxpay *open_client(void)
{
    struct wxpay_options o = {
        .appid = getenv("WECHATPAY_APPID"),
        .mchid = getenv("WECHATPAY_MCHID"),
        .serial_no = getenv("WECHATPAY_SERIAL_NO"),
        .private_key_file = getenv("WECHATPAY_PRIVATE_KEY_FILE"),
        .apiv3_key_file = getenv("WECHATPAY_APIV3_KEY_FILE"),
        .platform_public_key_file = getenv("WECHATPAY_PLATFORM_PUBLIC_KEY_FILE"),
        .platform_public_key_id = getenv("WECHATPAY_PLATFORM_PUBLIC_KEY_ID"),
        .notify_url = getenv("WECHATPAY_NOTIFY_URL"),
        .base_url = getenv("WECHATPAY_BASE_URL"),
    };
    struct wxpay *w = NULL;
    char err[WXPAY_ERR_LEN];
    if (wxpay_new(&o, &w, err)) {
        fprintf(stderr, "wxpay_cli: %s\n", err);
        exit(2);
    }
    return w;
}

static int finish(struct jsonw *j, struct dynbuf *b, enum wxpay_error e, const char *detail)
{
    if (e != WXPAY_OK) {
        jsonw_kstr(j, "result", wxpay_error_name(e));
        jsonw_kstr(j, "detail", detail ? detail : "");
    }
    jsonw_obj_end(j);
    if (jsonw_error(j)) {
        fprintf(stderr, "wxpay_cli: cannot write the answer\n");
        return 2;
    }
    printf("%s\n", dynbuf_str(b));
    return e == WXPAY_OK ? 0 : 1;
}

static void result_fields(struct jsonw *j, const struct wxpay_result *r)
{
    jsonw_kint(j, "http_status", r->http_status);
    jsonw_kstr(j, "code", r->code);
    jsonw_kstr(j, "request_id", r->request_id);
}

static void transaction_fields(struct jsonw *j, const struct wxpay_transaction *t)
{
    jsonw_kstr(j, "appid", t->appid);
    jsonw_kstr(j, "mchid", t->mchid);
    jsonw_kstr(j, "out_trade_no", t->out_trade_no);
    jsonw_kstr(j, "transaction_id", t->transaction_id);
    jsonw_kstr(j, "trade_state", wxpay_trade_state_name(t->trade_state));
    jsonw_kint(j, "total", t->total_fen);
    jsonw_kint(j, "payer_total", t->payer_total_fen);
    jsonw_kstr(j, "payer_openid", t->payer_openid);
    jsonw_kint(j, "success_time_ms", t->success_time_ms);
}

static int order(struct wxpay *w, int argc, char **argv, struct jsonw *j, struct dynbuf *b)
{
    if (argc < 4)
        return -1;
    char no[WXPAY_OUT_TRADE_NO_MAX + 1], prepay[WXPAY_PREPAY_ID_MAX + 1];
    int64_t now = time_now_ms();
    if (wxpay_out_trade_no_new(now, no))
        return finish(j, b, WXPAY_NOMEM, "no randomness");
    struct wxpay_order_request req = {
        .out_trade_no = no,
        .description = argc > 4 ? argv[4] : "meter recharge",
        .total_fen = strtoll(argv[2], NULL, 10),
        .payer_openid = argv[3],
        .expire_ms = now + 30 * 60 * 1000,
    };
    struct wxpay_result r;
    enum wxpay_error e = wxpay_jsapi_order(w, &req, now, prepay, &r);
    jsonw_kstr(j, "out_trade_no", no);
    result_fields(j, &r);
    if (e)
        return finish(j, b, e, r.detail);
    struct wxpay_pay_params p;
    e = wxpay_pay_params(w, prepay, time_now_ms(), &p);
    if (e)
        return finish(j, b, e, "cannot make the payment parameters");
    jsonw_kstr(j, "result", "ok");
    jsonw_kstr(j, "prepay_id", prepay);
    jsonw_key(j, "pay_params");
    jsonw_obj_begin(j);
    jsonw_kstr(j, "appId", p.app_id);
    jsonw_kstr(j, "timeStamp", p.time_stamp);
    jsonw_kstr(j, "nonceStr", p.nonce_str);
    jsonw_kstr(j, "package", p.package);
    jsonw_kstr(j, "signType", p.sign_type);
    jsonw_kstr(j, "paySign", p.pay_sign);
    jsonw_obj_end(j);
    return finish(j, b, WXPAY_OK, NULL);
}

static int query(struct wxpay *w, int argc, char **argv, struct jsonw *j, struct dynbuf *b)
{
    if (argc < 3)
        return -1;
    struct wxpay_transaction t;
    struct wxpay_result r;
    enum wxpay_error e = wxpay_query(w, argv[2], time_now_ms(), &t, &r);
    result_fields(j, &r);
    if (e)
        return finish(j, b, e, r.detail);
    jsonw_kstr(j, "result", "ok");
    transaction_fields(j, &t);
    return finish(j, b, WXPAY_OK, NULL);
}

static int close_order(struct wxpay *w, int argc, char **argv, struct jsonw *j, struct dynbuf *b)
{
    if (argc < 3)
        return -1;
    struct wxpay_result r;
    enum wxpay_error e = wxpay_close(w, argv[2], time_now_ms(), &r);
    result_fields(j, &r);
    if (e)
        return finish(j, b, e, r.detail);
    jsonw_kstr(j, "result", "ok");
    return finish(j, b, WXPAY_OK, NULL);
}

static const char *header(const char *arg)
{
    return strcmp(arg, "-") == 0 ? NULL : arg;
}

static int notify(struct wxpay *w, int argc, char **argv, struct jsonw *j, struct dynbuf *b)
{
    if (argc < 6)
        return -1;
    struct dynbuf body;
    dynbuf_init(&body, 1 << 20);
    char chunk[4096];
    size_t n;
    while ((n = fread(chunk, 1, sizeof(chunk), stdin)) > 0)
        if (dynbuf_add(&body, chunk, n))
            break;
    struct wxpay_signed_headers h = {.timestamp = header(argv[2]),
                                     .nonce = header(argv[3]),
                                     .signature = header(argv[4]),
                                     .serial = header(argv[5])};
    struct wxpay_transaction t;
    char detail[WXPAY_ERR_LEN];
    enum wxpay_error e =
        wxpay_notify(w, &h, dynbuf_str(&body), body.len, time_now_ms(), &t, detail);
    if (!e && argc >= 8)
        e = wxpay_check_paid(&t, argv[6], strtoll(argv[7], NULL, 10), detail);
    const char *answer;
    jsonw_kint(j, "answer_status", wxpay_notify_answer(e, &answer));
    dynbuf_free(&body);
    if (e)
        return finish(j, b, e, detail);
    jsonw_kstr(j, "result", "ok");
    transaction_fields(j, &t);
    return finish(j, b, WXPAY_OK, NULL);
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        fprintf(stderr, "usage: wxpay_cli order|query|close|notify ...\n");
        return 2;
    }
    static const struct {
        const char *name;
        int (*run)(struct wxpay *, int, char **, struct jsonw *, struct dynbuf *);
    } commands[] = {
        {"order", order},
        {"query", query},
        {"close", close_order},
        {"notify", notify},
    };
    for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++) {
        if (strcmp(argv[1], commands[i].name) != 0)
            continue;
        struct wxpay *w = open_client();
        struct dynbuf b;
        struct jsonw j;
        dynbuf_init(&b, 1 << 16);
        jsonw_init(&j, &b);
        jsonw_obj_begin(&j);
        int r = commands[i].run(w, argc, argv, &j, &b);
        dynbuf_free(&b);
        wxpay_free(w);
        if (r < 0) {
            fprintf(stderr, "wxpay_cli %s: missing arguments\n", argv[1]);
            return 2;
        }
        return r;
    }
    fprintf(stderr, "wxpay_cli: unknown command %s\n", argv[1]);
    return 2;
}
