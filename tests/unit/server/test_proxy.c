#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "proxy.h"

/* One request: the trusted list, the TCP peer, its X-Forwarded-For headers, the client. */
static const struct {
    const char *list;
    const char *peer;
    const char *xff[3]; /* NULL-terminated */
    const char *client;
    bool from_header;
} cases[] = {
    /* No list, or a peer not in it: the peer, whatever the header says. */
    {NULL, "203.0.113.9", {"198.51.100.1", NULL}, "203.0.113.9", false},
    {"", "203.0.113.9", {"198.51.100.1", NULL}, "203.0.113.9", false},
    {"127.0.0.1", "127.0.0.2", {"198.51.100.1", NULL}, "127.0.0.2", false},
    {"10.0.0.0/8", "11.0.0.1", {"198.51.100.1", NULL}, "11.0.0.1", false},
    /* A trusted peer without the header, or with an unusable last entry: the peer. */
    {"127.0.0.1", "127.0.0.1", {NULL}, "127.0.0.1", false},
    {"127.0.0.1", "127.0.0.1", {"", NULL}, "127.0.0.1", false},
    {"127.0.0.1", "127.0.0.1", {"unknown", NULL}, "127.0.0.1", false},
    {"127.0.0.1", "127.0.0.1", {"198.51.100.1, evil", NULL}, "127.0.0.1", false},
    {"127.0.0.1", "127.0.0.1", {"198.51.100.1,", NULL}, "127.0.0.1", false},
    /* The rightmost untrusted entry; what the client wrote left of it is ignored. */
    {"127.0.0.1", "127.0.0.1", {"198.51.100.1", NULL}, "198.51.100.1", true},
    {"127.0.0.1", "127.0.0.1", {"1.2.3.4, 198.51.100.1", NULL}, "198.51.100.1", true},
    {"127.0.0.1", "127.0.0.1", {"garbage, 198.51.100.1", NULL}, "198.51.100.1", true},
    {"127.0.0.1", "127.0.0.1", {" \t198.51.100.1 \t", NULL}, "198.51.100.1", true},
    /* Trusted hops are skipped, from the right, across repeated headers. */
    {"127.0.0.1 10.0.0.0/8", "127.0.0.1", {"198.51.100.1, 10.1.2.3", NULL}, "198.51.100.1", true},
    {"127.0.0.1,10.0.0.0/8",
     "127.0.0.1",
     {"1.1.1.1, 198.51.100.1", "10.9.9.9", NULL},
     "198.51.100.1",
     true},
    {"127.0.0.1", "127.0.0.1", {"198.51.100.1", "198.51.100.2", NULL}, "198.51.100.2", true},
    /* Every entry trusted: the leftmost. An unusable entry stops at the trusted hop right of it. */
    {"10.0.0.0/8, 127.0.0.1", "127.0.0.1", {"10.0.0.7, 10.0.0.8", NULL}, "10.0.0.7", true},
    {"10.0.0.0/8, 127.0.0.1", "127.0.0.1", {"junk, 10.0.0.8", NULL}, "10.0.0.8", true},
    /* Ports and brackets as some proxies write them. */
    {"127.0.0.1", "127.0.0.1", {"198.51.100.1:4711", NULL}, "198.51.100.1", true},
    {"127.0.0.1", "127.0.0.1", {"[2001:db8::1]:443", NULL}, "2001:db8::1", true},
    {"127.0.0.1", "127.0.0.1", {"[2001:db8::1]", NULL}, "2001:db8::1", true},
    {"127.0.0.1", "127.0.0.1", {"2001:DB8:0:0::1", NULL}, "2001:db8::1", true},
    {"127.0.0.1", "127.0.0.1", {"198.51.100.1:", NULL}, "127.0.0.1", false},
    {"127.0.0.1", "127.0.0.1", {"198.51.100.1:123456", NULL}, "127.0.0.1", false},
    {"127.0.0.1", "127.0.0.1", {"[2001:db8::1", NULL}, "127.0.0.1", false},
    {"127.0.0.1", "127.0.0.1", {"[2001:db8::1]x", NULL}, "127.0.0.1", false},
    {"127.0.0.1", "127.0.0.1", {"198.51.100", NULL}, "127.0.0.1", false},
    /* IPv6 peers and blocks; an IPv4-mapped peer or entry is its IPv4 address. */
    {"::1", "::1", {"198.51.100.1", NULL}, "198.51.100.1", true},
    {"fd00::/8", "fd12:3456::1", {"2001:db8::7", NULL}, "2001:db8::7", true},
    {"fd00::/8", "fe80::1", {"2001:db8::7", NULL}, "fe80::1", false},
    {"127.0.0.1", "::ffff:127.0.0.1", {"::ffff:198.51.100.1", NULL}, "198.51.100.1", true},
    {"127.0.0.0/8", "127.9.9.9", {"198.51.100.1", NULL}, "198.51.100.1", true},
    /* Prefixes that end inside a byte, host bits set in the block. */
    {"192.168.4.0/22", "192.168.7.255", {"198.51.100.1", NULL}, "198.51.100.1", true},
    {"192.168.4.0/22", "192.168.8.0", {"198.51.100.1", NULL}, "192.168.8.0", false},
    {"192.168.5.77/22", "192.168.4.1", {"198.51.100.1", NULL}, "198.51.100.1", true},
    {"0.0.0.0/0", "8.8.8.8", {"198.51.100.1", NULL}, "198.51.100.1", true},
};

static void test_client_is_the_rightmost_untrusted_forwarded_address(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        struct proxy_list *l = NULL;
        char err[256], out[PROXY_ADDR_MAX];
        if (proxy_list_parse(cases[i].list, &l, err, sizeof(err)))
            fail_msg("case %zu: %s", i, err);
        size_t n = 0;
        while (cases[i].xff[n])
            n++;
        bool from = proxy_client_address(l, cases[i].peer, cases[i].xff, n, out);
        if (strcmp(out, cases[i].client) != 0 || from != cases[i].from_header)
            fail_msg("case %zu (peer %s, first header %s): client %s (%s), expected %s (%s)", i,
                     cases[i].peer, cases[i].xff[0] ? cases[i].xff[0] : "none", out,
                     from ? "header" : "peer", cases[i].client,
                     cases[i].from_header ? "header" : "peer");
        proxy_list_free(l);
    }
}

static void test_hops_past_the_limit_are_not_trusted(void **state)
{
    (void)state;
    struct proxy_list *l;
    char err[256], out[PROXY_ADDR_MAX], header[1024] = "198.51.100.1";
    assert_int_equal(proxy_list_parse("10.0.0.0/8 127.0.0.1", &l, err, sizeof(err)), 0);
    for (int i = 0; i < PROXY_HOPS_MAX - 1; i++)
        strcat(header, ", 10.0.0.1");
    const char *xff[] = {header};
    assert_true(proxy_client_address(l, "127.0.0.1", xff, 1, out));
    assert_string_equal(out, "198.51.100.1"); /* exactly PROXY_HOPS_MAX entries */
    strcat(header, ", 10.0.0.2");
    assert_true(proxy_client_address(l, "127.0.0.1", xff, 1, out));
    assert_string_equal(out, "10.0.0.1"); /* one more: the scan stops at the last trusted hop */
    proxy_list_free(l);
}

static void test_bad_lists_are_refused_with_the_entry_named(void **state)
{
    (void)state;
    static const char *const bad[] = {
        "localhost",
        "10.0.0.0/33",
        "::/129",
        "10.0.0.0/",
        "10.0.0.0/8x",
        "10.0.0.0/0008",
        "::ffff:10.0.0.1",
        "1.2.3",
        "127.0.0.1/-1",
        "fe80::1%eth0",
        "127.0.0.1, nonsense",
        "/8",
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        struct proxy_list *l = (struct proxy_list *)&l; /* must come back NULL */
        char err[256] = "";
        if (proxy_list_parse(bad[i], &l, err, sizeof(err)) != -EINVAL)
            fail_msg("'%s' was accepted", bad[i]);
        assert_null(l);
        if (!strstr(err, "trusted_proxies: '"))
            fail_msg("'%s': message '%s' names no entry", bad[i], err);
    }
    char many[PROXY_LIST_MAX * 12 + 16] = "";
    for (int i = 0; i <= PROXY_LIST_MAX; i++)
        snprintf(many + strlen(many), sizeof(many) - strlen(many), "10.0.%d.1 ", i);
    struct proxy_list *l;
    char err[256];
    assert_int_equal(proxy_list_parse(many, &l, err, sizeof(err)), -EINVAL);
    assert_non_null(strstr(err, "more than"));
}

static void test_an_empty_list_trusts_nobody(void **state)
{
    (void)state;
    struct proxy_list *l = (struct proxy_list *)&l;
    char err[256];
    assert_int_equal(proxy_list_parse(" , \t", &l, err, sizeof(err)), 0);
    assert_null(l);
    assert_int_equal(proxy_list_parse(NULL, &l, err, sizeof(err)), 0);
    assert_null(l);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_client_is_the_rightmost_untrusted_forwarded_address),
        cmocka_unit_test(test_hops_past_the_limit_are_not_trusted),
        cmocka_unit_test(test_bad_lists_are_refused_with_the_entry_named),
        cmocka_unit_test(test_an_empty_list_trusts_nobody),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
