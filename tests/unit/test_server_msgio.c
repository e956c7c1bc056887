/* Unit tests for frps's address texts in StartWorkConn (protocol.md 6.9): Go's IP form,
 * IPv4-mapped shown dotted, and the zone of a link-local IPv6 peer kept by name or,
 * for an index without an interface, by number. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <arpa/inet.h>
#include <net/if.h>

#include <cmocka.h>

#include "server/svr_internal.h"

static void v6(const char *text, uint32_t scope, uint16_t port, char ip[64], uint16_t *out_port)
{
    struct sockaddr_in6 sa;
    memset(&sa, 0, sizeof sa);
    sa.sin6_family = AF_INET6;
    assert_int_equal(inet_pton(AF_INET6, text, &sa.sin6_addr), 1);
    sa.sin6_scope_id = scope;
    sa.sin6_port = htons(port);
    memset(ip, 'x', 64);
    svr_sockaddr_ip((const struct sockaddr *)&sa, ip, out_port);
}

static void test_ipv4_and_plain_v6(void **state)
{
    struct sockaddr_in in;
    memset(&in, 0, sizeof in);
    in.sin_family = AF_INET;
    in.sin_port = htons(7000);
    assert_int_equal(inet_pton(AF_INET, "203.0.113.7", &in.sin_addr), 1);
    char ip[64];
    uint16_t port = 0;
    svr_sockaddr_ip((const struct sockaddr *)&in, ip, &port);
    assert_string_equal(ip, "203.0.113.7");
    assert_int_equal(port, 7000);
    v6("::1", 0, 80, ip, &port);
    assert_string_equal(ip, "::1");
    assert_int_equal(port, 80);
    v6("::ffff:10.0.0.1", 0, 1, ip, &port);
    assert_string_equal(ip, "10.0.0.1");
    v6("fe80::1", 0, 1, ip, &port); /* no scope: no zone */
    assert_string_equal(ip, "fe80::1");
    struct sockaddr un = {.sa_family = AF_UNIX};
    svr_sockaddr_ip(&un, ip, &port);
    assert_string_equal(ip, "");
    assert_int_equal(port, 0);
}

static void test_link_local_zone(void **state)
{
    char ip[64];
    uint16_t port = 0;
    unsigned lo = if_nametoindex("lo");
    assert_true(lo != 0);
    v6("fe80::1", lo, 443, ip, &port);
    assert_string_equal(ip, "fe80::1%lo");
    assert_int_equal(port, 443);
    /* an index with no interface behind it is written as its number */
    char name[IF_NAMESIZE];
    uint32_t none = 4000000000u;
    assert_null(if_indextoname(none, name));
    v6("fe80::1", none, 443, ip, &port);
    assert_string_equal(ip, "fe80::1%4000000000");
    /* the longest address with the longest number still fits */
    v6("fe80:1111:2222:3333:4444:5555:6666:7777", 0xffffffffu, 1, ip, &port);
    assert_string_equal(ip, "fe80:1111:2222:3333:4444:5555:6666:7777%4294967295");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_ipv4_and_plain_v6),
        cmocka_unit_test(test_link_local_zone),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
