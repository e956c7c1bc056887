/* frps configuration: the field tables of v1.ServerConfig (one line per option, in
 * Go's field order so that the encoder prints what Go prints), decoding from a tree,
 * completion with frp's defaults, and freeing. */
#include "config/server_config.h"

#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <uv.h>

#include "base/err.h"
#include "config/config.h"
#include "config/schema.h"

#define YAML_PREFIX "error unmarshaling JSON: while decoding JSON: "

typedef struct cfg_oidc_server Oidc;
static const struct sch_field oidc_fields[] = {
    SF_STR("issuer", Oidc, issuer, SCH_OMITEMPTY, NULL),
    SF_STR("audience", Oidc, audience, SCH_OMITEMPTY, NULL),
    SF_BOOL("skipExpiryCheck", Oidc, skip_expiry_check, SCH_OMITEMPTY),
    SF_BOOL("skipIssuerCheck", Oidc, skip_issuer_check, SCH_OMITEMPTY),
    SF_END};
static const struct sch_field *const oidc_parts[] = {oidc_fields, NULL};
static const struct sch_schema oidc_schema = {"AuthOIDCServerConfig", sizeof(Oidc), oidc_parts, NULL, NULL};

typedef struct cfg_auth_server Auth;
static const struct sch_field auth_fields[] = {
    SF_STRT("method", Auth, method, "v1.AuthMethod", SCH_OMITEMPTY, "token"),
    SF_LIST("additionalScopes", Auth, additional_scopes, "[]v1.AuthScope", SCH_OMITEMPTY),
    SF_STR("token", Auth, token, SCH_OMITEMPTY, NULL),
    SF_SUB("oidc", SCH_STRUCT, Auth, oidc, "v1.AuthOIDCServerConfig", SCH_OMITEMPTY, &oidc_schema),
    SF_END};
static const struct sch_field *const auth_parts[] = {auth_fields, NULL};
static const struct sch_schema auth_schema = {"AuthServerConfig", sizeof(Auth), auth_parts, NULL, NULL};

/* TLSServerConfig embeds TLSConfig: its fields are promoted, named after the outer struct. */
typedef struct cfg_server_tls STls;
static const struct sch_field stls_fields[] = {
    SF_BOOL("force", STls, force, SCH_OMITEMPTY),
    SF_END};
static const struct sch_field stls_tls_fields[] = {
    SF_STR("certFile", STls, tls.cert_file, SCH_OMITEMPTY, NULL),
    SF_STR("keyFile", STls, tls.key_file, SCH_OMITEMPTY, NULL),
    SF_STR("trustedCaFile", STls, tls.trusted_ca_file, SCH_OMITEMPTY, NULL),
    SF_STR("serverName", STls, tls.server_name, SCH_OMITEMPTY, NULL),
    SF_END};
static const struct sch_field *const stls_parts[] = {stls_fields, stls_tls_fields, NULL};
static const struct sch_field *const stls_promoted[] = {stls_tls_fields, NULL};
static const struct sch_schema stls_schema = {"TLSServerConfig", sizeof(STls), stls_parts, stls_promoted, NULL};

typedef struct cfg_server_transport STrans;
static const struct sch_field strans_fields[] = {
    SF_TRI("tcpMux", STrans, tcp_mux, 1),
    SF_INT("tcpMuxKeepaliveInterval", STrans, tcp_mux_keepalive_interval, "int64", SCH_OMITEMPTY, 30),
    SF_INT("tcpKeepalive", STrans, tcp_keepalive, "int64", SCH_OMITEMPTY, 7200),
    SF_INT("maxPoolCount", STrans, max_pool_count, "int64", SCH_OMITEMPTY, 5),
    SF_INT("heartbeatTimeout", STrans, heartbeat_timeout, "int64", SCH_OMITEMPTY, 0),
    SF_SUB("quic", SCH_STRUCT, STrans, quic, "v1.QUICOptions", SCH_OMITEMPTY, &cfg_quic_schema),
    SF_SUB("tls", SCH_STRUCT, STrans, tls, "v1.TLSServerConfig", SCH_OMITEMPTY, &stls_schema),
    SF_END};
static const struct sch_field *const strans_parts[] = {strans_fields, NULL};
static const struct sch_schema strans_schema = {"ServerTransportConfig", sizeof(STrans), strans_parts, NULL, NULL};

typedef struct cfg_ssh_gateway Ssh;
static const struct sch_field ssh_fields[] = {
    SF_INT("bindPort", Ssh, bind_port, "int", SCH_OMITEMPTY, 0),
    SF_STR("privateKeyFile", Ssh, private_key_file, SCH_OMITEMPTY, NULL),
    SF_STR("autoGenPrivateKeyPath", Ssh, auto_gen_private_key_path, SCH_OMITEMPTY, "./.autogen_ssh_key"),
    SF_STR("authorizedKeysFile", Ssh, authorized_keys_file, SCH_OMITEMPTY, NULL),
    SF_END};
static const struct sch_field *const ssh_parts[] = {ssh_fields, NULL};
static const struct sch_schema ssh_schema = {"SSHTunnelGateway", sizeof(Ssh), ssh_parts, NULL, NULL};

typedef struct cfg_http_plugin Hp;
static const struct sch_field hp_fields[] = {
    SF_STR("name", Hp, name, 0, NULL),
    SF_STR("addr", Hp, addr, 0, NULL),
    SF_STR("path", Hp, path, 0, NULL),
    SF_LIST("ops", Hp, ops, "[]string", 0),
    SF_BOOL("tlsVerify", Hp, tls_verify, SCH_OMITEMPTY),
    SF_END};
static const struct sch_field *const hp_parts[] = {hp_fields, NULL};
static const struct sch_schema hp_schema = {"HTTPPluginOptions", sizeof(Hp), hp_parts, NULL, NULL};

typedef struct frps_config S;
/* APIMetadata, embedded */
static const struct sch_field server_api_fields[] = {
    SF_STR("version", S, version, 0, NULL),
    SF_END};
static const struct sch_field server_fields[] = {
    SF_SUB("auth", SCH_STRUCT, S, auth, "v1.AuthServerConfig", SCH_OMITEMPTY, &auth_schema),
    SF_STR("bindAddr", S, bind_addr, SCH_OMITEMPTY, "0.0.0.0"),
    SF_INT("bindPort", S, bind_port, "int", SCH_OMITEMPTY, 7000),
    SF_INT("kcpBindPort", S, kcp_bind_port, "int", SCH_OMITEMPTY, 0),
    SF_INT("quicBindPort", S, quic_bind_port, "int", SCH_OMITEMPTY, 0),
    SF_STR("proxyBindAddr", S, proxy_bind_addr, SCH_OMITEMPTY, NULL),
    SF_INT("vhostHTTPPort", S, vhost_http_port, "int", SCH_OMITEMPTY, 0),
    SF_INT("vhostHTTPTimeout", S, vhost_http_timeout, "int64", SCH_OMITEMPTY, 60),
    SF_INT("vhostHTTPSPort", S, vhost_https_port, "int", SCH_OMITEMPTY, 0),
    SF_INT("tcpmuxHTTPConnectPort", S, tcpmux_http_connect_port, "int", SCH_OMITEMPTY, 0),
    SF_BOOL("tcpmuxPassthrough", S, tcpmux_passthrough, SCH_OMITEMPTY),
    SF_STR("subDomainHost", S, sub_domain_host, SCH_OMITEMPTY, NULL),
    SF_STR("custom404Page", S, custom_404_page, SCH_OMITEMPTY, NULL),
    SF_SUB("sshTunnelGateway", SCH_STRUCT, S, ssh_tunnel_gateway, "v1.SSHTunnelGateway", SCH_OMITEMPTY, &ssh_schema),
    SF_SUB("webServer", SCH_STRUCT, S, web_server, "v1.WebServerConfig", SCH_OMITEMPTY, &cfg_web_server_schema),
    SF_BOOL("enablePrometheus", S, enable_prometheus, SCH_OMITEMPTY),
    SF_SUB("log", SCH_STRUCT, S, log, "v1.LogConfig", SCH_OMITEMPTY, &cfg_log_schema),
    SF_SUB("transport", SCH_STRUCT, S, transport, "v1.ServerTransportConfig", SCH_OMITEMPTY, &strans_schema),
    SF_TRI("detailedErrorsToClient", S, detailed_errors_to_client, 1),
    SF_INT("maxPortsPerClient", S, max_ports_per_client, "int64", SCH_OMITEMPTY, 0),
    SF_INT("userConnTimeout", S, user_conn_timeout, "int64", SCH_OMITEMPTY, 10),
    SF_INT("udpPacketSize", S, udp_packet_size, "int64", SCH_OMITEMPTY, 1500),
    SF_INT("natholeAnalysisDataReserveHours", S, nathole_analysis_data_reserve_hours, "int64", SCH_OMITEMPTY, 168),
    SF_SUB("allowPorts", SCH_LIST, S, allow_ports, "[]types.PortsRange", SCH_OMITEMPTY, &cfg_ports_range_schema),
    SF_SUB("httpPlugins", SCH_LIST, S, http_plugins, "[]v1.HTTPPluginOptions", SCH_OMITEMPTY, &hp_schema),
    SF_END};
static const struct sch_field *const server_parts[] = {server_api_fields, server_fields, NULL};
static const struct sch_field *const server_promoted[] = {server_api_fields, NULL};
const struct sch_schema cfg_server_schema = {"ServerConfig", sizeof(S), server_parts, server_promoted, NULL};

int cfg_server_complete(struct frps_config *cfg)
{
    int rc = sch_complete(&cfg_server_schema, cfg);
    if (rc) return rc;
    /* Defaults that depend on other values (ServerConfig.Complete). */
    if (!cfg->proxy_bind_addr || !*cfg->proxy_bind_addr) {
        char *v = strdup(cfg->bind_addr);
        if (!v) return UV_ENOMEM;
        free(cfg->proxy_bind_addr);
        cfg->proxy_bind_addr = v;
    }
    if (cfg->transport.heartbeat_timeout == 0)
        cfg->transport.heartbeat_timeout = cfg_tri_true(cfg->transport.tcp_mux) ? -1 : 90;
    if (cfg->transport.tls.tls.trusted_ca_file && *cfg->transport.tls.tls.trusted_ca_file)
        cfg->transport.tls.force = true;
    return sch_fill_strings(&cfg_server_schema, cfg);
}

int cfg_server_decode(struct cfg_source *src, bool strict, struct frps_config **out, char *err,
                      size_t errlen)
{
    bool yaml = src->format == CFG_FORMAT_YAML;
    if (yaml) {
        int rc = sch_yaml_prepare(&cfg_server_schema, src->tree, src->raw, err, errlen);
        if (rc) return rc;
    }
    struct frps_config *cfg = calloc(1, sizeof *cfg);
    if (!cfg) return UV_ENOMEM;
    struct sch_opts o = {.strict = strict, .sorted = src->format != CFG_FORMAT_JSON, .raw = src->raw,
                         .raw_yaml = yaml, .top_type = "v1.ServerConfig"};
    int rc = sch_decode(&cfg_server_schema, &o, src->tree, cfg, err, errlen);
    if (rc && yaml) err_prefix(err, errlen, YAML_PREFIX);
    if (!rc) rc = cfg_server_complete(cfg);
    if (rc) {
        if (rc == UV_ENOMEM) err_set(err, errlen, "out of memory");
        cfg_server_free(cfg);
        return rc;
    }
    *out = cfg;
    return 0;
}

int cfg_server_from_tree(json_t *tree, bool strict, struct frps_config **out, char *err,
                         size_t errlen)
{
    struct cfg_source src = {.tree = tree, .format = CFG_FORMAT_JSON};
    return cfg_server_decode(&src, strict, out, err, errlen);
}

json_t *cfg_server_to_json(const struct frps_config *cfg)
{
    return sch_encode(&cfg_server_schema, cfg);
}

void cfg_server_free(struct frps_config *cfg)
{
    if (!cfg) return;
    sch_free(&cfg_server_schema, cfg);
    free(cfg);
}
