/* frpc's stcp and sudp visitors (protocol.md 6.6, 6.7; frp's client/visitor): per
 * [[visitors]] entry a local TCP listener (stcp) or UDP socket (sudp) on
 * bindAddr:bindPort. Each stcp user connection, and for sudp one connection at a time,
 * gets a new frp connection to frps carrying NewVisitorConn; after a NewVisitorConnResp
 * without error the secret-key layers go on and the bytes are joined with the user
 * (stcp) or carry UDPPacket frames for the local UDP peers (sudp).
 *
 * Ownership: struct cvisitors is heap memory holding one session reference; it and each
 * struct cvis are freed once closed and every handle and connection of theirs is gone.
 * struct cvconn is heap memory in its visitor's conns list until it ends; it is freed
 * when its timer, its frp connection (or the join that took it) and its dial are gone. */
#include <netdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "base/err.h"
#include "base/log.h"
#include "client/client_internal.h"
#include "net/join.h"
#include "net/tcp.h"
#include "proto/auth.h"
#include "proto/crypto_stream.h"
#include "proto/msg_io.h"
#include "proto/snappy_stream.h"
#include "proto/udp_packet.h"

#define CVIS_RESP_TIMEOUT_MS 10000 /* NewVisitorConnResp */
#define CVIS_RETRY_MS 10000        /* frp's visitor manager check interval */
#define CVIS_UDP_READ_MS 60000     /* sudp: a frame (UDPPacket or Ping) at least this often */
#define CVIS_UDP_QUEUE 1024        /* sudp: datagrams waiting for the visitor connection */
#define CVIS_UDP_MAX_QUEUED (1024u * 1024u) /* sudp: datagrams dropped above this */

struct cvisitors {
    struct csess *sess; /* one reference */
    int open;           /* 1 until closed, plus one per visitor not yet freed */
    struct cvis **v;    /* every visitor (NULL slots on ENOMEM); owned */
    size_t n;
    uv_timer_t retry; /* every 10 s: starts the visitors that failed to start */
};

struct cvconn;

/* One visitor. */
struct cvis {
    struct cvisitors *vs;
    const struct cfg_visitor *cfg; /* in the service's config */
    uv_loop_t *loop;
    uint8_t key[CRYPTO_KEY_LEN]; /* PBKDF2 of secretKey */
    char prefix[192];            /* "[<run id>] [<name>] " */
    int open;                    /* 1 until closed, the udp handle, each connection */
    bool running;                /* started (listening) */
    bool closing;
    struct list_link conns; /* struct cvconn */
    tcp_listener *l;        /* stcp with bindPort > 0 */
    /* sudp */
    uv_udp_t *udp;      /* owned; freed by its close callback */
    struct cvconn *cur; /* the visitor connection, or NULL */
    char *buf;          /* udpPacketSize bytes; owned */
    size_t buf_len;
    char dec[MSG_MAX_BODY]; /* a decoded datagram */
};

/* One visitor connection. */
struct cvconn {
    struct list_link link; /* in v->conns until it ends */
    struct cvis *v;
    struct carrier_req *dial; /* without tcpMux, while the carrier is dialed */
    stream *st;               /* the frp connection (layered once ready) while ours */
    msg_reader *rd;           /* owned */
    uv_timer_t timer;         /* the answer's deadline; sudp: the read deadline */
    stream *user;             /* stcp: the user connection until joined */
    join *j;                  /* stcp: while joined */
    bool ready, closing, timer_closed;
    buf_ref queue[CVIS_UDP_QUEUE]; /* sudp: UDPPacket frames before ready */
    size_t nqueue;
};

static bool cvis_sudp(const struct cvis *v)
{
    return v->cfg->type_id == CFG_VISITOR_SUDP;
}

static void cvisitors_unopen(struct cvisitors *vs)
{
    if (--vs->open > 0) return;
    struct csess *s = vs->sess;
    free(vs->v);
    free(vs);
    csess_unref(s);
}

static void cvis_unopen(struct cvis *v)
{
    if (--v->open > 0) return;
    struct cvisitors *vs = v->vs;
    free(v->buf);
    free(v);
    cvisitors_unopen(vs);
}

/* ---- visitor connections ---- */

static void cvconn_maybe_free(struct cvconn *c)
{
    if (!c->closing || !c->timer_closed || c->st || c->j || c->dial) return;
    struct cvis *v = c->v;
    for (size_t i = 0; i < c->nqueue; i++)
        buf_ref_release(&c->queue[i]);
    free(c->rd);
    free(c);
    cvis_unopen(v);
}

static void cvconn_timer_closed(uv_handle_t *h)
{
    struct cvconn *c = h->data;
    c->timer_closed = true;
    cvconn_maybe_free(c);
}

static void cvconn_st_closed(stream *st)
{
    struct cvconn *c = st->data;
    c->st = NULL;
    cvconn_maybe_free(c);
}

/* Ends c: closes what it holds; it frees itself once everything is closed. */
static void cvconn_end(struct cvconn *c)
{
    if (c->closing) return;
    c->closing = true;
    struct cvis *v = c->v;
    list_del(&c->link);
    if (v->cur == c) {
        v->cur = NULL;
        if (c->ready) log_info("%ssudp worker is closed", v->prefix);
    }
    if (c->dial) {
        carrier_cancel(c->dial);
        c->dial = NULL;
    }
    if (c->j) {
        join_abort(c->j);
    } else {
        if (c->user) stream_close(c->user);
        c->user = NULL;
        if (c->st) stream_close(c->st);
    }
    uv_close((uv_handle_t *)&c->timer, cvconn_timer_closed);
}

/* Logs why the connection could not be made, in frp's words per kind. */
static void cvconn_fail(struct cvconn *c, const char *what, const char *why)
{
    struct cvis *v = c->v;
    if (cvis_sudp(v))
        log_warn("%snewVisitorConn to frps error: %s%s, try to reconnect", v->prefix, what, why);
    else
        log_warn("%s%s%s", v->prefix, what, why);
    cvconn_end(c);
}

static void cvconn_joined(const struct join_result *res, void *arg)
{
    (void)res;
    struct cvconn *c = arg;
    c->j = NULL;
    if (c->closing)
        cvconn_maybe_free(c);
    else
        cvconn_end(c);
}

static void cvconn_timeout(uv_timer_t *t)
{
    struct cvconn *c = t->data;
    if (!c->ready)
        cvconn_fail(c,
                    cvis_sudp(c->v) ? "read newVisitorConnRespMsg error: "
                                    : "get newVisitorConnRespMsg error: ",
                    "i/o timeout");
    else {
        log_warn("%sread from workconn for user udp conn error: i/o timeout", c->v->prefix);
        cvconn_end(c);
    }
}

/* sudp: a frame from the frp connection. */
static void cvudp_msg(struct cvconn *c, const msg *m)
{
    struct cvis *v = c->v;
    if (m->type == MSG_PING) {
        log_debug("%sfrpc visitor get ping message from frpc", v->prefix);
        return;
    }
    if (m->type != MSG_UDP_PACKET) return;
    const msg_udp_packet *pk = &m->u.udp_packet;
    size_t n = 0;
    struct sockaddr_storage ss;
    if (!pk->content || udp_base64_decode(pk->content, v->dec, sizeof v->dec, &n) != 0) return;
    if (udp_packet_sockaddr(&pk->raddr, &ss) != 0) return;
    log_trace("%sfrpc visitor get udp packet from workConn, len: %zu", v->prefix, n);
    uv_buf_t b = uv_buf_init(v->dec, (unsigned)n);
    (void)uv_udp_try_send(v->udp, &b, 1, (const struct sockaddr *)&ss);
}

/* sudp: feeds bytes of the frp connection; false when it must end. */
static bool cvudp_feed(struct cvconn *c, const char *p, size_t left)
{
    while (left > 0 && !c->closing) {
        size_t used = 0;
        msg m;
        char err[256] = "";
        int rc = msg_reader_feed(c->rd, p, left, &used, &m, err, sizeof err);
        p += used;
        left -= used;
        if (rc < 0) {
            log_warn("%sread from workconn for user udp conn error: %s", c->v->prefix, err);
            return false;
        }
        if (rc == 0) break;
        uv_timer_start(&c->timer, cvconn_timeout, CVIS_UDP_READ_MS, 0);
        cvudp_msg(c, &m);
        msg_clear(&m);
    }
    return true;
}

static void cvudp_read(stream *st, ssize_t nread, buf_ref data)
{
    struct cvconn *c = st->data;
    if (nread < 0) {
        buf_ref_release(&data);
        log_warn("%sread from workconn for user udp conn error: %s", c->v->prefix,
                 nread == UV_EOF ? "EOF" : err_str((int)nread));
        cvconn_end(c);
        return;
    }
    if (!cvudp_feed(c, data.base, data.len)) cvconn_end(c);
    buf_ref_release(&data);
}

/* sudp: sends one UDPPacket frame (taken over) now or after the answer. */
static void cvudp_send(struct cvconn *c, buf_ref frame)
{
    if (!c->ready) {
        if (c->nqueue < CVIS_UDP_QUEUE)
            c->queue[c->nqueue++] = frame;
        else
            buf_ref_release(&frame);
        return;
    }
    if (stream_queued(c->st) > CVIS_UDP_MAX_QUEUED) {
        buf_ref_release(&frame);
        return;
    }
    int rc = stream_write(c->st, &frame, 1, NULL, NULL);
    if (rc < 0) {
        log_warn("%ssender goroutine for udp work connection closed: %s", c->v->prefix,
                 err_str(rc));
        cvconn_end(c);
    }
}

/* The answer was fine: the layers of protocol.md 5.1 (secret key) on c->st, head being
 * the bytes read after the answer. Returns 0, or a negative code (c->st is closed). */
static int cvconn_layers(struct cvconn *c, const void *head, size_t head_len, bool *used_head)
{
    struct cvis *v = c->v;
    stream *cur = c->st, *nx;
    int rc = 0;
    *used_head = false;
    if (v->cfg->transport.use_encryption) {
        rc = crypto_stream_new(v->loop, cur, v->key, head, head_len, &nx);
        if (rc < 0) log_error("%screate encryption stream error: %s", v->prefix, err_str(rc));
        if (rc == 0) {
            cur = nx;
            *used_head = true;
        }
    }
    if (rc == 0 && v->cfg->transport.use_compression) {
        rc = snappy_stream_new(v->loop, cur, *used_head ? NULL : head, *used_head ? 0 : head_len,
                               &nx);
        if (rc == 0) {
            cur = nx;
            *used_head = true;
        }
    }
    cur->data = c;
    cur->on_close = cvconn_st_closed;
    c->st = cur;
    if (rc < 0) stream_close(cur);
    return rc;
}

static void cvconn_ready(struct cvconn *c, const char *head, size_t head_len)
{
    struct cvis *v = c->v;
    bool used = false;
    if (cvconn_layers(c, head, head_len, &used) < 0) {
        cvconn_end(c);
        return;
    }
    c->ready = true;
    if (cvis_sudp(v)) {
        log_debug("%sstarting sudp proxy worker", v->prefix);
        msg_reader_init(c->rd);
        uv_timer_start(&c->timer, cvconn_timeout, CVIS_UDP_READ_MS, 0);
        size_t n = c->nqueue;
        c->nqueue = 0;
        for (size_t i = 0; i < n; i++) {
            if (c->closing)
                buf_ref_release(&c->queue[i]);
            else
                cvudp_send(c, c->queue[i]);
        }
        if (!c->closing && !used && head_len && !cvudp_feed(c, head, head_len)) cvconn_end(c);
        if (!c->closing && stream_read_start(c->st, cvudp_read) < 0) cvconn_end(c);
        return;
    }
    stream *user = c->user, *remote = c->st;
    int rc = 0;
    if (!used && head_len) rc = stream_write_copy(user, head, head_len, NULL, NULL);
    struct join_options jo = {.high_water = 0, .half_close = false};
    if (rc == 0) rc = stream_join(user, remote, &jo, cvconn_joined, c, &c->j);
    if (rc < 0) {
        cvconn_end(c);
        return;
    }
    c->user = NULL;
    c->st = NULL; /* the join's now */
}

/* Reads the NewVisitorConnResp. */
static void cvconn_resp_read(stream *st, ssize_t nread, buf_ref data)
{
    struct cvconn *c = st->data;
    const char *what = cvis_sudp(c->v) ? "read newVisitorConnRespMsg error: "
                                       : "get newVisitorConnRespMsg error: ";
    if (nread < 0) {
        buf_ref_release(&data);
        cvconn_fail(c, what, nread == UV_EOF ? "EOF" : err_str((int)nread));
        return;
    }
    size_t used = 0;
    msg m;
    char err[256] = "";
    int rc = msg_reader_feed(c->rd, data.base, data.len, &used, &m, err, sizeof err);
    if (rc == 0) {
        buf_ref_release(&data);
        return;
    }
    if (rc < 0) {
        buf_ref_release(&data);
        cvconn_fail(c, what, err);
        return;
    }
    stream_read_stop(st);
    uv_timer_stop(&c->timer);
    const char *e = m.u.new_visitor_conn_resp.error;
    if (e && *e) {
        cvconn_fail(c, "start new visitor connection error: ", e);
    } else {
        cvconn_ready(c, data.base + used, data.len - used);
    }
    msg_clear(&m);
    buf_ref_release(&data);
}

/* The frp connection is open: NewVisitorConn, then wait for the answer. */
static void cvconn_go(struct cvconn *c, stream *st)
{
    struct cvis *v = c->v;
    c->st = st;
    st->data = c;
    st->on_close = cvconn_st_closed;
    msg m;
    msg_init(&m, MSG_NEW_VISITOR_CONN);
    char key[AUTH_KEY_HEX];
    int64_t now = (int64_t)time(NULL);
    auth_key(v->cfg->secret_key, now, key);
    m.u.new_visitor_conn.run_id = csess_svc(v->vs->sess)->run_id;
    m.u.new_visitor_conn.proxy_name = v->cfg->server_name;
    m.u.new_visitor_conn.sign_key = key;
    m.u.new_visitor_conn.timestamp = now;
    m.u.new_visitor_conn.use_encryption = v->cfg->transport.use_encryption;
    m.u.new_visitor_conn.use_compression = v->cfg->transport.use_compression;
    int rc = msg_send(st, &m, NULL, NULL);
    if (rc < 0) {
        cvconn_fail(c, "send newVisitorConnMsg to server error: ", err_str(rc));
        return;
    }
    msg_reader_expect(c->rd, MSG_NEW_VISITOR_CONN_RESP);
    uv_timer_start(&c->timer, cvconn_timeout, CVIS_RESP_TIMEOUT_MS, 0);
    rc = stream_read_start(st, cvconn_resp_read);
    if (rc < 0) cvconn_fail(c, "get newVisitorConnRespMsg error: ", err_str(rc));
}

static void cvconn_dialed(stream *car, int status, const char *err, void *arg)
{
    struct cvconn *c = arg;
    c->dial = NULL;
    if (status < 0) {
        cvconn_fail(c, "connect to server error: ", err);
        return;
    }
    cvconn_go(c, car);
}

/* A new visitor connection; user is the stcp user connection (taken over) or NULL for
 * sudp. NULL on ENOMEM (user is then closed). */
static struct cvconn *cvconn_start(struct cvis *v, stream *user)
{
    struct cvconn *c = calloc(1, sizeof *c);
    msg_reader *rd = malloc(sizeof *rd);
    if (!c || !rd) {
        free(c);
        free(rd);
        if (user) stream_close(user);
        return NULL;
    }
    msg_reader_init(rd);
    c->rd = rd;
    c->v = v;
    c->user = user;
    v->open++;
    list_push(&v->conns, &c->link);
    uv_timer_init(v->loop, &c->timer);
    c->timer.data = c;
    if (cvis_sudp(v)) v->cur = c;
    stream *st = NULL;
    int rc = csess_open_conn(v->vs->sess, &st, cvconn_dialed, c, &c->dial);
    if (rc == 0)
        cvconn_go(c, st);
    else if (rc < 0)
        cvconn_fail(c, "connect to server error: ", err_str(rc));
    return c;
}

/* ---- stcp ---- */

static void cvstcp_accept(tcp_listener *l, stream *s, void *arg)
{
    (void)l;
    struct cvis *v = arg;
    log_debug("%sget a new stcp user connection", v->prefix);
    s->on_close = NULL;
    cvconn_start(v, s);
}

/* ---- sudp ---- */

static void cvsudp_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *b)
{
    (void)suggested;
    struct cvis *v = h->data;
    b->base = v->buf;
    b->len = v->buf_len;
}

static void cvsudp_recv(uv_udp_t *h, ssize_t nread, const uv_buf_t *b, const struct sockaddr *addr,
                        unsigned flags)
{
    (void)flags;
    struct cvis *v = h->data;
    if (nread < 0 || !addr || v->closing) return;
    msg m;
    if (udp_packet_build(&m, b->base, (size_t)nread, addr) != 0) return;
    char frame[MSG_FRAME_MAX];
    size_t len = 0;
    int rc = msg_frame_encode(&m, frame, sizeof frame, &len);
    msg_clear(&m);
    if (rc) return;
    buf_ref ref = buf_ref_copy(frame, len);
    if (!ref.base) return;
    struct cvconn *c = v->cur ? v->cur : cvconn_start(v, NULL);
    if (!c || c->closing) {
        buf_ref_release(&ref);
        return;
    }
    cvudp_send(c, ref);
}

static void cvsudp_closed(uv_handle_t *h)
{
    struct cvis *v = h->data;
    free(h);
    cvis_unopen(v);
}

static void cvsudp_close(struct cvis *v)
{
    uv_close((uv_handle_t *)v->udp, cvsudp_closed);
    v->udp = NULL;
}

/* Resolves bindAddr:bindPort for the sudp socket. 0 or a negative code with Go's text. */
static int cvsudp_addr(const struct cfg_visitor *cfg, struct sockaddr_storage *ss, char *err,
                       size_t errlen)
{
    const char *host = cfg->bind_addr && *cfg->bind_addr ? cfg->bind_addr : "0.0.0.0";
    char hp[300];
    tcp_join_host_port(hp, sizeof hp, host, (int)cfg->bind_port);
    if (cfg->bind_port < 0 || cfg->bind_port > 65535) {
        err_set(err, errlen, "sudp ResolveUDPAddr error: address %s: invalid port", hp);
        return CFRP_EINVAL;
    }
    struct addrinfo hints = {.ai_family = AF_UNSPEC, .ai_socktype = SOCK_DGRAM}, *res = NULL;
    if (getaddrinfo(host, NULL, &hints, &res) != 0 || !res) {
        err_set(err, errlen, "sudp ResolveUDPAddr error: lookup %s: no such host", host);
        return CFRP_ENOTFOUND;
    }
    memset(ss, 0, sizeof *ss);
    memcpy(ss, res->ai_addr, res->ai_addrlen);
    freeaddrinfo(res);
    if (ss->ss_family == AF_INET)
        ((struct sockaddr_in *)ss)->sin_port = htons((uint16_t)cfg->bind_port);
    else
        ((struct sockaddr_in6 *)ss)->sin6_port = htons((uint16_t)cfg->bind_port);
    return 0;
}

/* ---- visitors ---- */

static int cvis_run(struct cvis *v, char *err, size_t errlen)
{
    const struct cfg_visitor *cfg = v->cfg;
    if (cfg->type_id == CFG_VISITOR_STCP) {
        if (cfg->bind_port <= 0) return 0;
        return tcp_listen(v->loop, cfg->bind_addr, (int)cfg->bind_port, 0, NULL, cvstcp_accept, v,
                          &v->l, err, errlen);
    }
    if (cfg->type_id != CFG_VISITOR_SUDP) {
        err_set(err, errlen, "visitor type %s is not supported by this build", cfg->type);
        return CFRP_EINVAL;
    }
    struct sockaddr_storage ss;
    int rc = cvsudp_addr(cfg, &ss, err, errlen);
    if (rc) return rc;
    char addr[128];
    tcp_format_addr(addr, sizeof addr, (struct sockaddr *)&ss);
    if (!v->buf) {
        int64_t sz = csess_svc(v->vs->sess)->cfg->udp_packet_size;
        v->buf_len = sz > 0 && sz <= 65535 ? (size_t)sz : 1500;
        v->buf = malloc(v->buf_len);
        if (!v->buf) return UV_ENOMEM;
    }
    v->udp = malloc(sizeof *v->udp);
    if (!v->udp) return UV_ENOMEM;
    rc = uv_udp_init(v->loop, v->udp);
    if (rc) {
        free(v->udp);
        v->udp = NULL;
        return rc;
    }
    v->udp->data = v;
    v->open++;
    rc = uv_udp_bind(v->udp, (struct sockaddr *)&ss, 0);
    if (rc == 0) rc = uv_udp_recv_start(v->udp, cvsudp_alloc, cvsudp_recv);
    if (rc) {
        char e[128];
        tcp_strerror(rc, e, sizeof e);
        err_set(err, errlen, "listen udp port %s error: listen udp %s: bind: %s", addr, addr, e);
        cvsudp_close(v);
        return rc;
    }
    log_info("%ssudp start to work, listen on %s", v->prefix, addr);
    return 0;
}

/* Starts v (frp's startVisitor) and logs the outcome. */
static void cvis_start(struct cvis *v)
{
    const char *pre = csess_svc(v->vs->sess)->prefix;
    char err[512] = "";
    int rc = cvis_run(v, err, sizeof err);
    if (rc) {
        log_warn("%sstart error: %s", pre, err[0] ? err : err_str(rc));
        return;
    }
    v->running = true;
    log_info("%sstart visitor success", pre);
}

static bool cvis_supported(const struct cvis *v)
{
    return v->cfg->type_id == CFG_VISITOR_STCP || v->cfg->type_id == CFG_VISITOR_SUDP;
}

static void cvis_close(struct cvis *v)
{
    if (v->closing) return;
    v->closing = true;
    if (v->l) {
        tcp_listener_close(v->l);
        v->l = NULL;
        log_warn("%sstcp local listener closed", v->prefix);
    }
    while (!list_empty(&v->conns))
        cvconn_end(LIST_ITEM(v->conns.next, struct cvconn, link));
    if (v->udp) {
        log_info("%sfrpc sudp visitor proxy is closed", v->prefix);
        cvsudp_close(v);
    }
    cvis_unopen(v);
}

static void cvisitors_retry_cb(uv_timer_t *t)
{
    struct cvisitors *vs = t->data;
    const char *pre = csess_svc(vs->sess)->prefix;
    for (size_t i = 0; i < vs->n; i++) {
        struct cvis *v = vs->v[i];
        if (!v || v->running || !cvis_supported(v)) continue;
        log_info("%stry to start visitor [%s]", pre, v->cfg->name);
        cvis_start(v);
    }
}

static void cvisitors_timer_closed(uv_handle_t *h)
{
    cvisitors_unopen(h->data);
}

struct cvisitors *cvisitors_start(struct csess *s)
{
    struct csvc *svc = csess_svc(s);
    const struct frpc_config *cfg = svc->cfg;
    if (cfg->visitors.n == 0) return NULL;
    struct cvisitors *vs = calloc(1, sizeof *vs);
    struct cvis **list = calloc(cfg->visitors.n, sizeof *list);
    if (!vs || !list) {
        free(vs);
        free(list);
        return NULL;
    }
    vs->sess = s;
    csess_ref(s);
    vs->open = 1;
    vs->v = list;
    vs->n = cfg->visitors.n;
    char names[4096];
    size_t off = 0;
    names[0] = '\0';
    for (size_t i = 0; i < cfg->visitors.n; i++) {
        const struct cfg_visitor *vc = &cfg->visitors.items[i];
        int n = snprintf(names + off, sizeof names - off, "%s%s", off ? " " : "", vc->name);
        if (n > 0 && (size_t)n < sizeof names - off) off += (size_t)n;
        struct cvis *v = calloc(1, sizeof *v);
        if (!v) continue;
        v->vs = vs;
        v->cfg = vc;
        v->loop = svc->loop;
        v->open = 1;
        list_init(&v->conns);
        snprintf(v->prefix, sizeof v->prefix, "%s[%s] ", svc->prefix, vc->name);
        const char *sk = vc->secret_key ? vc->secret_key : "";
        vs->open++;
        list[i] = v;
        if (crypto_derive_key(sk, strlen(sk), v->key) == 0) cvis_start(v);
    }
    log_info("%svisitor added: [%s]", svc->prefix, names);
    uv_timer_init(svc->loop, &vs->retry);
    vs->retry.data = vs;
    vs->open++;
    uv_timer_start(&vs->retry, cvisitors_retry_cb, CVIS_RETRY_MS, CVIS_RETRY_MS);
    return vs;
}

void cvisitors_close(struct cvisitors *vs)
{
    for (size_t i = 0; i < vs->n; i++)
        if (vs->v[i]) cvis_close(vs->v[i]);
    uv_close((uv_handle_t *)&vs->retry, cvisitors_timer_closed);
    cvisitors_unopen(vs);
}
