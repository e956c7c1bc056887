/* Legacy INI configs (legacy.h, config.md 9): the file is rendered, parsed with go-ini's
 * rules (config/ini.h) and converted, key by key as frp's legacy package does, into a
 * JSON tree in the v1 shape, which the v1 decoders then turn into the typed config.
 * Legacy defaults are written into the tree explicitly so v1 completion cannot replace
 * them (webServer.addr "0.0.0.0", the tri-state booleans). */
#include "config/legacy.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <fnmatch.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <uv.h>

#include "base/err.h"
#include "config/client_config.h"
#include "config/config.h"
#include "config/ini.h"
#include "config/loader.h"
#include "config/server_config.h"
#include "config/template.h"
#include "config/types.h"

#define LG_MAX_RANGE 65536 /* numbers one range section's port list may expand to */

static const struct ini_options lg_opts = {.allow_boolean_keys = true,
                                           .ignore_inline_comment = true};

/* Go's error text for errno: strerror with a lower-case first letter. */
static void lg_errno_text(int e, char *buf, size_t len)
{
    snprintf(buf, len, "%s", strerror(e));
    if (buf[0] >= 'A' && buf[0] <= 'Z' && !(buf[1] >= 'A' && buf[1] <= 'Z'))
        buf[0] = (char)(buf[0] - 'A' + 'a');
}

/* Reads a whole file (os.ReadFile). *data is malloc'ed, NUL-terminated, caller frees. */
static int lg_read(const char *path, char **data, size_t *len, char *err, size_t errlen)
{
    char et[128];
    *data = NULL;
    *len = 0;
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        int e = errno;
        lg_errno_text(e, et, sizeof et);
        err_set(err, errlen, "open %s: %s", path, et);
        return uv_translate_sys_error(e);
    }
    size_t cap = 4096, n = 0;
    char *buf = malloc(cap);
    int rc = buf ? 0 : UV_ENOMEM;
    while (!rc) {
        if (n + 1 >= cap) {
            if (cap >= CFG_MAX_FILE_SIZE) {
                err_set(err, errlen, "read %s: file larger than %u bytes", path,
                        CFG_MAX_FILE_SIZE);
                rc = CFRP_ETOOBIG;
                break;
            }
            char *q = realloc(buf, cap * 2);
            if (!q) {
                rc = UV_ENOMEM;
                break;
            }
            buf = q;
            cap *= 2;
        }
        ssize_t r = read(fd, buf + n, cap - n - 1);
        if (r < 0 && errno == EINTR) continue;
        if (r < 0) {
            int e = errno;
            lg_errno_text(e, et, sizeof et);
            err_set(err, errlen, "read %s: %s", path, et);
            rc = uv_translate_sys_error(e);
        } else if (r == 0) {
            break;
        } else {
            n += (size_t)r;
        }
    }
    close(fd);
    if (rc) {
        if (rc == UV_ENOMEM) err_set(err, errlen, "out of memory");
        free(buf);
        return rc;
    }
    buf[n] = '\0';
    *data = buf;
    *len = n;
    return 0;
}

bool cfg_legacy_detect(const char *text, size_t len)
{
    const struct ini_options plain = {0};
    json_t *file = NULL;
    if (ini_parse("", text, len, &plain, &file, NULL, 0) != 0) return false;
    bool found = ini_section(file, "common") != NULL;
    json_decref(file);
    return found;
}

bool cfg_legacy_detect_file(const char *path)
{
    char *data;
    size_t len;
    if (lg_read(path, &data, &len, NULL, 0) != 0) return false;
    bool found = cfg_legacy_detect(data, len);
    free(data);
    return found;
}

/* Reads and renders a file (GetRenderedConfFromFile). *out is malloc'ed. */
static int lg_render_file(const char *path, char **out, size_t *outlen, char *err,
                          size_t errlen)
{
    char *data;
    size_t len;
    int rc = lg_read(path, &data, &len, err, errlen);
    if (rc) return rc;
    rc = tmpl_render_legacy("frp", data, len, out, outlen, err, errlen);
    free(data);
    return rc;
}

/* ---- building the v1 tree -------------------------------------------------------- */

/* The conversion's state: the INI file, the section being read and the tree's root. A
 * failed allocation sets oom; the caller checks it once at the end. */
struct lg {
    json_t *ini;
    const char *sec;
    bool oom;
};

/* Sets root.path (dotted, objects created on the way) to v, taking v's reference. */
static void lg_set(struct lg *g, json_t *root, const char *path, json_t *v)
{
    if (!v) {
        g->oom = true;
        return;
    }
    char part[64];
    const char *dot;
    json_t *o = root;
    while ((dot = strchr(path, '.')) != NULL) {
        snprintf(part, sizeof part, "%.*s", (int)(dot - path), path);
        json_t *next = json_object_get(o, part);
        if (!next) {
            next = json_object();
            if (!next || json_object_set_new(o, part, next)) {
                g->oom = true;
                json_decref(v);
                return;
            }
        }
        o = next;
        path = dot + 1;
    }
    if (json_object_set_new_nocheck(o, path, v)) g->oom = true;
}

static const char *lg_get(struct lg *g, const char *key)
{
    return ini_get(g->ini, g->sec, key);
}

/* String key: copied when present, else def (if any). */
static void lg_str(struct lg *g, json_t *root, const char *path, const char *key,
                   const char *def)
{
    const char *v = lg_get(g, key);
    if (!v) v = def;
    if (v) lg_set(g, root, path, json_string_nocheck(v));
}

/* The value of an int key; def when absent or not a number (go-ini leaves the field). */
static int64_t lg_intval(struct lg *g, const char *key, int64_t def)
{
    const char *v = lg_get(g, key);
    int64_t n;
    return v && ini_parse_int(v, &n) == 0 ? n : def;
}

static void lg_int(struct lg *g, json_t *root, const char *path, const char *key)
{
    int64_t n = lg_intval(g, key, 0);
    if (n) lg_set(g, root, path, json_integer(n));
}

static bool lg_boolval(struct lg *g, const char *key, bool def)
{
    const char *v = lg_get(g, key);
    bool b = def;
    if (v) ini_parse_bool(v, &b);
    return b;
}

static void lg_bool(struct lg *g, json_t *root, const char *path, const char *key, bool def)
{
    lg_set(g, root, path, json_boolean(lg_boolval(g, key, def)));
}

static void lg_list(struct lg *g, json_t *root, const char *path, const char *key)
{
    const char *v = lg_get(g, key);
    if (v) lg_set(g, root, path, ini_list(v));
}

/* The section's own keys starting with prefix, without it (GetMapWithoutPrefix; no
 * inheritance), as an object at path; nothing when there are none. */
static void lg_prefixed(struct lg *g, json_t *root, const char *path, const char *prefix,
                        bool skip_empty)
{
    json_t *sec = ini_section(g->ini, g->sec);
    size_t pl = strlen(prefix);
    json_t *m = NULL;
    const char *k;
    json_t *v;
    json_object_foreach(sec, k, v)
    {
        if (strncmp(k, prefix, pl) != 0 || (skip_empty && !k[pl])) continue;
        if (!m && !(m = json_object())) {
            g->oom = true;
            return;
        }
        if (json_object_set_nocheck(m, k + pl, v)) g->oom = true;
    }
    if (m) lg_set(g, root, path, m);
}

/* Auth keys shared by both programs (legacy auth.BaseConfig and token). */
static void lg_auth(struct lg *g, json_t *root)
{
    lg_str(g, root, "auth.method", "authentication_method", "token");
    lg_str(g, root, "auth.token", "token", NULL);
    json_t *scopes = json_array();
    if (!scopes) g->oom = true;
    if (scopes && lg_boolval(g, "authenticate_heartbeats", false))
        json_array_append_new(scopes, json_string("HeartBeats"));
    if (scopes && lg_boolval(g, "authenticate_new_work_conns", false))
        json_array_append_new(scopes, json_string("NewWorkConns"));
    if (scopes && json_array_size(scopes)) lg_set(g, root, "auth.additionalScopes", scopes);
    else json_decref(scopes);
}

static void lg_log(struct lg *g, json_t *root)
{
    lg_str(g, root, "log.to", "log_file", "console");
    lg_str(g, root, "log.level", "log_level", NULL);
    lg_int(g, root, "log.maxDays", "log_max_days");
    lg_bool(g, root, "log.disablePrintColor", "disable_log_color", false);
}

static void lg_quic(struct lg *g, json_t *root)
{
    lg_int(g, root, "transport.quic.keepalivePeriod", "quic_keepalive_period");
    lg_int(g, root, "transport.quic.maxIdleTimeout", "quic_max_idle_timeout");
    lg_int(g, root, "transport.quic.maxIncomingStreams", "quic_max_incoming_streams");
}

/* Parses the rendered text with frp's options, naming path in errors. */
static int lg_parse(const char *path, const char *text, size_t len, json_t **ini, char *err,
                    size_t errlen)
{
    return ini_parse(path, text, len, &lg_opts, ini, err, errlen);
}

/* ---- frps ---------------------------------------------------------------------- */

static int lg_server_tree(json_t *ini, json_t **out, char *err, size_t errlen)
{
    struct lg g = {.ini = ini, .sec = "common"};
    if (!ini_section(ini, "common")) {
        err_set(err, errlen, "section \"common\" does not exist");
        return CFRP_EPARSE;
    }
    json_t *t = json_object();
    if (!t) return UV_ENOMEM;
    lg_auth(&g, t);
    lg_str(&g, t, "auth.oidc.issuer", "oidc_issuer", NULL);
    lg_str(&g, t, "auth.oidc.audience", "oidc_audience", NULL);
    lg_bool(&g, t, "auth.oidc.skipExpiryCheck", "oidc_skip_expiry_check", false);
    lg_bool(&g, t, "auth.oidc.skipIssuerCheck", "oidc_skip_issuer_check", false);
    lg_str(&g, t, "bindAddr", "bind_addr", NULL);
    lg_int(&g, t, "bindPort", "bind_port");
    lg_int(&g, t, "kcpBindPort", "kcp_bind_port");
    lg_int(&g, t, "quicBindPort", "quic_bind_port");
    lg_quic(&g, t);
    lg_str(&g, t, "proxyBindAddr", "proxy_bind_addr", NULL);
    lg_int(&g, t, "vhostHTTPPort", "vhost_http_port");
    lg_int(&g, t, "vhostHTTPSPort", "vhost_https_port");
    lg_int(&g, t, "tcpmuxHTTPConnectPort", "tcpmux_httpconnect_port");
    lg_bool(&g, t, "tcpmuxPassthrough", "tcpmux_passthrough", false);
    lg_int(&g, t, "vhostHTTPTimeout", "vhost_http_timeout");
    lg_str(&g, t, "webServer.addr", "dashboard_addr", "0.0.0.0");
    lg_int(&g, t, "webServer.port", "dashboard_port");
    lg_str(&g, t, "webServer.user", "dashboard_user", NULL);
    lg_str(&g, t, "webServer.password", "dashboard_pwd", NULL);
    lg_str(&g, t, "webServer.assetsDir", "assets_dir", NULL);
    if (lg_boolval(&g, "dashboard_tls_mode", false)) {
        lg_str(&g, t, "webServer.tls.certFile", "dashboard_tls_cert_file", "");
        lg_str(&g, t, "webServer.tls.keyFile", "dashboard_tls_key_file", "");
        lg_bool(&g, t, "webServer.pprofEnable", "pprof_enable", false);
    }
    lg_bool(&g, t, "enablePrometheus", "enable_prometheus", false);
    lg_log(&g, t);
    lg_bool(&g, t, "detailedErrorsToClient", "detailed_errors_to_client", true);
    lg_str(&g, t, "subDomainHost", "subdomain_host", NULL);
    lg_str(&g, t, "custom404Page", "custom_404_page", NULL);
    lg_int(&g, t, "userConnTimeout", "user_conn_timeout");
    lg_int(&g, t, "udpPacketSize", "udp_packet_size");
    lg_int(&g, t, "natholeAnalysisDataReserveHours", "nat_hole_analysis_data_reserve_hours");
    lg_bool(&g, t, "transport.tcpMux", "tcp_mux", true);
    lg_int(&g, t, "transport.tcpMuxKeepaliveInterval", "tcp_mux_keepalive_interval");
    lg_int(&g, t, "transport.tcpKeepalive", "tcp_keepalive");
    lg_int(&g, t, "transport.maxPoolCount", "max_pool_count");
    lg_int(&g, t, "transport.heartbeatTimeout", "heartbeat_timeout");
    lg_bool(&g, t, "transport.tls.force", "tls_only", false);
    lg_str(&g, t, "transport.tls.certFile", "tls_cert_file", NULL);
    lg_str(&g, t, "transport.tls.keyFile", "tls_key_file", NULL);
    lg_str(&g, t, "transport.tls.trustedCaFile", "tls_trusted_ca_file", NULL);
    lg_int(&g, t, "maxPortsPerClient", "max_ports_per_client");

    /* allow_ports: a parse error means "all ports" (config.md 9.4) */
    const char *ap = lg_get(&g, "allow_ports");
    struct cfg_ports_range *r = NULL;
    size_t nr = 0;
    if (ap && *ap && cfg_ports_parse(ap, &r, &nr, NULL, 0) == 0 && nr) {
        json_t *arr = json_array();
        for (size_t i = 0; arr && i < nr; i++) {
            json_t *e = r[i].single ? json_pack("{s:I}", "single", (json_int_t)r[i].single)
                                    : json_pack("{s:I,s:I}", "start", (json_int_t)r[i].start,
                                                "end", (json_int_t)r[i].end);
            if (!e || json_array_append_new(arr, e)) g.oom = true;
        }
        lg_set(&g, t, "allowPorts", arr);
    }
    free(r);

    /* [plugin.NAME] sections, in file order */
    json_t *plugins = json_array();
    const char *name;
    json_t *sec;
    json_object_foreach(ini, name, sec)
    {
        if (strncmp(name, "plugin.", 7) != 0 || !plugins) continue;
        const char *pn = name + 7;
        size_t pl = strlen(pn);
        while (pl && (pn[pl - 1] == ' ' || pn[pl - 1] == '\t')) pl--;
        while (pl && (*pn == ' ' || *pn == '\t')) pn++, pl--;
        json_t *o = json_object();
        if (!o || json_array_append_new(plugins, o)) {
            g.oom = true;
            break;
        }
        struct lg pg = {.ini = ini, .sec = name};
        lg_set(&pg, o, "name", json_stringn_nocheck(pn, pl));
        lg_str(&pg, o, "addr", "addr", NULL);
        lg_str(&pg, o, "path", "path", NULL);
        lg_list(&pg, o, "ops", "ops");
        lg_bool(&pg, o, "tlsVerify", "tlsVerify", false);
        if (pg.oom) g.oom = true;
    }
    if (plugins && json_array_size(plugins)) lg_set(&g, t, "httpPlugins", plugins);
    else json_decref(plugins);
    if (g.oom) {
        json_decref(t);
        return UV_ENOMEM;
    }
    *out = t;
    return 0;
}

int cfg_legacy_server_load(const char *path, struct frps_config **out, char *err,
                           size_t errlen)
{
    char *text = NULL;
    size_t len = 0;
    json_t *ini = NULL;
    struct cfg_source src = {.format = CFG_FORMAT_JSON};
    int rc = lg_render_file(path, &text, &len, err, errlen);
    if (!rc) rc = lg_parse(path, text, len, &ini, err, errlen);
    if (!rc) rc = lg_server_tree(ini, &src.tree, err, errlen);
    if (!rc) rc = cfg_server_decode(&src, true, out, err, errlen);
    if (rc == UV_ENOMEM) err_set(err, errlen, "out of memory");
    cfg_source_clear(&src);
    json_decref(ini);
    free(text);
    return rc;
}

/* ---- frpc common ---------------------------------------------------------------- */

static void lg_client_common(struct lg *g, json_t *t)
{
    lg_auth(g, t);
    lg_str(g, t, "auth.oidc.clientID", "oidc_client_id", NULL);
    lg_str(g, t, "auth.oidc.clientSecret", "oidc_client_secret", NULL);
    lg_str(g, t, "auth.oidc.audience", "oidc_audience", NULL);
    lg_str(g, t, "auth.oidc.scope", "oidc_scope", NULL);
    lg_str(g, t, "auth.oidc.tokenEndpointURL", "oidc_token_endpoint_url", NULL);
    lg_prefixed(g, t, "auth.oidc.additionalEndpointParams", "oidc_additional_", false);
    lg_str(g, t, "user", "user", NULL);
    lg_str(g, t, "serverAddr", "server_addr", NULL);
    lg_int(g, t, "serverPort", "server_port");
    lg_str(g, t, "natHoleStunServer", "nat_hole_stun_server", NULL);
    lg_int(g, t, "transport.dialServerTimeout", "dial_server_timeout");
    lg_int(g, t, "transport.dialServerKeepalive", "dial_server_keepalive");
    lg_str(g, t, "transport.connectServerLocalIP", "connect_server_local_ip", NULL);
    lg_str(g, t, "transport.proxyURL", "http_proxy", NULL);
    lg_int(g, t, "transport.poolCount", "pool_count");
    lg_bool(g, t, "transport.tcpMux", "tcp_mux", true);
    lg_int(g, t, "transport.tcpMuxKeepaliveInterval", "tcp_mux_keepalive_interval");
    lg_str(g, t, "transport.protocol", "protocol", "tcp");
    lg_int(g, t, "transport.heartbeatInterval", "heartbeat_interval");
    lg_int(g, t, "transport.heartbeatTimeout", "heartbeat_timeout");
    lg_quic(g, t);
    lg_bool(g, t, "transport.tls.enable", "tls_enable", true);
    lg_bool(g, t, "transport.tls.disableCustomTLSFirstByte", "disable_custom_tls_first_byte",
            true);
    lg_str(g, t, "transport.tls.certFile", "tls_cert_file", NULL);
    lg_str(g, t, "transport.tls.keyFile", "tls_key_file", NULL);
    lg_str(g, t, "transport.tls.trustedCaFile", "tls_trusted_ca_file", NULL);
    lg_str(g, t, "transport.tls.serverName", "tls_server_name", NULL);
    lg_log(g, t);
    lg_str(g, t, "webServer.addr", "admin_addr", NULL);
    lg_int(g, t, "webServer.port", "admin_port");
    lg_str(g, t, "webServer.user", "admin_user", NULL);
    lg_str(g, t, "webServer.password", "admin_pwd", NULL);
    lg_str(g, t, "webServer.assetsDir", "assets_dir", NULL);
    lg_bool(g, t, "webServer.pprofEnable", "pprof_enable", false);
    lg_str(g, t, "dnsServer", "dns_server", NULL);
    lg_bool(g, t, "loginFailExit", "login_fail_exit", true);
    lg_list(g, t, "start", "start");
    lg_int(g, t, "udpPacketSize", "udp_packet_size");
    lg_prefixed(g, t, "metadatas", "meta_", false);
    lg_list(g, t, "includes", "includes");
}

/* ClientCommonConf.Validate of the legacy package: errors prefixed as frp does, the
 * tls warnings printed. */
static int lg_client_check(struct lg *g, json_t *t, char *err, size_t errlen)
{
    int64_t hbi = lg_intval(g, "heartbeat_interval", 0), hbt = lg_intval(g, "heartbeat_timeout", 0);
    if (hbt > 0 && hbi > 0 && hbt < hbi) {
        err_set(err, errlen, "parse config error: invalid heartbeat_timeout, heartbeat_timeout "
                             "is less than heartbeat_interval");
        return CFRP_EINVAL;
    }
    if (!lg_boolval(g, "tls_enable", true)) {
        static const char *const keys[] = {"tls_cert_file", "tls_key_file", "tls_trusted_ca_file"};
        for (size_t i = 0; i < 3; i++) {
            const char *v = lg_get(g, keys[i]);
            if (v && *v) printf("WARNING! %s is invalid when tls_enable is false\n", keys[i]);
        }
        fflush(stdout);
    }
    const char *proto = json_string_value(json_object_get(json_object_get(t, "transport"), "protocol"));
    static const char *const protos[] = {"tcp", "kcp", "quic", "websocket", "wss"};
    bool ok = false;
    for (size_t i = 0; i < 5 && proto; i++) ok = ok || strcmp(proto, protos[i]) == 0;
    if (!ok) {
        err_set(err, errlen, "parse config error: invalid protocol");
        return CFRP_EINVAL;
    }
    json_t *inc = json_object_get(t, "includes");
    size_t i;
    json_t *v;
    json_array_foreach(inc, i, v)
    {
        const char *f = json_string_value(v);
        char *dir = cfg_abs_dir(f);
        struct stat st;
        bool missing = dir && stat(dir, &st) != 0 && errno == ENOENT;
        free(dir);
        if (missing) {
            err_set(err, errlen, "parse config error: include: directory of %s not exist", f);
            return CFRP_EINVAL;
        }
    }
    return 0;
}

static int lg_namecmp(const struct dirent **a, const struct dirent **b)
{
    return strcmp((*a)->d_name, (*b)->d_name);
}

/* Appends the rendered text of every file an `includes` entry matches, each followed by
 * a newline (getIncludeContents). */
static int lg_include(const char *entry, char **buf, size_t *len, char *err, size_t errlen)
{
    char et[128];
    char *dir = cfg_abs_dir(entry);
    if (!dir) return UV_ENOMEM;
    struct dirent **ents = NULL;
    int n = scandir(dir, &ents, NULL, lg_namecmp);
    if (n < 0) {
        lg_errno_text(errno, et, sizeof et);
        err_set(err, errlen, "getIncludeContents error: open %s: %s", dir, et);
        free(dir);
        return CFRP_EINVAL;
    }
    const char *base = strrchr(entry, '/');
    base = base ? base + 1 : entry;
    const char *sep = strcmp(dir, "/") ? "/" : "";
    char *pattern = NULL;
    int rc = asprintf(&pattern, "%s%s%s", dir, sep, base) < 0 ? UV_ENOMEM : 0;
    for (int i = 0; i < n && !rc; i++) {
        char *file = NULL;
        if (asprintf(&file, "%s%s%s", dir, sep, ents[i]->d_name) < 0) {
            rc = UV_ENOMEM;
            break;
        }
        struct stat st;
        bool is_dir = ents[i]->d_type == DT_DIR;
        if (ents[i]->d_type == DT_UNKNOWN && lstat(file, &st) == 0) is_dir = S_ISDIR(st.st_mode);
        if (!is_dir && fnmatch(pattern, file, FNM_PATHNAME) == 0) {
            char *text = NULL;
            size_t tl = 0;
            rc = lg_render_file(file, &text, &tl, err, errlen);
            if (rc && rc != UV_ENOMEM)
                err_prefix(err, errlen, "getIncludeContents error: render extra config %s error: ",
                           file);
            if (!rc && *len + tl + 1 > CFG_MAX_FILE_SIZE * 4u) {
                err_set(err, errlen, "getIncludeContents error: included files too large");
                rc = CFRP_ETOOBIG;
            }
            char *q = rc ? NULL : realloc(*buf, *len + tl + 2);
            if (!rc && !q) rc = UV_ENOMEM;
            if (q) {
                *buf = q;
                memcpy(q + *len, text, tl);
                *len += tl;
                q[(*len)++] = '\n';
                q[*len] = '\0';
            }
            free(text);
        }
        free(file);
    }
    for (int i = 0; i < n; i++) free(ents[i]);
    free(ents);
    free(pattern);
    free(dir);
    return rc;
}

/* ---- range sections ---------------------------------------------------------------- */

/* util.ParseRangeNumbers: "1000-2000,2001" into a new array of numbers. */
static int lg_range_numbers(const char *s, int64_t **out, size_t *n, char *err, size_t errlen)
{
    struct cfg_ports_range *r = NULL;
    size_t nr = 0;
    int rc = cfg_ports_parse(s, &r, &nr, err, errlen);
    if (rc) return rc;
    size_t total = 0;
    for (size_t i = 0; i < nr; i++) {
        uint64_t c = r[i].single || !(r[i].start || r[i].end)
                         ? 1
                         : (uint64_t)(r[i].end - r[i].start) + 1;
        if (c > LG_MAX_RANGE || total + c > LG_MAX_RANGE) {
            free(r);
            err_set(err, errlen, "range has more than %d numbers", LG_MAX_RANGE);
            return CFRP_ETOOBIG;
        }
        total += c;
    }
    int64_t *v = malloc((total ? total : 1) * sizeof *v);
    if (!v) {
        free(r);
        return UV_ENOMEM;
    }
    size_t k = 0;
    for (size_t i = 0; i < nr; i++) {
        if (r[i].single || !(r[i].start || r[i].end)) v[k++] = r[i].single;
        else
            for (int64_t x = r[i].start; x <= r[i].end; x++) v[k++] = x;
    }
    free(r);
    *out = v;
    *n = k;
    return 0;
}

/* renderRangeProxyTemplates: `[range:P]` becomes sections P_0..P_{n-1}. */
static int lg_expand_range(json_t *ini, const char *name, char *err, size_t errlen)
{
    const char *lp = ini_get(ini, name, "local_port"), *rp = ini_get(ini, name, "remote_port");
    int64_t *l = NULL, *r = NULL;
    size_t nl = 0, nr = 0;
    int rc = 0;
    if (!lp || !rp || !*lp || !*rp) {
        err_set(err, errlen, "local_port or remote_port is empty");
        rc = CFRP_EINVAL;
    }
    if (!rc) rc = lg_range_numbers(lp, &l, &nl, err, errlen);
    if (!rc) rc = lg_range_numbers(rp, &r, &nr, err, errlen);
    if (!rc && nl != nr) {
        err_set(err, errlen, "local ports number should be same with remote ports number");
        rc = CFRP_EINVAL;
    }
    if (!rc && nl == 0) {
        err_set(err, errlen, "local_port and remote_port is necessary");
        rc = CFRP_EINVAL;
    }
    const char *prefix = name + 6;
    size_t pl = strlen(prefix);
    while (pl && (prefix[pl - 1] == ' ' || prefix[pl - 1] == '\t')) pl--;
    while (pl && (*prefix == ' ' || *prefix == '\t')) prefix++, pl--;
    json_t *src = json_object_get(ini, name);
    for (size_t i = 0; !rc && i < nl; i++) {
        char sname[512], num[32];
        snprintf(sname, sizeof sname, "%.*s_%zu", (int)(pl > 480 ? 480 : pl), prefix, i);
        json_t *dst = json_object_get(ini, sname);
        if (!dst) {
            if (json_object_size(ini) >= INI_MAX_SECTIONS) {
                err_set(err, errlen, "more than %d sections", INI_MAX_SECTIONS);
                rc = CFRP_ETOOBIG;
                break;
            }
            dst = json_object();
            if (!dst || json_object_set_new_nocheck(ini, sname, dst)) rc = UV_ENOMEM;
        }
        if (!rc && json_object_update(dst, src)) rc = UV_ENOMEM;
        snprintf(num, sizeof num, "%lld", (long long)l[i]);
        if (!rc && json_object_set_new(dst, "local_port", json_string(num))) rc = UV_ENOMEM;
        snprintf(num, sizeof num, "%lld", (long long)r[i]);
        if (!rc && json_object_set_new(dst, "remote_port", json_string(num))) rc = UV_ENOMEM;
    }
    free(l);
    free(r);
    if (rc && rc != UV_ENOMEM)
        err_prefix(err, errlen, "failed to render template for proxy %s: ", name);
    return rc;
}

/* ---- proxies and visitors ------------------------------------------------------- */

/* The plugin_* parameters of one plugin type, as in frp's conversion (http2http and
 * tls2raw get their natural parameters: decisions.md 5). */
static void lg_plugin(struct lg *g, json_t *p, const char *type)
{
    json_t *o = json_object();
    if (!o) {
        g->oom = true;
        return;
    }
    lg_set(g, o, "type", json_string_nocheck(type));
    bool local_addr = false, rewrite = false, certs = false;
    if (!strcmp(type, "http2https") || !strcmp(type, "http2http")) {
        local_addr = rewrite = true;
    } else if (!strcmp(type, "https2http") || !strcmp(type, "https2https")) {
        local_addr = rewrite = certs = true;
    } else if (!strcmp(type, "tls2raw")) {
        local_addr = certs = true;
    } else if (!strcmp(type, "http_proxy")) {
        lg_str(g, o, "httpUser", "plugin_http_user", NULL);
        lg_str(g, o, "httpPassword", "plugin_http_passwd", NULL);
    } else if (!strcmp(type, "socks5")) {
        lg_str(g, o, "username", "plugin_user", NULL);
        lg_str(g, o, "password", "plugin_passwd", NULL);
    } else if (!strcmp(type, "static_file")) {
        lg_str(g, o, "localPath", "plugin_local_path", NULL);
        lg_str(g, o, "stripPrefix", "plugin_strip_prefix", NULL);
        lg_str(g, o, "httpUser", "plugin_http_user", NULL);
        lg_str(g, o, "httpPassword", "plugin_http_passwd", NULL);
    } else if (!strcmp(type, "unix_domain_socket")) {
        lg_str(g, o, "unixPath", "plugin_unix_path", NULL);
    }
    if (local_addr) lg_str(g, o, "localAddr", "plugin_local_addr", NULL);
    if (rewrite) {
        lg_str(g, o, "hostHeaderRewrite", "plugin_host_header_rewrite", NULL);
        lg_prefixed(g, o, "requestHeaders.set", "plugin_header_", true);
    }
    if (certs) {
        lg_str(g, o, "crtPath", "plugin_crt_path", NULL);
        lg_str(g, o, "keyPath", "plugin_key_path", NULL);
    }
    lg_set(g, p, "plugin", o);
}

/* One proxy section as a v1 proxy object (NewProxyConfFromIni + Convert_ProxyConf_To_v1).
 * *typeless is set when the section has no type (v1 type stays ""). */
static int lg_proxy(struct lg *g, json_t **out, bool *typeless, char *err, size_t errlen)
{
    const char *type = lg_get(g, "type");
    *typeless = !type || !*type;
    if (*typeless) type = "tcp";
    enum cfg_proxy_type pt = cfg_proxy_type_parse(type);
    if (!pt) {
        err_set(err, errlen, "invalid type [%s]", type);
        return CFRP_EINVAL;
    }
    const char *bw = lg_get(g, "bandwidth_limit");
    if (bw) {
        struct cfg_bandwidth q = {0};
        if (cfg_bandwidth_parse(bw, &q, err, errlen) != 0) return CFRP_EINVAL;
        free(q.text);
    }
    json_t *p = json_object();
    if (!p) return UV_ENOMEM;
    lg_set(g, p, "name", json_string_nocheck(g->sec));
    lg_set(g, p, "type", json_string(type));
    lg_prefixed(g, p, "metadatas", "meta_", false);
    lg_bool(g, p, "transport.useEncryption", "use_encryption", false);
    lg_bool(g, p, "transport.useCompression", "use_compression", false);
    lg_str(g, p, "transport.bandwidthLimit", "bandwidth_limit", NULL);
    lg_str(g, p, "transport.bandwidthLimitMode", "bandwidth_limit_mode", NULL);
    lg_str(g, p, "transport.proxyProtocolVersion", "proxy_protocol_version", NULL);
    lg_str(g, p, "loadBalancer.group", "group", NULL);
    lg_str(g, p, "loadBalancer.groupKey", "group_key", NULL);
    lg_str(g, p, "healthCheck.type", "health_check_type", NULL);
    lg_int(g, p, "healthCheck.timeoutSeconds", "health_check_timeout_s");
    lg_int(g, p, "healthCheck.maxFailed", "health_check_max_failed");
    lg_int(g, p, "healthCheck.intervalSeconds", "health_check_interval_s");
    lg_str(g, p, "healthCheck.path", "health_check_url", NULL);
    lg_str(g, p, "localIP", "local_ip", NULL);
    lg_int(g, p, "localPort", "local_port");
    const char *plugin = lg_get(g, "plugin");
    if (plugin && *plugin) lg_plugin(g, p, plugin);
    switch (pt) {
    case CFG_PROXY_TCP:
    case CFG_PROXY_UDP: lg_int(g, p, "remotePort", "remote_port"); break;
    case CFG_PROXY_HTTP:
        lg_list(g, p, "locations", "locations");
        lg_str(g, p, "hostHeaderRewrite", "host_header_rewrite", NULL);
        lg_prefixed(g, p, "requestHeaders.set", "header_", true);
        /* fall through */
    case CFG_PROXY_TCPMUX:
        lg_str(g, p, "httpUser", "http_user", NULL);
        lg_str(g, p, "httpPassword", "http_pwd", NULL);
        lg_str(g, p, "routeByHTTPUser", "route_by_http_user", NULL);
        if (pt == CFG_PROXY_TCPMUX) lg_str(g, p, "multiplexer", "multiplexer", NULL);
        /* fall through */
    case CFG_PROXY_HTTPS:
        lg_list(g, p, "customDomains", "custom_domains");
        lg_str(g, p, "subdomain", "subdomain", NULL);
        break;
    default:
        lg_str(g, p, "secretKey", "sk", NULL);
        lg_list(g, p, "allowUsers", "allow_users");
        break;
    }
    *out = p;
    return 0;
}

/* One visitor section (NewVisitorConfFromIni + Convert_VisitorConf_To_v1). */
static int lg_visitor(struct lg *g, json_t **out, char *err, size_t errlen)
{
    const char *type = lg_get(g, "type");
    if (!type || !*type) {
        err_set(err, errlen, "type shouldn't be empty");
        return CFRP_EINVAL;
    }
    bool xtcp = !strcmp(type, "xtcp");
    if (!xtcp && strcmp(type, "stcp") && strcmp(type, "sudp")) {
        err_set(err, errlen, "type [%s] error", type);
        return CFRP_EINVAL;
    }
    json_t *v = json_object();
    if (!v) return UV_ENOMEM;
    lg_set(g, v, "name", json_string_nocheck(g->sec));
    lg_set(g, v, "type", json_string(type));
    lg_bool(g, v, "transport.useEncryption", "use_encryption", false);
    lg_bool(g, v, "transport.useCompression", "use_compression", false);
    lg_str(g, v, "secretKey", "sk", NULL);
    lg_str(g, v, "serverUser", "server_user", NULL);
    lg_str(g, v, "serverName", "server_name", NULL);
    const char *ba = lg_get(g, "bind_addr");
    lg_set(g, v, "bindAddr", json_string_nocheck(ba && *ba ? ba : "127.0.0.1"));
    lg_int(g, v, "bindPort", "bind_port");
    if (xtcp) {
        const char *proto = lg_get(g, "protocol");
        lg_set(g, v, "protocol", json_string_nocheck(proto && *proto ? proto : "quic"));
        lg_bool(g, v, "keepTunnelOpen", "keep_tunnel_open", false);
        int64_t x = lg_intval(g, "max_retries_an_hour", 0);
        lg_set(g, v, "maxRetriesAnHour", json_integer(x > 0 ? x : 8));
        x = lg_intval(g, "min_retry_interval", 0);
        lg_set(g, v, "minRetryInterval", json_integer(x > 0 ? x : 90));
        lg_str(g, v, "fallbackTo", "fallback_to", NULL);
        x = lg_intval(g, "fallback_timeout_ms", 0);
        lg_set(g, v, "fallbackTimeoutMs", json_integer(x > 0 ? x : 1000));
    }
    *out = v;
    return 0;
}

/* LoadAllProxyConfsFromIni: proxies and visitors of every section, in file order, with
 * the start filter applied to section names. typeless gets the indexes (in proxies) of
 * proxies written without a type; it has room for every section. */
static int lg_sections(json_t *ini, json_t *start, json_t *proxies, json_t *visitors,
                       size_t *typeless, size_t *ntypeless, char *err, size_t errlen)
{
    const char *name;
    json_t *sec;
    int rc = 0;
    /* range sections first (the expansion adds sections at the end) */
    json_t *ranges = json_array();
    if (!ranges) return UV_ENOMEM;
    json_object_foreach(ini, name, sec)
        if (!strncmp(name, "range:", 6) && json_array_append_new(ranges, json_string_nocheck(name)))
            rc = UV_ENOMEM;
    size_t i;
    json_t *rn;
    json_array_foreach(ranges, i, rn)
    {
        if (!rc) rc = lg_expand_range(ini, json_string_value(rn), err, errlen);
    }
    json_decref(ranges);
    *ntypeless = 0;
    json_object_foreach(ini, name, sec)
    {
        if (rc) break;
        if (!strcmp(name, "DEFAULT") || !strcmp(name, "common") || !strncmp(name, "range:", 6))
            continue;
        if (json_array_size(start)) {
            bool listed = false;
            json_t *s;
            json_array_foreach(start, i, s) listed = listed || !strcmp(json_string_value(s), name);
            if (!listed) continue;
        }
        struct lg g = {.ini = ini, .sec = name};
        const char *role = lg_get(&g, "role");
        json_t *obj = NULL;
        if (!role || !*role || !strcmp(role, "server")) {
            bool tl = false;
            rc = lg_proxy(&g, &obj, &tl, err, errlen);
            if (rc && rc != UV_ENOMEM)
                err_prefix(err, errlen, "failed to parse proxy %s, err: ", name);
            if (!rc && tl) typeless[(*ntypeless)++] = json_array_size(proxies);
            if (!rc && json_array_append_new(proxies, obj)) rc = UV_ENOMEM;
        } else if (!strcmp(role, "visitor")) {
            rc = lg_visitor(&g, &obj, err, errlen);
            if (rc && rc != UV_ENOMEM)
                err_prefix(err, errlen, "failed to parse visitor %s, err: ", name);
            if (!rc && json_array_append_new(visitors, obj)) rc = UV_ENOMEM;
        } else {
            err_set(err, errlen, "proxy %s role should be 'server' or 'visitor'", name);
            rc = CFRP_EINVAL;
        }
        if (g.oom && !rc) rc = UV_ENOMEM;
    }
    return rc;
}

int cfg_legacy_client_load(const char *path, struct frpc_config **out, char *err,
                           size_t errlen)
{
    char *text = NULL;
    size_t len = 0;
    json_t *common = NULL, *all = NULL;
    size_t *typeless = NULL, ntypeless = 0;
    struct cfg_source src = {.format = CFG_FORMAT_JSON};
    struct frpc_config *cfg = NULL;
    int rc = lg_render_file(path, &text, &len, err, errlen);
    if (!rc) rc = lg_parse(path, text, len, &common, err, errlen);
    if (!rc && !ini_section(common, "common")) {
        err_set(err, errlen, "invalid configuration file, not found [common] section");
        rc = CFRP_EPARSE;
    }
    if (!rc) rc = (src.tree = json_object()) ? 0 : UV_ENOMEM;
    struct lg g = {.ini = common, .sec = "common"};
    if (!rc) lg_client_common(&g, src.tree);
    if (!rc && g.oom) rc = UV_ENOMEM;
    if (!rc) rc = lg_client_check(&g, src.tree, err, errlen);
    /* the includes' rendered text follows the main text */
    json_t *inc = json_object_get(src.tree, "includes");
    size_t i;
    json_t *v;
    if (!rc) {
        char *q = realloc(text, len + 2);
        if (!q) rc = UV_ENOMEM;
        else {
            text = q;
            text[len++] = '\n';
            text[len] = '\0';
        }
    }
    json_array_foreach(inc, i, v)
    {
        if (!rc) rc = lg_include(json_string_value(v), &text, &len, err, errlen);
    }
    if (!rc) rc = lg_parse(path, text, len, &all, err, errlen);
    json_t *proxies = json_array(), *visitors = json_array();
    if (!rc && (!proxies || !visitors)) rc = UV_ENOMEM;
    if (!rc) {
        typeless = malloc((json_object_size(all) + INI_MAX_SECTIONS + 1) * sizeof *typeless);
        if (!typeless) rc = UV_ENOMEM;
    }
    if (!rc)
        rc = lg_sections(all, json_object_get(src.tree, "start"), proxies, visitors, typeless,
                         &ntypeless, err, errlen);
    if (!rc && (json_object_set(src.tree, "proxies", proxies) ||
                json_object_set(src.tree, "visitors", visitors)))
        rc = UV_ENOMEM;
    json_decref(proxies);
    json_decref(visitors);
    if (!rc) rc = cfg_client_decode(&src, true, &cfg, err, errlen);
    for (size_t k = 0; !rc && k < ntypeless; k++) {
        struct cfg_proxy *p = &cfg->proxies.items[typeless[k]];
        char *empty = strdup("");
        if (!empty) {
            rc = UV_ENOMEM;
            break;
        }
        free(p->type);
        p->type = empty;
    }
    if (!rc) rc = cfg_client_finish(cfg);
    if (rc == UV_ENOMEM) err_set(err, errlen, "out of memory");
    if (rc) cfg_client_free(cfg);
    else *out = cfg;
    free(typeless);
    cfg_source_clear(&src);
    json_decref(common);
    json_decref(all);
    free(text);
    return rc;
}
