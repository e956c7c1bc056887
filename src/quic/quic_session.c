/* The QUIC connection driver: ngtcp2 callbacks record events, a processing loop (run
 * after every datagram, timer and application call) writes packets, then delivers the
 * events to the application, then frees what is finished. Application callbacks never
 * run inside ngtcp2 calls. One uv_timer follows ngtcp2's expiry (loss recovery,
 * keep-alive, idle and handshake timeouts) and also defers work to the next loop
 * iteration. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <ngtcp2/ngtcp2_crypto_gnutls.h>

#include "base/err.h"
#include "quic/quic_internal.h"

#define MAX_STREAM_WINDOW (6u * 1024 * 1024)
#define MAX_CONN_WINDOW (15u * 1024 * 1024)

void quic_config_default(struct quic_config *cfg)
{
    cfg->keepalive_ms = 10000;
    cfg->max_idle_timeout_ms = 30000;
    cfg->max_incoming_streams = 100000;
    cfg->handshake_timeout_ms = 5000;
    cfg->max_handshaking = 64;
}

static void process(quic_session *s);
static void ng_fail(quic_session *s, int rv);

/* ---- ngtcp2 callbacks ---- */

static ngtcp2_conn *get_conn(ngtcp2_crypto_conn_ref *ref)
{
    return ((quic_session *)ref->user_data)->conn;
}

static void cb_rand(uint8_t *dest, size_t len, const ngtcp2_rand_ctx *ctx)
{
    quic_rand(dest, len);
}

static int cb_new_cid(ngtcp2_conn *conn, ngtcp2_cid *cid, uint8_t *token, size_t cidlen,
                      void *user)
{
    quic_session *s = user;
    quic_rand(cid->data, cidlen);
    cid->datalen = cidlen;
    if (ngtcp2_crypto_generate_stateless_reset_token(token, s->reset_secret,
                                                     sizeof(s->reset_secret), cid) != 0)
        return NGTCP2_ERR_CALLBACK_FAILURE;
    if (s->listener && quic_listener_add_cid(s->listener, s, cid) != 0)
        return NGTCP2_ERR_CALLBACK_FAILURE;
    return 0;
}

static int cb_remove_cid(ngtcp2_conn *conn, const ngtcp2_cid *cid, void *user)
{
    quic_session *s = user;
    if (s->listener) quic_listener_remove_cid(s->listener, s, cid);
    return 0;
}

static int cb_handshake_completed(ngtcp2_conn *conn, void *user)
{
    quic_session *s = user;
    s->handshake_done = true;
    s->kick = true;
    return 0;
}

static int cb_stream_open(ngtcp2_conn *conn, int64_t id, void *user)
{
    quic_session *s = user;
    if (!ngtcp2_is_bidi_stream(id)) return 0; /* unidirectional: unused by frp, ignored */
    struct quic_stream *st = quic_stream_new(s, id);
    if (!st) return NGTCP2_ERR_CALLBACK_FAILURE;
    ngtcp2_conn_set_stream_user_data(conn, id, st);
    list_push(&s->accept_q, &st->accept_link);
    s->kick = true;
    return 0;
}

static int cb_recv_stream_data(ngtcp2_conn *conn, uint32_t flags, int64_t id, uint64_t offset,
                               const uint8_t *data, size_t len, void *user, void *sud)
{
    quic_session *s = user;
    struct quic_stream *st = sud;
    s->kick = true;
    if (!st) { /* a stream nobody reads: give the credit straight back */
        ngtcp2_conn_extend_max_stream_offset(conn, id, len);
        ngtcp2_conn_extend_max_offset(conn, len);
        return 0;
    }
    return quic_stream_on_data(st, data, len, flags & NGTCP2_STREAM_DATA_FLAG_FIN);
}

static int cb_acked(ngtcp2_conn *conn, int64_t id, uint64_t offset, uint64_t len, void *user,
                    void *sud)
{
    if (sud) quic_stream_on_acked(sud, offset, len);
    return 0;
}

static int cb_stream_close(ngtcp2_conn *conn, uint32_t flags, int64_t id, uint64_t code,
                           void *user, void *sud)
{
    quic_session *s = user;
    struct quic_stream *st = sud;
    s->kick = true;
    if (!ngtcp2_conn_is_local_stream(conn, id)) {
        if (ngtcp2_is_bidi_stream(id))
            ngtcp2_conn_extend_max_streams_bidi(conn, 1);
        else
            ngtcp2_conn_extend_max_streams_uni(conn, 1);
    }
    if (!st) return 0;
    st->ng_closed = true;
    if (!st->fin_rcvd && !st->recv_err) st->recv_err = UV_ECONNRESET;
    quic_stream_drop_send(st, st->fin_sent ? 0 : UV_EPIPE);
    if (!st->fin_sent && !st->write_err) st->write_err = UV_EPIPE;
    return 0;
}

static int cb_stream_reset(ngtcp2_conn *conn, int64_t id, uint64_t final_size, uint64_t code,
                           void *user, void *sud)
{
    struct quic_stream *st = sud;
    ((quic_session *)user)->kick = true;
    if (st && !st->fin_rcvd) st->recv_err = UV_ECONNRESET;
    return 0;
}

static int cb_stop_sending(ngtcp2_conn *conn, int64_t id, uint64_t code, void *user, void *sud)
{
    struct quic_stream *st = sud;
    ((quic_session *)user)->kick = true;
    if (st && !st->write_err && !st->fin_sent) {
        st->write_err = UV_EPIPE; /* ngtcp2 answers with RESET_STREAM itself */
        list_del(&st->send_link);
    }
    return 0;
}

static int cb_extend_stream_data(ngtcp2_conn *conn, int64_t id, uint64_t max, void *user,
                                 void *sud)
{
    quic_session *s = user;
    struct quic_stream *st = sud;
    if (st && st->data_blocked) {
        st->data_blocked = false;
        if (quic_stream_wants_send(st) && list_empty(&st->send_link))
            list_push(&s->send_q, &st->send_link);
        s->kick = true;
    }
    return 0;
}

static void fill_callbacks(ngtcp2_callbacks *cb, bool server)
{
    memset(cb, 0, sizeof(*cb));
    if (server)
        cb->recv_client_initial = ngtcp2_crypto_recv_client_initial_cb;
    else {
        cb->client_initial = ngtcp2_crypto_client_initial_cb;
        cb->recv_retry = ngtcp2_crypto_recv_retry_cb;
    }
    cb->recv_crypto_data = ngtcp2_crypto_recv_crypto_data_cb;
    cb->encrypt = ngtcp2_crypto_encrypt_cb;
    cb->decrypt = ngtcp2_crypto_decrypt_cb;
    cb->hp_mask = ngtcp2_crypto_hp_mask_cb;
    cb->update_key = ngtcp2_crypto_update_key_cb;
    cb->delete_crypto_aead_ctx = ngtcp2_crypto_delete_crypto_aead_ctx_cb;
    cb->delete_crypto_cipher_ctx = ngtcp2_crypto_delete_crypto_cipher_ctx_cb;
    cb->get_path_challenge_data = ngtcp2_crypto_get_path_challenge_data_cb;
    cb->version_negotiation = ngtcp2_crypto_version_negotiation_cb;
    cb->handshake_completed = cb_handshake_completed;
    cb->recv_stream_data = cb_recv_stream_data;
    cb->acked_stream_data_offset = cb_acked;
    cb->stream_open = cb_stream_open;
    cb->stream_close = cb_stream_close;
    cb->stream_reset = cb_stream_reset;
    cb->stream_stop_sending = cb_stop_sending;
    cb->extend_max_stream_data = cb_extend_stream_data;
    cb->rand = cb_rand;
    cb->get_new_connection_id = cb_new_cid;
    cb->remove_connection_id = cb_remove_cid;
}

static void fill_settings(quic_session *s, ngtcp2_settings *st, ngtcp2_transport_params *p)
{
    ngtcp2_settings_default(st);
    st->initial_ts = uv_hrtime();
    st->max_window = MAX_CONN_WINDOW;
    st->max_stream_window = MAX_STREAM_WINDOW;
    st->handshake_timeout = s->cfg.handshake_timeout_ms * NGTCP2_MILLISECONDS;
    ngtcp2_transport_params_default(p);
    p->initial_max_stream_data_bidi_local = 512 * 1024;
    p->initial_max_stream_data_bidi_remote = 512 * 1024;
    p->initial_max_stream_data_uni = 512 * 1024;
    p->initial_max_data = 768 * 1024;
    p->initial_max_streams_bidi = s->cfg.max_incoming_streams;
    p->initial_max_streams_uni = 100;
    p->max_idle_timeout = s->cfg.max_idle_timeout_ms * NGTCP2_MILLISECONDS;
    p->active_connection_id_limit = 4;
    p->disable_active_migration = 1;
}

/* ---- life cycle ---- */

static void on_timer(uv_timer_t *t);

int quic_session_new_common(uv_loop_t *loop, bool is_server, const struct quic_config *cfg,
                            quic_session **out)
{
    quic_session *s = calloc(1, sizeof(*s)); /* freed by final_free */
    if (!s) return UV_ENOMEM;
    s->loop = loop;
    s->is_server = is_server;
    if (cfg)
        s->cfg = *cfg;
    else
        quic_config_default(&s->cfg);
    s->conn_ref.get_conn = get_conn;
    s->conn_ref.user_data = s;
    list_init(&s->listener_link);
    list_init(&s->streams);
    list_init(&s->accept_q);
    list_init(&s->send_q);
    quic_rand(s->reset_secret, sizeof(s->reset_secret));
    uv_timer_init(loop, &s->timer);
    s->timer.data = s;
    s->handles_open = 1;
    *out = s;
    return 0;
}

static void set_path(quic_session *s, ngtcp2_path *path, const struct sockaddr *remote)
{
    path->local.addr = (ngtcp2_sockaddr *)&s->udp->local;
    path->local.addrlen = s->udp->local_len;
    path->remote.addr = (ngtcp2_sockaddr *)remote;
    path->remote.addrlen =
        remote->sa_family == AF_INET6 ? sizeof(struct sockaddr_in6) : sizeof(struct sockaddr_in);
}

static void finish_setup(quic_session *s)
{
    if (s->cfg.keepalive_ms)
        ngtcp2_conn_set_keep_alive_timeout(s->conn, s->cfg.keepalive_ms * NGTCP2_MILLISECONDS);
    quic_session_schedule(s);
}

int quic_session_start_client(quic_session *s, const struct sockaddr *remote, char *err,
                              size_t errlen)
{
    ngtcp2_cid dcid, scid;
    dcid.datalen = 18;
    quic_rand(dcid.data, dcid.datalen);
    scid.datalen = 0; /* zero-length, as quic-go's client */
    ngtcp2_path path;
    memcpy(&s->remote, remote, remote->sa_family == AF_INET6 ? sizeof(struct sockaddr_in6)
                                                             : sizeof(struct sockaddr_in));
    set_path(s, &path, (struct sockaddr *)&s->remote);
    s->remote_len = path.remote.addrlen;
    ngtcp2_callbacks cb;
    ngtcp2_settings st;
    ngtcp2_transport_params p;
    fill_callbacks(&cb, false);
    fill_settings(s, &st, &p);
    int rv = ngtcp2_conn_client_new(&s->conn, &dcid, &scid, &path, NGTCP2_PROTO_VER_V1, &cb,
                                    &st, &p, NULL, s);
    if (rv != 0) {
        s->conn = NULL;
        err_set(err, errlen, "quic: %s", ngtcp2_strerror(rv));
        return UV_ENOMEM;
    }
    rv = quic_tls_client_setup(s, err, errlen);
    if (rv != 0) return rv;
    finish_setup(s);
    return 0;
}

int quic_session_start_server(quic_session *s, const ngtcp2_pkt_hd *hd,
                              const struct sockaddr *remote, socklen_t remote_len, char *err,
                              size_t errlen)
{
    ngtcp2_cid scid;
    scid.datalen = QUIC_SCID_LEN;
    quic_rand(scid.data, scid.datalen);
    memcpy(&s->remote, remote, remote_len);
    s->remote_len = remote_len;
    ngtcp2_path path;
    set_path(s, &path, (struct sockaddr *)&s->remote);
    ngtcp2_callbacks cb;
    ngtcp2_settings st;
    ngtcp2_transport_params p;
    fill_callbacks(&cb, true);
    fill_settings(s, &st, &p);
    p.original_dcid = hd->dcid;
    if (quic_listener_add_cid(s->listener, s, &hd->dcid) != 0 ||
        quic_listener_add_cid(s->listener, s, &scid) != 0) {
        err_set(err, errlen, "quic: connection ID table full");
        return UV_ENOMEM;
    }
    int rv = ngtcp2_conn_server_new(&s->conn, &hd->scid, &scid, &path, hd->version, &cb, &st,
                                    &p, NULL, s);
    if (rv != 0) {
        s->conn = NULL;
        err_set(err, errlen, "quic: %s", ngtcp2_strerror(rv));
        return UV_ENOMEM;
    }
    rv = quic_tls_server_setup(s, s->listener, err, errlen);
    if (rv != 0) return rv;
    finish_setup(s);
    return 0;
}

static void send_close(quic_session *s, const ngtcp2_connection_close_error *cc)
{
    if (!s->conn || !s->udp || ngtcp2_conn_is_in_closing_period(s->conn) ||
        ngtcp2_conn_is_in_draining_period(s->conn))
        return;
    uint8_t buf[QUIC_MAX_PKT];
    ngtcp2_path_storage ps;
    ngtcp2_path_storage_zero(&ps);
    ngtcp2_pkt_info pi;
    ngtcp2_ssize n = ngtcp2_conn_write_connection_close(s->conn, &ps.path, &pi, buf, sizeof(buf),
                                                        cc, uv_hrtime());
    if (n > 0) quic_udp_send(s->udp, (struct sockaddr *)ps.path.remote.addr, buf, (size_t)n);
}

/* The session ends: optional CONNECTION_CLOSE, ngtcp2/TLS state freed, streams told. */
static void die(quic_session *s, int status, const ngtcp2_connection_close_error *cc,
                const char *text)
{
    if (s->dead) return;
    if (cc) send_close(s, cc);
    s->dead = true;
    s->status = status;
    snprintf(s->errbuf, sizeof(s->errbuf), "%s", text);
    if (s->resolving) uv_cancel((uv_req_t *)&s->gai);
    for (struct list_link *l = s->streams.next; l != &s->streams; l = l->next) {
        struct quic_stream *st = LIST_ITEM(l, struct quic_stream, link);
        st->ng_closed = true;
        quic_stream_drop_send(st, CFRP_ECLOSED);
        if (!st->accepted) { /* never handed out: nobody else will close it */
            list_del(&st->accept_link);
            st->app_closed = st->close_cb_done = true;
        }
    }
    if (s->conn) ngtcp2_conn_del(s->conn);
    s->conn = NULL;
    if (s->tls) gnutls_deinit(s->tls);
    s->tls = NULL;
    if (s->own_cred) gnutls_certificate_free_credentials(s->own_cred);
    s->own_cred = NULL;
    if (s->listener) quic_listener_session_gone(s->listener, s);
    if (s->is_server) s->udp = NULL;
    if (s->udp) uv_udp_recv_stop(&s->udp->h);
    quic_session_schedule(s);
}

void quic_session_fail(quic_session *s, int status, const char *fmt, ...)
{
    char text[QUIC_ERRLEN];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(text, sizeof(text), fmt, ap);
    va_end(ap);
    die(s, status, NULL, text);
}

void quic_session_abort_listener(quic_session *s)
{
    ngtcp2_connection_close_error cc;
    ngtcp2_connection_close_error_default(&cc);
    ngtcp2_connection_close_error_set_application_error(&cc, 0, NULL, 0);
    die(s, CFRP_ECLOSED, &cc, "listener closed");
}

static void peer_closed(quic_session *s)
{
    ngtcp2_connection_close_error cc;
    ngtcp2_conn_get_connection_close_error(s->conn, &cc);
    char text[QUIC_ERRLEN];
    int len = cc.reasonlen > 64 ? 64 : (int)cc.reasonlen;
    bool app = cc.type == NGTCP2_CONNECTION_CLOSE_ERROR_CODE_TYPE_APPLICATION;
    snprintf(text, sizeof(text), "%s error 0x%llx (remote)%s%.*s", app ? "Application" : "Transport",
             (unsigned long long)cc.error_code, len ? ": " : "", len,
             len ? (const char *)cc.reason : "");
    die(s, cc.error_code == 0 ? UV_EOF : CFRP_EPROTO, NULL, text);
}

static void ng_fail(quic_session *s, int rv)
{
    ngtcp2_connection_close_error cc;
    ngtcp2_connection_close_error_default(&cc);
    switch (rv) {
    case NGTCP2_ERR_DRAINING:
        peer_closed(s);
        return;
    case NGTCP2_ERR_IDLE_CLOSE:
        die(s, CFRP_ETIMEOUT, NULL, "timeout: no recent network activity");
        return;
    case NGTCP2_ERR_HANDSHAKE_TIMEOUT:
        die(s, CFRP_ETIMEOUT, NULL, "timeout: handshake did not complete in time");
        return;
    case NGTCP2_ERR_DROP_CONN:
        die(s, CFRP_EPROTO, NULL, "quic: connection dropped");
        return;
    case NGTCP2_ERR_CRYPTO: {
        char text[QUIC_ERRLEN];
        int tlserr = s->conn ? ngtcp2_conn_get_tls_error(s->conn) : 0;
        snprintf(text, sizeof(text), "tls: handshake failed: %s",
                 tlserr ? gnutls_strerror(tlserr) : "alert");
        ngtcp2_connection_close_error_set_transport_error_tls_alert(
            &cc, s->conn ? ngtcp2_conn_get_tls_alert(s->conn) : 0, NULL, 0);
        die(s, CFRP_EPROTO, &cc, text);
        return;
    }
    default: {
        char text[QUIC_ERRLEN];
        snprintf(text, sizeof(text), "quic: %s", ngtcp2_strerror(rv));
        ngtcp2_connection_close_error_set_transport_error_liberr(&cc, rv, NULL, 0);
        die(s, CFRP_EPROTO, &cc, text);
    }
    }
}

void quic_session_on_datagram(quic_session *s, const struct sockaddr *from, const uint8_t *data,
                              size_t len)
{
    if (s->dead || !s->conn) return;
    ngtcp2_path path;
    set_path(s, &path, from);
    ngtcp2_pkt_info pi = {0};
    int rv = ngtcp2_conn_read_pkt(s->conn, &path, &pi, data, len, uv_hrtime());
    if (rv != 0) ng_fail(s, rv);
    process(s);
}

/* ---- sending ---- */

static void rotate(quic_session *s, struct quic_stream *st)
{
    list_del(&st->send_link);
    if (quic_stream_wants_send(st)) list_push(&s->send_q, &st->send_link);
}

/* Writes packets until ngtcp2 has nothing more or the pacing budget is used. Returns
 * true when it stopped for the budget (more may be sendable soon). */
static bool flush(quic_session *s)
{
    if (!s->udp || s->udp->blocked) return false;
    uint8_t buf[QUIC_MAX_PKT];
    ngtcp2_path_storage ps;
    ngtcp2_path_storage_zero(&ps);
    ngtcp2_pkt_info pi;
    ngtcp2_tstamp ts = uv_hrtime();
    size_t destlen = ngtcp2_conn_get_path_max_tx_udp_payload_size(s->conn);
    if (destlen > sizeof(buf)) destlen = sizeof(buf);
    size_t max_pkts = ngtcp2_conn_get_send_quantum(s->conn) / destlen;
    if (max_pkts < 10) max_pkts = 10;
    if (max_pkts > 64) max_pkts = 64;
    size_t npkts = 0;
    for (int guard = 0; npkts < max_pkts && guard < 4096; guard++) {
        struct quic_stream *st = NULL;
        while (!list_empty(&s->send_q)) {
            st = LIST_ITEM(s->send_q.next, struct quic_stream, send_link);
            if (quic_stream_wants_send(st)) break;
            list_del(&st->send_link);
            st = NULL;
        }
        ngtcp2_vec v[16];
        size_t nv = 0;
        bool fin = false;
        if (st) nv = quic_stream_pending(st, v, 16, &fin);
        uint32_t flags = NGTCP2_WRITE_STREAM_FLAG_MORE | (fin ? NGTCP2_WRITE_STREAM_FLAG_FIN : 0);
        ngtcp2_ssize datalen = -1;
        ngtcp2_ssize n = ngtcp2_conn_writev_stream(s->conn, &ps.path, &pi, buf, destlen, &datalen,
                                                   flags, st ? st->id : -1, nv ? v : NULL, nv,
                                                   ts);
        if (n < 0) {
            if (n == NGTCP2_ERR_WRITE_MORE) {
                quic_stream_advance(st, datalen > 0 ? (size_t)datalen : 0, fin);
                rotate(s, st);
                continue;
            }
            if (st && n == NGTCP2_ERR_STREAM_DATA_BLOCKED) {
                st->data_blocked = true;
                list_del(&st->send_link);
                continue;
            }
            if (st && (n == NGTCP2_ERR_STREAM_SHUT_WR || n == NGTCP2_ERR_STREAM_NOT_FOUND)) {
                st->write_err = UV_EPIPE;
                list_del(&st->send_link);
                continue;
            }
            ng_fail(s, (int)n);
            return false;
        }
        if (st && datalen >= 0) {
            quic_stream_advance(st, (size_t)datalen, fin);
            rotate(s, st);
        }
        if (n == 0) break;
        quic_udp_send(s->udp, (struct sockaddr *)ps.path.remote.addr, buf, (size_t)n);
        npkts++;
        if (s->udp->blocked) break;
    }
    ngtcp2_conn_update_pkt_tx_time(s->conn, ts);
    return npkts >= max_pkts;
}

/* ---- processing ---- */

static void on_handle_closed(uv_handle_t *h);

static void final_free(quic_session *s)
{
    free(s->server_name);
    free(s->cert_file);
    free(s->key_file);
    free(s->ca_file);
    free(s);
}

static void on_handle_closed(uv_handle_t *h)
{
    quic_session *s = h->data;
    if (--s->handles_open == 0) final_free(s);
}

static void on_udp_closed(uv_handle_t *h)
{
    struct quic_udp *u = h->data;
    quic_session *s = u->session;
    free(u);
    if (--s->handles_open == 0) final_free(s);
}

static void dispatch(quic_session *s)
{
    if (s->handshake_done && !s->ready_reported && !s->dead) {
        s->ready_reported = true;
        if (s->listener)
            quic_listener_handshake_done(s->listener, s);
        else if (s->h.on_ready)
            s->h.on_ready(s);
    }
    while (s->handlers_set && !s->dead && !list_empty(&s->accept_q)) {
        struct quic_stream *st = LIST_ITEM(s->accept_q.next, struct quic_stream, accept_link);
        list_del(&st->accept_link);
        st->accepted = true;
        if (s->h.on_accept)
            s->h.on_accept(s, &st->base);
        else
            stream_close(&st->base);
    }
    for (struct list_link *l = s->streams.next; l != &s->streams; l = l->next)
        quic_stream_dispatch(LIST_ITEM(l, struct quic_stream, link));
    if (s->dead && !s->close_reported) {
        s->close_reported = true;
        if (s->h.on_close) s->h.on_close(s, s->status);
    }
}

static void reap(quic_session *s)
{
    for (struct list_link *l = s->streams.next, *next; l != &s->streams; l = next) {
        next = l->next;
        struct quic_stream *st = LIST_ITEM(l, struct quic_stream, link);
        if (st->app_closed && st->close_cb_done && (st->ng_closed || s->dead))
            quic_stream_free(st);
    }
    if (s->dead && s->close_reported && s->nstreams == 0 && !s->freed_pending &&
        !s->resolving) {
        s->freed_pending = true;
        uv_timer_stop(&s->timer);
        uv_close((uv_handle_t *)&s->timer, on_handle_closed);
        if (s->udp) {
            s->udp->h.data = s->udp;
            s->handles_open++;
            uv_close((uv_handle_t *)&s->udp->h, on_udp_closed);
            s->udp = NULL;
        }
    }
}

static void process(quic_session *s)
{
    if (s->in_process) {
        s->kick = true;
        return;
    }
    if (s->freed_pending) return;
    s->in_process = true;
    bool more = false;
    int rounds = 0;
    do {
        s->kick = false;
        if (s->conn && !s->dead) more = flush(s);
        dispatch(s);
    } while (s->kick && ++rounds < 64);
    s->in_process = false;
    if (s->conn && !s->dead) {
        ngtcp2_tstamp exp = ngtcp2_conn_get_expiry(s->conn), now = uv_hrtime();
        uint64_t ms;
        if (s->kick)
            ms = 0;
        else if (exp == UINT64_MAX)
            ms = more ? 1 : 3600 * 1000;
        else
            ms = exp <= now ? 0 : (exp - now + 999999) / 1000000;
        if (more && ms > 1) ms = 1;
        uv_timer_start(&s->timer, on_timer, ms, 0);
    }
    reap(s); /* may start freeing s: nothing after this */
}

static void on_timer(uv_timer_t *t)
{
    quic_session *s = t->data;
    if (s->conn && !s->dead) {
        ngtcp2_tstamp now = uv_hrtime();
        if (ngtcp2_conn_get_expiry(s->conn) <= now) {
            int rv = ngtcp2_conn_handle_expiry(s->conn, now);
            if (rv != 0) ng_fail(s, rv);
        }
    }
    process(s);
}

void quic_session_schedule(quic_session *s)
{
    if (s->in_process) {
        s->kick = true;
        return;
    }
    if (!s->freed_pending) uv_timer_start(&s->timer, on_timer, 0, 0);
}

void quic_udp_unblocked(struct quic_udp *u)
{
    if (u->session) {
        quic_session_schedule(u->session);
        return;
    }
    if (!u->listener) return;
    for (struct list_link *l = u->listener->sessions.next; l != &u->listener->sessions;
         l = l->next)
        quic_session_schedule(LIST_ITEM(l, quic_session, listener_link));
}

/* ---- public API ---- */

void quic_session_set_handlers(quic_session *s, const struct quic_handlers *h)
{
    s->h = *h;
    s->handlers_set = true;
    quic_session_schedule(s);
}

int quic_session_open(quic_session *s, stream **out)
{
    if (s->dead || !s->conn) return s->dead ? CFRP_ECLOSED : UV_EAGAIN;
    if (!s->handshake_done) return UV_EAGAIN;
    struct quic_stream *st = quic_stream_new(s, -1);
    if (!st) return UV_ENOMEM;
    int64_t id;
    int rv = ngtcp2_conn_open_bidi_stream(s->conn, &id, st);
    if (rv != 0) {
        quic_stream_free(st);
        return rv == NGTCP2_ERR_STREAM_ID_BLOCKED ? UV_EAGAIN : UV_ENOMEM;
    }
    st->id = id;
    st->accepted = true;
    *out = &st->base;
    return 0;
}

void quic_session_close(quic_session *s)
{
    if (s->dead) return;
    ngtcp2_connection_close_error cc;
    ngtcp2_connection_close_error_default(&cc);
    ngtcp2_connection_close_error_set_application_error(&cc, 0, NULL, 0);
    die(s, 0, &cc, "");
}

void *quic_session_data(const quic_session *s)
{
    return s->h.data;
}

bool quic_session_is_closed(const quic_session *s)
{
    return s->dead;
}

const char *quic_session_error(const quic_session *s)
{
    return s->errbuf;
}

int quic_session_peer_addr(const quic_session *s, struct sockaddr_storage *addr)
{
    if (!s->remote_len) return UV_ENOTCONN;
    memset(addr, 0, sizeof(*addr));
    memcpy(addr, &s->remote, s->remote_len);
    return 0;
}
