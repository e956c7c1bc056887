/* tcp proxies (protocol.md 6.1, frp's server/proxy/tcp.go): a listener on
 * proxyBindAddr:remotePort from the port manager; each user connection gets a work
 * connection and is joined with it. */
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/err.h"
#include "base/log.h"
#include "config/client_config.h"
#include "config/server_config.h"
#include "net/tcp.h"
#include "server/bind_addr.h"
#include "server/svr_internal.h"

struct tcp_impl {
    tcp_listener *l; /* owned until close */
    int port;        /* the bound port (held in the port manager) */
};

static void tcp_on_user(tcp_listener *l, stream *s, void *arg)
{
    struct svr_proxy *p = arg;
    char addr[SVR_ADDR_TEXT];
    svr_stream_peer(s, addr);
    log_info("[%s] [%s] get a user connection [%s]", p->run_id, p->cfg->name, addr);
    svr_proxy_handle_user_stream(p, s);
}

static int tcp_run(struct svr_proxy *p, char *remote_addr, size_t cap, char *err, size_t errlen)
{
    struct server *svr = p->svr;
    struct tcp_impl *t = calloc(1, sizeof *t);
    if (!t) return UV_ENOMEM;
    int port = svr_ports_acquire(svr->tcp_ports, p->cfg->name, (int)p->cfg->remote_port, svr_now_ms(), err,
                                 errlen);
    if (port < 0) {
        free(t);
        return port;
    }
    /* a host name is looked up once per process, not on the loop for every proxy */
    char host[INET6_ADDRSTRLEN + 64];
    int rc = svr_bind_host(svr->cfg->proxy_bind_addr, host, sizeof host);
    if (rc == CFRP_ENOTFOUND)
        err_set(err, errlen, "listen tcp: lookup %s: no such host", svr->cfg->proxy_bind_addr);
    else if (rc == 0)
        rc = tcp_listen(svr->loop, host, port, 0, NULL, tcp_on_user, p, &t->l, err, errlen);
    if (rc) {
        svr_ports_release(svr->tcp_ports, port, svr_now_ms());
        free(t);
        return rc;
    }
    t->port = port;
    p->impl = t;
    p->cfg->remote_port = port; /* frp logs (and keeps) the port actually bound */
    log_info("[%s] [%s] tcp proxy listen port [%lld]", p->run_id, p->cfg->name,
             (long long)p->cfg->remote_port);
    snprintf(remote_addr, cap, ":%d", port);
    return 0;
}

static void tcp_close(struct svr_proxy *p)
{
    struct tcp_impl *t = p->impl;
    struct server *svr = p->svr;
    const char *host = svr->cfg->proxy_bind_addr;
    bool wildcard = !*host || !strcmp(host, "0.0.0.0") || !strcmp(host, "::");
    char addr[300];
    tcp_join_host_port(addr, sizeof addr, wildcard ? "::" : host, t->port);
    tcp_listener_close(t->l);
    t->l = NULL;
    log_warn("[%s] [%s] listener is closed: accept tcp %s: use of closed network connection", p->run_id,
             p->cfg->name, addr);
    svr_ports_release(svr->tcp_ports, t->port, svr_now_ms());
}

static void tcp_destroy(struct svr_proxy *p)
{
    free(p->impl);
}

const struct svr_proxy_kind svr_proxy_tcp = {
    .type = "tcp",
    .used_ports = 1,
    .run = tcp_run,
    .close = tcp_close,
    .destroy = tcp_destroy,
};
