/* frpc proxies and client plugins: the per-type field tables (each proxy type = the
 * common base table + its own fields, in Go's field order), the polymorphic `type`
 * descriptors, completion, encoding, copying and comparison of single proxies. */
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <uv.h>

#include "base/err.h"
#include "config/client_config.h"
#include "config/schema.h"

_Static_assert(sizeof(enum cfg_proxy_type) == sizeof(int), "type_id is read as an int");
_Static_assert(sizeof(enum cfg_plugin_type) == sizeof(int), "type_id is read as an int");

/* ---- plugins ---- */

typedef struct cfg_plugin Pl;
#define PL_TYPE SF_STR("type", Pl, type, SCH_OMITEMPTY, NULL)
#define PL_STR(k, m) SF_STR(k, Pl, m, SCH_OMITEMPTY, NULL)
#define PL_HEADERS \
    SF_SUB("requestHeaders", SCH_STRUCT, Pl, request_headers, "v1.HeaderOperations", SCH_OMITEMPTY, &cfg_header_ops_schema)

static const struct sch_field pl_http2https[] = {
    PL_TYPE, PL_STR("localAddr", local_addr), PL_STR("hostHeaderRewrite", host_header_rewrite),
    PL_HEADERS, SF_END};
static const struct sch_field pl_http_proxy[] = {
    PL_TYPE, PL_STR("httpUser", http_user), PL_STR("httpPassword", http_password), SF_END};
static const struct sch_field pl_https2x[] = {
    PL_TYPE, PL_STR("localAddr", local_addr), PL_STR("hostHeaderRewrite", host_header_rewrite),
    PL_HEADERS, SF_TRI("enableHTTP2", Pl, enable_http2, 1), PL_STR("crtPath", crt_path),
    PL_STR("keyPath", key_path), SF_END};
static const struct sch_field pl_socks5[] = {
    PL_TYPE, PL_STR("username", username), PL_STR("password", password), SF_END};
static const struct sch_field pl_static_file[] = {
    PL_TYPE, PL_STR("localPath", local_path), PL_STR("stripPrefix", strip_prefix),
    PL_STR("httpUser", http_user), PL_STR("httpPassword", http_password), SF_END};
static const struct sch_field pl_uds[] = {PL_TYPE, PL_STR("unixPath", unix_path), SF_END};
static const struct sch_field pl_tls2raw[] = {
    PL_TYPE, PL_STR("localAddr", local_addr), PL_STR("crtPath", crt_path),
    PL_STR("keyPath", key_path), SF_END};

#define PL_SCHEMA(var, gname, fields)                                       \
    static const struct sch_field *const var##_parts[] = {fields, NULL};    \
    static const struct sch_schema var = {gname, sizeof(Pl), var##_parts, NULL, NULL}
PL_SCHEMA(pls_http2https, "HTTP2HTTPSPluginOptions", pl_http2https);
PL_SCHEMA(pls_http_proxy, "HTTPProxyPluginOptions", pl_http_proxy);
PL_SCHEMA(pls_https2http, "HTTPS2HTTPPluginOptions", pl_https2x);
PL_SCHEMA(pls_https2https, "HTTPS2HTTPSPluginOptions", pl_https2x);
PL_SCHEMA(pls_http2http, "HTTP2HTTPPluginOptions", pl_http2https);
PL_SCHEMA(pls_socks5, "Socks5PluginOptions", pl_socks5);
PL_SCHEMA(pls_static_file, "StaticFilePluginOptions", pl_static_file);
PL_SCHEMA(pls_uds, "UnixDomainSocketPluginOptions", pl_uds);
PL_SCHEMA(pls_tls2raw, "TLS2RawPluginOptions", pl_tls2raw);

static const struct sch_variant plugin_variants[] = {
    {"http2https", CFG_PLUGIN_HTTP2HTTPS, &pls_http2https},
    {"http_proxy", CFG_PLUGIN_HTTP_PROXY, &pls_http_proxy},
    {"https2http", CFG_PLUGIN_HTTPS2HTTP, &pls_https2http},
    {"https2https", CFG_PLUGIN_HTTPS2HTTPS, &pls_https2https},
    {"http2http", CFG_PLUGIN_HTTP2HTTP, &pls_http2http},
    {"socks5", CFG_PLUGIN_SOCKS5, &pls_socks5},
    {"static_file", CFG_PLUGIN_STATIC_FILE, &pls_static_file},
    {"unix_domain_socket", CFG_PLUGIN_UNIX_DOMAIN_SOCKET, &pls_uds},
    {"tls2raw", CFG_PLUGIN_TLS2RAW, &pls_tls2raw},
    {NULL, 0, NULL}};

static const struct sch_poly plugin_poly = {
    sizeof(Pl), offsetof(Pl, type_id), offsetof(Pl, type), plugin_variants,
    "unmarshal ClientPluginOptions error: ", "unknown plugin type: %s", "plugin type is empty", NULL};

/* ---- proxies ---- */

typedef struct cfg_proxy_transport PT;
static const struct sch_field pt_fields[] = {
    SF_BOOL("useEncryption", PT, use_encryption, SCH_OMITEMPTY),
    SF_BOOL("useCompression", PT, use_compression, SCH_OMITEMPTY),
    {"bandwidthLimit", SCH_BANDWIDTH, offsetof(PT, bandwidth_limit), SCH_OMITEMPTY,
     "types.BandwidthQuantity", NULL, NULL, NULL, 0},
    SF_STR("bandwidthLimitMode", PT, bandwidth_limit_mode, SCH_OMITEMPTY, "client"),
    SF_STR("proxyProtocolVersion", PT, proxy_protocol_version, SCH_OMITEMPTY, NULL),
    SF_END};
static const struct sch_field *const pt_parts[] = {pt_fields, NULL};
static const struct sch_schema pt_schema = {"ProxyTransport", sizeof(PT), pt_parts, NULL, NULL};

typedef struct cfg_load_balancer LB;
static const struct sch_field lb_fields[] = {
    SF_STR("group", LB, group, 0, NULL),
    SF_STR("groupKey", LB, group_key, SCH_OMITEMPTY, NULL),
    SF_END};
static const struct sch_field *const lb_parts[] = {lb_fields, NULL};
static const struct sch_schema lb_schema = {"LoadBalancerConfig", sizeof(LB), lb_parts, NULL, NULL};

typedef struct cfg_health_check HC;
static const struct sch_field hc_fields[] = {
    SF_STR("type", HC, type, 0, NULL),
    SF_INT("timeoutSeconds", HC, timeout_seconds, "int", SCH_OMITEMPTY, 0),
    SF_INT("maxFailed", HC, max_failed, "int", SCH_OMITEMPTY, 0),
    SF_INT("intervalSeconds", HC, interval_seconds, "int", 0, 0),
    SF_STR("path", HC, path, SCH_OMITEMPTY, NULL),
    SF_SUB("httpHeaders", SCH_LIST, HC, http_headers, "[]v1.HTTPHeader", SCH_OMITEMPTY, &cfg_http_header_schema),
    SF_END};
static const struct sch_field *const hc_parts[] = {hc_fields, NULL};
static const struct sch_schema hc_schema = {"HealthCheckConfig", sizeof(HC), hc_parts, NULL, NULL};

typedef struct cfg_proxy P;
static const struct sch_field proxy_base[] = {
    SF_STR("name", P, name, 0, NULL),
    SF_STR("type", P, type, 0, NULL),
    SF_MAP("annotations", P, annotations, SCH_OMITEMPTY),
    SF_SUB("transport", SCH_STRUCT, P, transport, "v1.ProxyTransport", SCH_OMITEMPTY, &pt_schema),
    SF_MAP("metadatas", P, metadatas, SCH_OMITEMPTY),
    SF_SUB("loadBalancer", SCH_STRUCT, P, load_balancer, "v1.LoadBalancerConfig", SCH_OMITEMPTY, &lb_schema),
    SF_SUB("healthCheck", SCH_STRUCT, P, health_check, "v1.HealthCheckConfig", SCH_OMITEMPTY, &hc_schema),
    SF_STR("localIP", P, local_ip, SCH_OMITEMPTY, "127.0.0.1"),
    SF_INT("localPort", P, local_port, "int", SCH_OMITEMPTY, 0),
    SF_POLY("plugin", SCH_POLY, P, plugin, "v1.TypedClientPluginOptions", SCH_OMITEMPTY, &plugin_poly),
    SF_END};
static const struct sch_field proxy_remote[] = {
    SF_INT("remotePort", P, remote_port, "int", SCH_OMITEMPTY, 0), SF_END};
static const struct sch_field proxy_domain[] = {
    SF_LIST("customDomains", P, custom_domains, "[]string", SCH_OMITEMPTY),
    SF_STR("subdomain", P, subdomain, SCH_OMITEMPTY, NULL),
    SF_END};
static const struct sch_field proxy_http[] = {
    SF_LIST("locations", P, locations, "[]string", SCH_OMITEMPTY),
    SF_STR("httpUser", P, http_user, SCH_OMITEMPTY, NULL),
    SF_STR("httpPassword", P, http_password, SCH_OMITEMPTY, NULL),
    SF_STR("hostHeaderRewrite", P, host_header_rewrite, SCH_OMITEMPTY, NULL),
    SF_SUB("requestHeaders", SCH_STRUCT, P, request_headers, "v1.HeaderOperations", SCH_OMITEMPTY, &cfg_header_ops_schema),
    SF_SUB("responseHeaders", SCH_STRUCT, P, response_headers, "v1.HeaderOperations", SCH_OMITEMPTY, &cfg_header_ops_schema),
    SF_STR("routeByHTTPUser", P, route_by_http_user, SCH_OMITEMPTY, NULL),
    SF_END};
static const struct sch_field proxy_tcpmux[] = {
    SF_STR("httpUser", P, http_user, SCH_OMITEMPTY, NULL),
    SF_STR("httpPassword", P, http_password, SCH_OMITEMPTY, NULL),
    SF_STR("routeByHTTPUser", P, route_by_http_user, SCH_OMITEMPTY, NULL),
    SF_STR("multiplexer", P, multiplexer, SCH_OMITEMPTY, NULL),
    SF_END};
static const struct sch_field proxy_secret[] = {
    SF_STR("secretKey", P, secret_key, SCH_OMITEMPTY, NULL),
    SF_LIST("allowUsers", P, allow_users, "[]string", SCH_OMITEMPTY),
    SF_END};

#define PX_SCHEMA(var, gname, ...)                                            \
    static const struct sch_field *const var##_parts[] = {__VA_ARGS__, NULL}; \
    static const struct sch_schema var = {gname, sizeof(P), var##_parts, NULL, NULL}
PX_SCHEMA(pxs_tcp, "TCPProxyConfig", proxy_base, proxy_remote);
PX_SCHEMA(pxs_udp, "UDPProxyConfig", proxy_base, proxy_remote);
PX_SCHEMA(pxs_http, "HTTPProxyConfig", proxy_base, proxy_domain, proxy_http);
PX_SCHEMA(pxs_https, "HTTPSProxyConfig", proxy_base, proxy_domain);
PX_SCHEMA(pxs_tcpmux, "TCPMuxProxyConfig", proxy_base, proxy_domain, proxy_tcpmux);
PX_SCHEMA(pxs_stcp, "STCPProxyConfig", proxy_base, proxy_secret);
PX_SCHEMA(pxs_xtcp, "XTCPProxyConfig", proxy_base, proxy_secret);
PX_SCHEMA(pxs_sudp, "SUDPProxyConfig", proxy_base, proxy_secret);

static const struct sch_variant proxy_variants[] = {
    {"tcp", CFG_PROXY_TCP, &pxs_tcp},
    {"udp", CFG_PROXY_UDP, &pxs_udp},
    {"http", CFG_PROXY_HTTP, &pxs_http},
    {"https", CFG_PROXY_HTTPS, &pxs_https},
    {"tcpmux", CFG_PROXY_TCPMUX, &pxs_tcpmux},
    {"stcp", CFG_PROXY_STCP, &pxs_stcp},
    {"xtcp", CFG_PROXY_XTCP, &pxs_xtcp},
    {"sudp", CFG_PROXY_SUDP, &pxs_sudp},
    {NULL, 0, NULL}};

const struct sch_poly cfg_proxy_poly = {
    sizeof(P), offsetof(P, type_id), offsetof(P, type), proxy_variants,
    "unmarshal ProxyConfig error: ", "unknown proxy type: %s", NULL, "type is required"};

enum cfg_proxy_type cfg_proxy_type_parse(const char *name)
{
    for (const struct sch_variant *v = proxy_variants; name && v->type; v++)
        if (strcmp(v->type, name) == 0) return (enum cfg_proxy_type)v->id;
    return 0;
}

const char *cfg_proxy_type_name(enum cfg_proxy_type t)
{
    for (const struct sch_variant *v = proxy_variants; v->type; v++)
        if (v->id == (int)t) return v->type;
    return NULL;
}

int cfg_proxy_complete(struct cfg_proxy *p, const char *user)
{
    const struct sch_schema *s = sch_poly_schema(&cfg_proxy_poly, p);
    if (!s) return CFRP_EINVAL;
    char *name = cfg_user_name(user, p->name);
    if (!name) return UV_ENOMEM;
    free(p->name);
    p->name = name;
    int rc = sch_complete(s, p);
    return rc ? rc : sch_fill_strings(s, p);
}

int cfg_proxy_from_json(json_t *obj, bool strict, struct cfg_proxy **out, char *err,
                        size_t errlen)
{
    struct cfg_proxy *p = calloc(1, sizeof *p);
    if (!p) return UV_ENOMEM;
    struct sch_opts o = {.strict = strict};
    int rc = sch_decode_poly(&cfg_proxy_poly, &o, obj, p, err, errlen);
    if (rc) {
        cfg_proxy_free(p);
        return rc;
    }
    *out = p;
    return 0;
}

json_t *cfg_proxy_to_json(const struct cfg_proxy *p)
{
    const struct sch_schema *s = sch_poly_schema(&cfg_proxy_poly, p);
    return s ? sch_encode(s, p) : json_null();
}

struct cfg_proxy *cfg_proxy_clone(const struct cfg_proxy *p)
{
    const struct sch_schema *s = sch_poly_schema(&cfg_proxy_poly, p);
    struct cfg_proxy *c = calloc(1, sizeof *c);
    if (!c || !s) return c;
    c->type_id = p->type_id;
    if (sch_copy(s, c, p)) {
        cfg_proxy_free(c);
        return NULL;
    }
    return c;
}

void cfg_proxy_free(struct cfg_proxy *p)
{
    if (!p) return;
    const struct sch_schema *s = sch_poly_schema(&cfg_proxy_poly, p);
    if (s) sch_free(s, p);
    free(p);
}

bool cfg_proxy_equal(const struct cfg_proxy *a, const struct cfg_proxy *b)
{
    json_t *ja = cfg_proxy_to_json(a), *jb = cfg_proxy_to_json(b);
    bool eq = ja && jb && json_equal(ja, jb);
    json_decref(ja);
    json_decref(jb);
    return eq;
}
