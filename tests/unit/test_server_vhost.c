/* Port reuse on bindPort (protocol.md 1.2): how the first 10 bytes of a connection pick
 * websocket, vhost HTTPS, vhost HTTP or frp (plain or TLS), with and without the vhost
 * ports shared, and the TLS sniff that follows for frp connections. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "server/svr_internal.h"

static enum svr_conn_class classify(const char *p, size_t n, bool https, bool http)
{
    uint8_t b[SVR_CLASSIFY_LEN] = {0};
    memcpy(b, p, n < sizeof b ? n : sizeof b);
    return svr_classify(b, https, http);
}

static void test_websocket_first(void **state)
{
    assert_int_equal(classify("GET /~!frp", 10, true, true), SVR_CLASS_WEBSOCKET);
    assert_int_equal(classify("GET /~!frp", 10, false, false), SVR_CLASS_WEBSOCKET);
    /* one byte off: an ordinary GET */
    assert_int_equal(classify("GET /~!frq", 10, true, true), SVR_CLASS_VHOST_HTTP);
}

static void test_vhost_https_only_when_shared(void **state)
{
    const char hello[10] = {0x16, 0x03, 0x01, 0x02, 0x00, 0x01, 0x00, 0x01, 0xfc, 0x03};
    assert_int_equal(classify(hello, 10, true, true), SVR_CLASS_VHOST_HTTPS);
    assert_int_equal(classify(hello, 10, true, false), SVR_CLASS_VHOST_HTTPS);
    assert_int_equal(classify(hello, 10, false, true), SVR_CLASS_FRP);
    /* frp over TLS with the custom first byte stays frp even when https is shared */
    const char custom[10] = {0x17, 0x16, 0x03, 0x01, 0x02, 0x00, 0x01, 0x00, 0x01, 0xfc};
    assert_int_equal(classify(custom, 10, true, true), SVR_CLASS_FRP);
    assert_int_equal(svr_tls_sniff(0x17, false), SVR_SNIFF_TLS_CUSTOM);
    assert_int_equal(svr_tls_sniff(0x16, false), SVR_SNIFF_TLS);
}

static void test_vhost_http_methods(void **state)
{
    static const char *const yes[] = {"GET / HTTP", "HEAD / HTT", "POST / HTT", "PUT / HTTP",
                                      "DELETE / H", "CONNECT a:", "OPTIONS * ", "TRACE / HT",
                                      "PATCH / HT"};
    for (size_t i = 0; i < sizeof yes / sizeof yes[0]; i++) {
        assert_int_equal(classify(yes[i], 10, false, true), SVR_CLASS_VHOST_HTTP);
        assert_int_equal(classify(yes[i], 10, false, false), SVR_CLASS_FRP);
    }
    /* HTTP/2 prior knowledge and lower-case methods are not sniffed */
    assert_int_equal(classify("PRI * HTTP", 10, true, true), SVR_CLASS_FRP);
    assert_int_equal(classify("get / http", 10, true, true), SVR_CLASS_FRP);
}

static void test_plain_frp(void **state)
{
    /* a yamux window update / a Login frame */
    const char yamux[10] = {0x00, 0x01, 0x00, 0x01, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00};
    assert_int_equal(classify(yamux, 10, true, true), SVR_CLASS_FRP);
    assert_int_equal(classify("o\0\0\0\0\0\0\0\x40{", 10, true, true), SVR_CLASS_FRP);
    assert_int_equal(svr_tls_sniff(0x00, false), SVR_SNIFF_PLAIN);
    assert_int_equal(svr_tls_sniff(0x00, true), SVR_SNIFF_REFUSE);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_websocket_first),
        cmocka_unit_test(test_vhost_https_only_when_shared),
        cmocka_unit_test(test_vhost_http_methods),
        cmocka_unit_test(test_plain_frp),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
