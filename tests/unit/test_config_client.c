/* Tests of the frpc configuration: completed defaults, the upstream example files (TOML
 * from spec/examples, JSON fixtures of ours), the `start` filter, the user prefix, and
 * the frpc verify cases of spec/vectors/cli-output.txt section 2 driven from a table
 * (load error or validation output, exact texts). */
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
#include "config/toml.h"
#include "config/yaml_tree.h"

/* cfg_client_decode of a bare tree: TOML-like (sorted), JSON, or YAML without raw. */
static int client_decode(json_t *t, bool strict, bool sorted, bool yaml, struct frpc_config **c, char *err,
                         size_t len)
{
    struct cfg_source src = {t, yaml ? CFG_FORMAT_YAML : sorted ? CFG_FORMAT_TOML : CFG_FORMAT_JSON, NULL};
    return cfg_client_decode(&src, strict, c, err, len);
}

/* Loads TOML text as frpc does (decode, finish). Returns rc; err gets the load error. */
static int load_toml(const char *text, bool strict, struct frpc_config **out, char *err, size_t len)
{
    json_t *tree = NULL;
    err[0] = '\0';
    assert_int_equal(toml_parse(text, strlen(text), 0, &tree, err, len), 0);
    int rc = client_decode(tree, strict, true, false, out, err, len);
    json_decref(tree);
    if (rc) return rc;
    assert_int_equal(cfg_client_finish(*out), 0);
    return 0;
}

static struct frpc_config *must_toml(const char *text)
{
    struct frpc_config *c = NULL;
    char err[512];
    if (load_toml(text, true, &c, err, sizeof err)) fail_msg("load: %s", err);
    return c;
}

/* What `frpc verify` prints for a file: load error, or "WARNING: w\n" + errors, or "ok". */
static char *verify_output(const char *toml)
{
    struct frpc_config *c = NULL;
    char err[2048];
    char *out = NULL;
    if (load_toml(toml, true, &c, err, sizeof err)) {
        assert_true(asprintf(&out, "%s", err) > 0);
        return out;
    }
    char *w = NULL, *e = NULL;
    int rc = cfg_client_validate(c, &w, &e);
    assert_int_equal(rc != 0, e != NULL);
    assert_true(asprintf(&out, "%s%s%s%s", w ? "WARNING: " : "", w ? w : "", w ? "\n" : "",
                         e ? e : "ok") > 0);
    free(w);
    free(e);
    cfg_client_free(c);
    return out;
}

static void test_defaults(void **state)
{
    (void)state;
    setenv("http_proxy", "http://p:3128", 1);
    struct frpc_config *c = must_toml("");
    unsetenv("http_proxy");
    json_t *got = cfg_client_to_json(c);
    json_error_t je;
    json_t *want = json_loads(
        "{\"version\":\"\",\"auth\":{\"method\":\"token\",\"oidc\":{}},\"serverAddr\":\"0.0.0.0\","
        "\"serverPort\":7000,\"natHoleStunServer\":\"stun.easyvoip.com:3478\",\"loginFailExit\":true,"
        "\"log\":{\"to\":\"console\",\"level\":\"info\",\"maxDays\":3},\"webServer\":{\"addr\":\"127.0.0.1\"},"
        "\"transport\":{\"protocol\":\"tcp\",\"dialServerTimeout\":10,\"dialServerKeepalive\":7200,"
        "\"proxyURL\":\"http://p:3128\",\"poolCount\":1,\"tcpMux\":true,\"tcpMuxKeepaliveInterval\":30,"
        "\"quic\":{\"keepalivePeriod\":10,\"maxIdleTimeout\":30,\"maxIncomingStreams\":100000},"
        "\"heartbeatInterval\":-1,\"heartbeatTimeout\":-1,"
        "\"tls\":{\"enable\":true,\"disableCustomTLSFirstByte\":true}},\"udpPacketSize\":1500}",
        0, &je);
    assert_non_null(want);
    if (!json_equal(got, want)) fail_msg("got %s", json_dumps(got, JSON_COMPACT));
    json_decref(got);
    json_decref(want);
    cfg_client_free(c);

    c = must_toml("transport.tcpMux = false\ntransport.poolCount = 0\nloginFailExit = false\n");
    assert_int_equal(c->transport.heartbeat_interval, 30);
    assert_int_equal(c->transport.heartbeat_timeout, 90);
    assert_int_equal(c->transport.pool_count, 1);
    assert_int_equal(c->login_fail_exit, CFG_FALSE);
    assert_int_equal(c->transport.tls.enable, CFG_TRUE);
    cfg_client_free(c);
}

static void test_examples(void **state)
{
    (void)state;
    static const char *const names[] = {"frpc", "frpc_full_example"};
    for (size_t i = 0; i < 2; i++) {
        char path[512];
        snprintf(path, sizeof path, "%s/spec/examples/conf/%s.toml", CFRP_SHARED_DIR, names[i]);
        FILE *f = fopen(path, "rb");
        assert_non_null(f);
        static char text[1 << 16];
        size_t n = fread(text, 1, sizeof text - 1, f);
        text[n] = '\0';
        fclose(f);
        char *out = verify_output(text);
        assert_string_equal(out, "ok");
        free(out);
        struct frpc_config *t = must_toml(text);

        snprintf(path, sizeof path, "%s/tests/unit/fixtures/config/%s.json", CFRP_SOURCE_DIR, names[i]);
        json_error_t je;
        json_t *tree = json_load_file(path, 0, &je);
        assert_non_null(tree);
        struct frpc_config *j = NULL;
        char err[512];
        assert_int_equal(cfg_client_from_tree(tree, true, &j, err, sizeof err), 0);
        json_decref(tree);
        snprintf(path, sizeof path, "%s/tests/unit/fixtures/config/%s.yaml", CFRP_SOURCE_DIR, names[i]);
        f = fopen(path, "rb");
        assert_non_null(f);
        n = fread(text, 1, sizeof text - 1, f);
        fclose(f);
        struct frpc_config *y = NULL;
        assert_int_equal(yaml_tree_parse(text, n, true, &tree, NULL, err, sizeof err), 0);
        assert_int_equal(client_decode(tree, true, true, true, &y, err, sizeof err), 0);
        assert_int_equal(cfg_client_finish(y), 0);
        json_decref(tree);
        json_t *et = cfg_client_to_json(t), *ej = cfg_client_to_json(j), *ey = cfg_client_to_json(y);
        assert_true(json_equal(et, ej));
        assert_true(json_equal(et, ey));
        json_decref(et);
        json_decref(ej);
        json_decref(ey);
        cfg_client_free(y);
        if (i == 1) {
            assert_int_equal(t->proxies.n, 17);
            assert_int_equal(t->visitors.n, 2);
            const struct cfg_proxy *ssh = &t->proxies.items[0];
            assert_string_equal(ssh->name, "your_name.ssh");
            assert_int_equal(ssh->transport.bandwidth_limit.bytes, 1024 * 1024);
            assert_string_equal(cfg_strmap_get(&ssh->annotations, "prefix/key2"), "value2");
            assert_int_equal(ssh->health_check.max_failed, 3);
            const struct cfg_proxy *web = &t->proxies.items[3];
            assert_int_equal(web->type_id, CFG_PROXY_HTTP);
            assert_string_equal(cfg_strmap_get(&web->request_headers.set, "x-from-where"), "frp");
            assert_string_equal(web->health_check.http_headers.items[0].value, "frp");
            assert_int_equal(web->locations.n, 2);
            const struct cfg_proxy *h2h = &t->proxies.items[10];
            assert_int_equal(h2h->plugin.type_id, CFG_PLUGIN_HTTPS2HTTP);
            assert_int_equal(h2h->plugin.enable_http2, CFG_TRUE);
            assert_string_equal(h2h->plugin.crt_path, "./server.crt");
            const struct cfg_visitor *v = &t->visitors.items[1];
            assert_string_equal(v->name, "your_name.p2p_tcp_visitor");
            assert_string_equal(v->server_name, "user1.p2p_tcp");
            assert_int_equal(v->fallback_timeout_ms, 1000);
            assert_string_equal(cfg_strmap_get(&t->metadatas, "var2"), "123");
            assert_int_equal(t->transport.pool_count, 5);
        }
        cfg_client_free(t);
        cfg_client_free(j);
    }
}

/* frp README's port-range example (config.md 3.3): parseNumberRangePair with trim
 * markers and an environment variable, in TOML, and the same range in YAML and JSON. */
static struct frpc_config *load_rendered(const char *text)
{
    struct cfg_source src;
    char err[512];
    if (cfg_source_load_text("t", text, strlen(text), true, &src, err, sizeof err)) fail_msg("load: %s", err);
    struct frpc_config *c = NULL;
    if (cfg_client_decode(&src, true, &c, err, sizeof err)) fail_msg("decode: %s", err);
    cfg_source_clear(&src);
    assert_int_equal(cfg_client_finish(c), 0);
    return c;
}

static void test_readme_port_ranges(void **state)
{
    (void)state;
    assert_int_equal(setenv("FRP_SERVER_ADDR", "10.1.2.3", 1), 0);
    static const char *const texts[] = {
        "serverAddr = \"{{ .Envs.FRP_SERVER_ADDR }}\"\n"
        "{{- range $_, $v := parseNumberRangePair \"6000-6006,6007\" \"6000-6006,6007\" }}\n"
        "[[proxies]]\nname = \"tcp-{{ $v.First }}\"\ntype = \"tcp\"\nlocalPort = {{ $v.First }}\n"
        "remotePort = {{ $v.Second }}\n{{- end }}\n",
        "serverAddr: {{ .Envs.FRP_SERVER_ADDR }}\nproxies:\n"
        "{{- range $_, $v := parseNumberRangePair \"6000-6006,6007\" \"6000-6006,6007\" }}\n"
        "  - name: tcp-{{ $v.First }}\n    type: tcp\n    localPort: {{ $v.First }}\n"
        "    remotePort: {{ $v.Second }}\n{{- end }}\n",
        "{\"serverAddr\": \"{{ .Envs.FRP_SERVER_ADDR }}\", \"proxies\": ["
        "{{- range $i, $v := parseNumberRangePair \"6000-6006,6007\" \"6000-6006,6007\" }}"
        "{{ if $i }},{{ end }}{\"name\": \"tcp-{{ $v.First }}\", \"type\": \"tcp\", \"localPort\": {{ $v.First }},"
        " \"remotePort\": {{ $v.Second }}}{{ end }}]}",
    };
    for (size_t t = 0; t < 3; t++) {
        struct frpc_config *c = load_rendered(texts[t]);
        assert_string_equal(c->server_addr, "10.1.2.3");
        assert_int_equal(c->proxies.n, 8);
        for (size_t i = 0; i < 8; i++) {
            char name[32];
            snprintf(name, sizeof name, "tcp-%zu", 6000 + i);
            assert_string_equal(c->proxies.items[i].name, name);
            assert_string_equal(c->proxies.items[i].type, "tcp");
            assert_int_equal(c->proxies.items[i].local_port, 6000 + (int64_t)i);
            assert_int_equal(c->proxies.items[i].remote_port, 6000 + (int64_t)i);
        }
        cfg_client_free(c);
    }
    /* different pairings: element i with element i */
    struct frpc_config *c = load_rendered(
        "{{- range $_, $v := parseNumberRangePair \"22,8080-8081\" \"7022,9080-9081\" }}\n"
        "[[proxies]]\nname = \"p{{ $v.First }}\"\ntype = \"tcp\"\nlocalPort = {{ $v.First }}\n"
        "remotePort = {{ $v.Second }}\n{{- end }}\n");
    assert_int_equal(c->proxies.n, 3);
    assert_int_equal(c->proxies.items[0].local_port, 22);
    assert_int_equal(c->proxies.items[0].remote_port, 7022);
    assert_int_equal(c->proxies.items[2].local_port, 8081);
    assert_int_equal(c->proxies.items[2].remote_port, 9081);
    cfg_client_free(c);
}

static void test_start_filter(void **state)
{
    (void)state;
    struct frpc_config *c = must_toml(
        "user = \"u\"\nstart = [\"b\", \"v1\", \"zz\"]\n"
        "[[proxies]]\nname = \"a\"\ntype = \"tcp\"\n[[proxies]]\nname = \"b\"\ntype = \"udp\"\n"
        "[[visitors]]\nname = \"v1\"\ntype = \"stcp\"\nserverName = \"s\"\nbindPort = 1\n"
        "[[visitors]]\nname = \"v2\"\ntype = \"sudp\"\nserverName = \"s\"\nbindPort = 2\n");
    assert_int_equal(c->proxies.n, 1);
    assert_string_equal(c->proxies.items[0].name, "u.b");
    assert_int_equal(c->visitors.n, 1);
    assert_string_equal(c->visitors.items[0].name, "u.v1");
    assert_string_equal(c->visitors.items[0].server_name, "u.s");
    cfg_client_free(c);
}

/* The frpc rows of cli-output.txt section 2 (plus neighbours): TOML in, stdout out. */
static void test_verify_table(void **state)
{
    (void)state;
    static const struct {
        const char *toml, *want;
    } cases[] = {
        {"transport.tls.enable = false\ntransport.tls.certFile = \"c\"\ntransport.heartbeatInterval = 30\n"
         "transport.heartbeatTimeout = 10\ntransport.protocol = \"udp\"\n",
         "WARNING: transport.tls.certFile is invalid when transport.tls.enable is false\n"
         "invalid transport.heartbeatTimeout, heartbeat timeout should not less than heartbeat interval\n"
         "invalid transport.protocol, optional values are [tcp kcp quic websocket wss]"},
        {"transport.tls.enable = false\ntransport.tls.certFile = \"c\"\ntransport.tls.keyFile = \"k\"\n"
         "transport.tls.trustedCaFile = \"ca\"\n",
         "WARNING: transport.tls.certFile is invalid when transport.tls.enable is false\n"
         "transport.tls.keyFile is invalid when transport.tls.enable is false\n"
         "transport.tls.trustedCaFile is invalid when transport.tls.enable is false\nok"},
        {"[[proxies]]\nname = \"a\"\ntype = \"tcp\"\nannotations = {\"-x\" = \"1\", \"Bad Key\" = \"2\"}\n",
         "proxy a: annotation key -x is invalid: name part must consist of alphanumeric characters, '-', '_' or "
         "'.', and must start and end with an alphanumeric character (e.g. 'MyName',  or 'my.name',  or "
         "'123-abc', regex used for validation is '([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]')\n"
         "annotation key Bad Key is invalid: name part must consist of alphanumeric characters, '-', '_' or "
         "'.', and must start and end with an alphanumeric character (e.g. 'MyName',  or 'my.name',  or "
         "'123-abc', regex used for validation is '([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]')"},
        {"[[proxies]]\nname = \"a\"\ntype = \"tcp\"\nannotations = {\"Ex.com/ok\" = \"1\", \"a/b/c\" = \"2\"}\n",
         "proxy a: annotation key a/b/c is invalid: a qualified name must consist of alphanumeric characters, "
         "'-', '_' or '.', and must start and end with an alphanumeric character (e.g. 'MyName',  or "
         "'my.name',  or '123-abc', regex used for validation is '([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]') "
         "with an optional DNS subdomain prefix and '/' (e.g. 'example.com/MyName')"},
        {"[[proxies]]\nname = \"a\"\ntype = \"tcp\"\nannotations = {\"-p/n\" = \"1\"}\n",
         "proxy a: annotation key -p/n is invalid: prefix part a lowercase RFC 1123 subdomain must consist of "
         "lower case alphanumeric characters, '-' or '.', and must start and end with an alphanumeric character "
         "(e.g. 'example.com', regex used for validation is "
         "'[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')"},
        {"user = \"u1\"\n[[proxies]]\nname = \"web\"\ntype = \"http\"\n",
         "proxy u1.web: subdomain and custom domains should not be both empty"},
        {"[[proxies]]\nname = \"a\"\ntype = \"tcp\"\nlocalPort = 70000\n",
         "proxy a: localPort: localPort: port number 70000 must be in the range 0..65535"},
        {"[[proxies]]\nname = \"a\"\ntype = \"stcp\"\nremotePort = 1\n",
         "unmarshal ProxyConfig error: json: unknown field \"remotePort\""},
        {"[[proxies]]\nname = \"a\"\ntype = \"tcp\"\ntransport.proxyProtocolVersion = \"v3\"\n",
         "proxy a: not support proxy protocol version: v3"},
        {"[[proxies]]\nname = \"a\"\ntype = \"tcp\"\ntransport.bandwidthLimitMode = \"both\"\n",
         "proxy a: bandwidth limit mode should be client or server"},
        {"[[proxies]]\nname = \"a\"\ntype = \"tcp\"\ntransport.bandwidthLimit = \"1GB\"\n",
         "unmarshal ProxyConfig error: unit not support"},
        {"[[proxies]]\nname = \"a\"\ntype = \"tcp\"\ntransport.bandwidthLimit = 100\n",
         "unmarshal ProxyConfig error: json: cannot unmarshal number into Go struct field "
         "ProxyTransport.transport.bandwidthLimit of type string"},
        {"[[proxies]]\nname = \"a\"\ntype = \"tcp\"\nhealthCheck.type = \"udp\"\n",
         "proxy a: not support health check type: udp"},
        {"[[proxies]]\nname = \"a\"\ntype = \"tcp\"\nhealthCheck.type = \"http\"\n",
         "proxy a: health check path should not be empty"},
        {"[[proxies]]\nname = \"a\"\ntype = \"tcp\"\n[proxies.plugin]\ntype = \"static_file\"\n",
         "proxy a: plugin static_file: localPath is required"},
        {"[[proxies]]\nname = \"a\"\ntype = \"tcp\"\n[proxies.plugin]\ntype = \"unix_domain_socket\"\n",
         "proxy a: plugin unix_domain_socket: unixPath is required"},
        {"[[proxies]]\nname = \"a\"\ntype = \"tcp\"\n[proxies.plugin]\ntype = \"tls2raw\"\n",
         "proxy a: plugin tls2raw: localAddr is required"},
        {"[[proxies]]\nname = \"a\"\ntype = \"tcp\"\nlocalPort = 70000\n[proxies.plugin]\ntype = \"http2http\"\n",
         "ok"},
        {"[[proxies]]\nname = \"a\"\ntype = \"tcp\"\n[proxies.plugin]\ntype = \"foo\"\n",
         "unmarshal ProxyConfig error: unknown plugin type: foo"},
        {"[[proxies]]\nname = \"a\"\ntype = \"tcp\"\n[proxies.plugin]\ntype = \"\"\n",
         "unmarshal ProxyConfig error: plugin type is empty"},
        {"[[proxies]]\nname = \"a\"\ntype = \"tcp\"\n[proxies.plugin]\ntype = \"socks5\"\nx = 1\n",
         "unmarshal ProxyConfig error: unmarshal ClientPluginOptions error: json: unknown field \"x\""},
        {"[[proxies]]\nname = \"a\"\ntype = \"tcpmux\"\ncustomDomains = [\"t\"]\n",
         "proxy a: not support multiplexer: "},
        {"[[proxies]]\nname = \"a\"\ntype = \"tcpmux\"\nmultiplexer = \"httpconnect\"\n",
         "proxy a: subdomain and custom domains should not be both empty"},
        {"[[proxies]]\nname = \"a\"\ntype = \"foo\"\n", "unknown proxy type: foo"},
        {"[[proxies]]\nname = \"a\"\n", "unknown proxy type: "},
        {"user = \"u\"\n[[proxies]]\ntype = \"tcp\"\n", "ok"},
        {"[[proxies]]\ntype = \"tcp\"\n", "proxy : name should not be empty"},
        {"[[proxies]]\nname = \"a\"\ntype = \"tcp\"\n[[proxies]]\nname = \"a\"\ntype = \"tcp\"\n", "ok"},
        {"serverPort = 99999\n[[proxies]]\nname = \"a\"\ntype = \"tcp\"\nremotePort = 99999\n", "ok"},
        {"[[visitors]]\nname = \"v\"\ntype = \"stcp\"\nserverName = \"s\"\n", "visitor v: bind port is required"},
        {"[[visitors]]\nname = \"v\"\ntype = \"xtcp\"\nserverName = \"s\"\nbindPort = 1\nprotocol = \"tcp\"\n",
         "visitor v: protocol should be kcp or quic"},
        {"[[visitors]]\nname = \"v\"\ntype = \"http\"\n", "unknown visitor type: http"},
        {"[[visitors]]\ntype = \"stcp\"\nserverName = \"s\"\nbindPort = -1\n", "visitor : name is required"},
        {"[[visitors]]\nname = \"v\"\ntype = \"stcp\"\nbindPort = 1\n", "visitor v: server name is required"},
        {"webServer.tls.certFile = \"c\"\n", "tls.keyFile must be specified when tls is enabled"},
        {"loginFailExit = \"false\"\n",
         "json: cannot unmarshal string into Go struct field ClientConfig.loginFailExit of type bool"},
        {"auth.method = \"Token\"\nauth.additionalScopes = [\"x\"]\nlog.level = \"INFO\"\n"
         "[[proxies]]\ntype = \"tcp\"\n",
         "invalid auth method, optional values are [token oidc]\n"
         "invalid auth additional scopes, optional values are [HeartBeats NewWorkConns]\n"
         "invalid log level, optional values are [trace debug info warn error]"},
        {"includes = [\"/nonexistent-cfrp-dir/*.toml\"]\n",
         "include: directory of /nonexistent-cfrp-dir/*.toml not exist"},
        {"[[proxies]]\nname = \"a\"\ntype = \"tcp\"\n[[proxies]]\nname = \"b\"\ntype = \"http\"\n"
         "[[visitors]]\nname = \"v\"\ntype = \"stcp\"\n",
         "proxy b: subdomain and custom domains should not be both empty"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char *out = verify_output(cases[i].toml);
        if (strcmp(out, cases[i].want) != 0) fail_msg("case %zu:\n got: %s\nwant: %s", i, out, cases[i].want);
        free(out);
    }
}

static void test_strict_off(void **state)
{
    (void)state;
    struct frpc_config *c = NULL;
    char err[256];
    assert_int_equal(load_toml("bogus = 1\n[[proxies]]\nname = \"a\"\ntype = \"http\"\nremotePort = 1\n"
                               "subdomain = \"s\"\n",
                               false, &c, err, sizeof err),
                     0);
    assert_int_equal(c->proxies.n, 1);
    assert_int_equal(c->proxies.items[0].remote_port, 0);
    cfg_client_free(c);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_defaults),     cmocka_unit_test(test_examples),
        cmocka_unit_test(test_start_filter), cmocka_unit_test(test_verify_table),
        cmocka_unit_test(test_strict_off), cmocka_unit_test(test_readme_port_ranges),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
