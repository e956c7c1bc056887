/* One frpc session: dial the carrier (carrier.c: tcp/websocket/wss, TLS), run yamux on
 * it when tcpMux is on, log in,
 * then run the encrypted control stream: heartbeats, NewProxy/NewProxyResp through the
 * proxy wrappers, and one new frp connection + NewWorkConn per ReqWorkConn
 * (protocol.md 1.1, 1.3, 4.1-4.7). */
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <uv.h>

#include "base/err.h"
#include "base/log.h"
#include "client/client_internal.h"
#include "proto/auth.h"
#include "proto/crypto_stream.h"
#include "proto/msg_io.h"
#include "quic/quic.h"

#define CSESS_LOGIN_TIMEOUT_MS 10000

/* A work connection waiting for its StartWorkConn (no timeout, protocol.md 4.5). */
struct cpending {
    struct list_link link; /* in csess.pending */
    struct csess *sess; /* one reference */
    struct carrier_req *dial; /* without tcpMux: the carrier being dialed */
    stream *st;         /* the frp connection once open */
    msg_reader *rd;     /* owned; made when the first byte arrives (a reader holds
                           10 KiB, and a burst of user connections makes many waiting
                           work connections) */
};

struct csess {
    struct csvc *svc;
    int refs;
    bool closing;
    bool logged_in;
    bool reported;            /* the service was told how this session ended */
    struct carrier_req *dial; /* the carrier being dialed */
    yamux_session *mux;       /* with tcpMux, until its close callback */
    quic_session *qs;         /* with protocol quic, until its close callback */
    stream *ctl;              /* the control connection (encrypted after login) */
    msg_reader *rd;           /* control frames; owned */
    uv_timer_t login_timer;   /* LoginResp deadline */
    uv_timer_t hb_timer;      /* Ping every heartbeatInterval */
    uv_timer_t hb_check;      /* heartbeatTimeout check every second */
    uv_timer_t px_timer;      /* proxy status checks every 3 s */
    uint64_t last_pong_ms;
    struct cproxy *px;        /* npx wrappers; owned */
    size_t npx;
    struct list_link pending;     /* struct cpending */
    struct cvisitors *vis;        /* the visitors, or NULL */
};

uint64_t cnow_ms(const struct csvc *svc)
{
    return uv_now(svc->loop);
}

uv_loop_t *csess_loop(const struct csess *s)
{
    return s->svc->loop;
}

struct csvc *csess_svc(const struct csess *s)
{
    return s->svc;
}

void cproxy_prefix(const struct cproxy *p, char *out, size_t cap)
{
    snprintf(out, cap, "%s[%s] ", p->sess->svc->prefix, p->cfg->name);
}

void csess_ref(struct csess *s)
{
    s->refs++;
}

void csess_unref(struct csess *s)
{
    if (--s->refs > 0) return;
    for (size_t i = 0; i < s->npx; i++) ratelimit_release(s->px[i].rl);
    free(s->px);
    free(s->rd);
    free(s);
}

static void csess_timer_closed(uv_handle_t *h)
{
    csess_unref(h->data);
}

static void csess_ctl_closed(stream *st)
{
    csess_unref(st->data);
}

static void cpending_free(struct cpending *w)
{
    list_del(&w->link);
    struct csess *s = w->sess;
    free(w->rd);
    free(w);
    csess_unref(s);
}

static void cpending_closed(stream *st)
{
    cpending_free(st->data);
}

/* Tells the service how the session ended, once. */
static void csess_report(struct csess *s, const char *err)
{
    if (s->reported) return;
    s->reported = true;
    if (s->logged_in)
        csvc_session_done(s->svc, s);
    else
        csvc_login_done(s->svc, s, err ? err : "EOF");
}

void csess_close(struct csess *s)
{
    if (s->closing) return;
    s->closing = true;
    csess_ref(s);
    csess_report(s, NULL);
    for (size_t i = 0; i < s->npx; i++) {
        if (s->svc->stopping && s->px[i].st.phase != CLIENT_PX_NEW) {
            msg m;
            msg_init(&m, MSG_CLOSE_PROXY);
            m.u.close_proxy.proxy_name = s->px[i].cfg->name;
            csess_send(s, &m);
        }
        cproxy_close(&s->px[i]);
    }
    if (s->vis) cvisitors_close(s->vis);
    s->vis = NULL;
    if (s->dial) {
        carrier_cancel(s->dial);
        s->dial = NULL;
        csess_unref(s);
    }
    while (!list_empty(&s->pending)) {
        struct cpending *w = LIST_ITEM(s->pending.next, struct cpending, link);
        if (w->dial) {
            carrier_cancel(w->dial);
            cpending_free(w);
        } else {
            list_del(&w->link); /* its on_close frees it */
            stream_close(w->st);
        }
    }
    uv_close((uv_handle_t *)&s->login_timer, csess_timer_closed);
    uv_close((uv_handle_t *)&s->hb_timer, csess_timer_closed);
    uv_close((uv_handle_t *)&s->hb_check, csess_timer_closed);
    uv_close((uv_handle_t *)&s->px_timer, csess_timer_closed);
    if (s->ctl) {
        stream *c = s->ctl;
        s->ctl = NULL;
        stream_close(c);
    }
    if (s->mux) yamux_session_close(s->mux);
    if (s->qs) quic_session_close(s->qs);
    csess_unref(s); /* being open */
    csess_unref(s);
}

/* Login failed: report the reason and close everything. */
static void csess_fail(struct csess *s, const char *reason)
{
    csess_report(s, reason);
    csess_close(s);
}

void csess_send(struct csess *s, const msg *m)
{
    if (!s->ctl || !s->logged_in) return;
    int rc = msg_send(s->ctl, m, NULL, NULL);
    if (rc < 0) {
        log_warn("%ssend %s message error: %s", s->svc->prefix, msg_type_name(m->type),
                 err_str(rc));
        if (!s->closing) csess_close(s);
    }
}

/* The Ping fields of the HeartBeats scope / the NewWorkConn fields of NewWorkConns. */
static bool csess_scope(const struct csess *s, const char *scope)
{
    return cfg_strlist_contains(&s->svc->cfg->auth.additional_scopes, scope);
}

/* ---- carrier ---- */

static void csess_login(struct csess *s);
static void csess_login_timeout(uv_timer_t *t);
static void csess_mux_closed(yamux_session *sess, int status);

/* ---- work connections ---- */

static void cpending_read(stream *st, ssize_t nread, buf_ref data)
{
    struct cpending *w = st->data;
    struct csess *s = w->sess;
    if (nread < 0) {
        buf_ref_release(&data);
        log_trace("%swork connection closed before response StartWorkConn message: %s",
                  s->svc->prefix, nread == UV_EOF ? "EOF" : err_str((int)nread));
        list_del(&w->link);
        stream_close(st);
        return;
    }
    size_t used = 0;
    msg m;
    char err[256] = "";
    if (!w->rd) {
        w->rd = malloc(sizeof *w->rd);
        if (!w->rd) {
            buf_ref_release(&data);
            list_del(&w->link);
            stream_close(st);
            return;
        }
        msg_reader_init(w->rd);
        msg_reader_expect(w->rd, MSG_START_WORK_CONN);
    }
    int rc = msg_reader_feed(w->rd, data.base, data.len, &used, &m, err, sizeof err);
    if (rc == 0) {
        buf_ref_release(&data);
        return;
    }
    list_del(&w->link);
    if (rc < 0) {
        buf_ref_release(&data);
        log_trace("%swork connection closed before response StartWorkConn message: %s",
                  s->svc->prefix, err);
        stream_close(st);
        return;
    }
    msg_start_work_conn *sw = &m.u.start_work_conn;
    if (sw->error && sw->error[0]) {
        log_error("%sStartWorkConn contains error: %s", s->svc->prefix, sw->error);
        msg_clear(&m);
        buf_ref_release(&data);
        stream_close(st);
        return;
    }
    /* The connection leaves the pending list: from here the proxy owns it. */
    stream_read_stop(st);
    st->on_close = NULL;
    st->data = NULL;
    struct cproxy *p = NULL;
    for (size_t i = 0; i < s->npx && !s->closing; i++)
        if (sw->proxy_name && strcmp(s->px[i].cfg->name, sw->proxy_name) == 0) p = &s->px[i];
    if (p && p->st.phase == CLIENT_PX_RUNNING)
        cproxy_work(p, st, sw, data.base + used, data.len - used);
    else
        stream_close(st);
    msg_clear(&m);
    buf_ref_release(&data);
    struct csess *sess = w->sess;
    free(w->rd);
    free(w);
    csess_unref(sess);
}

/* The frp connection for a work request is open: NewWorkConn, then wait. */
static void cpending_go(struct cpending *w, stream *st)
{
    struct csess *s = w->sess;
    w->st = st;
    st->data = w;
    st->on_close = cpending_closed;
    msg m;
    msg_init(&m, MSG_NEW_WORK_CONN);
    char key[AUTH_KEY_HEX];
    m.u.new_work_conn.run_id = s->svc->run_id;
    if (csess_scope(s, "NewWorkConns")) {
        m.u.new_work_conn.timestamp = (int64_t)time(NULL);
        auth_key(s->svc->cfg->auth.token, m.u.new_work_conn.timestamp, key);
        m.u.new_work_conn.privilege_key = key;
    }
    int rc = msg_send(st, &m, NULL, NULL);
    if (rc == 0) rc = stream_read_start(st, cpending_read);
    if (rc < 0) {
        log_warn("%swork connection write to server error: %s", s->svc->prefix, err_str(rc));
        list_del(&w->link);
        stream_close(st);
    }
}

static void cpending_dialed(stream *car, int status, const char *err, void *arg)
{
    struct cpending *w = arg;
    struct csess *s = w->sess;
    w->dial = NULL;
    if (status < 0) {
        log_warn("%sstart new connection to server error: %s", s->svc->prefix, err);
        cpending_free(w);
        return;
    }
    cpending_go(w, car);
}

/* A new stream on the session's yamux or QUIC connection, when it has one. */
static int csess_open_stream(struct csess *s, stream **out)
{
    return s->qs ? quic_session_open(s->qs, out) : yamux_session_open(s->mux, out);
}

int csess_open_conn(struct csess *s, stream **out, carrier_cb cb, void *arg,
                    struct carrier_req **req)
{
    if (s->closing) return CFRP_ECLOSED;
    if (s->mux || s->qs) return csess_open_stream(s, out);
    int rc = carrier_dial(s->svc, cb, arg, req);
    return rc < 0 ? rc : 1;
}

static void csess_req_work_conn(struct csess *s)
{
    struct cpending *w = calloc(1, sizeof *w);
    if (!w) return;
    w->sess = s;
    csess_ref(s);
    list_push(&s->pending, &w->link);
    if (s->mux || s->qs) {
        stream *st;
        int rc = csess_open_stream(s, &st);
        if (rc < 0) {
            log_warn("%sstart new connection to server error: %s", s->svc->prefix, err_str(rc));
            cpending_free(w);
            return;
        }
        cpending_go(w, st);
        return;
    }
    int rc = carrier_dial(s->svc, cpending_dialed, w, &w->dial);
    if (rc < 0) {
        log_warn("%sstart new connection to server error: %s", s->svc->prefix, err_str(rc));
        cpending_free(w);
    }
}

/* ---- control stream ---- */

static void csess_on_resp(struct csess *s, const msg_new_proxy_resp *r)
{
    for (size_t i = 0; i < s->npx; i++) {
        if (r->proxy_name && strcmp(s->px[i].cfg->name, r->proxy_name) == 0) {
            cproxy_on_resp(&s->px[i], r);
            return;
        }
    }
    const char *n = r->proxy_name ? r->proxy_name : "";
    log_warn("%s[%s] start error: proxy [%s] not found", s->svc->prefix, n, n);
}

static void csess_dispatch(struct csess *s, const msg *m)
{
    switch (m->type) {
    case MSG_REQ_WORK_CONN:
        csess_req_work_conn(s);
        break;
    case MSG_NEW_PROXY_RESP:
        csess_on_resp(s, &m->u.new_proxy_resp);
        break;
    case MSG_PONG:
        if (m->u.pong.error && m->u.pong.error[0]) {
            log_error("%sPong message contains error: %s", s->svc->prefix, m->u.pong.error);
            csess_close(s);
            return;
        }
        s->last_pong_ms = cnow_ms(s->svc);
        log_debug("%sreceive heartbeat from server", s->svc->prefix);
        break;
    default: /* registered types without a handler are ignored */
        break;
    }
}

static void csess_ctl_read(stream *st, ssize_t nread, buf_ref data)
{
    struct csess *s = st->data;
    if (nread < 0) {
        buf_ref_release(&data);
        log_debug("%scontrol connection closed: %s", s->svc->prefix,
                  nread == UV_EOF ? "EOF" : err_str((int)nread));
        csess_close(s);
        return;
    }
    csess_ref(s);
    const char *p = data.base;
    size_t left = data.len;
    while (left > 0 && !s->closing) {
        size_t used = 0;
        msg m;
        char err[256] = "";
        int rc = msg_reader_feed(s->rd, p, left, &used, &m, err, sizeof err);
        p += used;
        left -= used;
        if (rc < 0) {
            log_warn("%sread control message error: %s", s->svc->prefix, err);
            csess_close(s);
            break;
        }
        if (rc == 0) break;
        csess_dispatch(s, &m);
        msg_clear(&m);
    }
    buf_ref_release(&data);
    csess_unref(s);
}

static void csess_hb_cb(uv_timer_t *t)
{
    struct csess *s = t->data;
    log_debug("%ssend heartbeat to server", s->svc->prefix);
    msg m;
    msg_init(&m, MSG_PING);
    char key[AUTH_KEY_HEX];
    if (csess_scope(s, "HeartBeats")) {
        m.u.ping.timestamp = (int64_t)time(NULL);
        auth_key(s->svc->cfg->auth.token, m.u.ping.timestamp, key);
        m.u.ping.privilege_key = key;
    }
    csess_send(s, &m);
}

static void csess_hb_check_cb(uv_timer_t *t)
{
    struct csess *s = t->data;
    uint64_t timeout = (uint64_t)s->svc->cfg->transport.heartbeat_timeout * 1000;
    if (cnow_ms(s->svc) - s->last_pong_ms > timeout) {
        log_warn("%sheartbeat timeout", s->svc->prefix);
        csess_close(s);
    }
}

static void csess_px_cb(uv_timer_t *t)
{
    struct csess *s = t->data;
    uint64_t now = cnow_ms(s->svc);
    for (size_t i = 0; i < s->npx && !s->closing; i++) cproxy_check(&s->px[i], now);
}

/* Login succeeded: start proxies and heartbeats. */
static void csess_run(struct csess *s)
{
    struct csvc *svc = s->svc;
    const struct frpc_config *cfg = svc->cfg;
    s->last_pong_ms = cnow_ms(svc);
    s->px = calloc(cfg->proxies.n ? cfg->proxies.n : 1, sizeof *s->px);
    if (!s->px) {
        csess_close(s);
        return;
    }
    char names[4096];
    size_t off = 0;
    names[0] = '\0';
    for (size_t i = 0; i < cfg->proxies.n; i++) {
        if (cproxy_init(&s->px[s->npx], s, &cfg->proxies.items[i]) != 0) continue;
        s->npx++;
        int n = snprintf(names + off, sizeof names - off, "%s%s", off ? " " : "",
                         cfg->proxies.items[i].name);
        if (n > 0 && (size_t)n < sizeof names - off) off += (size_t)n;
    }
    if (s->npx) log_info("%sproxy added: [%s]", svc->prefix, names);
    s->vis = cvisitors_start(s);
    int64_t hbi = cfg->transport.heartbeat_interval, hbt = cfg->transport.heartbeat_timeout;
    if (hbi > 0) uv_timer_start(&s->hb_timer, csess_hb_cb, 0, (uint64_t)hbi * 1000);
    if (hbi > 0 && hbt > 0) uv_timer_start(&s->hb_check, csess_hb_check_cb, 1000, 1000);
    uv_timer_start(&s->px_timer, csess_px_cb, 0, CLIENT_PX_CHECK_MS);
}

static void csess_login_read(stream *st, ssize_t nread, buf_ref data)
{
    struct csess *s = st->data;
    if (nread < 0) {
        buf_ref_release(&data);
        csess_fail(s, nread == UV_EOF ? "EOF" : err_str((int)nread));
        return;
    }
    size_t used = 0;
    msg m;
    char err[256] = "";
    int rc = msg_reader_feed(s->rd, data.base, data.len, &used, &m, err, sizeof err);
    if (rc == 0) {
        buf_ref_release(&data);
        return;
    }
    if (rc < 0) {
        buf_ref_release(&data);
        csess_fail(s, err);
        return;
    }
    uv_timer_stop(&s->login_timer);
    const msg_login_resp *r = &m.u.login_resp;
    if (r->error && r->error[0]) {
        log_error("%s%s", s->svc->prefix, r->error);
        csess_fail(s, r->error);
        msg_clear(&m);
        buf_ref_release(&data);
        return;
    }
    snprintf(s->svc->run_id, sizeof s->svc->run_id, "%s", r->run_id ? r->run_id : "");
    msg_clear(&m);
    stream_read_stop(st);
    stream *enc;
    rc = crypto_stream_new(s->svc->loop, st, s->svc->key, data.base + used, data.len - used, &enc);
    buf_ref_release(&data);
    if (rc < 0) {
        csess_fail(s, err_str(rc));
        return;
    }
    s->ctl = enc;
    enc->data = s;
    enc->on_close = csess_ctl_closed;
    msg_reader_init(s->rd);
    s->logged_in = true; /* from now on its end is reported as a session end */
    csvc_login_done(s->svc, s, NULL);
    rc = stream_read_start(enc, csess_ctl_read);
    if (rc < 0) {
        csess_close(s);
        return;
    }
    csess_run(s);
}

static void csess_login_timeout(uv_timer_t *t)
{
    csess_fail(t->data, "i/o timeout");
}

static void csess_mux_closed(yamux_session *sess, int status)
{
    struct csess *s = yamux_session_data(sess);
    s->mux = NULL;
    if (!s->closing) {
        if (s->logged_in) log_debug("%ssession closed: %s", s->svc->prefix, err_str(status));
        csess_fail(s, status == UV_EOF ? "EOF" : err_str(status));
    }
    csess_unref(s);
}

/* Sends the Login on the control connection and waits for LoginResp. */
static void csess_login(struct csess *s)
{
    struct csvc *svc = s->svc;
    const struct frpc_config *cfg = svc->cfg;
    msg m;
    msg_init(&m, MSG_LOGIN);
    msg_login *l = &m.u.login;
    char key[AUTH_KEY_HEX];
    l->version = "0.61.1";
    l->os = "linux";
#if defined(__x86_64__)
    l->arch = "amd64";
#elif defined(__aarch64__)
    l->arch = "arm64";
#elif defined(__i386__)
    l->arch = "386";
#elif defined(__arm__)
    l->arch = "arm";
#elif defined(__riscv) && __riscv_xlen == 64
    l->arch = "riscv64";
#else
    l->arch = "unknown";
#endif
    l->user = cfg->user;
    l->timestamp = (int64_t)time(NULL);
    auth_key(cfg->auth.token, l->timestamp, key);
    l->privilege_key = key;
    l->run_id = svc->run_id;
    l->pool_count = cfg->transport.pool_count;
    msg_kv *kv = NULL;
    if (cfg->metadatas.n) {
        kv = calloc(cfg->metadatas.n, sizeof *kv);
        if (!kv) {
            csess_fail(s, err_str(UV_ENOMEM));
            return;
        }
        for (size_t i = 0; i < cfg->metadatas.n; i++) {
            kv[i].key = cfg->metadatas.keys[i];
            kv[i].val = cfg->metadatas.vals[i];
        }
        l->metas.v = kv;
        l->metas.n = cfg->metadatas.n;
    }
    int rc = msg_send(s->ctl, &m, NULL, NULL);
    free(kv);
    if (rc == 0) rc = stream_read_start(s->ctl, csess_login_read);
    if (rc < 0) {
        csess_fail(s, err_str(rc));
        return;
    }
    uv_timer_start(&s->login_timer, csess_login_timeout, CSESS_LOGIN_TIMEOUT_MS, 0);
}

/* The carrier is connected with its handshakes done: yamux if tcpMux, then Login. */
static void csess_carrier_ready(struct csess *s, stream *car)
{
    struct csvc *svc = s->svc;
    int rc;
    if (cfg_tri_true(svc->cfg->transport.tcp_mux)) {
        struct yamux_config yc;
        yamux_config_default(&yc);
        int64_t ka = svc->cfg->transport.tcp_mux_keepalive_interval;
        yc.keepalive_interval_ms = ka > 0 ? (uint64_t)ka * 1000 : 0;
        char e[256] = "";
        rc = yamux_session_new(svc->loop, car, true, &yc, NULL, csess_mux_closed, s, &s->mux, e,
                               sizeof e);
        if (rc < 0) {
            stream_close(car);
            csess_fail(s, e);
            return;
        }
        csess_ref(s); /* the mux, until csess_mux_closed */
        rc = yamux_session_open(s->mux, &car);
        if (rc < 0) {
            csess_fail(s, err_str(rc));
            return;
        }
    }
    s->ctl = car;
    car->data = s;
    car->on_close = csess_ctl_closed;
    csess_ref(s); /* the control stream, until csess_ctl_closed */
    csess_login(s);
}

/* ---- QUIC: a session instead of a carrier, its first stream the control ---- */

static void csess_quic_closed(quic_session *qs, int status)
{
    struct csess *s = quic_session_data(qs);
    s->qs = NULL;
    if (!s->closing) {
        const char *why = quic_session_error(qs);
        if (!why) why = status == UV_EOF ? "EOF" : err_str(status);
        if (s->logged_in) log_debug("%ssession closed: %s", s->svc->prefix, why);
        csess_fail(s, why);
    }
    csess_unref(s);
}

static void csess_quic_ready(quic_session *qs)
{
    struct csess *s = quic_session_data(qs);
    stream *ctl;
    int rc = quic_session_open(qs, &ctl);
    if (rc < 0) {
        csess_fail(s, err_str(rc));
        return;
    }
    s->ctl = ctl;
    ctl->data = s;
    ctl->on_close = csess_ctl_closed;
    csess_ref(s); /* the control stream, until csess_ctl_closed */
    csess_login(s);
}

/* protocol quic (protocol.md 1.7): TLS settings only when transport.tls.enable. */
static int csess_quic_dial(struct csess *s, char *err, size_t errlen)
{
    const struct frpc_config *cfg = s->svc->cfg;
    const struct cfg_client_tls *t = &cfg->transport.tls;
    struct quic_tls_options tls = {
        .server_name = t->tls.server_name && t->tls.server_name[0] ? t->tls.server_name
                                                                   : cfg->server_addr};
    if (cfg_tri_true(t->enable)) {
        tls.cert_file = t->tls.cert_file;
        tls.key_file = t->tls.key_file;
        tls.trusted_ca_file = t->tls.trusted_ca_file;
    }
    struct quic_config qc;
    quic_config_default(&qc);
    const struct cfg_quic *q = &cfg->transport.quic;
    if (q->keepalive_period > 0) qc.keepalive_ms = (uint64_t)q->keepalive_period * 1000;
    if (q->max_idle_timeout > 0) qc.max_idle_timeout_ms = (uint64_t)q->max_idle_timeout * 1000;
    if (q->max_incoming_streams > 0) qc.max_incoming_streams = (uint64_t)q->max_incoming_streams;
    struct quic_handlers h = {.on_ready = csess_quic_ready, .on_close = csess_quic_closed, .data = s};
    int rc = quic_dial(s->svc->loop, cfg->server_addr, (int)cfg->server_port, &tls, &qc, &h, &s->qs,
                       err, errlen);
    if (rc == 0) csess_ref(s); /* the QUIC session, until csess_quic_closed */
    return rc;
}

static void csess_dialed(stream *car, int status, const char *err, void *arg)
{
    struct csess *s = arg;
    s->dial = NULL;
    if (status < 0)
        csess_fail(s, err);
    else
        csess_carrier_ready(s, car);
    csess_unref(s); /* the dial */
}

int csess_start(struct csvc *svc)
{
    struct csess *s = calloc(1, sizeof *s);
    if (!s) return UV_ENOMEM;
    s->rd = malloc(sizeof *s->rd);
    if (!s->rd) {
        free(s);
        return UV_ENOMEM;
    }
    s->svc = svc;
    s->refs = 1 + 4; /* being open, four timers */
    list_init(&s->pending);
    msg_reader_init(s->rd);
    msg_reader_expect(s->rd, MSG_LOGIN_RESP);
    uv_timer_t *timers[] = {&s->login_timer, &s->hb_timer, &s->hb_check, &s->px_timer};
    for (size_t i = 0; i < 4; i++) {
        uv_timer_init(svc->loop, timers[i]);
        timers[i]->data = s;
    }
    svc->sess = s;
    const char *proto = svc->cfg->transport.protocol;
    if (proto && strcmp(proto, "quic") == 0) {
        char e[256] = "";
        if (csess_quic_dial(s, e, sizeof e) < 0) csess_fail(s, e[0] ? e : "quic dial failed");
        return 0;
    }
    csess_ref(s); /* the dial */
    int rc = carrier_dial(svc, csess_dialed, s, &s->dial);
    if (rc < 0) {
        s->dial = NULL;
        csess_unref(s);
        csess_fail(s, err_str(rc));
    }
    return 0;
}
