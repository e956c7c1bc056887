/* frps command line (api.md 1.2): run from a config file or from flags, `verify`, and
 * cobra's help/completion; everything after validation is server_run(). */
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cmd/common_cli.h"
#include "cmd/common_run.h"
#include "config/config.h"
#include "config/legacy.h"
#include "config/server_config.h"
#include "config/types.h"
#include "server/server.h"

#define FRP_VERSION "0.61.1"

static const char *g_cfg_file;
static bool g_version, g_strict;
static const char *g_bind_addr, *g_proxy_bind_addr, *g_dash_addr, *g_dash_user, *g_dash_pwd;
static const char *g_log_file, *g_log_level, *g_token, *g_subdomain_host, *g_allow_ports;
static const char *g_dash_tls_cert, *g_dash_tls_key, *g_dash_tls_mode;
static long long g_bind_port, g_kcp_port, g_quic_port, g_vhost_http, g_vhost_https;
static long long g_vhost_timeout, g_dash_port, g_log_max_days, g_max_ports;
static bool g_prometheus, g_no_color, g_tls_only;

static int check_ports(const char *v, char *err, size_t errlen)
{
    struct cfg_ports_range *r = NULL;
    size_t n = 0;
    int rc = cfg_ports_parse(v, &r, &n, err, errlen);
    free(r);
    return rc;
}

/* The upstream flag is a bool-typed value whose Set never enables anything. */
static int check_anything(const char *v, char *err, size_t errlen)
{
    return 0;
}

static struct cli_flag g_root_flags[] = {
    CLI_FLAG("config", 'c', CLI_STRING, &g_cfg_file, "", "config file of frps"),
    CLI_FLAG("version", 'v', CLI_BOOL, &g_version, "false", "version of frps"),
    CLI_FLAG("strict_config", 0, CLI_BOOL, &g_strict, "true",
     "strict config parsing mode, unknown fields will cause errors"),
    CLI_FLAG("bind_addr", 0, CLI_STRING, &g_bind_addr, "0.0.0.0", "bind address"),
    CLI_FLAG("bind_port", 'p', CLI_INT, &g_bind_port, "7000", "bind port"),
    CLI_FLAG("kcp_bind_port", 0, CLI_INT, &g_kcp_port, "0", "kcp bind udp port"),
    CLI_FLAG("quic_bind_port", 0, CLI_INT, &g_quic_port, "0", "quic bind udp port"),
    CLI_FLAG("proxy_bind_addr", 0, CLI_STRING, &g_proxy_bind_addr, "0.0.0.0", "proxy bind address"),
    CLI_FLAG("vhost_http_port", 0, CLI_INT, &g_vhost_http, "0", "vhost http port"),
    CLI_FLAG("vhost_https_port", 0, CLI_INT, &g_vhost_https, "0", "vhost https port"),
    CLI_FLAG("vhost_http_timeout", 0, CLI_INT, &g_vhost_timeout, "60",
     "vhost http response header timeout"),
    CLI_FLAG("dashboard_addr", 0, CLI_STRING, &g_dash_addr, "0.0.0.0", "dashboard address"),
    CLI_FLAG("dashboard_port", 0, CLI_INT, &g_dash_port, "0", "dashboard port"),
    CLI_FLAG("dashboard_user", 0, CLI_STRING, &g_dash_user, "admin", "dashboard user"),
    CLI_FLAG("dashboard_pwd", 0, CLI_STRING, &g_dash_pwd, "admin", "dashboard password"),
    CLI_FLAG("enable_prometheus", 0, CLI_BOOL, &g_prometheus, "false", "enable prometheus dashboard"),
    CLI_FLAG("log_file", 0, CLI_STRING, &g_log_file, "console", "log file"),
    CLI_FLAG("log_level", 0, CLI_STRING, &g_log_level, "info", "log level"),
    CLI_FLAG("log_max_days", 0, CLI_INT, &g_log_max_days, "3", "log max days"),
    CLI_FLAG("disable_log_color", 0, CLI_BOOL, &g_no_color, "false", "disable log color in console"),
    CLI_FLAG("token", 't', CLI_STRING, &g_token, "", "auth token"),
    CLI_FLAG("subdomain_host", 0, CLI_STRING, &g_subdomain_host, "", "subdomain host"),
    CLI_FLAG_CUSTOM("allow_ports", 0, CLI_CUSTOM, &g_allow_ports, "", "allow ports", "string", check_ports),
    CLI_FLAG("max_ports_per_client", 0, CLI_INT, &g_max_ports, "0", "max ports per client"),
    CLI_FLAG("tls_only", 0, CLI_BOOL, &g_tls_only, "false", "frps tls only"),
    CLI_FLAG("dashboard_tls_cert_file", 0, CLI_STRING, &g_dash_tls_cert, "", "dashboard tls cert file"),
    CLI_FLAG("dashboard_tls_key_file", 0, CLI_STRING, &g_dash_tls_key, "", "dashboard tls key file"),
    CLI_FLAG_CUSTOM("dashboard_tls_mode", 0, CLI_CUSTOM, &g_dash_tls_mode, "false",
     "if enable dashboard tls mode", "bool", check_anything),
    CLI_FLAG_END,
};

/* The config-file-shaped tree of the flags (frps without -c). New reference. */
static json_t *flags_tree(void)
{
    json_t *t = json_pack(
        "{s:s, s:I, s:I, s:I, s:s, s:I, s:I, s:I, s:b, s:s, s:I, s:{s:s, s:I, s:s, s:s},"
        " s:{s:s, s:s, s:I, s:b}, s:{s:s}, s:{s:{s:b}}}",
        "bindAddr", g_bind_addr, "bindPort", (json_int_t)g_bind_port, "kcpBindPort",
        (json_int_t)g_kcp_port, "quicBindPort", (json_int_t)g_quic_port, "proxyBindAddr",
        g_proxy_bind_addr, "vhostHTTPPort", (json_int_t)g_vhost_http, "vhostHTTPSPort",
        (json_int_t)g_vhost_https, "vhostHTTPTimeout", (json_int_t)g_vhost_timeout,
        "enablePrometheus", g_prometheus, "subDomainHost", g_subdomain_host,
        "maxPortsPerClient", (json_int_t)g_max_ports, "webServer", "addr", g_dash_addr, "port",
        (json_int_t)g_dash_port, "user", g_dash_user, "password", g_dash_pwd, "log", "to",
        g_log_file, "level", g_log_level, "maxDays", (json_int_t)g_log_max_days,
        "disablePrintColor", g_no_color, "auth", "token", g_token, "transport", "tls", "force",
        g_tls_only);
    if (!t) return NULL;
    struct cfg_ports_range *r = NULL;
    size_t n = 0;
    char err[256];
    if (g_allow_ports[0] && cfg_ports_parse(g_allow_ports, &r, &n, err, sizeof err) == 0) {
        json_t *arr = json_array();
        for (size_t i = 0; arr && i < n; i++) {
            json_t *e = r[i].single > 0 ? json_pack("{s:I}", "single", (json_int_t)r[i].single)
                                        : json_pack("{s:I, s:I}", "start", (json_int_t)r[i].start,
                                                    "end", (json_int_t)r[i].end);
            if (e) json_array_append_new(arr, e);
        }
        if (arr) json_object_set_new(t, "allowPorts", arr);
    }
    free(r);
    return t;
}

/* Loads (file or flags) and validates. Returns the config, or NULL after printing. */
static struct frps_config *load_and_validate(bool verify)
{
    struct frps_config *cfg = NULL;
    char err[4096] = "";
    int rc;
    if (g_cfg_file[0]) {
        rc = cfg_server_load(g_cfg_file, g_strict, &cfg, err, sizeof err);
        if (rc == 0 && !verify && cfg_legacy_detect_file(g_cfg_file))
            printf("%s\n", CFG_LEGACY_WARNING);
    } else {
        json_t *tree = flags_tree();
        rc = tree ? cfg_server_from_tree(tree, true, &cfg, err, sizeof err) : -1;
        if (!tree) snprintf(err, sizeof err, "out of memory");
        json_decref(tree);
    }
    if (rc != 0) {
        printf("%s\n", err);
        fflush(stdout);
        cfg_server_free(cfg);
        return NULL;
    }
    char *warnings = NULL, *errors = NULL;
    cfg_server_validate(cfg, &warnings, &errors);
    if (cli_report_validation(warnings, errors)) {
        cfg_server_free(cfg);
        return NULL;
    }
    return cfg;
}

static int run_root(struct cli_cmd *cmd, int argc, char **argv)
{
    if (g_version) {
        printf("%s\n", FRP_VERSION);
        return 0;
    }
    struct frps_config *cfg = load_and_validate(false);
    if (!cfg) return 1;
    cli_setup_log(&cfg->log);
    int rc = server_run(cfg, g_cfg_file[0] ? g_cfg_file : NULL);
    cfg_server_free(cfg);
    return rc == 0 ? 0 : 1;
}

static int run_verify(struct cli_cmd *cmd, int argc, char **argv)
{
    if (!g_cfg_file[0]) {
        printf("frps: the configuration file is not specified\n");
        return 0;
    }
    struct frps_config *cfg = load_and_validate(true);
    if (!cfg) return 1;
    cfg_server_free(cfg);
    printf("frps: the configuration file %s syntax is ok\n", g_cfg_file);
    return 0;
}

static struct cli_cmd g_verify = {
    .name = "verify",
    .short_desc = "Verify that the configures is valid",
    .run = run_verify,
};

static struct cli_cmd g_root = {
    .name = "frps",
    .short_desc = "frps is the server of frp (https://github.com/fatedier/frp)",
    .pflags = g_root_flags,
    .run = run_root,
};

int main(int argc, char **argv)
{
    cli_add(&g_root, &g_verify);
    int rc = cli_execute(&g_root, argc, argv);
    fflush(stdout);
    return rc;
}
