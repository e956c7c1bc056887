/* Unit tests of the frp message codec and frame decoders: every frame of
 * vectors/messages.txt decodes and re-encodes byte for byte, hand-built messages encode
 * like Go, Go's JSON decoding rules, and malformed frames are rejected cleanly. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "base/err.h"
#include "proto/frame.h"
#include "proto/msg.h"
#include "test_proto_vectors.h"

/* Encodes m as a frame and checks it equals the given hex. */
static void expect_frame_hex(const msg *m, const char *hex)
{
    unsigned char want[MSG_FRAME_MAX];
    char got[MSG_FRAME_MAX];
    size_t len = 0;
    long wn = tv_hex(hex, want, sizeof(want));
    assert_true(wn > 0);
    assert_int_equal(msg_frame_encode(m, got, sizeof(got), &len), 0);
    assert_int_equal(len, (size_t)wn);
    assert_memory_equal(got, want, len);
}

/* Encodes m's body and checks it equals the JSON text. */
static void expect_body(const msg *m, const char *json)
{
    char got[MSG_MAX_BODY];
    size_t len = 0;
    assert_int_equal(msg_encode_body(m, got, sizeof(got), &len), 0);
    assert_int_equal(len, strlen(json));
    assert_memory_equal(got, json, len);
}

/* Decodes body text as type t, expecting success. */
static void decode_ok(enum msg_type t, const char *json, msg *m)
{
    char err[256] = "";
    int rc = msg_decode_body(t, json, strlen(json), m, err, sizeof(err));
    if (rc != 0)
        fail_msg("decode of %s failed: %s", json, err);
}

static void decode_fails(enum msg_type t, const char *json)
{
    char err[256] = "";
    msg m;
    assert_int_equal(msg_decode_body(t, json, strlen(json), &m, err, sizeof(err)),
                     CFRP_EPROTO);
    assert_true(err[0] != '\0');
}

/* Every vector: parse the frame, compare with the json line, re-encode identically. */
static void test_vectors_roundtrip(void **state)
{
    char *text = tv_read("messages.txt");
    assert_non_null(text);
    const char *pos = NULL;
    int count = 0;
    const char *hex;
    while ((hex = tv_find_line(text, &pos, "hex: ")) != NULL) {
        unsigned char frame[MSG_FRAME_MAX];
        long n = tv_hex(hex, frame, sizeof(frame));
        assert_true(n > MSG_FRAME_HDR);
        const char *json = tv_find_line(text, &pos, "json: ");
        assert_non_null(json);
        size_t jlen = strcspn(json, "\n");
        assert_int_equal((size_t)n - MSG_FRAME_HDR, jlen);
        assert_memory_equal(frame + MSG_FRAME_HDR, json, jlen);

        msg m;
        size_t flen = 0;
        char err[256] = "";
        int rc = msg_frame_parse(frame, (size_t)n, &flen, &m, err, sizeof(err));
        if (rc != 1)
            fail_msg("vector %d: %s", count, err);
        assert_int_equal(flen, (size_t)n);
        assert_int_equal(m.type, frame[0]);

        char out[MSG_FRAME_MAX];
        size_t olen = 0;
        assert_int_equal(msg_frame_encode(&m, out, sizeof(out), &olen), 0);
        assert_int_equal(olen, (size_t)n);
        assert_memory_equal(out, frame, olen);

        /* Every strict prefix is "need more", never an error or a message. */
        for (size_t cut = 0; cut < (size_t)n; cut++) {
            msg p;
            assert_int_equal(msg_frame_parse(frame, cut, &flen, &p, err, sizeof(err)), 0);
        }
        msg_clear(&m);
        count++;
    }
    assert_int_equal(count, 33);
    free(text);
}

static void test_login_fields(void **state)
{
    char *text = tv_read("messages.txt");
    assert_non_null(text);
    const char *pos = strstr(text, "## Login (reconnect");
    assert_non_null(pos);
    const char *hex = tv_find_line(text, &pos, "hex: ");
    unsigned char frame[MSG_FRAME_MAX];
    long n = tv_hex(hex, frame, sizeof(frame));
    msg m;
    size_t flen;
    assert_int_equal(msg_frame_parse(frame, (size_t)n, &flen, &m, NULL, 0), 1);
    assert_int_equal(m.type, MSG_LOGIN);
    const msg_login *l = &m.u.login;
    assert_string_equal(l->version, "0.61.1");
    assert_string_equal(l->os, "linux");
    assert_string_equal(l->arch, "amd64");
    assert_string_equal(l->user, "alice");
    assert_string_equal(l->privilege_key, "3d8aac6cc09d79da303be74c311e5808");
    assert_int_equal(l->timestamp, 1700000000);
    assert_string_equal(l->run_id, "0123456789abcdef");
    assert_int_equal(l->metas.n, 2);
    assert_int_equal(l->pool_count, 5);
    assert_null(l->hostname);
    msg_clear(&m);
    assert_null(m.u.login.version);
    free(text);
}

static void test_nat_hole_resp_fields(void **state)
{
    msg m;
    decode_ok(MSG_NAT_HOLE_RESP,
              "{\"transaction_id\":\"t\",\"sid\":\"s\",\"protocol\":\"kcp\","
              "\"candidate_addrs\":[\"203.0.113.5:41000\"],\"detect_behavior\":{\"role\":"
              "\"receiver\",\"mode\":1,\"ttl\":7,\"read_timeout\":5000,\"candidate_ports\":"
              "[{\"from\":40990,\"to\":41010},null,{}]}}",
              &m);
    const msg_nat_hole_resp *r = &m.u.nat_hole_resp;
    assert_string_equal(r->detect_behavior.role, "receiver");
    assert_int_equal(r->detect_behavior.mode, 1);
    assert_int_equal(r->detect_behavior.read_timeout_ms, 5000);
    assert_int_equal(r->detect_behavior.candidate_ports.n, 3);
    assert_int_equal(r->detect_behavior.candidate_ports.v[0].from, 40990);
    assert_int_equal(r->detect_behavior.candidate_ports.v[0].to, 41010);
    assert_int_equal(r->detect_behavior.candidate_ports.v[1].from, 0);
    assert_int_equal(r->candidate_addrs.n, 1);
    assert_string_equal(r->candidate_addrs.v[0], "203.0.113.5:41000");
    /* Empty port ranges print as {} (omitempty inside PortsRange). */
    expect_body(&m, "{\"transaction_id\":\"t\",\"sid\":\"s\",\"protocol\":\"kcp\","
                    "\"candidate_addrs\":[\"203.0.113.5:41000\"],\"detect_behavior\":{"
                    "\"role\":\"receiver\",\"mode\":1,\"ttl\":7,\"read_timeout\":5000,"
                    "\"candidate_ports\":[{\"from\":40990,\"to\":41010},{},{}]}}");
    msg_clear(&m);
}

/* Messages built in C (not decoded) encode exactly like the Go vectors. */
static void test_build_login(void **state)
{
    msg m;
    msg_init(&m, MSG_LOGIN);
    m.u.login.version = "0.61.1";
    m.u.login.os = "linux";
    m.u.login.arch = "amd64";
    m.u.login.privilege_key = "3d8aac6cc09d79da303be74c311e5808";
    m.u.login.timestamp = 1700000000;
    m.u.login.pool_count = 1;
    expect_frame_hex(&m, "6f000000000000009a7b2276657273696f6e223a22302e36312e31222c226f73223a"
                         "226c696e7578222c2261726368223a22616d643634222c2270726976696c656765"
                         "5f6b6579223a223364386161633663633039643739646133303362653734633331"
                         "316535383038222c2274696d657374616d70223a313730303030303030302c2263"
                         "6c69656e745f73706563223a7b7d2c22706f6f6c5f636f756e74223a317d");
}

static void test_build_new_proxy_http(void **state)
{
    msg m;
    char *domains[] = {"www.example.com"};
    char *locations[] = {"/", "/api"};
    msg_kv headers[] = {{"x-from-where", "frp"}};
    msg_kv resp_headers[] = {{"X-Served-By", "frp"}};
    msg_init(&m, MSG_NEW_PROXY);
    msg_new_proxy *p = &m.u.new_proxy;
    p->proxy_name = "web";
    p->proxy_type = "http";
    p->custom_domains = (msg_strlist){domains, 1};
    p->subdomain = "app";
    p->locations = (msg_strlist){locations, 2};
    p->http_user = "u";
    p->http_pwd = "p";
    p->host_header_rewrite = "backend.local";
    p->headers = (msg_strmap){headers, 1};
    p->response_headers = (msg_strmap){resp_headers, 1};
    p->route_by_http_user = "u";
    expect_body(&m, "{\"proxy_name\":\"web\",\"proxy_type\":\"http\",\"custom_domains\":[\"www."
                    "example.com\"],\"subdomain\":\"app\",\"locations\":[\"/\",\"/api\"],"
                    "\"http_user\":\"u\",\"http_pwd\":\"p\",\"host_header_rewrite\":\"backend."
                    "local\",\"headers\":{\"x-from-where\":\"frp\"},\"response_headers\":{\"X-"
                    "Served-By\":\"frp\"},\"route_by_http_user\":\"u\"}");
}

static void test_build_misc(void **state)
{
    msg m;
    msg_init(&m, MSG_REQ_WORK_CONN);
    expect_frame_hex(&m, "7200000000000000027b7d");
    msg_init(&m, MSG_PONG);
    m.u.pong.error = "";
    expect_frame_hex(&m, "3400000000000000027b7d");
    msg_init(&m, MSG_NAT_HOLE_RESP);
    m.u.nat_hole_resp.transaction_id = "1700000000aaaaaaaaaaaaaaaa";
    m.u.nat_hole_resp.error = "xtcp server for [p2p] doesn't exist";
    expect_body(&m, "{\"transaction_id\":\"1700000000aaaaaaaaaaaaaaaa\",\"detect_behavior\":{},"
                    "\"error\":\"xtcp server for [p2p] doesn't exist\"}");
    msg_init(&m, MSG_UDP_PACKET);
    m.u.udp_packet.content = "aGVsbG8=";
    m.u.udp_packet.raddr = (msg_udp_addr){true, "203.0.113.7", 40000, NULL};
    expect_body(&m, "{\"c\":\"aGVsbG8=\",\"r\":{\"IP\":\"203.0.113.7\",\"Port\":40000,"
                    "\"Zone\":\"\"}}");
    /* IPs are printed in Go's canonical form. */
    m.u.udp_packet.raddr.ip = "2001:0db8:0:0:0:0:0:0001";
    expect_body(&m, "{\"c\":\"aGVsbG8=\",\"r\":{\"IP\":\"2001:db8::1\",\"Port\":40000,"
                    "\"Zone\":\"\"}}");
    m.u.udp_packet.raddr.ip = "::ffff:10.0.0.1";
    expect_body(&m, "{\"c\":\"aGVsbG8=\",\"r\":{\"IP\":\"10.0.0.1\",\"Port\":40000,"
                    "\"Zone\":\"\"}}");
    m.u.udp_packet.raddr.ip = "1:0:0:2:0:0:0:3";
    expect_body(&m, "{\"c\":\"aGVsbG8=\",\"r\":{\"IP\":\"1:0:0:2::3\",\"Port\":40000,"
                    "\"Zone\":\"\"}}");
    m.u.udp_packet.raddr.ip = "not-an-ip";
    char out[64];
    size_t len;
    assert_int_equal(msg_encode_body(&m, out, sizeof(out), &len), CFRP_EINVAL);
}

static void test_string_escaping(void **state)
{
    msg m;
    msg_init(&m, MSG_PONG);
    m.u.pong.error = "<a href=\"x\">&</a>\\\n\r\t\b\f\x01\x1f\x7f";
    expect_body(&m, "{\"error\":\"\\u003ca href=\\\"x\\\"\\u003e\\u0026\\u003c/a\\u003e\\\\\\n"
                    "\\r\\t\\b\\f\\u0001\\u001f\x7f\"}");
    /* U+2028/2029 escaped, other UTF-8 kept, invalid bytes become \ufffd. */
    m.u.pong.error = "\xe2\x80\xa8\xe2\x80\xa9\xc3\xa9\xf0\x9f\x98\x80|\xff|\xc3|\xed\xa0\x80|"
                     "\xc0\xaf";
    expect_body(&m, "{\"error\":\"\\u2028\\u2029\xc3\xa9\xf0\x9f\x98\x80|\\ufffd|\\ufffd|"
                    "\\ufffd\\ufffd\\ufffd|\\ufffd\\ufffd\"}");
    /* Map keys are escaped and sorted bytewise. */
    msg_kv kv[] = {{"b", "2"}, {"B", "1"}, {"a<", "3"}, {"a", "0"}};
    msg_init(&m, MSG_LOGIN);
    m.u.login.metas = (msg_strmap){kv, 4};
    expect_body(&m, "{\"metas\":{\"B\":\"1\",\"a\":\"0\",\"a\\u003c\":\"3\",\"b\":\"2\"},"
                    "\"client_spec\":{}}");
}

static void test_body_too_big(void **state)
{
    static char big[MSG_MAX_BODY + 1];
    memset(big, 'x', sizeof(big) - 1);
    msg m;
    msg_init(&m, MSG_PONG);
    m.u.pong.error = big;
    char out[MSG_FRAME_MAX + 100];
    size_t len;
    assert_int_equal(msg_frame_encode(&m, out, sizeof(out), &len), CFRP_ETOOBIG);
    /* The largest body that fits: {"error":"..."} = 12 bytes of syntax. */
    big[MSG_MAX_BODY - 12] = '\0';
    assert_int_equal(msg_frame_encode(&m, out, sizeof(out), &len), 0);
    assert_int_equal(len, MSG_FRAME_MAX);
    assert_int_equal(msg_frame_encode(&m, out, MSG_FRAME_MAX - 1, &len), CFRP_ETOOBIG);
}

static void test_decode_go_rules(void **state)
{
    msg m;
    /* Case-insensitive keys, unknown keys ignored, null leaves zero. */
    decode_ok(MSG_START_WORK_CONN,
              "{\"PROXY_NAME\":\"a\",\"Src_Addr\":\"1.2.3.4\",\"unknown\":{\"x\":[1,2]},"
              "\"dst_addr\":null,\"src_port\":65535,\"error\":null}",
              &m);
    assert_string_equal(m.u.start_work_conn.proxy_name, "a");
    assert_string_equal(m.u.start_work_conn.src_addr, "1.2.3.4");
    assert_null(m.u.start_work_conn.dst_addr);
    assert_int_equal(m.u.start_work_conn.src_port, 65535);
    msg_clear(&m);
    /* Kelvin sign and long s fold to k and s; the last duplicate wins. */
    decode_ok(MSG_NEW_PROXY, "{\"\xe2\x84\xaa\":\"no\",\"\xc5\xbf\xe2\x84\xaa\":\"x\","
                             "\"sk\":\"y\",\"use_encryption\":true}",
              &m);
    assert_string_equal(m.u.new_proxy.sk, "y");
    assert_true(m.u.new_proxy.use_encryption);
    msg_clear(&m);
    decode_ok(MSG_NEW_PROXY, "{\"\xc5\xbf\xe2\x84\xaa\":\"x\"}", &m);
    assert_string_equal(m.u.new_proxy.sk, "x");
    msg_clear(&m);
    /* Whitespace, escapes, null body, null map values. */
    decode_ok(MSG_LOGIN, " {\"user\" : \"\\u0061\\n\\u00e9\\ud83d\\ude00\", \"metas\":{\"k\":null}} ",
              &m);
    assert_string_equal(m.u.login.user, "a\n\xc3\xa9\xf0\x9f\x98\x80");
    assert_int_equal(m.u.login.metas.n, 1);
    assert_string_equal(m.u.login.metas.v[0].val, "");
    msg_clear(&m);
    decode_ok(MSG_LOGIN, "null", &m);
    assert_null(m.u.login.user);
    /* UDPPacket addresses: canonicalised IP, absent pointer stays absent. */
    decode_ok(MSG_UDP_PACKET,
              "{\"c\":\"eA==\",\"r\":{\"IP\":\"::ffff:127.0.0.1\",\"Port\":5,\"Zone\":\"\"}}", &m);
    assert_true(m.u.udp_packet.raddr.present);
    assert_false(m.u.udp_packet.laddr.present);
    assert_string_equal(m.u.udp_packet.raddr.ip, "127.0.0.1");
    assert_int_equal(m.u.udp_packet.raddr.port, 5);
    msg_clear(&m);
    decode_ok(MSG_UDP_PACKET, "{\"r\":{\"IP\":\"\"},\"l\":null}", &m);
    assert_true(m.u.udp_packet.raddr.present);
    assert_null(m.u.udp_packet.raddr.ip);
    msg_clear(&m);
    /* Integers: full int64 range, negative values where Go's type is signed. */
    decode_ok(MSG_LOGIN, "{\"timestamp\":-9223372036854775808,\"pool_count\":-0}", &m);
    assert_true(m.u.login.timestamp == INT64_MIN);
    msg_clear(&m);
}

static void test_decode_rejects(void **state)
{
    decode_fails(MSG_PING, "");
    decode_fails(MSG_PING, "{");
    decode_fails(MSG_PING, "{}x");
    decode_fails(MSG_PING, "[]");
    decode_fails(MSG_PING, "\"str\"");
    decode_fails(MSG_PING, "12");
    decode_fails(MSG_PING, "{\"timestamp\":\"1\"}");
    decode_fails(MSG_PING, "{\"timestamp\":1.5}");
    decode_fails(MSG_PING, "{\"timestamp\":1e3}");
    decode_fails(MSG_PING, "{\"timestamp\":9223372036854775808}");
    decode_fails(MSG_PING, "{\"privilege_key\":5}");
    decode_fails(MSG_PING, "{\"privilege_key\":\"a\\u0000b\"}");
    decode_fails(MSG_START_WORK_CONN, "{\"src_port\":65536}");
    decode_fails(MSG_START_WORK_CONN, "{\"src_port\":-1}");
    decode_fails(MSG_NEW_PROXY, "{\"use_encryption\":1}");
    decode_fails(MSG_NEW_PROXY, "{\"custom_domains\":\"a\"}");
    decode_fails(MSG_NEW_PROXY, "{\"custom_domains\":[1]}");
    decode_fails(MSG_NEW_PROXY, "{\"metas\":[]}");
    decode_fails(MSG_NEW_PROXY, "{\"metas\":{\"a\":1}}");
    decode_fails(MSG_LOGIN, "{\"client_spec\":true}");
    decode_fails(MSG_UDP_PACKET, "{\"r\":{\"IP\":\"1.2.3\"}}");
    decode_fails(MSG_UDP_PACKET, "{\"r\":{\"IP\":7}}");
    decode_fails(MSG_UDP_PACKET, "{\"r\":[]}");
    decode_fails(MSG_NAT_HOLE_RESP, "{\"detect_behavior\":{\"candidate_ports\":[1]}}");
    decode_fails(MSG_PING, "{\"a\":\"\xff\"}");
    /* An error after allocations leaves nothing behind (checked by ASan). */
    decode_fails(MSG_NEW_PROXY, "{\"proxy_name\":\"a\",\"metas\":{\"x\":\"y\"},"
                                "\"custom_domains\":[\"a\",\"b\",3]}");
    char err[64];
    msg m;
    assert_int_equal(msg_decode_body('z', "{}", 2, &m, err, sizeof(err)), CFRP_EPROTO);
}

static void test_frame_rejects(void **state)
{
    msg m;
    size_t flen;
    char err[128];
    /* Unregistered type byte: rejected from the first byte. */
    assert_int_equal(msg_frame_parse("z", 1, &flen, &m, err, sizeof(err)), CFRP_EPROTO);
    assert_int_equal(msg_frame_parse("\0", 1, &flen, &m, err, sizeof(err)), CFRP_EPROTO);
    /* Length over the limit, and negative. */
    assert_int_equal(msg_frame_parse("h\0\0\0\0\0\0\x28\x01", 9, &flen, &m, err, sizeof(err)),
                     CFRP_ETOOBIG);
    assert_int_equal(msg_frame_parse("h\x7f\xff\xff\xff\xff\xff\xff\xff", 9, &flen, &m, err,
                                     sizeof(err)),
                     CFRP_ETOOBIG);
    assert_int_equal(msg_frame_parse("h\xff\xff\xff\xff\xff\xff\xff\xff", 9, &flen, &m, err,
                                     sizeof(err)),
                     CFRP_EPROTO);
    /* Exactly the limit is fine as a header (need more). */
    assert_int_equal(msg_frame_parse("h\0\0\0\0\0\0\x28\x00", 9, &flen, &m, err, sizeof(err)), 0);
    /* Empty body, non-JSON body, wrong JSON type. */
    assert_int_equal(msg_frame_parse("h\0\0\0\0\0\0\0\0", 9, &flen, &m, err, sizeof(err)),
                     CFRP_EPROTO);
    assert_int_equal(msg_frame_parse("h\0\0\0\0\0\0\0\2xy", 11, &flen, &m, err, sizeof(err)),
                     CFRP_EPROTO);
    assert_int_equal(msg_frame_parse("s\0\0\0\0\0\0\0\x0f{\"src_port\":\"\"}", 24, &flen, &m,
                                     err, sizeof(err)),
                     CFRP_EPROTO);
    /* A frame followed by more bytes: only the frame is taken. */
    assert_int_equal(msg_frame_parse("h\0\0\0\0\0\0\0\2{}zzz", 14, &flen, &m, err, sizeof(err)),
                     1);
    assert_int_equal(flen, 11);
    msg_clear(&m);
}

/* The incremental reader: byte by byte, in odd pieces, leftovers, sticky errors. */
static void test_reader(void **state)
{
    static const char stream[] = "r\0\0\0\0\0\0\0\2{}"
                                 "2\0\0\0\0\0\0\0\x2a{\"proxy_name\":\"ssh\",\"remote_addr\":\":6000\"}"
                                 "h\0\0\0\0\0\0\0\2{}TAIL";
    const size_t total = sizeof(stream) - 1;
    static msg_reader r;
    for (size_t piece = 1; piece <= total; piece++) {
        msg_reader_init(&r);
        int types[3], nmsg = 0;
        size_t off = 0;
        while (nmsg < 3) {
            assert_true(off < total);
            size_t len = total - off < piece ? total - off : piece;
            size_t used = 0;
            msg m;
            int rc = msg_reader_feed(&r, stream + off, len, &used, &m, NULL, 0);
            assert_true(rc == 0 || rc == 1);
            assert_true(used <= len);
            off += used;
            if (rc == 1) {
                types[nmsg++] = m.type;
                if (m.type == MSG_NEW_PROXY_RESP)
                    assert_string_equal(m.u.new_proxy_resp.remote_addr, ":6000");
                msg_clear(&m);
            } else {
                assert_int_equal(used, len);
            }
        }
        assert_int_equal(types[0], MSG_REQ_WORK_CONN);
        assert_int_equal(types[1], MSG_NEW_PROXY_RESP);
        assert_int_equal(types[2], MSG_PING);
        assert_int_equal(total - off, 4);
        assert_memory_equal(stream + off, "TAIL", 4);
    }
    /* Expecting a type decodes the body as that type, then reverts. */
    msg_reader_init(&r);
    msg_reader_expect(&r, MSG_START_WORK_CONN);
    static const char sw[] = "1\0\0\0\0\0\0\0\x14{\"proxy_name\":\"dns\"}";
    size_t used;
    msg m;
    assert_int_equal(msg_reader_feed(&r, sw, sizeof(sw) - 1, &used, &m, NULL, 0), 1);
    assert_int_equal(m.type, MSG_START_WORK_CONN);
    assert_string_equal(m.u.start_work_conn.proxy_name, "dns");
    msg_clear(&m);
    assert_int_equal(msg_reader_feed(&r, sw, sizeof(sw) - 1, &used, &m, NULL, 0), 1);
    assert_int_equal(m.type, MSG_LOGIN_RESP);
    msg_clear(&m);
    /* Errors are sticky. */
    char err[128];
    assert_int_equal(msg_reader_feed(&r, "x", 1, &used, &m, err, sizeof(err)), CFRP_EPROTO);
    assert_int_equal(used, 1);
    assert_int_equal(msg_reader_feed(&r, "h", 1, &used, &m, err, sizeof(err)), CFRP_EPROTO);
    msg_reader_init(&r);
    assert_int_equal(msg_reader_feed(&r, "h\0\0\0\0\0\0\0\3{}}", 12, &used, &m, err, sizeof(err)),
                     CFRP_EPROTO);
    assert_int_equal(msg_reader_feed(&r, "h", 1, &used, &m, err, sizeof(err)), CFRP_EPROTO);
}

static void test_type_names(void **state)
{
    const char types[] = "o1p2cwrsv3h4uinm56";
    for (const char *t = types; *t; t++) {
        assert_true(msg_type_valid(*t));
        assert_string_not_equal(msg_type_name(*t), "?");
    }
    assert_false(msg_type_valid('a'));
    assert_false(msg_type_valid(0));
    assert_string_equal(msg_type_name('u'), "UDPPacket");
    assert_string_equal(msg_type_name('x'), "?");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_vectors_roundtrip),  cmocka_unit_test(test_login_fields),
        cmocka_unit_test(test_nat_hole_resp_fields), cmocka_unit_test(test_build_login),
        cmocka_unit_test(test_build_new_proxy_http), cmocka_unit_test(test_build_misc),
        cmocka_unit_test(test_string_escaping),    cmocka_unit_test(test_body_too_big),
        cmocka_unit_test(test_decode_go_rules),    cmocka_unit_test(test_decode_rejects),
        cmocka_unit_test(test_frame_rejects),      cmocka_unit_test(test_reader),
        cmocka_unit_test(test_type_names),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
