/* The typed frps configuration (frp's v1.ServerConfig, config.md 7.1), its schema and
 * its completion. Every string is owned by the struct and, once loaded, never NULL.
 * Durations are seconds unless the member name says otherwise. */
#ifndef CFRP_CONFIG_SERVER_CONFIG_H
#define CFRP_CONFIG_SERVER_CONFIG_H

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>

#include "config/loader.h"
#include "config/types.h"

struct cfg_oidc_server {
    char *issuer;
    char *audience;
    bool skip_expiry_check;
    bool skip_issuer_check;
};

struct cfg_auth_server {
    char *method;                        /* "token" or "oidc" after validation */
    struct cfg_strlist additional_scopes; /* "HeartBeats", "NewWorkConns" */
    char *token;
    struct cfg_oidc_server oidc;
};

/* transport.tls: TLSServerConfig = force + the shared TLS fields. */
struct cfg_server_tls {
    bool force;
    struct cfg_tls tls;
};

struct cfg_server_transport {
    enum cfg_tri tcp_mux;                /* true after completion unless false */
    int64_t tcp_mux_keepalive_interval;  /* seconds */
    int64_t tcp_keepalive;               /* seconds, negative disables */
    int64_t max_pool_count;
    int64_t heartbeat_timeout;           /* seconds, <= 0 disables */
    struct cfg_quic quic;
    struct cfg_server_tls tls;
};

struct cfg_ssh_gateway {
    int64_t bind_port;                   /* 0 = off */
    char *private_key_file;
    char *auto_gen_private_key_path;
    char *authorized_keys_file;
};

struct cfg_http_plugin {
    char *name;
    char *addr;
    char *path;
    struct cfg_strlist ops;
    bool tls_verify;
};

struct frps_config {
    char *version;                       /* ignored */
    struct cfg_auth_server auth;
    char *bind_addr;
    int64_t bind_port;
    int64_t kcp_bind_port;               /* 0 = off */
    int64_t quic_bind_port;              /* 0 = off */
    char *proxy_bind_addr;
    int64_t vhost_http_port;             /* 0 = off */
    int64_t vhost_http_timeout;          /* seconds */
    int64_t vhost_https_port;            /* 0 = off */
    int64_t tcpmux_http_connect_port;    /* 0 = off */
    bool tcpmux_passthrough;
    char *sub_domain_host;
    char *custom_404_page;
    struct cfg_ssh_gateway ssh_tunnel_gateway;
    struct cfg_web_server web_server;
    bool enable_prometheus;
    struct cfg_log log;
    struct cfg_server_transport transport;
    enum cfg_tri detailed_errors_to_client;
    int64_t max_ports_per_client;        /* 0 = unlimited */
    int64_t user_conn_timeout;           /* seconds */
    int64_t udp_packet_size;             /* bytes */
    int64_t nathole_analysis_data_reserve_hours;
    struct {
        struct cfg_ports_range *items;
        size_t n;
    } allow_ports;                       /* empty = all ports */
    struct {
        struct cfg_http_plugin *items;
        size_t n;
    } http_plugins;                      /* in call order */
};

extern const struct sch_schema cfg_server_schema;

/* Decodes a loaded file (config/loader.h; or a tree built from frps flags, given as
 * JSON without raw) into a new config and completes it. TOML and YAML keys are walked
 * in sorted order as Go walks maps; YAML first gets frp's type-hint coercion
 * (config.md 2.5, sch_yaml_prepare: it edits src->tree) and its errors their prefix;
 * src->raw gives numbers their source text in errors. Returns 0 or a negative code
 * with frp's message in err. */
int cfg_server_decode(struct cfg_source *src, bool strict, struct frps_config **out, char *err,
                      size_t errlen);

/* Fills frp's defaults (config.md 5.2) into a decoded config. Returns 0 or UV_ENOMEM. */
int cfg_server_complete(struct frps_config *cfg);

/* The config as Go's json.Marshal prints a v1.ServerConfig. NULL on ENOMEM. */
json_t *cfg_server_to_json(const struct frps_config *cfg);

#endif
