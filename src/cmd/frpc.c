/* frpc command line (api.md 1.3): run from a config file (or one per file of a
 * directory), `verify`, the admin commands reload/status/stop, the quick proxy and
 * visitor commands, `nathole discover`, and cobra's help/completion. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <netdb.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "client/client.h"
#include "cmd/common_cli.h"
#include "cmd/common_run.h"
#include "config/client_config.h"
#include "config/config.h"
#include "config/legacy.h"
#include "config/types.h"

#define FRP_VERSION "0.61.1"
#define NPROXY 8
#define NVISITOR 3

static const char *g_cfg_file, *g_cfg_dir;
static bool g_version, g_strict;
static int64_t g_api_timeout_ns;

/* ---- root: run ---------------------------------------------------------------------- */

/* Loads, validates and runs one config file; returns the exit status. */
static int run_client_file(const char *path)
{
    struct frpc_config *cfg = NULL;
    char err[4096] = "";
    if (cfg_client_load(path, g_strict, &cfg, err, sizeof err) != 0) {
        printf("%s\n", err);
        cfg_client_free(cfg);
        return 1;
    }
    if (cfg_legacy_detect_file(path))
        printf("%s\n", CFG_LEGACY_WARNING);
    char *warnings = NULL, *errors = NULL;
    cfg_client_validate(cfg, &warnings, &errors);
    if (cli_report_validation(warnings, errors)) {
        cfg_client_free(cfg);
        return 1;
    }
    cli_setup_log(&cfg->log);
    int rc = client_run(cfg, path);
    cfg_client_free(cfg);
    return rc == 0 ? 0 : 1;
}

/* --config_dir: one frpc per regular file found recursively; always exit 0. */
static void run_dir(const char *dir, int *children)
{
    DIR *d = opendir(dir);
    if (!d) return;
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0) continue;
        char path[4096];
        int n = snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
        if (n < 0 || (size_t)n >= sizeof path) continue;
        struct stat st;
        if (stat(path, &st) != 0) continue;
        if (S_ISDIR(st.st_mode)) {
            run_dir(path, children);
            continue;
        }
        fflush(stdout);
        pid_t pid = fork();
        if (pid == 0) {
            int rc = run_client_file(path);
            if (rc != 0) printf("frpc service error for config file [%s]\n", path);
            fflush(stdout);
            _exit(0);
        }
        if (pid > 0) (*children)++;
        usleep(1000);
    }
    closedir(d);
}

static int run_root(struct cli_cmd *cmd, int argc, char **argv)
{
    if (g_version) {
        printf("%s\n", FRP_VERSION);
        return 0;
    }
    if (g_cfg_dir[0]) {
        int children = 0;
        run_dir(g_cfg_dir, &children);
        while (children > 0 && wait(NULL) > 0) children--;
        return 0;
    }
    return run_client_file(g_cfg_file);
}

static int run_verify(struct cli_cmd *cmd, int argc, char **argv)
{
    if (!g_cfg_file[0]) {
        printf("frpc: the configuration file is not specified\n");
        return 0;
    }
    struct frpc_config *cfg = NULL;
    char err[4096] = "";
    if (cfg_client_load(g_cfg_file, g_strict, &cfg, err, sizeof err) != 0) {
        printf("%s\n", err);
        cfg_client_free(cfg);
        return 1;
    }
    char *warnings = NULL, *errors = NULL;
    cfg_client_validate(cfg, &warnings, &errors);
    cfg_client_free(cfg);
    if (cli_report_validation(warnings, errors)) return 1;
    printf("frpc: the configuration file %s syntax is ok\n", g_cfg_file);
    return 0;
}

/* ---- admin commands ----------------------------------------------------------------- */

/* Connects to host:port within timeout_ms; 0 or a negative errno (-ETIMEDOUT). The
 * numeric address tried is written to shown. */
static int dial_blocking(const char *host, int64_t port, int timeout_ms, char *shown,
                         size_t cap)
{
    char ps[32];
    snprintf(ps, sizeof ps, "%lld", (long long)port);
    snprintf(shown, cap, "%s:%s", host, ps);
    struct addrinfo hints = {.ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM}, *res;
    if (getaddrinfo(host, ps, &hints, &res) != 0 || !res) return -ENOENT;
    char ip[NI_MAXHOST] = "";
    getnameinfo(res->ai_addr, res->ai_addrlen, ip, sizeof ip, NULL, 0, NI_NUMERICHOST);
    snprintf(shown, cap, res->ai_family == AF_INET6 ? "[%s]:%s" : "%s:%s", ip, ps);
    int fd = socket(res->ai_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    int rc = 0;
    if (fd < 0) rc = -errno;
    else if (connect(fd, res->ai_addr, res->ai_addrlen) != 0) {
        if (errno != EINPROGRESS) {
            rc = -errno;
        } else {
            struct pollfd p = {.fd = fd, .events = POLLOUT};
            int pr = poll(&p, 1, timeout_ms);
            if (pr == 0) {
                rc = -ETIMEDOUT;
            } else {
                int soerr = 0;
                socklen_t sl = sizeof soerr;
                getsockopt(fd, SOL_SOCKET, SO_ERROR, &soerr, &sl);
                rc = -soerr;
            }
        }
    }
    if (fd >= 0) close(fd);
    freeaddrinfo(res);
    return rc;
}

static int run_admin(struct cli_cmd *cmd, int argc, char **argv)
{
    struct frpc_config *cfg = NULL;
    char err[4096] = "";
    if (cfg_client_load(g_cfg_file, g_strict, &cfg, err, sizeof err) != 0) {
        printf("%s\n", err);
        cfg_client_free(cfg);
        return 1;
    }
    if (cfg->web_server.port <= 0) {
        printf("web server port should be set if you want to use this feature\n");
        cfg_client_free(cfg);
        return 1;
    }
    const char *method = strcmp(cmd->name, "stop") == 0 ? "Post" : "Get";
    const char *path = strcmp(cmd->name, "stop") == 0     ? "/api/stop"
                       : strcmp(cmd->name, "status") == 0 ? "/api/status"
                       : g_strict                          ? "/api/reload?strictConfig=true"
                                                           : "/api/reload";
    const char *host = cfg->web_server.addr;
    bool v6 = strchr(host, ':') != NULL;
    char url[600], shown[300];
    snprintf(url, sizeof url, "http://%s%s%s:%lld%s", v6 ? "[" : "", host, v6 ? "]" : "",
             (long long)cfg->web_server.port, path);
    int64_t ms = g_api_timeout_ns / 1000000;
    int rc = dial_blocking(host, cfg->web_server.port, ms > 0 && ms < 1 << 30 ? (int)ms : 30000,
                           shown, sizeof shown);
    cfg_client_free(cfg);
    if (rc == -ENOENT) {
        printf("%s \"%s\": dial tcp: lookup %s: no such host\n", method, url, host);
    } else if (rc == -ETIMEDOUT) {
        printf("%s \"%s\": context deadline exceeded\n", method, url);
    } else if (rc < 0) {
        char why[256];
        snprintf(why, sizeof why, "%s", strerror(-rc));
        why[0] = (char)(why[0] | 0x20);
        printf("%s \"%s\": dial tcp %s: connect: %s\n", method, url, shown, why);
    } else {
        printf("%s \"%s\": the admin API client is not available yet in this build\n", method,
               url);
    }
    return 1;
}

static struct cli_flag g_admin_flags[3][2];

/* ---- quick proxy and visitor commands ----------------------------------------------- */

static const char *const g_proxy_types[NPROXY] = {"tcp",   "udp",  "tcpmux", "http",
                                                  "https", "stcp", "sudp",   "xtcp"};

/* Shared destinations: only one command runs per process. */
static const char *q_server_addr, *q_protocol, *q_log_level, *q_log_file, *q_tls_server_name;
static const char *q_dns_server, *q_user, *q_token;
static long long q_server_port, q_log_max_days;
static bool q_no_color, q_tls_enable;
static const char *p_name, *p_local_ip, *p_bw_mode, *p_bw, *p_sd, *p_http_user, *p_http_pwd;
static const char *p_host_rewrite, *p_mux, *p_sk;
static long long p_local_port, p_remote_port;
static bool p_ue, p_uc;
static struct cli_list p_domains, p_locations, p_allow_users;
static const char *v_name, *v_sk, *v_server_name, *v_server_user, *v_bind_addr;
static long long v_bind_port;
static bool v_ue, v_uc;

static int check_bandwidth(const char *v, char *err, size_t errlen)
{
    struct cfg_bandwidth bw = {0};
    int rc = cfg_bandwidth_parse(v, &bw, err, errlen);
    free(bw.text);
    return rc;
}

static struct cli_flag g_common_flags[NPROXY][13];
static struct cli_flag g_proxy_flags[NPROXY][16];
static struct cli_flag g_visitor_flags[NVISITOR][9];

static void fill_common(struct cli_flag *f)
{
    struct cli_flag c[] = {
        CLI_FLAG("server_addr", 's', CLI_STRING, &q_server_addr, "127.0.0.1", "frp server's address"),
        CLI_FLAG("server_port", 'P', CLI_INT, &q_server_port, "7000", "frp server's port"),
        CLI_FLAG("protocol", 'p', CLI_STRING, &q_protocol, "tcp",
         "optional values are [tcp kcp quic websocket wss]"),
        CLI_FLAG("log_level", 0, CLI_STRING, &q_log_level, "info", "log level"),
        CLI_FLAG("log_file", 0, CLI_STRING, &q_log_file, "console", "console or file path"),
        CLI_FLAG("log_max_days", 0, CLI_INT, &q_log_max_days, "3", "log file reversed days"),
        CLI_FLAG("disable_log_color", 0, CLI_BOOL, &q_no_color, "false", "disable log color in console"),
        CLI_FLAG("tls_server_name", 0, CLI_STRING, &q_tls_server_name, "",
         "specify the custom server name of tls certificate"),
        CLI_FLAG("dns_server", 0, CLI_STRING, &q_dns_server, "",
         "specify dns server instead of using system default one"),
        CLI_FLAG("tls_enable", 0, CLI_BOOL, &q_tls_enable, "true", "enable frpc tls"),
        CLI_FLAG("user", 'u', CLI_STRING, &q_user, "", "user"),
        CLI_FLAG("token", 't', CLI_STRING, &q_token, "", "auth token"),
        CLI_FLAG_END,
    };
    memcpy(f, c, sizeof c);
}

static void fill_proxy(struct cli_flag *f, const char *type)
{
    size_t n = 0;
    struct cli_flag base[] = {
        CLI_FLAG("proxy_name", 'n', CLI_STRING, &p_name, "", "proxy name"),
        CLI_FLAG("local_ip", 'i', CLI_STRING, &p_local_ip, "127.0.0.1", "local ip"),
        CLI_FLAG("local_port", 'l', CLI_INT, &p_local_port, "0", "local port"),
        CLI_FLAG("ue", 0, CLI_BOOL, &p_ue, "false", "use encryption"),
        CLI_FLAG("uc", 0, CLI_BOOL, &p_uc, "false", "use compression"),
        CLI_FLAG("bandwidth_limit_mode", 0, CLI_STRING, &p_bw_mode, "client", "bandwidth limit mode"),
        CLI_FLAG_CUSTOM("bandwidth_limit", 0, CLI_CUSTOM, &p_bw, "", "bandwidth limit (e.g. 100KB or 1MB)",
         "string", check_bandwidth),
    };
    memcpy(f, base, sizeof base);
    n = sizeof base / sizeof base[0];
    struct cli_flag remote = CLI_FLAG("remote_port", 'r', CLI_INT, &p_remote_port, "0", "remote port");
    struct cli_flag domains = CLI_FLAG("custom_domain", 'd', CLI_STRINGS, &p_domains, "[]",
                               "custom domains");
    struct cli_flag sd = CLI_FLAG("sd", 0, CLI_STRING, &p_sd, "", "sub domain");
    struct cli_flag user = CLI_FLAG("http_user", 0, CLI_STRING, &p_http_user, "", "http auth user");
    struct cli_flag pwd = CLI_FLAG("http_pwd", 0, CLI_STRING, &p_http_pwd, "", "http auth password");
    struct cli_flag sk = CLI_FLAG("sk", 0, CLI_STRING, &p_sk, "", "secret key");
    struct cli_flag allow = CLI_FLAG("allow_users", 0, CLI_STRINGS, &p_allow_users, "[]",
                             "allow visitor users");
    if (!strcmp(type, "tcp") || !strcmp(type, "udp")) {
        f[n++] = remote;
    } else if (!strcmp(type, "http")) {
        f[n++] = domains;
        f[n++] = sd;
        f[n++] = (struct cli_flag)CLI_FLAG("locations", 0, CLI_STRINGS, &p_locations, "[]", "locations");
        f[n++] = user;
        f[n++] = pwd;
        f[n++] = (struct cli_flag)CLI_FLAG("host_header_rewrite", 0, CLI_STRING, &p_host_rewrite, "",
                                   "host header rewrite");
    } else if (!strcmp(type, "https")) {
        f[n++] = domains;
        f[n++] = sd;
    } else if (!strcmp(type, "tcpmux")) {
        f[n++] = domains;
        f[n++] = sd;
        f[n++] = (struct cli_flag)CLI_FLAG("mux", 0, CLI_STRING, &p_mux, "", "multiplexer");
        f[n++] = user;
        f[n++] = pwd;
    } else {
        f[n++] = sk;
        f[n++] = allow;
    }
    f[n] = (struct cli_flag)CLI_FLAG_END;
}

static void fill_visitor(struct cli_flag *f)
{
    struct cli_flag v[] = {
        CLI_FLAG("visitor_name", 'n', CLI_STRING, &v_name, "", "visitor name"),
        CLI_FLAG("ue", 0, CLI_BOOL, &v_ue, "false", "use encryption"),
        CLI_FLAG("uc", 0, CLI_BOOL, &v_uc, "false", "use compression"),
        CLI_FLAG("sk", 0, CLI_STRING, &v_sk, "", "secret key"),
        CLI_FLAG("server_name", 0, CLI_STRING, &v_server_name, "", "server name"),
        CLI_FLAG("server-user", 0, CLI_STRING, &v_server_user, "", "server user"),
        CLI_FLAG("bind_addr", 0, CLI_STRING, &v_bind_addr, "", "bind addr"),
        CLI_FLAG("bind_port", 0, CLI_INT, &v_bind_port, "0", "bind port"),
        CLI_FLAG_END,
    };
    memcpy(f, v, sizeof v);
}

static json_t *str_array(const struct cli_list *l)
{
    json_t *a = json_array();
    for (size_t i = 0; a && i < l->n; i++) json_array_append_new(a, json_string(l->items[i]));
    return a;
}

/* The config-file-shaped tree of the common flags. New reference. */
static json_t *common_tree(void)
{
    return json_pack("{s:s, s:I, s:s, s:s, s:{s:s}, s:{s:s, s:s, s:I, s:b},"
                     " s:{s:s, s:{s:b, s:s}}}",
                     "serverAddr", q_server_addr, "serverPort", (json_int_t)q_server_port,
                     "user", q_user, "dnsServer", q_dns_server, "auth", "token", q_token, "log",
                     "to", q_log_file, "level", q_log_level, "maxDays",
                     (json_int_t)q_log_max_days, "disablePrintColor", q_no_color, "transport",
                     "protocol", q_protocol, "tls", "enable", q_tls_enable, "serverName",
                     q_tls_server_name);
}

static json_t *proxy_tree(const char *type)
{
    json_t *p = json_pack("{s:s, s:s, s:s, s:I, s:{s:b, s:b, s:s, s:s}}", "type", type, "name",
                          p_name, "localIP", p_local_ip, "localPort", (json_int_t)p_local_port,
                          "transport", "useEncryption", p_ue, "useCompression", p_uc,
                          "bandwidthLimit", p_bw, "bandwidthLimitMode", p_bw_mode);
    if (!p) return NULL;
    if (!strcmp(type, "tcp") || !strcmp(type, "udp")) {
        json_object_set_new(p, "remotePort", json_integer(p_remote_port));
    } else if (!strcmp(type, "http") || !strcmp(type, "https") || !strcmp(type, "tcpmux")) {
        json_object_set_new(p, "customDomains", str_array(&p_domains));
        json_object_set_new(p, "subdomain", json_string(p_sd));
        if (!strcmp(type, "http")) {
            json_object_set_new(p, "locations", str_array(&p_locations));
            json_object_set_new(p, "hostHeaderRewrite", json_string(p_host_rewrite));
        }
        if (!strcmp(type, "tcpmux")) json_object_set_new(p, "multiplexer", json_string(p_mux));
        if (strcmp(type, "https") != 0) {
            json_object_set_new(p, "httpUser", json_string(p_http_user));
            json_object_set_new(p, "httpPassword", json_string(p_http_pwd));
        }
    } else {
        json_object_set_new(p, "secretKey", json_string(p_sk));
        json_object_set_new(p, "allowUsers", str_array(&p_allow_users));
    }
    return p;
}

static json_t *visitor_tree(const char *type)
{
    return json_pack("{s:s, s:s, s:{s:b, s:b}, s:s, s:s, s:s, s:s, s:I}", "type", type, "name",
                     v_name, "transport", "useEncryption", v_ue, "useCompression", v_uc,
                     "secretKey", v_sk, "serverName", v_server_name, "serverUser",
                     v_server_user, "bindAddr", v_bind_addr, "bindPort",
                     (json_int_t)v_bind_port);
}

/* Prints validation errors without the "proxy <name>: " / "visitor <name>: " prefix, as
 * the quick commands validate the single proxy on its own. */
static void print_quick_errors(const char *errors)
{
    const char *line = errors;
    while (*line) {
        const char *end = strchr(line, '\n');
        size_t n = end ? (size_t)(end - line) : strlen(line);
        const char *next = end ? end + 1 : line + n;
        const char *p = line;
        if (strncmp(p, "proxy ", 6) == 0 || strncmp(p, "visitor ", 8) == 0) {
            const char *colon = memchr(p, ':', n);
            if (colon && colon[1] == ' ') {
                n -= (size_t)(colon + 2 - p);
                p = colon + 2;
            }
        }
        printf("%.*s\n", (int)n, p);
        line = next;
    }
}

static int run_quick(const char *type, bool visitor)
{
    json_t *tree = common_tree();
    json_t *item = visitor ? visitor_tree(type) : proxy_tree(type);
    if (!tree || !item) {
        json_decref(tree);
        json_decref(item);
        printf("out of memory\n");
        return 1;
    }
    json_object_set_new(tree, visitor ? "visitors" : "proxies", json_pack("[o]", item));
    struct frpc_config *cfg = NULL;
    char err[4096] = "";
    int rc = cfg_client_from_tree(tree, true, &cfg, err, sizeof err);
    json_decref(tree);
    if (rc != 0) {
        printf("%s\n", err);
        cfg_client_free(cfg);
        return 1;
    }
    char *warnings = NULL, *errors = NULL;
    cfg_client_validate(cfg, &warnings, &errors);
    free(warnings);
    if (errors && errors[0]) {
        print_quick_errors(errors);
        free(errors);
        cfg_client_free(cfg);
        return 1;
    }
    free(errors);
    cli_setup_log(&cfg->log);
    rc = client_run(cfg, NULL);
    cfg_client_free(cfg);
    return rc == 0 ? 0 : 1;
}

static int run_proxy(struct cli_cmd *cmd, int argc, char **argv)
{
    return run_quick(cmd->name, false);
}

static int run_visitor(struct cli_cmd *cmd, int argc, char **argv)
{
    return run_quick(cmd->parent->name, true);
}

/* ---- nathole ------------------------------------------------------------------------ */

static const char *g_stun_server, *g_nathole_local;

static int run_discover(struct cli_cmd *cmd, int argc, char **argv)
{
    struct frpc_config *cfg = NULL;
    char err[4096];
    const char *server = "stun.easyvoip.com:3478";
    if (cfg_client_load(g_cfg_file, g_strict, &cfg, err, sizeof err) == 0)
        server = cfg->nat_hole_stun_server;
    if (g_stun_server[0]) server = g_stun_server;
    int rc = 1;
    if (!server || !server[0])
        printf("nat_hole_stun_server can not be empty\n");
    else
        printf("discover error: STUN discovery is not available yet in this build\n");
    cfg_client_free(cfg);
    return rc;
}

static struct cli_flag g_nathole_flags[] = {
    CLI_FLAG("nat_hole_stun_server", 0, CLI_STRING, &g_stun_server, "",
     "STUN server address for nathole"),
    CLI_FLAG("nat_hole_local_addr", 'l', CLI_STRING, &g_nathole_local, "",
     "local address to connect STUN server"),
    CLI_FLAG_END,
};

/* ---- the tree ----------------------------------------------------------------------- */

static struct cli_flag g_root_flags[] = {
    CLI_FLAG("config", 'c', CLI_STRING, &g_cfg_file, "./frpc.ini", "config file of frpc"),
    CLI_FLAG("config_dir", 0, CLI_STRING, &g_cfg_dir, "",
     "config directory, run one frpc service for each file in config directory"),
    CLI_FLAG("version", 'v', CLI_BOOL, &g_version, "false", "version of frpc"),
    CLI_FLAG("strict_config", 0, CLI_BOOL, &g_strict, "true",
     "strict config parsing mode, unknown fields will cause an errors"),
    CLI_FLAG_END,
};

static struct cli_cmd g_root = {
    .name = "frpc",
    .short_desc = "frpc is the client of frp (https://github.com/fatedier/frp)",
    .pflags = g_root_flags,
    .run = run_root,
};
static struct cli_cmd g_verify = {
    .name = "verify", .short_desc = "Verify that the configures is valid", .run = run_verify};
static struct cli_cmd g_admin[3] = {
    {.name = "reload", .short_desc = "Hot-Reload frpc configuration", .run = run_admin},
    {.name = "status", .short_desc = "Overview of all proxies status", .run = run_admin},
    {.name = "stop", .short_desc = "Stop the running frpc", .run = run_admin},
};
static struct cli_cmd g_nathole = {
    .name = "nathole", .short_desc = "Actions about nathole", .pflags = g_nathole_flags};
static struct cli_cmd g_discover = {
    .name = "discover",
    .short_desc = "Discover nathole information from stun server",
    .run = run_discover,
};
static struct cli_cmd g_proxy_cmds[NPROXY];
static struct cli_cmd g_visitor_cmds[NVISITOR];
static char g_proxy_short[NPROXY][64], g_visitor_short[NVISITOR][64];

static void build_tree(void)
{
    cli_add(&g_root, &g_verify);
    for (int i = 0; i < 3; i++) {
        g_admin_flags[i][0] = (struct cli_flag)CLI_FLAG("api-timeout", 0, CLI_DURATION,
                                                        &g_api_timeout_ns, "30s",
                                                        "Timeout for admin API calls");
        g_admin[i].flags = g_admin_flags[i];
        cli_add(&g_root, &g_admin[i]);
    }
    cli_add(&g_nathole, &g_discover);
    cli_add(&g_root, &g_nathole);
    int nv = 0;
    for (int i = 0; i < NPROXY; i++) {
        const char *t = g_proxy_types[i];
        fill_common(g_common_flags[i]);
        fill_proxy(g_proxy_flags[i], t);
        snprintf(g_proxy_short[i], sizeof g_proxy_short[i], "Run frpc with a single %s proxy", t);
        g_proxy_cmds[i] = (struct cli_cmd){.name = t, .short_desc = g_proxy_short[i],
                                           .flags = g_proxy_flags[i],
                                           .pflags = g_common_flags[i], .run = run_proxy};
        if (!strcmp(t, "stcp") || !strcmp(t, "sudp") || !strcmp(t, "xtcp")) {
            fill_visitor(g_visitor_flags[nv]);
            snprintf(g_visitor_short[nv], sizeof g_visitor_short[nv],
                     "Run frpc with a single %s visitor", t);
            g_visitor_cmds[nv] = (struct cli_cmd){.name = "visitor",
                                                  .short_desc = g_visitor_short[nv],
                                                  .flags = g_visitor_flags[nv],
                                                  .run = run_visitor};
            cli_add(&g_proxy_cmds[i], &g_visitor_cmds[nv]);
            nv++;
        }
        cli_add(&g_root, &g_proxy_cmds[i]);
    }
}

int main(int argc, char **argv)
{
    build_tree();
    int rc = cli_execute(&g_root, argc, argv);
    fflush(stdout);
    return rc;
}
