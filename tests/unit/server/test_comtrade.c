/*
 * COMTRADE export: the .cfg follows IEEE C37.111-1999 field by field, and the
 * .dat integers scaled back with the .cfg's a and b give the samples within
 * the quantisation step.
 */
#include <errno.h>
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "comtrade.h"

/* 2026-11-23T18:45:53.355Z */
#define START_MS INT64_C(1795459553355)

#define MAX_LINES  16
#define MAX_FIELDS 16

/*
 * The next CR LF at or after p, or NULL. Not strstr or strchr: with the sanitizers'
 * strict string checks each of those measures the whole rest of the text at every call,
 * which makes a 128,000-line scan quadratic; memchr reads only what it is given.
 */
static char *find_crlf(char *p, const char *end)
{
    for (char *cr = memchr(p, '\r', (size_t)(end - p)); cr;
         cr = memchr(cr + 1, '\r', (size_t)(end - cr - 1)))
        if (cr + 1 < end && cr[1] == '\n')
            return cr;
    return NULL;
}

/* Splits text at CR LF; every line, the last too, must end with CR LF. Returns the line count. */
static size_t split_lines(char *text, char *lines[], size_t max)
{
    size_t n = 0;
    char *p = text;
    const char *end = text + strlen(text);
    while (*p) {
        char *eol = find_crlf(p, end);
        assert_non_null(eol);
        assert_null(memchr(p, '\n', (size_t)(eol - p)));
        *eol = '\0';
        if (n < max)
            lines[n] = p;
        n++;
        p = eol + 2;
    }
    return n;
}

/* Splits a line at commas (empty fields kept). Returns the field count. */
static size_t split_fields(char *line, char *fields[], size_t max)
{
    size_t n = 0;
    for (char *p = line;; n++) {
        char *comma = strchr(p, ',');
        if (n < max)
            fields[n] = p;
        if (!comma)
            return n + 1;
        *comma = '\0';
        p = comma + 1;
    }
}

static double num(const char *s)
{
    char *end;
    double d = strtod(s, &end);
    assert_true(end != s && *end == '\0');
    return d;
}

struct capture {
    float *v, *i;
    size_t n;
};

static struct capture make_capture(size_t n, double rate)
{
    struct capture c = {malloc(n * sizeof(float)), malloc(n * sizeof(float)), n};
    assert_non_null(c.v);
    assert_non_null(c.i);
    for (size_t k = 0; k < n; k++) {
        double t = (double)k / rate;
        c.v[k] = (float)(325.27 * sin(2 * M_PI * 49.73 * t) + 16.3 * sin(2 * M_PI * 149.19 * t));
        c.i[k] = (float)(0.5 + 14.14 * sin(2 * M_PI * 49.73 * t - 0.6435));
    }
    return c;
}

static void free_capture(struct capture *c)
{
    free(c->v);
    free(c->i);
}

static const struct comtrade_meta meta = {
    .station = "meter-01",
    .device = "smartmeter",
    .rate_hz = 6400,
    .nominal_hz = 50,
    .start_ms = START_MS,
    .trigger_ms = START_MS,
};

static void check_channel_line(char *line, const char *index, const char *id, const char *unit,
                               struct comtrade_scale *ret)
{
    char *f[MAX_FIELDS];
    /* An,ch_id,ph,ccbm,uu,a,b,skew,min,max,primary,secondary,PS */
    assert_int_equal(split_fields(line, f, MAX_FIELDS), 13);
    assert_string_equal(f[0], index);
    assert_string_equal(f[1], id);
    assert_string_equal(f[2], "");
    assert_string_equal(f[3], "");
    assert_string_equal(f[4], unit);
    ret->a = num(f[5]);
    ret->b = num(f[6]);
    assert_true(ret->a > 0);
    assert_string_equal(f[7], "0");
    assert_string_equal(f[8], "-99998");
    assert_string_equal(f[9], "99998");
    assert_string_equal(f[10], "1");
    assert_string_equal(f[11], "1");
    assert_string_equal(f[12], "P");
}

static void test_cfg_has_the_1999_fields_in_order(void **state)
{
    (void)state;
    struct capture c = make_capture(1280, 6400);
    struct dynbuf b;
    dynbuf_init(&b, 1 << 16);
    assert_int_equal(comtrade_write_cfg(&meta, c.v, c.i, c.n, &b), 0);
    char *text = strdup(dynbuf_str(&b));
    char *l[MAX_LINES], *f[MAX_FIELDS];
    assert_int_equal(split_lines(text, l, MAX_LINES), 11);

    /* station_name,rec_dev_id,rev_year */
    assert_int_equal(split_fields(l[0], f, MAX_FIELDS), 3);
    assert_string_equal(f[0], "meter-01");
    assert_string_equal(f[1], "smartmeter");
    assert_string_equal(f[2], "1999");
    /* TT,##A,##D */
    assert_string_equal(l[1], "2,2A,0D");
    struct comtrade_scale sv, si;
    check_channel_line(l[2], "1", "V", "V", &sv);
    check_channel_line(l[3], "2", "I", "A", &si);
    /* the channel's range spread over the integers: b its middle, a = half range / 99998 */
    float lo = c.v[0], hi = c.v[0];
    for (size_t k = 0; k < c.n; k++) {
        lo = c.v[k] < lo ? c.v[k] : lo;
        hi = c.v[k] > hi ? c.v[k] : hi;
    }
    assert_true(fabs(sv.b - ((double)hi + lo) / 2) < 1e-6);
    assert_true(fabs(sv.a * 99998 / (((double)hi - lo) / 2) - 1) < 1e-7);
    assert_true(fabs(si.b - 0.5) < 0.01);
    /* lf */
    assert_true(num(l[4]) == 50);
    /* nrates, then samp,endsamp */
    assert_string_equal(l[5], "1");
    assert_int_equal(split_fields(l[6], f, MAX_FIELDS), 2);
    assert_true(num(f[0]) == 6400);
    assert_string_equal(f[1], "1280");
    /* first data point and trigger point: dd/mm/yyyy,hh:mm:ss.ssssss */
    assert_string_equal(l[7], "23/11/2026,18:45:53.355000");
    assert_string_equal(l[8], "23/11/2026,18:45:53.355000");
    /* ft, timemult */
    assert_string_equal(l[9], "ASCII");
    assert_string_equal(l[10], "1.0");
    free(text);
    dynbuf_free(&b);
    free_capture(&c);
}

static void check_dat_scales_back(size_t n, double rate)
{
    struct capture c = make_capture(n, rate);
    struct comtrade_meta m = meta;
    m.rate_hz = rate;
    struct dynbuf cfg, dat;
    dynbuf_init(&cfg, 1 << 16);
    dynbuf_init(&dat, 64u << 20);
    assert_int_equal(comtrade_write_cfg(&m, c.v, c.i, n, &cfg), 0);
    assert_int_equal(comtrade_write_dat(&m, c.v, c.i, n, &dat), 0);

    char *ctext = strdup(dynbuf_str(&cfg));
    char *l[MAX_LINES];
    split_lines(ctext, l, MAX_LINES);
    struct comtrade_scale sv, si;
    check_channel_line(l[2], "1", "V", "V", &sv);
    check_channel_line(l[3], "2", "I", "A", &si);

    char *dtext = strdup(dynbuf_str(&dat));
    const char *end = dtext + strlen(dtext);
    size_t rows = 0;
    double worst_v = 0, worst_i = 0;
    for (char *p = dtext; *p; rows++) {
        char *eol = find_crlf(p, end);
        assert_non_null(eol);
        *eol = '\0';
        char *f[MAX_FIELDS];
        assert_int_equal(split_fields(p, f, MAX_FIELDS), 4);
        assert_true(num(f[0]) == (double)(rows + 1));
        assert_true(fabs(num(f[1]) - (double)rows * 1e6 / rate) <= 0.5);
        double xv = num(f[2]), xi = num(f[3]);
        assert_true(fabs(xv) <= 99998 && fabs(xi) <= 99998);
        assert_true(xv == floor(xv) && xi == floor(xi));
        worst_v = fmax(worst_v, fabs(sv.a * xv + sv.b - c.v[rows]));
        worst_i = fmax(worst_i, fabs(si.a * xi + si.b - c.i[rows]));
        p = eol + 2;
    }
    assert_int_equal(rows, n);
    /* within half a quantisation step (plus float rounding) */
    assert_true(worst_v <= sv.a * 0.5 * (1 + 1e-6));
    assert_true(worst_i <= si.a * 0.5 * (1 + 1e-6));
    /* and the step is fine: 1/199996 of the range */
    if (n > 1) {
        assert_true(sv.a < 0.004);
        assert_true(si.a < 0.0002);
    }
    free(ctext);
    free(dtext);
    dynbuf_free(&cfg);
    dynbuf_free(&dat);
    free_capture(&c);
}

static void test_dat_values_scale_back_to_the_samples(void **state)
{
    (void)state;
    check_dat_scales_back(1, 6400);
    check_dat_scales_back(12800, 6400);
    check_dat_scales_back(128000, 12800); /* 10 s at 12.8 kHz */
    check_dat_scales_back(1000, 7812.5);  /* a rate that is not an integer */
}

static void test_a_constant_channel_still_has_a_usable_scale(void **state)
{
    (void)state;
    float v[3] = {230, 230, 230}, i[3] = {0, 0, 0};
    struct comtrade_scale s;
    comtrade_scale_of(v, 3, &s);
    assert_true(s.a > 0);
    assert_true(s.b == 230);
    comtrade_scale_of(i, 3, &s);
    assert_true(s.a > 0);
    assert_true(s.b == 0);
    struct dynbuf b;
    dynbuf_init(&b, 4096);
    assert_int_equal(comtrade_write_dat(&meta, v, i, 3, &b), 0);
    assert_string_equal(dynbuf_str(&b), "1,0,0,0\r\n2,156,0,0\r\n3,313,0,0\r\n");
    dynbuf_free(&b);
}

static void test_bad_input_is_refused(void **state)
{
    (void)state;
    float v[1] = {1}, i[1] = {2};
    struct dynbuf b;
    dynbuf_init(&b, 4096);
    struct comtrade_meta m = meta;
    assert_int_equal(comtrade_write_cfg(&m, v, i, 0, &b), -EINVAL);
    m.station = "a,b";
    assert_int_equal(comtrade_write_cfg(&m, v, i, 1, &b), -EINVAL);
    m.station = "a\r\nb";
    assert_int_equal(comtrade_write_dat(&m, v, i, 1, &b), -EINVAL);
    m = meta;
    m.rate_hz = 0;
    assert_int_equal(comtrade_write_dat(&m, v, i, 1, &b), -EINVAL);
    assert_int_equal(b.len, 0);
    dynbuf_free(&b);
    dynbuf_init(&b, 16);
    assert_int_equal(comtrade_write_cfg(&meta, v, i, 1, &b), -E2BIG);
    dynbuf_free(&b);
}

/* Six channels: va, vb, vc 120 degrees apart, ia, ib, ic of different sizes. */
static void test_a_six_channel_capture_has_one_analog_channel_each_with_its_phase(void **state)
{
    (void)state;
    enum { N = 256 };
    static const char *const ids[6] = {"VA", "VB", "VC", "IA", "IB", "IC"};
    static const char *const phases[6] = {"a", "b", "c", "a", "b", "c"};
    static const char *const units[6] = {"V", "V", "V", "A", "A", "A"};
    static float x[6][N];
    struct comtrade_channel ch[6];
    for (int k = 0; k < 6; k++) {
        double amp = k < 3 ? 325.27 : 14.14 * (double)(k - 2);
        for (int j = 0; j < N; j++)
            x[k][j] = (float)(amp * sin(2 * M_PI * 50 * j / 6400.0 - 2 * M_PI / 3 * (k % 3)));
        ch[k] = (struct comtrade_channel){ids[k], phases[k], units[k], x[k]};
    }
    struct dynbuf cfg, dat;
    dynbuf_init(&cfg, 1 << 16);
    dynbuf_init(&dat, 1 << 20);
    assert_int_equal(comtrade_write_cfg_channels(&meta, ch, 6, N, &cfg), 0);
    assert_int_equal(comtrade_write_dat_channels(&meta, ch, 6, N, &dat), 0);

    char *text = strdup(dynbuf_str(&cfg));
    char *l[MAX_LINES], *f[MAX_FIELDS];
    assert_int_equal(split_lines(text, l, MAX_LINES), 15);
    assert_string_equal(l[1], "6,6A,0D");
    struct comtrade_scale sc[6];
    for (int k = 0; k < 6; k++) {
        char line[160];
        snprintf(line, sizeof(line), "%s", l[2 + k]);
        assert_int_equal(split_fields(line, f, MAX_FIELDS), 13);
        char index[4];
        snprintf(index, sizeof(index), "%d", k + 1);
        assert_string_equal(f[0], index);
        assert_string_equal(f[1], ids[k]);
        assert_string_equal(f[2], phases[k]);
        assert_string_equal(f[4], units[k]);
        sc[k].a = num(f[5]);
        sc[k].b = num(f[6]);
    }
    assert_string_equal(l[8], "50");
    assert_string_equal(l[10], "6400,256");

    char *d = strdup(dynbuf_str(&dat));
    char *rows[N + 1];
    memset(rows, 0, sizeof(rows));
    const char *end = d + strlen(d);
    size_t n = 0;
    for (char *p = d; *p; n++) {
        char *eol = find_crlf(p, end);
        assert_non_null(eol);
        *eol = '\0';
        assert_int_equal(split_fields(p, f, MAX_FIELDS), 8);
        for (int k = 0; k < 6; k++)
            assert_true(fabs(sc[k].a * num(f[2 + k]) + sc[k].b - x[k][n]) <= sc[k].a * 0.5001);
        p = eol + 2;
    }
    assert_int_equal(n, N);
    free(d);
    free(text);
    dynbuf_free(&cfg);
    dynbuf_free(&dat);

    /* No channel, too many, or a comma in a phase: refused. */
    dynbuf_init(&cfg, 1 << 16);
    assert_int_equal(comtrade_write_cfg_channels(&meta, ch, 0, N, &cfg), -EINVAL);
    assert_int_equal(comtrade_write_cfg_channels(&meta, ch, COMTRADE_CHANNELS_MAX + 1, N, &cfg),
                     -EINVAL);
    ch[2].phase = "a,b";
    assert_int_equal(comtrade_write_dat_channels(&meta, ch, 6, N, &cfg), -EINVAL);
    dynbuf_free(&cfg);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_a_six_channel_capture_has_one_analog_channel_each_with_its_phase),
        cmocka_unit_test(test_cfg_has_the_1999_fields_in_order),
        cmocka_unit_test(test_dat_values_scale_back_to_the_samples),
        cmocka_unit_test(test_a_constant_channel_still_has_a_usable_scale),
        cmocka_unit_test(test_bad_input_is_refused),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
