/* frps controls: one per logged-in frpc session (frp's server/control.go). Login and
 * token check, run ids and the replacement of an older session with the same run id,
 * the encrypted control stream (NewProxy, CloseProxy, Ping), the work connection pool
 * with its waiters, heartbeat timeouts, and the teardown of everything a session owns
 * when its control connection ends. */
#include <stdlib.h>
#include <string.h>

#include "base/err.h"
#include "base/log.h"
#include "config/client_config.h"
#include "config/server_config.h"
#include "proto/auth.h"
#include "proto/crypto_stream.h"
#include "server/svr_internal.h"

enum ctl_state { CTL_WAIT_OLD, CTL_RUNNING, CTL_CLOSING };

/* While more than this many bytes, or messages, of replies wait to be sent on a
 * control stream (its frpc does not read them), frps stops reading the stream (frp's
 * bounded send queue of 100 messages blocks its reader the same way); reading resumes
 * once both are below half. Each queued message costs far more than its bytes, hence
 * the second limit. */
#define CTL_SEND_HIGH_WATER (256u * 1024u)
#define CTL_SEND_MAX_MSGS 256u

/* A connection parked in the work pool. */
struct pooled {
    struct list_link link;
    stream *s; /* owned */
};

/* Owns its streams, timers, pooled connections and (through references) its proxies.
 * Freed when every close it started has completed. */
struct svr_control {
    struct list_link link; /* in svr->ctls */
    struct server *svr;
    enum ctl_state state;
    char *run_id;
    char peer[SVR_ADDR_TEXT];
    stream *raw;          /* the frp connection before the switch to encryption */
    buf_ref head;         /* bytes read after the Login */
    stream *conn;         /* the encrypted control stream once running */
    msg login;            /* the Login (owned) */
    int pool_count;       /* min(pool_count, maxPoolCount) */
    struct list_link pool; /* struct pooled */
    size_t pool_n;
    struct list_link waiters; /* struct svr_wc_req, oldest first */
    uv_timer_t wait_timer;
    uv_timer_t hb_timer;
    uint64_t last_ping_ms;
    struct list_link proxies; /* struct svr_proxy */
    int ports_used;
    struct svr_control *successor;   /* a new session waiting for our teardown */
    struct svr_control *predecessor; /* the old session we wait for */
    int pending;                     /* closes in flight */
    bool replaced;
    bool read_paused; /* the control stream is not read: too much is queued */
    size_t sending;   /* messages written on conn whose write callback has not run */
    msg_reader rd;
};

static void ctl_on_read(stream *s, ssize_t nread, buf_ref data);
static void ctl_close(struct svr_control *ctl);

/* A reply left (or failed): resumes reading once the queue has drained. Runs before
 * the stream's on_close, so ctl is still allocated. */
static void ctl_on_sent(stream *s, int status, void *arg)
{
    struct svr_control *ctl = arg;
    ctl->sending--;
    if (ctl->state != CTL_RUNNING || ctl->conn != s || !ctl->read_paused) return;
    if (status < 0) {
        log_debug("[%s] control connection closed: %s", ctl->run_id, svr_err_text(status));
        ctl_close(ctl);
        return;
    }
    if (stream_queued(s) > CTL_SEND_HIGH_WATER / 2 || ctl->sending > CTL_SEND_MAX_MSGS / 2) return;
    ctl->read_paused = false;
    if (stream_read_start(s, ctl_on_read)) ctl_close(ctl);
}

static void ctl_send(struct svr_control *ctl, const msg *m)
{
    if (ctl->state != CTL_RUNNING) return;
    /* a failed send shows up as a read error */
    ctl->sending++;
    if (svr_send_msg(ctl->conn, m, ctl_on_sent, ctl)) {
        ctl->sending--;
        return;
    }
    if (!ctl->read_paused &&
        (stream_queued(ctl->conn) > CTL_SEND_HIGH_WATER || ctl->sending > CTL_SEND_MAX_MSGS)) {
        ctl->read_paused = true;
        stream_read_stop(ctl->conn);
    }
}

static void ctl_send_req_work_conn(struct svr_control *ctl)
{
    msg m;
    msg_init(&m, MSG_REQ_WORK_CONN);
    ctl_send(ctl, &m);
}

static void ctl_start(struct svr_control *ctl);

static void ctl_free(struct svr_control *ctl)
{
    list_del(&ctl->link);
    msg_clear(&ctl->login);
    free(ctl->run_id);
    free(ctl);
}

/* One close started by ctl_close has completed. */
static void ctl_part_done(struct svr_control *ctl)
{
    if (--ctl->pending > 0) return;
    log_info("[%s] client exit success", ctl->run_id);
    struct svr_control *next = ctl->successor;
    if (next) {
        next->predecessor = NULL;
        ctl_start(next);
    }
    ctl_free(ctl);
}

static void ctl_on_stream_closed(stream *s)
{
    ctl_part_done(s->data);
}

static void ctl_on_timer_closed(uv_handle_t *h)
{
    ctl_part_done(h->data);
}

/* Tears the session down: control connection, pool, waiters, proxies, registry entry. */
static void ctl_close(struct svr_control *ctl)
{
    if (ctl->state == CTL_CLOSING) return;
    ctl->state = CTL_CLOSING;
    struct server *svr = ctl->svr;
    if (ctl->predecessor) {
        ctl->predecessor->successor = NULL;
        ctl->predecessor = NULL;
    }
    if (!ctl->replaced && svr_map_get(&svr->controls, ctl->run_id) == ctl)
        svr_map_del(&svr->controls, ctl->run_id);
    stream *s = ctl->conn ? ctl->conn : ctl->raw;
    ctl->conn = ctl->raw = NULL;
    buf_ref_release(&ctl->head);
    s->data = ctl;
    s->on_close = ctl_on_stream_closed;
    ctl->pending = 3;
    stream_close(s);
    uv_close((uv_handle_t *)&ctl->wait_timer, ctl_on_timer_closed);
    uv_close((uv_handle_t *)&ctl->hb_timer, ctl_on_timer_closed);
    while (!list_empty(&ctl->pool)) {
        struct pooled *pw = LIST_ITEM(ctl->pool.next, struct pooled, link);
        list_del(&pw->link);
        pw->s->on_close = NULL;
        stream_close(pw->s);
        free(pw);
    }
    ctl->pool_n = 0;
    while (!list_empty(&ctl->waiters)) {
        struct svr_wc_req *r = LIST_ITEM(ctl->waiters.next, struct svr_wc_req, link);
        list_del(&r->link);
        r->cb(r, NULL, CFRP_ECLOSED);
    }
    while (!list_empty(&ctl->proxies)) {
        struct svr_proxy *p = LIST_ITEM(ctl->proxies.next, struct svr_proxy, link);
        list_del(&p->link);
        svr_proxy_close(p);
    }
}

void svr_control_stop_all(struct server *svr)
{
    for (struct list_link *l = svr->ctls.next; l != &svr->ctls; l = l->next)
        ctl_close(LIST_ITEM(l, struct svr_control, link));
}

/* ---- work connections ---- */

static void ctl_wait_timer_cb(uv_timer_t *t);

static void ctl_arm_wait_timer(struct svr_control *ctl)
{
    if (list_empty(&ctl->waiters)) {
        uv_timer_stop(&ctl->wait_timer);
        return;
    }
    struct svr_wc_req *r = LIST_ITEM(ctl->waiters.next, struct svr_wc_req, link);
    uint64_t now = svr_now_ms();
    uv_timer_start(&ctl->wait_timer, ctl_wait_timer_cb, r->deadline_ms > now ? r->deadline_ms - now : 0,
                   0);
}

static void ctl_wait_timer_cb(uv_timer_t *t)
{
    struct svr_control *ctl = t->data;
    uint64_t now = svr_now_ms();
    while (!list_empty(&ctl->waiters) && ctl->state != CTL_CLOSING) {
        struct svr_wc_req *r = LIST_ITEM(ctl->waiters.next, struct svr_wc_req, link);
        if (r->deadline_ms > now) break;
        list_del(&r->link);
        log_warn("[%s] timeout trying to get work connection", ctl->run_id);
        r->cb(r, NULL, CFRP_ETIMEOUT);
    }
    if (ctl->state != CTL_CLOSING) ctl_arm_wait_timer(ctl);
}

int svr_control_get_work_conn(struct svr_control *ctl, struct svr_wc_req *req, stream **out)
{
    if (ctl->state != CTL_RUNNING) return CFRP_ECLOSED;
    if (!list_empty(&ctl->pool)) {
        struct pooled *pw = LIST_ITEM(ctl->pool.next, struct pooled, link);
        list_del(&pw->link);
        ctl->pool_n--;
        *out = pw->s;
        free(pw);
        log_debug("[%s] get work connection from pool", ctl->run_id);
        ctl_send_req_work_conn(ctl);
        return 0;
    }
    ctl_send_req_work_conn(ctl);
    req->deadline_ms = svr_now_ms() + (uint64_t)ctl->svr->cfg->user_conn_timeout * 1000;
    list_push(&ctl->waiters, &req->link);
    if (!uv_is_active((uv_handle_t *)&ctl->wait_timer)) ctl_arm_wait_timer(ctl);
    return 1;
}

void svr_control_cancel_wait(struct svr_wc_req *req)
{
    list_del(&req->link);
}

/* A new work connection for ctl: to the oldest waiter, else into the pool. */
static void ctl_put_work_conn(struct svr_control *ctl, stream *s)
{
    if (ctl->state == CTL_CLOSING) {
        stream_close(s);
        return;
    }
    if (!list_empty(&ctl->waiters)) {
        log_debug("[%s] new work connection registered", ctl->run_id);
        struct svr_wc_req *r = LIST_ITEM(ctl->waiters.next, struct svr_wc_req, link);
        list_del(&r->link);
        ctl_arm_wait_timer(ctl);
        ctl_send_req_work_conn(ctl);
        r->cb(r, s, 0);
        return;
    }
    if (ctl->pool_n >= (size_t)ctl->pool_count + 10) {
        log_debug("[%s] work connection pool is full, discarding", ctl->run_id);
        stream_close(s);
        return;
    }
    struct pooled *pw = malloc(sizeof *pw);
    if (!pw) {
        stream_close(s);
        return;
    }
    pw->s = s;
    s->on_close = NULL;
    list_push(&ctl->pool, &pw->link);
    ctl->pool_n++;
    log_debug("[%s] new work connection registered", ctl->run_id);
}

/* Writes a refusal on a connection, then closes it. */
static void ctl_close_after_write(stream *s, int status, void *arg)
{
    stream_close(s);
}

static void ctl_refuse(stream *s, const msg *m)
{
    s->on_close = NULL;
    if (svr_send_msg(s, m, ctl_close_after_write, NULL)) stream_close(s);
}

const char *svr_control_user(const struct svr_control *ctl)
{
    return ctl->login.u.login.user ? ctl->login.u.login.user : "";
}

void svr_control_new_work_conn(struct server *svr, stream *s, buf_ref head, msg *m)
{
    msg_new_work_conn *nw = &m->u.new_work_conn;
    const char *run_id = nw->run_id ? nw->run_id : "";
    struct svr_control *ctl = svr_map_get(&svr->controls, run_id);
    if (!ctl) {
        log_warn("No client control found for run id [%s]", run_id);
        buf_ref_release(&head);
        msg_clear(m);
        s->on_close = NULL;
        stream_close(s);
        return;
    }
    if (svr->scope_new_work_conns &&
        !auth_key_verify(svr->cfg->auth.token, nw->timestamp, nw->privilege_key ? nw->privilege_key : "")) {
        log_warn("invalid NewWorkConn with run id [%s]", run_id);
        msg resp;
        msg_init(&resp, MSG_START_WORK_CONN);
        resp.u.start_work_conn.error =
            svr->detailed_errors ? "token in NewWorkConn doesn't match token from configuration"
                                 : "invalid NewWorkConn";
        buf_ref_release(&head);
        msg_clear(m);
        ctl_refuse(s, &resp);
        return;
    }
    msg_clear(m);
    if (head.len > 0 && prefix_stream_new(svr->loop, s, head, &s)) {
        stream_close(s);
        return;
    }
    buf_ref_release(&head);
    ctl_put_work_conn(ctl, s);
}

/* ---- the control stream ---- */

static void ctl_handle_new_proxy(struct svr_control *ctl, msg_new_proxy *np)
{
    struct server *svr = ctl->svr;
    const char *name = np->proxy_name ? np->proxy_name : "";
    const char *type = np->proxy_type && *np->proxy_type ? np->proxy_type : "tcp";
    char remote[512] = "", err[1024] = "", summary[600];
    struct svr_proxy *p = NULL;
    int rc = svr_proxy_new(svr, ctl, ctl->run_id, ctl->pool_count, np, &ctl->ports_used, &p, remote,
                           sizeof remote, err, sizeof err);
    msg resp;
    msg_init(&resp, MSG_NEW_PROXY_RESP);
    resp.u.new_proxy_resp.proxy_name = (char *)name;
    if (rc) {
        log_warn("[%s] new proxy [%s] type [%s] error: %s", ctl->run_id, name, type, err);
        snprintf(summary, sizeof summary, "new proxy [%s] error", name);
        resp.u.new_proxy_resp.error = svr->detailed_errors ? err : summary;
    } else {
        list_push(&ctl->proxies, &p->link);
        resp.u.new_proxy_resp.remote_addr = remote;
        log_info("[%s] new proxy [%s] type [%s] success", ctl->run_id, name, type);
    }
    ctl_send(ctl, &resp);
}

static void ctl_handle_close_proxy(struct svr_control *ctl, const char *name)
{
    for (struct list_link *l = ctl->proxies.next; l != &ctl->proxies; l = l->next) {
        struct svr_proxy *p = LIST_ITEM(l, struct svr_proxy, link);
        if (strcmp(p->cfg->name, name) != 0) continue;
        if (ctl->svr->cfg->max_ports_per_client > 0) ctl->ports_used -= p->kind->used_ports;
        list_del(&p->link);
        svr_proxy_close(p);
        break;
    }
    log_info("[%s] close proxy [%s] success", ctl->run_id, name);
}

static void ctl_handle_ping(struct svr_control *ctl, const msg_ping *ping)
{
    struct server *svr = ctl->svr;
    msg pong;
    msg_init(&pong, MSG_PONG);
    if (svr->scope_heartbeats &&
        !auth_key_verify(svr->cfg->auth.token, ping->timestamp, ping->privilege_key ? ping->privilege_key : "")) {
        const char *why = "token in heartbeat doesn't match token from configuration";
        log_warn("[%s] received invalid ping: %s", ctl->run_id, why);
        pong.u.pong.error = svr->detailed_errors ? (char *)why : "invalid ping";
        ctl_send(ctl, &pong);
        return;
    }
    ctl->last_ping_ms = svr_now_ms();
    log_debug("[%s] receive heartbeat", ctl->run_id);
    ctl_send(ctl, &pong);
}

static int ctl_on_msg(void *arg, msg *m)
{
    struct svr_control *ctl = arg;
    switch (m->type) {
    case MSG_NEW_PROXY:
        ctl_handle_new_proxy(ctl, &m->u.new_proxy);
        break;
    case MSG_CLOSE_PROXY:
        ctl_handle_close_proxy(ctl, m->u.close_proxy.proxy_name ? m->u.close_proxy.proxy_name : "");
        break;
    case MSG_PING:
        ctl_handle_ping(ctl, &m->u.ping);
        break;
    default: /* registered types without a handler are ignored */
        break;
    }
    msg_clear(m);
    return ctl->state == CTL_RUNNING ? 0 : 1;
}

static void ctl_on_read(stream *s, ssize_t nread, buf_ref data)
{
    struct svr_control *ctl = s->data;
    if (nread < 0) {
        log_debug("[%s] control connection closed: %s", ctl->run_id, svr_err_text((int)nread));
        ctl_close(ctl);
        return;
    }
    char err[256];
    size_t used;
    int rc = svr_feed_msgs(&ctl->rd, data.base, data.len, &used, ctl_on_msg, ctl, err, sizeof err);
    buf_ref_release(&data);
    if (rc < 0) {
        log_debug("[%s] read control message error: %s", ctl->run_id, err);
        ctl_close(ctl);
    }
}

static void ctl_hb_timer_cb(uv_timer_t *t)
{
    struct svr_control *ctl = t->data;
    int64_t timeout = ctl->svr->cfg->transport.heartbeat_timeout;
    if (ctl->state == CTL_RUNNING && svr_now_ms() - ctl->last_ping_ms > (uint64_t)timeout * 1000) {
        log_warn("[%s] heartbeat timeout", ctl->run_id);
        ctl_close(ctl);
    }
}

/* Answers the Login, switches to encryption and asks for the first work connections. */
static void ctl_start(struct svr_control *ctl)
{
    struct server *svr = ctl->svr;
    if (ctl->state != CTL_WAIT_OLD) return;
    msg resp;
    msg_init(&resp, MSG_LOGIN_RESP);
    resp.u.login_resp.version = SVR_VERSION;
    resp.u.login_resp.run_id = ctl->run_id;
    int rc = svr_send_msg(ctl->raw, &resp, NULL, NULL);
    stream *enc = NULL;
    if (rc == 0)
        rc = crypto_stream_new(svr->loop, ctl->raw, svr->token_key, ctl->head.base, ctl->head.len, &enc);
    buf_ref_release(&ctl->head);
    if (rc) {
        ctl_close(ctl);
        return;
    }
    ctl->raw = NULL;
    ctl->conn = enc;
    enc->data = ctl;
    enc->on_close = NULL;
    ctl->state = CTL_RUNNING;
    ctl->last_ping_ms = svr_now_ms();
    for (int i = 0; i < ctl->pool_count; i++) ctl_send_req_work_conn(ctl);
    if (svr->cfg->transport.heartbeat_timeout > 0)
        uv_timer_start(&ctl->hb_timer, ctl_hb_timer_cb, 1000, 1000);
    if (stream_read_start(enc, ctl_on_read)) ctl_close(ctl);
}

/* Checks the Login's credentials; 0 or CFRP_EAUTH with the detailed text in err. */
static int ctl_verify_login(struct server *svr, const msg_login *lg, char *err, size_t errlen)
{
    if (strcmp(svr->cfg->auth.method, "oidc") == 0) {
        err_set(err, errlen, "invalid OIDC token in login: OIDC verification is not supported by this server");
        return CFRP_EAUTH;
    }
    if (!auth_key_verify(svr->cfg->auth.token, lg->timestamp, lg->privilege_key ? lg->privilege_key : "")) {
        err_set(err, errlen, "token in login doesn't match token from configuration");
        return CFRP_EAUTH;
    }
    return 0;
}

void svr_control_login(struct server *svr, stream *s, buf_ref head, msg *m)
{
    msg_login *lg = &m->u.login;
    char gen[17], peer[SVR_ADDR_TEXT], err[512];
    svr_stream_peer(s, peer);
    const char *run_id = lg->run_id && *lg->run_id ? lg->run_id : NULL;
    if (!run_id) {
        if (svr_run_id_new(gen)) {
            msg_clear(m);
            buf_ref_release(&head);
            stream_close(s);
            return;
        }
        run_id = gen;
    }
    log_info("[%s] client login info: ip [%s] version [%s] hostname [%s] os [%s] arch [%s]", run_id,
             peer, lg->version ? lg->version : "", lg->hostname ? lg->hostname : "",
             lg->os ? lg->os : "", lg->arch ? lg->arch : "");
    struct svr_control *ctl = NULL, *old = NULL;
    int rc = ctl_verify_login(svr, lg, err, sizeof err);
    if (rc == 0) {
        ctl = malloc(sizeof *ctl);
        if (ctl) {
            memset(ctl, 0, offsetof(struct svr_control, rd));
            ctl->run_id = strdup(run_id);
            old = svr_map_get(&svr->controls, run_id);
        }
        if (!ctl || !ctl->run_id || svr_map_set(&svr->controls, run_id, ctl)) {
            if (ctl) free(ctl->run_id);
            free(ctl);
            err_set(err, sizeof err, "unexpected error when creating new controller");
            rc = UV_ENOMEM;
        }
    }
    if (rc) {
        log_warn("register control error: %s", err); /* frp logs it without the run id */
        msg resp;
        msg_init(&resp, MSG_LOGIN_RESP);
        resp.u.login_resp.version = SVR_VERSION;
        resp.u.login_resp.error = svr->detailed_errors ? err : "register control error";
        ctl_refuse(s, &resp);
        msg_clear(m);
        buf_ref_release(&head);
        return;
    }
    ctl->svr = svr;
    ctl->state = CTL_WAIT_OLD;
    memcpy(ctl->peer, peer, sizeof peer);
    ctl->raw = s;
    s->data = ctl;
    s->on_close = NULL;
    ctl->head = head;
    ctl->login = *m;
    msg_init(m, MSG_LOGIN);
    int64_t pc = ctl->login.u.login.pool_count;
    int64_t maxp = svr->cfg->transport.max_pool_count;
    if (pc > maxp) pc = maxp;
    ctl->pool_count = pc < 0 ? 0 : (int)pc;
    list_init(&ctl->pool);
    list_init(&ctl->waiters);
    list_init(&ctl->proxies);
    msg_reader_init(&ctl->rd);
    uv_timer_init(svr->loop, &ctl->wait_timer);
    uv_timer_init(svr->loop, &ctl->hb_timer);
    ctl->wait_timer.data = ctl->hb_timer.data = ctl;
    list_push(&svr->ctls, &ctl->link);

    if (old && old->state != CTL_CLOSING) {
        log_info("[%s] Replaced by client [%s]", old->run_id, run_id);
        old->replaced = true;
        old->successor = ctl;
        ctl->predecessor = old;
        ctl_close(old);
        return;
    }
    ctl_start(ctl);
}
