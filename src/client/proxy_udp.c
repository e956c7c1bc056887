/* frpc's udp proxy (protocol.md 6.2): one work connection per proxy at a time carrying
 * UDPPacket frames; per user address a local UDP socket connected to
 * localIP:localPort, forgotten after 30 s without a reply; Ping every 30 s. */
#include <stdlib.h>
#include <string.h>
#include <uv.h>

#include "base/err.h"
#include "base/log.h"
#include "client/client_internal.h"
#include "net/tcp.h"
#include "proto/msg_io.h"
#include "proto/udp_packet.h"

#define CUDP_IDLE_MS 30000
#define CUDP_PING_MS 30000
#define CUDP_MAX_QUEUED (1024u * 1024u) /* replies are dropped above this (frp: 1024 queued) */
/* Local sockets per work connection. frp opens one per user address without a bound;
 * past this the least recently used one is closed, so fds and lookups stay bounded. */
#define CUDP_MAX_PEERS 1024

/* A local socket for one user address; in cudp_work.peers (least recently used first)
 * while open. */
struct cpeer {
    struct list_link link;
    struct cudp_work *u;
    uv_udp_t udp;
    uv_timer_t idle;
    struct sockaddr_storage raddr; /* the user's address, for the replies */
    char key[80];                  /* "ip:port" as frp keys its map */
    int handles;                   /* open libuv handles; freed at 0 */
};

/* One udp work connection; freed when the stream, the timer and every peer are closed. */
struct cudp_work {
    struct cproxy *p;      /* NULL once closing */
    struct cudp_work *next; /* in p->udp while p is set */
    struct csess *sess;    /* one reference */
    stream *st;            /* the layered work connection */
    msg_reader rd;
    uv_timer_t ping;
    struct list_link peers;
    unsigned npeers;       /* in peers */
    struct sockaddr_storage local;
    char *buf;             /* udpPacketSize bytes for replies; owned */
    size_t buf_len;
    char dec[MSG_MAX_BODY]; /* a decoded datagram */
    int open;              /* stream + timer + peers not yet closed */
    bool closing;
    char prefix[192];
};

static void cudp_unopen(struct cudp_work *u)
{
    if (--u->open > 0) return;
    struct csess *s = u->sess;
    free(u->buf);
    free(u);
    csess_unref(s);
}

static void cpeer_handle_closed(uv_handle_t *h)
{
    struct cpeer *pe = h->data;
    if (--pe->handles > 0) return;
    struct cudp_work *u = pe->u;
    free(pe);
    cudp_unopen(u);
}

static void cpeer_close(struct cpeer *pe)
{
    list_del(&pe->link);
    pe->u->npeers--;
    uv_close((uv_handle_t *)&pe->udp, cpeer_handle_closed);
    uv_close((uv_handle_t *)&pe->idle, cpeer_handle_closed);
}

static void cpeer_idle_cb(uv_timer_t *t)
{
    cpeer_close(t->data);
}

static void cpeer_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *b)
{
    struct cpeer *pe = h->data;
    b->base = pe->u->buf;
    b->len = pe->u->buf_len;
}

static void cpeer_recv(uv_udp_t *h, ssize_t nread, const uv_buf_t *b, const struct sockaddr *addr,
                       unsigned flags)
{
    struct cpeer *pe = h->data;
    struct cudp_work *u = pe->u;
    if (nread < 0) {
        cpeer_close(pe);
        return;
    }
    if (nread == 0 && !addr) return;
    uv_timer_again(&pe->idle);
    if (u->closing || stream_queued(u->st) > CUDP_MAX_QUEUED) return;
    msg m;
    if (udp_packet_build(&m, b->base, (size_t)nread, (struct sockaddr *)&pe->raddr) != 0) return;
    int rc = msg_send(u->st, &m, NULL, NULL);
    msg_clear(&m);
    if (rc < 0) {
        log_error("%sudp work write error: %s", u->prefix, err_str(rc));
        cudp_close(u);
    }
}

static struct cpeer *cpeer_open(struct cudp_work *u, const char *key, const msg_udp_addr *ra)
{
    struct cpeer *pe = calloc(1, sizeof *pe);
    if (!pe) return NULL;
    if (udp_packet_sockaddr(ra, &pe->raddr) != 0) {
        free(pe);
        return NULL;
    }
    pe->u = u;
    snprintf(pe->key, sizeof pe->key, "%s", key);
    uv_loop_t *loop = csess_loop(u->sess);
    if (uv_udp_init(loop, &pe->udp) != 0) {
        free(pe);
        return NULL;
    }
    uv_timer_init(loop, &pe->idle);
    pe->udp.data = pe->idle.data = pe;
    pe->handles = 2;
    u->open++;
    if (u->npeers >= CUDP_MAX_PEERS) cpeer_close(LIST_ITEM(u->peers.next, struct cpeer, link));
    list_push(&u->peers, &pe->link);
    u->npeers++;
    if (uv_udp_connect(&pe->udp, (struct sockaddr *)&u->local) != 0 ||
        uv_udp_recv_start(&pe->udp, cpeer_alloc, cpeer_recv) != 0) {
        cpeer_close(pe);
        return NULL;
    }
    uv_timer_start(&pe->idle, cpeer_idle_cb, CUDP_IDLE_MS, CUDP_IDLE_MS);
    return pe;
}

/* A UDPPacket from frps: send its datagram from the user's local socket. */
static void cudp_packet(struct cudp_work *u, const msg_udp_packet *pk)
{
    size_t n = 0;
    if (!pk->content || udp_base64_decode(pk->content, u->dec, sizeof u->dec, &n) != 0) return;
    char key[80];
    if (udp_packet_addr_text(&pk->raddr, key, sizeof key) != 0) return;
    struct cpeer *pe = NULL;
    for (struct list_link *e = u->peers.next; e != &u->peers; e = e->next) {
        struct cpeer *c = LIST_ITEM(e, struct cpeer, link);
        if (strcmp(c->key, key) == 0) {
            pe = c;
            list_del(&pe->link); /* now the most recently used */
            list_push(&u->peers, &pe->link);
            break;
        }
    }
    if (!pe) pe = cpeer_open(u, key, &pk->raddr);
    if (!pe) return;
    uv_buf_t b = uv_buf_init(u->dec, (unsigned)n);
    int rc = uv_udp_try_send(&pe->udp, &b, 1, NULL);
    if (rc < 0 && rc != UV_EAGAIN) cpeer_close(pe);
}

/* Feeds bytes of the work connection; false when the connection must end. */
static bool cudp_feed(struct cudp_work *u, const char *p, size_t left)
{
    while (left > 0 && !u->closing) {
        size_t used = 0;
        msg m;
        char err[256] = "";
        msg_reader_expect(&u->rd, MSG_UDP_PACKET); /* frp decodes every frame as one */
        int rc = msg_reader_feed(&u->rd, p, left, &used, &m, err, sizeof err);
        p += used;
        left -= used;
        if (rc < 0) {
            log_warn("%sread from workConn for udp error: %s", u->prefix, err);
            return false;
        }
        if (rc == 0) break;
        cudp_packet(u, &m.u.udp_packet);
        msg_clear(&m);
    }
    return true;
}

static void cudp_read(stream *st, ssize_t nread, buf_ref data)
{
    struct cudp_work *u = st->data;
    if (nread < 0) {
        buf_ref_release(&data);
        log_warn("%sread from workConn for udp error: %s", u->prefix,
                 nread == UV_EOF ? "EOF" : err_str((int)nread));
        cudp_close(u);
        return;
    }
    u->open++; /* stay alive through the callback */
    if (!cudp_feed(u, data.base, data.len)) cudp_close(u);
    buf_ref_release(&data);
    cudp_unopen(u);
}

static void cudp_ping_cb(uv_timer_t *t)
{
    struct cudp_work *u = t->data;
    msg m;
    msg_init(&m, MSG_PING);
    if (msg_send(u->st, &m, NULL, NULL) < 0) cudp_close(u);
}

static void cudp_stream_closed(stream *st)
{
    cudp_unopen(st->data);
}

static void cudp_timer_closed(uv_handle_t *h)
{
    cudp_unopen(h->data);
}

void cudp_close(struct cudp_work *u)
{
    if (u->closing) return;
    u->closing = true;
    log_info("%swriter goroutine for udp work connection closed", u->prefix);
    if (u->p) {
        struct cudp_work **pp = &u->p->udp;
        while (*pp && *pp != u) pp = &(*pp)->next;
        if (*pp) *pp = u->next;
    }
    u->p = NULL;
    while (!list_empty(&u->peers)) cpeer_close(LIST_ITEM(u->peers.next, struct cpeer, link));
    uv_close((uv_handle_t *)&u->ping, cudp_timer_closed);
    stream_close(u->st);
}

void cudp_start(struct cproxy *p, stream *st, const void *head, size_t head_len)
{
    char pre[192], ra[80] = "";
    cproxy_prefix(p, pre, sizeof pre);
    struct sockaddr_storage ss;
    if (st->ops->peer_addr && st->ops->peer_addr(st, &ss) == 0)
        tcp_format_addr(ra, sizeof ra, (struct sockaddr *)&ss);
    bool sudp = p->cfg->type_id == CFG_PROXY_SUDP;
    log_info("%sincoming a new work connection for %s proxy, %s", pre, sudp ? "sudp" : "udp", ra);
    if (!sudp)
        while (p->udp) cudp_close(p->udp);

    int64_t sz = csess_svc(p->sess)->cfg->udp_packet_size;
    size_t buf_len = sz > 0 && sz <= 65535 ? (size_t)sz : 1500;
    struct cudp_work *u = calloc(1, sizeof *u);
    char *buf = malloc(buf_len);
    if (!u || !buf) {
        free(u);
        free(buf);
        stream_close(st);
        return;
    }
    u->buf = buf;
    u->buf_len = buf_len;
    bool used = false;
    if (cproxy_layers(p, st, head, head_len, &u->st, &used) < 0) {
        free(u->buf);
        free(u);
        return;
    }
    u->p = p;
    u->sess = p->sess;
    csess_ref(u->sess);
    memcpy(u->prefix, pre, sizeof u->prefix);
    u->local = p->udp_local;
    list_init(&u->peers);
    msg_reader_init(&u->rd);
    u->open = 2; /* stream and ping timer */
    u->st->data = u;
    u->st->on_close = cudp_stream_closed;
    uv_timer_init(csess_loop(p->sess), &u->ping);
    u->ping.data = u;
    uv_timer_start(&u->ping, cudp_ping_cb, CUDP_PING_MS, CUDP_PING_MS);
    u->next = p->udp;
    p->udp = u;
    if (!used && head_len && !cudp_feed(u, head, head_len)) {
        cudp_close(u);
        return;
    }
    if (stream_read_start(u->st, cudp_read) < 0) cudp_close(u);
}
