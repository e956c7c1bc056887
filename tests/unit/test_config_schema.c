/* Tests of the table-driven config decoder/encoder (config/schema.c) and the shared
 * value types (config/types.c): Go encoding/json key matching, strict mode, type
 * error texts, error precedence, YAML coercion, encoding and round trips. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "config/client_config.h"
#include "config/config.h"
#include "config/schema.h"
#include "config/server_config.h"
#include "config/types.h"

/* cfg_server_decode of a bare tree: TOML-like (sorted), JSON, or YAML without raw. */
static int server_decode(json_t *t, bool strict, bool sorted, bool yaml, struct frps_config **c, char *err,
                         size_t len)
{
    struct cfg_source src = {t, yaml ? CFG_FORMAT_YAML : sorted ? CFG_FORMAT_TOML : CFG_FORMAT_JSON, NULL};
    return cfg_server_decode(&src, strict, c, err, len);
}

/* cfg_client_decode of a bare tree: TOML-like (sorted), JSON, or YAML without raw. */
static int client_decode(json_t *t, bool strict, bool sorted, bool yaml, struct frpc_config **c, char *err,
                         size_t len)
{
    struct cfg_source src = {t, yaml ? CFG_FORMAT_YAML : sorted ? CFG_FORMAT_TOML : CFG_FORMAT_JSON, NULL};
    return cfg_client_decode(&src, strict, c, err, len);
}

static json_t *load_json(const char *text)
{
    json_error_t je;
    json_t *t = json_loads(text, JSON_DECODE_ANY, &je);
    assert_non_null(t);
    return t;
}

/* Decodes JSON text as a frps file; returns rc and fills err. */
static int server_err(const char *text, bool strict, bool sorted, bool yaml, char *err, size_t len)
{
    json_t *t = load_json(text);
    struct frps_config *c = NULL;
    err[0] = '\0';
    int rc = server_decode(t, strict, sorted, yaml, &c, err, len);
    json_decref(t);
    cfg_server_free(c);
    return rc;
}

static int client_err(const char *text, bool strict, bool sorted, bool yaml, char *err, size_t len)
{
    json_t *t = load_json(text);
    struct frpc_config *c = NULL;
    err[0] = '\0';
    int rc = client_decode(t, strict, sorted, yaml, &c, err, len);
    json_decref(t);
    cfg_client_free(c);
    return rc;
}

static void expect_server_error(const char *text, bool sorted, const char *want)
{
    char err[1024];
    assert_int_not_equal(server_err(text, true, sorted, false, err, sizeof err), 0);
    assert_string_equal(err, want);
}

static void expect_client_error(const char *text, bool sorted, const char *want)
{
    char err[1024];
    assert_int_not_equal(client_err(text, true, sorted, false, err, sizeof err), 0);
    assert_string_equal(err, want);
}

static void test_case_insensitive_keys(void **state)
{
    (void)state;
    json_t *t = load_json("{\"BINDPORT\": 7001, \"Auth\": {\"TOKEN\": \"x\"}, \"webserver\": {\"Port\": 1}}");
    struct frps_config *c = NULL;
    char err[256];
    assert_int_equal(server_decode(t, true, false, false, &c, err, sizeof err), 0);
    assert_int_equal(c->bind_port, 7001);
    assert_string_equal(c->auth.token, "x");
    assert_int_equal(c->web_server.port, 1);
    cfg_server_free(c);
    json_decref(t);

    /* Last duplicate wins, modulo case, in the order keys are walked. */
    t = load_json("{\"bindPort\": 1, \"BindPort\": 2}");
    assert_int_equal(server_decode(t, true, false, false, &c, err, sizeof err), 0);
    assert_int_equal(c->bind_port, 2);
    cfg_server_free(c);
    /* Sorted (TOML/YAML) order: "BindPort" < "bindPort", so bindPort wins. */
    assert_int_equal(server_decode(t, true, true, false, &c, err, sizeof err), 0);
    assert_int_equal(c->bind_port, 1);
    cfg_server_free(c);
    json_decref(t);

    /* Inside proxies, visitors and plugins too. */
    t = load_json("{\"proxies\":[{\"NAME\":\"a\",\"TYPE\":\"tcp\",\"RemotePort\":5,"
                  "\"plugin\":{\"Type\":\"socks5\",\"USERNAME\":\"u\"}}],"
                  "\"visitors\":[{\"Name\":\"v\",\"Type\":\"stcp\",\"SERVERNAME\":\"s\"}]}");
    struct frpc_config *cc = NULL;
    assert_int_equal(client_decode(t, true, false, false, &cc, err, sizeof err), 0);
    assert_int_equal(cc->proxies.n, 1);
    assert_int_equal(cc->proxies.items[0].type_id, CFG_PROXY_TCP);
    assert_int_equal(cc->proxies.items[0].remote_port, 5);
    assert_int_equal(cc->proxies.items[0].plugin.type_id, CFG_PLUGIN_SOCKS5);
    assert_string_equal(cc->proxies.items[0].plugin.username, "u");
    assert_string_equal(cc->visitors.items[0].server_name, "s");
    cfg_client_free(cc);
    json_decref(t);
}

static void test_strict_unknown_keys(void **state)
{
    (void)state;
    char err[512];
    expect_server_error("{\"bindAdur\": \"x\"}", false, "json: unknown field \"bindAdur\"");
    assert_int_equal(server_err("{\"bindAdur\": \"x\"}", false, false, false, err, sizeof err), 0);
    expect_server_error("{\"auth\": {\"oidc\": {\"x\": 1}}}", false, "json: unknown field \"x\"");
    expect_server_error("{\"httpPlugins\": [{\"name\": \"a\", \"opz\": []}]}", false,
                        "json: unknown field \"opz\"");
    expect_client_error("{\"transport\": {\"tls\": {\"nope\": true}}}", false, "json: unknown field \"nope\"");
    expect_client_error("{\"proxies\":[{\"name\":\"a\",\"type\":\"stcp\",\"remotePort\":1}]}", false,
                        "unmarshal ProxyConfig error: json: unknown field \"remotePort\"");
    expect_client_error("{\"proxies\":[{\"name\":\"a\",\"type\":\"tcp\",\"healthCheck\":{\"bad\":1}}]}", false,
                        "unmarshal ProxyConfig error: json: unknown field \"bad\"");
    expect_client_error("{\"proxies\":[{\"name\":\"a\",\"type\":\"tcp\",\"plugin\":{\"type\":\"socks5\",\"x\":1}}]}",
                        false,
                        "unmarshal ProxyConfig error: unmarshal ClientPluginOptions error: json: unknown field \"x\"");
    expect_client_error("{\"visitors\":[{\"name\":\"v\",\"type\":\"stcp\",\"keepTunnelOpen\":true}]}", false,
                        "unmarshal VisitorConfig error: json: unknown field \"keepTunnelOpen\"");
    /* Non-strict ignores all of them. */
    assert_int_equal(client_err("{\"zz\":1,\"proxies\":[{\"name\":\"a\",\"type\":\"stcp\",\"remotePort\":1,"
                                "\"plugin\":{\"type\":\"socks5\",\"x\":1}}]}",
                                false, false, false, err, sizeof err),
                     0);
}

static void test_polymorphic_errors(void **state)
{
    (void)state;
    expect_client_error("{\"proxies\":[{\"name\":\"a\",\"type\":\"foo\"}]}", false, "unknown proxy type: foo");
    expect_client_error("{\"proxies\":[{\"name\":\"a\"}]}", false, "unknown proxy type: ");
    expect_client_error("{\"proxies\":[null]}", false, "type is required");
    expect_client_error("{\"visitors\":[{\"name\":\"a\",\"type\":\"http\"}]}", false, "unknown visitor type: http");
    expect_client_error("{\"proxies\":[{\"name\":\"a\",\"type\":\"tcp\",\"plugin\":{\"type\":\"foo\"}}]}", false,
                        "unmarshal ProxyConfig error: unknown plugin type: foo");
    expect_client_error("{\"proxies\":[{\"name\":\"a\",\"type\":\"tcp\",\"plugin\":{\"type\":\"\"}}]}", false,
                        "unmarshal ProxyConfig error: plugin type is empty");
    expect_client_error("{\"proxies\":[\"x\"]}", false,
                        "json: cannot unmarshal string into Go struct field ClientConfig.proxies of type "
                        "struct { Type string \"json:\\\"type\\\"\" }");
    expect_client_error("{\"proxies\":[{\"type\":5}]}", false,
                        "json: cannot unmarshal number into Go struct field ClientConfig.proxies of type string");
    expect_client_error("{\"proxies\":{}}", false,
                        "json: cannot unmarshal object into Go struct field ClientConfig.proxies of type "
                        "[]v1.TypedProxyConfig");
    /* plugin = null means no plugin. */
    char err[256];
    assert_int_equal(client_err("{\"proxies\":[{\"name\":\"a\",\"type\":\"tcp\",\"plugin\":null}]}", true, false,
                                false, err, sizeof err),
                     0);
}

static void test_type_errors(void **state)
{
    (void)state;
    expect_server_error("{\"bindPort\": \"7000\"}", false,
                        "json: cannot unmarshal string into Go struct field ServerConfig.bindPort of type int");
    expect_server_error("{\"bindPort\": 7000.5}", true,
                        "json: cannot unmarshal number 7000.5 into Go struct field ServerConfig.bindPort of type int");
    char err[512];
    assert_int_equal(server_err("{\"bindPort\": 7000.0}", true, true, false, err, sizeof err), 0);
    expect_server_error("{\"auth\": {\"method\": 1}}", false,
                        "json: cannot unmarshal number into Go struct field AuthServerConfig.auth.method of type v1.AuthMethod");
    expect_server_error("{\"transport\": {\"tls\": {\"certFile\": true}}}", false,
                        "json: cannot unmarshal bool into Go struct field TLSServerConfig.transport.tls.certFile of type string");
    expect_server_error("{\"webServer\": {\"tls\": \"x\"}}", false,
                        "json: cannot unmarshal string into Go struct field WebServerConfig.webServer.tls of type v1.TLSConfig");
    expect_server_error("{\"httpPlugins\": [{\"ops\": [1]}]}", false,
                        "json: cannot unmarshal number into Go struct field HTTPPluginOptions.httpPlugins.ops of type string");
    expect_server_error("{\"allowPorts\": [1]}", false,
                        "json: cannot unmarshal number into Go struct field ServerConfig.allowPorts of type types.PortsRange");
    expect_server_error("{\"detailedErrorsToClient\": \"false\"}", false,
                        "json: cannot unmarshal string into Go struct field ServerConfig.detailedErrorsToClient of type bool");
    expect_client_error("{\"loginFailExit\": \"false\"}", false,
                        "json: cannot unmarshal string into Go struct field ClientConfig.loginFailExit of type bool");
    expect_client_error("{\"auth\": {\"token\": 31}}", false,
                        "json: cannot unmarshal number into Go struct field AuthClientConfig.auth.token of type string");
    expect_client_error("{\"metadatas\": {\"a\": 1}}", false,
                        "json: cannot unmarshal number into Go struct field ClientConfig.metadatas of type string");
    expect_client_error("{\"proxies\":[{\"name\":\"a\",\"type\":\"tcp\",\"remotePort\":\"1\"}]}", false,
                        "unmarshal ProxyConfig error: json: cannot unmarshal string into Go struct field "
                        "TCPProxyConfig.remotePort of type int");
    expect_client_error("{\"proxies\":[{\"name\":\"a\",\"type\":\"tcp\",\"transport\":{\"bandwidthLimit\":100}}]}",
                        false,
                        "unmarshal ProxyConfig error: json: cannot unmarshal number into Go struct field "
                        "ProxyTransport.transport.bandwidthLimit of type string");
    expect_client_error("{\"proxies\":[{\"name\":\"a\",\"type\":\"tcp\",\"plugin\":{\"type\":\"socks5\",\"username\":1}}]}",
                        false,
                        "unmarshal ProxyConfig error: unmarshal ClientPluginOptions error: json: cannot unmarshal "
                        "number into Go struct field Socks5PluginOptions.username of type string");
    expect_client_error("{\"visitors\":[{\"name\":\"v\",\"type\":\"xtcp\",\"transport\":{\"useEncryption\":1}}]}",
                        false,
                        "unmarshal VisitorConfig error: json: cannot unmarshal number into Go struct field "
                        "VisitorTransport.transport.useEncryption of type bool");
    /* The whole document of the wrong type. */
    json_t *t = json_string("x");
    struct frps_config *c = NULL;
    assert_int_not_equal(server_decode(t, true, true, true, &c, err, sizeof err), 0);
    assert_string_equal(err, "error unmarshaling JSON: while decoding JSON: json: cannot unmarshal string into "
                             "Go value of type v1.ServerConfig");
    json_decref(t);
}

static void test_bandwidth_errors(void **state)
{
    (void)state;
    static const struct {
        const char *value, *want;
    } cases[] = {
        {"1GB", "unmarshal ProxyConfig error: unit not support"},
        {"1mb", "unmarshal ProxyConfig error: unit not support"},
        {"100", "unmarshal ProxyConfig error: unit not support"},
        {"MB", "unmarshal ProxyConfig error: strconv.ParseFloat: parsing \"\": invalid syntax"},
        {"xMB", "unmarshal ProxyConfig error: strconv.ParseFloat: parsing \"x\": invalid syntax"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char text[256];
        snprintf(text, sizeof text,
                 "{\"proxies\":[{\"name\":\"a\",\"type\":\"tcp\",\"transport\":{\"bandwidthLimit\":\"%s\"}}]}",
                 cases[i].value);
        expect_client_error(text, false, cases[i].want);
    }
    struct cfg_bandwidth b = {0};
    char err[128];
    assert_int_equal(cfg_bandwidth_parse(" 2MB ", &b, err, sizeof err), 0);
    assert_string_equal(b.text, "2MB");
    assert_int_equal(b.bytes, 2 * 1024 * 1024);
    assert_int_equal(cfg_bandwidth_parse("1.5KB", &b, err, sizeof err), 0);
    assert_int_equal(b.bytes, 1536);
    assert_int_equal(cfg_bandwidth_parse("", &b, err, sizeof err), 0);
    assert_string_equal(b.text, "");
    assert_int_equal(b.bytes, 0);
    free(b.text);
}

/* A saved error (unknown key, type mismatch) loses to a later custom decoder error;
 * the first saved error wins over later saved ones. */
static void test_error_precedence(void **state)
{
    (void)state;
    expect_client_error("{\"aaa\":1,\"proxies\":[{\"type\":\"foo\"}]}", false, "unknown proxy type: foo");
    expect_client_error("{\"aaa\":1,\"serverPort\":\"x\"}", false, "json: unknown field \"aaa\"");
    expect_client_error("{\"serverPort\":\"x\",\"aaa\":1}", false,
                        "json: cannot unmarshal string into Go struct field ClientConfig.serverPort of type int");
    /* Sorted walking changes which comes first. */
    expect_client_error("{\"zzz\":1,\"serverPort\":\"x\"}", true,
                        "json: cannot unmarshal string into Go struct field ClientConfig.serverPort of type int");
}

/* Loads YAML or JSON text through the loader and decodes it as frps (server) or frpc. */
static int load_text(const char *text, bool server, struct frps_config **sc, struct frpc_config **cc, char *err,
                     size_t len)
{
    struct cfg_source src;
    err[0] = '\0';
    int rc = cfg_source_load_text("t", text, strlen(text), true, &src, err, len);
    if (rc) return rc;
    rc = server ? cfg_server_decode(&src, true, sc, err, len) : cfg_client_decode(&src, true, cc, err, len);
    cfg_source_clear(&src);
    return rc;
}

static struct frps_config *yaml_server(const char *text)
{
    struct frps_config *c = NULL;
    char err[512];
    if (load_text(text, true, &c, NULL, err, sizeof err)) fail_msg("[%s]: %s", text, err);
    return c;
}

static void expect_load_error(const char *text, bool server, const char *want)
{
    struct frps_config *sc = NULL;
    struct frpc_config *cc = NULL;
    char err[512];
    if (load_text(text, server, &sc, &cc, err, sizeof err) == 0) fail_msg("[%s] loaded", text);
    if (strcmp(err, want) != 0) fail_msg("[%s]:\n got %s\nwant %s", text, err, want);
    assert_null(sc);
    assert_null(cc);
}

#define YP "error unmarshaling JSON: while decoding JSON: json: cannot unmarshal "

static void test_yaml_coercion(void **state)
{
    (void)state;
    struct frps_config *c = yaml_server("auth: {token: 12345678}\nsubDomainHost: yes\nbindAddr: 1.5\n"
                                        "httpPlugins: [{name: 7, ops: [Login, 1]}]\n");
    assert_string_equal(c->auth.token, "12345678");
    assert_string_equal(c->sub_domain_host, "true");
    assert_string_equal(c->bind_addr, "1.5");
    assert_string_equal(c->http_plugins.items[0].name, "7");
    assert_string_equal(c->http_plugins.items[0].ops.items[1], "1");
    cfg_server_free(c);
    /* Go's value, not the source text: hex/octal/binary ints, underscores, float32 'g' */
    static const struct {
        const char *yaml, *want;
    } cases[] = {
        {"0x1F", "31"}, {"0o17", "15"}, {"017", "15"}, {"0b101", "5"}, {"-0x10", "-16"}, {"1_000", "1000"},
        {"+7", "7"}, {"08", "8"}, {"1.0", "1"}, {"1e3", "1000"}, {".5", "0.5"}, {"3.14159265358979", "3.1415927"},
        {"1234567.0", "1.234567e+06"}, {"123456.0", "123456"}, {"0.0001", "0.0001"}, {"0.00001", "1e-05"},
        {"9223372036854775807", "9223372036854775807"}, {"18446744073709551615", "18446744073709551615"},
        {"99999999999999999999", "1e+20"}, {".inf", "+Inf"}, {"-.Inf", "-Inf"}, {".nan", "NaN"},
        {"No", "false"}, {"on", "true"}, {"1e400", "1e400"}, {"2024-01-02", "2024-01-02"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char text[128];
        snprintf(text, sizeof text, "auth:\n  token: %s\n", cases[i].yaml);
        c = yaml_server(text);
        if (strcmp(c->auth.token, cases[i].want) != 0)
            fail_msg("%s: got %s want %s", cases[i].yaml, c->auth.token, cases[i].want);
        cfg_server_free(c);
    }
    /* a null stays the zero value; a quoted number stays a string */
    c = yaml_server("subDomainHost: ~\nauth: {token: \"0x1F\"}\n");
    assert_string_equal(c->sub_domain_host, "");
    assert_string_equal(c->auth.token, "0x1F");
    cfg_server_free(c);
    /* webServer.tls is a pointer to TLSConfig: hinted; transport.tls embeds TLSConfig:
     * its promoted fields are not, and neither is the promoted `version` */
    c = yaml_server("webServer: {tls: {certFile: 1, keyFile: 2}}\n");
    assert_string_equal(c->web_server.tls->cert_file, "1");
    cfg_server_free(c);
    expect_load_error("transport: {tls: {certFile: 1}}\n", true,
                      YP "number into Go struct field TLSServerConfig.transport.tls.certFile of type string");
    expect_load_error("version: 1\n", true, YP "number into Go struct field ServerConfig.version of type string");
    /* never into integer fields, in either program */
    expect_load_error("bindPort: \"1\"\n", true, YP "string into Go struct field ServerConfig.bindPort of type int");
    /* a non-finite float that is not bound for a string cannot become JSON */
    expect_load_error("bindPort: .inf\n", true, "error converting YAML to JSON: json: unsupported value: +Inf");
    expect_load_error("b: .nan\na: -.inf\n", true, "error converting YAML to JSON: json: unsupported value: -Inf");
    /* whole floats are ints; a YAML uint64 keeps its digits in the error */
    c = yaml_server("bindPort: 7000.0\nvhostHTTPPort: 1e3\n");
    assert_int_equal(c->bind_port, 7000);
    assert_int_equal(c->vhost_http_port, 1000);
    cfg_server_free(c);
    expect_load_error("bindPort: 18446744073709551615\n", true,
                      YP "number 18446744073709551615 into Go struct field ServerConfig.bindPort of type int");
    expect_load_error("bindPort: 0x8000000000000000\n", true,
                      YP "number 9223372036854775808 into Go struct field ServerConfig.bindPort of type int");
    expect_load_error("bindPort: 1.5e300\n", true,
                      YP "number 1.5e+300 into Go struct field ServerConfig.bindPort of type int");

    /* frpc: the embedded ClientCommonConfig defeats the hint for its own keys */
    expect_load_error("user: yes\n", false, YP "bool into Go struct field ClientConfig.user of type string");
    expect_load_error("serverAddr: 1234\n", false, YP "number into Go struct field ClientConfig.serverAddr of type string");
    expect_load_error("auth: {token: 31}\n", false,
                      YP "number into Go struct field AuthClientConfig.auth.token of type string");
    expect_load_error("proxies: [{name: 1, type: tcp}]\n", false,
                      "error unmarshaling JSON: while decoding JSON: unmarshal ProxyConfig error: json: cannot "
                      "unmarshal number into Go struct field TCPProxyConfig.name of type string");
    expect_load_error("transport: {tls: {serverName: .inf}}\n", false,
                      "error converting YAML to JSON: json: unsupported value: +Inf");
    /* ... but a nested key that names a ClientCommonConfig string field is hinted by it */
    struct frpc_config *cc = NULL;
    char err[512];
    assert_int_equal(load_text("webServer: {user: 5}\n", false, NULL, &cc, err, sizeof err), 0);
    assert_string_equal(cc->web_server.user, "5");
    cfg_client_free(cc);
    expect_load_error("webServer: {user: 5, password: 6}\n", false,
                      YP "number into Go struct field WebServerConfig.webServer.password of type string");
}

/* JSON numbers reach Go's messages with their literal text. */
static void test_json_number_literals(void **state)
{
    (void)state;
    expect_load_error("{\"bindPort\": 7000.0}", true,
                      "json: cannot unmarshal number 7000.0 into Go struct field ServerConfig.bindPort of type int");
    expect_load_error("{\"bindPort\": 1E3}", true,
                      "json: cannot unmarshal number 1E3 into Go struct field ServerConfig.bindPort of type int");
    expect_load_error("{\"bindPort\": -0.0}", true,
                      "json: cannot unmarshal number -0.0 into Go struct field ServerConfig.bindPort of type int");
    expect_load_error("{\"bindPort\": 99999999999999999999}", true,
                      "json: cannot unmarshal number 99999999999999999999 into Go struct field "
                      "ServerConfig.bindPort of type int");
    expect_load_error("{\"bindPort\": 1e999}", true,
                      "json: cannot unmarshal number 1e999 into Go struct field ServerConfig.bindPort of type int");
    expect_load_error("{\"auth\": {\"token\": 1e999}}", true,
                      "json: cannot unmarshal number into Go struct field AuthServerConfig.auth.token of type string");
    expect_load_error("{\"proxies\":[{\"name\":\"a\",\"type\":\"tcp\",\"localPort\":22.5}]}", false,
                      "unmarshal ProxyConfig error: json: cannot unmarshal number 22.5 into Go struct field "
                      "TCPProxyConfig.localPort of type int");
    /* a big number under an unknown key is fine when not strict, as in Go */
    struct cfg_source src;
    char err[256];
    const char *t = "{\"x\": 123456789012345678901234567890, \"bindPort\": -9223372036854775808}";
    assert_int_equal(cfg_source_load_text("t", t, strlen(t), false, &src, err, sizeof err), 0);
    struct frps_config *c = NULL;
    assert_int_equal(cfg_server_decode(&src, false, &c, err, sizeof err), 0);
    assert_int_equal(c->bind_port, INT64_MIN);
    cfg_server_free(c);
    cfg_source_clear(&src);
    /* strings decode as Go's unquote: surrogate pairs, lone surrogates and bad UTF-8 */
    struct frps_config *s = NULL;
    const char *js = "{\"subDomainHost\": \"\\ud83d\\ude00|\\ud800x|\xff|\\u00e9\"}";
    assert_int_equal(load_text(js, true, &s, NULL, err, sizeof err), 0);
    assert_string_equal(s->sub_domain_host, "\xf0\x9f\x98\x80|\xef\xbf\xbdx|\xef\xbf\xbd|\xc3\xa9");
    cfg_server_free(s);
}

static void test_null_values(void **state)
{
    (void)state;
    json_t *t = load_json("{\"bindPort\": null, \"webServer\": {\"tls\": null}, \"allowPorts\": null,"
                          " \"transport\": {\"tcpMux\": null}}");
    struct frps_config *c = NULL;
    char err[256];
    assert_int_equal(server_decode(t, true, false, false, &c, err, sizeof err), 0);
    assert_int_equal(c->bind_port, 7000);
    assert_null(c->web_server.tls);
    assert_int_equal(c->allow_ports.n, 0);
    assert_int_equal(c->transport.tcp_mux, CFG_TRUE);
    cfg_server_free(c);
    json_decref(t);
}

/* encode(decode(x)) decodes back to an identical encoding. */
static void test_encode_round_trip(void **state)
{
    (void)state;
    const char *text =
        "{\"user\":\"u\",\"metadatas\":{\"b\":\"2\",\"a\":\"1\"},\"transport\":{\"tls\":{\"enable\":false}},"
        "\"webServer\":{\"port\":7400,\"tls\":{\"certFile\":\"c\",\"keyFile\":\"k\"}},"
        "\"proxies\":[{\"name\":\"web\",\"type\":\"http\",\"customDomains\":[\"a.com\"],\"locations\":[\"/\"],"
        "\"requestHeaders\":{\"set\":{\"x\":\"y\"}},\"healthCheck\":{\"type\":\"http\",\"path\":\"/s\","
        "\"httpHeaders\":[{\"name\":\"h\",\"value\":\"v\"}]},\"transport\":{\"bandwidthLimit\":\"1MB\"},"
        "\"plugin\":{\"type\":\"https2http\",\"localAddr\":\"1:2\"}},"
        "{\"name\":\"s\",\"type\":\"sudp\",\"secretKey\":\"k\",\"allowUsers\":[\"*\"]}],"
        "\"visitors\":[{\"name\":\"v\",\"type\":\"xtcp\",\"serverName\":\"s\",\"bindPort\":-1,\"fallbackTo\":\"f\"}]}";
    json_t *t = load_json(text);
    struct frpc_config *c = NULL;
    char err[256];
    assert_int_equal(cfg_client_from_tree(t, true, &c, err, sizeof err), 0);
    json_decref(t);
    json_t *enc = cfg_client_to_json(c);
    assert_non_null(enc);
    /* Spot checks of Go's shape. */
    json_t *p0 = json_array_get(json_object_get(enc, "proxies"), 0);
    assert_string_equal(json_string_value(json_object_get(p0, "name")), "u.web");
    assert_string_equal(json_string_value(json_object_get(json_object_get(p0, "transport"), "bandwidthLimitMode")),
                        "client");
    assert_true(json_is_true(json_object_get(json_object_get(p0, "plugin"), "enableHTTP2")));
    assert_int_equal(json_integer_value(json_object_get(json_object_get(p0, "healthCheck"), "intervalSeconds")), 0);
    json_t *v0 = json_array_get(json_object_get(enc, "visitors"), 0);
    assert_string_equal(json_string_value(json_object_get(v0, "serverName")), "u.s");
    assert_string_equal(json_string_value(json_object_get(v0, "fallbackTo")), "u.f");
    assert_string_equal(json_string_value(json_object_get(v0, "protocol")), "quic");
    char *dump = json_dumps(enc, JSON_COMPACT);
    assert_non_null(strstr(dump, "\"metadatas\":{\"a\":\"1\",\"b\":\"2\"}"));
    assert_non_null(strstr(dump, "{\"version\":\"\",\"auth\":{\"method\":\"token\",\"oidc\":{}},\"user\":\"u\""));
    free(dump);

    /* Decode the encoding (names are prefixed again, so compare with user cleared). */
    json_object_del(enc, "user");
    struct frpc_config *c2 = NULL;
    assert_int_equal(cfg_client_from_tree(enc, true, &c2, err, sizeof err), 0);
    json_t *enc2 = cfg_client_to_json(c2);
    assert_true(json_equal(enc, enc2));
    json_decref(enc);
    json_decref(enc2);

    /* Clone and equality of single proxies. */
    struct cfg_proxy *cl = cfg_proxy_clone(&c->proxies.items[0]);
    assert_non_null(cl);
    assert_true(cfg_proxy_equal(cl, &c->proxies.items[0]));
    assert_false(cfg_proxy_equal(cl, &c->proxies.items[1]));
    cl->local_port = 81;
    assert_false(cfg_proxy_equal(cl, &c->proxies.items[0]));
    cfg_proxy_free(cl);
    struct cfg_visitor *vc = cfg_visitor_clone(&c->visitors.items[0]);
    assert_true(cfg_visitor_equal(vc, &c->visitors.items[0]));
    cfg_visitor_free(vc);
    cfg_client_free(c);
    cfg_client_free(c2);
}

static void test_proxy_from_json(void **state)
{
    (void)state;
    json_t *t = load_json("{\"name\":\"a\",\"type\":\"udp\",\"remotePort\":53}");
    struct cfg_proxy *p = NULL;
    char err[256];
    assert_int_equal(cfg_proxy_from_json(t, true, &p, err, sizeof err), 0);
    assert_int_equal(p->type_id, CFG_PROXY_UDP);
    assert_int_equal(cfg_proxy_complete(p, "bob"), 0);
    assert_string_equal(p->name, "bob.a");
    assert_string_equal(p->local_ip, "127.0.0.1");
    assert_string_equal(cfg_proxy_type_name(p->type_id), "udp");
    assert_int_equal(cfg_proxy_type_parse("tcpmux"), CFG_PROXY_TCPMUX);
    assert_int_equal(cfg_proxy_type_parse("nope"), 0);
    cfg_proxy_free(p);
    json_decref(t);
    json_t *n = json_null();
    assert_int_not_equal(cfg_proxy_from_json(n, true, &p, err, sizeof err), 0);
    assert_string_equal(err, "type is required");
    json_decref(n);
}

static void test_types_helpers(void **state)
{
    (void)state;
    struct cfg_ports_range *r = NULL;
    size_t n = 0;
    char err[256];
    assert_int_equal(cfg_ports_parse(" 2000-3000, 3001 ,3003", &r, &n, err, sizeof err), 0);
    assert_int_equal(n, 3);
    assert_int_equal(r[0].start, 2000);
    assert_int_equal(r[0].end, 3000);
    assert_int_equal(r[1].single, 3001);
    char *s = cfg_ports_format(r, n);
    assert_string_equal(s, "2000-3000,3001,3003");
    assert_true(cfg_ports_allowed(r, n, 2500));
    assert_true(cfg_ports_allowed(r, n, 3003));
    assert_false(cfg_ports_allowed(r, n, 3002));
    assert_true(cfg_ports_allowed(NULL, 0, 1));
    assert_false(cfg_ports_allowed(NULL, 0, 0));
    free(s);
    free(r);
    assert_int_not_equal(cfg_ports_parse("1-x", &r, &n, err, sizeof err), 0);
    assert_string_equal(err, "range number is invalid, strconv.ParseInt: parsing \"x\": invalid syntax");
    assert_int_not_equal(cfg_ports_parse("5-1", &r, &n, err, sizeof err), 0);
    assert_string_equal(err, "range number is invalid");
    assert_int_not_equal(cfg_ports_parse("1-2-3", &r, &n, err, sizeof err), 0);
    assert_string_equal(err, "range number is invalid");
    assert_int_not_equal(cfg_ports_parse("", &r, &n, err, sizeof err), 0);
    assert_string_equal(err, "range number is invalid, strconv.ParseInt: parsing \"\": invalid syntax");

    char q[64];
    assert_string_equal(cfg_go_quote("a\"b\n\x01", q, sizeof q), "\"a\\\"b\\n\\x01\"");
    char f[64];
    cfg_go_float(7000.5, f, sizeof f);
    assert_string_equal(f, "7000.5");
    cfg_go_float(1e21, f, sizeof f);
    assert_string_equal(f, "1e+21");
    cfg_go_float(1e-7, f, sizeof f);
    assert_string_equal(f, "1e-7");
    cfg_go_float(0.001, f, sizeof f);
    assert_string_equal(f, "0.001");
    cfg_go_float(123456789012.0, f, sizeof f);
    assert_string_equal(f, "123456789012");

    char *c = cfg_path_clean("/a/./b/../c//d/");
    assert_string_equal(c, "/a/c/d");
    free(c);
    c = cfg_path_clean("../x/..");
    assert_string_equal(c, "..");
    free(c);
    c = cfg_path_clean("/..");
    assert_string_equal(c, "/");
    free(c);
    c = cfg_user_name("u", "");
    assert_string_equal(c, "u.");
    free(c);
    c = cfg_user_name("", "n");
    assert_string_equal(c, "n");
    free(c);
}

/* Decoding arbitrary shapes never crashes (ASan watches). */
static void test_bad_shapes(void **state)
{
    (void)state;
    static const char *const inputs[] = {
        "[]", "1", "{\"auth\":[]}", "{\"auth\":{\"oidc\":[1,2]}}", "{\"transport\":{\"quic\":\"x\"}}",
        "{\"allowPorts\":{}}", "{\"allowPorts\":[null,{\"start\":\"x\"}]}", "{\"httpPlugins\":[[]]}",
        "{\"log\":{\"maxDays\":1e300}}", "{\"webServer\":{\"tls\":{\"certFile\":{}}}}",
        "{\"proxies\":[{\"type\":\"tcp\",\"plugin\":[]}]}", "{\"proxies\":[{\"type\":\"http\",\"locations\":{}}]}",
        "{\"proxies\":[{\"type\":\"tcp\",\"plugin\":{\"type\":\"socks5\"},\"PLUGIN\":{\"type\":\"tls2raw\"}}]}",
        "{\"visitors\":[1]}", "{\"start\":[null,1]}", "{\"metadatas\":{\"a\":null}}",
    };
    for (size_t i = 0; i < sizeof inputs / sizeof inputs[0]; i++) {
        char err[512];
        json_t *t = load_json(inputs[i]);
        struct frps_config *s = NULL;
        struct frpc_config *c = NULL;
        if (server_decode(t, true, true, false, &s, err, sizeof err) == 0) {
            json_t *e = cfg_server_to_json(s);
            json_decref(e);
        }
        if (client_decode(t, false, false, false, &c, err, sizeof err) == 0) {
            assert_int_equal(cfg_client_finish(c), 0);
            json_t *e = cfg_client_to_json(c);
            json_decref(e);
        }
        cfg_server_free(s);
        cfg_client_free(c);
        json_decref(t);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_case_insensitive_keys), cmocka_unit_test(test_strict_unknown_keys),
        cmocka_unit_test(test_polymorphic_errors),    cmocka_unit_test(test_type_errors),
        cmocka_unit_test(test_bandwidth_errors),      cmocka_unit_test(test_error_precedence),
        cmocka_unit_test(test_yaml_coercion), cmocka_unit_test(test_json_number_literals),         cmocka_unit_test(test_null_values),
        cmocka_unit_test(test_encode_round_trip),     cmocka_unit_test(test_proxy_from_json),
        cmocka_unit_test(test_types_helpers),         cmocka_unit_test(test_bad_shapes),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
