/* NewProxy bodies built from typed proxy configs (client/newproxy.c), compared with the
 * Go-generated vectors in shared/spec/vectors/messages.txt and, for the types the
 * vectors do not cover, with the keys frp's MarshalToMsg sets per type. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "client/newproxy.h"
#include "config/client_config.h"
#include "proto/frame.h"

/* The "json:" line following "## <title>" in messages.txt, into out. */
static void vector_json(const char *title, char *out, size_t cap)
{
    FILE *f = fopen(CFRP_SHARED_DIR "/spec/vectors/messages.txt", "r");
    assert_non_null(f);
    char line[16384], want[256];
    snprintf(want, sizeof want, "## %s\n", title);
    bool in = false;
    out[0] = '\0';
    while (fgets(line, sizeof line, f)) {
        if (strcmp(line, want) == 0) in = true;
        else if (in && strncmp(line, "json: ", 6) == 0) {
            size_t n = strcspn(line + 6, "\n");
            assert_true(n < cap);
            memcpy(out, line + 6, n);
            out[n] = '\0';
            break;
        }
    }
    fclose(f);
    assert_true(out[0] != '\0');
}

/* Decodes a proxy from config JSON, completes it for user, and encodes its NewProxy. */
static void encode_proxy(const char *cfg_json, const char *user, char *out, size_t cap)
{
    json_error_t je;
    json_t *obj = json_loads(cfg_json, 0, &je);
    assert_non_null(obj);
    struct cfg_proxy *p = NULL;
    char err[512] = "";
    int rc = cfg_proxy_from_json(obj, true, &p, err, sizeof err);
    if (rc) fprintf(stderr, "decode: %s\n", err);
    assert_int_equal(rc, 0);
    json_decref(obj);
    assert_int_equal(cfg_proxy_complete(p, user), 0);
    msg m;
    assert_int_equal(client_new_proxy_build(p, &m), 0);
    size_t len = 0;
    assert_int_equal(msg_encode_body(&m, out, cap - 1, &len), 0);
    out[len] = '\0';
    client_new_proxy_release(&m);
    cfg_proxy_free(p);
}

static void check_vector(const char *title, const char *cfg_json, const char *user)
{
    char want[12000], got[12000];
    vector_json(title, want, sizeof want);
    encode_proxy(cfg_json, user, got, sizeof got);
    assert_string_equal(got, want);
}

static void test_tcp(void **state)
{
    check_vector("NewProxy tcp",
                 "{\"name\":\"ssh\",\"type\":\"tcp\",\"localPort\":22,\"remotePort\":6000}", "");
}

static void test_tcp_user_group(void **state)
{
    check_vector("NewProxy tcp (user alice, enc+comp, bandwidth server, group)",
                 "{\"name\":\"web\",\"type\":\"tcp\",\"localPort\":80,"
                 "\"transport\":{\"useEncryption\":true,\"useCompression\":true,"
                 "\"bandwidthLimit\":\"1MB\",\"bandwidthLimitMode\":\"server\","
                 "\"proxyProtocolVersion\":\"v2\"},"
                 "\"loadBalancer\":{\"group\":\"g1\",\"groupKey\":\"k\"},"
                 "\"metadatas\":{\"m\":\"1\"}}",
                 "alice");
}

static void test_http(void **state)
{
    check_vector("NewProxy http",
                 "{\"name\":\"web\",\"type\":\"http\",\"localPort\":80,"
                 "\"customDomains\":[\"www.example.com\"],\"subdomain\":\"app\","
                 "\"locations\":[\"/\",\"/api\"],\"httpUser\":\"u\",\"httpPassword\":\"p\","
                 "\"hostHeaderRewrite\":\"backend.local\","
                 "\"requestHeaders\":{\"set\":{\"x-from-where\":\"frp\"}},"
                 "\"responseHeaders\":{\"set\":{\"X-Served-By\":\"frp\"}},"
                 "\"routeByHTTPUser\":\"u\"}",
                 "");
}

static void test_stcp(void **state)
{
    check_vector("NewProxy stcp",
                 "{\"name\":\"secret\",\"type\":\"stcp\",\"localPort\":22,\"secretKey\":\"abc\","
                 "\"allowUsers\":[\"*\"]}",
                 "");
}

static void test_tcpmux(void **state)
{
    check_vector("NewProxy tcpmux",
                 "{\"name\":\"mux\",\"type\":\"tcpmux\",\"localPort\":80,"
                 "\"customDomains\":[\"host.example.com\"],\"multiplexer\":\"httpconnect\","
                 "\"httpUser\":\"\"}",
                 "");
}

/* Types without a Go vector: the keys follow MarshalToMsg of each type. */
static void test_other_types(void **state)
{
    char got[4096];
    encode_proxy("{\"name\":\"dns\",\"type\":\"udp\",\"localPort\":53,\"remotePort\":6053,"
                 "\"annotations\":{\"b\":\"2\",\"a\":\"1\"},"
                 "\"transport\":{\"bandwidthLimit\":\"512KB\"}}",
                 "", got, sizeof got);
    assert_string_equal(got, "{\"proxy_name\":\"dns\",\"proxy_type\":\"udp\","
                             "\"bandwidth_limit\":\"512KB\",\"annotations\":{\"a\":\"1\","
                             "\"b\":\"2\"},\"remote_port\":6053}");
    encode_proxy("{\"name\":\"s\",\"type\":\"https\",\"localPort\":443,"
                 "\"customDomains\":[\"a.com\",\"b.com\"],\"subdomain\":\"x\"}",
                 "bob", got, sizeof got);
    assert_string_equal(got, "{\"proxy_name\":\"bob.s\",\"proxy_type\":\"https\","
                             "\"custom_domains\":[\"a.com\",\"b.com\"],\"subdomain\":\"x\"}");
    encode_proxy("{\"name\":\"x\",\"type\":\"xtcp\",\"localPort\":22,\"secretKey\":\"k\"}", "",
                 got, sizeof got);
    assert_string_equal(got, "{\"proxy_name\":\"x\",\"proxy_type\":\"xtcp\",\"sk\":\"k\"}");
    encode_proxy("{\"name\":\"su\",\"type\":\"sudp\",\"localPort\":53,\"secretKey\":\"k\","
                 "\"allowUsers\":[\"a\",\"b\"]}",
                 "", got, sizeof got);
    assert_string_equal(got, "{\"proxy_name\":\"su\",\"proxy_type\":\"sudp\",\"sk\":\"k\","
                             "\"allow_users\":[\"a\",\"b\"]}");
    /* an explicit client mode is left out, as frp does */
    encode_proxy("{\"name\":\"t\",\"type\":\"tcp\",\"localPort\":1,"
                 "\"transport\":{\"bandwidthLimitMode\":\"client\",\"bandwidthLimit\":\"1.5MB\"}}",
                 "", got, sizeof got);
    assert_string_equal(got, "{\"proxy_name\":\"t\",\"proxy_type\":\"tcp\","
                             "\"bandwidth_limit\":\"1.5MB\"}");
}

/* The whole frame, as the control stream carries it. */
static void test_frame_bytes(void **state)
{
    json_error_t je;
    json_t *obj = json_loads("{\"name\":\"ssh\",\"type\":\"tcp\",\"remotePort\":6000}", 0, &je);
    struct cfg_proxy *p = NULL;
    assert_int_equal(cfg_proxy_from_json(obj, true, &p, NULL, 0), 0);
    json_decref(obj);
    assert_int_equal(cfg_proxy_complete(p, ""), 0);
    msg m;
    assert_int_equal(client_new_proxy_build(p, &m), 0);
    char frame[MSG_FRAME_MAX];
    size_t len = 0;
    assert_int_equal(msg_frame_encode(&m, frame, sizeof frame, &len), 0);
    client_new_proxy_release(&m);
    cfg_proxy_free(p);
    static const char hex[] = "70000000000000003a7b2270726f78795f6e616d65223a22737368222c2270726f"
                              "78795f74797065223a22746370222c2272656d6f74655f706f7274223a3630"
                              "30307d";
    char got[256] = "";
    for (size_t i = 0; i < len && 2 * i + 2 < sizeof got; i++)
        snprintf(got + 2 * i, 3, "%02x", (unsigned char)frame[i]);
    assert_string_equal(got, hex);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_tcp),        cmocka_unit_test(test_tcp_user_group),
        cmocka_unit_test(test_http),       cmocka_unit_test(test_stcp),
        cmocka_unit_test(test_tcpmux),     cmocka_unit_test(test_other_types),
        cmocka_unit_test(test_frame_bytes),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
