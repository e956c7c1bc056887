/* Unit tests of the PROXY protocol builder against vectors/proxy-protocol.txt. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "base/err.h"
#include "proto/proxy_protocol.h"
#include "test_proto_vectors.h"

static char *pp_txt;

static int setup(void **state)
{
    pp_txt = tv_read("proxy-protocol.txt");
    return pp_txt ? 0 : -1;
}

static int teardown(void **state)
{
    free(pp_txt);
    return 0;
}

static void check(int version, const char *src, uint16_t sport, const char *dst, uint16_t dport,
                  const unsigned char *want, size_t wn)
{
    char out[PROXY_PROTOCOL_MAX];
    size_t len = 0;
    assert_int_equal(proxy_protocol_build(version, src, sport, dst, dport, out, sizeof(out), &len), 0);
    assert_int_equal(len, wn);
    assert_memory_equal(out, want, len);
}

/* Every vector: the hex ones found by their titles, the quoted v1 lines by text. */
static void test_vectors_from_file(void **state)
{
    static const struct {
        const char *title;
        int version;
        const char *src, *dst;
        uint16_t sport, dport;
    } cases[] = {
        {"## v2, IPv4 [go]", 2, "203.0.113.7", "198.51.100.1", 51234, 6000},
        {"## v2, IPv6 [go]", 2, "2001:db8::7", "2001:db8::1", 51234, 6000},
        {"## v2 observed [cap]", 2, "127.0.0.1", "127.0.0.1", 54368, 16000},
        {"## TCP6 chosen", 2, "2001:db8::7", NULL, 1, 0},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        const char *pos = strstr(pp_txt, cases[i].title);
        assert_non_null(pos);
        const char *line = strstr(pos, "0d0a0d0a");
        assert_non_null(line);
        unsigned char want[PROXY_PROTOCOL_MAX];
        long n = tv_hex(line, want, sizeof(want));
        assert_true(n >= 28);
        check(cases[i].version, cases[i].src, cases[i].sport, cases[i].dst, cases[i].dport, want,
              (size_t)n);
    }
    /* The quoted v1 lines. */
    static const struct {
        const char *text;
        const char *src, *dst;
        uint16_t sport, dport;
    } v1[] = {
        {"PROXY TCP4 203.0.113.7 198.51.100.1 51234 6000", "203.0.113.7", "198.51.100.1", 51234, 6000},
        {"PROXY TCP6 2001:db8::7 2001:db8::1 51234 6000", "2001:db8::7", "2001:db8::1", 51234, 6000},
        {"PROXY TCP6 2001:db8::7 127.0.0.1 1 0", "2001:db8::7", "", 1, 0},
    };
    for (size_t i = 0; i < sizeof(v1) / sizeof(v1[0]); i++) {
        char quoted[128];
        snprintf(quoted, sizeof(quoted), "\"%s\\r\\n\"", v1[i].text);
        assert_non_null(strstr(pp_txt, quoted));
        char want[128];
        int n = snprintf(want, sizeof(want), "%s\r\n", v1[i].text);
        check(1, v1[i].src, v1[i].sport, v1[i].dst, v1[i].dport, (const unsigned char *)want,
              (size_t)n);
    }
}

static void test_family_rules(void **state)
{
    char out[PROXY_PROTOCOL_MAX];
    size_t len;
    /* IPv4 source with IPv6 destination: "proxyproto: invalid address". */
    assert_int_equal(proxy_protocol_build(1, "203.0.113.7", 1, "2001:db8::1", 2, out, sizeof(out), &len),
                     CFRP_EINVAL);
    assert_int_equal(proxy_protocol_build(2, "203.0.113.7", 1, "2001:db8::1", 2, out, sizeof(out), &len),
                     CFRP_EINVAL);
    /* An IPv4-mapped source contains a '.', so it is TCP4. */
    assert_int_equal(proxy_protocol_build(1, "::ffff:10.0.0.1", 1, "10.0.0.2", 2, out, sizeof(out), &len), 0);
    assert_memory_equal(out, "PROXY TCP4 10.0.0.1 10.0.0.2 1 2\r\n", len);
    /* Link-local source with a zone: the zone is dropped. */
    assert_int_equal(proxy_protocol_build(1, "fe80::1%eth0", 1, "fe80::2", 2, out, sizeof(out), &len), 0);
    assert_memory_equal(out, "PROXY TCP6 fe80::1 fe80::2 1 2\r\n", len);
    /* Not addresses, bad version, small buffer. */
    assert_int_equal(proxy_protocol_build(1, "example.com", 1, NULL, 0, out, sizeof(out), &len), CFRP_EINVAL);
    assert_int_equal(proxy_protocol_build(1, "1.2.3.4", 1, "1.2.3", 0, out, sizeof(out), &len), CFRP_EINVAL);
    assert_int_equal(proxy_protocol_build(1, NULL, 1, NULL, 0, out, sizeof(out), &len), CFRP_EINVAL);
    assert_int_equal(proxy_protocol_build(3, "1.2.3.4", 1, NULL, 0, out, sizeof(out), &len), CFRP_EINVAL);
    assert_int_equal(proxy_protocol_build(2, "1.2.3.4", 1, NULL, 0, out, 27, &len), CFRP_ETOOBIG);
    assert_int_equal(proxy_protocol_build(1, "1.2.3.4", 1, NULL, 0, out, 10, &len), CFRP_ETOOBIG);
    /* The longest v1 header fits PROXY_PROTOCOL_MAX. */
    assert_int_equal(proxy_protocol_build(1, "ffff:ffff:ffff:ffff:ffff:ffff:ffff:fffe", 65535,
                                          "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff", 65535, out,
                                          sizeof(out), &len),
                     0);
    assert_int_equal(len, 104);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_vectors_from_file),
        cmocka_unit_test(test_family_rules),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
