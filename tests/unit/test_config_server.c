/* Tests of the frps configuration: completed defaults, the upstream example files (TOML
 * from spec/examples, JSON fixtures of ours), every validation rule with frp's exact
 * text (the frps cases of spec/vectors/cli-output.txt section 2), and the checks frps
 * runs when a proxy registers. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "config/client_config.h"
#include "config/config.h"
#include "config/server_config.h"
#include "config/toml.h"
#include "config/yaml_tree.h"

/* cfg_server_decode of a bare tree: TOML-like (sorted), JSON, or YAML without raw. */
static int server_decode(json_t *t, bool strict, bool sorted, bool yaml, struct frps_config **c, char *err,
                         size_t len)
{
    struct cfg_source src = {t, yaml ? CFG_FORMAT_YAML : sorted ? CFG_FORMAT_TOML : CFG_FORMAT_JSON, NULL};
    return cfg_server_decode(&src, strict, c, err, len);
}

static char *read_file(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    assert_non_null(f);
    char *buf = malloc(1 << 20);
    assert_non_null(buf);
    *len = fread(buf, 1, (1 << 20) - 1, f);
    buf[*len] = '\0';
    fclose(f);
    return buf;
}

static struct frps_config *from_toml_text(const char *text)
{
    json_t *tree = NULL;
    char err[512];
    assert_int_equal(toml_parse(text, strlen(text), 0, &tree, err, sizeof err), 0);
    struct frps_config *c = NULL;
    int rc = server_decode(tree, true, true, false, &c, err, sizeof err);
    if (rc) fail_msg("decode: %s", err);
    json_decref(tree);
    return c;
}

static struct frps_config *from_toml_file(const char *path)
{
    size_t len;
    char *text = read_file(path, &len);
    struct frps_config *c = from_toml_text(text);
    free(text);
    return c;
}

static struct frps_config *from_yaml_file(const char *path)
{
    size_t len;
    char *text = read_file(path, &len);
    json_t *tree = NULL;
    char err[512];
    if (yaml_tree_parse(text, len, true, &tree, NULL, err, sizeof err)) fail_msg("yaml: %s", err);
    free(text);
    struct frps_config *c = NULL;
    if (server_decode(tree, true, true, true, &c, err, sizeof err)) fail_msg("decode: %s", err);
    json_decref(tree);
    return c;
}

static struct frps_config *from_json_file(const char *path)
{
    json_error_t je;
    json_t *tree = json_load_file(path, 0, &je);
    assert_non_null(tree);
    struct frps_config *c = NULL;
    char err[512];
    if (server_decode(tree, true, false, false, &c, err, sizeof err)) fail_msg("decode: %s", err);
    json_decref(tree);
    return c;
}

/* Validates and returns the error text (or "" / "ok"), checking warnings are none. */
static void expect_validate(const struct frps_config *c, const char *want_errors)
{
    char *w = NULL, *e = NULL;
    int rc = cfg_server_validate(c, &w, &e);
    assert_null(w);
    if (!want_errors) {
        if (e) fail_msg("unexpected errors: %s", e);
        assert_int_equal(rc, 0);
    } else {
        assert_int_not_equal(rc, 0);
        assert_non_null(e);
        assert_string_equal(e, want_errors);
    }
    free(e);
}

static void test_defaults(void **state)
{
    (void)state;
    struct frps_config *c = from_toml_text("");
    json_t *got = cfg_server_to_json(c);
    json_error_t je;
    /* Go's json.Marshal of the completed ServerConfig of an empty file (config.md 11). */
    json_t *want = json_loads(
        "{\"version\":\"\",\"auth\":{\"method\":\"token\",\"oidc\":{}},\"bindAddr\":\"0.0.0.0\","
        "\"bindPort\":7000,\"proxyBindAddr\":\"0.0.0.0\",\"vhostHTTPTimeout\":60,"
        "\"sshTunnelGateway\":{\"autoGenPrivateKeyPath\":\"./.autogen_ssh_key\"},"
        "\"webServer\":{\"addr\":\"127.0.0.1\"},\"log\":{\"to\":\"console\",\"level\":\"info\",\"maxDays\":3},"
        "\"transport\":{\"tcpMux\":true,\"tcpMuxKeepaliveInterval\":30,\"tcpKeepalive\":7200,"
        "\"maxPoolCount\":5,\"heartbeatTimeout\":-1,\"quic\":{\"keepalivePeriod\":10,\"maxIdleTimeout\":30,"
        "\"maxIncomingStreams\":100000},\"tls\":{}},\"detailedErrorsToClient\":true,\"userConnTimeout\":10,"
        "\"udpPacketSize\":1500,\"natholeAnalysisDataReserveHours\":168}",
        0, &je);
    assert_non_null(want);
    if (!json_equal(got, want)) {
        char *s = json_dumps(got, JSON_COMPACT);
        fail_msg("got %s", s);
    }
    /* Key order is Go's field order. */
    char *s = json_dumps(got, JSON_COMPACT);
    assert_non_null(strstr(s, "{\"version\":\"\",\"auth\":{\"method\":\"token\",\"oidc\":{}},\"bindAddr\":"));
    free(s);
    assert_string_equal(c->proxy_bind_addr, "0.0.0.0");
    assert_string_equal(c->sub_domain_host, "");
    json_decref(got);
    json_decref(want);
    expect_validate(c, NULL);
    cfg_server_free(c);
}

static void test_completion_rules(void **state)
{
    (void)state;
    struct frps_config *c = from_toml_text(
        "bindAddr = \"::\"\nbindPort = 0\nlog.maxDays = -1\ntransport.tcpMux = false\n"
        "transport.tls.trustedCaFile = \"ca\"\nwebServer.port = 7500\n");
    assert_string_equal(c->proxy_bind_addr, "::");
    assert_int_equal(c->bind_port, 7000);
    assert_int_equal(c->log.max_days, -1);
    assert_int_equal(c->transport.tcp_mux, CFG_FALSE);
    assert_int_equal(c->transport.heartbeat_timeout, 90);
    assert_true(c->transport.tls.force);
    assert_string_equal(c->web_server.addr, "127.0.0.1");
    cfg_server_free(c);
    c = from_toml_text("detailedErrorsToClient = false\ntransport.heartbeatTimeout = -5\n");
    assert_int_equal(c->detailed_errors_to_client, CFG_FALSE);
    assert_int_equal(c->transport.heartbeat_timeout, -5);
    cfg_server_free(c);
}

static void test_examples(void **state)
{
    (void)state;
    static const char *const names[] = {"frps", "frps_full_example"};
    for (size_t i = 0; i < 2; i++) {
        char path[512];
        snprintf(path, sizeof path, "%s/spec/examples/conf/%s.toml", CFRP_SHARED_DIR, names[i]);
        struct frps_config *t = from_toml_file(path);
        expect_validate(t, NULL);
        snprintf(path, sizeof path, "%s/tests/unit/fixtures/config/%s.json", CFRP_SOURCE_DIR, names[i]);
        struct frps_config *j = from_json_file(path);
        snprintf(path, sizeof path, "%s/tests/unit/fixtures/config/%s.yaml", CFRP_SOURCE_DIR, names[i]);
        struct frps_config *y = from_yaml_file(path);
        json_t *et = cfg_server_to_json(t), *ej = cfg_server_to_json(j), *ey = cfg_server_to_json(y);
        assert_true(json_equal(et, ej));
        assert_true(json_equal(et, ey));
        json_decref(et);
        json_decref(ej);
        json_decref(ey);
        cfg_server_free(y);
        if (i == 1) {
            assert_int_equal(t->kcp_bind_port, 7000);
            assert_int_equal(t->vhost_https_port, 443);
            assert_string_equal(t->auth.token, "12345678");
            assert_true(t->enable_prometheus);
            assert_int_equal(t->allow_ports.n, 4);
            assert_int_equal(t->allow_ports.items[1].single, 3001);
            assert_int_equal(t->allow_ports.items[3].end, 50000);
            assert_int_equal(t->http_plugins.n, 2);
            assert_string_equal(t->http_plugins.items[1].name, "port-manager");
            assert_string_equal(t->http_plugins.items[1].ops.items[0], "NewProxy");
            assert_string_equal(t->sub_domain_host, "frps.com");
            assert_string_equal(t->log.to, "./frps.log");
        }
        cfg_server_free(t);
        cfg_server_free(j);
    }
}

static void test_validation_rules(void **state)
{
    (void)state;
    static const struct {
        const char *toml, *want;
    } cases[] = {
        {"kcpBindPort = -1\nquicBindPort = 65536\nvhostHTTPPort = 99999\nvhostHTTPSPort = -5\n"
         "tcpmuxHTTPConnectPort = 70000\n",
         "kcpBindPort: port number -1 must be in the range 0..65535\n"
         "quicBindPort: port number 65536 must be in the range 0..65535\n"
         "vhostHTTPPort: port number 99999 must be in the range 0..65535\n"
         "vhostHTTPSPort: port number -5 must be in the range 0..65535\n"
         "tcpMuxHTTPConnectPort: port number 70000 must be in the range 0..65535"},
        {"webServer.port = 70000\nwebServer.tls = {}\n", "tls.certFile must be specified when tls is enabled"},
        {"webServer.tls.certFile = \"c\"\n", "tls.keyFile must be specified when tls is enabled"},
        {"webServer.port = 70000\n", "webServer.port: port number 70000 must be in the range 0..65535"},
        {"bindPort = 70000\n", "bindPort: port number 70000 must be in the range 0..65535"},
        {"auth.method = \"Token\"\n", "invalid auth method, optional values are [token oidc]"},
        {"auth.additionalScopes = [\"heartbeats\"]\n",
         "invalid auth additional scopes, optional values are [HeartBeats NewWorkConns]"},
        {"log.level = \"INFO\"\n", "invalid log level, optional values are [trace debug info warn error]"},
        {"[[httpPlugins]]\nname = \"a\"\nops = [\"Login\", \"login\"]\n",
         "invalid http plugin ops, optional values are [Login NewProxy CloseProxy Ping NewWorkConn NewUserConn]"},
        {"auth.method = \"x\"\nlog.level = \"x\"\nbindPort = -1\n",
         "invalid auth method, optional values are [token oidc]\n"
         "invalid log level, optional values are [trace debug info warn error]\n"
         "bindPort: port number -1 must be in the range 0..65535"},
        {"allowPorts = [{start = 3000, end = 2000}]\n", NULL},
        {"maxPortsPerClient = -1\nsshTunnelGateway.bindPort = 99999\n", NULL},
        {"BINDPORT = 7001\n", NULL},
        {"auth.method = \"oidc\"\nauth.additionalScopes = [\"HeartBeats\", \"NewWorkConns\"]\n", NULL},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        struct frps_config *c = from_toml_text(cases[i].toml);
        expect_validate(c, cases[i].want);
        cfg_server_free(c);
    }
}

static struct cfg_proxy *proxy(const char *json)
{
    json_error_t je;
    json_t *t = json_loads(json, 0, &je);
    assert_non_null(t);
    struct cfg_proxy *p = NULL;
    char err[256];
    assert_int_equal(cfg_proxy_from_json(t, true, &p, err, sizeof err), 0);
    assert_int_equal(cfg_proxy_complete(p, ""), 0);
    json_decref(t);
    return p;
}

static void test_proxy_server_checks(void **state)
{
    (void)state;
    struct frps_config *none = from_toml_text("");
    struct frps_config *full = from_toml_text(
        "vhostHTTPPort = 80\nvhostHTTPSPort = 443\ntcpmuxHTTPConnectPort = 1337\nsubDomainHost = \"frps.com\"\n");
    static const struct {
        const char *proxy;
        bool full;
        const char *want;
    } cases[] = {
        {"{\"type\":\"http\",\"name\":\"a\",\"subdomain\":\"x\"}", false,
         "type [http] not supported when vhost http port is not set"},
        {"{\"type\":\"https\",\"name\":\"a\",\"subdomain\":\"x\"}", false,
         "type [https] not supported when vhost https port is not set"},
        {"{\"type\":\"tcpmux\",\"name\":\"a\",\"multiplexer\":\"httpconnect\"}", false,
         "tcpmux with multiplexer httpconnect not supported because this feature is not enabled in server"},
        {"{\"type\":\"http\",\"name\":\"a\",\"customDomains\":[\"a.frps.com\"]}", true,
         "custom domain [a.frps.com] should not belong to subdomain host [frps.com]"},
        {"{\"type\":\"http\",\"name\":\"a\",\"customDomains\":[\"a.frps.com.cn\"]}", true,
         "custom domain [a.frps.com.cn] should not belong to subdomain host [frps.com]"},
        {"{\"type\":\"https\",\"name\":\"a\",\"subdomain\":\"a.b\"}", true,
         "'.' and '*' are not supported in subdomain"},
        {"{\"type\":\"tcp\",\"name\":\"a\",\"annotations\":{\"-x\":\"1\"}}", false,
         "annotation key -x is invalid: name part must consist of alphanumeric characters, '-', '_' or '.', "
         "and must start and end with an alphanumeric character (e.g. 'MyName',  or 'my.name',  or "
         "'123-abc', regex used for validation is '([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]')"},
        {"{\"type\":\"http\",\"name\":\"a\",\"customDomains\":[\"web.test.org\"],\"subdomain\":\"w\"}", true, NULL},
        {"{\"type\":\"xtcp\",\"name\":\"a\"}", false, NULL},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        struct cfg_proxy *p = proxy(cases[i].proxy);
        char err[1024] = "";
        int rc = cfg_proxy_validate_server(p, cases[i].full ? full : none, err, sizeof err);
        if (cases[i].want) {
            assert_int_not_equal(rc, 0);
            assert_string_equal(err, cases[i].want);
        } else {
            assert_int_equal(rc, 0);
        }
        cfg_proxy_free(p);
    }
    struct cfg_proxy *p = proxy("{\"type\":\"http\",\"name\":\"a\",\"subdomain\":\"x\"}");
    char err[256];
    full->sub_domain_host[0] = '\0';
    assert_int_not_equal(cfg_proxy_validate_server(p, full, err, sizeof err), 0);
    assert_string_equal(err, "subdomain is not supported because this feature is not enabled in server");
    cfg_proxy_free(p);
    cfg_server_free(none);
    cfg_server_free(full);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_defaults),         cmocka_unit_test(test_completion_rules),
        cmocka_unit_test(test_examples),         cmocka_unit_test(test_validation_rules),
        cmocka_unit_test(test_proxy_server_checks),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
