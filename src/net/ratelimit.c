/* Token-bucket bandwidth limiter and the stream filter that applies it (see ratelimit.h
 * and protocol.md section 8). Reads and writes each wait on their own uv timer; the
 * bucket they draw from may be shared with other filters on the same loop. */
#include "net/ratelimit.h"

#include <math.h>
#include <stdbool.h>
#include <stdlib.h>

#include "base/err.h"

/* Inner reads held while the filter waits. The filter stops the inner stream as soon
 * as it must wait, so one entry is the norm; more means the inner stream delivered
 * after read_stop, and past this bound the filter reports UV_ENOBUFS. */
#define RL_READ_QUEUE 8
/* Buffers handed to the inner stream in one write. */
#define RL_PIECE_BUFS 16

struct ratelimit {
    unsigned refs;
    double rate;      /* tokens (bytes) per second */
    double burst;     /* bucket size in bytes */
    double tokens;    /* may go negative: reserved ahead of time */
    uint64_t last_ns; /* when tokens was last brought up to date */
    bool started;     /* last_ns is set */
};

ratelimit *ratelimit_new(uint64_t bytes_per_sec)
{
    if (bytes_per_sec == 0)
        return NULL;
    ratelimit *rl = calloc(1, sizeof(*rl));
    if (rl == NULL)
        return NULL;
    rl->refs = 1;
    rl->rate = (double)bytes_per_sec;
    rl->burst = (double)bytes_per_sec;
    rl->tokens = rl->burst;
    return rl;
}

void ratelimit_retain(ratelimit *rl)
{
    rl->refs++;
}

void ratelimit_release(ratelimit *rl)
{
    if (rl != NULL && --rl->refs == 0)
        free(rl);
}

uint64_t ratelimit_burst(const ratelimit *rl)
{
    return (uint64_t)rl->burst;
}

uint64_t ratelimit_reserve(ratelimit *rl, size_t n, uint64_t now_ns)
{
    if (!rl->started) {
        rl->started = true;
        rl->last_ns = now_ns;
    }
    if (now_ns > rl->last_ns) {
        rl->tokens += (double)(now_ns - rl->last_ns) * rl->rate / 1e9;
        if (rl->tokens > rl->burst)
            rl->tokens = rl->burst;
        rl->last_ns = now_ns;
    }
    rl->tokens -= (double)n;
    if (rl->tokens >= 0)
        return 0;
    return (uint64_t)ceil(-rl->tokens * 1e9 / rl->rate);
}

/* One write() call of the user. Owned by the filter from write() until its callback has
 * run; while it has unsent bytes it sits in the filter's write queue, after that only
 * the inner stream's pending callbacks (inflight) refer to it. */
struct rl_write_req {
    struct rl_write_req *next;
    stream_write_cb cb;
    void *arg;
    size_t cur;        /* first buffer not yet (fully) passed on */
    size_t unsent;     /* bytes not yet passed to the inner stream */
    unsigned inflight; /* inner writes whose callback has not run */
    bool queued;       /* still in the write queue */
    int status;        /* first error seen */
    size_t nbufs;
    buf_ref bufs[];    /* the references not yet passed on are owned here */
};

typedef struct rl_stream {
    stream s; /* first: the filter is used as a stream */
    uv_loop_t *loop;
    stream *inner; /* owned; closed with the filter */
    ratelimit *rl; /* one reference */
    uv_timer_t read_timer;
    uv_timer_t write_timer;
    int pending_closes; /* inner stream and the two timers */
    bool closed;

    /* Read side: bytes read from inner, handed on piece by piece. */
    buf_ref rq[RL_READ_QUEUE]; /* ring, owned */
    size_t rq_head, rq_len;
    ssize_t rq_status; /* EOF or error from inner, delivered after the queued bytes */
    bool read_done;    /* rq_status was delivered: the read side is over */
    bool reading;      /* the user wants data */
    bool inner_reading;
    bool in_read_pump;
    bool read_reserved; /* tokens for the head piece are taken */
    uint64_t read_deadline_ns;
    size_t read_piece;

    /* Write side. */
    struct rl_write_req *wq_head, *wq_tail;
    size_t wq_bytes; /* unsent bytes of all queued requests */
    bool write_reserved;
    uint64_t write_deadline_ns;
    size_t write_piece;
    bool shutdown_pending; /* shut down inner once the queue has drained */
    bool shut;
} rl_stream;

static void rl_maybe_free(rl_stream *rs)
{
    if (--rs->pending_closes > 0)
        return;
    if (rs->s.on_close != NULL)
        rs->s.on_close(&rs->s);
    ratelimit_release(rs->rl);
    free(rs);
}

static void rl_on_timer_closed(uv_handle_t *h)
{
    rl_maybe_free(h->data);
}

static void rl_on_inner_closed(stream *in)
{
    rl_maybe_free(in->data);
}

/* Milliseconds (rounded up) until deadline_ns; at least 1 when still ahead. */
static uint64_t rl_ms_until(uint64_t deadline_ns, uint64_t now_ns)
{
    return (deadline_ns - now_ns + 999999) / 1000000;
}

/* ---- read side ---------------------------------------------------------------- */

static void rl_on_inner_read(stream *in, ssize_t nread, buf_ref data);
static void rl_read_timer_cb(uv_timer_t *t);

/* Reads from inner exactly when the user wants data and nothing is held back. */
static void rl_read_sync_inner(rl_stream *rs)
{
    bool want = !rs->closed && rs->reading && rs->rq_len == 0 && rs->rq_status == 0 &&
                !rs->read_done;
    if (want && !rs->inner_reading) {
        int rc = stream_read_start(rs->inner, rl_on_inner_read);
        if (rc < 0) {
            rs->rq_status = rc;
            uv_timer_start(&rs->read_timer, rl_read_timer_cb, 0, 0);
            return;
        }
        rs->inner_reading = true;
    } else if (!want && rs->inner_reading) {
        stream_read_stop(rs->inner);
        rs->inner_reading = false;
    }
}

/* Hands held bytes to the user while tokens allow, then waits or reads on. */
static void rl_read_pump(rl_stream *rs)
{
    if (rs->in_read_pump)
        return;
    rs->in_read_pump = true;
    uint64_t burst = ratelimit_burst(rs->rl);
    while (!rs->closed && rs->reading) {
        if (rs->rq_len == 0) {
            if (rs->rq_status == 0 || rs->read_done)
                break;
            /* After EOF or an error nothing more is read or delivered. */
            rs->read_done = true;
            rs->s.on_read(&rs->s, rs->rq_status, (buf_ref){0});
            break;
        }
        buf_ref *head = &rs->rq[rs->rq_head];
        uint64_t now = uv_hrtime();
        if (!rs->read_reserved) {
            rs->read_piece = head->len < burst ? head->len : (size_t)burst;
            rs->read_deadline_ns = now + ratelimit_reserve(rs->rl, rs->read_piece, now);
            rs->read_reserved = true;
        }
        if (rs->read_deadline_ns > now) {
            if (rs->inner_reading) {
                stream_read_stop(rs->inner);
                rs->inner_reading = false;
            }
            uv_timer_start(&rs->read_timer, rl_read_timer_cb,
                           rl_ms_until(rs->read_deadline_ns, now), 0);
            rs->in_read_pump = false;
            return;
        }
        rs->read_reserved = false;
        buf_ref out;
        if (rs->read_piece == head->len) {
            out = *head;
            *head = (buf_ref){0};
            rs->rq_head = (rs->rq_head + 1) % RL_READ_QUEUE;
            rs->rq_len--;
        } else {
            out = buf_ref_dup(head);
            out.len = rs->read_piece;
            head->base += rs->read_piece;
            head->len -= rs->read_piece;
        }
        rs->s.on_read(&rs->s, (ssize_t)out.len, out);
    }
    rs->in_read_pump = false;
    rl_read_sync_inner(rs);
}

static void rl_read_timer_cb(uv_timer_t *t)
{
    rl_read_pump(t->data);
}

static void rl_on_inner_read(stream *in, ssize_t nread, buf_ref data)
{
    rl_stream *rs = in->data;
    if (rs->closed || rs->read_done || nread == 0) {
        buf_ref_release(&data);
        return;
    }
    if (nread < 0) {
        buf_ref_release(&data);
        if (rs->rq_status == 0)
            rs->rq_status = nread;
    } else if (rs->rq_len == RL_READ_QUEUE) {
        buf_ref_release(&data);
        if (rs->rq_status == 0)
            rs->rq_status = UV_ENOBUFS;
    } else if (data.len > 0) {
        rs->rq[(rs->rq_head + rs->rq_len) % RL_READ_QUEUE] = data;
        rs->rq_len++;
    } else {
        buf_ref_release(&data);
    }
    /* Waiting for tokens: the timer will hand the bytes on. */
    if (rs->read_reserved && uv_is_active((uv_handle_t *)&rs->read_timer)) {
        rl_read_sync_inner(rs);
        return;
    }
    rl_read_pump(rs);
}

static int rl_read_start(stream *s)
{
    rl_stream *rs = (rl_stream *)s;
    if (rs->closed)
        return CFRP_ECLOSED;
    rs->reading = true;
    if (rs->in_read_pump)
        return 0;
    if (rs->rq_len > 0 || (rs->rq_status != 0 && !rs->read_done)) {
        /* Held bytes go out from the loop, never from inside read_start. */
        if (!uv_is_active((uv_handle_t *)&rs->read_timer))
            uv_timer_start(&rs->read_timer, rl_read_timer_cb, 0, 0);
        return 0;
    }
    rl_read_sync_inner(rs);
    return 0;
}

static int rl_read_stop(stream *s)
{
    rl_stream *rs = (rl_stream *)s;
    rs->reading = false;
    if (!rs->in_read_pump && !rs->closed)
        rl_read_sync_inner(rs);
    return 0;
}

/* ---- write side --------------------------------------------------------------- */

/* Bytes in the next piece of req: at most limit bytes in at most RL_PIECE_BUFS
 * buffers. rl_piece_take() walks the buffers by the same rule. */
static size_t rl_piece_plan(const struct rl_write_req *req, size_t limit)
{
    size_t rem = limit, k = 0;
    for (size_t i = req->cur; i < req->nbufs && k < RL_PIECE_BUFS; i++, k++) {
        size_t len = req->bufs[i].len;
        if (len > rem) {
            rem = 0; /* a partial buffer (or none, when rem was 0) ends the piece */
            break;
        }
        rem -= len;
    }
    return limit - rem;
}

/* Moves the next `bytes` bytes of req into out (up to RL_PIECE_BUFS references) and
 * returns how many references it filled. */
static size_t rl_piece_take(struct rl_write_req *req, size_t bytes, buf_ref *out)
{
    size_t rem = bytes, k = 0;
    while (req->cur < req->nbufs && k < RL_PIECE_BUFS) {
        buf_ref *b = &req->bufs[req->cur];
        if (b->len <= rem) {
            rem -= b->len;
            out[k++] = *b;
            *b = (buf_ref){0};
            req->cur++;
        } else {
            if (rem > 0) {
                out[k] = buf_ref_dup(b);
                out[k++].len = rem;
                b->base += rem;
                b->len -= rem;
            }
            break;
        }
    }
    req->unsent -= bytes;
    return k;
}

static void rl_req_release_bufs(struct rl_write_req *req)
{
    for (size_t i = req->cur; i < req->nbufs; i++)
        buf_ref_release(&req->bufs[i]);
    req->cur = req->nbufs;
    req->unsent = 0;
}

static void rl_dequeue_head(rl_stream *rs)
{
    struct rl_write_req *req = rs->wq_head;
    rs->wq_head = req->next;
    if (rs->wq_head == NULL)
        rs->wq_tail = NULL;
    req->next = NULL;
    req->queued = false;
}

static void rl_req_complete(rl_stream *rs, struct rl_write_req *req)
{
    if (req->cb != NULL)
        req->cb(&rs->s, req->status, req->arg);
    free(req);
}

static void rl_on_inner_write(stream *in, int status, void *arg)
{
    struct rl_write_req *req = arg;
    rl_stream *rs = in->data;
    if (status < 0 && req->status == 0)
        req->status = status;
    req->inflight--;
    if (req->inflight == 0 && !req->queued)
        rl_req_complete(rs, req);
}

static void rl_write_timer_cb(uv_timer_t *t);

/* Passes queued bytes to inner piece by piece as tokens allow. A synchronous failure of
 * sync_req (the request write() is adding) is returned instead of reported through its
 * callback; any other failed request completes through its callback. */
static int rl_write_pump(rl_stream *rs, struct rl_write_req *sync_req)
{
    uint64_t burst = ratelimit_burst(rs->rl);
    while (!rs->closed && rs->wq_head != NULL) {
        struct rl_write_req *req = rs->wq_head;
        uint64_t now = uv_hrtime();
        if (!rs->write_reserved) {
            rs->write_piece = rl_piece_plan(req, (size_t)burst);
            rs->write_deadline_ns = now + ratelimit_reserve(rs->rl, rs->write_piece, now);
            rs->write_reserved = true;
        }
        if (rs->write_deadline_ns > now) {
            uv_timer_start(&rs->write_timer, rl_write_timer_cb,
                           rl_ms_until(rs->write_deadline_ns, now), 0);
            return 0;
        }
        rs->write_reserved = false;
        buf_ref piece[RL_PIECE_BUFS];
        size_t k = rl_piece_take(req, rs->write_piece, piece);
        rs->wq_bytes -= rs->write_piece;
        if (req->cur == req->nbufs)
            rl_dequeue_head(rs);
        req->inflight++;
        int rc = stream_write(rs->inner, piece, k, rl_on_inner_write, req);
        if (rc < 0) {
            req->inflight--;
            req->status = rc;
            rs->wq_bytes -= req->unsent;
            rl_req_release_bufs(req);
            if (req->queued)
                rl_dequeue_head(rs);
            if (req->inflight == 0) {
                if (req == sync_req)
                    return rc;
                rl_req_complete(rs, req);
            }
        }
    }
    if (!rs->closed && rs->wq_head == NULL && rs->shutdown_pending) {
        rs->shutdown_pending = false;
        rs->shut = true;
        /* Nobody is left to hear a failure here; the next read or write shows it. */
        (void)stream_shutdown(rs->inner);
    }
    return 0;
}

static void rl_write_timer_cb(uv_timer_t *t)
{
    rl_write_pump(t->data, NULL);
}

static int rl_write(stream *s, buf_ref *bufs, size_t nbufs, stream_write_cb cb, void *arg)
{
    rl_stream *rs = (rl_stream *)s;
    int rc = 0;
    struct rl_write_req *req = NULL;
    if (rs->closed)
        rc = CFRP_ECLOSED;
    else if (rs->shut || rs->shutdown_pending)
        rc = UV_EPIPE;
    else if (nbufs > (SIZE_MAX - sizeof(*req)) / sizeof(buf_ref))
        rc = UV_EINVAL;
    else if ((req = malloc(sizeof(*req) + nbufs * sizeof(buf_ref))) == NULL)
        rc = UV_ENOMEM;
    if (rc < 0) {
        for (size_t i = 0; i < nbufs; i++)
            buf_ref_release(&bufs[i]);
        return rc;
    }
    *req = (struct rl_write_req){.cb = cb, .arg = arg, .nbufs = nbufs, .queued = true};
    for (size_t i = 0; i < nbufs; i++) {
        req->bufs[i] = bufs[i];
        req->unsent += bufs[i].len;
    }
    rs->wq_bytes += req->unsent;
    bool was_empty = rs->wq_head == NULL;
    if (rs->wq_tail != NULL)
        rs->wq_tail->next = req;
    else
        rs->wq_head = req;
    rs->wq_tail = req;
    if (!was_empty)
        return 0; /* the timer pumps the earlier requests, then this one */
    rc = rl_write_pump(rs, req);
    if (rc < 0)
        free(req);
    return rc;
}

static int rl_shutdown(stream *s)
{
    rl_stream *rs = (rl_stream *)s;
    if (rs->closed)
        return CFRP_ECLOSED;
    if (rs->shut || rs->shutdown_pending)
        return 0;
    if (rs->wq_head != NULL) {
        rs->shutdown_pending = true;
        return 0;
    }
    rs->shut = true;
    return stream_shutdown(rs->inner);
}

static void rl_close(stream *s)
{
    rl_stream *rs = (rl_stream *)s;
    if (rs->closed)
        return;
    rs->closed = true;
    rs->reading = false;
    while (rs->rq_len > 0) {
        buf_ref_release(&rs->rq[rs->rq_head]);
        rs->rq_head = (rs->rq_head + 1) % RL_READ_QUEUE;
        rs->rq_len--;
    }
    uv_close((uv_handle_t *)&rs->read_timer, rl_on_timer_closed);
    uv_close((uv_handle_t *)&rs->write_timer, rl_on_timer_closed);
    /* Requests with unsent bytes are cancelled; those with pieces inside inner finish
     * when inner runs their callbacks (before its on_close). */
    while (rs->wq_head != NULL) {
        struct rl_write_req *req = rs->wq_head;
        rl_dequeue_head(rs);
        rl_req_release_bufs(req);
        req->status = UV_ECANCELED;
        if (req->inflight == 0)
            rl_req_complete(rs, req);
    }
    rs->wq_bytes = 0;
    stream_close(rs->inner);
}

static size_t rl_queued(const stream *s)
{
    const rl_stream *rs = (const rl_stream *)s;
    if (rs->closed)
        return 0;
    return rs->wq_bytes + stream_queued(rs->inner);
}

static int rl_peer_addr(const stream *s, struct sockaddr_storage *addr)
{
    const rl_stream *rs = (const rl_stream *)s;
    if (rs->inner->ops->peer_addr == NULL)
        return UV_ENOTSUP;
    return rs->inner->ops->peer_addr(rs->inner, addr);
}

static int rl_local_addr(const stream *s, struct sockaddr_storage *addr)
{
    const rl_stream *rs = (const rl_stream *)s;
    if (rs->inner->ops->local_addr == NULL)
        return UV_ENOTSUP;
    return rs->inner->ops->local_addr(rs->inner, addr);
}

static const struct stream_ops rl_ops = {
    .name = "ratelimit",
    .read_start = rl_read_start,
    .read_stop = rl_read_stop,
    .write = rl_write,
    .shutdown = rl_shutdown,
    .close = rl_close,
    .queued = rl_queued,
    .peer_addr = rl_peer_addr,
    .local_addr = rl_local_addr,
};

int ratelimit_stream_new(uv_loop_t *loop, stream *inner, ratelimit *rl, stream **out)
{
    rl_stream *rs = calloc(1, sizeof(*rs));
    if (rs == NULL)
        return UV_ENOMEM;
    rs->s.ops = &rl_ops;
    rs->loop = loop;
    rs->inner = inner;
    rs->rl = rl;
    ratelimit_retain(rl);
    rs->pending_closes = 3;
    uv_timer_init(loop, &rs->read_timer);
    uv_timer_init(loop, &rs->write_timer);
    rs->read_timer.data = rs;
    rs->write_timer.data = rs;
    inner->data = rs;
    inner->on_close = rl_on_inner_closed;
    *out = &rs->s;
    return 0;
}
