/* Plumbing shared by the AES-CFB and snappy stream filters (see filter.h): read
 * queue and pump with backpressure, write requests, close. */
#include "proto/filter.h"

#include <stdbool.h>
#include <stdlib.h>

#include "base/err.h"

#define PF_READ_QUEUE 8

/* One write: lives until the inner write's callback (or, for a write that produced no
 * bytes, until the loop completes it). out holds the references given to inner. */
struct pf_write_req {
    struct pf_write_req *next; /* in the zero-output list only */
    struct pf_stream *pf;
    stream_write_cb cb;
    void *arg;
    buf_ref out[];
};

typedef struct pf_stream {
    stream s; /* first: the filter is used as a stream */
    stream *inner; /* owned; closed with the filter */
    const struct pfilter_codec *codec;
    struct stream_ops ops; /* pf_ops with the codec's name */
    void *state;    /* owned by the codec's destroy */
    uv_timer_t timer; /* runs held reads and zero-output write completions */
    int pending_closes; /* inner stream and the timer */
    bool closed;

    buf_ref rq[PF_READ_QUEUE]; /* ring of undecoded input, owned */
    size_t rq_head, rq_len;
    ssize_t rq_status; /* EOF or error, delivered after the queued input */
    bool read_done;    /* rq_status was delivered */
    bool reading;      /* the user wants data */
    bool inner_reading;
    bool in_pump;

    struct pf_write_req *zero_head, *zero_tail; /* writes that produced no bytes */
} pf_stream;

static void pf_maybe_free(pf_stream *pf)
{
    if (--pf->pending_closes > 0)
        return;
    if (pf->s.on_close != NULL)
        pf->s.on_close(&pf->s);
    pf->codec->destroy(pf->state);
    free(pf);
}

static void pf_on_timer_closed(uv_handle_t *h)
{
    pf_maybe_free(h->data);
}

static void pf_on_inner_closed(stream *in)
{
    pf_maybe_free(in->data);
}

/* ---- read side ---- */

static void pf_on_inner_read(stream *in, ssize_t nread, buf_ref data);

static void pf_rq_pop(pf_stream *pf)
{
    buf_ref_release(&pf->rq[pf->rq_head]);
    pf->rq_head = (pf->rq_head + 1) % PF_READ_QUEUE;
    pf->rq_len--;
}

static void pf_pump(pf_stream *pf);

static void pf_timer_cb(uv_timer_t *t)
{
    pf_stream *pf = t->data;
    while (pf->zero_head != NULL && !pf->closed) {
        struct pf_write_req *req = pf->zero_head;
        pf->zero_head = req->next;
        if (pf->zero_head == NULL)
            pf->zero_tail = NULL;
        if (req->cb != NULL)
            req->cb(&pf->s, 0, req->arg);
        free(req);
    }
    pf_pump(pf);
}

static void pf_timer_kick(pf_stream *pf)
{
    if (!uv_is_active((uv_handle_t *)&pf->timer))
        uv_timer_start(&pf->timer, pf_timer_cb, 0, 0);
}

/* Reads from inner exactly when the user wants data and no input is held. */
static void pf_sync_inner(pf_stream *pf)
{
    bool want = !pf->closed && pf->reading && pf->rq_len == 0 && pf->rq_status == 0 &&
                !pf->read_done;
    if (want && !pf->inner_reading) {
        int rc = stream_read_start(pf->inner, pf_on_inner_read);
        if (rc < 0) {
            pf->rq_status = rc;
            pf_timer_kick(pf);
            return;
        }
        pf->inner_reading = true;
    } else if (!want && pf->inner_reading) {
        stream_read_stop(pf->inner);
        pf->inner_reading = false;
    }
}

/* Decodes held input piece by piece while the user reads. */
static void pf_pump(pf_stream *pf)
{
    if (pf->in_pump)
        return;
    pf->in_pump = true;
    while (!pf->closed && pf->reading) {
        if (pf->rq_len == 0) {
            if (pf->rq_status == 0 || pf->read_done)
                break;
            ssize_t st = pf->rq_status;
            if (st == UV_EOF) {
                int rc = pf->codec->finish(pf->state);
                if (rc < 0)
                    st = rc;
            }
            pf->read_done = true;
            pf->s.on_read(&pf->s, st, (buf_ref){0});
            break;
        }
        buf_ref *head = &pf->rq[pf->rq_head];
        buf_ref out = {0};
        int rc = pf->codec->decode(pf->state, head, &out);
        if (head->chunk == NULL || head->len == 0)
            pf_rq_pop(pf);
        if (rc < 0) {
            buf_ref_release(&out);
            while (pf->rq_len > 0)
                pf_rq_pop(pf);
            pf->rq_status = rc;
            continue;
        }
        if (out.chunk != NULL && out.len > 0)
            pf->s.on_read(&pf->s, (ssize_t)out.len, out);
        else
            buf_ref_release(&out);
    }
    pf->in_pump = false;
    pf_sync_inner(pf);
}

static void pf_on_inner_read(stream *in, ssize_t nread, buf_ref data)
{
    pf_stream *pf = in->data;
    if (pf->closed || pf->read_done || pf->rq_status != 0 || nread == 0 ||
        (nread > 0 && data.len == 0)) {
        buf_ref_release(&data);
        return;
    }
    if (nread < 0) {
        buf_ref_release(&data);
        pf->rq_status = nread;
    } else if (pf->rq_len == PF_READ_QUEUE) {
        buf_ref_release(&data);
        pf->rq_status = UV_ENOBUFS;
    } else {
        pf->rq[(pf->rq_head + pf->rq_len) % PF_READ_QUEUE] = data;
        pf->rq_len++;
    }
    pf_pump(pf);
}

static int pf_read_start(stream *s)
{
    pf_stream *pf = (pf_stream *)s;
    if (pf->closed)
        return CFRP_ECLOSED;
    pf->reading = true;
    if (pf->in_pump)
        return 0;
    if (pf->rq_len > 0 || (pf->rq_status != 0 && !pf->read_done)) {
        pf_timer_kick(pf); /* held data goes out from the loop */
        return 0;
    }
    pf_sync_inner(pf);
    return 0;
}

static int pf_read_stop(stream *s)
{
    pf_stream *pf = (pf_stream *)s;
    pf->reading = false;
    if (!pf->in_pump && !pf->closed)
        pf_sync_inner(pf);
    return 0;
}

/* ---- write side ---- */

static void pf_on_inner_write(stream *in, int status, void *arg)
{
    struct pf_write_req *req = arg;
    if (req->cb != NULL)
        req->cb(&req->pf->s, status, req->arg);
    free(req);
}

static int pf_write(stream *s, buf_ref *bufs, size_t nbufs, stream_write_cb cb, void *arg)
{
    pf_stream *pf = (pf_stream *)s;
    size_t total = 0;
    for (size_t i = 0; i < nbufs; i++)
        total += bufs[i].len;
    if (pf->closed) {
        for (size_t i = 0; i < nbufs; i++)
            buf_ref_release(&bufs[i]);
        return CFRP_ECLOSED;
    }
    size_t max_out = pf->codec->max_out(pf->state, nbufs, total);
    struct pf_write_req *req = malloc(sizeof(*req) + max_out * sizeof(buf_ref));
    if (req == NULL) {
        for (size_t i = 0; i < nbufs; i++)
            buf_ref_release(&bufs[i]);
        return UV_ENOMEM;
    }
    *req = (struct pf_write_req){.pf = pf, .cb = cb, .arg = arg};
    size_t nout = 0;
    int rc = pf->codec->encode(pf->state, bufs, nbufs, total, req->out, &nout);
    if (rc < 0) {
        free(req);
        return rc;
    }
    if (nout == 0) {
        if (pf->zero_tail != NULL)
            pf->zero_tail->next = req;
        else
            pf->zero_head = req;
        pf->zero_tail = req;
        pf_timer_kick(pf);
        return 0;
    }
    rc = stream_write(pf->inner, req->out, nout, pf_on_inner_write, req);
    if (rc < 0)
        free(req);
    return rc;
}

static int pf_shutdown(stream *s)
{
    pf_stream *pf = (pf_stream *)s;
    if (pf->closed)
        return CFRP_ECLOSED;
    return stream_shutdown(pf->inner);
}

static void pf_close(stream *s)
{
    pf_stream *pf = (pf_stream *)s;
    if (pf->closed)
        return;
    pf->closed = true;
    pf->reading = false;
    while (pf->rq_len > 0)
        pf_rq_pop(pf);
    while (pf->zero_head != NULL) {
        struct pf_write_req *req = pf->zero_head;
        pf->zero_head = req->next;
        if (req->cb != NULL)
            req->cb(&pf->s, UV_ECANCELED, req->arg);
        free(req);
    }
    pf->zero_tail = NULL;
    uv_close((uv_handle_t *)&pf->timer, pf_on_timer_closed);
    stream_close(pf->inner);
}

static size_t pf_queued(const stream *s)
{
    const pf_stream *pf = (const pf_stream *)s;
    return pf->closed ? 0 : stream_queued(pf->inner);
}

static int pf_peer_addr(const stream *s, struct sockaddr_storage *addr)
{
    const pf_stream *pf = (const pf_stream *)s;
    if (pf->inner->ops->peer_addr == NULL)
        return UV_ENOTSUP;
    return pf->inner->ops->peer_addr(pf->inner, addr);
}

static int pf_local_addr(const stream *s, struct sockaddr_storage *addr)
{
    const pf_stream *pf = (const pf_stream *)s;
    if (pf->inner->ops->local_addr == NULL)
        return UV_ENOTSUP;
    return pf->inner->ops->local_addr(pf->inner, addr);
}

static const struct stream_ops pf_ops = {
    .read_start = pf_read_start,
    .read_stop = pf_read_stop,
    .write = pf_write,
    .shutdown = pf_shutdown,
    .close = pf_close,
    .queued = pf_queued,
    .peer_addr = pf_peer_addr,
    .local_addr = pf_local_addr,
};

int pfilter_new(uv_loop_t *loop, stream *inner, const struct pfilter_codec *codec, void *state,
                const void *head, size_t head_len, stream **out)
{
    pf_stream *pf = calloc(1, sizeof(*pf));
    if (pf == NULL) {
        codec->destroy(state);
        return UV_ENOMEM;
    }
    if (head_len > 0) {
        pf->rq[0] = buf_ref_copy(head, head_len);
        if (pf->rq[0].chunk == NULL) {
            free(pf);
            codec->destroy(state);
            return UV_ENOMEM;
        }
        pf->rq_len = 1;
    }
    pf->ops = pf_ops;
    pf->ops.name = codec->name;
    pf->s.ops = &pf->ops;
    pf->inner = inner;
    pf->codec = codec;
    pf->state = state;
    pf->pending_closes = 2;
    uv_timer_init(loop, &pf->timer);
    pf->timer.data = pf;
    inner->data = pf;
    inner->on_close = pf_on_inner_closed;
    *out = &pf->s;
    return 0;
}
