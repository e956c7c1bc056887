/* The typed frpc configuration (frp's v1.ClientConfig, config.md 7.2-7.5): common
 * options, proxies, visitors and client plugins, with their schemas, completion and
 * JSON encoding. Proxies, visitors and plugins are each one flat struct holding the
 * fields of every type; `type_id` says which type it is and which fields mean
 * something (the per-type tables list them). Every string is owned by its struct and,
 * once loaded, never NULL. Durations are seconds unless the name says otherwise. */
#ifndef CFRP_CONFIG_CLIENT_CONFIG_H
#define CFRP_CONFIG_CLIENT_CONFIG_H

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>

#include "config/loader.h"
#include "config/types.h"

enum cfg_proxy_type {
    CFG_PROXY_TCP = 1,
    CFG_PROXY_UDP,
    CFG_PROXY_HTTP,
    CFG_PROXY_HTTPS,
    CFG_PROXY_TCPMUX,
    CFG_PROXY_STCP,
    CFG_PROXY_XTCP,
    CFG_PROXY_SUDP
};

enum cfg_visitor_type { CFG_VISITOR_STCP = 1, CFG_VISITOR_XTCP, CFG_VISITOR_SUDP };

enum cfg_plugin_type {
    CFG_PLUGIN_NONE = 0, /* no plugin configured */
    CFG_PLUGIN_HTTP2HTTPS,
    CFG_PLUGIN_HTTP_PROXY,
    CFG_PLUGIN_HTTPS2HTTP,
    CFG_PLUGIN_HTTPS2HTTPS,
    CFG_PLUGIN_HTTP2HTTP,
    CFG_PLUGIN_SOCKS5,
    CFG_PLUGIN_STATIC_FILE,
    CFG_PLUGIN_UNIX_DOMAIN_SOCKET,
    CFG_PLUGIN_TLS2RAW
};

/* [proxies.plugin]. type is NULL when type_id is CFG_PLUGIN_NONE. */
struct cfg_plugin {
    enum cfg_plugin_type type_id;
    char *type;
    char *local_addr;           /* http2https http2http https2http https2https tls2raw */
    char *host_header_rewrite;  /* http2https http2http https2http https2https */
    struct cfg_header_ops request_headers;
    enum cfg_tri enable_http2;  /* https2http https2https; default true */
    char *crt_path;             /* https2http https2https tls2raw */
    char *key_path;
    char *http_user;            /* http_proxy static_file */
    char *http_password;
    char *username;             /* socks5 */
    char *password;
    char *local_path;           /* static_file */
    char *strip_prefix;
    char *unix_path;            /* unix_domain_socket */
};

struct cfg_proxy_transport {
    bool use_encryption;
    bool use_compression;
    struct cfg_bandwidth bandwidth_limit;
    char *bandwidth_limit_mode;     /* "client" or "server" */
    char *proxy_protocol_version;   /* "", "v1", "v2" */
};

struct cfg_load_balancer {
    char *group;
    char *group_key;
};

struct cfg_health_check {
    char *type;                 /* "", "tcp", "http" */
    int64_t timeout_seconds;    /* <= 0 means 3 (applied by the monitor) */
    int64_t max_failed;         /* <= 0 means 1 */
    int64_t interval_seconds;   /* <= 0 means 10 */
    char *path;
    struct {
        struct cfg_http_header *items;
        size_t n;
    } http_headers;
};

struct cfg_proxy {
    enum cfg_proxy_type type_id;
    char *type;
    /* all types */
    char *name;                 /* "<user>.<name>" after completion */
    struct cfg_strmap annotations;
    struct cfg_proxy_transport transport;
    struct cfg_strmap metadatas;
    struct cfg_load_balancer load_balancer;
    struct cfg_health_check health_check;
    char *local_ip;
    int64_t local_port;
    struct cfg_plugin plugin;
    /* tcp, udp */
    int64_t remote_port;
    /* http, https, tcpmux */
    struct cfg_strlist custom_domains;
    char *subdomain;
    /* http */
    struct cfg_strlist locations;
    char *host_header_rewrite;
    struct cfg_header_ops request_headers;
    struct cfg_header_ops response_headers;
    /* http, tcpmux */
    char *http_user;
    char *http_password;
    char *route_by_http_user;
    /* tcpmux */
    char *multiplexer;
    /* stcp, xtcp, sudp */
    char *secret_key;
    struct cfg_strlist allow_users;
};

struct cfg_visitor_transport {
    bool use_encryption;
    bool use_compression;
};

struct cfg_visitor {
    enum cfg_visitor_type type_id;
    char *type;
    char *name;                 /* "<user>.<name>" after completion */
    struct cfg_visitor_transport transport;
    char *secret_key;
    char *server_user;
    char *server_name;          /* prefixed after completion (config.md 5.5) */
    char *bind_addr;
    int64_t bind_port;          /* negative: no listener */
    /* xtcp */
    char *protocol;             /* "quic" or "kcp" */
    bool keep_tunnel_open;
    int64_t max_retries_an_hour;
    int64_t min_retry_interval; /* seconds */
    char *fallback_to;
    int64_t fallback_timeout_ms;
};

struct cfg_oidc_client {
    char *client_id;
    char *client_secret;
    char *audience;
    char *scope;
    char *token_endpoint_url;
    struct cfg_strmap additional_endpoint_params;
};

struct cfg_auth_client {
    char *method;
    struct cfg_strlist additional_scopes;
    char *token;
    struct cfg_oidc_client oidc;
};

struct cfg_client_tls {
    enum cfg_tri enable;
    enum cfg_tri disable_custom_tls_first_byte;
    struct cfg_tls tls;
};

struct cfg_client_transport {
    char *protocol;                     /* tcp kcp quic websocket wss */
    int64_t dial_server_timeout;        /* seconds */
    int64_t dial_server_keepalive;      /* seconds, negative disables */
    char *connect_server_local_ip;
    char *proxy_url;
    int64_t pool_count;
    enum cfg_tri tcp_mux;
    int64_t tcp_mux_keepalive_interval; /* seconds */
    struct cfg_quic quic;
    int64_t heartbeat_interval;         /* seconds, <= 0 disables */
    int64_t heartbeat_timeout;          /* seconds, <= 0 disables */
    struct cfg_client_tls tls;
};

struct frpc_config {
    char *version;                      /* ignored */
    struct cfg_auth_client auth;
    char *user;
    char *server_addr;
    int64_t server_port;
    char *nat_hole_stun_server;
    char *dns_server;
    enum cfg_tri login_fail_exit;
    struct cfg_strlist start;
    struct cfg_log log;
    struct cfg_web_server web_server;
    struct cfg_client_transport transport;
    int64_t udp_packet_size;            /* bytes */
    struct cfg_strmap metadatas;
    struct cfg_strlist includes;
    struct {
        struct cfg_proxy *items;
        size_t n;
    } proxies;
    struct {
        struct cfg_visitor *items;
        size_t n;
    } visitors;
};

extern const struct sch_schema cfg_client_schema;
extern const struct sch_poly cfg_proxy_poly;
extern const struct sch_poly cfg_visitor_poly;

/* Decodes one loaded file (config/loader.h; or a tree built from the command line,
 * given as JSON without raw) into a new config, without includes, start filter or
 * completion (see cfg_client_finish). As cfg_server_decode; YAML coercion follows the
 * client's type hint, which Go's embedding of ClientCommonConfig defeats for nearly
 * every key (config.md 2.5). */
int cfg_client_decode(struct cfg_source *src, bool strict, struct frpc_config **out, char *err,
                      size_t errlen);

/* Moves the proxies and visitors of src to the end of dst (includes). src keeps its
 * common options and must still be freed. Returns 0 or UV_ENOMEM. */
int cfg_client_append(struct frpc_config *dst, struct frpc_config *src);

/* The `start` filter (config.md 6.2), then completion of the common options, every
 * proxy and every visitor (5.3-5.5). Returns 0 or UV_ENOMEM. */
int cfg_client_finish(struct frpc_config *cfg);

/* Proxy completion (5.4): the user prefix, localIP, bandwidthLimitMode, plugin
 * defaults. frps calls it with user "" for proxies built from NewProxy messages. */
int cfg_proxy_complete(struct cfg_proxy *p, const char *user);
/* Visitor completion (5.5). */
int cfg_visitor_complete(struct cfg_visitor *v, const char *user);

/* Type name <-> enum ("tcp" <-> CFG_PROXY_TCP); 0 / NULL when unknown. */
enum cfg_proxy_type cfg_proxy_type_parse(const char *name);
const char *cfg_proxy_type_name(enum cfg_proxy_type t);

/* Decodes one proxy from a JSON object in the file's shape (with "type"); strict
 * rejects unknown keys. Used for proxies built outside a file. *out is owned by the
 * caller (cfg_proxy_free). Errors are frp's texts. */
int cfg_proxy_from_json(json_t *obj, bool strict, struct cfg_proxy **out, char *err,
                        size_t errlen);

/* frpc's checks of one completed proxy / visitor (config.md 8.2 V-proxy, V-visitor):
 * 0, or CFRP_EINVAL with frp's message (several lines for annotations) in err.
 * cfg_client_validate prefixes them with "proxy <name>: " / "visitor <name>: ". */
int cfg_proxy_validate(const struct cfg_proxy *p, char *err, size_t errlen);
int cfg_visitor_validate(const struct cfg_visitor *v, char *err, size_t errlen);
/* frps's checks when a proxy registers (config.md 8.4: annotations, vhost ports,
 * tcpmux port, custom domain vs subDomainHost, subdomain). p is completed with user "". */
struct frps_config;
int cfg_proxy_validate_server(const struct cfg_proxy *p, const struct frps_config *s, char *err,
                              size_t errlen);

/* Go's json.Marshal of a proxy / visitor / the whole config. NULL on ENOMEM. */
json_t *cfg_proxy_to_json(const struct cfg_proxy *p);
json_t *cfg_visitor_to_json(const struct cfg_visitor *v);
json_t *cfg_client_to_json(const struct frpc_config *cfg);

/* Deep copies (NULL on ENOMEM) and destructors for heap proxies and visitors. */
struct cfg_proxy *cfg_proxy_clone(const struct cfg_proxy *p);
void cfg_proxy_free(struct cfg_proxy *p);
struct cfg_visitor *cfg_visitor_clone(const struct cfg_visitor *v);
void cfg_visitor_free(struct cfg_visitor *v);
/* Whether two completed proxies (visitors) are configured identically (reload). */
bool cfg_proxy_equal(const struct cfg_proxy *a, const struct cfg_proxy *b);
bool cfg_visitor_equal(const struct cfg_visitor *a, const struct cfg_visitor *b);

#endif
