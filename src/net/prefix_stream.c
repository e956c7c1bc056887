/* A stream that first reads back bytes already taken from the stream below (frps's
 * bind-port classification bytes, or bytes after a first frame), then passes everything
 * through. Used where the next layer cannot take such bytes itself (yamux, joins). */
#include "net/prefix_stream.h"

#include <stdlib.h>

#include "base/err.h"

typedef struct prefix_stream {
    stream s;
    stream *inner;     /* owned */
    buf_ref head;      /* not yet delivered; owned */
    uv_timer_t timer;  /* delivers head from the loop, never inside read_start */
    bool reading, closed, inner_closed, timer_closed;
} prefix_stream;

/* Write requests pass the outer stream to the caller's callback. */
struct ps_wreq {
    prefix_stream *ps;
    stream_write_cb cb;
    void *arg;
};

static void ps_maybe_free(prefix_stream *ps)
{
    if (!ps->inner_closed || !ps->timer_closed) return;
    if (ps->s.on_close) ps->s.on_close(&ps->s);
    free(ps);
}

static void ps_on_inner_read(stream *in, ssize_t nread, buf_ref data)
{
    prefix_stream *ps = in->data;
    if (ps->closed) {
        buf_ref_release(&data);
        return;
    }
    ps->s.on_read(&ps->s, nread, data);
}

static void ps_timer_cb(uv_timer_t *t)
{
    prefix_stream *ps = t->data;
    if (!ps->reading || ps->closed) return;
    if (ps->head.chunk) {
        buf_ref h = ps->head;
        ps->head = (buf_ref){0};
        ps->s.on_read(&ps->s, (ssize_t)h.len, h);
    }
    if (ps->reading && !ps->closed) {
        int rc = stream_read_start(ps->inner, ps_on_inner_read);
        if (rc) ps->s.on_read(&ps->s, rc, (buf_ref){0});
    }
}

static int ps_read_start(stream *s)
{
    prefix_stream *ps = (prefix_stream *)s;
    if (ps->closed) return CFRP_ECLOSED;
    ps->reading = true;
    if (ps->head.chunk) return uv_timer_start(&ps->timer, ps_timer_cb, 0, 0);
    return stream_read_start(ps->inner, ps_on_inner_read);
}

static int ps_read_stop(stream *s)
{
    prefix_stream *ps = (prefix_stream *)s;
    ps->reading = false;
    if (ps->closed) return 0;
    uv_timer_stop(&ps->timer);
    return stream_read_stop(ps->inner);
}

static void ps_on_inner_write(stream *in, int status, void *arg)
{
    struct ps_wreq *w = arg;
    if (w->cb) w->cb(&w->ps->s, status, w->arg);
    free(w);
}

static int ps_write(stream *s, buf_ref *bufs, size_t n, stream_write_cb cb, void *arg)
{
    prefix_stream *ps = (prefix_stream *)s;
    struct ps_wreq *w = malloc(sizeof *w);
    if (!w || ps->closed) {
        free(w);
        for (size_t i = 0; i < n; i++) buf_ref_release(&bufs[i]);
        return w ? CFRP_ECLOSED : UV_ENOMEM;
    }
    *w = (struct ps_wreq){ps, cb, arg};
    int rc = stream_write(ps->inner, bufs, n, ps_on_inner_write, w);
    if (rc) free(w);
    return rc;
}

static int ps_shutdown(stream *s)
{
    prefix_stream *ps = (prefix_stream *)s;
    return ps->closed ? CFRP_ECLOSED : stream_shutdown(ps->inner);
}

static void ps_on_inner_closed(stream *in)
{
    prefix_stream *ps = in->data;
    ps->inner_closed = true;
    ps_maybe_free(ps);
}

static void ps_on_timer_closed(uv_handle_t *h)
{
    prefix_stream *ps = h->data;
    ps->timer_closed = true;
    ps_maybe_free(ps);
}

static void ps_close(stream *s)
{
    prefix_stream *ps = (prefix_stream *)s;
    if (ps->closed) return;
    ps->closed = true;
    ps->reading = false;
    buf_ref_release(&ps->head);
    uv_close((uv_handle_t *)&ps->timer, ps_on_timer_closed);
    stream_close(ps->inner);
}

static size_t ps_queued(const stream *s)
{
    const prefix_stream *ps = (const prefix_stream *)s;
    return ps->inner_closed ? 0 : stream_queued(ps->inner);
}

static int ps_peer_addr(const stream *s, struct sockaddr_storage *addr)
{
    const stream *in = ((const prefix_stream *)s)->inner;
    return in->ops->peer_addr ? in->ops->peer_addr(in, addr) : UV_ENOTSUP;
}

static int ps_local_addr(const stream *s, struct sockaddr_storage *addr)
{
    const stream *in = ((const prefix_stream *)s)->inner;
    return in->ops->local_addr ? in->ops->local_addr(in, addr) : UV_ENOTSUP;
}

static const struct stream_ops ps_ops = {
    .name = "prefix",
    .read_start = ps_read_start,
    .read_stop = ps_read_stop,
    .write = ps_write,
    .shutdown = ps_shutdown,
    .close = ps_close,
    .queued = ps_queued,
    .peer_addr = ps_peer_addr,
    .local_addr = ps_local_addr,
};

int prefix_stream_new(uv_loop_t *loop, stream *inner, buf_ref head, stream **out)
{
    prefix_stream *ps = calloc(1, sizeof *ps);
    if (!ps) {
        buf_ref_release(&head);
        return UV_ENOMEM;
    }
    ps->s.ops = &ps_ops;
    ps->inner = inner;
    if (head.len > 0)
        ps->head = head;
    else
        buf_ref_release(&head);
    uv_timer_init(loop, &ps->timer);
    ps->timer.data = ps;
    inner->data = ps;
    inner->on_close = ps_on_inner_closed;
    *out = &ps->s;
    return 0;
}
