/* Tests of legacy INI loading (config/legacy.h, config.md 9) through cfg_server_load /
 * cfg_client_load: the two *_legacy_full.ini examples convert to the values config.md
 * gives (legacy defaults included), range sections, visitors, plugins, typeless
 * proxies, inheritance, the start filter, and frp's legacy error texts. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "config/client_config.h"
#include "config/config.h"
#include "config/legacy.h"
#include "config/server_config.h"

#define EX CFRP_SHARED_DIR "/spec/examples/conf/legacy/"

/* Path of a value in a JSON tree: "a.b" or "proxies.3.name". */
static json_t *at(json_t *t, const char *path)
{
    char buf[256];
    snprintf(buf, sizeof buf, "%s", path);
    for (char *tok = strtok(buf, "."); tok && t; tok = strtok(NULL, "."))
        t = json_is_array(t) ? json_array_get(t, (size_t)atoi(tok)) : json_object_get(t, tok);
    return t;
}

static void str_at(json_t *t, const char *path, const char *want)
{
    json_t *v = at(t, path);
    if (!json_is_string(v)) fail_msg("%s is not a string", path);
    assert_string_equal(json_string_value(v), want);
}

static void int_at(json_t *t, const char *path, long long want)
{
    json_t *v = at(t, path);
    if (!json_is_integer(v)) fail_msg("%s is not an integer", path);
    assert_int_equal(json_integer_value(v), want);
}

static void bool_at(json_t *t, const char *path, bool want)
{
    json_t *v = at(t, path);
    if (!json_is_boolean(v)) fail_msg("%s is not a bool", path);
    assert_int_equal(json_is_true(v), want);
}

static char g_path[64];

static const char *write_tmp(const char *text)
{
    snprintf(g_path, sizeof g_path, "/tmp/cfrp-legacy-XXXXXX");
    int fd = mkstemp(g_path);
    assert_true(fd >= 0);
    assert_int_equal(write(fd, text, strlen(text)), (ssize_t)strlen(text));
    close(fd);
    return g_path;
}

static json_t *client_json(const char *text, struct frpc_config **keep)
{
    char err[512] = "";
    struct frpc_config *cfg = NULL;
    const char *p = write_tmp(text);
    int rc = cfg_client_load(p, true, &cfg, err, sizeof err);
    unlink(p);
    if (rc) fail_msg("load failed: %s", err);
    json_t *j = cfg_client_to_json(cfg);
    if (keep) *keep = cfg;
    else cfg_client_free(cfg);
    return j;
}

static void client_err(const char *text, const char *want)
{
    char err[512] = "";
    struct frpc_config *cfg = NULL;
    const char *p = write_tmp(text);
    int rc = cfg_client_load(p, true, &cfg, err, sizeof err);
    unlink(p);
    assert_true(rc != 0);
    assert_null(cfg);
    assert_string_equal(err, want);
}

/* Index of the proxy (or visitor) named name in arr, or fails. */
static json_t *named(json_t *arr, const char *name)
{
    size_t i;
    json_t *v;
    json_array_foreach(arr, i, v) if (!strcmp(json_string_value(json_object_get(v, "name")), name)) return v;
    fail_msg("no %s", name);
    return NULL;
}

static void test_detect(void **state)
{
    (void)state;
    const char *ini = "[common]\nbind_port = 7000\n";
    assert_true(cfg_legacy_detect(ini, strlen(ini)));
    const char *bare = "[common]\nenable_prometheus\n";
    assert_false(cfg_legacy_detect(bare, strlen(bare)));
    const char *other = "[Common]\nx = 1\n";
    assert_false(cfg_legacy_detect(other, strlen(other)));
    const char *toml = "bindPort = 7000\n";
    assert_false(cfg_legacy_detect(toml, strlen(toml)));
    assert_true(cfg_legacy_detect_file(EX "frps_legacy_full.ini"));
    assert_false(cfg_legacy_detect_file(CFRP_SHARED_DIR "/spec/examples/conf/frps.toml"));
    assert_false(cfg_legacy_detect_file("/nonexistent/x.ini"));
}

static void test_frps_full(void **state)
{
    (void)state;
    char err[512] = "";
    struct frps_config *cfg = NULL;
    assert_int_equal(cfg_server_load(EX "frps_legacy_full.ini", true, &cfg, err, sizeof err), 0);
    char *w = NULL, *e = NULL;
    assert_int_equal(cfg_server_validate(cfg, &w, &e), 0);
    assert_null(e);
    free(w);
    json_t *j = cfg_server_to_json(cfg);
    str_at(j, "bindAddr", "0.0.0.0");
    int_at(j, "bindPort", 7000);
    int_at(j, "kcpBindPort", 7000);
    int_at(j, "vhostHTTPPort", 80);
    int_at(j, "vhostHTTPSPort", 443);
    str_at(j, "webServer.addr", "0.0.0.0");
    int_at(j, "webServer.port", 7500);
    str_at(j, "webServer.user", "admin");
    str_at(j, "webServer.password", "admin");
    bool_at(j, "enablePrometheus", true);
    str_at(j, "log.to", "./frps.log");
    int_at(j, "log.maxDays", 3);
    str_at(j, "auth.method", "token");
    str_at(j, "auth.token", "12345678");
    str_at(j, "subDomainHost", "frps.com");
    int_at(j, "transport.maxPoolCount", 5);
    bool_at(j, "transport.tcpMux", true);
    bool_at(j, "detailedErrorsToClient", true);
    int_at(j, "natholeAnalysisDataReserveHours", 168);
    int_at(j, "allowPorts.0.start", 2000);
    int_at(j, "allowPorts.0.end", 3000);
    int_at(j, "allowPorts.1.single", 3001);
    int_at(j, "allowPorts.3.end", 50000);
    assert_int_equal(json_array_size(at(j, "httpPlugins")), 2);
    str_at(j, "httpPlugins.0.name", "user-manager");
    str_at(j, "httpPlugins.0.addr", "127.0.0.1:9000");
    str_at(j, "httpPlugins.0.ops.0", "Login");
    str_at(j, "httpPlugins.1.name", "port-manager");
    str_at(j, "httpPlugins.1.path", "/handler");
    assert_null(at(j, "webServer.tls"));
    json_decref(j);
    cfg_server_free(cfg);
}

static void test_frps_quirks(void **state)
{
    (void)state;
    char err[512] = "";
    struct frps_config *cfg = NULL;
    const char *p = write_tmp("[common]\nbind_port = abc\ntoken = a # b\nallow_ports = 1-x\n"
                              "pprof_enable = true\ntcp_mux = false\ndetailed_errors_to_client = no\n"
                              "authenticate_heartbeats = true\nvhost_http_port = 0x50\n"
                              "[plugin.p]\naddr = x\n[plugin.p.q]\npath = /h\n");
    assert_int_equal(cfg_server_load(p, true, &cfg, err, sizeof err), 0);
    unlink(p);
    json_t *j = cfg_server_to_json(cfg);
    int_at(j, "bindPort", 7000);
    str_at(j, "auth.token", "a # b");
    assert_null(at(j, "allowPorts"));
    assert_null(at(j, "webServer.pprofEnable")); /* only with dashboard_tls_mode */
    bool_at(j, "transport.tcpMux", false);
    int_at(j, "transport.heartbeatTimeout", 90);
    bool_at(j, "detailedErrorsToClient", false);
    str_at(j, "auth.additionalScopes.0", "HeartBeats");
    int_at(j, "vhostHTTPPort", 80);
    str_at(j, "httpPlugins.1.name", "p.q");
    str_at(j, "httpPlugins.1.addr", "x"); /* inherited from [plugin.p] */
    json_decref(j);
    cfg_server_free(cfg);
    cfg = NULL;
    p = write_tmp("[common]\ndashboard_tls_mode = true\ndashboard_tls_cert_file = c.crt\n"
                  "dashboard_tls_key_file = c.key\npprof_enable = true\n");
    assert_int_equal(cfg_server_load(p, true, &cfg, err, sizeof err), 0);
    unlink(p);
    j = cfg_server_to_json(cfg);
    str_at(j, "webServer.tls.certFile", "c.crt");
    str_at(j, "webServer.tls.keyFile", "c.key");
    bool_at(j, "webServer.pprofEnable", true);
    json_decref(j);
    cfg_server_free(cfg);
}

static void test_frpc_full(void **state)
{
    (void)state;
    char err[512] = "";
    struct frpc_config *cfg = NULL;
    assert_int_equal(cfg_client_load(EX "frpc_legacy_full.ini", true, &cfg, err, sizeof err), 0);
    json_t *j = cfg_client_to_json(cfg);
    str_at(j, "serverAddr", "0.0.0.0");
    int_at(j, "serverPort", 7000);
    str_at(j, "user", "your_name");
    str_at(j, "auth.method", "token"); /* empty in the file */
    str_at(j, "auth.token", "12345678");
    str_at(j, "webServer.addr", "127.0.0.1");
    int_at(j, "webServer.port", 7400);
    int_at(j, "transport.poolCount", 5);
    str_at(j, "transport.connectServerLocalIP", "0.0.0.0");
    bool_at(j, "transport.tls.enable", true);
    bool_at(j, "loginFailExit", true);
    str_at(j, "metadatas.var1", "123");
    str_at(j, "metadatas.var2", "234");
    str_at(j, "log.to", "./frpc.log");
    json_t *px = at(j, "proxies");
    json_t *ssh = named(px, "your_name.ssh");
    str_at(ssh, "type", "tcp");
    int_at(ssh, "localPort", 22);
    int_at(ssh, "remotePort", 6001);
    str_at(ssh, "transport.bandwidthLimit", "1MB");
    str_at(ssh, "loadBalancer.group", "test_group");
    str_at(ssh, "healthCheck.type", "tcp");
    int_at(ssh, "healthCheck.maxFailed", 3);
    str_at(ssh, "metadatas.var2", "234");
    /* [range:tcp_port]: 6010-6020,6022,6024-6028 = 17 proxies */
    int n = 0;
    size_t i;
    json_t *v;
    json_array_foreach(px, i, v) n += !strncmp(json_string_value(json_object_get(v, "name")),
                                               "your_name.tcp_port_", 19);
    assert_int_equal(n, 17);
    int_at(named(px, "your_name.tcp_port_11"), "localPort", 6022);
    int_at(named(px, "your_name.tcp_port_16"), "remotePort", 6028);
    str_at(named(px, "your_name.udp_port_10"), "type", "udp");
    json_t *web = named(px, "your_name.web01");
    str_at(web, "locations.1", "/pic");
    str_at(web, "httpPassword", "admin");
    str_at(web, "requestHeaders.set.X-From-Where", "frp");
    str_at(web, "healthCheck.path", "/status");
    bool_at(web, "transport.useCompression", true);
    str_at(named(px, "your_name.web02"), "transport.proxyProtocolVersion", "v2");
    str_at(named(px, "your_name.plugin_unix_domain_socket"), "plugin.unixPath",
           "/var/run/docker.sock");
    str_at(named(px, "your_name.plugin_socks5"), "plugin.username", "abc");
    str_at(named(px, "your_name.plugin_static_file"), "plugin.stripPrefix", "static");
    json_t *h2 = named(px, "your_name.plugin_https2http");
    str_at(h2, "plugin.type", "https2http");
    str_at(h2, "plugin.crtPath", "./server.crt");
    str_at(h2, "plugin.requestHeaders.set.X-From-Where", "frp");
    bool_at(h2, "plugin.enableHTTP2", true);
    json_t *vs = at(j, "visitors");
    json_t *sv = named(vs, "your_name.secret_tcp_visitor");
    str_at(sv, "serverName", "your_name.secret_tcp");
    str_at(sv, "bindAddr", "127.0.0.1");
    json_t *xv = named(vs, "your_name.p2p_tcp_visitor");
    str_at(xv, "protocol", "quic");
    int_at(xv, "maxRetriesAnHour", 8);
    json_decref(j);
    char *w = NULL, *e = NULL;
    cfg_client_validate(cfg, &w, &e);
    assert_null(e);
    free(w);
    cfg_client_free(cfg);
}

static void test_frpc_sections(void **state)
{
    (void)state;
    struct frpc_config *cfg = NULL;
    json_t *j = client_json("[common]\nserver_port = 0x1B58\ntls_enable = false\n"
                            "start = web.b,notype,r_1,v\n"
                            "[web]\ntype = http\nlocal_port = 80\nmeta_x = 1\n"
                            "[web.b]\ncustom_domains = b.example.com, c.example.com\n"
                            "[notype]\nlocal_port = 22\nremote_port = 6000\n"
                            "[range:r]\nlocal_port = 1000-1002\nremote_port = 2000,2001,2002\n"
                            "[v]\nrole = visitor\ntype = xtcp\nserver_name = s\n"
                            "max_retries_an_hour = -1\nbind_port = -1\n",
                            &cfg);
    int_at(j, "serverPort", 7000);
    bool_at(j, "transport.tls.enable", false);
    json_t *px = at(j, "proxies");
    assert_int_equal(json_array_size(px), 3); /* start keeps web.b, notype, r_1 */
    json_t *b = named(px, "web.b");
    str_at(b, "type", "http");
    int_at(b, "localPort", 80); /* inherited */
    str_at(b, "customDomains.1", "c.example.com");
    assert_null(at(b, "metadatas")); /* meta_ keys are not inherited */
    json_t *nt = named(px, "notype");
    str_at(nt, "type", ""); /* v1 type stays empty (config.md 9.6) */
    int_at(nt, "remotePort", 6000);
    int_at(named(px, "r_1"), "localPort", 1001);
    int_at(named(px, "r_1"), "remotePort", 2001);
    json_t *v = named(at(j, "visitors"), "v");
    int_at(v, "maxRetriesAnHour", 8);
    int_at(v, "bindPort", -1);
    for (size_t i = 0; i < cfg->proxies.n; i++)
        if (!strcmp(cfg->proxies.items[i].name, "notype"))
            assert_int_equal(cfg->proxies.items[i].type_id, CFG_PROXY_TCP);
    json_decref(j);
    cfg_client_free(cfg);
}

static void test_frpc_plugins_extra(void **state)
{
    (void)state;
    json_t *j = client_json("[common]\n[a]\ntype = tcp\nplugin = http2http\n"
                            "plugin_local_addr = 127.0.0.1:80\nplugin_header_X = 1\n"
                            "[b]\ntype = https\ncustom_domains = x\nplugin = tls2raw\n"
                            "plugin_local_addr = 127.0.0.1:81\nplugin_crt_path = c\n",
                            NULL);
    json_t *px = at(j, "proxies");
    str_at(named(px, "a"), "plugin.type", "http2http");
    str_at(named(px, "a"), "plugin.localAddr", "127.0.0.1:80");
    str_at(named(px, "a"), "plugin.requestHeaders.set.X", "1");
    str_at(named(px, "b"), "plugin.crtPath", "c");
    json_decref(j);
}

static void test_frpc_errors(void **state)
{
    (void)state;
    client_err("[common]\nheartbeat_interval = 30\nheartbeat_timeout = 10\n",
               "parse config error: invalid heartbeat_timeout, heartbeat_timeout is less than "
               "heartbeat_interval");
    client_err("[common]\nprotocol = udp\n", "parse config error: invalid protocol");
    client_err("[common]\nincludes = /nonexistent-dir/*.ini\n",
               "parse config error: include: directory of /nonexistent-dir/*.ini not exist");
    client_err("[common]\n[p]\ntype = foo\n", "failed to parse proxy p, err: invalid type [foo]");
    client_err("[common]\n[p]\nbandwidth_limit = 10XB\n",
               "failed to parse proxy p, err: unit not support");
    client_err("[common]\n[p]\nrole = x\n", "proxy p role should be 'server' or 'visitor'");
    client_err("[common]\n[v]\nrole = visitor\n",
               "failed to parse visitor v, err: type shouldn't be empty");
    client_err("[common]\n[v]\nrole = visitor\ntype = tcp\n",
               "failed to parse visitor v, err: type [tcp] error");
    client_err("[common]\n[range:r]\nlocal_port = 1-3\nremote_port = 5\n",
               "failed to render template for proxy range:r: local ports number should be same "
               "with remote ports number");
    client_err("[common]\n[range:r]\nlocal_port = 1\n",
               "failed to render template for proxy range:r: local_port or remote_port is empty");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_detect),         cmocka_unit_test(test_frps_full),
        cmocka_unit_test(test_frps_quirks),    cmocka_unit_test(test_frpc_full),
        cmocka_unit_test(test_frpc_sections),  cmocka_unit_test(test_frpc_plugins_extra),
        cmocka_unit_test(test_frpc_errors),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
