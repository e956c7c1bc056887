/* frps's bind port: classifies each accepted connection by its first 10 bytes
 * (protocol.md 1.2), answers the WebSocket upgrade on frp's path (1.5), does the TLS
 * sniff (1.3) on plain and WebSocket carriers, runs a yamux server when tcpMux is on
 * (2.1), and reads the first frame of every frp connection within 10 s to hand it to a
 * control (Login), a control's work pool (NewWorkConn) or the visitor manager. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/err.h"
#include "base/log.h"
#include "config/server_config.h"
#include "http/http_request.h"
#include "mux/yamux.h"
#include "net/tls.h"
#include "net/websocket.h"
#include "server/svr_internal.h"

/* frp's FrpWebsocketPath, the one path its WebSocket listener serves. */
#define SVR_WS_PATH "/~!frp"
/* Go's http.Server ReadHeaderTimeout on that listener. */
#define SVR_WS_HEAD_TIMEOUT_MS 60000

/* ---- classification ---- */

enum svr_conn_class svr_classify(const uint8_t p[SVR_CLASSIFY_LEN], bool vhost_https_shared,
                                 bool vhost_http_shared)
{
    static const char *const methods[] = {"GET", "HEA", "POS", "PUT", "DEL",
                                          "CON", "OPT", "TRA", "PAT"};
    if (memcmp(p, "GET /~!frp", SVR_CLASSIFY_LEN) == 0) return SVR_CLASS_WEBSOCKET;
    if (vhost_https_shared && p[0] == 0x16) return SVR_CLASS_VHOST_HTTPS;
    if (vhost_http_shared)
        for (size_t i = 0; i < sizeof methods / sizeof methods[0]; i++)
            if (memcmp(p, methods[i], 3) == 0) return SVR_CLASS_VHOST_HTTP;
    return SVR_CLASS_FRP;
}

enum svr_tls_sniff svr_tls_sniff(uint8_t first, bool force)
{
    if (first == 0x17) return SVR_SNIFF_TLS_CUSTOM;
    if (first == 0x16) return SVR_SNIFF_TLS;
    return force ? SVR_SNIFF_REFUSE : SVR_SNIFF_PLAIN;
}

/* ---- frp connections: the first frame ---- */

/* Streams of one yamux or QUIC session that may wait for their first frame at once;
 * while this many wait a yamux session stops accepting (yamux then keeps at most its
 * backlog and resets further streams) and a QUIC session's new streams are closed, so a
 * peer that never logs in cannot make frps hold a reader and a timer for every stream
 * it opens. */
#define SVR_SESSION_MAX_WAITING 256

/* A frp connection (carrier or yamux stream) waiting for its first frame. */
struct svr_newconn {
    struct list_link link; /* in svr->newconns */
    struct server *svr;
    struct svr_session *ss; /* the yamux/QUIC session of a stream (counted there), or NULL */
    stream *s;            /* owned until handed over */
    uv_timer_t timer;     /* 10 s for the first frame */
    msg first;
    bool got;
    msg_reader *rd;       /* owned; allocated when the first bytes arrive */
};

/* A yamux or QUIC server session's accounting. Freed when the session has ended and
 * none of its streams waits for a first frame any more. */
struct svr_session {
    struct list_link link; /* yamux: in svr->sessions while the session runs */
    struct server *svr;
    yamux_session *sess;  /* yamux: NULL once ended; always NULL for QUIC */
    size_t waiting;       /* its streams in svr->newconns */
    bool paused;          /* yamux: accepting stopped at SVR_SESSION_MAX_WAITING */
    bool ended;
};

static void sess_newconn_add(struct svr_session *ss, struct svr_newconn *nc)
{
    nc->ss = ss;
    if (++ss->waiting >= SVR_SESSION_MAX_WAITING && !ss->paused && ss->sess) {
        ss->paused = true;
        yamux_session_set_accepting(ss->sess, false);
    }
}

static void sess_newconn_done(struct svr_session *ss)
{
    ss->waiting--;
    if (ss->ended) {
        if (ss->waiting == 0) free(ss);
        return;
    }
    if (ss->sess && ss->paused && ss->waiting < SVR_SESSION_MAX_WAITING) {
        ss->paused = false;
        yamux_session_set_accepting(ss->sess, true);
    }
}

static void nc_timer_closed(uv_handle_t *h)
{
    free(h->data);
}

/* Frees nc; s must have been handed over or closed. */
static void nc_free(struct svr_newconn *nc)
{
    list_del(&nc->link);
    free(nc->rd);
    nc->rd = NULL;
    if (nc->ss) sess_newconn_done(nc->ss);
    nc->ss = NULL;
    uv_close((uv_handle_t *)&nc->timer, nc_timer_closed);
}

static void nc_fail(struct svr_newconn *nc)
{
    nc->s->on_close = NULL;
    stream_close(nc->s);
    nc_free(nc);
}

static void nc_timeout(uv_timer_t *t)
{
    struct svr_newconn *nc = t->data;
    log_trace("Failed to read message: %s", svr_err_text(CFRP_ETIMEOUT));
    nc_fail(nc);
}

static int nc_on_msg(void *arg, msg *m)
{
    struct svr_newconn *nc = arg;
    nc->first = *m;
    nc->got = true;
    return 1;
}

/* Feeds bytes of the first frame, creating the reader on first use. */
static int nc_feed(struct svr_newconn *nc, const char *data, size_t len, size_t *used,
                   char *err, size_t errlen)
{
    if (!nc->rd) {
        nc->rd = malloc(sizeof *nc->rd);
        if (!nc->rd) {
            err_set(err, errlen, "out of memory");
            return UV_ENOMEM;
        }
        msg_reader_init(nc->rd);
    }
    return svr_feed_msgs(nc->rd, data, len, used, nc_on_msg, nc, err, errlen);
}

/* Hands nc's stream to whoever serves the first frame's type. */
static void nc_dispatch(struct svr_newconn *nc, buf_ref head)
{
    struct server *svr = nc->svr;
    stream *s = nc->s;
    msg m = nc->first;
    nc_free(nc);
    s->on_close = NULL;
    switch (m.type) {
    case MSG_LOGIN:
        svr_control_login(svr, s, head, &m);
        return;
    case MSG_NEW_WORK_CONN:
        svr_control_new_work_conn(svr, s, head, &m);
        return;
    case MSG_NEW_VISITOR_CONN:
        svr_visitor_conn(svr, s, head, &m);
        return;
    default: {
        char addr[SVR_ADDR_TEXT];
        svr_stream_peer(s, addr);
        log_warn("Error message type for the new connection [%s]", addr);
        break;
    }
    }
    msg_clear(&m);
    buf_ref_release(&head);
    stream_close(s);
}

static void nc_on_read(stream *s, ssize_t nread, buf_ref data)
{
    struct svr_newconn *nc = s->data;
    if (nread < 0) {
        log_trace("Failed to read message: %s", svr_err_text((int)nread));
        nc_fail(nc);
        return;
    }
    char err[256];
    size_t used = 0;
    int rc = nc_feed(nc, data.base, data.len, &used, err, sizeof err);
    if (rc < 0) {
        buf_ref_release(&data);
        log_trace("Failed to read message: %s", err);
        nc_fail(nc);
        return;
    }
    if (!nc->got) {
        buf_ref_release(&data);
        return;
    }
    stream_read_stop(s);
    data.base += used;
    data.len -= used;
    if (data.len == 0) buf_ref_release(&data);
    nc_dispatch(nc, data);
}

/* Takes over s (and head, bytes already read from it) as a new frp connection; ss is
 * the yamux or QUIC session s belongs to, or NULL. */
static void svr_newconn_start(struct server *svr, struct svr_session *ss, stream *s, buf_ref head)
{
    struct svr_newconn *nc = calloc(1, sizeof *nc);
    if (!nc) {
        buf_ref_release(&head);
        stream_close(s);
        return;
    }
    nc->svr = svr;
    nc->s = s;
    if (ss) sess_newconn_add(ss, nc);
    list_push(&svr->newconns, &nc->link);
    uv_timer_init(svr->loop, &nc->timer);
    nc->timer.data = nc;
    uv_timer_start(&nc->timer, nc_timeout, SVR_CONN_READ_TIMEOUT_MS, 0);
    s->data = nc;
    s->on_close = NULL;
    if (head.len > 0) {
        char err[256];
        size_t used = 0;
        int rc = nc_feed(nc, head.base, head.len, &used, err, sizeof err);
        if (rc < 0) {
            log_trace("Failed to read message: %s", err);
            buf_ref_release(&head);
            nc_fail(nc);
            return;
        }
        if (nc->got) {
            head.base += used;
            head.len -= used;
            if (head.len == 0) buf_ref_release(&head);
            nc_dispatch(nc, head);
            return;
        }
    }
    buf_ref_release(&head);
    int rc = stream_read_start(s, nc_on_read);
    if (rc) nc_fail(nc);
}

/* ---- yamux sessions ---- */

static void sess_on_accept(yamux_session *sess, stream *st)
{
    struct svr_session *ss = yamux_session_data(sess);
    svr_newconn_start(ss->svr, ss, st, (buf_ref){0});
}

static void sess_on_close(yamux_session *sess, int status)
{
    struct svr_session *ss = yamux_session_data(sess);
    log_debug("Accept new mux stream error: %s", status == 0 ? "session shutdown" : svr_err_text(status));
    list_del(&ss->link);
    ss->sess = NULL;
    ss->ended = true;
    if (ss->waiting == 0) free(ss);
}

struct svr_session *svr_session_new_quic(struct server *svr)
{
    struct svr_session *ss = calloc(1, sizeof *ss);
    if (ss) ss->svr = svr;
    return ss;
}

void svr_session_stream(struct svr_session *ss, stream *st)
{
    if (ss->waiting >= SVR_SESSION_MAX_WAITING) {
        log_trace("too many streams waiting for their first message, closing one");
        stream_close(st);
        return;
    }
    svr_newconn_start(ss->svr, ss, st, (buf_ref){0});
}

void svr_session_end(struct svr_session *ss)
{
    ss->ended = true;
    if (ss->waiting == 0) free(ss);
}

/* Runs a yamux server over carrier (owned from now on). */
static void svr_session_start(struct server *svr, stream *carrier)
{
    struct svr_session *ss = malloc(sizeof *ss);
    if (!ss) {
        stream_close(carrier);
        return;
    }
    ss->svr = svr;
    ss->waiting = 0;
    ss->paused = false;
    ss->ended = false;
    struct yamux_config ycfg;
    yamux_config_default(&ycfg);
    int64_t ka = svr->cfg->transport.tcp_mux_keepalive_interval;
    ycfg.keepalive_interval_ms = ka > 0 ? (uint64_t)ka * 1000 : 0;
    ycfg.max_stream_window = YAMUX_FRP_MAX_WINDOW;
    char err[256];
    int rc = yamux_session_new(svr->loop, carrier, false, &ycfg, sess_on_accept, sess_on_close, ss,
                               &ss->sess, err, sizeof err);
    if (rc) {
        log_warn("Failed to create mux connection: %s", err);
        free(ss);
        stream_close(carrier);
        return;
    }
    list_push(&svr->sessions, &ss->link);
}

/* ---- accepted connections: classification and TLS sniff ---- */

struct svr_accepted {
    struct list_link link; /* in svr->accepting */
    struct server *svr;
    stream *s;            /* owned until handed over */
    uv_timer_t timer;     /* 10 s for the first bytes */
    buf_ref got;          /* everything read so far, in one chunk */
    size_t need;          /* bytes wanted before deciding */
    bool websocket;       /* s is a WebSocket carrier: TLS sniff only, no classification */
};

static void acc_timer_closed(uv_handle_t *h)
{
    free(h->data);
}

static void acc_free(struct svr_accepted *a)
{
    list_del(&a->link);
    buf_ref_release(&a->got);
    uv_close((uv_handle_t *)&a->timer, acc_timer_closed);
}

static void acc_fail(struct svr_accepted *a)
{
    a->s->on_close = NULL;
    stream_close(a->s);
    acc_free(a);
}

static void acc_timeout(uv_timer_t *t)
{
    acc_fail(t->data);
}

/* The carrier after classification: TLS sniff, then yamux or a frp connection. */
static void acc_frp(struct server *svr, stream *s, buf_ref head)
{
    log_trace("start check TLS connection...");
    enum svr_tls_sniff sn = svr_tls_sniff((uint8_t)head.base[0], svr->tls_force);
    stream *carrier = s;
    bool is_tls = sn == SVR_SNIFF_TLS || sn == SVR_SNIFF_TLS_CUSTOM;
    if (sn == SVR_SNIFF_REFUSE) {
        log_warn("CheckAndEnableTLSServerConnWithTimeout error: non-TLS connection received on a "
                 "TlsOnly server");
        buf_ref_release(&head);
        stream_close(s);
        return;
    }
    if (is_tls) {
        size_t skip = sn == SVR_SNIFF_TLS_CUSTOM ? 1 : 0;
        int rc = tls_server_new(svr->loop, svr->tls, s, head.base + skip, head.len - skip, NULL,
                                NULL, &carrier);
        buf_ref_release(&head);
        if (rc) {
            stream_close(s);
            return;
        }
    }
    log_trace("check TLS connection success, isTLS: %s custom: %s internal: false",
              is_tls ? "true" : "false", sn == SVR_SNIFF_TLS_CUSTOM ? "true" : "false");
    if (!svr->tcp_mux) {
        svr_newconn_start(svr, NULL, carrier, head);
        return;
    }
    if (head.len > 0 && prefix_stream_new(svr->loop, carrier, head, &carrier)) {
        stream_close(carrier);
        return;
    }
    svr_session_start(svr, carrier);
}

static void svr_ws_start(struct server *svr, stream *s, buf_ref head);

static void acc_classified(struct svr_accepted *a)
{
    struct server *svr = a->svr;
    stream *s = a->s;
    buf_ref head = a->got;
    bool websocket = a->websocket;
    a->got = (buf_ref){0};
    acc_free(a);
    s->on_close = NULL;
    if (websocket) {
        acc_frp(svr, s, head);
        return;
    }
    const struct frps_config *cfg = svr->cfg;
    bool shared_addr = strcmp(cfg->proxy_bind_addr, cfg->bind_addr) == 0;
    bool https = shared_addr && cfg->vhost_https_port == cfg->bind_port;
    bool http = shared_addr && cfg->vhost_http_port == cfg->bind_port;
    void (*hook)(struct server *, stream *, buf_ref) = NULL;
    switch (svr_classify((const uint8_t *)head.base, https, http)) {
    case SVR_CLASS_WEBSOCKET:
        svr_ws_start(svr, s, head);
        return;
    case SVR_CLASS_VHOST_HTTPS:
        hook = svr->hooks.vhost_https;
        break;
    case SVR_CLASS_VHOST_HTTP:
        hook = svr->hooks.vhost_http;
        break;
    case SVR_CLASS_FRP:
        acc_frp(svr, s, head);
        return;
    }
    if (hook) {
        hook(svr, s, head);
        return;
    }
    buf_ref_release(&head);
    stream_close(s);
}

static void acc_on_read(stream *s, ssize_t nread, buf_ref data)
{
    struct svr_accepted *a = s->data;
    if (nread < 0) {
        acc_fail(a);
        return;
    }
    if (!a->got.chunk) {
        a->got = data;
    } else {
        /* Rare: the first bytes came in pieces. Join them in one chunk. */
        size_t total = a->got.len + data.len;
        buf_chunk *c = buf_chunk_alloc(total);
        if (!c) {
            buf_ref_release(&data);
            acc_fail(a);
            return;
        }
        memcpy(c->data, a->got.base, a->got.len);
        memcpy(c->data + a->got.len, data.base, data.len);
        buf_ref_release(&a->got);
        buf_ref_release(&data);
        a->got = buf_ref_make(c, 0, total);
    }
    if (a->got.len < a->need) return;
    stream_read_stop(s);
    acc_classified(a);
}

/* Waits (10 s) for the first need bytes of s, then classifies it, or for a WebSocket
 * carrier goes straight to the TLS sniff. */
static void acc_start(struct server *svr, stream *s, size_t need, bool websocket)
{
    struct svr_accepted *a = calloc(1, sizeof *a);
    if (!a) {
        stream_close(s);
        return;
    }
    a->svr = svr;
    a->s = s;
    a->need = need;
    a->websocket = websocket;
    list_push(&svr->accepting, &a->link);
    uv_timer_init(svr->loop, &a->timer);
    a->timer.data = a;
    uv_timer_start(&a->timer, acc_timeout, SVR_CONN_READ_TIMEOUT_MS, 0);
    s->data = a;
    s->on_close = NULL;
    if (stream_read_start(s, acc_on_read)) acc_fail(a);
}

void svr_bind_accept(struct server *svr, stream *s)
{
    acc_start(svr, s, SVR_CLASSIFY_LEN, false);
}

/* ---- the WebSocket upgrade (frp's WebsocketListener: Go's http.Server with a
 * ServeMux serving only SVR_WS_PATH through x/net/websocket's Handler) ---- */

struct svr_wsconn {
    struct list_link link; /* in svr->wsconns */
    struct server *svr;
    stream *s;             /* owned until handed over */
    uv_timer_t timer;      /* SVR_WS_HEAD_TIMEOUT_MS for the request head */
    http_request_parser *p; /* owned */
};

static void ws_timer_closed(uv_handle_t *h)
{
    free(h->data);
}

static void ws_free(struct svr_wsconn *w)
{
    list_del(&w->link);
    if (w->p) http_request_parser_free(w->p);
    free(w->p);
    w->p = NULL;
    uv_close((uv_handle_t *)&w->timer, ws_timer_closed);
}

static void ws_fail(struct svr_wsconn *w)
{
    w->s->on_close = NULL;
    stream_close(w->s);
    ws_free(w);
}

static void ws_timeout(uv_timer_t *t)
{
    ws_fail(t->data);
}

static void ws_answered(stream *s, int status, void *arg)
{
    stream_close(s);
}

/* Sends a refusal and closes the connection once it is written. */
static void ws_refuse(struct svr_wsconn *w, const char *resp, size_t len)
{
    stream *s = w->s;
    ws_free(w);
    s->on_close = NULL;
    stream_read_stop(s);
    if (stream_write_copy(s, resp, len, ws_answered, NULL) < 0) stream_close(s);
}

static struct ws_str ws_header(const http_request *r, const char *name)
{
    const http_header *h = http_request_header(r, name);
    return h ? (struct ws_str){h->value, h->value_len} : (struct ws_str){0};
}

/* The request head is complete; rest holds the bytes after it. */
static void ws_request(struct svr_wsconn *w, const char *rest, size_t rest_len)
{
    const http_request *r = &w->p->req;
    char resp[512];
    size_t len = 0;
    if (r->path_len != sizeof SVR_WS_PATH - 1 || memcmp(r->path, SVR_WS_PATH, r->path_len) != 0) {
        static const char nf[] = "HTTP/1.1 404 Not Found\r\nContent-Type: text/plain; "
                                 "charset=utf-8\r\nX-Content-Type-Options: nosniff\r\n"
                                 "Content-Length: 19\r\nConnection: close\r\n\r\n"
                                 "404 page not found\n";
        ws_refuse(w, nf, sizeof nf - 1);
        return;
    }
    struct ws_upgrade_req rq = {
        .upgrade = ws_header(r, "Upgrade"),
        .connection = ws_header(r, "Connection"),
        .key = ws_header(r, "Sec-WebSocket-Key"),
        .version = ws_header(r, "Sec-WebSocket-Version"),
        .origin = ws_header(r, "Origin"),
        .protocol = ws_header(r, "Sec-WebSocket-Protocol"),
    };
    int status = ws_server_answer(&rq, resp, sizeof resp, &len);
    if (status != 101) {
        if (status < 0)
            len = (size_t)snprintf(resp, sizeof resp, "HTTP/1.1 400 Bad Request\r\n\r\n");
        ws_refuse(w, resp, len);
        return;
    }
    struct server *svr = w->svr;
    stream *s = w->s;
    ws_free(w);
    s->on_close = NULL;
    stream_read_stop(s);
    stream *ws;
    if (stream_write_copy(s, resp, len, NULL, NULL) < 0 ||
        ws_server_new(svr->loop, s, rest, rest_len, &ws) < 0) {
        stream_close(s);
        return;
    }
    acc_start(svr, ws, 1, true);
}

/* Feeds request bytes; 1 when the connection was answered (w is gone). */
static int ws_feed(struct svr_wsconn *w, const char *data, size_t len)
{
    size_t used = 0;
    char err[256];
    int rc = http_request_feed(w->p, data, len, &used, err, sizeof err);
    if (rc == HTTP_NEED_MORE) return 0;
    if (rc == HTTP_DONE) {
        ws_request(w, data + used, len - used);
        return 1;
    }
    log_trace("websocket request error: %s", err);
    int st = w->p->status ? w->p->status : 400;
    const char *text = st == 431   ? "Request Header Fields Too Large"
                       : st == 501 ? "Not Implemented"
                       : st == 505 ? "HTTP Version Not Supported"
                       : st == 417 ? "Expectation Failed"
                                   : "Bad Request";
    char resp[256];
    int n = snprintf(resp, sizeof resp,
                     "HTTP/1.1 %d %s\r\nContent-Type: text/plain; charset=utf-8\r\n"
                     "Connection: close\r\n\r\n%d %s",
                     st, text, st, text);
    ws_refuse(w, resp, (size_t)n);
    return 1;
}

static void ws_on_read(stream *s, ssize_t nread, buf_ref data)
{
    struct svr_wsconn *w = s->data;
    if (nread < 0) {
        buf_ref_release(&data);
        ws_fail(w);
        return;
    }
    ws_feed(w, data.base, data.len);
    buf_ref_release(&data);
}

/* A bind-port connection that starts with "GET /~!frp": read its request head (head
 * holds the first bytes) and answer the upgrade. */
static void svr_ws_start(struct server *svr, stream *s, buf_ref head)
{
    struct svr_wsconn *w = calloc(1, sizeof *w);
    http_request_parser *p = w ? malloc(sizeof *p) : NULL;
    if (!p) {
        free(w);
        buf_ref_release(&head);
        stream_close(s);
        return;
    }
    http_request_parser_init(p);
    w->svr = svr;
    w->s = s;
    w->p = p;
    list_push(&svr->wsconns, &w->link);
    uv_timer_init(svr->loop, &w->timer);
    w->timer.data = w;
    uv_timer_start(&w->timer, ws_timeout, SVR_WS_HEAD_TIMEOUT_MS, 0);
    s->data = w;
    s->on_close = NULL;
    int done = ws_feed(w, head.base, head.len);
    buf_ref_release(&head);
    if (!done && stream_read_start(s, ws_on_read)) ws_fail(w);
}

void svr_bind_stop(struct server *svr)
{
    while (!list_empty(&svr->wsconns))
        ws_fail(LIST_ITEM(svr->wsconns.next, struct svr_wsconn, link));
    while (!list_empty(&svr->accepting))
        acc_fail(LIST_ITEM(svr->accepting.next, struct svr_accepted, link));
    while (!list_empty(&svr->newconns))
        nc_fail(LIST_ITEM(svr->newconns.next, struct svr_newconn, link));
    for (struct list_link *l = svr->sessions.next; l != &svr->sessions; l = l->next)
        yamux_session_close(LIST_ITEM(l, struct svr_session, link)->sess);
}
