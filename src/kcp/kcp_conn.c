/* KCP sessions over libuv UDP sockets, exposed as streams (see kcp_conn.h).
 *
 * Each session (kcp_sess, one allocation holding the kcp_core, FEC encoder and decoder)
 * has a repeating 20 ms timer that pushes queued writes into KCP, runs kcp_core_update
 * (which flushes every interval), completes writes and delivers received bytes. Work
 * that must not happen inside a stream call (write completions, reads after read_start)
 * is done by restarting that timer with timeout 0. A dialing session also owns its UDP
 * handle; an accepted one sends through its listener's socket and is linked in the
 * listener's hash table by peer address until it is closed. */
#include "kcp/kcp_conn.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>

#include "base/err.h"
#include "base/list.h"
#include "kcp/kcp_core.h"
#include "kcp/kcp_fec.h"

#define KCP_DIAL_SND_WND 128
#define KCP_DIAL_RCV_WND 512
#define KCP_LISTEN_WND 1024
#define KCP_LISTEN_BUCKETS 256
#define KCP_RECV_BUF 2048 /* larger datagrams are truncated by the kernel and dropped */

typedef struct kcp_wreq {
    struct list_link link;
    stream_write_cb cb;
    void *arg;
    size_t n, i; /* bufs[i..n) still to hand to KCP */
    buf_ref bufs[];
} kcp_wreq;

typedef struct kcp_sess {
    stream base;
    uv_loop_t *loop;
    uv_timer_t timer;
    uv_udp_t own_udp;        /* dialing sessions only */
    uv_udp_t *udp;           /* &own_udp or the listener's socket; NULL once detached */
    kcp_listener *lis;       /* accepting listener while linked in its table */
    struct list_link bucket; /* in lis->buckets */
    struct sockaddr_storage peer;
    kcp_core kcp;
    struct list_link wq;   /* kcp_wreq not yet fully in KCP, owned */
    struct list_link done; /* kcp_wreq whose callback is due, owned */
    size_t wq_bytes;
    int handles;    /* open uv handles; freed when it drops to 0 after close */
    int read_error; /* delivered to the reader once, then reading stops */
    bool reading, closing;
    kcp_fec_decoder dec;
    kcp_fec_encoder enc;
    uint8_t rbuf[KCP_RECV_BUF]; /* dialing sessions' receive buffer */
} kcp_sess;

struct kcp_listener {
    uv_udp_t udp;
    uv_loop_t *loop;
    kcp_accept_cb cb;
    void *arg;
    struct kcp_options opts;
    struct list_link buckets[KCP_LISTEN_BUCKETS];
    size_t nsess;
    bool closed;
    uint8_t rbuf[KCP_RECV_BUF];
};

static void listener_maybe_free(kcp_listener *l);

/* ---- addresses ---- */

static bool addr_equal(const struct sockaddr_storage *a, const struct sockaddr *b)
{
    if (a->ss_family != b->sa_family) return false;
    if (b->sa_family == AF_INET) {
        const struct sockaddr_in *x = (const void *)a, *y = (const void *)b;
        return x->sin_port == y->sin_port && x->sin_addr.s_addr == y->sin_addr.s_addr;
    }
    if (b->sa_family == AF_INET6) {
        const struct sockaddr_in6 *x = (const void *)a, *y = (const void *)b;
        return x->sin6_port == y->sin6_port &&
               !memcmp(&x->sin6_addr, &y->sin6_addr, sizeof x->sin6_addr);
    }
    return false;
}

static size_t addr_len(const struct sockaddr *a)
{
    return a->sa_family == AF_INET6 ? sizeof(struct sockaddr_in6) : sizeof(struct sockaddr_in);
}

static unsigned addr_hash(const struct sockaddr *a)
{
    const uint8_t *p = (const uint8_t *)a;
    size_t n = addr_len(a);
    unsigned h = 2166136261u;
    for (size_t i = 0; i < n; i++)
        h = (h ^ p[i]) * 16777619u;
    return h % KCP_LISTEN_BUCKETS;
}

/* ---- sending ---- */

static void sess_output(uint8_t *buf, size_t len, void *arg)
{
    kcp_sess *s = arg;
    if (!s->udp) return; /* detached: the listener replaced or dropped us */
    size_t plen = 0;
    int np = kcp_fec_encode(&s->enc, buf, len, uv_now(s->loop), &plen);
    if (np < 0) return; /* cannot happen: KCP's packets are at most 8 + 1350 bytes */
    uv_buf_t b = uv_buf_init((char *)buf, (unsigned)len);
    const struct sockaddr *to = (const struct sockaddr *)&s->peer;
    /* UDP may lose datagrams anyway: a full socket buffer drops them and KCP resends */
    uv_udp_try_send(s->udp, &b, 1, to);
    for (int i = 0; i < np; i++) {
        b = uv_buf_init((char *)s->enc.parity[i], (unsigned)plen);
        uv_udp_try_send(s->udp, &b, 1, to);
    }
}

/* ---- receiving ---- */

static void sess_recovered(const uint8_t *kcp, size_t len, void *arg)
{
    kcp_sess *s = arg;
    kcp_core_input(&s->kcp, kcp, len, (uint32_t)uv_now(s->loop));
}

static void sess_deliver(kcp_sess *s)
{
    while (s->reading && !s->closing) {
        if (s->read_error) {
            int e = s->read_error;
            s->reading = false;
            s->base.on_read(&s->base, e, (buf_ref){NULL, NULL, 0});
            return;
        }
        if (!kcp_core_readable(&s->kcp)) return;
        buf_chunk *c = buf_chunk_alloc(0);
        if (!c) {
            s->read_error = UV_ENOMEM;
            continue;
        }
        size_t n = kcp_core_recv(&s->kcp, (uint8_t *)c->data, c->size);
        s->base.on_read(&s->base, (ssize_t)n, buf_ref_make(c, 0, n));
    }
}

/* One datagram from the peer: FEC-wrapped (as Go sends) or a bare KCP packet. */
static void sess_input(kcp_sess *s, const uint8_t *d, size_t len)
{
    uint32_t now = (uint32_t)uv_now(s->loop);
    int flag = kcp_fec_flag(d, len);
    if (!flag) {
        kcp_core_input(&s->kcp, d, len, now);
    } else {
        if (flag == KCP_FEC_TYPE_DATA && len >= KCP_FEC_HEADER_PLUS2)
            kcp_core_input(&s->kcp, d + KCP_FEC_HEADER_PLUS2, len - KCP_FEC_HEADER_PLUS2, now);
        if (kcp_fec_decode(&s->dec, d, len, sess_recovered, s) == UV_ENOMEM)
            s->read_error = UV_ENOMEM;
    }
    sess_deliver(s);
}

/* ---- the timer ---- */

static void wreq_free(kcp_wreq *w)
{
    for (size_t k = w->i; k < w->n; k++)
        buf_ref_release(&w->bufs[k]);
    free(w);
}

/* Hands queued writes to KCP while fewer than snd_wnd segments wait. */
static void sess_push_writes(kcp_sess *s)
{
    while (!list_empty(&s->wq) && kcp_core_waitsnd(&s->kcp) < s->kcp.snd_wnd) {
        kcp_wreq *w = LIST_ITEM(s->wq.next, kcp_wreq, link);
        if (w->i < w->n) {
            buf_ref *r = &w->bufs[w->i];
            if (kcp_core_send(&s->kcp, r->base, r->len)) {
                s->read_error = UV_ENOMEM;
                return;
            }
            s->wq_bytes -= r->len;
            buf_ref_release(r);
            w->i++;
        }
        if (w->i == w->n) {
            list_del(&w->link);
            list_push(&s->done, &w->link);
        }
    }
}

static void sess_complete_writes(kcp_sess *s)
{
    while (!list_empty(&s->done) && !s->closing) {
        kcp_wreq *w = LIST_ITEM(s->done.next, kcp_wreq, link);
        list_del(&w->link);
        if (w->cb) w->cb(&s->base, 0, w->arg);
        free(w);
    }
}

static void sess_tick(uv_timer_t *t)
{
    kcp_sess *s = t->data;
    if (s->closing) return;
    sess_push_writes(s);
    kcp_core_update(&s->kcp, (uint32_t)uv_now(s->loop));
    sess_complete_writes(s);
    sess_deliver(s);
}

/* Runs the tick on the next loop iteration, then every interval again. */
static void sess_kick(kcp_sess *s)
{
    uv_timer_start(&s->timer, sess_tick, 0, KCP_CONN_INTERVAL_MS);
}

/* ---- stream ops ---- */

static int sess_read_start(stream *st)
{
    kcp_sess *s = (kcp_sess *)st;
    if (s->closing) return CFRP_ECLOSED;
    s->reading = true;
    sess_kick(s);
    return 0;
}

static int sess_read_stop(stream *st)
{
    ((kcp_sess *)st)->reading = false;
    return 0;
}

static int sess_write(stream *st, buf_ref *bufs, size_t nbufs, stream_write_cb cb, void *arg)
{
    kcp_sess *s = (kcp_sess *)st;
    kcp_wreq *w = s->closing ? NULL : malloc(sizeof *w + nbufs * sizeof(buf_ref));
    if (!w) {
        for (size_t k = 0; k < nbufs; k++)
            buf_ref_release(&bufs[k]);
        return s->closing ? CFRP_ECLOSED : UV_ENOMEM;
    }
    list_init(&w->link);
    w->cb = cb;
    w->arg = arg;
    w->n = nbufs;
    w->i = 0;
    for (size_t k = 0; k < nbufs; k++) {
        w->bufs[k] = bufs[k];
        s->wq_bytes += bufs[k].len;
        bufs[k] = (buf_ref){NULL, NULL, 0};
    }
    list_push(&s->wq, &w->link);
    sess_kick(s);
    return 0;
}

static int sess_shutdown(stream *st)
{
    return UV_ENOTSUP; /* KCP has no half-close */
}

static void sess_handle_closed(uv_handle_t *h)
{
    kcp_sess *s = h->data;
    if (--s->handles > 0) return;
    while (!list_empty(&s->done)) {
        kcp_wreq *w = LIST_ITEM(s->done.next, kcp_wreq, link);
        list_del(&w->link);
        if (w->cb) w->cb(&s->base, UV_ECANCELED, w->arg);
        free(w);
    }
    while (!list_empty(&s->wq)) {
        kcp_wreq *w = LIST_ITEM(s->wq.next, kcp_wreq, link);
        list_del(&w->link);
        stream_write_cb cb = w->cb;
        void *arg = w->arg;
        wreq_free(w);
        if (cb) cb(&s->base, UV_ECANCELED, arg);
    }
    kcp_core_free(&s->kcp);
    kcp_fec_decoder_free(&s->dec);
    if (s->base.on_close) s->base.on_close(&s->base);
    free(s);
}

/* Unlinks an accepted session from its listener; it sends nothing afterwards. */
static void sess_detach(kcp_sess *s)
{
    if (!s->lis) return;
    kcp_listener *l = s->lis;
    list_del(&s->bucket);
    s->lis = NULL;
    s->udp = NULL;
    l->nsess--;
    listener_maybe_free(l);
}

static void sess_close(stream *st)
{
    kcp_sess *s = (kcp_sess *)st;
    if (s->closing) return;
    sess_push_writes(s);
    kcp_core_flush(&s->kcp); /* what KCP holds leaves once, as kcp-go's Close */
    s->closing = true;
    s->reading = false;
    sess_detach(s);
    uv_timer_stop(&s->timer);
    uv_close((uv_handle_t *)&s->timer, sess_handle_closed);
    if (s->udp == &s->own_udp) uv_close((uv_handle_t *)&s->own_udp, sess_handle_closed);
}

static size_t sess_queued(const stream *st)
{
    const kcp_sess *s = (const kcp_sess *)st;
    return s->wq_bytes + s->kcp.send_bytes;
}

static int sess_peer_addr(const stream *st, struct sockaddr_storage *addr)
{
    *addr = ((const kcp_sess *)st)->peer;
    return 0;
}

static int sess_local_addr(const stream *st, struct sockaddr_storage *addr)
{
    const kcp_sess *s = (const kcp_sess *)st;
    if (!s->udp) return CFRP_ECLOSED;
    int len = sizeof *addr;
    return uv_udp_getsockname(s->udp, (struct sockaddr *)addr, &len);
}

static const struct stream_ops kcp_sess_ops = {
    .name = "kcp",
    .read_start = sess_read_start,
    .read_stop = sess_read_stop,
    .write = sess_write,
    .shutdown = sess_shutdown,
    .close = sess_close,
    .queued = sess_queued,
    .peer_addr = sess_peer_addr,
    .local_addr = sess_local_addr,
};

/* A session with frp's settings; the caller sets udp and starts things. */
static kcp_sess *sess_new(uv_loop_t *loop, uint32_t conv, const struct sockaddr *peer,
                          uint32_t snd_wnd, uint32_t rcv_wnd)
{
    kcp_sess *s = calloc(1, sizeof *s);
    if (!s) return NULL;
    if (kcp_core_init(&s->kcp, conv, KCP_FEC_HEADER_PLUS2, sess_output, s)) {
        free(s);
        return NULL;
    }
    s->base.ops = &kcp_sess_ops;
    s->loop = loop;
    memcpy(&s->peer, peer, addr_len(peer));
    kcp_core_set_nodelay(&s->kcp, 1, KCP_CONN_INTERVAL_MS, 2, true);
    kcp_core_set_mtu(&s->kcp, KCP_CONN_MTU);
    kcp_core_set_wndsize(&s->kcp, snd_wnd, rcv_wnd);
    kcp_fec_encoder_init(&s->enc);
    kcp_fec_decoder_init(&s->dec);
    list_init(&s->wq);
    list_init(&s->done);
    list_init(&s->bucket);
    uv_timer_init(loop, &s->timer);
    s->timer.data = s;
    s->handles = 1;
    return s;
}

static void set_sockbufs(uv_udp_t *u)
{
    int v = KCP_CONN_SOCKBUF;
    uv_send_buffer_size((uv_handle_t *)u, &v);
    v = KCP_CONN_SOCKBUF;
    uv_recv_buffer_size((uv_handle_t *)u, &v);
}

/* ---- dialing ---- */

static void dial_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *buf)
{
    kcp_sess *s = h->data;
    *buf = uv_buf_init((char *)s->rbuf, sizeof s->rbuf);
}

static void dial_recv(uv_udp_t *u, ssize_t nread, const uv_buf_t *buf, const struct sockaddr *addr,
                      unsigned flags)
{
    kcp_sess *s = u->data;
    if (s->closing || nread == 0 || !addr) return;
    if (nread < 0) { /* kcp-go reports socket errors to the reader */
        if (!s->read_error) s->read_error = (int)nread;
        sess_deliver(s);
        return;
    }
    if ((flags & UV_UDP_PARTIAL) || (size_t)nread > KCP_FEC_MAX_PACKET) return;
    if (!addr_equal(&s->peer, addr)) return; /* only the server we dialed */
    sess_input(s, (const uint8_t *)buf->base, (size_t)nread);
}

int kcp_dial_addr(uv_loop_t *loop, const struct sockaddr *addr, const struct kcp_options *opts,
                  stream **out)
{
    if (addr->sa_family != AF_INET && addr->sa_family != AF_INET6) return CFRP_EINVAL;
    struct kcp_options o = opts ? *opts : (struct kcp_options){0};
    if (o.snd_wnd > KCP_WND_MAX || o.rcv_wnd > KCP_WND_MAX) return CFRP_EINVAL;
    uint32_t conv = o.conv;
    while (conv == 0)
        if (getrandom(&conv, sizeof conv, 0) != sizeof conv) return UV_EIO;
    kcp_sess *s = sess_new(loop, conv, addr, o.snd_wnd ? o.snd_wnd : KCP_DIAL_SND_WND,
                           o.rcv_wnd ? o.rcv_wnd : KCP_DIAL_RCV_WND);
    if (!s) return UV_ENOMEM;
    int rc = uv_udp_init_ex(loop, &s->own_udp, addr->sa_family);
    if (rc) {
        s->closing = true;
        uv_close((uv_handle_t *)&s->timer, sess_handle_closed);
        return rc;
    }
    s->handles = 2;
    s->own_udp.data = s;
    s->udp = &s->own_udp;
    set_sockbufs(&s->own_udp);
    rc = uv_udp_recv_start(&s->own_udp, dial_alloc, dial_recv);
    if (rc) {
        sess_close(&s->base);
        return rc;
    }
    uv_timer_start(&s->timer, sess_tick, KCP_CONN_INTERVAL_MS, KCP_CONN_INTERVAL_MS);
    *out = &s->base;
    return 0;
}

struct kcp_dial_req {
    uv_getaddrinfo_t gai;
    struct kcp_options opts;
    int port;
    bool cancelled;
    kcp_dial_cb cb;
    void *arg;
    char host[256];
};

static void dial_resolved(uv_getaddrinfo_t *g, int status, struct addrinfo *res)
{
    kcp_dial_req *r = g->data;
    char err[320];
    stream *s = NULL;
    int rc = status;
    const struct addrinfo *pick = NULL;
    for (const struct addrinfo *a = res; a && !rc; a = a->ai_next) {
        if (a->ai_family == AF_INET) {
            pick = a;
            break;
        }
        if (a->ai_family == AF_INET6 && !pick) pick = a;
    }
    if (!rc && !pick) rc = UV_EAI_NONAME;
    if (rc) {
        snprintf(err, sizeof err, "dial udp: lookup %s: no such host", r->host);
        rc = CFRP_ENOTFOUND;
    } else {
        struct sockaddr_storage ss;
        memcpy(&ss, pick->ai_addr, pick->ai_addrlen);
        if (ss.ss_family == AF_INET)
            ((struct sockaddr_in *)&ss)->sin_port = htons((uint16_t)r->port);
        else
            ((struct sockaddr_in6 *)&ss)->sin6_port = htons((uint16_t)r->port);
        rc = kcp_dial_addr(g->loop, (struct sockaddr *)&ss, &r->opts, &s);
        if (rc) snprintf(err, sizeof err, "dial udp %s: %s", r->host, err_str(rc));
    }
    uv_freeaddrinfo(res);
    if (r->cancelled) {
        if (s) stream_close(s);
    } else {
        r->cb(s, rc, rc ? err : NULL, r->arg);
    }
    free(r);
}

int kcp_dial(uv_loop_t *loop, const char *host, int port, const struct kcp_options *opts,
             kcp_dial_cb cb, void *arg, kcp_dial_req **out)
{
    kcp_dial_req *r = calloc(1, sizeof *r);
    if (!r) return UV_ENOMEM;
    snprintf(r->host, sizeof r->host, "%s", host);
    r->port = port;
    r->opts = opts ? *opts : (struct kcp_options){0};
    r->cb = cb;
    r->arg = arg;
    r->gai.data = r;
    struct addrinfo hints = {.ai_family = AF_UNSPEC, .ai_socktype = SOCK_DGRAM};
    int rc = uv_getaddrinfo(loop, &r->gai, dial_resolved, r->host, NULL, &hints);
    if (rc) {
        free(r);
        return rc;
    }
    if (out) *out = r;
    return 0;
}

void kcp_dial_cancel(kcp_dial_req *r)
{
    r->cancelled = true;
    uv_cancel((uv_req_t *)&r->gai);
}

/* ---- listening ---- */

static void listener_closed(uv_handle_t *h)
{
    free(h->data);
}

static void listener_maybe_free(kcp_listener *l)
{
    if (l->closed && l->nsess == 0 && !uv_is_closing((uv_handle_t *)&l->udp))
        uv_close((uv_handle_t *)&l->udp, listener_closed);
}

static kcp_sess *listener_find(kcp_listener *l, const struct sockaddr *addr)
{
    struct list_link *head = &l->buckets[addr_hash(addr)];
    for (struct list_link *x = head->next; x != head; x = x->next) {
        kcp_sess *s = LIST_ITEM(x, kcp_sess, bucket);
        if (addr_equal(&s->peer, addr)) return s;
    }
    return NULL;
}

static void listen_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *buf)
{
    kcp_listener *l = h->data;
    *buf = uv_buf_init((char *)l->rbuf, sizeof l->rbuf);
}

static uint32_t rd32(const uint8_t *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static void listen_recv(uv_udp_t *u, ssize_t nread, const uv_buf_t *buf,
                        const struct sockaddr *addr, unsigned flags)
{
    kcp_listener *l = u->data;
    if (nread <= 0 || !addr || (flags & UV_UDP_PARTIAL)) return;
    size_t len = (size_t)nread;
    const uint8_t *d = (const uint8_t *)buf->base;
    if (len > KCP_FEC_MAX_PACKET || len < KCP_FEC_HEADER) return;
    /* conv and sn of the first segment, when the datagram shows them */
    bool known = false;
    uint32_t conv = 0, sn = 0;
    int flag = kcp_fec_flag(d, len);
    if (flag == KCP_FEC_TYPE_DATA && len >= KCP_FEC_HEADER_PLUS2 + KCP_OVERHEAD) {
        conv = rd32(d + KCP_FEC_HEADER_PLUS2);
        sn = rd32(d + KCP_FEC_HEADER_PLUS2 + 12);
        known = true;
    } else if (!flag && len >= KCP_OVERHEAD) {
        conv = rd32(d);
        sn = rd32(d + 12);
        known = true;
    }
    kcp_sess *s = listener_find(l, addr);
    if (s) {
        if (!known || conv == s->kcp.conv) {
            sess_input(s, d, len);
            return;
        }
        if (sn != 0) return;
        /* a new conv starting at sn 0 from the same address replaces the session */
        sess_detach(s);
        if (!s->read_error) s->read_error = CFRP_ECLOSED;
        sess_deliver(s);
    }
    if (!known || l->closed || l->nsess >= l->opts.max_sessions) return;
    s = sess_new(l->loop, conv, addr, l->opts.snd_wnd, l->opts.rcv_wnd);
    if (!s) return;
    s->udp = &l->udp;
    s->lis = l;
    list_push(&l->buckets[addr_hash(addr)], &s->bucket);
    l->nsess++;
    uv_timer_start(&s->timer, sess_tick, KCP_CONN_INTERVAL_MS, KCP_CONN_INTERVAL_MS);
    sess_input(s, d, len);
    l->cb(l, &s->base, l->arg);
}

int kcp_listen(uv_loop_t *loop, const char *ip, int port, const struct kcp_options *opts,
               kcp_accept_cb cb, void *arg, kcp_listener **out, char *err, size_t errlen)
{
    struct sockaddr_storage ss;
    const char *host = ip && *ip ? ip : "0.0.0.0";
    int rc = uv_ip4_addr(host, port, (struct sockaddr_in *)&ss);
    if (rc) rc = uv_ip6_addr(host, port, (struct sockaddr_in6 *)&ss);
    if (rc) {
        err_set(err, errlen, "listen udp %s:%d: invalid address", host, port);
        return CFRP_EINVAL;
    }
    if (opts && (opts->snd_wnd > KCP_WND_MAX || opts->rcv_wnd > KCP_WND_MAX)) {
        err_set(err, errlen, "listen udp %s:%d: window too large", host, port);
        return CFRP_EINVAL;
    }
    kcp_listener *l = calloc(1, sizeof *l);
    if (!l) return UV_ENOMEM;
    l->loop = loop;
    l->cb = cb;
    l->arg = arg;
    l->opts = opts ? *opts : (struct kcp_options){0};
    if (!l->opts.snd_wnd) l->opts.snd_wnd = KCP_LISTEN_WND;
    if (!l->opts.rcv_wnd) l->opts.rcv_wnd = KCP_LISTEN_WND;
    if (!l->opts.max_sessions) l->opts.max_sessions = KCP_LISTEN_MAX_SESSIONS;
    for (int i = 0; i < KCP_LISTEN_BUCKETS; i++)
        list_init(&l->buckets[i]);
    rc = uv_udp_init_ex(loop, &l->udp, ss.ss_family);
    if (rc) {
        free(l);
        err_set(err, errlen, "listen udp %s:%d: %s", host, port, err_str(rc));
        return rc;
    }
    l->udp.data = l;
    rc = uv_udp_bind(&l->udp, (struct sockaddr *)&ss, 0);
    if (!rc) {
        set_sockbufs(&l->udp);
        rc = uv_udp_recv_start(&l->udp, listen_alloc, listen_recv);
    }
    if (rc) {
        err_set(err, errlen, "listen udp %s:%d: bind: %s", host, port, err_str(rc));
        uv_close((uv_handle_t *)&l->udp, listener_closed);
        return rc;
    }
    *out = l;
    return 0;
}

int kcp_listener_port(const kcp_listener *l)
{
    struct sockaddr_storage ss;
    int len = sizeof ss;
    if (uv_udp_getsockname(&l->udp, (struct sockaddr *)&ss, &len)) return 0;
    if (ss.ss_family == AF_INET6) return ntohs(((struct sockaddr_in6 *)&ss)->sin6_port);
    return ntohs(((struct sockaddr_in *)&ss)->sin_port);
}

void kcp_listener_close(kcp_listener *l)
{
    l->closed = true;
    listener_maybe_free(l);
}
