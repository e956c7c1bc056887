/* Unit tests of the UDPPacket helpers: base64 as Go encodes/decodes it, building a
 * packet from a socket address (matching vectors/messages.txt) and back. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <cmocka.h>

#include "base/err.h"
#include "proto/msg.h"
#include "proto/udp_packet.h"

static void test_base64(void **state)
{
    static const struct {
        const char *plain, *b64;
    } v[] = {{"", ""}, {"f", "Zg=="}, {"fo", "Zm8="}, {"foo", "Zm9v"}, {"hello", "aGVsbG8="},
             {"PING DNS", "UElORyBETlM="}, {"\xff\xfe\x00", "//4A"}};
    for (size_t i = 0; i < sizeof(v) / sizeof(v[0]); i++) {
        size_t n = strlen(v[i].plain) + (i == 6);
        char enc[32], dec[32];
        size_t len = 99;
        assert_int_equal(udp_base64_len(n), strlen(v[i].b64));
        udp_base64_encode(v[i].plain, n, enc);
        assert_string_equal(enc, v[i].b64);
        assert_int_equal(udp_base64_decode(v[i].b64, dec, sizeof(dec), &len), 0);
        assert_int_equal(len, n);
        assert_memory_equal(dec, v[i].plain, n);
    }
    char out[16];
    size_t len;
    /* CR/LF are skipped, as in Go. */
    assert_int_equal(udp_base64_decode("aGVs\r\nbG8=\n", out, sizeof(out), &len), 0);
    assert_int_equal(len, 5);
    /* Missing padding, bad characters, data after padding, misplaced '='. */
    assert_int_equal(udp_base64_decode("aGVsbG8", out, sizeof(out), &len), CFRP_EPROTO);
    assert_int_equal(udp_base64_decode("aGVs*G8=", out, sizeof(out), &len), CFRP_EPROTO);
    assert_int_equal(udp_base64_decode("Zg==Zg==", out, sizeof(out), &len), CFRP_EPROTO);
    assert_int_equal(udp_base64_decode("Z===", out, sizeof(out), &len), CFRP_EPROTO);
    assert_int_equal(udp_base64_decode("Zg=a", out, sizeof(out), &len), CFRP_EPROTO);
    assert_int_equal(udp_base64_decode("aGVsbG8=", out, 4, &len), CFRP_ETOOBIG);
    assert_int_equal(udp_base64_decode(NULL, out, sizeof(out), &len), 0);
    assert_int_equal(len, 0);
}

static void check_body(const msg *m, const char *json)
{
    char body[256];
    size_t len;
    assert_int_equal(msg_encode_body(m, body, sizeof(body), &len), 0);
    assert_int_equal(len, strlen(json));
    assert_memory_equal(body, json, len);
}

static void test_build_and_back(void **state)
{
    struct sockaddr_in in = {.sin_family = AF_INET, .sin_port = htons(40000)};
    inet_pton(AF_INET, "203.0.113.7", &in.sin_addr);
    msg m;
    assert_int_equal(udp_packet_build(&m, "hello", 5, (struct sockaddr *)&in), 0);
    check_body(&m, "{\"c\":\"aGVsbG8=\",\"r\":{\"IP\":\"203.0.113.7\",\"Port\":40000,\"Zone\":\"\"}}");
    struct sockaddr_storage ss;
    assert_int_equal(udp_packet_sockaddr(&m.u.udp_packet.raddr, &ss), 0);
    assert_int_equal(ss.ss_family, AF_INET);
    assert_memory_equal(&((struct sockaddr_in *)&ss)->sin_addr, &in.sin_addr, 4);
    assert_int_equal(((struct sockaddr_in *)&ss)->sin_port, htons(40000));
    char text[72];
    assert_int_equal(udp_packet_addr_text(&m.u.udp_packet.raddr, text, sizeof(text)), 0);
    assert_string_equal(text, "203.0.113.7:40000");
    char data[16];
    size_t len;
    assert_int_equal(udp_base64_decode(m.u.udp_packet.content, data, sizeof(data), &len), 0);
    assert_memory_equal(data, "hello", 5);
    msg_clear(&m);

    struct sockaddr_in6 in6 = {.sin6_family = AF_INET6, .sin6_port = htons(40000)};
    inet_pton(AF_INET6, "2001:db8::1", &in6.sin6_addr);
    assert_int_equal(udp_packet_build(&m, "hello", 5, (struct sockaddr *)&in6), 0);
    check_body(&m, "{\"c\":\"aGVsbG8=\",\"r\":{\"IP\":\"2001:db8::1\",\"Port\":40000,\"Zone\":\"\"}}");
    assert_int_equal(udp_packet_addr_text(&m.u.udp_packet.raddr, text, sizeof(text)), 0);
    assert_string_equal(text, "[2001:db8::1]:40000");
    assert_int_equal(udp_packet_sockaddr(&m.u.udp_packet.raddr, &ss), 0);
    assert_int_equal(ss.ss_family, AF_INET6);
    msg_clear(&m);

    /* A link-local peer keeps its zone (numeric when the index has no name). */
    inet_pton(AF_INET6, "fe80::1", &in6.sin6_addr);
    in6.sin6_scope_id = 1; /* "lo" on Linux */
    assert_int_equal(udp_packet_build(&m, "", 0, (struct sockaddr *)&in6), 0);
    assert_string_equal(m.u.udp_packet.content, "");
    assert_string_equal(m.u.udp_packet.raddr.zone, "lo");
    assert_int_equal(udp_packet_sockaddr(&m.u.udp_packet.raddr, &ss), 0);
    assert_int_equal(((struct sockaddr_in6 *)&ss)->sin6_scope_id, 1);
    assert_int_equal(udp_packet_addr_text(&m.u.udp_packet.raddr, text, sizeof(text)), 0);
    assert_string_equal(text, "[fe80::1%lo]:40000");
    msg_clear(&m);

    struct sockaddr sa = {.sa_family = AF_UNIX};
    assert_int_equal(udp_packet_build(&m, "", 0, &sa), CFRP_EINVAL);
}

static void test_sockaddr_rejects(void **state)
{
    struct sockaddr_storage ss;
    char text[72];
    msg_udp_addr a = {false, "1.2.3.4", 1, NULL};
    assert_int_equal(udp_packet_sockaddr(&a, &ss), CFRP_EINVAL); /* absent */
    a.present = true;
    assert_int_equal(udp_packet_sockaddr(&a, &ss), 0);
    a.port = 65536;
    assert_int_equal(udp_packet_sockaddr(&a, &ss), CFRP_EINVAL);
    a.port = -1;
    assert_int_equal(udp_packet_sockaddr(&a, &ss), CFRP_EINVAL);
    a = (msg_udp_addr){true, NULL, 1, NULL};
    assert_int_equal(udp_packet_sockaddr(&a, &ss), CFRP_EINVAL);
    assert_int_equal(udp_packet_addr_text(&a, text, sizeof(text)), CFRP_EINVAL);
    a = (msg_udp_addr){true, "fe80::1", 1, "no-such-interface-x"};
    assert_int_equal(udp_packet_sockaddr(&a, &ss), CFRP_EINVAL);
    a = (msg_udp_addr){true, "1.2.3.4", 1, NULL};
    assert_int_equal(udp_packet_addr_text(&a, text, 5), CFRP_EINVAL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_base64),
        cmocka_unit_test(test_build_and_back),
        cmocka_unit_test(test_sockaddr_rejects),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
