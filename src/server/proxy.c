/* frps proxies, the parts every kind shares (frp's server/proxy/proxy.go): building
 * and validating a proxy from NewProxy, the name registry, maxPortsPerClient, the
 * server-mode bandwidth limiter, getting a work connection with StartWorkConn, the
 * per-proxy layers (protocol.md 5.4) and joining a user connection with it (9.1). */
#include <jansson.h>
#include <stdlib.h>
#include <string.h>

#include "base/err.h"
#include "base/log.h"
#include "config/client_config.h"
#include "config/server_config.h"
#include "net/join.h"
#include "net/ratelimit.h"
#include "proto/crypto_stream.h"
#include "proto/snappy_stream.h"
#include "server/svr_internal.h"

/* ---- building the proxy config from NewProxy (frp's NewProxyConfigurerFromMsg) ---- */

static int js_set_str(json_t *o, const char *key, const char *v)
{
    if (!v || !*v) return 0;
    return json_object_set_new(o, key, json_string(v));
}

static int js_set_list(json_t *o, const char *key, const msg_strlist *l)
{
    if (l->n == 0) return 0;
    json_t *a = json_array();
    for (size_t i = 0; a && i < l->n; i++)
        if (json_array_append_new(a, json_string(l->v[i] ? l->v[i] : ""))) {
            json_decref(a);
            return -1;
        }
    return a ? json_object_set_new(o, key, a) : -1;
}

static json_t *js_map(const msg_strmap *m)
{
    json_t *o = json_object();
    for (size_t i = 0; o && i < m->n; i++)
        if (json_object_set_new(o, m->v[i].key ? m->v[i].key : "", json_string(m->v[i].val ? m->v[i].val : ""))) {
            json_decref(o);
            return NULL;
        }
    return o;
}

static int js_set_map(json_t *o, const char *key, const msg_strmap *m)
{
    if (m->n == 0) return 0;
    json_t *v = js_map(m);
    return v ? json_object_set_new(o, key, v) : -1;
}

static int js_set_headers(json_t *o, const char *key, const msg_strmap *m)
{
    if (m->n == 0) return 0;
    json_t *set = js_map(m);
    return set ? json_object_set_new(o, key, json_pack("{s:o}", "set", set)) : -1;
}

/* The proxy as a config-file object, the way frp's UnmarshalFromMsg fills its struct
 * (an invalid bandwidth text counts as no limit). New reference or NULL. */
static json_t *proxy_msg_json(const msg_new_proxy *np, const char *type)
{
    json_t *o = json_object(), *tr = json_object(), *lb = json_object();
    struct cfg_bandwidth bw = {0};
    int bad = !o || !tr || !lb;
    bad |= js_set_str(o, "name", np->proxy_name) | js_set_str(o, "type", type);
    if (np->use_encryption) bad |= json_object_set_new(tr, "useEncryption", json_true());
    if (np->use_compression) bad |= json_object_set_new(tr, "useCompression", json_true());
    if (np->bandwidth_limit && cfg_bandwidth_parse(np->bandwidth_limit, &bw, NULL, 0) == 0) {
        bad |= js_set_str(tr, "bandwidthLimit", bw.text);
        free(bw.text);
    }
    bad |= js_set_str(tr, "bandwidthLimitMode", np->bandwidth_limit_mode);
    bad |= js_set_str(lb, "group", np->group) | js_set_str(lb, "groupKey", np->group_key);
    bad |= js_set_map(o, "metadatas", &np->metas) | js_set_map(o, "annotations", &np->annotations);
    if (np->remote_port) bad |= json_object_set_new(o, "remotePort", json_integer(np->remote_port));
    bad |= js_set_list(o, "customDomains", &np->custom_domains);
    bad |= js_set_str(o, "subdomain", np->subdomain);
    bad |= js_set_list(o, "locations", &np->locations);
    bad |= js_set_str(o, "httpUser", np->http_user) | js_set_str(o, "httpPassword", np->http_pwd);
    bad |= js_set_str(o, "hostHeaderRewrite", np->host_header_rewrite);
    bad |= js_set_headers(o, "requestHeaders", &np->headers);
    bad |= js_set_headers(o, "responseHeaders", &np->response_headers);
    bad |= js_set_str(o, "routeByHTTPUser", np->route_by_http_user);
    bad |= js_set_str(o, "secretKey", np->sk);
    bad |= js_set_list(o, "allowUsers", &np->allow_users);
    bad |= js_set_str(o, "multiplexer", np->multiplexer);
    if (!bad) bad |= json_object_set(o, "transport", tr) | json_object_set(o, "loadBalancer", lb);
    json_decref(tr);
    json_decref(lb);
    if (bad) {
        json_decref(o);
        return NULL;
    }
    return o;
}

static const struct svr_proxy_kind *const proxy_kinds[] = {
    &svr_proxy_tcp,    &svr_proxy_udp,  &svr_proxy_http, &svr_proxy_https,
    &svr_proxy_tcpmux, &svr_proxy_stcp, &svr_proxy_sudp};

static const struct svr_proxy_kind *proxy_kind(const char *type)
{
    for (size_t i = 0; i < sizeof proxy_kinds / sizeof proxy_kinds[0]; i++)
        if (strcmp(proxy_kinds[i]->type, type) == 0) return proxy_kinds[i];
    return NULL;
}

static void proxy_destroy(struct svr_proxy *p)
{
    if (p->impl) p->kind->destroy(p);
    ratelimit_release(p->limiter);
    cfg_proxy_free(p->cfg);
    free(p->run_id);
    free(p);
}

void svr_proxy_retain(struct svr_proxy *p)
{
    p->refs++;
}

void svr_proxy_release(struct svr_proxy *p)
{
    if (--p->refs == 0) proxy_destroy(p);
}

int svr_proxy_new(struct server *svr, struct svr_control *ctl, const char *run_id, int pool_count,
                  msg_new_proxy *np, int *ports_used, struct svr_proxy **out, char *remote_addr,
                  size_t cap, char *err, size_t errlen)
{
    const char *type = np->proxy_type && *np->proxy_type ? np->proxy_type : "tcp";
    if (cfg_proxy_type_parse(type) == 0) {
        err_set(err, errlen, "unknown proxy type: %s", type);
        return CFRP_EINVAL;
    }
    json_t *obj = proxy_msg_json(np, type);
    if (!obj) {
        err_set(err, errlen, "out of memory");
        return UV_ENOMEM;
    }
    struct cfg_proxy *pc = NULL;
    int rc = cfg_proxy_from_json(obj, false, &pc, err, errlen);
    json_decref(obj);
    if (rc == 0) rc = cfg_proxy_complete(pc, "");
    if (rc == 0) rc = cfg_proxy_validate_server(pc, svr->cfg, err, errlen);
    const struct svr_proxy_kind *kind = rc == 0 ? proxy_kind(type) : NULL;
    if (rc == 0 && !kind) {
        err_set(err, errlen, "proxy type not support");
        rc = CFRP_EINVAL;
    }
    if (rc) {
        cfg_proxy_free(pc);
        return rc;
    }
    int64_t max_ports = svr->cfg->max_ports_per_client;
    if (max_ports > 0) {
        if (*ports_used + kind->used_ports > max_ports) {
            err_set(err, errlen, "exceed the max_ports_per_client");
            cfg_proxy_free(pc);
            return CFRP_EINVAL;
        }
        *ports_used += kind->used_ports;
    }
    struct svr_proxy *p = calloc(1, sizeof *p);
    if (p) p->run_id = strdup(run_id);
    if (!p || !p->run_id) {
        free(p);
        cfg_proxy_free(pc);
        if (max_ports > 0) *ports_used -= kind->used_ports;
        err_set(err, errlen, "out of memory");
        return UV_ENOMEM;
    }
    list_init(&p->link);
    p->kind = kind;
    p->svr = svr;
    p->ctl = ctl;
    p->cfg = pc;
    p->pool_count = pool_count;
    p->refs = 1;
    if (pc->transport.bandwidth_limit.bytes > 0 && strcmp(pc->transport.bandwidth_limit_mode, "server") == 0)
        p->limiter = ratelimit_new((uint64_t)pc->transport.bandwidth_limit.bytes);
    struct svr_proxy *old = svr_map_get(&svr->proxies, pc->name);
    if (old && svr_proxy_is_secret(old) && svr_proxy_is_secret(p)) {
        /* frp's visitor manager refuses the name before its proxy manager would */
        err_set(err, errlen, "custom listener for [%s] is repeated", pc->name);
        rc = CFRP_EINVAL;
    } else if (old) {
        err_set(err, errlen, "proxy [%s] already exists", pc->name);
        rc = CFRP_EINVAL;
    }
    if (rc == 0) rc = kind->run(p, remote_addr, cap, err, errlen);
    if (rc == 0 && svr_map_set(&svr->proxies, pc->name, p)) {
        kind->close(p);
        err_set(err, errlen, "out of memory");
        rc = UV_ENOMEM;
    }
    if (rc) {
        if (max_ports > 0) *ports_used -= kind->used_ports;
        proxy_destroy(p);
        return rc;
    }
    *out = p;
    return 0;
}

void svr_proxy_close(struct svr_proxy *p)
{
    if (p->closed) return;
    p->closed = true;
    log_info("[%s] [%s] proxy closing", p->run_id, p->cfg->name);
    p->kind->close(p);
    if (svr_map_get(&p->svr->proxies, p->cfg->name) == p) svr_map_del(&p->svr->proxies, p->cfg->name);
    p->ctl = NULL;
    svr_proxy_release(p);
}

/* ---- work connections (frp's GetWorkConnFromPool) ---- */

static void wc_next(struct svr_wc_task *t);

/* t->work is cleared by wc_abort when it closes the stream under the pending write:
 * then the stream is no longer ours to close (stream.h: close once) and a clean
 * shutdown is no reason to retry or to warn. */
static void wc_write_cb(stream *s, int status, void *arg)
{
    struct svr_wc_task *t = arg;
    if (!t->work) {
        t->done(t, NULL);
        return;
    }
    t->work = NULL;
    if (status < 0) {
        log_warn("[%s] [%s] failed to send message to work connection from pool: %s, times: %d",
                 t->p->run_id, t->p->cfg->name, svr_err_text(status), t->tries - 1);
        stream_close(s);
        wc_next(t);
        return;
    }
    t->done(t, s);
}

static void wc_got(struct svr_wc_task *t, stream *work)
{
    if (log_enabled(LOG_DEBUG)) { /* getpeername per work connection only when it is seen */
        char addr[SVR_ADDR_TEXT];
        svr_stream_peer(work, addr);
        log_debug("[%s] [%s] get a new work connection: [%s]", t->p->run_id, t->p->cfg->name,
                  addr);
    }
    msg m;
    msg_init(&m, MSG_START_WORK_CONN);
    m.u.start_work_conn.proxy_name = t->p->cfg->name;
    m.u.start_work_conn.src_addr = t->src_ip;
    m.u.start_work_conn.dst_addr = t->dst_ip;
    m.u.start_work_conn.src_port = t->src_port;
    m.u.start_work_conn.dst_port = t->dst_port;
    work->on_close = NULL;
    t->work = work;
    int rc = svr_send_msg(work, &m, wc_write_cb, t);
    if (rc) wc_write_cb(work, rc, t);
}

static void wc_req_cb(struct svr_wc_req *r, stream *work, int status)
{
    struct svr_wc_task *t = LIST_ITEM(r, struct svr_wc_task, req);
    t->waiting = false;
    if (!work) {
        log_warn("[%s] [%s] failed to get work connection: %s", t->p->run_id, t->p->cfg->name,
                 status == CFRP_ETIMEOUT ? "timeout trying to get work connection"
                                         : "control is closed");
        t->done(t, NULL);
        return;
    }
    wc_got(t, work);
}

static void wc_next(struct svr_wc_task *t)
{
    struct svr_proxy *p = t->p;
    if (t->tries >= p->pool_count + 1 || !p->ctl) {
        log_error("[%s] [%s] try to get work connection failed in the end", p->run_id, p->cfg->name);
        t->done(t, NULL);
        return;
    }
    t->tries++;
    stream *work = NULL;
    t->req.cb = wc_req_cb;
    list_init(&t->req.link);
    int rc = svr_control_get_work_conn(p->ctl, &t->req, &work);
    if (rc == 1) {
        t->waiting = true;
    } else if (rc == 0) {
        wc_got(t, work);
    } else {
        log_warn("[%s] [%s] failed to get work connection: control is closed", p->run_id,
                 p->cfg->name);
        t->done(t, NULL);
    }
}

void svr_wc_task_start(struct svr_wc_task *t)
{
    t->tries = 0;
    t->waiting = false;
    t->work = NULL;
    wc_next(t);
}

void svr_wc_task_cancel(struct svr_wc_task *t)
{
    if (t->waiting) svr_control_cancel_wait(&t->req);
    t->waiting = false;
}

/* Ends a task whose StartWorkConn write is pending: closes the work connection, whose
 * write callback then finishes the task with no connection. */
static void wc_abort(struct svr_wc_task *t)
{
    stream *work = t->work;
    t->work = NULL;
    stream_close(work);
}

int svr_proxy_layers(struct svr_proxy *p, stream *work, stream **out)
{
    uv_loop_t *loop = p->svr->loop;
    stream *s = work, *next;
    int rc = 0;
    if (p->cfg->transport.use_encryption) {
        rc = crypto_stream_new(loop, s, p->svr->token_key, NULL, 0, &next);
        if (rc) log_error("[%s] [%s] create encryption stream error: %s", p->run_id, p->cfg->name, err_str(rc));
        if (rc == 0) s = next;
    }
    if (rc == 0 && p->cfg->transport.use_compression) {
        rc = snappy_stream_new(loop, s, NULL, 0, &next);
        if (rc == 0) s = next;
    }
    if (rc == 0 && p->limiter) {
        rc = ratelimit_stream_new(loop, s, p->limiter, &next);
        if (rc == 0) s = next;
    }
    if (rc) {
        s->on_close = NULL;
        stream_close(s);
        return rc;
    }
    *out = s;
    return 0;
}

/* ---- user byte streams ---- */

/* A user connection from getting its work connection to the end of the join. */
struct svr_userconn {
    struct list_link link; /* in svr->userconns */
    struct svr_wc_task task;
    stream *user;         /* owned until the join takes it */
    join *j;              /* while joined */
};

static void uc_free(struct svr_userconn *uc)
{
    list_del(&uc->link);
    svr_proxy_release(uc->task.p);
    free(uc);
}

static void uc_join_done(const struct join_result *res, void *arg)
{
    struct svr_userconn *uc = arg;
    struct svr_proxy *p = uc->task.p;
    log_debug("[%s] [%s] join connections closed", p->run_id, p->cfg->name);
    uc_free(uc);
}

static void uc_got_work(struct svr_wc_task *t, stream *work)
{
    struct svr_userconn *uc = LIST_ITEM(t, struct svr_userconn, task);
    struct svr_proxy *p = t->p;
    stream *user = uc->user;
    uc->user = NULL;
    if (!work) {
        stream_close(user);
        uc_free(uc);
        return;
    }
    char wl[SVR_ADDR_TEXT], wr[SVR_ADDR_TEXT], ul[SVR_ADDR_TEXT], ur[SVR_ADDR_TEXT];
    svr_stream_local(work, wl);
    svr_stream_peer(work, wr);
    svr_stream_local(user, ul);
    svr_stream_peer(user, ur);
    stream *local;
    if (svr_proxy_layers(p, work, &local)) {
        stream_close(user);
        uc_free(uc);
        return;
    }
    log_debug("[%s] [%s] join connections, workConn(l[%s] r[%s]) userConn(l[%s] r[%s])", p->run_id,
              p->cfg->name, wl, wr, ul, ur);
    struct join_options jo = {.high_water = 0, .half_close = false};
    if (stream_join(local, user, &jo, uc_join_done, uc, &uc->j)) {
        stream_close(local);
        stream_close(user);
        uc_free(uc);
    }
}

void svr_proxy_handle_user_stream(struct svr_proxy *p, stream *user)
{
    svr_proxy_handle_user_stream_at(p, user, user);
}

void svr_proxy_handle_user_stream_at(struct svr_proxy *p, stream *user, const stream *addrs)
{
    struct svr_userconn *uc = calloc(1, sizeof *uc);
    if (!uc) {
        stream_close(user);
        return;
    }
    user->on_close = NULL;
    uc->user = user;
    svr_proxy_retain(p);
    uc->task.p = p;
    uc->task.done = uc_got_work;
    struct sockaddr_storage ss;
    if (addrs->ops->peer_addr && addrs->ops->peer_addr(addrs, &ss) == 0)
        svr_sockaddr_ip((struct sockaddr *)&ss, uc->task.src_ip, &uc->task.src_port);
    if (addrs->ops->local_addr && addrs->ops->local_addr(addrs, &ss) == 0)
        svr_sockaddr_ip((struct sockaddr *)&ss, uc->task.dst_ip, &uc->task.dst_port);
    list_push(&p->svr->userconns, &uc->link);
    svr_wc_task_start(&uc->task);
}

void svr_userconn_stop_all(struct server *svr)
{
    struct list_link *l = svr->userconns.next;
    while (l != &svr->userconns) {
        struct svr_userconn *uc = LIST_ITEM(l, struct svr_userconn, link);
        l = l->next;
        if (uc->j) {
            join_abort(uc->j);
        } else if (uc->task.work) {
            wc_abort(&uc->task);
        } else if (uc->task.waiting) {
            svr_wc_task_cancel(&uc->task);
            uc_got_work(&uc->task, NULL);
        }
    }
}
