/* TCP streams and listeners on libuv (see tcp.h). */
#include "net/tcp.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "base/err.h"

/* Write requests kept per connection for reuse, and the buffers each of them holds
 * inline; larger writes get an exact allocation that is freed after use. */
#define TCP_SPARE_WREQS 4
#define TCP_WREQ_INLINE 8
/* Reads up to this size are copied out of the 64 KiB read chunk (see tcp_on_read). */
#define TCP_SMALL_READ 4096

typedef struct tcp_stream tcp_stream;

/* One uv_write in flight, or a write that went out at once and waits for its callback
 * (on the done list); owns the references in bufs until the callback. */
typedef struct tcp_wreq {
    uv_write_t req;
    tcp_stream *ts;
    struct tcp_wreq *next; /* in the spare list or the done list */
    stream_write_cb cb;
    void *arg;
    size_t n, cap;
    buf_ref *bufs;   /* cap entries, after the struct */
    uv_buf_t *uvbufs; /* cap entries, after bufs */
} tcp_wreq;

/* One connection. Owned by whoever holds the stream; after close() by itself, freed
 * once the close callbacks of both handles ran. */
struct tcp_stream {
    stream base;
    uv_tcp_t h;
    uv_idle_t idle; /* runs the callbacks of the done list */
    uv_shutdown_t sreq;
    tcp_wreq *spare; /* reusable write requests, owned here */
    unsigned nspare;
    tcp_wreq *done_head, *done_tail; /* written at once, callback due; owned here */
    int pending_closes; /* handles still closing after close() */
    bool reading, closing;
};

struct tcp_listener {
    uv_tcp_t h;
    tcp_accept_cb cb;
    void *arg;
    struct tcp_options opts;
    int port;
};

void tcp_strerror(int code, char *out, size_t outlen)
{
    if (outlen == 0) return;
    const char *text = NULL;
    if (code < 0 && code > -4096) text = strerrordesc_np(-code);
    if (!text) text = err_str(code);
    snprintf(out, outlen, "%s", text);
    out[0] = (char)tolower((unsigned char)out[0]);
}

void tcp_join_host_port(char *out, size_t outlen, const char *host, int port)
{
    if (!host) host = "";
    if (strchr(host, ':'))
        snprintf(out, outlen, "[%s]:%d", host, port);
    else
        snprintf(out, outlen, "%s:%d", host, port);
}

void tcp_format_addr(char *out, size_t outlen, const struct sockaddr *sa)
{
    char ip[INET6_ADDRSTRLEN] = "";
    int port = 0;
    if (sa->sa_family == AF_INET) {
        const struct sockaddr_in *in = (const struct sockaddr_in *)sa;
        inet_ntop(AF_INET, &in->sin_addr, ip, sizeof ip);
        port = ntohs(in->sin_port);
    } else if (sa->sa_family == AF_INET6) {
        const struct sockaddr_in6 *in6 = (const struct sockaddr_in6 *)sa;
        /* Go prints IPv4-mapped IPv6 addresses as plain IPv4. */
        if (IN6_IS_ADDR_V4MAPPED(&in6->sin6_addr))
            inet_ntop(AF_INET, &in6->sin6_addr.s6_addr[12], ip, sizeof ip);
        else
            inet_ntop(AF_INET6, &in6->sin6_addr, ip, sizeof ip);
        port = ntohs(in6->sin6_port);
    }
    tcp_join_host_port(out, outlen, ip, port);
}

/* ---- the stream ---- */

static void tcp_on_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *buf)
{
    buf_chunk *c = buf_chunk_alloc(0);
    *buf = c ? uv_buf_init(c->data, c->size) : uv_buf_init(NULL, 0);
}

static void tcp_on_read(uv_stream_t *h, ssize_t nread, const uv_buf_t *buf)
{
    tcp_stream *ts = h->data;
    buf_chunk *c = buf->base ? (buf_chunk *)(buf->base - offsetof(buf_chunk, data)) : NULL;
    if (nread > 0) {
        buf_ref r = buf_ref_make(c, 0, (size_t)nread);
        if ((size_t)nread <= TCP_SMALL_READ) {
            /* A small read moves into an exact copy and the chunk goes straight back to
             * the pool, so data that waits in a queue never pins 64 KiB. */
            buf_ref small = buf_ref_copy(r.base, r.len);
            if (small.chunk) {
                buf_ref_release(&r);
                r = small;
            }
        }
        ts->base.on_read(&ts->base, nread, r);
        return;
    }
    buf_chunk_release(c);
    if (nread == 0) return; /* EAGAIN */
    if (nread == UV_EOF) ts->reading = false; /* libuv stopped reading */
    ts->base.on_read(&ts->base, nread, (buf_ref){NULL, NULL, 0});
}

static int tcp_read_start(stream *s)
{
    tcp_stream *ts = (tcp_stream *)s;
    if (ts->closing) return CFRP_ECLOSED;
    if (ts->reading) return 0;
    int rc = uv_read_start((uv_stream_t *)&ts->h, tcp_on_alloc, tcp_on_read);
    if (rc == 0) ts->reading = true;
    return rc;
}

static int tcp_read_stop(stream *s)
{
    tcp_stream *ts = (tcp_stream *)s;
    if (ts->closing || !ts->reading) return 0;
    ts->reading = false;
    return uv_read_stop((uv_stream_t *)&ts->h);
}

static void tcp_wreq_recycle(tcp_stream *ts, tcp_wreq *w)
{
    if (w->cap == TCP_WREQ_INLINE && ts->nspare < TCP_SPARE_WREQS && !ts->closing) {
        w->next = ts->spare;
        ts->spare = w;
        ts->nspare++;
        return;
    }
    free(w);
}

static tcp_wreq *tcp_wreq_get(tcp_stream *ts, size_t n)
{
    if (n <= TCP_WREQ_INLINE && ts->spare) {
        tcp_wreq *w = ts->spare;
        ts->spare = w->next;
        ts->nspare--;
        return w;
    }
    size_t cap = n <= TCP_WREQ_INLINE ? TCP_WREQ_INLINE : n;
    if (cap > SIZE_MAX / 64) return NULL;
    tcp_wreq *w = malloc(sizeof *w + cap * (sizeof(buf_ref) + sizeof(uv_buf_t)));
    if (!w) return NULL;
    w->cap = cap;
    w->bufs = (buf_ref *)(w + 1);
    w->uvbufs = (uv_buf_t *)(w->bufs + cap);
    return w;
}

/* Runs the callbacks of writes that went out at once, in order. */
static void tcp_run_done(tcp_stream *ts)
{
    while (ts->done_head) {
        tcp_wreq *w = ts->done_head;
        ts->done_head = w->next;
        if (!ts->done_head) ts->done_tail = NULL;
        stream_write_cb cb = w->cb;
        void *arg = w->arg;
        tcp_wreq_recycle(ts, w);
        if (cb) cb(&ts->base, 0, arg);
    }
}

static void tcp_on_idle(uv_idle_t *h)
{
    tcp_stream *ts = h->data;
    uv_idle_stop(h);
    tcp_run_done(ts);
}

static void tcp_on_write(uv_write_t *req, int status)
{
    tcp_wreq *w = (tcp_wreq *)req;
    tcp_stream *ts = w->ts;
    tcp_run_done(ts); /* writes that went out earlier complete first */
    for (size_t k = 0; k < w->n; k++) buf_ref_release(&w->bufs[k]);
    stream_write_cb cb = w->cb;
    void *arg = w->arg;
    tcp_wreq_recycle(ts, w);
    if (cb) cb(&ts->base, status, arg);
}

/* Tries to send w's *nuv buffers now. Returns 1 if all went out (the references are
 * released), 0 if some remain (the sent bytes are cut from uvbufs, *nuv updated); the
 * references stay with w until its callback either way. libuv's uv_write
 * would also send at once, but its completion costs an epoll_ctl() and an extra loop
 * iteration per write, which a request-response exchange pays on every hop. */
static int tcp_try_send(tcp_stream *ts, tcp_wreq *w, size_t *nuvp)
{
    size_t nuv = *nuvp;
    int sent = uv_try_write((uv_stream_t *)&ts->h, w->uvbufs, (unsigned)nuv);
    if (sent < 0) return 0; /* EAGAIN, or an error that uv_write will report */
    size_t left = (size_t)sent, k = 0;
    while (k < nuv && left >= w->uvbufs[k].len) left -= w->uvbufs[k++].len;
    if (k == nuv) {
        for (size_t i = 0; i < w->n; i++) buf_ref_release(&w->bufs[i]);
        w->n = 0;
        return 1;
    }
    size_t m = 0;
    for (size_t i = k; i < nuv; i++) w->uvbufs[m++] = w->uvbufs[i];
    w->uvbufs[0].base += left;
    w->uvbufs[0].len -= left;
    *nuvp = m;
    return 0;
}

static int tcp_write(stream *s, buf_ref *bufs, size_t nbufs, stream_write_cb cb, void *arg)
{
    tcp_stream *ts = (tcp_stream *)s;
    int rc = ts->closing ? CFRP_ECLOSED : 0;
    tcp_wreq *w = rc ? NULL : tcp_wreq_get(ts, nbufs);
    if (!rc && !w) rc = UV_ENOMEM;
    if (rc) {
        for (size_t k = 0; k < nbufs; k++) buf_ref_release(&bufs[k]);
        return rc;
    }
    w->ts = ts;
    w->cb = cb;
    w->arg = arg;
    w->n = nbufs;
    for (size_t k = 0; k < nbufs; k++) {
        w->bufs[k] = bufs[k];
        w->uvbufs[k] = uv_buf_init(bufs[k].base, (unsigned)bufs[k].len);
        bufs[k] = (buf_ref){NULL, NULL, 0};
    }
    /* libuv wants at least one buffer; an empty write still completes in order. */
    static char tcp_empty[1];
    size_t nuv = nbufs;
    if (nbufs == 0) w->uvbufs[nuv++] = uv_buf_init(tcp_empty, 0);
    if (nbufs > 0 && uv_stream_get_write_queue_size((uv_stream_t *)&ts->h) == 0 &&
        tcp_try_send(ts, w, &nuv)) {
        w->next = NULL;
        if (ts->done_tail) ts->done_tail->next = w;
        else ts->done_head = w;
        ts->done_tail = w;
        uv_idle_start(&ts->idle, tcp_on_idle);
        return 0;
    }
    rc = uv_write(&w->req, (uv_stream_t *)&ts->h, w->uvbufs, (unsigned)nuv, tcp_on_write);
    if (rc) {
        for (size_t k = 0; k < nbufs; k++) buf_ref_release(&w->bufs[k]);
        tcp_wreq_recycle(ts, w);
    }
    return rc;
}

static void tcp_on_shutdown(uv_shutdown_t *req, int status)
{
    /* Nothing to do: a failed shutdown shows up as a write or read error. */
}

static int tcp_shutdown(stream *s)
{
    tcp_stream *ts = (tcp_stream *)s;
    if (ts->closing) return CFRP_ECLOSED;
    return uv_shutdown(&ts->sreq, (uv_stream_t *)&ts->h, tcp_on_shutdown);
}

static void tcp_on_closed(uv_handle_t *h)
{
    tcp_stream *ts = h->data;
    if (--ts->pending_closes > 0) return;
    /* Writes that went out before close() report success, as libuv does for its own. */
    tcp_run_done(ts);
    while (ts->spare) {
        tcp_wreq *w = ts->spare;
        ts->spare = w->next;
        free(w);
    }
    if (ts->base.on_close) ts->base.on_close(&ts->base);
    free(ts);
}

static void tcp_close(stream *s)
{
    tcp_stream *ts = (tcp_stream *)s;
    if (ts->closing) return;
    ts->closing = true;
    ts->reading = false;
    ts->pending_closes = 2;
    uv_close((uv_handle_t *)&ts->idle, tcp_on_closed);
    uv_close((uv_handle_t *)&ts->h, tcp_on_closed);
}

static size_t tcp_queued(const stream *s)
{
    return uv_stream_get_write_queue_size((const uv_stream_t *)&((const tcp_stream *)s)->h);
}

static int tcp_peer_addr(const stream *s, struct sockaddr_storage *addr)
{
    int len = sizeof *addr;
    return uv_tcp_getpeername(&((const tcp_stream *)s)->h, (struct sockaddr *)addr, &len);
}

static int tcp_local_addr(const stream *s, struct sockaddr_storage *addr)
{
    int len = sizeof *addr;
    return uv_tcp_getsockname(&((const tcp_stream *)s)->h, (struct sockaddr *)addr, &len);
}

static const struct stream_ops tcp_ops = {
    .name = "tcp",
    .read_start = tcp_read_start,
    .read_stop = tcp_read_stop,
    .write = tcp_write,
    .shutdown = tcp_shutdown,
    .close = tcp_close,
    .queued = tcp_queued,
    .peer_addr = tcp_peer_addr,
    .local_addr = tcp_local_addr,
};

int tcp_stream_new(uv_loop_t *loop, stream **out)
{
    tcp_stream *ts = calloc(1, sizeof *ts);
    if (!ts) return UV_ENOMEM;
    int rc = uv_tcp_init(loop, &ts->h);
    if (rc) {
        free(ts);
        return rc;
    }
    uv_idle_init(loop, &ts->idle);
    ts->base.ops = &tcp_ops;
    ts->h.data = ts;
    ts->idle.data = ts;
    *out = &ts->base;
    return 0;
}

uv_tcp_t *tcp_stream_handle(stream *s)
{
    return &((tcp_stream *)s)->h;
}

int tcp_stream_set_options(stream *s, const struct tcp_options *opts)
{
    uv_tcp_t *h = tcp_stream_handle(s);
    int rc = uv_tcp_nodelay(h, opts->nodelay);
    if (rc) return rc;
    if (opts->keepalive_secs > 0) return uv_tcp_keepalive(h, 1, (unsigned)opts->keepalive_secs);
    return uv_tcp_keepalive(h, 0, 0);
}

/* ---- the listener ---- */

static void tcp_on_connection(uv_stream_t *server, int status)
{
    tcp_listener *l = server->data;
    if (status < 0) return; /* libuv already dropped what it could not accept */
    stream *s;
    if (tcp_stream_new(server->loop, &s)) return;
    if (uv_accept(server, (uv_stream_t *)tcp_stream_handle(s)) != 0) {
        stream_close(s);
        return;
    }
    tcp_stream_set_options(s, &l->opts);
    l->cb(l, s, l->arg);
}

static bool tcp_is_wildcard(const char *host)
{
    return !host || !*host || !strcmp(host, "0.0.0.0") || !strcmp(host, "::");
}

/* Fills addr for host:port; blocking resolution for names. */
static int tcp_resolve_listen(const char *host, int port, struct sockaddr_storage *addr,
                              char *err, size_t errlen)
{
    memset(addr, 0, sizeof *addr);
    struct sockaddr_in *in = (struct sockaddr_in *)addr;
    struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)addr;
    if (inet_pton(AF_INET, host, &in->sin_addr) == 1) {
        in->sin_family = AF_INET;
        in->sin_port = htons((uint16_t)port);
        return 0;
    }
    if (inet_pton(AF_INET6, host, &in6->sin6_addr) == 1) {
        in6->sin6_family = AF_INET6;
        in6->sin6_port = htons((uint16_t)port);
        return 0;
    }
    struct addrinfo hints = {.ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM}, *res;
    if (getaddrinfo(host, NULL, &hints, &res) != 0 || !res) {
        err_set(err, errlen, "listen tcp: lookup %s: no such host", host);
        return CFRP_ENOTFOUND;
    }
    /* Go prefers an IPv4 address for a name. */
    struct addrinfo *pick = res;
    for (struct addrinfo *ai = res; ai; ai = ai->ai_next)
        if (ai->ai_family == AF_INET) {
            pick = ai;
            break;
        }
    memcpy(addr, pick->ai_addr, pick->ai_addrlen);
    in->sin_port = htons((uint16_t)port); /* same offset for IPv6 */
    freeaddrinfo(res);
    return 0;
}

static int tcp_fail(int fd, int code, char *err, size_t errlen, const char *shown, const char *op)
{
    char text[128];
    tcp_strerror(code, text, sizeof text);
    err_set(err, errlen, "listen tcp %s: %s: %s", shown, op, text);
    if (fd >= 0) close(fd);
    return code;
}

static void tcp_listener_on_closed(uv_handle_t *h)
{
    free(h->data);
}

int tcp_listen(uv_loop_t *loop, const char *host, int port, int backlog,
               const struct tcp_options *opts, tcp_accept_cb cb, void *arg,
               tcp_listener **out, char *err, size_t errlen)
{
    char shown[300];
    if (port < 0 || port > 65535) {
        err_set(err, errlen, "listen tcp: address %d: invalid port", port);
        return CFRP_EINVAL;
    }
    struct sockaddr_storage addr;
    bool dual = tcp_is_wildcard(host);
    int fd = -1;
    if (dual) {
        tcp_join_host_port(shown, sizeof shown, host, port);
        memset(&addr, 0, sizeof addr);
        struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)&addr;
        in6->sin6_family = AF_INET6;
        in6->sin6_addr = in6addr_any;
        in6->sin6_port = htons((uint16_t)port);
        fd = socket(AF_INET6, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
        if (fd < 0) { /* no IPv6 on this host */
            struct sockaddr_in *in = (struct sockaddr_in *)&addr;
            memset(&addr, 0, sizeof addr);
            in->sin_family = AF_INET;
            in->sin_addr.s_addr = htonl(INADDR_ANY);
            in->sin_port = htons((uint16_t)port);
        } else {
            int off = 0;
            setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &off, sizeof off);
        }
    } else {
        int rc = tcp_resolve_listen(host, port, &addr, err, errlen);
        if (rc) return rc;
        tcp_format_addr(shown, sizeof shown, (struct sockaddr *)&addr);
    }
    if (fd < 0) fd = socket(addr.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0) return tcp_fail(-1, -errno, err, errlen, shown, "socket");
    int on = 1;
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &on, sizeof on);
    socklen_t alen = addr.ss_family == AF_INET6 ? sizeof(struct sockaddr_in6)
                                                : sizeof(struct sockaddr_in);
    if (bind(fd, (struct sockaddr *)&addr, alen) != 0)
        return tcp_fail(fd, -errno, err, errlen, shown, "bind");

    tcp_listener *l = calloc(1, sizeof *l);
    if (!l) return tcp_fail(fd, UV_ENOMEM, err, errlen, shown, "socket");
    l->cb = cb;
    l->arg = arg;
    l->opts = opts ? *opts : (struct tcp_options){.nodelay = true};
    int rc = uv_tcp_init(loop, &l->h);
    if (rc) {
        free(l);
        return tcp_fail(fd, rc, err, errlen, shown, "socket");
    }
    l->h.data = l;
    rc = uv_tcp_open(&l->h, fd);
    if (rc == 0) rc = uv_listen((uv_stream_t *)&l->h, backlog > 0 ? backlog : 511, tcp_on_connection);
    if (rc) {
        tcp_fail(-1, rc, err, errlen, shown, "listen");
        uv_close((uv_handle_t *)&l->h, tcp_listener_on_closed); /* also closes fd */
        return rc;
    }
    struct sockaddr_storage bound;
    int blen = sizeof bound;
    uv_tcp_getsockname(&l->h, (struct sockaddr *)&bound, &blen);
    l->port = ntohs(((struct sockaddr_in *)&bound)->sin_port);
    *out = l;
    return 0;
}

int tcp_listener_port(const tcp_listener *l)
{
    return l->port;
}

void tcp_listener_close(tcp_listener *l)
{
    uv_close((uv_handle_t *)&l->h, tcp_listener_on_closed);
}
