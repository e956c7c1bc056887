/* frpc configuration: the field tables of the common options and of visitors (one line
 * per option, Go's field order), decoding, includes merging, the `start` filter,
 * completion with frp's defaults, encoding and freeing. Proxies and plugins are in
 * proxy_config.c. */
#include "config/client_config.h"

#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <uv.h>

#include "base/err.h"
#include "config/config.h"
#include "config/schema.h"

#define YAML_PREFIX "error unmarshaling JSON: while decoding JSON: "

_Static_assert(sizeof(enum cfg_visitor_type) == sizeof(int), "type_id is read as an int");

/* ---- visitors ---- */

typedef struct cfg_visitor_transport VT;
static const struct sch_field vt_fields[] = {
    SF_BOOL("useEncryption", VT, use_encryption, SCH_OMITEMPTY),
    SF_BOOL("useCompression", VT, use_compression, SCH_OMITEMPTY),
    SF_END};
static const struct sch_field *const vt_parts[] = {vt_fields, NULL};
static const struct sch_schema vt_schema = {"VisitorTransport", sizeof(VT), vt_parts, NULL, NULL};

typedef struct cfg_visitor V;
static const struct sch_field visitor_base[] = {
    SF_STR("name", V, name, 0, NULL),
    SF_STR("type", V, type, 0, NULL),
    SF_SUB("transport", SCH_STRUCT, V, transport, "v1.VisitorTransport", SCH_OMITEMPTY, &vt_schema),
    SF_STR("secretKey", V, secret_key, SCH_OMITEMPTY, NULL),
    SF_STR("serverUser", V, server_user, SCH_OMITEMPTY, NULL),
    SF_STR("serverName", V, server_name, SCH_OMITEMPTY, NULL),
    SF_STR("bindAddr", V, bind_addr, SCH_OMITEMPTY, "127.0.0.1"),
    SF_INT("bindPort", V, bind_port, "int", SCH_OMITEMPTY, 0),
    SF_END};
static const struct sch_field visitor_xtcp[] = {
    SF_STR("protocol", V, protocol, SCH_OMITEMPTY, "quic"),
    SF_BOOL("keepTunnelOpen", V, keep_tunnel_open, SCH_OMITEMPTY),
    SF_INT("maxRetriesAnHour", V, max_retries_an_hour, "int", SCH_OMITEMPTY, 8),
    SF_INT("minRetryInterval", V, min_retry_interval, "int", SCH_OMITEMPTY, 90),
    SF_STR("fallbackTo", V, fallback_to, SCH_OMITEMPTY, NULL),
    SF_INT("fallbackTimeoutMs", V, fallback_timeout_ms, "int", SCH_OMITEMPTY, 1000),
    SF_END};
static const struct sch_field *const vs_stcp_parts[] = {visitor_base, NULL};
static const struct sch_field *const vs_xtcp_parts[] = {visitor_base, visitor_xtcp, NULL};
static const struct sch_schema vs_stcp = {"STCPVisitorConfig", sizeof(V), vs_stcp_parts, NULL, NULL};
static const struct sch_schema vs_sudp = {"SUDPVisitorConfig", sizeof(V), vs_stcp_parts, NULL, NULL};
static const struct sch_schema vs_xtcp = {"XTCPVisitorConfig", sizeof(V), vs_xtcp_parts, NULL, NULL};

static const struct sch_variant visitor_variants[] = {
    {"stcp", CFG_VISITOR_STCP, &vs_stcp},
    {"xtcp", CFG_VISITOR_XTCP, &vs_xtcp},
    {"sudp", CFG_VISITOR_SUDP, &vs_sudp},
    {NULL, 0, NULL}};

const struct sch_poly cfg_visitor_poly = {
    sizeof(V), offsetof(V, type_id), offsetof(V, type), visitor_variants,
    "unmarshal VisitorConfig error: ", "unknown visitor type: %s", NULL, "type is required"};

/* ---- common options ---- */

typedef struct cfg_oidc_client Oidc;
static const struct sch_field oidc_fields[] = {
    SF_STR("clientID", Oidc, client_id, SCH_OMITEMPTY, NULL),
    SF_STR("clientSecret", Oidc, client_secret, SCH_OMITEMPTY, NULL),
    SF_STR("audience", Oidc, audience, SCH_OMITEMPTY, NULL),
    SF_STR("scope", Oidc, scope, SCH_OMITEMPTY, NULL),
    SF_STR("tokenEndpointURL", Oidc, token_endpoint_url, SCH_OMITEMPTY, NULL),
    SF_MAP("additionalEndpointParams", Oidc, additional_endpoint_params, SCH_OMITEMPTY),
    SF_END};
static const struct sch_field *const oidc_parts[] = {oidc_fields, NULL};
static const struct sch_schema oidc_schema = {"AuthOIDCClientConfig", sizeof(Oidc), oidc_parts, NULL, NULL};

typedef struct cfg_auth_client Auth;
static const struct sch_field auth_fields[] = {
    SF_STRT("method", Auth, method, "v1.AuthMethod", SCH_OMITEMPTY, "token"),
    SF_LIST("additionalScopes", Auth, additional_scopes, "[]v1.AuthScope", SCH_OMITEMPTY),
    SF_STR("token", Auth, token, SCH_OMITEMPTY, NULL),
    SF_SUB("oidc", SCH_STRUCT, Auth, oidc, "v1.AuthOIDCClientConfig", SCH_OMITEMPTY, &oidc_schema),
    SF_END};
static const struct sch_field *const auth_parts[] = {auth_fields, NULL};
static const struct sch_schema auth_schema = {"AuthClientConfig", sizeof(Auth), auth_parts, NULL, NULL};

/* TLSClientConfig embeds TLSConfig: its fields are promoted. */
typedef struct cfg_client_tls CTls;
static const struct sch_field ctls_fields[] = {
    SF_TRI("enable", CTls, enable, 1),
    SF_TRI("disableCustomTLSFirstByte", CTls, disable_custom_tls_first_byte, 1),
    SF_END};
static const struct sch_field ctls_tls_fields[] = {
    SF_STR("certFile", CTls, tls.cert_file, SCH_OMITEMPTY, NULL),
    SF_STR("keyFile", CTls, tls.key_file, SCH_OMITEMPTY, NULL),
    SF_STR("trustedCaFile", CTls, tls.trusted_ca_file, SCH_OMITEMPTY, NULL),
    SF_STR("serverName", CTls, tls.server_name, SCH_OMITEMPTY, NULL),
    SF_END};
static const struct sch_field *const ctls_parts[] = {ctls_fields, ctls_tls_fields, NULL};
static const struct sch_field *const ctls_promoted[] = {ctls_tls_fields, NULL};
static const struct sch_schema ctls_schema = {"TLSClientConfig", sizeof(CTls), ctls_parts, ctls_promoted, NULL};

typedef struct cfg_client_transport CT;
static const struct sch_field ct_fields[] = {
    SF_STR("protocol", CT, protocol, SCH_OMITEMPTY, "tcp"),
    SF_INT("dialServerTimeout", CT, dial_server_timeout, "int64", SCH_OMITEMPTY, 10),
    SF_INT("dialServerKeepalive", CT, dial_server_keepalive, "int64", SCH_OMITEMPTY, 7200),
    SF_STR("connectServerLocalIP", CT, connect_server_local_ip, SCH_OMITEMPTY, NULL),
    SF_STR("proxyURL", CT, proxy_url, SCH_OMITEMPTY, NULL),
    SF_INT("poolCount", CT, pool_count, "int", SCH_OMITEMPTY, 1),
    SF_TRI("tcpMux", CT, tcp_mux, 1),
    SF_INT("tcpMuxKeepaliveInterval", CT, tcp_mux_keepalive_interval, "int64", SCH_OMITEMPTY, 30),
    SF_SUB("quic", SCH_STRUCT, CT, quic, "v1.QUICOptions", SCH_OMITEMPTY, &cfg_quic_schema),
    SF_INT("heartbeatInterval", CT, heartbeat_interval, "int64", SCH_OMITEMPTY, 0),
    SF_INT("heartbeatTimeout", CT, heartbeat_timeout, "int64", SCH_OMITEMPTY, 0),
    SF_SUB("tls", SCH_STRUCT, CT, tls, "v1.TLSClientConfig", SCH_OMITEMPTY, &ctls_schema),
    SF_END};
static const struct sch_field *const ct_parts[] = {ct_fields, NULL};
static const struct sch_schema ct_schema = {"ClientTransportConfig", sizeof(CT), ct_parts, NULL, NULL};

/* ClientConfig embeds ClientCommonConfig, which embeds APIMetadata. */
typedef struct frpc_config C;
static const struct sch_field client_api_fields[] = {
    SF_STR("version", C, version, 0, NULL),
    SF_END};
static const struct sch_field client_common_fields[] = {
    SF_SUB("auth", SCH_STRUCT, C, auth, "v1.AuthClientConfig", SCH_OMITEMPTY, &auth_schema),
    SF_STR("user", C, user, SCH_OMITEMPTY, NULL),
    SF_STR("serverAddr", C, server_addr, SCH_OMITEMPTY, "0.0.0.0"),
    SF_INT("serverPort", C, server_port, "int", SCH_OMITEMPTY, 7000),
    SF_STR("natHoleStunServer", C, nat_hole_stun_server, SCH_OMITEMPTY, "stun.easyvoip.com:3478"),
    SF_STR("dnsServer", C, dns_server, SCH_OMITEMPTY, NULL),
    SF_TRI("loginFailExit", C, login_fail_exit, 1),
    SF_LIST("start", C, start, "[]string", SCH_OMITEMPTY),
    SF_SUB("log", SCH_STRUCT, C, log, "v1.LogConfig", SCH_OMITEMPTY, &cfg_log_schema),
    SF_SUB("webServer", SCH_STRUCT, C, web_server, "v1.WebServerConfig", SCH_OMITEMPTY, &cfg_web_server_schema),
    SF_SUB("transport", SCH_STRUCT, C, transport, "v1.ClientTransportConfig", SCH_OMITEMPTY, &ct_schema),
    SF_INT("udpPacketSize", C, udp_packet_size, "int64", SCH_OMITEMPTY, 1500),
    SF_MAP("metadatas", C, metadatas, SCH_OMITEMPTY),
    SF_LIST("includes", C, includes, "[]string", SCH_OMITEMPTY),
    SF_END};
static const struct sch_field client_own_fields[] = {
    SF_POLY("proxies", SCH_POLY_LIST, C, proxies, "[]v1.TypedProxyConfig", SCH_OMITEMPTY, &cfg_proxy_poly),
    SF_POLY("visitors", SCH_POLY_LIST, C, visitors, "[]v1.TypedVisitorConfig", SCH_OMITEMPTY, &cfg_visitor_poly),
    SF_END};
static const struct sch_field *const common_parts[] = {client_api_fields, client_common_fields, NULL};
static const struct sch_field *const common_promoted[] = {client_api_fields, NULL};
/* Only the YAML type hint of promoted keys uses it. */
static const struct sch_schema common_schema = {"ClientCommonConfig", sizeof(C), common_parts, common_promoted,
                                                NULL};
static const struct sch_field *const client_parts[] = {client_api_fields, client_common_fields, client_own_fields,
                                                       NULL};
static const struct sch_field *const client_promoted[] = {client_api_fields, client_common_fields, NULL};
const struct sch_schema cfg_client_schema = {"ClientConfig", sizeof(C), client_parts, client_promoted,
                                             &common_schema};

int cfg_client_decode(struct cfg_source *src, bool strict, struct frpc_config **out, char *err,
                      size_t errlen)
{
    bool yaml = src->format == CFG_FORMAT_YAML;
    if (yaml) {
        int rc = sch_yaml_prepare(&cfg_client_schema, src->tree, src->raw, err, errlen);
        if (rc) return rc;
    }
    struct frpc_config *cfg = calloc(1, sizeof *cfg);
    if (!cfg) return UV_ENOMEM;
    struct sch_opts o = {.strict = strict, .sorted = src->format != CFG_FORMAT_JSON, .raw = src->raw,
                         .raw_yaml = yaml, .top_type = "v1.ClientConfig"};
    int rc = sch_decode(&cfg_client_schema, &o, src->tree, cfg, err, errlen);
    if (rc) {
        if (yaml && rc != UV_ENOMEM) err_prefix(err, errlen, YAML_PREFIX);
        cfg_client_free(cfg);
        return rc;
    }
    *out = cfg;
    return 0;
}

/* Appends the n elements at src (each esz bytes) to the list (items, cnt), moving them. */
static int cfgc_move(void **items, size_t *cnt, void *src, size_t n, size_t esz)
{
    if (n == 0) return 0;
    char *v = realloc(*items, (*cnt + n) * esz);
    if (!v) return UV_ENOMEM;
    memcpy(v + *cnt * esz, src, n * esz);
    *items = v;
    *cnt += n;
    return 0;
}

int cfg_client_append(struct frpc_config *dst, struct frpc_config *src)
{
    int rc = cfgc_move((void **)&dst->proxies.items, &dst->proxies.n, src->proxies.items,
                       src->proxies.n, sizeof(struct cfg_proxy));
    if (rc) return rc;
    free(src->proxies.items);
    src->proxies.items = NULL;
    src->proxies.n = 0;
    rc = cfgc_move((void **)&dst->visitors.items, &dst->visitors.n, src->visitors.items,
                   src->visitors.n, sizeof(struct cfg_visitor));
    if (rc) return rc;
    free(src->visitors.items);
    src->visitors.items = NULL;
    src->visitors.n = 0;
    return 0;
}

int cfg_visitor_complete(struct cfg_visitor *v, const char *user)
{
    const struct sch_schema *s = sch_poly_schema(&cfg_visitor_poly, v);
    if (!s) return CFRP_EINVAL;
    char *name = cfg_user_name(user, v->name);
    char *server = v->server_user && *v->server_user ? cfg_user_name(v->server_user, v->server_name)
                                                     : cfg_user_name(user, v->server_name);
    char *fallback = v->fallback_to && *v->fallback_to ? cfg_user_name(user, v->fallback_to) : NULL;
    if (!name || !server || (v->fallback_to && *v->fallback_to && !fallback)) {
        free(name);
        free(server);
        free(fallback);
        return UV_ENOMEM;
    }
    free(v->name);
    v->name = name;
    free(v->server_name);
    v->server_name = server;
    if (fallback) {
        free(v->fallback_to);
        v->fallback_to = fallback;
    }
    int rc = sch_complete(s, v);
    return rc ? rc : sch_fill_strings(s, v);
}

/* Keeps the elements of a list whose (unprefixed) name is in start; frees the others. */
static void cfgc_filter(const struct cfg_strlist *start, const struct sch_poly *p, void *items,
                        size_t *n, size_t name_offset)
{
    size_t w = 0;
    for (size_t i = 0; i < *n; i++) {
        char *e = (char *)items + i * p->elem_size;
        const char *name = *(char **)(e + name_offset);
        if (cfg_strlist_contains(start, name ? name : "")) {
            if (w != i) memcpy((char *)items + w * p->elem_size, e, p->elem_size);
            w++;
        } else {
            const struct sch_schema *s = sch_poly_schema(p, e);
            if (s) sch_free(s, e);
        }
    }
    *n = w;
}

int cfg_client_finish(struct frpc_config *cfg)
{
    if (cfg->start.n > 0) {
        cfgc_filter(&cfg->start, &cfg_proxy_poly, cfg->proxies.items, &cfg->proxies.n,
                    offsetof(struct cfg_proxy, name));
        cfgc_filter(&cfg->start, &cfg_visitor_poly, cfg->visitors.items, &cfg->visitors.n,
                    offsetof(struct cfg_visitor, name));
    }
    int rc = sch_complete(&cfg_client_schema, cfg);
    if (rc) return rc;
    /* Defaults that depend on other values (ClientCommonConfig.Complete). */
    struct cfg_client_transport *t = &cfg->transport;
    if (!t->proxy_url || !*t->proxy_url) {
        const char *env = getenv("http_proxy");
        char *v = strdup(env ? env : "");
        if (!v) return UV_ENOMEM;
        free(t->proxy_url);
        t->proxy_url = v;
    }
    bool mux = cfg_tri_true(t->tcp_mux);
    if (t->heartbeat_interval == 0) t->heartbeat_interval = mux ? -1 : 30;
    if (t->heartbeat_timeout == 0) t->heartbeat_timeout = mux ? -1 : 90;
    const char *user = cfg->user ? cfg->user : "";
    for (size_t i = 0; i < cfg->proxies.n; i++)
        if ((rc = cfg_proxy_complete(&cfg->proxies.items[i], user))) return rc;
    for (size_t i = 0; i < cfg->visitors.n; i++)
        if ((rc = cfg_visitor_complete(&cfg->visitors.items[i], user))) return rc;
    return sch_fill_strings(&cfg_client_schema, cfg);
}

int cfg_client_from_tree(json_t *tree, bool strict, struct frpc_config **out, char *err,
                         size_t errlen)
{
    struct frpc_config *cfg;
    struct cfg_source src = {.tree = tree, .format = CFG_FORMAT_JSON};
    int rc = cfg_client_decode(&src, strict, &cfg, err, errlen);
    if (rc) return rc;
    if ((rc = cfg_client_finish(cfg))) {
        err_set(err, errlen, "out of memory");
        cfg_client_free(cfg);
        return rc;
    }
    *out = cfg;
    return 0;
}

json_t *cfg_visitor_to_json(const struct cfg_visitor *v)
{
    const struct sch_schema *s = sch_poly_schema(&cfg_visitor_poly, v);
    return s ? sch_encode(s, v) : json_null();
}

json_t *cfg_client_to_json(const struct frpc_config *cfg)
{
    return sch_encode(&cfg_client_schema, cfg);
}

struct cfg_visitor *cfg_visitor_clone(const struct cfg_visitor *v)
{
    const struct sch_schema *s = sch_poly_schema(&cfg_visitor_poly, v);
    struct cfg_visitor *c = calloc(1, sizeof *c);
    if (!c || !s) return c;
    c->type_id = v->type_id;
    if (sch_copy(s, c, v)) {
        cfg_visitor_free(c);
        return NULL;
    }
    return c;
}

void cfg_visitor_free(struct cfg_visitor *v)
{
    if (!v) return;
    const struct sch_schema *s = sch_poly_schema(&cfg_visitor_poly, v);
    if (s) sch_free(s, v);
    free(v);
}

bool cfg_visitor_equal(const struct cfg_visitor *a, const struct cfg_visitor *b)
{
    json_t *ja = cfg_visitor_to_json(a), *jb = cfg_visitor_to_json(b);
    bool eq = ja && jb && json_equal(ja, jb);
    json_decref(ja);
    json_decref(jb);
    return eq;
}

void cfg_client_free(struct frpc_config *cfg)
{
    if (!cfg) return;
    sch_free(&cfg_client_schema, cfg);
    free(cfg);
}
