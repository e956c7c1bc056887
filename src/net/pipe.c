/* In-memory connected stream pair (see pipe.h).
 *
 * Each end keeps the writes it made until the peer has read them. Each end's idle
 * handle does the work that concerns that end: it delivers the peer's queued bytes
 * (and EOF) to this end's reader, and fails this end's writes once the peer is gone. */
#include "net/pipe.h"

#include <stdlib.h>

#include "base/err.h"

/* Buffers handed to a reader per loop iteration, so one busy pipe cannot starve the
 * loop. */
#define PIPE_READS_PER_WAKEUP 64

/* One write() call; owns the references in bufs that have not been delivered yet. */
typedef struct pipe_wreq {
    struct pipe_wreq *next;
    stream_write_cb cb;
    void *arg;
    size_t n, i; /* bufs[i..n) are still to deliver */
    buf_ref bufs[];
} pipe_wreq;

/* One end. Owned by the caller of pipe_pair until stream_close(); then by itself,
 * freed in the idle handle's close callback. */
typedef struct pipe_end {
    stream base;
    uv_idle_t idle;
    struct pipe_end *peer; /* NULL once the peer has been freed */
    pipe_wreq *head, *tail; /* our writes the peer has not read yet */
    size_t queued;
    bool reading;
    bool shut;     /* shutdown() called: EOF follows our queued bytes */
    bool eof_seen; /* our reader got EOF */
    bool closing;
} pipe_end;

static bool pipe_peer_gone(const pipe_end *e)
{
    return !e->peer || e->peer->closing;
}

static bool pipe_has_work(const pipe_end *e)
{
    if (e->closing) return false;
    bool gone = pipe_peer_gone(e);
    if (e->reading && !e->eof_seen && (gone || e->peer->head || e->peer->shut)) return true;
    return gone && e->head;
}

static void pipe_on_idle(uv_idle_t *h);

static void pipe_kick(pipe_end *e)
{
    if (!e || e->closing) return;
    if (pipe_has_work(e))
        uv_idle_start(&e->idle, pipe_on_idle);
    else
        uv_idle_stop(&e->idle);
}

/* Completes and frees every write of e with status. */
static void pipe_fail_writes(pipe_end *e, int status)
{
    while (e->head) {
        pipe_wreq *w = e->head;
        e->head = w->next;
        if (!e->head) e->tail = NULL;
        for (size_t k = w->i; k < w->n; k++) {
            e->queued -= w->bufs[k].len;
            buf_ref_release(&w->bufs[k]);
        }
        if (w->cb) w->cb(&e->base, status, w->arg);
        free(w);
    }
}

/* Delivers the peer's bytes to e's reader, at most PIPE_READS_PER_WAKEUP buffers. */
static void pipe_deliver(pipe_end *e)
{
    int budget = PIPE_READS_PER_WAKEUP;
    while (budget > 0 && e->reading && !e->closing && !e->eof_seen) {
        if (pipe_peer_gone(e)) break;
        pipe_end *p = e->peer;
        pipe_wreq *w = p->head;
        if (!w) break;
        if (w->i == w->n) {
            p->head = w->next;
            if (!p->head) p->tail = NULL;
            if (w->cb) w->cb(&p->base, 0, w->arg);
            free(w);
            continue;
        }
        buf_ref r = w->bufs[w->i];
        w->bufs[w->i] = (buf_ref){NULL, NULL, 0};
        w->i++;
        p->queued -= r.len;
        if (w->i == w->n) { /* last piece: the write completes once it is read */
            p->head = w->next;
            if (!p->head) p->tail = NULL;
        } else {
            w = NULL;
        }
        if (r.len > 0) {
            budget--;
            e->base.on_read(&e->base, (ssize_t)r.len, r);
        } else {
            buf_ref_release(&r);
        }
        if (w) {
            if (w->cb) w->cb(&p->base, p->closing ? UV_ECANCELED : 0, w->arg);
            free(w);
        }
    }
    if (!e->reading || e->closing || e->eof_seen) return;
    if (pipe_peer_gone(e) || (e->peer->shut && !e->peer->head)) {
        e->eof_seen = true;
        e->base.on_read(&e->base, UV_EOF, (buf_ref){NULL, NULL, 0});
    }
}

static void pipe_on_idle(uv_idle_t *h)
{
    pipe_end *e = h->data;
    pipe_deliver(e);
    if (!e->closing && pipe_peer_gone(e)) pipe_fail_writes(e, UV_EPIPE);
    pipe_kick(e);
}

static int pipe_read_start(stream *s)
{
    pipe_end *e = (pipe_end *)s;
    if (e->closing) return CFRP_ECLOSED;
    e->reading = true;
    pipe_kick(e);
    return 0;
}

static int pipe_read_stop(stream *s)
{
    pipe_end *e = (pipe_end *)s;
    e->reading = false;
    pipe_kick(e);
    return 0;
}

static void pipe_release_all(buf_ref *bufs, size_t n)
{
    for (size_t k = 0; k < n; k++) buf_ref_release(&bufs[k]);
}

static int pipe_write(stream *s, buf_ref *bufs, size_t nbufs, stream_write_cb cb, void *arg)
{
    pipe_end *e = (pipe_end *)s;
    if (e->closing) {
        pipe_release_all(bufs, nbufs);
        return CFRP_ECLOSED;
    }
    if (e->shut || pipe_peer_gone(e)) {
        pipe_release_all(bufs, nbufs);
        return UV_EPIPE;
    }
    pipe_wreq *w = malloc(sizeof *w + nbufs * sizeof(buf_ref));
    if (!w) {
        pipe_release_all(bufs, nbufs);
        return UV_ENOMEM;
    }
    w->next = NULL;
    w->cb = cb;
    w->arg = arg;
    w->n = nbufs;
    w->i = 0;
    for (size_t k = 0; k < nbufs; k++) {
        w->bufs[k] = bufs[k];
        e->queued += bufs[k].len;
        bufs[k] = (buf_ref){NULL, NULL, 0};
    }
    if (e->tail)
        e->tail->next = w;
    else
        e->head = w;
    e->tail = w;
    pipe_kick(e->peer);
    return 0;
}

static int pipe_shutdown(stream *s)
{
    pipe_end *e = (pipe_end *)s;
    if (e->closing) return CFRP_ECLOSED;
    if (e->shut) return UV_EPIPE;
    e->shut = true;
    if (e->peer) pipe_kick(e->peer);
    return 0;
}

static void pipe_on_closed(uv_handle_t *h)
{
    pipe_end *e = h->data;
    pipe_fail_writes(e, UV_ECANCELED);
    pipe_end *p = e->peer;
    if (p) {
        p->peer = NULL;
        pipe_kick(p);
    }
    if (e->base.on_close) e->base.on_close(&e->base);
    free(e);
}

static void pipe_close(stream *s)
{
    pipe_end *e = (pipe_end *)s;
    if (e->closing) return;
    e->closing = true;
    e->reading = false;
    uv_idle_stop(&e->idle);
    uv_close((uv_handle_t *)&e->idle, pipe_on_closed);
    if (e->peer) pipe_kick(e->peer);
}

static size_t pipe_queued(const stream *s)
{
    return ((const pipe_end *)s)->queued;
}

static const struct stream_ops pipe_ops = {
    .name = "pipe",
    .read_start = pipe_read_start,
    .read_stop = pipe_read_stop,
    .write = pipe_write,
    .shutdown = pipe_shutdown,
    .close = pipe_close,
    .queued = pipe_queued,
};

int pipe_pair(uv_loop_t *loop, stream **a, stream **b)
{
    pipe_end *x = calloc(1, sizeof *x), *y = calloc(1, sizeof *y);
    if (!x || !y) {
        free(x);
        free(y);
        return UV_ENOMEM;
    }
    pipe_end *ends[2] = {x, y};
    for (int k = 0; k < 2; k++) {
        ends[k]->base.ops = &pipe_ops;
        uv_idle_init(loop, &ends[k]->idle);
        ends[k]->idle.data = ends[k];
        ends[k]->peer = ends[1 - k];
    }
    *a = &x->base;
    *b = &y->base;
    return 0;
}
