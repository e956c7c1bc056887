/* stcp and sudp proxies on frps (protocol.md 6.6, 6.7, frp's server/proxy/stcp.go and
 * sudp.go): nothing is bound; the proxy is found by name when a visitor connection
 * arrives (visitor.c) and that connection is then served like a tcp user connection. */
#include "base/log.h"
#include "config/client_config.h"
#include "server/svr_internal.h"

static int secret_run(struct svr_proxy *p, char *remote_addr, size_t cap, char *err, size_t errlen)
{
    (void)err;
    (void)errlen;
    if (cap) remote_addr[0] = '\0';
    log_info("[%s] [%s] %s proxy custom listen success", p->run_id, p->cfg->name, p->kind->type);
    return 0;
}

static void secret_close(struct svr_proxy *p)
{
    log_warn("[%s] [%s] listener is closed: listener closed", p->run_id, p->cfg->name);
}

static void secret_destroy(struct svr_proxy *p)
{
    (void)p;
}

const struct svr_proxy_kind svr_proxy_stcp = {
    .type = "stcp",
    .used_ports = 0,
    .run = secret_run,
    .close = secret_close,
    .destroy = secret_destroy,
};

const struct svr_proxy_kind svr_proxy_sudp = {
    .type = "sudp",
    .used_ports = 0,
    .run = secret_run,
    .close = secret_close,
    .destroy = secret_destroy,
};

bool svr_proxy_is_secret(const struct svr_proxy *p)
{
    return p->kind == &svr_proxy_stcp || p->kind == &svr_proxy_sudp;
}
