/* The QUIC stream as a `stream`: receive queue with flow-control credit returned as the
 * reader consumes, send queue kept until acknowledged (ngtcp2 does not copy stream
 * data), FIN/STOP_SENDING on shutdown and close. Callbacks to the application run only
 * from quic_stream_dispatch (called by the session's processing loop). */
#include <stdlib.h>
#include <string.h>

#include "base/err.h"
#include "quic/quic_internal.h"

static struct quic_stream *qs(stream *s)
{
    return (struct quic_stream *)s;
}

struct quic_stream *quic_stream_new(quic_session *s, int64_t id)
{
    struct quic_stream *st = calloc(1, sizeof(*st)); /* freed by quic_stream_free */
    if (!st) return NULL;
    st->base.ops = &quic_stream_ops;
    st->sess = s;
    st->id = id;
    list_init(&st->accept_link);
    list_init(&st->send_link);
    list_init(&st->rq);
    list_init(&st->sq);
    list_init(&st->wreqs);
    list_push(&s->streams, &st->link);
    s->nstreams++;
    return st;
}

static void chunk_list_free(struct list_link *head)
{
    while (!list_empty(head)) {
        struct quic_chunk *c = LIST_ITEM(head->next, struct quic_chunk, link);
        list_del(&c->link);
        buf_ref_release(&c->ref);
        free(c);
    }
}

void quic_stream_free(struct quic_stream *st)
{
    chunk_list_free(&st->rq);
    chunk_list_free(&st->sq);
    while (!list_empty(&st->wreqs)) {
        struct quic_wreq *w = LIST_ITEM(st->wreqs.next, struct quic_wreq, link);
        list_del(&w->link);
        free(w);
    }
    list_del(&st->accept_link);
    list_del(&st->send_link);
    list_del(&st->link);
    st->sess->nstreams--;
    free(st);
}

/* Returns connection-level credit for n received bytes nobody will read. */
static void credit_conn(struct quic_stream *st, uint64_t n)
{
    if (n && st->sess->conn) {
        ngtcp2_conn_extend_max_offset(st->sess->conn, n);
        st->sess->kick = true;
    }
}

int quic_stream_on_data(struct quic_stream *st, const uint8_t *data, size_t len, bool fin)
{
    if (fin) st->fin_rcvd = true;
    if (!len) return 0;
    if (st->app_closed) { /* reading side was shut: discard, keep the connection open */
        ngtcp2_conn_extend_max_offset(st->sess->conn, len);
        return 0;
    }
    st->rq_bytes += len;
    while (len) {
        struct quic_chunk *tail =
            list_empty(&st->rq) ? NULL : LIST_ITEM(st->rq.prev, struct quic_chunk, link);
        size_t room = 0;
        if (tail && tail->ref.chunk->refs == 1)
            room = tail->ref.chunk->size -
                   (size_t)(tail->ref.base - tail->ref.chunk->data) - tail->ref.len;
        if (room) {
            size_t n = len < room ? len : room;
            memcpy(tail->ref.base + tail->ref.len, data, n);
            tail->ref.len += n;
            data += n;
            len -= n;
            continue;
        }
        /* small chunks while little is queued, so idle streams pin little memory */
        buf_chunk *c = buf_chunk_alloc(st->rq_bytes > 16384 ? BUF_CHUNK_SIZE : 4096);
        struct quic_chunk *node = malloc(sizeof(*node)); /* owned by st->rq */
        if (!c || !node) {
            if (c) buf_chunk_release(c);
            free(node);
            return NGTCP2_ERR_CALLBACK_FAILURE;
        }
        node->ref = buf_ref_make(c, 0, 0);
        node->off = 0;
        list_push(&st->rq, &node->link);
    }
    return 0;
}

void quic_stream_on_acked(struct quic_stream *st, uint64_t offset, uint64_t len)
{
    if (offset + len > st->acked) st->acked = offset + len;
    while (!list_empty(&st->sq)) {
        struct quic_chunk *c = LIST_ITEM(st->sq.next, struct quic_chunk, link);
        if (c->off + c->ref.len > st->acked) break;
        list_del(&c->link);
        buf_ref_release(&c->ref);
        free(c);
    }
}

void quic_stream_drop_send(struct quic_stream *st, int status)
{
    chunk_list_free(&st->sq);
    if (status && !st->write_err && st->sent < st->written) st->write_err = status;
    if (status && !st->write_err && !list_empty(&st->wreqs)) st->write_err = status;
    st->sent = st->written;
    list_del(&st->send_link);
}

bool quic_stream_wants_send(const struct quic_stream *st)
{
    return !st->write_err && !st->ng_closed && !st->fin_sent && !st->data_blocked &&
           (st->sent < st->written || st->shut_wr);
}

size_t quic_stream_pending(struct quic_stream *st, ngtcp2_vec *v, size_t maxv, bool *fin)
{
    size_t n = 0;
    uint64_t end = st->sent;
    for (struct list_link *l = st->sq.next; l != &st->sq && n < maxv; l = l->next) {
        struct quic_chunk *c = LIST_ITEM(l, struct quic_chunk, link);
        if (c->off + c->ref.len <= st->sent) continue;
        size_t skip = c->off < st->sent ? (size_t)(st->sent - c->off) : 0;
        v[n].base = (uint8_t *)c->ref.base + skip;
        v[n].len = c->ref.len - skip;
        end = c->off + c->ref.len;
        n++;
    }
    *fin = st->shut_wr && !st->fin_sent && end == st->written;
    return n;
}

void quic_stream_advance(struct quic_stream *st, size_t n, bool fin)
{
    st->sent += n;
    if (fin && st->sent == st->written) st->fin_sent = true;
}

static void deliver_reads(struct quic_stream *st)
{
    quic_session *s = st->sess;
    while (st->reading && !st->app_closed && !list_empty(&st->rq)) {
        struct quic_chunk *c = LIST_ITEM(st->rq.next, struct quic_chunk, link);
        list_del(&c->link);
        buf_ref r = c->ref;
        free(c);
        size_t n = r.len;
        st->rq_bytes -= n;
        if (s->conn) {
            if (!st->ng_closed) ngtcp2_conn_extend_max_stream_offset(s->conn, st->id, n);
            ngtcp2_conn_extend_max_offset(s->conn, n);
            s->kick = true;
        }
        if (n == 0) {
            buf_ref_release(&r);
            continue;
        }
        st->base.on_read(&st->base, (ssize_t)n, r);
    }
    if (!st->reading || st->app_closed || !list_empty(&st->rq) || st->eof_given) return;
    int code = 0;
    if (st->fin_rcvd)
        code = UV_EOF;
    else if (st->recv_err)
        code = st->recv_err;
    else if (s->dead)
        code = CFRP_ECLOSED;
    if (!code) return;
    st->eof_given = true;
    buf_ref none = {0};
    st->base.on_read(&st->base, code, none);
}

static void deliver_writes(struct quic_stream *st)
{
    while (!list_empty(&st->wreqs)) {
        struct quic_wreq *w = LIST_ITEM(st->wreqs.next, struct quic_wreq, link);
        int status;
        if (st->app_closed)
            status = UV_ECANCELED;
        else if (st->write_err)
            status = st->write_err;
        else if (w->end <= st->sent)
            status = 0;
        else if (st->sess->dead)
            status = CFRP_ECLOSED;
        else
            break;
        list_del(&w->link);
        stream_write_cb cb = w->cb;
        void *arg = w->arg;
        free(w);
        cb(&st->base, status, arg);
    }
}

void quic_stream_dispatch(struct quic_stream *st)
{
    if (!st->accepted) return;
    deliver_reads(st);
    deliver_writes(st);
    if (st->app_closed && !st->close_cb_done) {
        st->close_cb_done = true;
        if (st->base.on_close) st->base.on_close(&st->base);
    }
}

/* ---- stream_ops ---- */

static int op_read_start(stream *s)
{
    struct quic_stream *st = qs(s);
    if (st->app_closed) return CFRP_ECLOSED;
    st->reading = true;
    quic_session_schedule(st->sess);
    return 0;
}

static int op_read_stop(stream *s)
{
    qs(s)->reading = false;
    return 0;
}

static void release_bufs(buf_ref *bufs, size_t n)
{
    for (size_t i = 0; i < n; i++) buf_ref_release(&bufs[i]);
}

static int op_write(stream *s, buf_ref *bufs, size_t nbufs, stream_write_cb cb, void *arg)
{
    struct quic_stream *st = qs(s);
    int rc = 0;
    if (st->app_closed || st->sess->dead)
        rc = CFRP_ECLOSED;
    else if (st->write_err)
        rc = st->write_err;
    else if (st->shut_wr || st->ng_closed)
        rc = UV_EPIPE;
    struct quic_wreq *w = NULL;
    if (!rc && cb && !(w = malloc(sizeof(*w)))) rc = UV_ENOMEM; /* owned by st->wreqs */
    if (rc) {
        release_bufs(bufs, nbufs);
        return rc;
    }
    for (size_t i = 0; i < nbufs; i++) {
        if (!bufs[i].len) {
            buf_ref_release(&bufs[i]);
            continue;
        }
        struct quic_chunk *c = malloc(sizeof(*c)); /* owned by st->sq until acked */
        if (!c) {
            release_bufs(bufs + i, nbufs - i);
            free(w);
            return UV_ENOMEM;
        }
        c->ref = bufs[i];
        c->off = st->written;
        st->written += c->ref.len;
        list_push(&st->sq, &c->link);
    }
    if (w) {
        w->end = st->written;
        w->cb = cb;
        w->arg = arg;
        list_push(&st->wreqs, &w->link);
    }
    if (quic_stream_wants_send(st) && list_empty(&st->send_link))
        list_push(&st->sess->send_q, &st->send_link);
    quic_session_schedule(st->sess);
    return 0;
}

static int op_shutdown(stream *s)
{
    struct quic_stream *st = qs(s);
    if (st->app_closed || st->sess->dead) return CFRP_ECLOSED;
    st->shut_wr = true;
    if (quic_stream_wants_send(st) && list_empty(&st->send_link))
        list_push(&st->sess->send_q, &st->send_link);
    quic_session_schedule(st->sess);
    return 0;
}

static void op_close(stream *s)
{
    struct quic_stream *st = qs(s);
    quic_session *sess = st->sess;
    if (st->app_closed) return;
    st->app_closed = true;
    st->reading = false;
    st->accepted = true; /* so dispatch runs on_close (also for refused streams) */
    list_del(&st->accept_link);
    uint64_t unread = st->rq_bytes;
    chunk_list_free(&st->rq);
    st->rq_bytes = 0;
    credit_conn(st, unread);
    if (sess->conn && !st->ng_closed) {
        if (!st->fin_rcvd && !st->recv_err) ngtcp2_conn_shutdown_stream_read(sess->conn, st->id, 0);
        st->shut_wr = true;
        if (quic_stream_wants_send(st) && list_empty(&st->send_link))
            list_push(&sess->send_q, &st->send_link);
    }
    quic_session_schedule(sess);
}

static size_t op_queued(const stream *s)
{
    const struct quic_stream *st = (const struct quic_stream *)s;
    return st->write_err ? 0 : (size_t)(st->written - st->sent);
}

static int op_peer_addr(const stream *s, struct sockaddr_storage *addr)
{
    return quic_session_peer_addr(((const struct quic_stream *)s)->sess, addr);
}

static int op_local_addr(const stream *s, struct sockaddr_storage *addr)
{
    const quic_session *sess = ((const struct quic_stream *)s)->sess;
    if (!sess->udp) return CFRP_ECLOSED;
    memcpy(addr, &sess->udp->local, sizeof(*addr));
    return 0;
}

const struct stream_ops quic_stream_ops = {
    .name = "quic",
    .read_start = op_read_start,
    .read_stop = op_read_stop,
    .write = op_write,
    .shutdown = op_shutdown,
    .close = op_close,
    .queued = op_queued,
    .peer_addr = op_peer_addr,
    .local_addr = op_local_addr,
};

int64_t quic_stream_id(const stream *st)
{
    return st && st->ops == &quic_stream_ops ? ((const struct quic_stream *)st)->id : -1;
}

quic_session *quic_stream_session(const stream *st)
{
    return st && st->ops == &quic_stream_ops ? ((const struct quic_stream *)st)->sess : NULL;
}
