/* frps's bind port: classifies each accepted connection by its first 10 bytes
 * (protocol.md 1.2), does the TLS sniff (1.3), runs a yamux server when tcpMux is on
 * (2.1), and reads the first frame of every frp connection within 10 s to hand it to a
 * control (Login), a control's work pool (NewWorkConn) or the visitor hook. */
#include <stdlib.h>
#include <string.h>

#include "base/err.h"
#include "base/log.h"
#include "config/server_config.h"
#include "mux/yamux.h"
#include "net/tls.h"
#include "server/svr_internal.h"

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

/* Streams of one yamux session that may wait for their first frame at once; while
 * this many wait the session stops accepting (yamux then keeps at most its backlog and
 * resets further streams), so a peer that never logs in cannot make frps hold a reader
 * and a timer for every stream it opens. */
#define SVR_SESSION_MAX_WAITING 256

/* A frp connection (carrier or yamux stream) waiting for its first frame. */
struct svr_newconn {
    struct list_link link; /* in svr->newconns */
    struct server *svr;
    struct svr_session *ss; /* the yamux session of a stream (counted there), or NULL */
    stream *s;            /* owned until handed over */
    uv_timer_t timer;     /* 10 s for the first frame */
    msg first;
    bool got;
    msg_reader *rd;       /* owned; allocated when the first bytes arrive */
};

/* A yamux server session. Freed when the session has ended and none of its streams
 * waits for a first frame any more. */
struct svr_session {
    struct list_link link; /* in svr->sessions while the session runs */
    struct server *svr;
    yamux_session *sess;  /* NULL once ended */
    size_t waiting;       /* its streams in svr->newconns */
    bool paused;          /* accepting stopped at SVR_SESSION_MAX_WAITING */
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
    if (!ss->sess) {
        if (ss->waiting == 0) free(ss);
        return;
    }
    if (ss->paused && ss->waiting < SVR_SESSION_MAX_WAITING) {
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
        if (svr->hooks.visitor_conn) {
            svr->hooks.visitor_conn(svr, s, head, &m);
            return;
        }
        break;
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
 * the yamux session s belongs to, or NULL. */
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
    uv_timer_t timer;     /* 10 s for the first 10 bytes */
    buf_ref got;          /* everything read so far, in one chunk */
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
    if (head.len > 0 && svr_prefix_stream_new(svr->loop, carrier, head, &carrier)) {
        stream_close(carrier);
        return;
    }
    svr_session_start(svr, carrier);
}

static void acc_classified(struct svr_accepted *a)
{
    struct server *svr = a->svr;
    stream *s = a->s;
    buf_ref head = a->got;
    a->got = (buf_ref){0};
    acc_free(a);
    s->on_close = NULL;
    const struct frps_config *cfg = svr->cfg;
    bool shared_addr = strcmp(cfg->proxy_bind_addr, cfg->bind_addr) == 0;
    bool https = shared_addr && cfg->vhost_https_port == cfg->bind_port;
    bool http = shared_addr && cfg->vhost_http_port == cfg->bind_port;
    void (*hook)(struct server *, stream *, buf_ref) = NULL;
    switch (svr_classify((const uint8_t *)head.base, https, http)) {
    case SVR_CLASS_WEBSOCKET:
        hook = svr->hooks.websocket;
        break;
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
    if (a->got.len < SVR_CLASSIFY_LEN) return;
    stream_read_stop(s);
    acc_classified(a);
}

void svr_bind_accept(struct server *svr, stream *s)
{
    struct svr_accepted *a = calloc(1, sizeof *a);
    if (!a) {
        stream_close(s);
        return;
    }
    a->svr = svr;
    a->s = s;
    list_push(&svr->accepting, &a->link);
    uv_timer_init(svr->loop, &a->timer);
    a->timer.data = a;
    uv_timer_start(&a->timer, acc_timeout, SVR_CONN_READ_TIMEOUT_MS, 0);
    s->data = a;
    s->on_close = NULL;
    if (stream_read_start(s, acc_on_read)) acc_fail(a);
}

void svr_bind_stop(struct server *svr)
{
    while (!list_empty(&svr->accepting))
        acc_fail(LIST_ITEM(svr->accepting.next, struct svr_accepted, link));
    while (!list_empty(&svr->newconns))
        nc_fail(LIST_ITEM(svr->newconns.next, struct svr_newconn, link));
    for (struct list_link *l = svr->sessions.next; l != &svr->sessions; l = l->next)
        yamux_session_close(LIST_ITEM(l, struct svr_session, link)->sess);
}
