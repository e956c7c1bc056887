/* frpc's connection to frps (frp's realConnect, protocol.md 0.2, 1.1, 1.3, 1.5): one
 * carrier per session with tcpMux, else one per frp connection. transport.protocol
 * picks the layers:
 *   tcp        TCP -> [0x17] -> [TLS]
 *   websocket  TCP -> WebSocket (Host serverAddr:serverPort) -> [0x17] -> [TLS]
 *   wss        TCP -> TLS (always, never 0x17) -> WebSocket (Host = TLS server name)
 *   kcp        KCP over UDP (kcp/kcp_conn.h) -> [0x17] -> [TLS]
 * With transport.proxyURL the TCP connection (not kcp) goes to the proxy, and its HTTP CONNECT or
 * SOCKS5 handshake (net/proxy_dial.h) comes first. The caller gets the carrier once every handshake is done; the handshakes after the
 * TCP connect share one deadline. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/err.h"
#include "client/client_internal.h"
#include "kcp/kcp_conn.h"
#include "net/proxy_dial.h"
#include "net/websocket.h"

/* TLS and WebSocket handshakes after the TCP connect. */
#define CARRIER_HANDSHAKE_TIMEOUT_MS 10000
/* frp's FrpWebsocketPath. */
#define CARRIER_WS_PATH "/~!frp"

enum carrier_kind { CARRIER_TCP, CARRIER_WS, CARRIER_WSS, CARRIER_KCP };

/* Heap memory owned by itself: freed when its timer has closed, after the callback ran
 * or the request was cancelled. */
struct carrier_req {
    struct csvc *svc;
    enum carrier_kind kind;
    carrier_cb cb;
    void *arg;
    dial_req *dial;   /* while the TCP connect runs */
    kcp_dial_req *kdial; /* while a kcp carrier's address is looked up */
    bool via_proxy;   /* pu holds transport.proxyURL */
    struct proxy_url pu;
    proxy_req *preq;  /* while the proxy handshake runs (it owns the stream then) */
    char err[256];    /* a proxyURL that does not parse, reported from the timer */
    stream *st;       /* the top stream while handshakes run; owned */
    uv_timer_t timer; /* handshake deadline */
    bool done;        /* cb ran or the request was cancelled */
};

bool carrier_supported(const char *proto)
{
    return strcmp(proto, "tcp") == 0 || strcmp(proto, "websocket") == 0 ||
           strcmp(proto, "wss") == 0 || strcmp(proto, "kcp") == 0 ||
           strcmp(proto, "quic") == 0; /* quic: a session, not a carrier (session.c) */
}

bool carrier_wants_tls(const struct frpc_config *cfg)
{
    const char *p = cfg->transport.protocol ? cfg->transport.protocol : "tcp";
    return strcmp(p, "wss") == 0 || cfg_tri_true(cfg->transport.tls.enable);
}

static void carrier_timer_closed(uv_handle_t *h)
{
    free(h->data);
}

/* Ends the request: cb runs with the carrier (status 0) or the error. */
static void carrier_finish(struct carrier_req *r, int status, const char *err)
{
    if (r->done) return;
    r->done = true;
    if (r->preq) proxy_cancel(r->preq);
    r->preq = NULL;
    stream *st = r->st;
    r->st = NULL;
    if (status < 0 && st) {
        st->on_close = NULL;
        stream_close(st);
        st = NULL;
    }
    if (st) {
        st->data = NULL;
        st->on_close = NULL;
    }
    uv_close((uv_handle_t *)&r->timer, carrier_timer_closed);
    r->cb(st, status, status < 0 ? (err && err[0] ? err : err_str(status)) : NULL, r->arg);
}

static void carrier_timeout(uv_timer_t *t)
{
    carrier_finish(t->data, CFRP_ETIMEOUT, "i/o timeout");
}

static const char *carrier_server_name(const struct csvc *svc)
{
    const struct cfg_client_tls *t = &svc->cfg->transport.tls;
    return t->tls.server_name && t->tls.server_name[0] ? t->tls.server_name : svc->cfg->server_addr;
}

static void carrier_tls_hs(stream *s, int status, const char *err, void *arg);
static void carrier_ws_hs(stream *s, int status, const char *err, void *arg);

/* TLS on the top stream (custom first byte as configured, never for wss); without
 * TLS the carrier is ready. */
static void carrier_tls(struct carrier_req *r)
{
    struct csvc *svc = r->svc;
    if (!svc->tls) {
        carrier_finish(r, 0, NULL);
        return;
    }
    int rc = 0;
    if (r->kind != CARRIER_WSS &&
        svc->cfg->transport.tls.disable_custom_tls_first_byte == CFG_FALSE)
        rc = stream_write_copy(r->st, "\x17", 1, NULL, NULL);
    stream *tls = NULL;
    if (rc == 0)
        rc = tls_client_new(svc->loop, svc->tls, r->st, carrier_server_name(svc), carrier_tls_hs, r,
                            &tls);
    if (rc < 0) {
        carrier_finish(r, rc, NULL);
        return;
    }
    r->st = tls;
}

/* The WebSocket upgrade on the top stream. */
static void carrier_ws(struct carrier_req *r)
{
    struct csvc *svc = r->svc;
    char host[600];
    const char *h = r->kind == CARRIER_WSS ? carrier_server_name(svc) : svc->cfg->server_addr;
    bool v6 = strchr(h, ':') != NULL;
    if (r->kind == CARRIER_WSS)
        snprintf(host, sizeof host, v6 ? "[%s]" : "%s", h);
    else
        snprintf(host, sizeof host, v6 ? "[%s]:%d" : "%s:%d", h, (int)svc->cfg->server_port);
    stream *ws = NULL;
    int rc = ws_client_new(svc->loop, r->st, host, CARRIER_WS_PATH, carrier_ws_hs, r, &ws);
    if (rc < 0) {
        carrier_finish(r, rc, NULL);
        return;
    }
    r->st = ws;
}

static void carrier_tls_hs(stream *s, int status, const char *err, void *arg)
{
    struct carrier_req *r = arg;
    if (status < 0) {
        carrier_finish(r, status, err);
        return;
    }
    if (r->kind == CARRIER_WSS)
        carrier_ws(r);
    else
        carrier_finish(r, 0, NULL);
}

static void carrier_ws_hs(stream *s, int status, const char *err, void *arg)
{
    struct carrier_req *r = arg;
    if (status < 0) {
        carrier_finish(r, status, err);
        return;
    }
    if (r->kind == CARRIER_WS)
        carrier_tls(r);
    else
        carrier_finish(r, 0, NULL);
}

/* The layers above the connection to frps (through the proxy, if any). */
static void carrier_layers(struct carrier_req *r)
{
    if (r->kind == CARRIER_WSS)
        carrier_tls(r);
    else if (r->kind == CARRIER_WS)
        carrier_ws(r);
    else
        carrier_tls(r);
}

static void carrier_proxied(stream *s, int status, const char *err, void *arg)
{
    struct carrier_req *r = arg;
    r->preq = NULL;
    if (status < 0) {
        carrier_finish(r, status, err);
        return;
    }
    r->st = s;
    carrier_layers(r);
}

static void carrier_dialed(stream *tcp, int status, const char *err, void *arg)
{
    struct carrier_req *r = arg;
    r->dial = NULL;
    if (status < 0) {
        carrier_finish(r, status, err);
        return;
    }
    uv_timer_start(&r->timer, carrier_timeout, CARRIER_HANDSHAKE_TIMEOUT_MS, 0);
    if (!r->via_proxy) {
        r->st = tcp;
        carrier_layers(r);
        return;
    }
    int rc = proxy_handshake(tcp, &r->pu, r->svc->cfg->server_addr, (int)r->svc->cfg->server_port,
                             carrier_proxied, r, &r->preq);
    if (rc < 0) carrier_finish(r, rc, NULL);
}

static void carrier_kcp_dialed(stream *s, int status, const char *err, void *arg)
{
    struct carrier_req *r = arg;
    r->kdial = NULL;
    if (status < 0) {
        carrier_finish(r, status, err);
        return;
    }
    r->st = s;
    uv_timer_start(&r->timer, carrier_timeout, CARRIER_HANDSHAKE_TIMEOUT_MS, 0);
    carrier_tls(r);
}

static void carrier_bad_proxy_url(uv_timer_t *t)
{
    struct carrier_req *r = t->data;
    carrier_finish(r, CFRP_EINVAL, r->err);
}

int carrier_dial(struct csvc *svc, carrier_cb cb, void *arg, struct carrier_req **out)
{
    const struct cfg_client_transport *t = &svc->cfg->transport;
    const char *proto = t->protocol ? t->protocol : "tcp";
    struct carrier_req *r = calloc(1, sizeof *r);
    if (!r) return UV_ENOMEM;
    r->svc = svc;
    r->kind = strcmp(proto, "wss") == 0         ? CARRIER_WSS
              : strcmp(proto, "websocket") == 0 ? CARRIER_WS
              : strcmp(proto, "kcp") == 0       ? CARRIER_KCP
                                                : CARRIER_TCP;
    r->cb = cb;
    r->arg = arg;
    struct dial_options o = {
        .timeout_ms = t->dial_server_timeout > 0 ? (uint64_t)t->dial_server_timeout * 1000 : 0,
        .local_ip = t->connect_server_local_ip,
        .tcp = {.nodelay = true,
                .keepalive_secs = t->dial_server_keepalive > 0 ? (int)t->dial_server_keepalive : 0},
    };
    uv_timer_init(svc->loop, &r->timer);
    r->timer.data = r;
    const char *host = svc->cfg->server_addr;
    int port = (int)svc->cfg->server_port;
    if (r->kind == CARRIER_KCP) {
        int rc = kcp_dial(svc->loop, host, port, NULL, carrier_kcp_dialed, r, &r->kdial);
        if (rc < 0) {
            uv_close((uv_handle_t *)&r->timer, carrier_timer_closed);
            return rc;
        }
        if (out) *out = r;
        return 0;
    }
    if (t->proxy_url && t->proxy_url[0]) {
        if (proxy_url_parse(t->proxy_url, &r->pu, r->err, sizeof r->err) < 0) {
            uv_timer_start(&r->timer, carrier_bad_proxy_url, 0, 0);
            if (out) *out = r;
            return 0;
        }
        r->via_proxy = true;
        host = r->pu.host;
        port = r->pu.port;
    }
    int rc = dial_tcp(svc->loop, host, port, &o, carrier_dialed, r, &r->dial);
    if (rc < 0) {
        uv_close((uv_handle_t *)&r->timer, carrier_timer_closed);
        return rc;
    }
    if (out) *out = r;
    return 0;
}

void carrier_cancel(struct carrier_req *r)
{
    if (r->done) return;
    r->done = true;
    if (r->dial) dial_cancel(r->dial);
    r->dial = NULL;
    if (r->kdial) kcp_dial_cancel(r->kdial);
    r->kdial = NULL;
    if (r->preq) proxy_cancel(r->preq);
    r->preq = NULL;
    if (r->st) {
        r->st->on_close = NULL;
        stream_close(r->st);
        r->st = NULL;
    }
    uv_close((uv_handle_t *)&r->timer, carrier_timer_closed);
}
