/* udp proxies (protocol.md 6.2, frp's server/proxy/udp.go): a UDP socket on
 * proxyBindAddr:remotePort and one work connection at a time carrying UDPPacket frames
 * both ways. A work connection that fails or stays silent for 60 s is replaced. */
#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/err.h"
#include "base/log.h"
#include "config/client_config.h"
#include "config/server_config.h"
#include "net/tcp.h"
#include "proto/udp_packet.h"
#include "server/bind_addr.h"
#include "server/svr_internal.h"

#define UDP_START_DELAY_MS 500
#define UDP_RETRY_MS 1000
#define UDP_READ_TIMEOUT_MS 60000
#define UDP_QUEUE_MAX 1024

/* Freed by destroy, i.e. after the proxy's last reference: the work connection and a
 * running task each hold one. Handles are allocated apart and free themselves. */
struct udp_impl {
    struct svr_proxy *p;
    uv_udp_t *sock;
    bool v6;                  /* socket family */
    int port;
    char *rbuf;               /* udpPacketSize bytes */
    size_t rbuf_len;
    uv_timer_t *timer;        /* start delay and retries */
    uv_timer_t *deadline;     /* 60 s without a frame from the work connection */
    struct svr_wc_task task;
    bool task_running;
    stream *work;             /* layered work connection, or NULL */
    size_t inflight;          /* frames written to work, not yet completed */
    buf_ref queue[UDP_QUEUE_MAX]; /* frames waiting for a work connection */
    size_t nqueue;
    bool closed;
    bool got_frame;           /* a frame completed in the current read */
    msg_reader rd;
};

static void udp_free_handle(uv_handle_t *h)
{
    free(h);
}

static void udp_start_task(struct udp_impl *u);

static void udp_timer_cb(uv_timer_t *t)
{
    struct udp_impl *u = t->data;
    if (!u->closed && !u->task_running && !u->work) udp_start_task(u);
}

/* ---- user datagrams -> frpc ---- */

static void udp_write_done(stream *s, int status, void *arg)
{
    struct udp_impl *u = arg;
    u->inflight--;
}

static void udp_send_frame(struct udp_impl *u, buf_ref frame)
{
    if (u->work) {
        if (u->inflight >= UDP_QUEUE_MAX) {
            buf_ref_release(&frame);
            return;
        }
        u->inflight++;
        if (stream_write(u->work, &frame, 1, udp_write_done, u)) u->inflight--;
        return;
    }
    if (u->nqueue >= UDP_QUEUE_MAX) {
        buf_ref_release(&frame);
        return;
    }
    u->queue[u->nqueue++] = frame;
}

static void udp_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *buf)
{
    struct udp_impl *u = h->data;
    *buf = uv_buf_init(u->rbuf, (unsigned)u->rbuf_len);
}

static void udp_on_datagram(uv_udp_t *h, ssize_t nread, const uv_buf_t *buf, const struct sockaddr *addr,
                            unsigned flags)
{
    struct udp_impl *u = h->data;
    if (nread < 0 || !addr || u->closed) return;
    msg m;
    if (udp_packet_build(&m, buf->base, (size_t)nread, addr)) return;
    buf_chunk *c = buf_chunk_alloc(MSG_FRAME_MAX);
    size_t len;
    if (c && msg_frame_encode(&m, c->data, MSG_FRAME_MAX, &len) == 0)
        udp_send_frame(u, buf_ref_make(c, 0, len));
    else if (c)
        buf_chunk_release(c);
    msg_clear(&m);
}

/* ---- frpc -> users ---- */

static void udp_to_user(struct udp_impl *u, const msg_udp_packet *pk)
{
    struct sockaddr_storage ss;
    if (!pk->content || udp_packet_sockaddr(&pk->raddr, &ss)) return;
    char data[MSG_MAX_BODY];
    size_t len;
    if (udp_base64_decode(pk->content, data, sizeof data, &len)) return;
    if (u->v6 && ss.ss_family == AF_INET) {
        struct sockaddr_in in = *(struct sockaddr_in *)&ss;
        struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)&ss;
        memset(in6, 0, sizeof *in6);
        in6->sin6_family = AF_INET6;
        in6->sin6_port = in.sin_port;
        in6->sin6_addr.s6_addr[10] = in6->sin6_addr.s6_addr[11] = 0xff;
        memcpy(&in6->sin6_addr.s6_addr[12], &in.sin_addr, 4);
    } else if (!u->v6 && ss.ss_family == AF_INET6) {
        return;
    }
    uv_buf_t b = uv_buf_init(data, (unsigned)len);
    uv_udp_try_send(u->sock, &b, 1, (const struct sockaddr *)&ss); /* errors are ignored, as in frp */
}

static int udp_on_msg(void *arg, msg *m)
{
    struct udp_impl *u = arg;
    u->got_frame = true;
    if (m->type == MSG_UDP_PACKET) udp_to_user(u, &m->u.udp_packet);
    msg_clear(m);
    return 0;
}

static void udp_drop_work(struct udp_impl *u, const char *why)
{
    struct svr_proxy *p = u->p;
    log_warn("[%s] [%s] read from workConn for udp error: %s", p->run_id, p->cfg->name, why);
    stream *w = u->work;
    u->work = NULL;
    uv_timer_stop(u->deadline);
    stream_close(w);
    /* Go frps's udp proxy logs this when its sender goroutine for the work connection ends. */
    log_info("[%s] [%s] sender goroutine for udp work connection closed", p->run_id, p->cfg->name);
    if (!u->closed) udp_start_task(u);
}

static void udp_on_work_read(stream *s, ssize_t nread, buf_ref data)
{
    struct udp_impl *u = s->data;
    if (nread < 0) {
        udp_drop_work(u, svr_err_text((int)nread));
        return;
    }
    char err[256];
    size_t used;
    u->got_frame = false;
    int rc = svr_feed_msgs(&u->rd, data.base, data.len, &used, udp_on_msg, u, err, sizeof err);
    buf_ref_release(&data);
    if (rc < 0) {
        udp_drop_work(u, err);
        return;
    }
    if (u->got_frame && u->work) uv_timer_again(u->deadline);
}

static void udp_deadline_cb(uv_timer_t *t)
{
    struct udp_impl *u = t->data;
    if (u->work) udp_drop_work(u, "i/o timeout");
}

static void udp_work_closed(stream *s)
{
    struct udp_impl *u = s->data;
    svr_proxy_release(u->p);
}

static void udp_got_work(struct svr_wc_task *t, stream *work)
{
    struct udp_impl *u = LIST_ITEM(t, struct udp_impl, task);
    struct svr_proxy *p = u->p;
    u->task_running = false;
    if (u->closed) {
        if (work) stream_close(work);
        svr_proxy_release(p);
        return;
    }
    stream *w;
    if (!work || svr_proxy_layers(p, work, &w)) {
        uv_timer_start(u->timer, udp_timer_cb, UDP_RETRY_MS, 0);
        svr_proxy_release(p);
        return;
    }
    /* the task's reference now belongs to the work connection */
    u->work = w;
    w->data = u;
    w->on_close = udp_work_closed;
    msg_reader_init(&u->rd);
    uv_timer_start(u->deadline, udp_deadline_cb, UDP_READ_TIMEOUT_MS, UDP_READ_TIMEOUT_MS);
    size_t n = u->nqueue;
    u->nqueue = 0;
    for (size_t i = 0; i < n; i++) udp_send_frame(u, u->queue[i]);
    if (stream_read_start(w, udp_on_work_read)) udp_drop_work(u, "read error");
}

static void udp_start_task(struct udp_impl *u)
{
    memset(&u->task, 0, sizeof u->task);
    u->task.p = u->p;
    u->task.done = udp_got_work;
    u->task_running = true;
    svr_proxy_retain(u->p);
    svr_wc_task_start(&u->task);
}

/* ---- the proxy ---- */

static int udp_bind(struct udp_impl *u, const char *host, int port, char *err, size_t errlen)
{
    struct sockaddr_storage ss;
    memset(&ss, 0, sizeof ss);
    bool wildcard = !*host || !strcmp(host, "0.0.0.0") || !strcmp(host, "::");
    socklen_t len;
    int rc = 0;
    if (wildcard) {
        rc = uv_ip6_addr("::", port, (struct sockaddr_in6 *)&ss);
    } else if (svr_bind_addr(host, port, &ss, &len) != 0) {
        err_set(err, errlen, "lookup %s: no such host", host);
        return CFRP_ENOTFOUND;
    }
    u->sock = malloc(sizeof *u->sock);
    if (!u->sock) return UV_ENOMEM;
    uv_udp_init(u->p->svr->loop, u->sock);
    u->sock->data = u;
    rc = uv_udp_bind(u->sock, (struct sockaddr *)&ss, 0);
    if (rc && wildcard) { /* no IPv6 on this host */
        uv_ip4_addr("0.0.0.0", port, (struct sockaddr_in *)&ss);
        rc = uv_udp_bind(u->sock, (struct sockaddr *)&ss, 0);
    }
    u->v6 = ss.ss_family == AF_INET6;
    if (rc == 0) rc = uv_udp_recv_start(u->sock, udp_alloc, udp_on_datagram);
    if (rc) {
        char shown[300], why[128];
        tcp_join_host_port(shown, sizeof shown, host, port);
        tcp_strerror(rc, why, sizeof why);
        err_set(err, errlen, "listen udp %s: bind: %s", shown, why);
        uv_close((uv_handle_t *)u->sock, udp_free_handle);
        u->sock = NULL;
    }
    return rc;
}

static int udp_run(struct svr_proxy *p, char *remote_addr, size_t cap, char *err, size_t errlen)
{
    struct server *svr = p->svr;
    char why[256];
    struct udp_impl *u = malloc(sizeof *u);
    char *rbuf = malloc((size_t)svr->cfg->udp_packet_size);
    if (!u || !rbuf) {
        free(u);
        free(rbuf);
        return UV_ENOMEM;
    }
    memset(u, 0, offsetof(struct udp_impl, rd));
    u->p = p;
    u->rbuf = rbuf;
    u->rbuf_len = (size_t)svr->cfg->udp_packet_size;
    int port = svr_ports_acquire(svr->udp_ports, p->cfg->name, (int)p->cfg->remote_port, svr_now_ms(), why,
                                 sizeof why);
    if (port < 0) {
        err_set(err, errlen, "acquire port %lld error: %s", (long long)p->cfg->remote_port, why);
        free(rbuf);
        free(u);
        return port;
    }
    int rc = udp_bind(u, svr->cfg->proxy_bind_addr, port, err, errlen);
    if (rc) {
        log_warn("[%s] [%s] listen udp port error: %s", p->run_id, p->cfg->name, err);
        svr_ports_release(svr->udp_ports, port, svr_now_ms());
        free(rbuf);
        free(u);
        return rc;
    }
    u->port = port;
    u->timer = malloc(sizeof *u->timer);
    u->deadline = malloc(sizeof *u->deadline);
    if (!u->timer || !u->deadline) {
        free(u->timer);
        free(u->deadline);
        uv_close((uv_handle_t *)u->sock, udp_free_handle);
        svr_ports_release(svr->udp_ports, port, svr_now_ms());
        free(rbuf);
        free(u);
        return UV_ENOMEM;
    }
    uv_timer_init(svr->loop, u->timer);
    uv_timer_init(svr->loop, u->deadline);
    u->timer->data = u->deadline->data = u;
    p->impl = u;
    p->cfg->remote_port = port;
    log_info("[%s] [%s] udp proxy listen port [%d]", p->run_id, p->cfg->name, port);
    snprintf(remote_addr, cap, ":%d", port);
    /* Lets the control send NewProxyResp before the first StartWorkConn, as frp does. */
    uv_timer_start(u->timer, udp_timer_cb, UDP_START_DELAY_MS, 0);
    return 0;
}

static void udp_close(struct svr_proxy *p)
{
    struct udp_impl *u = p->impl;
    u->closed = true;
    if (u->task_running && u->task.waiting) {
        svr_wc_task_cancel(&u->task);
        u->task_running = false;
        svr_proxy_release(p);
    }
    uv_close((uv_handle_t *)u->timer, udp_free_handle);
    uv_close((uv_handle_t *)u->deadline, udp_free_handle);
    uv_close((uv_handle_t *)u->sock, udp_free_handle);
    u->timer = u->deadline = NULL;
    u->sock = NULL;
    if (u->work) {
        stream *w = u->work;
        u->work = NULL;
        stream_close(w);
    }
    for (size_t i = 0; i < u->nqueue; i++) buf_ref_release(&u->queue[i]);
    u->nqueue = 0;
    svr_ports_release(p->svr->udp_ports, u->port, svr_now_ms());
}

static void udp_destroy(struct svr_proxy *p)
{
    struct udp_impl *u = p->impl;
    free(u->rbuf);
    free(u);
}

const struct svr_proxy_kind svr_proxy_udp = {
    .type = "udp",
    .used_ports = 1,
    .run = udp_run,
    .close = udp_close,
    .destroy = udp_destroy,
};
