/*
 * GET /api/devices/:id/statement?month=YYYY-MM: the month's statement as CSV
 * (docs/api.md, "Prepaid"): what billing charged, per local day and tariff
 * period, from the charge rows, then the month's total. The fen are those
 * charged to the ledger, so the total is what the month's charge entries add up to.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "api.h"
#include "money.h"
#include "sitetime.h"
#include "tariff.h"

/* A month has at most 744 hours; a few prices an hour. */
#define STATEMENT_MAX_ROWS 20000
#define STATEMENT_PRICES   16

struct line {
    char label[16];
    int64_t price, mwh, fen;
};

struct statement {
    struct dynbuf *out;
    int64_t day_ms; /* the day being summed, or -1 */
    struct line l[STATEMENT_PRICES];
    size_t n;
    int64_t total_mwh, total_fen;
};

/* "12.345678": kWh with the 6 decimals of a mWh. */
static void kwh_text(int64_t mwh, char out[32])
{
    snprintf(out, 32, "%lld.%06lld", (long long)(mwh / 1000000), (long long)(mwh % 1000000));
}

static int flush_day(struct statement *s)
{
    if (s->day_ms < 0)
        return 0;
    char day[11];
    sitetime_format_day(s->day_ms, day);
    int r = 0;
    for (size_t i = 0; i < s->n && !r; i++) {
        char price[TARIFF_PRICE_TEXT_LEN], kwh[32], cost[MONEY_TEXT_LEN];
        tariff_price_format(s->l[i].price, price);
        kwh_text(s->l[i].mwh, kwh);
        money_format(s->l[i].fen, cost);
        r = dynbuf_addf(s->out, "%s,%s,%s,%s,%s\r\n", day, s->l[i].label, price, kwh, cost);
    }
    s->n = 0;
    return r;
}

static int add_row(const struct charge_row *row, void *ctx)
{
    struct statement *s = ctx;
    int64_t day = sitetime_day_start(row->hour_ms);
    if (day != s->day_ms) {
        int r = flush_day(s);
        if (r)
            return r;
        s->day_ms = day;
    }
    size_t i = 0;
    while (i < s->n && !(s->l[i].price == row->price && strcmp(s->l[i].label, row->label) == 0))
        i++;
    if (i == s->n) {
        if (s->n == STATEMENT_PRICES) {
            i = s->n - 1;
        } else {
            s->n++;
            s->l[i] = (struct line){0};
        }
        snprintf(s->l[i].label, sizeof(s->l[i].label), "%s", row->label);
        s->l[i].price = row->price;
    }
    s->l[i].mwh += row->energy_mwh;
    s->l[i].fen += row->fen;
    s->total_mwh += row->energy_mwh;
    s->total_fen += row->fen;
    return 0;
}

/* "YYYY-MM" as the local month's start. 0 or -EINVAL. */
static int month_start(const char *m, int64_t *ret_ms)
{
    if (!m || strlen(m) != 7 || m[4] != '-')
        return -EINVAL;
    char day[16];
    snprintf(day, sizeof(day), "%s-01", m);
    return sitetime_parse_day(day, ret_ms) ? -EINVAL : 0;
}

void api_statement(struct api_call *c)
{
    struct device_rec dev;
    if (api_device_for_caller(c, c->params[0], &dev))
        return;
    int64_t from;
    const char *month = http_query(c->req, "month");
    if (month_start(month, &from)) {
        api_error(c, 400, "month must be YYYY-MM");
        return;
    }
    int64_t to = sitetime_next_month(from);
    struct dynbuf *out = &c->res->body;
    dynbuf_reset(out);
    struct statement s = {.out = out, .day_ms = -1};
    int r = dynbuf_addf(out, "date,period,price,energy_kwh,cost\r\n");
    if (!r)
        r = api_store_result(
            c, store_charges_query(c->store, dev.id, from, to, STATEMENT_MAX_ROWS, add_row, &s));
    if (!r)
        r = flush_day(&s);
    if (!r) {
        char kwh[32], cost[MONEY_TEXT_LEN];
        kwh_text(s.total_mwh, kwh);
        money_format(s.total_fen, cost);
        r = dynbuf_addf(out, "total,,,%s,%s\r\n", kwh, cost);
    }
    if (r) {
        dynbuf_reset(out);
        if (r == -ENOMEM)
            api_error(c, 500, "out of memory");
        else
            api_store_error(c, r);
        return;
    }
    char disposition[160];
    snprintf(disposition, sizeof(disposition), "attachment; filename=\"statement-%s-%s.csv\"",
             dev.device_id, month);
    c->res->status = 200;
    c->res->content_type = "text/csv; charset=utf-8";
    http_response_header(c->res, "Content-Disposition", disposition);
}
