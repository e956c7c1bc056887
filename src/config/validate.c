/* Validation of completed frps and frpc configurations, rule for rule and text for
 * text as frp v0.61.1 (config.md section 8): which checks exist, their order, which
 * are warnings, and how several messages are joined (one per line). */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <uv.h>

#include "base/err.h"
#include "config/client_config.h"
#include "config/config.h"
#include "config/server_config.h"

/* A growing text of lines joined by '\n'. oom is set if an append failed. */
struct cfgv_text {
    char *s;
    size_t len;
    bool oom;
};

static void cfgv_add(struct cfgv_text *t, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void cfgv_add(struct cfgv_text *t, const char *fmt, ...)
{
    char *line;
    va_list ap;
    va_start(ap, fmt);
    int n = vasprintf(&line, fmt, ap);
    va_end(ap);
    if (n < 0) {
        t->oom = true;
        return;
    }
    char *s = realloc(t->s, t->len + (size_t)n + 2);
    if (!s) {
        free(line);
        t->oom = true;
        return;
    }
    if (t->len) s[t->len++] = '\n';
    memcpy(s + t->len, line, (size_t)n + 1);
    t->len += (size_t)n;
    t->s = s;
    free(line);
}

static const char *const auth_methods[] = {"token", "oidc", NULL};
static const char *const auth_scopes[] = {"HeartBeats", "NewWorkConns", NULL};
static const char *const log_levels[] = {"trace", "debug", "info", "warn", "error", NULL};
static const char *const protocols[] = {"tcp", "kcp", "quic", "websocket", "wss", NULL};
static const char *const plugin_ops[] = {"Login", "NewProxy", "CloseProxy", "Ping",
                                         "NewWorkConn", "NewUserConn", NULL};

static bool cfgv_in(const char *const *set, const char *s)
{
    for (; *set; set++)
        if (strcmp(*set, s ? s : "") == 0) return true;
    return false;
}

static bool cfgv_all_in(const char *const *set, const struct cfg_strlist *l)
{
    for (size_t i = 0; i < l->n; i++)
        if (!cfgv_in(set, l->items[i])) return false;
    return true;
}

/* Go's %v of a []string: "[a b c]". */
static const char *cfgv_set_text(const char *const *set, char *buf, size_t len)
{
    size_t o = (size_t)snprintf(buf, len, "[");
    for (size_t i = 0; set[i] && o < len; i++)
        o += (size_t)snprintf(buf + o, len - o, "%s%s", i ? " " : "", set[i]);
    if (o < len) snprintf(buf + o, len - o, "]");
    return buf;
}

static void cfgv_port(struct cfgv_text *t, int64_t port, const char *name)
{
    if (port < 0 || port > 65535)
        cfgv_add(t, "%s: port number %lld must be in the range 0..65535", name, (long long)port);
}

static void cfgv_common(struct cfgv_text *e, const char *method, const struct cfg_strlist *scopes,
                        const struct cfg_log *log, const struct cfg_web_server *web)
{
    char set[128];
    if (!cfgv_in(auth_methods, method))
        cfgv_add(e, "invalid auth method, optional values are %s", cfgv_set_text(auth_methods, set, sizeof set));
    if (!cfgv_all_in(auth_scopes, scopes))
        cfgv_add(e, "invalid auth additional scopes, optional values are %s",
                 cfgv_set_text(auth_scopes, set, sizeof set));
    if (!cfgv_in(log_levels, log->level))
        cfgv_add(e, "invalid log level, optional values are %s", cfgv_set_text(log_levels, set, sizeof set));
    /* validateWebServerConfig: only its first error. */
    if (web->tls && (!web->tls->cert_file || !*web->tls->cert_file))
        cfgv_add(e, "tls.certFile must be specified when tls is enabled");
    else if (web->tls && (!web->tls->key_file || !*web->tls->key_file))
        cfgv_add(e, "tls.keyFile must be specified when tls is enabled");
    else cfgv_port(e, web->port, "webServer.port");
}

/* Hands the texts to the caller; returns 0, CFRP_EINVAL if there are errors, or
 * UV_ENOMEM. */
static int cfgv_finish(struct cfgv_text *w, struct cfgv_text *e, char **warnings, char **errors)
{
    if (w->oom || e->oom) {
        free(w->s);
        free(e->s);
        *warnings = NULL;
        *errors = NULL;
        return UV_ENOMEM;
    }
    *warnings = w->s;
    *errors = e->s;
    return e->s ? CFRP_EINVAL : 0;
}

int cfg_server_validate(const struct frps_config *c, char **warnings, char **errors)
{
    struct cfgv_text w = {0}, e = {0};
    cfgv_common(&e, c->auth.method, &c->auth.additional_scopes, &c->log, &c->web_server);
    cfgv_port(&e, c->bind_port, "bindPort");
    cfgv_port(&e, c->kcp_bind_port, "kcpBindPort");
    cfgv_port(&e, c->quic_bind_port, "quicBindPort");
    cfgv_port(&e, c->vhost_http_port, "vhostHTTPPort");
    cfgv_port(&e, c->vhost_https_port, "vhostHTTPSPort");
    cfgv_port(&e, c->tcpmux_http_connect_port, "tcpMuxHTTPConnectPort");
    char set[128];
    for (size_t i = 0; i < c->http_plugins.n; i++)
        if (!cfgv_all_in(plugin_ops, &c->http_plugins.items[i].ops))
            cfgv_add(&e, "invalid http plugin ops, optional values are %s",
                     cfgv_set_text(plugin_ops, set, sizeof set));
    return cfgv_finish(&w, &e, warnings, errors);
}

/* ---- annotations: Kubernetes IsQualifiedName on the lowercased key ---- */

#define QNAME_MSG                                                                          \
    "must consist of alphanumeric characters, '-', '_' or '.', and must start and end with " \
    "an alphanumeric character (e.g. 'MyName',  or 'my.name',  or '123-abc', regex used for " \
    "validation is '([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]')"
#define DNS1123_MSG                                                                        \
    "a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' " \
    "or '.', and must start and end with an alphanumeric character (e.g. 'example.com', "    \
    "regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')"

static bool cfgv_alnum(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
}

/* ([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9] */
static bool cfgv_qname(const char *s, size_t n)
{
    if (n == 0 || !cfgv_alnum(s[0]) || !cfgv_alnum(s[n - 1])) return false;
    for (size_t i = 0; i < n; i++)
        if (!cfgv_alnum(s[i]) && s[i] != '-' && s[i] != '_' && s[i] != '.') return false;
    return true;
}

/* [a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)* */
static bool cfgv_dns1123(const char *s, size_t n)
{
    size_t start = 0;
    for (size_t i = 0; i <= n; i++) {
        if (i < n && s[i] != '.') {
            char c = s[i];
            if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-')) return false;
            continue;
        }
        if (i == start || s[start] == '-' || s[i - 1] == '-') return false;
        start = i + 1;
    }
    return true;
}

static void cfgv_annotation_key(struct cfgv_text *e, const char *key)
{
    size_t n = strlen(key);
    char *low = strdup(key);
    if (!low) {
        e->oom = true;
        return;
    }
    for (size_t i = 0; i < n; i++)
        if (low[i] >= 'A' && low[i] <= 'Z') low[i] = (char)(low[i] - 'A' + 'a');
    const char *name = low;
    size_t nlen = n;
    char *slash = strchr(low, '/');
    if (slash && strchr(slash + 1, '/')) {
        cfgv_add(e, "annotation key %s is invalid: a qualified name " QNAME_MSG
                    " with an optional DNS subdomain prefix and '/' (e.g. 'example.com/MyName')", key);
        free(low);
        return;
    }
    if (slash) {
        size_t plen = (size_t)(slash - low);
        if (plen == 0) {
            cfgv_add(e, "annotation key %s is invalid: prefix part must be non-empty", key);
        } else {
            if (plen > 253)
                cfgv_add(e, "annotation key %s is invalid: prefix part must be no more than 253 characters", key);
            if (!cfgv_dns1123(low, plen))
                cfgv_add(e, "annotation key %s is invalid: prefix part " DNS1123_MSG, key);
        }
        name = slash + 1;
        nlen = n - plen - 1;
    }
    if (nlen == 0) cfgv_add(e, "annotation key %s is invalid: name part must be non-empty", key);
    else if (nlen > 63)
        cfgv_add(e, "annotation key %s is invalid: name part must be no more than 63 characters", key);
    if (!cfgv_qname(name, nlen)) cfgv_add(e, "annotation key %s is invalid: name part " QNAME_MSG, key);
    free(low);
}

static int cfgv_keycmp(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* ValidateAnnotations. Go walks the map in random order; we use key order. */
static void cfgv_annotations(struct cfgv_text *e, const struct cfg_strmap *m)
{
    if (m->n == 0) return;
    char **keys = malloc(m->n * sizeof *keys);
    if (!keys) {
        e->oom = true;
        return;
    }
    memcpy(keys, m->keys, m->n * sizeof *keys);
    qsort(keys, m->n, sizeof *keys, cfgv_keycmp);
    for (size_t i = 0; i < m->n; i++) cfgv_annotation_key(e, keys[i]);
    free(keys);
    int64_t total = 0;
    for (size_t i = 0; i < m->n; i++) total += (int64_t)(strlen(m->keys[i]) + strlen(m->vals[i]));
    if (total > 256 * 1024)
        cfgv_add(e, "annotations size %lld is larger than limit %d", (long long)total, 256 * 1024);
}

static bool cfgv_empty(const char *s)
{
    return !s || !*s;
}

/* validateProxyBaseConfigForClient and the per-type client checks: first failure. */
static void cfgv_proxy(struct cfgv_text *e, const struct cfg_proxy *p)
{
    if (cfgv_empty(p->name)) {
        cfgv_add(e, "name should not be empty");
        return;
    }
    cfgv_annotations(e, &p->annotations);
    if (e->s || e->oom) return;
    const char *ppv = p->transport.proxy_protocol_version ? p->transport.proxy_protocol_version : "";
    if (strcmp(ppv, "") && strcmp(ppv, "v1") && strcmp(ppv, "v2")) {
        cfgv_add(e, "not support proxy protocol version: %s", ppv);
        return;
    }
    const char *mode = p->transport.bandwidth_limit_mode ? p->transport.bandwidth_limit_mode : "";
    if (strcmp(mode, "client") && strcmp(mode, "server")) {
        cfgv_add(e, "bandwidth limit mode should be client or server");
        return;
    }
    bool plugin = p->plugin.type_id != CFG_PLUGIN_NONE;
    if (!plugin && (p->local_port < 0 || p->local_port > 65535)) {
        cfgv_add(e, "localPort: localPort: port number %lld must be in the range 0..65535",
                 (long long)p->local_port);
        return;
    }
    const char *hc = p->health_check.type ? p->health_check.type : "";
    if (strcmp(hc, "") && strcmp(hc, "tcp") && strcmp(hc, "http")) {
        cfgv_add(e, "not support health check type: %s", hc);
        return;
    }
    if (strcmp(hc, "http") == 0 && cfgv_empty(p->health_check.path)) {
        cfgv_add(e, "health check path should not be empty");
        return;
    }
    if (plugin) {
        const struct cfg_plugin *pl = &p->plugin;
        const char *missing = NULL;
        switch (pl->type_id) {
        case CFG_PLUGIN_HTTP2HTTPS:
        case CFG_PLUGIN_HTTPS2HTTP:
        case CFG_PLUGIN_HTTPS2HTTPS:
        case CFG_PLUGIN_TLS2RAW:
            if (cfgv_empty(pl->local_addr)) missing = "localAddr";
            break;
        case CFG_PLUGIN_STATIC_FILE:
            if (cfgv_empty(pl->local_path)) missing = "localPath";
            break;
        case CFG_PLUGIN_UNIX_DOMAIN_SOCKET:
            if (cfgv_empty(pl->unix_path)) missing = "unixPath";
            break;
        default: break;
        }
        if (missing) {
            cfgv_add(e, "plugin %s: %s is required", pl->type, missing);
            return;
        }
    }
    if (p->type_id == CFG_PROXY_HTTP || p->type_id == CFG_PROXY_HTTPS || p->type_id == CFG_PROXY_TCPMUX) {
        if (cfgv_empty(p->subdomain) && p->custom_domains.n == 0) {
            cfgv_add(e, "subdomain and custom domains should not be both empty");
            return;
        }
    }
    if (p->type_id == CFG_PROXY_TCPMUX) {
        const char *m = p->multiplexer ? p->multiplexer : "";
        if (strcmp(m, "httpconnect") != 0) cfgv_add(e, "not support multiplexer: %s", m);
    }
}

static void cfgv_visitor(struct cfgv_text *e, const struct cfg_visitor *v)
{
    if (cfgv_empty(v->name)) cfgv_add(e, "name is required");
    else if (cfgv_empty(v->server_name)) cfgv_add(e, "server name is required");
    else if (v->bind_port == 0) cfgv_add(e, "bind port is required");
    else if (v->type_id == CFG_VISITOR_XTCP && (cfgv_empty(v->protocol) ||
             (strcmp(v->protocol, "kcp") && strcmp(v->protocol, "quic"))))
        cfgv_add(e, "protocol should be kcp or quic");
}

/* Moves t's text into a caller buffer. */
static int cfgv_to_err(struct cfgv_text *t, char *err, size_t errlen)
{
    int rc = t->oom ? UV_ENOMEM : t->s ? CFRP_EINVAL : 0;
    if (t->s) err_set(err, errlen, "%s", t->s);
    else if (t->oom) err_set(err, errlen, "out of memory");
    free(t->s);
    return rc;
}

int cfg_proxy_validate(const struct cfg_proxy *p, char *err, size_t errlen)
{
    struct cfgv_text e = {0};
    cfgv_proxy(&e, p);
    return cfgv_to_err(&e, err, errlen);
}

int cfg_visitor_validate(const struct cfg_visitor *v, char *err, size_t errlen)
{
    struct cfgv_text e = {0};
    cfgv_visitor(&e, v);
    return cfgv_to_err(&e, err, errlen);
}

/* validateDomainConfigForServer. */
static void cfgv_domains_server(struct cfgv_text *e, const struct cfg_proxy *p, const char *host)
{
    size_t host_labels = 1;
    for (const char *c = host; *c; c++) host_labels += *c == '.';
    for (size_t i = 0; i < p->custom_domains.n; i++) {
        const char *d = p->custom_domains.items[i];
        size_t labels = 1;
        for (const char *c = d; *c; c++) labels += *c == '.';
        if (*host && host_labels < labels && strstr(d, host)) {
            cfgv_add(e, "custom domain [%s] should not belong to subdomain host [%s]", d, host);
            return;
        }
    }
    if (!cfgv_empty(p->subdomain)) {
        if (!*host) cfgv_add(e, "subdomain is not supported because this feature is not enabled in server");
        else if (strchr(p->subdomain, '.') || strchr(p->subdomain, '*'))
            cfgv_add(e, "'.' and '*' are not supported in subdomain");
    }
}

int cfg_proxy_validate_server(const struct cfg_proxy *p, const struct frps_config *s, char *err,
                              size_t errlen)
{
    struct cfgv_text e = {0};
    const char *host = s->sub_domain_host ? s->sub_domain_host : "";
    cfgv_annotations(&e, &p->annotations);
    if (!e.s && !e.oom) {
        switch (p->type_id) {
        case CFG_PROXY_TCPMUX:
            if (p->multiplexer && strcmp(p->multiplexer, "httpconnect") == 0 &&
                s->tcpmux_http_connect_port == 0)
                cfgv_add(&e, "tcpmux with multiplexer httpconnect not supported because this "
                             "feature is not enabled in server");
            else cfgv_domains_server(&e, p, host);
            break;
        case CFG_PROXY_HTTP:
            if (s->vhost_http_port == 0) cfgv_add(&e, "type [http] not supported when vhost http port is not set");
            else cfgv_domains_server(&e, p, host);
            break;
        case CFG_PROXY_HTTPS:
            if (s->vhost_https_port == 0)
                cfgv_add(&e, "type [https] not supported when vhost https port is not set");
            else cfgv_domains_server(&e, p, host);
            break;
        default: break;
        }
    }
    return cfgv_to_err(&e, err, errlen);
}

int cfg_client_validate(const struct frpc_config *c, char **warnings, char **errors)
{
    struct cfgv_text w = {0}, e = {0};
    const struct cfg_client_transport *t = &c->transport;
    cfgv_common(&e, c->auth.method, &c->auth.additional_scopes, &c->log, &c->web_server);
    if (t->heartbeat_timeout > 0 && t->heartbeat_interval > 0 && t->heartbeat_timeout < t->heartbeat_interval)
        cfgv_add(&e, "invalid transport.heartbeatTimeout, heartbeat timeout should not less than heartbeat interval");
    if (!cfg_tri_true(t->tls.enable)) {
        if (!cfgv_empty(t->tls.tls.cert_file))
            cfgv_add(&w, "transport.tls.certFile is invalid when transport.tls.enable is false");
        if (!cfgv_empty(t->tls.tls.key_file))
            cfgv_add(&w, "transport.tls.keyFile is invalid when transport.tls.enable is false");
        if (!cfgv_empty(t->tls.tls.trusted_ca_file))
            cfgv_add(&w, "transport.tls.trustedCaFile is invalid when transport.tls.enable is false");
    }
    char set[128];
    if (!cfgv_in(protocols, t->protocol))
        cfgv_add(&e, "invalid transport.protocol, optional values are %s", cfgv_set_text(protocols, set, sizeof set));
    for (size_t i = 0; i < c->includes.n; i++) {
        char *dir = cfg_abs_dir(c->includes.items[i]);
        struct stat st;
        if (!dir) cfgv_add(&e, "include: parse directory of %s failed: %s", c->includes.items[i], strerror(errno));
        else if (stat(dir, &st) != 0 && errno == ENOENT)
            cfgv_add(&e, "include: directory of %s not exist", c->includes.items[i]);
        free(dir);
    }
    /* Proxies and visitors only when the common section is fine; first failure wins. */
    for (size_t i = 0; !e.s && !e.oom && i < c->proxies.n; i++) {
        struct cfgv_text pe = {0};
        cfgv_proxy(&pe, &c->proxies.items[i]);
        if (pe.s) cfgv_add(&e, "proxy %s: %s", c->proxies.items[i].name, pe.s);
        e.oom |= pe.oom;
        free(pe.s);
    }
    for (size_t i = 0; !e.s && !e.oom && i < c->visitors.n; i++) {
        struct cfgv_text ve = {0};
        cfgv_visitor(&ve, &c->visitors.items[i]);
        if (ve.s) cfgv_add(&e, "visitor %s: %s", c->visitors.items[i].name, ve.s);
        e.oom |= ve.oom;
        free(ve.s);
    }
    return cfgv_finish(&w, &e, warnings, errors);
}
