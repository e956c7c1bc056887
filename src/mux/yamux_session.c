/* yamux session: the carrier side. Parses frames from the inner stream, routes them to
 * streams, queues control frames, batches frames into inner writes (header and payload
 * as separate buf_refs, payloads never copied), and runs the keep-alive, open, close and
 * write timeouts on one libuv timer.
 *
 * Re-entrancy: application callbacks (accept, read, write, close) may call anything,
 * including yamux_session_close(). Objects on the C stack are protected by busy
 * counters; frees happen only when a counter drops to zero. */
#include <stdlib.h>
#include <string.h>

#include "base/err.h"
#include "base/log.h"
#include "mux/yamux_internal.h"

#define YS_BATCH_BUFS 64             /* buf_refs per inner write */
#define YS_BATCH_BYTES (256 * 1024)  /* payload per inner write (soft) */
#define YS_INFLIGHT_MAX (1024 * 1024) /* bytes handed to inner, not yet completed */
/* Payload per Data frame (also bounded by the peer's window). Large frames keep the
 * receiver's work per byte low: a carrier read (64 KiB) then mostly falls inside one
 * frame and reaches the application as one piece, so one local write, instead of
 * being cut at a frame boundary into two. fatedier/yamux accepts any length within
 * the window. */
#define YS_FRAME_MAX (256 * 1024)
#define YS_HDR_CHUNK 4096            /* header bytes per batch (341 headers) */
#define YS_CTL_HIGH 4096             /* queued control frames: stop reading inner */
#define YS_CTL_LOW 1024              /* ... and resume below this */

/* One inner write: owns the write requests whose last byte it carries. */
typedef struct ys_batch {
    yamux_session *s;
    size_t bytes;
    ys_wreq *done_head, *done_tail;
} ys_batch;

static void ys_on_inner_read(stream *inner, ssize_t nread, buf_ref data);
static void ys_on_check(uv_check_t *h);
static void ys_on_timer(uv_timer_t *t);

void yamux_config_default(struct yamux_config *cfg)
{
    cfg->accept_backlog = 256;
    cfg->max_stream_window = YAMUX_FRP_MAX_WINDOW;
    cfg->keepalive_interval_ms = 30000;
    cfg->ping_timeout_ms = 10000;
    cfg->open_timeout_ms = 75000;
    cfg->close_timeout_ms = 300000;
    cfg->write_timeout_ms = 10000;
}

/* ---- lifetime ---- */

static void ys_on_handle_closed(uv_handle_t *h)
{
    yamux_session *s = h->data;
    if (--s->handles_open > 0) return;
    free(s->ctl);
    free(s->map);
    free(s);
}

static void ys_sess_maybe_free(yamux_session *s)
{
    if (s->busy || !s->dead || !s->inner_closed || !s->app_released || s->nstreams ||
        s->freeing)
        return;
    s->freeing = true;
    uv_check_stop(&s->check);
    uv_idle_stop(&s->idle);
    uv_timer_stop(&s->timer);
    uv_close((uv_handle_t *)&s->check, ys_on_handle_closed);
    uv_close((uv_handle_t *)&s->idle, ys_on_handle_closed);
    uv_close((uv_handle_t *)&s->timer, ys_on_handle_closed);
}

void ys_sess_hold(yamux_session *s)
{
    s->busy++;
}

void ys_sess_unhold(yamux_session *s)
{
    s->busy--;
    ys_sess_maybe_free(s);
}

void ys_maybe_free_stream(yamux_stream *st)
{
    if (st->busy || st->in_map || st->in_defer || st->inflight_reqs || st->done_head)
        return;
    if (st->app_owned && !(st->app_closed && st->close_cb_done)) return;
    yamux_session *s = st->sess;
    ys_stream_free(st);
    ys_sess_hold(s);
    ys_sess_unhold(s);
}

/* ---- stream map ---- */

static size_t ys_bucket(const yamux_session *s, uint32_t id)
{
    return (id >> 1) & (s->nbuckets - 1);
}

static yamux_stream *ys_map_find(const yamux_session *s, uint32_t id)
{
    for (yamux_stream *st = s->map[ys_bucket(s, id)]; st; st = st->hnext)
        if (st->id == id) return st;
    return NULL;
}

static void ys_map_grow(yamux_session *s)
{
    size_t n = s->nbuckets * 2;
    yamux_stream **m = calloc(n, sizeof *m);
    if (!m) return; /* longer chains, still correct */
    yamux_stream **old = s->map;
    size_t oldn = s->nbuckets;
    s->map = m;
    s->nbuckets = n;
    for (size_t i = 0; i < oldn; i++) {
        yamux_stream *st = old[i];
        while (st) {
            yamux_stream *next = st->hnext;
            size_t b = ys_bucket(s, st->id);
            st->hnext = m[b];
            m[b] = st;
            st = next;
        }
    }
    free(old);
}

static void ys_map_insert(yamux_session *s, yamux_stream *st)
{
    if (s->nmap >= s->nbuckets) ys_map_grow(s);
    size_t b = ys_bucket(s, st->id);
    st->hnext = s->map[b];
    s->map[b] = st;
    st->in_map = true;
    s->nmap++;
}

static void ys_map_remove(yamux_session *s, yamux_stream *st)
{
    yamux_stream **pp = &s->map[ys_bucket(s, st->id)];
    while (*pp && *pp != st) pp = &(*pp)->hnext;
    if (*pp) {
        *pp = st->hnext;
        s->nmap--;
    }
    st->hnext = NULL;
    st->in_map = false;
}

/* ---- lists ---- */

static void ys_ready_remove(yamux_stream *st)
{
    yamux_session *s = st->sess;
    if (!st->in_ready) return;
    if (st->rprev) st->rprev->rnext = st->rnext;
    else s->ready_head = st->rnext;
    if (st->rnext) st->rnext->rprev = st->rprev;
    else s->ready_tail = st->rprev;
    st->rprev = st->rnext = NULL;
    st->in_ready = false;
}

static void ys_ready_append(yamux_stream *st)
{
    yamux_session *s = st->sess;
    st->rprev = s->ready_tail;
    st->rnext = NULL;
    if (s->ready_tail) s->ready_tail->rnext = st;
    else s->ready_head = st;
    s->ready_tail = st;
    st->in_ready = true;
}

void ys_make_ready(yamux_stream *st)
{
    if (st->in_ready || !st->syn_sent || st->send_window == 0 || st->sq_bytes == 0 ||
        st->reset || st->sess->dead)
        return;
    ys_ready_append(st);
    ys_schedule(st->sess);
}

void ys_tl_add(yamux_stream *st, enum ys_tl which)
{
    yamux_session *s = st->sess;
    ys_tl_remove(st);
    ys_tlist *l = which == YS_TL_OPEN ? &s->open_list : &s->close_list;
    uint64_t timeout = which == YS_TL_OPEN ? s->cfg.open_timeout_ms : s->cfg.close_timeout_ms;
    st->deadline = uv_now(s->loop) + timeout;
    st->tprev = l->tail;
    st->tnext = NULL;
    if (l->tail) l->tail->tnext = st;
    else l->head = st;
    l->tail = st;
    st->tl = (uint8_t)which;
    ys_timer_update(s);
}

void ys_tl_remove(yamux_stream *st)
{
    if (st->tl == YS_TL_NONE) return;
    yamux_session *s = st->sess;
    ys_tlist *l = st->tl == YS_TL_OPEN ? &s->open_list : &s->close_list;
    if (st->tprev) st->tprev->tnext = st->tnext;
    else l->head = st->tnext;
    if (st->tnext) st->tnext->tprev = st->tprev;
    else l->tail = st->tprev;
    st->tprev = st->tnext = NULL;
    st->tl = YS_TL_NONE;
}

/* Removes st from a singly linked queue (backlog or SYN wait). */
static void ys_queue_remove(yamux_stream **head, yamux_stream **tail, yamux_stream *st)
{
    yamux_stream *prev = NULL;
    for (yamux_stream *it = *head; it; prev = it, it = it->qnext) {
        if (it != st) continue;
        if (prev) prev->qnext = it->qnext;
        else *head = it->qnext;
        if (*tail == it) *tail = prev;
        it->qnext = NULL;
        return;
    }
}

static void ys_queue_append(yamux_stream **head, yamux_stream **tail, yamux_stream *st)
{
    st->qnext = NULL;
    if (*tail) (*tail)->qnext = st;
    else *head = st;
    *tail = st;
    st->in_queue = true;
}

static yamux_stream *ys_queue_pop(yamux_stream **head, yamux_stream **tail)
{
    yamux_stream *st = *head;
    if (!st) return NULL;
    *head = st->qnext;
    if (!*head) *tail = NULL;
    st->qnext = NULL;
    st->in_queue = false;
    return st;
}

/* ---- deferred work ---- */

static void ys_on_idle(uv_idle_t *h)
{
    (void)h; /* only keeps the loop from blocking before the check phase */
}

void ys_schedule(yamux_session *s)
{
    if (s->deferred_on || s->freeing) return;
    s->deferred_on = true;
    uv_check_start(&s->check, ys_on_check);
    uv_idle_start(&s->idle, ys_on_idle);
}

void ys_defer(yamux_stream *st)
{
    yamux_session *s = st->sess;
    if (st->in_defer) return;
    st->in_defer = true;
    st->dnext = NULL;
    if (s->defer_tail) s->defer_tail->dnext = st;
    else s->defer_head = st;
    s->defer_tail = st;
    ys_schedule(s);
}

/* ---- control frames ---- */

void ys_ctl_push(yamux_session *s, uint8_t type, uint16_t flags, uint32_t id, uint32_t len)
{
    if (s->dead) return;
    if (s->ctl_len == s->ctl_cap) {
        size_t ncap = s->ctl_cap ? s->ctl_cap * 2 : 64;
        ys_ctl *n = malloc(ncap * sizeof *n);
        if (!n) {
            ys_sess_fail(s, UV_ENOMEM);
            return;
        }
        for (size_t i = 0; i < s->ctl_len; i++) n[i] = s->ctl[(s->ctl_head + i) % s->ctl_cap];
        free(s->ctl);
        s->ctl = n;
        s->ctl_cap = ncap;
        s->ctl_head = 0;
    }
    struct yamux_header h = {YAMUX_VERSION, type, flags, id, len};
    yamux_header_encode(s->ctl[(s->ctl_head + s->ctl_len) % s->ctl_cap].b, &h);
    s->ctl_len++;
    if (s->ctl_len > YS_CTL_HIGH && !s->inner_read_paused) {
        /* the peer makes us queue faster than the carrier drains: stop reading it */
        stream_read_stop(s->inner);
        s->inner_read_paused = true;
    }
    ys_schedule(s);
}

/* Sends Go Away (protocol error) directly, then ends the session. */
static void ys_on_goaway_written(stream *inner, int status, void *arg)
{
    (void)inner;
    (void)status;
    (void)arg;
}

static void ys_proto_error(yamux_session *s, const char *what, uint32_t id)
{
    if (s->dead) return;
    log_warn("yamux: %s (stream %u), closing session", what, id);
    uint8_t hdr[YAMUX_HEADER_SIZE];
    struct yamux_header h = {YAMUX_VERSION, YAMUX_TYPE_GO_AWAY, 0, 0,
                             YAMUX_GOAWAY_PROTO_ERR};
    yamux_header_encode(hdr, &h);
    buf_ref r = buf_ref_copy(hdr, sizeof hdr);
    if (r.chunk) stream_write(s->inner, &r, 1, ys_on_goaway_written, NULL);
    ys_sess_fail(s, CFRP_EPROTO);
}

/* ---- streams in the map ---- */

static void ys_send_syn(yamux_stream *st)
{
    yamux_session *s = st->sess;
    st->syn_sent = true;
    s->syn_inflight++;
    ys_stream_window_update(st, YAMUX_FLAG_SYN);
    if (s->cfg.open_timeout_ms) ys_tl_add(st, YS_TL_OPEN);
    if (st->shutdown_req && !st->sq_head) ys_stream_send_fin(st);
    else ys_make_ready(st);
}

static void ys_promote_synwait(yamux_session *s)
{
    while (!s->dead && s->synwait_head && s->syn_inflight < s->cfg.accept_backlog)
        ys_send_syn(ys_queue_pop(&s->synwait_head, &s->synwait_tail));
}

void ys_unmap(yamux_stream *st)
{
    yamux_session *s = st->sess;
    if (st->in_map) ys_map_remove(s, st);
    ys_ready_remove(st);
    ys_tl_remove(st);
    if (st->in_queue) {
        if (st->app_owned) {
            ys_queue_remove(&s->synwait_head, &s->synwait_tail, st);
        } else {
            ys_queue_remove(&s->backlog_head, &s->backlog_tail, st);
            s->backlog_len--;
        }
        st->in_queue = false;
    }
    if (st->outbound && st->syn_sent && !st->acked) {
        st->acked = true; /* give the slot back once */
        s->syn_inflight--;
        ys_promote_synwait(s);
    }
}

static void ys_accept_stream(yamux_session *s, yamux_stream *st)
{
    st->app_owned = true;
    ys_stream_window_update(st, YAMUX_FLAG_ACK);
    st->busy++;
    s->on_accept(s, &st->base);
    st->busy--;
    ys_maybe_free_stream(st);
}

/* A SYN for id. Returns 0 (stream created, or refused with RST) or -1 (session
 * ended). */
static int ys_incoming(yamux_session *s, uint32_t id)
{
    if (s->local_goaway || !s->on_accept) {
        ys_ctl_push(s, YAMUX_TYPE_WINDOW_UPDATE, YAMUX_FLAG_RST, id, 0);
        return 0;
    }
    if (ys_map_find(s, id)) {
        ys_proto_error(s, "duplicate stream declared", id);
        return -1;
    }
    if (s->backlog_len >= s->cfg.accept_backlog) {
        log_trace("yamux: backlog exceeded, forcing connection reset (stream %u)", id);
        ys_ctl_push(s, YAMUX_TYPE_WINDOW_UPDATE, YAMUX_FLAG_RST, id, 0);
        return 0;
    }
    yamux_stream *st = ys_stream_new(s, id);
    if (!st) {
        ys_sess_fail(s, UV_ENOMEM);
        return -1;
    }
    ys_map_insert(s, st);
    st->syn_sent = true; /* the stream exists on both sides: data may flow */
    st->acked = true;
    if (s->accepting && !s->backlog_head) {
        ys_accept_stream(s, st);
    } else {
        ys_queue_append(&s->backlog_head, &s->backlog_tail, st);
        s->backlog_len++;
        if (s->accepting) ys_schedule(s);
    }
    return s->dead ? -1 : 0;
}

static void ys_on_ack(yamux_stream *st)
{
    yamux_session *s = st->sess;
    if (!st->outbound || !st->syn_sent || st->acked) return;
    st->acked = true;
    if (st->tl == YS_TL_OPEN) ys_tl_remove(st);
    s->syn_inflight--;
    ys_promote_synwait(s);
}

static void ys_on_rst(yamux_stream *st)
{
    if (st->reset) return;
    st->reset = true;
    while (st->rq_head) {
        ys_rbuf *n = st->rq_head;
        st->rq_head = n->next;
        buf_ref_release(&n->ref);
        free(n);
    }
    st->rq_tail = NULL;
    st->rq_bytes = 0;
    ys_stream_cancel_writes(st, UV_ECONNRESET);
    ys_unmap(st);
    if (st->reading) ys_stream_deliver(st);
}

/* Returns -1 if the FIN was a protocol error (session ended). */
static int ys_on_fin(yamux_stream *st)
{
    if (st->fin_recv) {
        ys_proto_error(st->sess, "unexpected FIN flag", st->id);
        return -1;
    }
    st->fin_recv = true;
    if (st->fin_sent) ys_unmap(st);
    if (st->reading) ys_stream_deliver(st);
    return 0;
}

static void ys_handle_stream_frame(yamux_session *s, const struct yamux_header *h)
{
    uint32_t id = h->stream_id;
    if ((h->flags & YAMUX_FLAG_SYN) && ys_incoming(s, id) < 0) return;
    yamux_stream *st = ys_map_find(s, id);
    if (!st) {
        /* likely one we reset: drain its data, ignore the rest */
        if (h->type == YAMUX_TYPE_DATA && h->length) {
            s->payload_left = h->length;
            s->payload_id = id;
            s->payload_fin = false;
        }
        return;
    }
    st->busy++;
    if (h->flags & YAMUX_FLAG_ACK) ys_on_ack(st);
    if (h->flags & YAMUX_FLAG_RST) {
        ys_on_rst(st);
        if (h->type == YAMUX_TYPE_DATA && h->length) {
            s->payload_left = h->length;
            s->payload_id = id;
            s->payload_fin = false;
        }
    } else if (h->type == YAMUX_TYPE_WINDOW_UPDATE) {
        if (!(h->flags & YAMUX_FLAG_FIN) || ys_on_fin(st) == 0) {
            st->send_window += h->length;
            if (st->send_window > UINT32_MAX) st->send_window = UINT32_MAX;
            ys_make_ready(st);
        }
    } else if (h->length > st->recv_window) {
        ys_proto_error(s, "receive window exceeded", id);
    } else if (h->length == 0) {
        if (h->flags & YAMUX_FLAG_FIN) ys_on_fin(st);
    } else {
        s->payload_left = h->length;
        s->payload_id = id;
        s->payload_fin = (h->flags & YAMUX_FLAG_FIN) != 0;
    }
    st->busy--;
    ys_maybe_free_stream(st);
}

static void ys_handle_header(yamux_session *s)
{
    struct yamux_header h;
    char err[96];
    if (yamux_header_decode(s->hbuf, &h, err, sizeof err) < 0) {
        /* like fatedier/yamux: no Go Away for a frame it cannot even parse */
        log_warn("yamux: %s, closing session", err);
        ys_sess_fail(s, CFRP_EPROTO);
        return;
    }
    switch (h.type) {
    case YAMUX_TYPE_PING:
        if (h.flags & YAMUX_FLAG_SYN) {
            ys_ctl_push(s, YAMUX_TYPE_PING, YAMUX_FLAG_ACK, 0, h.length);
        } else if (s->ping_out && h.length == s->ping_id) {
            s->ping_out = false;
            s->next_ping = uv_now(s->loop) + s->cfg.keepalive_interval_ms;
            ys_timer_update(s);
        }
        break;
    case YAMUX_TYPE_GO_AWAY:
        if (h.length == YAMUX_GOAWAY_NORMAL) {
            s->remote_goaway = true;
        } else {
            log_warn("yamux: received go away with code %u, closing session", h.length);
            ys_sess_fail(s, CFRP_EPROTO);
        }
        break;
    default:
        ys_handle_stream_frame(s, &h);
        break;
    }
}

/* A piece of the current Data frame's payload (owned). */
static void ys_payload_piece(yamux_session *s, buf_ref piece)
{
    yamux_stream *st = ys_map_find(s, s->payload_id);
    if (!st) {
        buf_ref_release(&piece);
        return;
    }
    st->busy++;
    ys_stream_recv(st, piece);
    if (s->payload_left == 0 && s->payload_fin && !s->dead) ys_on_fin(st);
    st->busy--;
    ys_maybe_free_stream(st);
}

static void ys_on_inner_read(stream *inner, ssize_t nread, buf_ref data)
{
    yamux_session *s = inner->data;
    if (s->dead) {
        buf_ref_release(&data);
        return;
    }
    ys_sess_hold(s);
    if (nread < 0) {
        buf_ref_release(&data);
        if (nread != UV_EOF) log_debug("yamux: carrier read failed: %s", err_str((int)nread));
        ys_sess_fail(s, (int)nread);
        ys_sess_unhold(s);
        return;
    }
    size_t off = 0, n = (size_t)nread;
    while (off < n && !s->dead) {
        if (s->payload_left) {
            size_t take = n - off < s->payload_left ? n - off : s->payload_left;
            buf_ref piece = buf_ref_dup(&data);
            piece.base += off;
            piece.len = take;
            off += take;
            s->payload_left -= (uint32_t)take;
            ys_payload_piece(s, piece);
            continue;
        }
        size_t take = YAMUX_HEADER_SIZE - s->hlen;
        if (take > n - off) take = n - off;
        memcpy(s->hbuf + s->hlen, data.base + off, take);
        s->hlen += take;
        off += take;
        if (s->hlen == YAMUX_HEADER_SIZE) {
            s->hlen = 0;
            ys_handle_header(s);
        }
    }
    buf_ref_release(&data);
    ys_sess_unhold(s);
}

/* ---- sending ---- */

static void ys_on_batch_written(stream *inner, int status, void *arg)
{
    ys_batch *b = arg;
    yamux_session *s = b->s;
    (void)inner;
    ys_sess_hold(s);
    s->inflight_bytes -= b->bytes;
    s->inflight_batches--;
    s->last_progress = uv_now(s->loop);
    while (b->done_head) {
        ys_wreq *r = b->done_head;
        b->done_head = r->next;
        ys_req_complete(r, status);
    }
    free(b);
    if (status < 0) {
        if (status != UV_ECANCELED) log_debug("yamux: carrier write failed: %s", err_str(status));
        ys_sess_fail(s, status);
    } else if (s->ctl_len || s->ready_head) {
        /* room in flight again for what waits; with nothing waiting, scheduling would
         * only cost a loop iteration on every request-response exchange */
        ys_schedule(s);
    }
    ys_sess_unhold(s);
}

static void ys_batch_add_done(ys_batch *b, ys_wreq *r)
{
    r->next = NULL;
    if (b->done_tail) b->done_tail->next = r;
    else b->done_head = r;
    b->done_tail = r;
}

/* Moves one Data frame of st (at most maxbufs payload slices) into bufs. The header is
 * written at hc->data + *hused; the header run [*hmark, *hused) is flushed first. */
static size_t ys_frame_data(yamux_stream *st, ys_batch *b, buf_chunk *hc, size_t *hused,
                            size_t *hmark, buf_ref *bufs, size_t *n, size_t maxbufs)
{
    size_t flen = st->sq_bytes;
    if (flen > st->send_window) flen = (size_t)st->send_window;
    if (flen > YS_FRAME_MAX) flen = YS_FRAME_MAX;
    /* fit the frame into maxbufs slices */
    size_t fit = 0, k = 0;
    for (ys_wreq *r = st->sq_head; r && fit < flen && k < maxbufs; r = r->next) {
        for (size_t i = r->idx; i < r->nbufs && fit < flen && k < maxbufs; i++, k++)
            fit += r->bufs[i].len < flen - fit ? r->bufs[i].len : flen - fit;
    }
    flen = fit;
    struct yamux_header h = {YAMUX_VERSION, YAMUX_TYPE_DATA, 0, st->id, (uint32_t)flen};
    yamux_header_encode((uint8_t *)hc->data + *hused, &h);
    *hused += YAMUX_HEADER_SIZE;
    buf_chunk_retain(hc);
    bufs[(*n)++] = buf_ref_make(hc, *hmark, *hused - *hmark);
    *hmark = *hused;
    size_t left = flen;
    while (left) {
        ys_wreq *r = st->sq_head;
        buf_ref *src = &r->bufs[r->idx];
        if (src->len <= left) {
            left -= src->len;
            r->left -= src->len;
            bufs[(*n)++] = *src;
            *src = (buf_ref){0};
            r->idx++;
        } else {
            buf_ref part = buf_ref_dup(src);
            part.len = left;
            src->base += left;
            src->len -= left;
            r->left -= left;
            left = 0;
            bufs[(*n)++] = part;
        }
        if (r->left == 0) {
            st->sq_head = r->next;
            if (!st->sq_head) st->sq_tail = NULL;
            st->inflight_reqs++;
            ys_batch_add_done(b, r);
        }
    }
    st->send_window -= flen;
    st->sq_bytes -= flen;
    return flen;
}

static void ys_pump(yamux_session *s)
{
    while (!s->dead && s->inflight_bytes < YS_INFLIGHT_MAX && (s->ctl_len || s->ready_head)) {
        ys_batch *b = calloc(1, sizeof *b);
        buf_chunk *hc = b ? buf_chunk_alloc(YS_HDR_CHUNK) : NULL;
        if (!hc) {
            free(b);
            ys_sess_fail(s, UV_ENOMEM);
            return;
        }
        b->s = s;
        buf_ref bufs[YS_BATCH_BUFS];
        size_t n = 0, hused = 0, hmark = 0, payload = 0;
        while (s->ctl_len && hused + YAMUX_HEADER_SIZE <= YS_HDR_CHUNK) {
            memcpy(hc->data + hused, s->ctl[s->ctl_head].b, YAMUX_HEADER_SIZE);
            hused += YAMUX_HEADER_SIZE;
            s->ctl_head = (s->ctl_head + 1) % s->ctl_cap;
            s->ctl_len--;
        }
        /* one slot stays for the trailing header run */
        while (s->ready_head && n + 3 <= YS_BATCH_BUFS && payload < YS_BATCH_BYTES &&
               hused + 2 * YAMUX_HEADER_SIZE <= YS_HDR_CHUNK) {
            yamux_stream *st = s->ready_head;
            ys_ready_remove(st);
            payload += ys_frame_data(st, b, hc, &hused, &hmark, bufs, &n, YS_BATCH_BUFS - n - 2);
            if (!st->sq_head && st->shutdown_req && !st->fin_sent) {
                struct yamux_header h = {YAMUX_VERSION, YAMUX_TYPE_WINDOW_UPDATE,
                                         YAMUX_FLAG_FIN, st->id, 0};
                yamux_header_encode((uint8_t *)hc->data + hused, &h);
                hused += YAMUX_HEADER_SIZE;
                st->fin_sent = true;
                if (st->fin_recv) ys_unmap(st);
            } else {
                ys_make_ready(st);
            }
        }
        if (hused > hmark) bufs[n++] = buf_ref_make(hc, hmark, hused - hmark);
        else buf_chunk_release(hc);
        b->bytes = payload + hused;
        if (s->inflight_batches++ == 0) s->last_progress = uv_now(s->loop);
        s->inflight_bytes += b->bytes;
        int rc = stream_write(s->inner, bufs, n, ys_on_batch_written, b);
        if (rc < 0) {
            log_debug("yamux: carrier write failed: %s", err_str(rc));
            ys_on_batch_written(s->inner, rc, b);
            return;
        }
    }
    if (s->inner_read_paused && s->ctl_len < YS_CTL_LOW && !s->dead) {
        s->inner_read_paused = false;
        int rc = stream_read_start(s->inner, ys_on_inner_read);
        if (rc < 0) ys_sess_fail(s, rc);
    }
    ys_timer_update(s);
}

static void ys_on_check(uv_check_t *h)
{
    yamux_session *s = h->data;
    ys_sess_hold(s);
    /* only what is queued now: callbacks that defer again run next iteration */
    yamux_stream *last = s->defer_tail;
    while (s->defer_head) {
        yamux_stream *st = s->defer_head;
        bool was_last = st == last;
        s->defer_head = st->dnext;
        if (!s->defer_head) s->defer_tail = NULL;
        st->dnext = NULL;
        st->in_defer = false;
        ys_stream_run_deferred(st);
        if (was_last) break;
    }
    while (!s->dead && s->accepting && s->backlog_head) {
        yamux_stream *st = ys_queue_pop(&s->backlog_head, &s->backlog_tail);
        s->backlog_len--;
        ys_accept_stream(s, st);
    }
    if (!s->dead) ys_pump(s);
    if (!s->defer_head) {
        s->deferred_on = false;
        uv_check_stop(&s->check);
        uv_idle_stop(&s->idle);
    }
    ys_sess_unhold(s);
}

/* ---- timers ---- */

void ys_timer_update(yamux_session *s)
{
    if (s->dead) return;
    uint64_t next = UINT64_MAX;
    if (s->cfg.keepalive_interval_ms) next = s->ping_out ? s->ping_deadline : s->next_ping;
    if (s->open_list.head && s->open_list.head->deadline < next)
        next = s->open_list.head->deadline;
    if (s->close_list.head && s->close_list.head->deadline < next)
        next = s->close_list.head->deadline;
    if (s->inflight_batches && s->last_progress + s->cfg.write_timeout_ms < next)
        next = s->last_progress + s->cfg.write_timeout_ms;
    if (next == UINT64_MAX) {
        if (s->timer_at) uv_timer_stop(&s->timer);
        s->timer_at = 0;
        return;
    }
    /* a later deadline is found when the earlier timer fires */
    if (s->timer_at && s->timer_at <= next) return;
    uint64_t now = uv_now(s->loop);
    uv_timer_start(&s->timer, ys_on_timer, next > now ? next - now : 0, 0);
    s->timer_at = next;
}

static void ys_on_timer(uv_timer_t *t)
{
    yamux_session *s = t->data;
    s->timer_at = 0;
    ys_sess_hold(s);
    uint64_t now = uv_now(s->loop);
    if (s->cfg.keepalive_interval_ms && s->ping_out && now >= s->ping_deadline) {
        log_warn("yamux: keepalive timeout, closing session");
        ys_sess_fail(s, CFRP_ETIMEOUT);
    } else if (s->open_list.head && now >= s->open_list.head->deadline) {
        log_warn("yamux: aborted stream open (stream %u): timeout", s->open_list.head->id);
        ys_sess_fail(s, CFRP_ETIMEOUT);
    } else if (s->inflight_batches && now >= s->last_progress + s->cfg.write_timeout_ms) {
        log_warn("yamux: connection write timeout, closing session");
        ys_sess_fail(s, CFRP_ETIMEOUT);
    } else {
        if (s->cfg.keepalive_interval_ms && !s->ping_out && now >= s->next_ping) {
            s->ping_id = s->ping_counter++;
            s->ping_out = true;
            s->ping_deadline = now + s->cfg.ping_timeout_ms;
            ys_ctl_push(s, YAMUX_TYPE_PING, YAMUX_FLAG_SYN, 0, s->ping_id);
        }
        while (!s->dead && s->close_list.head && now >= s->close_list.head->deadline) {
            yamux_stream *st = s->close_list.head;
            ys_tl_remove(st);
            ys_ctl_push(s, YAMUX_TYPE_WINDOW_UPDATE, YAMUX_FLAG_RST, st->id, 0);
            st->reset = true;
            ys_unmap(st);
            ys_maybe_free_stream(st);
        }
        ys_timer_update(s);
    }
    ys_sess_unhold(s);
}

/* ---- the end ---- */

static void ys_on_inner_close(stream *inner)
{
    yamux_session *s = inner->data;
    s->inner_closed = true;
    ys_sess_hold(s);
    if (s->on_close) s->on_close(s, s->status);
    s->app_released = true;
    ys_sess_unhold(s);
}

void ys_sess_fail(yamux_session *s, int status)
{
    if (s->dead) return;
    ys_sess_hold(s);
    s->dead = true;
    s->status = status;
    if (s->timer_at) uv_timer_stop(&s->timer);
    s->timer_at = 0;
    s->ctl_len = 0;
    for (size_t i = 0; i < s->nbuckets; i++) {
        while (s->map[i]) {
            yamux_stream *st = s->map[i];
            st->busy++;
            ys_unmap(st);
            st->detached = true;
            if (st->app_owned && !st->app_closed) {
                ys_stream_cancel_writes(st, UV_ECANCELED);
                ys_defer(st);
            }
            st->busy--;
            ys_maybe_free_stream(st);
        }
    }
    stream_close(s->inner);
    ys_sess_unhold(s);
}

/* ---- public API ---- */

int yamux_session_new(uv_loop_t *loop, stream *inner, bool client,
                      const struct yamux_config *cfg, yamux_accept_cb on_accept,
                      yamux_close_cb on_close, void *data, yamux_session **out,
                      char *err, size_t errlen)
{
    struct yamux_config def;
    if (!cfg) {
        yamux_config_default(&def);
        cfg = &def;
    }
    if (cfg->accept_backlog == 0 || cfg->max_stream_window < YAMUX_INITIAL_WINDOW ||
        (cfg->keepalive_interval_ms && !cfg->ping_timeout_ms) || !cfg->write_timeout_ms ||
        !cfg->close_timeout_ms) {
        err_set(err, errlen,
                "yamux: invalid config (backlog >= 1, window >= %u, timeouts > 0 needed)",
                YAMUX_INITIAL_WINDOW);
        return CFRP_EINVAL;
    }
    yamux_session *s = calloc(1, sizeof *s);
    if (s) s->map = calloc(16, sizeof *s->map);
    if (!s || !s->map) {
        if (s) free(s);
        err_set(err, errlen, "yamux: out of memory");
        return UV_ENOMEM;
    }
    s->nbuckets = 16;
    s->loop = loop;
    s->inner = inner;
    s->cfg = *cfg;
    s->client = client;
    s->next_id = client ? 1 : 2;
    s->on_accept = on_accept;
    s->on_close = on_close;
    s->data = data;
    s->accepting = true;
    void *old_data = inner->data;
    inner->data = s;
    int rc = stream_read_start(inner, ys_on_inner_read);
    if (rc < 0) {
        inner->data = old_data;
        free(s->map);
        free(s);
        err_set(err, errlen, "yamux: cannot read the carrier: %s", err_str(rc));
        return rc;
    }
    inner->on_close = ys_on_inner_close;
    uv_check_init(loop, &s->check);
    uv_idle_init(loop, &s->idle);
    uv_timer_init(loop, &s->timer);
    s->check.data = s->idle.data = s->timer.data = s;
    s->handles_open = 3;
    s->last_progress = uv_now(loop);
    s->next_ping = s->last_progress + cfg->keepalive_interval_ms;
    ys_timer_update(s);
    *out = s;
    return 0;
}

int yamux_session_open(yamux_session *s, stream **out)
{
    if (s->dead) return CFRP_ECLOSED;
    if (s->remote_goaway) return UV_ECONNREFUSED;
    if (s->next_id > UINT32_MAX - 2) return CFRP_ETOOBIG;
    yamux_stream *st = ys_stream_new(s, s->next_id);
    if (!st) return UV_ENOMEM;
    s->next_id += 2;
    st->outbound = true;
    st->app_owned = true;
    ys_map_insert(s, st);
    if (s->syn_inflight < s->cfg.accept_backlog) ys_send_syn(st);
    else ys_queue_append(&s->synwait_head, &s->synwait_tail, st);
    *out = &st->base;
    return 0;
}

void yamux_session_close(yamux_session *s)
{
    ys_sess_hold(s);
    ys_sess_fail(s, 0);
    ys_sess_unhold(s);
}

void yamux_session_go_away(yamux_session *s)
{
    if (s->dead) return;
    s->local_goaway = true;
    ys_ctl_push(s, YAMUX_TYPE_GO_AWAY, 0, 0, YAMUX_GOAWAY_NORMAL);
}

void yamux_session_set_accepting(yamux_session *s, bool accepting)
{
    s->accepting = accepting;
    if (accepting && s->backlog_head) ys_schedule(s);
}

void *yamux_session_data(const yamux_session *s)
{
    return s->data;
}

bool yamux_session_is_closed(const yamux_session *s)
{
    return s->dead;
}

size_t yamux_session_num_streams(const yamux_session *s)
{
    return s->nmap;
}
