/* frps's visitor manager (protocol.md 6.6, 6.7, 9.2; frp's server/visitor and
 * RegisterVisitorConn): a frp connection that starts with NewVisitorConn is matched to a
 * registered stcp/sudp proxy by name, checked (run id, sign key, allowUsers), answered
 * with NewVisitorConnResp in clear, wrapped in the visitor's layers keyed with the
 * proxy's secret key and then served like a tcp user connection of that proxy. */
#include <stdio.h>
#include <string.h>

#include "base/err.h"
#include "base/log.h"
#include "config/client_config.h"
#include "proto/auth.h"
#include "proto/crypto_stream.h"
#include "proto/snappy_stream.h"
#include "server/svr_internal.h"

int svr_visitor_auth(const char *name, const char *sk, const struct cfg_strlist *allow,
                     const char *owner, int64_t timestamp, const char *sign_key, const char *user,
                     char *err, size_t errlen)
{
    if (!auth_key_verify(sk ? sk : "", timestamp, sign_key ? sign_key : "")) {
        err_set(err, errlen, "visitor connection of [%s] auth failed", name);
        return CFRP_EINVAL;
    }
    bool ok = allow->n ? cfg_strlist_contains(allow, user) || cfg_strlist_contains(allow, "*")
                       : strcmp(owner, user) == 0;
    if (!ok) {
        err_set(err, errlen, "visitor connection of [%s] user [%s] not allowed", name, user);
        return CFRP_EINVAL;
    }
    return 0;
}

/* Finds and checks the proxy of v: 0 with *out, or CFRP_EINVAL with frp's text. */
static int vis_find(struct server *svr, const msg_new_visitor_conn *v, struct svr_proxy **out,
                    char *err, size_t errlen)
{
    const char *name = v->proxy_name ? v->proxy_name : "";
    const char *user = "";
    if (v->run_id && *v->run_id) { /* empty: a visitor older than frp 0.50, user "" */
        struct svr_control *ctl = svr_map_get(&svr->controls, v->run_id);
        if (!ctl) {
            err_set(err, errlen, "no client control found for run id [%s]", v->run_id);
            return CFRP_EINVAL;
        }
        user = svr_control_user(ctl);
    }
    struct svr_proxy *p = svr_map_get(&svr->proxies, name);
    if (!p || !svr_proxy_is_secret(p) || !p->ctl) {
        err_set(err, errlen, "custom listener for [%s] doesn't exist", name);
        return CFRP_EINVAL;
    }
    int rc =
        svr_visitor_auth(name, p->cfg->secret_key, &p->cfg->allow_users, svr_control_user(p->ctl),
                         v->timestamp, v->sign_key, user, err, errlen);
    if (rc == 0) *out = p;
    return rc;
}

static void vis_close_after_write(stream *s, int status, void *arg)
{
    (void)status;
    (void)arg;
    stream_close(s);
}

/* The visitor's layers (protocol.md 5.1: secret key) on s. Returns 0 with *out owning s,
 * or a negative code (s is closed). */
static int vis_layers(struct server *svr, struct svr_proxy *p, const msg_new_visitor_conn *v,
                      stream *s, stream **out)
{
    stream *next;
    int rc = 0;
    if (v->use_encryption) {
        uint8_t key[CRYPTO_KEY_LEN];
        const char *sk = p->cfg->secret_key ? p->cfg->secret_key : "";
        rc = crypto_derive_key(sk, strlen(sk), key);
        if (rc == 0) rc = crypto_stream_new(svr->loop, s, key, NULL, 0, &next);
        if (rc == 0) s = next;
    }
    if (rc == 0 && v->use_compression) {
        rc = snappy_stream_new(svr->loop, s, NULL, 0, &next);
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

void svr_visitor_conn(struct server *svr, stream *s, buf_ref head, msg *m)
{
    msg_new_visitor_conn *v = &m->u.new_visitor_conn;
    char name[512];
    snprintf(name, sizeof name, "%s", v->proxy_name ? v->proxy_name : "");
    char err[1024] = "";
    struct svr_proxy *p = NULL;
    msg resp;
    msg_init(&resp, MSG_NEW_VISITOR_CONN_RESP);
    resp.u.new_visitor_conn_resp.proxy_name = name;
    s->on_close = NULL;
    if (vis_find(svr, v, &p, err, sizeof err)) {
        log_warn("register visitor conn error: %s", err);
        resp.u.new_visitor_conn_resp.error =
            svr->detailed_errors ? err : "register visitor conn error";
        buf_ref_release(&head);
        msg_clear(m);
        if (svr_send_msg(s, &resp, vis_close_after_write, NULL)) stream_close(s);
        return;
    }
    /* The answer goes out in clear before anything the layers write. */
    if (svr_send_msg(s, &resp, NULL, NULL)) {
        buf_ref_release(&head);
        msg_clear(m);
        stream_close(s);
        return;
    }
    if (head.len > 0) {
        if (prefix_stream_new(svr->loop, s, head, &s)) {
            msg_clear(m);
            stream_close(s);
            return;
        }
    } else {
        buf_ref_release(&head);
    }
    stream *raw = s, *user;
    int rc = vis_layers(svr, p, v, s, &user);
    msg_clear(m);
    if (rc) return;
    char addr[SVR_ADDR_TEXT];
    svr_stream_peer(raw, addr);
    log_info("[%s] [%s] get a user connection [%s]", p->run_id, p->cfg->name, addr);
    svr_proxy_handle_user_stream_at(p, user, raw);
}
