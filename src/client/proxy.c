/* frpc proxy wrappers and the tcp-like work connection handler (frp's proxy.Wrapper and
 * BaseProxy.HandleTCPWorkConnection): registration through the state machine, the
 * work connection layers of protocol.md 5.4, the local dial (10 s), the PROXY protocol
 * header (section 7) and the join that closes both sides on the first EOF (9.1). */
#include <netdb.h>
#include <stdlib.h>
#include <string.h>
#include <uv.h>

#include "base/err.h"
#include "base/log.h"
#include "client/client_internal.h"
#include "client/newproxy.h"
#include "net/join.h"
#include "proto/crypto_stream.h"
#include "proto/proxy_protocol.h"
#include "proto/snappy_stream.h"

/* One tcp-like work connection being served; in csvc.tcp_works until its join ends. */
struct ctcp_work {
    struct list_link link;
    struct csvc *svc;
    const struct cfg_proxy *cfg;
    char prefix[192];
    stream *remote;       /* the layered work connection, until joined */
    dial_req *dial;       /* the local dial in progress */
    join *join;           /* the running join */
    char *head;           /* bytes read after StartWorkConn for the local side; owned */
    size_t head_len;
    char pp[PROXY_PROTOCOL_MAX]; /* PROXY protocol header, pp_len bytes */
    size_t pp_len;
    bool pp_bad;          /* the header could not be built */
};

int cproxy_init(struct cproxy *p, struct csess *s, const struct cfg_proxy *cfg)
{
    memset(p, 0, sizeof *p);
    p->sess = s;
    p->cfg = cfg;
    p->st.phase = CLIENT_PX_NEW;
    const struct cfg_proxy_transport *t = &cfg->transport;
    bool client_mode = !t->bandwidth_limit_mode || strcmp(t->bandwidth_limit_mode, "server") != 0;
    if (t->bandwidth_limit.bytes > 0 && client_mode) {
        p->rl = ratelimit_new((uint64_t)t->bandwidth_limit.bytes);
        if (!p->rl) return UV_ENOMEM;
    }
    return 0;
}

void cproxy_check(struct cproxy *p, uint64_t now_ms)
{
    msg m;
    switch (client_pxstate_check(&p->st, now_ms, true)) {
    case CLIENT_PX_SEND_NEW:
        if (client_new_proxy_build(p->cfg, &m) != 0) return;
        csess_send(p->sess, &m);
        client_new_proxy_release(&m);
        break;
    case CLIENT_PX_SEND_CLOSE:
        msg_init(&m, MSG_CLOSE_PROXY);
        m.u.close_proxy.proxy_name = p->cfg->name;
        csess_send(p->sess, &m);
        break;
    case CLIENT_PX_NONE:
        break;
    }
}

/* udp: localIP:localPort as a socket address (frp resolves it when the proxy starts). */
static int cproxy_resolve_udp(struct cproxy *p, char *err, size_t errlen)
{
    const char *ip = p->cfg->local_ip;
    int port = (int)p->cfg->local_port;
    struct sockaddr_in *a4 = (struct sockaddr_in *)&p->udp_local;
    struct sockaddr_in6 *a6 = (struct sockaddr_in6 *)&p->udp_local;
    if (uv_ip4_addr(ip, port, a4) == 0 || uv_ip6_addr(ip, port, a6) == 0) return 0;
    char ps[16];
    snprintf(ps, sizeof ps, "%d", port);
    struct addrinfo hints = {.ai_family = AF_UNSPEC, .ai_socktype = SOCK_DGRAM}, *res = NULL;
    if (getaddrinfo(ip, ps, &hints, &res) != 0 || !res) {
        err_set(err, errlen, "lookup %s: no such host", ip);
        return CFRP_ENOTFOUND;
    }
    memcpy(&p->udp_local, res->ai_addr, res->ai_addrlen);
    freeaddrinfo(res);
    return 0;
}

void cproxy_on_resp(struct cproxy *p, const msg_new_proxy_resp *r)
{
    char pre[192];
    snprintf(pre, sizeof pre, "%s", csess_svc(p->sess)->prefix);
    const char *name = p->cfg->name;
    const char *error = r->error && r->error[0] ? r->error : NULL;
    if (!client_pxstate_on_resp(&p->st, cnow_ms(csess_svc(p->sess)), error)) {
        log_warn("%s[%s] start error: status not wait start, ignore start message", pre, name);
        return;
    }
    snprintf(p->remote_addr, sizeof p->remote_addr, "%s", r->remote_addr ? r->remote_addr : "");
    if (error) {
        snprintf(p->err, sizeof p->err, "%s", error);
        log_warn("%s[%s] start error: %s", pre, name, error);
        return;
    }
    if (p->cfg->type_id == CFG_PROXY_UDP || p->cfg->type_id == CFG_PROXY_SUDP) {
        char e[256] = "";
        if (cproxy_resolve_udp(p, e, sizeof e) != 0) {
            client_pxstate_run_failed(&p->st, cnow_ms(csess_svc(p->sess)));
            snprintf(p->err, sizeof p->err, "%s", e);
            msg m;
            msg_init(&m, MSG_CLOSE_PROXY);
            m.u.close_proxy.proxy_name = p->cfg->name;
            csess_send(p->sess, &m);
            log_warn("%s[%s] start error: %s", pre, name, e);
            return;
        }
    }
    p->err[0] = '\0';
    log_info("%s[%s] start proxy success", pre, name);
}

void cproxy_close(struct cproxy *p)
{
    p->st.phase = CLIENT_PX_CLOSED;
    while (p->udp) cudp_close(p->udp);
}

int cproxy_layers(struct cproxy *p, stream *st, const void *head, size_t head_len,
                  stream **out, bool *used_head)
{
    uv_loop_t *loop = csess_loop(p->sess);
    const struct cfg_proxy_transport *t = &p->cfg->transport;
    stream *cur = st, *nx;
    int rc;
    *used_head = false;
    if (p->rl) {
        rc = ratelimit_stream_new(loop, cur, p->rl, &nx);
        if (rc < 0) goto fail;
        cur = nx;
    }
    if (t->use_encryption) {
        rc = crypto_stream_new(loop, cur, csess_svc(p->sess)->key, head, head_len, &nx);
        if (rc < 0) goto fail;
        cur = nx;
        *used_head = true;
    }
    if (t->use_compression) {
        rc = snappy_stream_new(loop, cur, *used_head ? NULL : head, *used_head ? 0 : head_len,
                               &nx);
        if (rc < 0) goto fail;
        cur = nx;
        *used_head = true;
    }
    *out = cur;
    return 0;
fail:
    stream_close(cur);
    return rc;
}

/* ---- tcp work connections ---- */

static void ctcp_free(struct ctcp_work *w)
{
    list_del(&w->link);
    free(w->head);
    free(w);
}

static void ctcp_joined(const struct join_result *res, void *arg)
{
    struct ctcp_work *w = arg;
    log_debug("%sjoin connections closed", w->prefix);
    ctcp_free(w);
}

static void ctcp_addr(stream *s, bool local, char *out, size_t cap)
{
    struct sockaddr_storage ss;
    int (*fn)(const stream *, struct sockaddr_storage *) =
        local ? s->ops->local_addr : s->ops->peer_addr;
    if (fn && fn(s, &ss) == 0)
        tcp_format_addr(out, cap, (struct sockaddr *)&ss);
    else
        snprintf(out, cap, "?");
}

static void ctcp_dialed(stream *local, int status, const char *err, void *arg)
{
    struct ctcp_work *w = arg;
    w->dial = NULL;
    if (status < 0) {
        log_error("%sconnect to local service [%s:%lld] error: %s", w->prefix, w->cfg->local_ip,
                  (long long)w->cfg->local_port, err);
        stream_close(w->remote);
        ctcp_free(w);
        return;
    }
    if (w->pp_bad) {
        log_error("%swrite proxy protocol header to local conn error: invalid address",
                  w->prefix);
        stream_close(local);
        stream_close(w->remote);
        ctcp_free(w);
        return;
    }
    if (log_enabled(LOG_DEBUG)) {
        char ll[80], lr[80];
        ctcp_addr(local, true, ll, sizeof ll);
        ctcp_addr(local, false, lr, sizeof lr);
        log_debug("%sjoin connections, localConn(l[%s] r[%s])", w->prefix, ll, lr);
    }
    stream *remote = w->remote;
    w->remote = NULL;
    int rc = 0;
    if (w->pp_len) rc = stream_write_copy(local, w->pp, w->pp_len, NULL, NULL);
    if (rc == 0 && w->head_len) rc = stream_write_copy(local, w->head, w->head_len, NULL, NULL);
    struct join_options jo = {.high_water = 0, .half_close = false};
    if (rc == 0) rc = stream_join(local, remote, &jo, ctcp_joined, w, &w->join);
    if (rc < 0) {
        log_error("%swrite to local conn error: %s", w->prefix, err_str(rc));
        stream_close(local);
        stream_close(remote);
        ctcp_free(w);
    }
}

static void ctcp_start(struct cproxy *p, stream *st, const msg_start_work_conn *m,
                       const void *head, size_t head_len)
{
    struct csvc *svc = csess_svc(p->sess);
    struct ctcp_work *w = calloc(1, sizeof *w);
    if (!w) {
        stream_close(st);
        return;
    }
    w->svc = svc;
    w->cfg = p->cfg;
    cproxy_prefix(p, w->prefix, sizeof w->prefix);
    bool used = false;
    if (cproxy_layers(p, st, head, head_len, &w->remote, &used) < 0) {
        log_error("%screate work connection layers error", w->prefix);
        free(w);
        return;
    }
    if (!used && head_len) {
        w->head = malloc(head_len);
        if (!w->head) {
            stream_close(w->remote);
            free(w);
            return;
        }
        memcpy(w->head, head, head_len);
        w->head_len = head_len;
    }
    const char *ppv = p->cfg->transport.proxy_protocol_version;
    if (ppv && ppv[0] && m->src_addr && m->src_addr[0] && m->src_port != 0) {
        int v = strcmp(ppv, "v1") == 0 ? 1 : 2;
        if (proxy_protocol_build(v, m->src_addr, m->src_port, m->dst_addr, m->dst_port, w->pp,
                                 sizeof w->pp, &w->pp_len) != 0)
            w->pp_bad = true;
    }
    list_push(&svc->tcp_works, &w->link);
    struct dial_options o = {.timeout_ms = 10000, .tcp = {.nodelay = true}};
    int rc = dial_tcp(svc->loop, p->cfg->local_ip, (int)p->cfg->local_port, &o, ctcp_dialed, w,
                      &w->dial);
    if (rc < 0) {
        log_error("%sconnect to local service [%s:%lld] error: %s", w->prefix, p->cfg->local_ip,
                  (long long)p->cfg->local_port, err_str(rc));
        stream_close(w->remote);
        ctcp_free(w);
    }
}

void ctcp_abort_all(struct csvc *svc)
{
    struct list_link *e = svc->tcp_works.next;
    while (e != &svc->tcp_works) {
        struct ctcp_work *w = LIST_ITEM(e, struct ctcp_work, link);
        e = e->next;
        if (w->dial) {
            dial_cancel(w->dial);
            w->dial = NULL;
            stream_close(w->remote);
            ctcp_free(w);
        } else if (w->join) {
            join_abort(w->join);
        }
    }
}

void cproxy_work(struct cproxy *p, stream *st, const msg_start_work_conn *m, const void *head,
                 size_t head_len)
{
    char pre[192];
    cproxy_prefix(p, pre, sizeof pre);
    if (log_enabled(LOG_DEBUG)) {
        char la[80], ra[80];
        ctcp_addr(st, true, la, sizeof la);
        ctcp_addr(st, false, ra, sizeof ra);
        log_debug("%sstart a new work connection, localAddr: %s remoteAddr: %s", pre, la, ra);
    }
    switch (p->cfg->type_id) {
    case CFG_PROXY_UDP:
    case CFG_PROXY_SUDP: /* the same UDPPacket work connection (protocol.md 6.7) */
        cudp_start(p, st, head, head_len);
        return;
    case CFG_PROXY_TCP:
    case CFG_PROXY_HTTP:
    case CFG_PROXY_HTTPS:
    case CFG_PROXY_TCPMUX:
    case CFG_PROXY_STCP:
        if (p->cfg->plugin.type_id == CFG_PLUGIN_NONE) {
            ctcp_start(p, st, m, head, head_len);
            return;
        }
        break;
    default:
        break;
    }
    log_warn("%swork connections of this proxy kind are not supported by this build", pre);
    stream_close(st);
}
