/* yamux stream: one multiplexed stream as a `stream` (net/stream.h).
 *
 * Receiving: while the application reads and nothing is buffered, payload slices of
 * the carrier's chunks are handed on without a copy; otherwise they are copied into
 * the stream's own chunks (so a few buffered bytes never pin a whole carrier chunk).
 * Bytes handed to the application count as consumed: the window is topped up to
 * max_stream_window minus what is still buffered, announced once the increase reaches
 * half of it (as fatedier/yamux does). A stream that is not read stops the updates.
 *
 * Sending: writes queue here (queued()) until the session frames them within the
 * peer's window; a write's callback runs when the carrier write carrying its last byte
 * completes. */
#include <stdlib.h>
#include <string.h>

#include "base/err.h"
#include "mux/yamux_internal.h"

static yamux_stream *ys_of(stream *s)
{
    return (yamux_stream *)s;
}

yamux_stream *ys_stream_new(yamux_session *s, uint32_t id)
{
    yamux_stream *st = calloc(1, sizeof *st);
    if (!st) return NULL;
    st->base.ops = &yamux_stream_ops;
    st->sess = s;
    st->id = id;
    st->recv_window = YAMUX_INITIAL_WINDOW;
    st->send_window = YAMUX_INITIAL_WINDOW;
    s->nstreams++;
    return st;
}

static void ys_rq_clear(yamux_stream *st)
{
    while (st->rq_head) {
        ys_rbuf *n = st->rq_head;
        st->rq_head = n->next;
        buf_ref_release(&n->ref);
        free(n);
    }
    st->rq_tail = NULL;
    st->rq_bytes = 0;
}

static void ys_req_free(ys_wreq *r)
{
    for (size_t i = r->idx; i < r->nbufs; i++) buf_ref_release(&r->bufs[i]);
    free(r);
}

void ys_stream_free(yamux_stream *st)
{
    ys_rq_clear(st);
    while (st->sq_head) {
        ys_wreq *r = st->sq_head;
        st->sq_head = r->next;
        ys_req_free(r);
    }
    st->sess->nstreams--;
    free(st);
}

void ys_stream_window_update(yamux_stream *st, uint16_t flags)
{
    yamux_session *s = st->sess;
    if (!st->in_map || st->reset || st->app_closed || s->dead || (st->fin_recv && !flags))
        return;
    uint64_t max = s->cfg.max_stream_window;
    uint64_t used = (uint64_t)st->rq_bytes + st->recv_window;
    uint64_t delta = used < max ? max - used : 0;
    if (delta < max / 2 && !flags) return;
    st->recv_window += (uint32_t)delta;
    ys_ctl_push(s, YAMUX_TYPE_WINDOW_UPDATE, flags, st->id, (uint32_t)delta);
}

void ys_stream_send_fin(yamux_stream *st)
{
    st->fin_sent = true;
    ys_ctl_push(st->sess, YAMUX_TYPE_WINDOW_UPDATE, YAMUX_FLAG_FIN, st->id, 0);
    if (st->fin_recv) ys_unmap(st);
}

/* Appends a copy of len bytes to the receive queue. */
static int ys_rq_append(yamux_stream *st, const char *p, size_t len)
{
    while (len) {
        ys_rbuf *t = st->rq_tail;
        size_t room = 0;
        if (t && t->ref.chunk->refs == 1)
            room = t->ref.chunk->size - (size_t)(t->ref.base + t->ref.len - t->ref.chunk->data);
        if (!room) {
            /* Sized to what arrives (at least 1 KiB, at most a whole chunk), so a
             * stream that buffers a few bytes before it is read holds a few bytes. */
            size_t want = len < 1024 ? 1024 : len < BUF_CHUNK_SIZE ? len : BUF_CHUNK_SIZE;
            ys_rbuf *n = calloc(1, sizeof *n);
            buf_chunk *c = n ? buf_chunk_alloc(want) : NULL;
            if (!c) {
                free(n);
                return UV_ENOMEM;
            }
            n->ref = buf_ref_make(c, 0, 0);
            if (t) t->next = n;
            else st->rq_head = n;
            st->rq_tail = t = n;
            room = c->size;
        }
        size_t take = len < room ? len : room;
        memcpy(t->ref.base + t->ref.len, p, take);
        t->ref.len += take;
        st->rq_bytes += take;
        p += take;
        len -= take;
    }
    return 0;
}

void ys_stream_recv(yamux_stream *st, buf_ref piece)
{
    size_t len = piece.len;
    st->recv_window -= (uint32_t)len;
    if (st->app_closed || st->reset || st->fin_recv) {
        buf_ref_release(&piece);
        return;
    }
    if (st->reading && !st->rq_head) {
        st->busy++;
        st->base.on_read(&st->base, (ssize_t)len, piece);
        st->busy--;
        ys_stream_window_update(st, 0);
        return;
    }
    int rc = ys_rq_append(st, piece.base, len);
    buf_ref_release(&piece);
    if (rc < 0) {
        ys_sess_fail(st->sess, rc);
        return;
    }
    if (st->reading) ys_defer(st);
}

void ys_stream_deliver(yamux_stream *st)
{
    st->busy++;
    while (st->reading && !st->app_closed && !st->eof_delivered && !st->err_delivered) {
        if (st->reset) {
            st->err_delivered = true;
            st->base.on_read(&st->base, UV_ECONNRESET, (buf_ref){0});
        } else if (st->rq_head) {
            ys_rbuf *n = st->rq_head;
            st->rq_head = n->next;
            if (!st->rq_head) st->rq_tail = NULL;
            buf_ref r = n->ref;
            free(n);
            st->rq_bytes -= r.len;
            st->base.on_read(&st->base, (ssize_t)r.len, r);
            ys_stream_window_update(st, 0);
        } else if (st->fin_recv) {
            st->eof_delivered = true;
            st->base.on_read(&st->base, UV_EOF, (buf_ref){0});
        } else if (st->detached) {
            st->err_delivered = true;
            st->base.on_read(&st->base, CFRP_ECLOSED, (buf_ref){0});
        } else {
            break;
        }
    }
    st->busy--;
}

void ys_stream_cancel_writes(yamux_stream *st, int status)
{
    while (st->sq_head) {
        ys_wreq *r = st->sq_head;
        st->sq_head = r->next;
        r->next = NULL;
        r->status = status;
        if (st->done_tail) st->done_tail->next = r;
        else st->done_head = r;
        st->done_tail = r;
    }
    st->sq_tail = NULL;
    st->sq_bytes = 0;
    if (st->done_head) ys_defer(st);
}

void ys_req_complete(ys_wreq *r, int status)
{
    yamux_stream *st = r->st;
    st->inflight_reqs--;
    st->busy++;
    if (r->cb) r->cb(&st->base, status, r->arg);
    ys_req_free(r);
    st->busy--;
    if (st->app_closed && !st->inflight_reqs) ys_defer(st);
    ys_maybe_free_stream(st);
}

void ys_stream_run_deferred(yamux_stream *st)
{
    st->busy++;
    while (st->done_head) {
        ys_wreq *r = st->done_head;
        st->done_head = r->next;
        if (!st->done_head) st->done_tail = NULL;
        if (r->cb) r->cb(&st->base, r->status, r->arg);
        ys_req_free(r);
    }
    if (st->app_closed) {
        if (!st->close_cb_done && !st->inflight_reqs) {
            st->close_cb_done = true;
            if (st->base.on_close) st->base.on_close(&st->base);
        }
    } else {
        ys_stream_deliver(st);
    }
    st->busy--;
    ys_maybe_free_stream(st);
}

/* ---- stream_ops ---- */

static int ys_read_start(stream *s)
{
    yamux_stream *st = ys_of(s);
    if (st->app_closed) return CFRP_ECLOSED;
    st->reading = true;
    if (st->rq_head || st->fin_recv || st->reset || st->detached) ys_defer(st);
    return 0;
}

static int ys_read_stop(stream *s)
{
    ys_of(s)->reading = false;
    return 0;
}

static int ys_write(stream *s, buf_ref *bufs, size_t nbufs, stream_write_cb cb, void *arg)
{
    yamux_stream *st = ys_of(s);
    int rc = 0;
    if (st->app_closed || st->detached) rc = CFRP_ECLOSED;
    else if (st->reset) rc = UV_ECONNRESET;
    else if (st->shutdown_req || st->fin_sent) rc = UV_EPIPE;
    ys_wreq *r = rc ? NULL : calloc(1, sizeof *r + nbufs * sizeof(buf_ref));
    if (!r) {
        for (size_t i = 0; i < nbufs; i++) buf_ref_release(&bufs[i]);
        return rc ? rc : UV_ENOMEM;
    }
    r->st = st;
    r->cb = cb;
    r->arg = arg;
    for (size_t i = 0; i < nbufs; i++) {
        if (bufs[i].len) {
            r->bufs[r->nbufs++] = bufs[i];
            r->left += bufs[i].len;
        } else {
            buf_ref_release(&bufs[i]);
        }
    }
    if (!r->left) {
        /* nothing to send: complete from the deferred phase */
        r->status = 0;
        if (st->done_tail) st->done_tail->next = r;
        else st->done_head = r;
        st->done_tail = r;
        ys_defer(st);
        return 0;
    }
    if (st->sq_tail) st->sq_tail->next = r;
    else st->sq_head = r;
    st->sq_tail = r;
    st->sq_bytes += r->left;
    ys_make_ready(st);
    return 0;
}

static int ys_shutdown(stream *s)
{
    yamux_stream *st = ys_of(s);
    if (st->app_closed || st->detached) return CFRP_ECLOSED;
    if (st->reset) return UV_ECONNRESET;
    if (st->shutdown_req || st->fin_sent) return 0;
    st->shutdown_req = true;
    if (!st->sq_head && st->syn_sent) ys_stream_send_fin(st);
    return 0;
}

static void ys_close(stream *s)
{
    yamux_stream *st = ys_of(s);
    if (st->app_closed) return;
    yamux_session *sess = st->sess;
    st->app_closed = true;
    st->reading = false;
    ys_rq_clear(st);
    ys_stream_cancel_writes(st, UV_ECANCELED);
    if (st->in_map && !st->reset && !sess->dead) {
        if (!st->syn_sent) {
            ys_unmap(st); /* the peer never heard of it */
        } else {
            if (!st->fin_sent) ys_stream_send_fin(st);
            if (st->in_map) ys_tl_add(st, YS_TL_CLOSE);
        }
    }
    ys_defer(st);
}

static size_t ys_queued(const stream *s)
{
    return ((const yamux_stream *)s)->sq_bytes;
}

static int ys_peer_addr(const stream *s, struct sockaddr_storage *addr)
{
    yamux_session *sess = ((const yamux_stream *)s)->sess;
    if (sess->dead) return CFRP_ECLOSED;
    if (!sess->inner->ops->peer_addr) return UV_ENOTSUP;
    return sess->inner->ops->peer_addr(sess->inner, addr);
}

static int ys_local_addr(const stream *s, struct sockaddr_storage *addr)
{
    yamux_session *sess = ((const yamux_stream *)s)->sess;
    if (sess->dead) return CFRP_ECLOSED;
    if (!sess->inner->ops->local_addr) return UV_ENOTSUP;
    return sess->inner->ops->local_addr(sess->inner, addr);
}

const struct stream_ops yamux_stream_ops = {
    .name = "yamux",
    .read_start = ys_read_start,
    .read_stop = ys_read_stop,
    .write = ys_write,
    .shutdown = ys_shutdown,
    .close = ys_close,
    .queued = ys_queued,
    .peer_addr = ys_peer_addr,
    .local_addr = ys_local_addr,
};

uint32_t yamux_stream_id(const stream *s)
{
    return s->ops == &yamux_stream_ops ? ((const yamux_stream *)s)->id : 0;
}

yamux_session *yamux_stream_session(const stream *s)
{
    return s->ops == &yamux_stream_ops ? ((const yamux_stream *)s)->sess : NULL;
}
