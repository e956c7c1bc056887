/* The http vhost (protocol.md 6.3): an HTTP/1.1 front server and reverse proxy.
 *
 * A front connection (vh_conn) reads one request head at a time with the hardened
 * parser, routes it (Host, path, basic-auth user), checks httpUser/httpPassword,
 * rewrites the head and sends it on a backend connection (vh_backend: a work
 * connection with the proxy's layers) followed by the body, framed exactly as the
 * parser delimited it, so that one well-framed request at a time reaches the local
 * service. The response head comes back through the response parser (within
 * vhostHTTPTimeout), is rewritten and the body is streamed back. Bodies are never
 * buffered: each side stops reading while the other has VH_HIGH_WATER bytes queued.
 * Upgrades answered with 101 and CONNECT turn the pair into a raw tunnel that ends,
 * as frp's joins do, when either side ends.
 *
 * Backends are kept per route after a complete exchange (at most VH_IDLE_BACKEND_MAX
 * idle, 60 s) and reused by later requests of that route, whatever client they come
 * from.
 *
 * Lifetimes: a vh_conn is freed once its user stream is closed (or handed to a
 * lingering close after its last write completed), its timer is closed, no 404 page
 * read is pending and no backend is attached; a vh_backend once its stream is closed,
 * its timer is closed and its work-connection request has ended. */
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "base/err.h"
#include "base/log.h"
#include "config/client_config.h"
#include "config/server_config.h"
#include "http/http_auth.h"
#include "http/http_chunked.h"
#include "http/http_pages.h"
#include "http/http_request.h"
#include "http/http_response.h"
#include "http/http_rewrite.h"
#include "http/http_sniff.h"
#include "server/vhost_internal.h"

static const char vh_continue[] = "HTTP/1.1 100 Continue\r\n\r\n";

enum vc_state {
    VC_HEAD,     /* reading a request head */
    VC_WAIT,     /* waiting for a backend or for the 404 page */
    VC_EXCHANGE, /* request sent or being sent; response pending or streaming */
    VC_TUNNEL,   /* raw bytes both ways */
    VC_DONE      /* closing */
};

enum vb_state { VB_CONNECTING, VB_IDLE, VB_HEAD, VB_BODY, VB_TUNNEL, VB_CLOSED };

struct vh_backend;

/* A user connection to the http vhost. */
struct vh_conn {
    struct list_link link; /* in vh->conns */
    struct svr_vhost *vh;
    stream *user;         /* owned until closed or handed to the lingering close */
    uv_timer_t timer;     /* head read (60 s) or response head (vhostHTTPTimeout) */
    http_request_parser rp;
    buf_ref pending;      /* bytes read from the user and not used yet; owned */
    char ip[64];          /* the client's address */
    uint16_t port;
    enum vc_state st;
    struct vh_backend *b; /* attached backend */
    unsigned nw;          /* writes in flight on user */
    /* The user is read on while a response is pending (no read_stop/read_start per
     * request); an end of stream or error read then is kept here (else 0) and acted
     * on once the exchange is over, as if read then. */
    int read_err;
    bool reading, closing, finishing, user_gone, timer_closed, page_wait;
    /* the current request */
    enum http_method method;
    int minor;
    bool keep_alive, upgrade, expect;
    char host[256];       /* the Host as sent, for log lines */
    char *out_head;       /* rewritten head until a backend takes it; owned */
    size_t out_len;
    enum http_body req_body;
    uint64_t req_left;
    http_chunked req_chunk;
    bool req_done, resp_started;
};

/* A work connection used for HTTP. */
struct vh_backend {
    struct list_link link;      /* in vh->backends */
    struct list_link idle_link; /* in route->idle while idle */
    struct svr_vhost *vh;
    struct vh_route *route;
    struct svr_proxy *p;       /* referenced */
    struct svr_wc_task task;   /* while connecting */
    stream *s;                 /* the work connection with the proxy's layers; owned */
    uv_timer_t timer;          /* idle deadline */
    struct vh_conn *c;         /* attached front connection */
    http_response_parser rp;
    enum vb_state st;
    enum http_body in_body, out_body;
    uint64_t left;             /* LENGTH bytes still to come */
    http_chunked ch;
    const buf_ref *cur;        /* the read being de-chunked */
    unsigned nw;               /* writes in flight on s */
    /* While a Content-Length body's first bytes are gathered for Content-Type sniffing,
     * the response head waits: HTTP_SNIFF_LEN bytes, owned, else NULL. */
    char *sniff_buf;
    size_t sniff_len;
    /* The user's response head while vb_head_done hands the body bytes that came with it
     * to vb_body, which sends both in one write; owned, else empty. */
    buf_ref lead;
    bool connecting, reading, s_closed, timer_closed, reusable, flush_close;
};

static void vc_process(struct vh_conn *c);
static void vc_abort(struct vh_conn *c);
static void vc_update_reading(struct vh_conn *c);
static void vc_exchange_end(struct vh_conn *c);
static void vc_error_page(struct vh_conn *c, int status, const char *why);
static void vb_close(struct vh_backend *b);
static void vb_update_reading(struct vh_backend *b);
static void vb_on_read(stream *s, ssize_t nread, buf_ref data);

/* ---- small helpers ---- */

static buf_ref slice(const buf_ref *r, const char *base, size_t len)
{
    buf_ref s = buf_ref_dup(r);
    s.base = (char *)base;
    s.len = len;
    return s;
}

static void vh_detach(struct vh_conn *c)
{
    if (!c->b) return;
    c->b->c = NULL;
    c->b = NULL;
}

/* Go writes "Sec-WebSocket-*" where canonicalisation gives "Sec-Websocket-*" (frp's
 * Rewrite hook); the replacement has the same length, so it is done in place on the
 * names of a serialised head. */
static void vh_fix_websocket_names(char *head, size_t len)
{
    size_t i = 0;
    while (i < len) {
        char *eol = memchr(head + i, '\n', len - i);
        size_t end = eol ? (size_t)(eol - head) : len;
        char *colon = memchr(head + i, ':', end - i);
        if (colon)
            for (char *q = head + i; q + 9 <= colon; q++)
                if (memcmp(q, "Websocket", 9) == 0) q[3] = 'S';
        i = end + 1;
    }
}

static int64_t vh_resp_timeout_ms(const struct svr_vhost *vh)
{
    int64_t t = vh->svr->cfg->vhost_http_timeout;
    return (t > 0 ? t : 60) * 1000;
}

/* ---- the front connection: lifetime ---- */

static void vc_maybe_free(struct vh_conn *c)
{
    if (!c->closing || !c->user_gone || !c->timer_closed || c->page_wait || c->b) return;
    list_del(&c->link);
    http_request_parser_free(&c->rp);
    buf_ref_release(&c->pending);
    free(c->out_head);
    free(c);
}

static void vc_timer_closed(uv_handle_t *h)
{
    struct vh_conn *c = h->data;
    c->timer_closed = true;
    vc_maybe_free(c);
}

static void vc_user_closed(stream *s)
{
    struct vh_conn *c = s->data;
    c->user_gone = true;
    c->user = NULL;
    vc_maybe_free(c);
}

/* Starts closing c (once): the timer, the user stream (at once, or after the writes in
 * flight when linger is set) and an attached backend. */
static void vc_close(struct vh_conn *c, bool linger)
{
    if (c->closing) return;
    c->closing = true;
    c->st = VC_DONE;
    uv_close((uv_handle_t *)&c->timer, vc_timer_closed);
    struct vh_backend *b = c->b;
    vh_detach(c);
    if (b) vb_close(b);
    if (!c->user) {
        /* already handed on */
    } else if (linger) {
        c->finishing = true;
        if (c->nw == 0) {
            stream *s = c->user;
            c->user = NULL;
            c->user_gone = true;
            vh_write_and_close(c->vh->svr->loop, s, NULL, 0);
        }
    } else {
        stream_close(c->user);
    }
    vc_maybe_free(c);
}

static void vc_abort(struct vh_conn *c)
{
    vc_close(c, false);
}

/* ---- the front connection: writing ---- */

static void vc_write_cb(stream *s, int status, void *arg)
{
    struct vh_conn *c = arg;
    c->nw--;
    if (c->finishing) {
        if (c->nw == 0 && c->user) {
            stream *u = c->user;
            c->user = NULL;
            c->user_gone = true;
            if (status < 0)
                stream_close(u);
            else
                vh_write_and_close(c->vh->svr->loop, u, NULL, 0);
            vc_maybe_free(c);
        }
        return;
    }
    if (c->closing) return;
    if (status < 0) {
        vc_abort(c);
        return;
    }
    if (c->b) vb_update_reading(c->b);
}

/* Writes bufs (taken over) to the user. Returns 0, or a negative code after which c
 * is closing. */
static int vc_write(struct vh_conn *c, buf_ref *bufs, size_t n)
{
    if (c->closing) {
        for (size_t i = 0; i < n; i++) buf_ref_release(&bufs[i]);
        return CFRP_ECLOSED;
    }
    c->nw++;
    int rc = stream_write(c->user, bufs, n, vc_write_cb, c);
    if (rc) {
        c->nw--;
        vc_abort(c);
    }
    return rc;
}

static int vc_write_copy(struct vh_conn *c, const void *data, size_t len)
{
    buf_ref r = buf_ref_copy(data, len);
    if (!r.chunk) {
        vc_abort(c);
        return UV_ENOMEM;
    }
    return vc_write(c, &r, 1);
}

/* ---- backends ---- */

static void vb_maybe_free(struct vh_backend *b)
{
    if (b->st != VB_CLOSED || (b->s && !b->s_closed) || !b->timer_closed || b->connecting) return;
    list_del(&b->link);
    http_response_parser_free(&b->rp);
    svr_proxy_release(b->p);
    free(b);
}

static void vb_timer_closed(uv_handle_t *h)
{
    struct vh_backend *b = h->data;
    b->timer_closed = true;
    vb_maybe_free(b);
}

static void vb_stream_closed(stream *s)
{
    struct vh_backend *b = s->data;
    b->s_closed = true;
    vb_maybe_free(b);
}

static void vb_close(struct vh_backend *b)
{
    if (b->st == VB_CLOSED) return;
    if (b->st == VB_IDLE) {
        list_del(&b->idle_link);
        b->route->nidle--;
    }
    b->st = VB_CLOSED;
    free(b->sniff_buf);
    b->sniff_buf = NULL;
    buf_ref_release(&b->lead);
    if (b->c) vh_detach(b->c);
    if (b->connecting && b->task.waiting) {
        svr_wc_task_cancel(&b->task);
        b->connecting = false;
    }
    uv_close((uv_handle_t *)&b->timer, vb_timer_closed);
    if (b->s) stream_close(b->s);
    vb_maybe_free(b);
}

/* Closes b once the writes in flight are done (a tunnel's last bytes). Meanwhile the
 * backend is still read, and what it sends is dropped (vb_on_read): a byte from it
 * must not close b before the flush, and nothing unread may be left for the close
 * to turn into a reset. */
static void vb_close_after_flush(struct vh_backend *b)
{
    if (b->c) vh_detach(b->c);
    if (b->nw == 0 || !b->s) {
        vb_close(b);
    } else {
        b->flush_close = true;
        vb_update_reading(b);
    }
}

static void vb_idle_timeout(uv_timer_t *t)
{
    vb_close(t->data);
}

/* Parks b (detached, complete) among its route's idle connections, or closes it. */
static void vb_make_idle(struct vh_backend *b)
{
    struct vh_route *r = b->route;
    if (!b->reusable || b->p->closed || !r->registered || r->nidle >= VH_IDLE_BACKEND_MAX) {
        vb_close(b);
        return;
    }
    b->st = VB_IDLE;
    list_push(&r->idle, &b->idle_link);
    r->nidle++;
    uv_timer_start(&b->timer, vb_idle_timeout, VH_IDLE_BACKEND_MS, 0);
    vb_update_reading(b);
}

void vh_route_drop_idle(struct vh_route *r)
{
    while (!list_empty(&r->idle))
        vb_close(LIST_ITEM(r->idle.next, struct vh_backend, idle_link));
}

static void vb_write_cb(stream *s, int status, void *arg)
{
    struct vh_backend *b = arg;
    b->nw--;
    if (b->st == VB_CLOSED) return;
    if (b->flush_close) {
        if (b->nw == 0 || status < 0) vb_close(b);
        return;
    }
    struct vh_conn *c = b->c;
    if (status < 0) {
        if (c && !c->resp_started && c->st == VC_EXCHANGE) {
            vc_error_page(c, 404, svr_err_text(status));
            return;
        }
        if (c) vc_abort(c);
        vb_close(b);
        return;
    }
    if (c) vc_update_reading(c);
}

static int vb_write(struct vh_backend *b, buf_ref *bufs, size_t n)
{
    b->nw++;
    int rc = stream_write(b->s, bufs, n, vb_write_cb, b);
    if (rc) b->nw--;
    return rc;
}

/* Whether b's stream should be read now. */
static void vb_update_reading(struct vh_backend *b)
{
    if (b->st == VB_CLOSED || !b->s) return;
    bool want = false;
    if (b->st == VB_IDLE || b->st == VB_HEAD || b->flush_close)
        want = true;
    else if ((b->st == VB_BODY || b->st == VB_TUNNEL) && b->c && b->c->user)
        want = stream_queued(b->c->user) < VH_HIGH_WATER;
    if (want == b->reading) return;
    b->reading = want;
    if (want) {
        if (stream_read_start(b->s, vb_on_read)) {
            b->reading = false;
            struct vh_conn *c = b->c;
            if (c) vc_abort(c);
            vb_close(b);
        }
    } else {
        stream_read_stop(b->s);
    }
}

/* ---- the front connection: reading ---- */

static void vc_on_read(stream *s, ssize_t nread, buf_ref data);

static void vc_update_reading(struct vh_conn *c)
{
    if (c->closing) return;
    bool want = false;
    if (c->pending.len == 0) {
        if (c->st == VC_HEAD)
            want = c->read_err == 0;
        else if (c->st == VC_EXCHANGE && c->req_done)
            want = !c->upgrade && c->read_err == 0;
        else if (c->st == VC_EXCHANGE && c->b && c->b->s)
            want = stream_queued(c->b->s) < VH_HIGH_WATER;
        else if (c->st == VC_TUNNEL && c->b && c->b->s)
            want = stream_queued(c->b->s) < VH_HIGH_WATER;
    }
    if (want == c->reading) return;
    c->reading = want;
    if (want) {
        if (stream_read_start(c->user, vc_on_read)) vc_abort(c);
    } else {
        stream_read_stop(c->user);
    }
}

/* Sends the part of data that belongs to the request body to the backend; the rest
 * goes back to c->pending. Takes over data. */
static void vc_body(struct vh_conn *c, buf_ref data)
{
    if (c->req_done) {
        if (c->pending.len == 0) {
            buf_ref_release(&c->pending);
            c->pending = data;
        } else {
            buf_ref_release(&data);
            vc_abort(c);
        }
        return;
    }
    size_t take = data.len;
    if (c->req_body == HTTP_BODY_LENGTH) {
        if (take > c->req_left) take = (size_t)c->req_left;
        c->req_left -= take;
        if (c->req_left == 0) c->req_done = true;
    } else if (c->req_body == HTTP_BODY_CHUNKED) {
        char err[128];
        size_t used = 0;
        int rc = http_chunked_feed(&c->req_chunk, data.base, data.len, &used, NULL, NULL, err,
                                   sizeof err);
        if (rc < 0) {
            /* The head is already on its way: the exchange cannot be completed. */
            log_debug("http: bad chunked request body from [%s]: %s", c->ip, err);
            buf_ref_release(&data);
            vc_abort(c);
            return;
        }
        if (rc == HTTP_DONE) {
            take = used;
            c->req_done = true;
        }
    } else {
        take = 0;
        c->req_done = true;
    }
    if (take > 0) {
        buf_ref part = slice(&data, data.base, take);
        if (vb_write(c->b, &part, 1)) {
            buf_ref_release(&data);
            vc_error_page(c, 404, "write to work connection failed");
            return;
        }
    }
    data.base += take;
    data.len -= take;
    if (data.len > 0) {
        buf_ref_release(&c->pending);
        c->pending = data;
    } else {
        buf_ref_release(&data);
    }
}

static void vc_resp_timeout(uv_timer_t *t)
{
    struct vh_conn *c = t->data;
    if (c->closing || c->resp_started || c->st != VC_EXCHANGE) return;
    vc_error_page(c, 504, "net/http: timeout awaiting response headers");
}

static void vc_head_timeout(uv_timer_t *t)
{
    vc_abort(t->data);
}

static void vc_on_read(stream *s, ssize_t nread, buf_ref data)
{
    struct vh_conn *c = s->data;
    if (c->closing) {
        buf_ref_release(&data);
        return;
    }
    if (nread < 0) {
        if (c->st == VC_EXCHANGE && c->req_done) {
            c->read_err = (int)nread;
            vc_update_reading(c);
            return;
        }
        if (c->st == VC_TUNNEL && c->b) {
            /* As frp's joins: the first EOF ends both sides, after the bytes taken. */
            struct vh_backend *b = c->b;
            vh_detach(c);
            vb_close_after_flush(b);
            vc_close(c, true);
            return;
        }
        /* Go's server: a client gone ends the exchange. */
        vc_abort(c);
        return;
    }
    switch (c->st) {
    case VC_HEAD:
        c->pending = data;
        vc_process(c);
        return;
    case VC_EXCHANGE: {
        bool was_done = c->req_done;
        vc_body(c, data);
        if (!was_done && c->req_done && !c->resp_started && !c->closing && c->st == VC_EXCHANGE)
            uv_timer_start(&c->timer, vc_resp_timeout, (uint64_t)vh_resp_timeout_ms(c->vh), 0);
        break;
    }
    case VC_TUNNEL:
        if (vb_write(c->b, &data, 1)) {
            vc_abort(c);
            return;
        }
        break;
    default:
        buf_ref_release(&data);
        return;
    }
    if (!c->closing) vc_update_reading(c);
}

static void vc_resume(uv_timer_t *t)
{
    struct vh_conn *c = t->data;
    uv_timer_start(&c->timer, vc_head_timeout, VH_HEAD_TIMEOUT_MS, 0);
    vc_process(c);
}

/* ---- answers frps gives itself ---- */

/* After an answer of frps's own: the next request, or the end when the request's body
 * was not consumed or the client asked to close. */
static void vc_answered(struct vh_conn *c)
{
    if (c->closing) return;
    if (!c->req_done || !c->keep_alive) {
        vc_close(c, true);
        return;
    }
    vc_exchange_end(c);
}

static void vc_send_answer(struct vh_conn *c, char *out, size_t outlen, int rc)
{
    if (rc) {
        free(out);
        vc_abort(c);
        return;
    }
    c->resp_started = true;
    int w = vc_write_copy(c, out, outlen);
    free(out);
    if (w == 0) vc_answered(c);
}

static void vc_page_loaded(void *arg, const char *body, size_t len)
{
    struct vh_conn *c = arg;
    c->page_wait = false;
    if (c->closing) {
        vc_maybe_free(c);
        return;
    }
    char *out = NULL;
    size_t outlen = 0;
    bool close = !c->req_done || !c->keep_alive;
    int rc = http_page_vhost_404(body, len, time(NULL), close, &out, &outlen);
    vc_send_answer(c, out, outlen, rc);
}

static void vc_connect_page_loaded(void *arg, const char *body, size_t len)
{
    struct vh_conn *c = arg;
    c->page_wait = false;
    if (c->closing) {
        vc_maybe_free(c);
        return;
    }
    char *out = NULL;
    size_t outlen = 0;
    if (http_page_tcpmux_404(body, len, &out, &outlen) == 0 && vc_write_copy(c, out, outlen) == 0)
        vc_close(c, true);
    else
        vc_abort(c);
    free(out);
}

/* Answers the current request with 401/407, 404 (page) or 504; drops the backend. */
static void vc_error_page(struct vh_conn *c, int status, const char *why)
{
    if (c->closing) return;
    struct vh_backend *b = c->b;
    vh_detach(c);
    if (b) vb_close(b);
    if (why) log_warn("do http proxy request [host: %s] error: %s", c->host, why);
    uv_timer_stop(&c->timer);
    c->st = VC_WAIT;
    free(c->out_head);
    c->out_head = NULL;
    vc_update_reading(c);
    bool close = !c->req_done || !c->keep_alive;
    char *out = NULL;
    size_t outlen = 0;
    int rc;
    if (status == 404) {
        c->page_wait = true;
        vh_load_404(c->vh->svr, vc_page_loaded, c);
        return;
    }
    if (status == 504)
        rc = http_page_504(time(NULL), close, &out, &outlen);
    else
        rc = http_page_auth(status, time(NULL), close, &out, &outlen);
    vc_send_answer(c, out, outlen, rc);
}

/* A malformed request: Go's plain answer, then close. */
static void vc_bad_request(struct vh_conn *c, int status)
{
    char *out = NULL;
    size_t outlen = 0;
    c->st = VC_DONE;
    if (http_page_bad_request(status ? status : 400, &out, &outlen) == 0 && vc_write_copy(c, out, outlen) == 0)
        vc_close(c, true);
    else
        vc_abort(c);
    free(out);
}

/* ---- backend exchange ---- */

/* The response (or the tunnel) is complete on the user side of c. */
static void vc_exchange_end(struct vh_conn *c)
{
    struct vh_backend *b = c->b;
    if (b) {
        vh_detach(c);
        b->reusable = b->reusable && c->req_done;
        vb_make_idle(b);
    }
    if (!c->req_done || !c->keep_alive) {
        vc_close(c, true);
        return;
    }
    http_request_parser_reset(&c->rp);
    c->st = VC_HEAD;
    c->resp_started = false;
    if (c->pending.len > 0) {
        /* A pipelined request: parse it from the loop, not from this call chain. */
        uv_timer_start(&c->timer, vc_resume, 0, 0);
        vc_update_reading(c);
        return;
    }
    /* The user's end of stream (or error) read meanwhile ends c from the loop. */
    uv_timer_start(&c->timer, vc_head_timeout, c->read_err ? 0 : VH_HEAD_TIMEOUT_MS, 0);
    vc_update_reading(c);
}

/* Enters the tunnel: bytes already read on either side go across first. */
static void vc_tunnel(struct vh_conn *c, buf_ref backend_rest)
{
    struct vh_backend *b = c->b;
    c->st = VC_TUNNEL;
    b->st = VB_TUNNEL;
    uv_timer_stop(&c->timer);
    if (backend_rest.len > 0) {
        if (vc_write(c, &backend_rest, 1)) return;
    } else {
        buf_ref_release(&backend_rest);
    }
    if (c->pending.len > 0) {
        buf_ref p = c->pending;
        c->pending = (buf_ref){0};
        if (vb_write(b, &p, 1)) {
            vc_abort(c);
            return;
        }
    }
    vc_update_reading(c);
    vb_update_reading(b);
}

/* Writes response bytes (bufs, n <= 3, taken over) to the user, after b->lead when it
 * is still held. */
static int vb_to_user(struct vh_backend *b, buf_ref *bufs, size_t n)
{
    if (!b->lead.chunk) return vc_write(b->c, bufs, n);
    buf_ref all[4];
    all[0] = b->lead;
    b->lead = (buf_ref){0};
    for (size_t i = 0; i < n; i++) all[i + 1] = bufs[i];
    return vc_write(b->c, all, n + 1);
}

/* Writes b->lead alone when it is still held. */
static int vb_flush_lead(struct vh_backend *b)
{
    if (!b->lead.chunk) return 0;
    buf_ref head = b->lead;
    b->lead = (buf_ref){0};
    return vc_write(b->c, &head, 1);
}

static void vb_dechunk_data(void *arg, const char *data, size_t len)
{
    struct vh_backend *b = arg;
    if (!b->c || len == 0) return;
    buf_ref part = slice(b->cur, data, len);
    vb_to_user(b, &part, 1);
}

static void vb_sniff_feed(struct vh_backend *b, buf_ref data);

/* Response body bytes from the backend. Takes over data. */
static void vb_body(struct vh_backend *b, buf_ref data)
{
    struct vh_conn *c = b->c;
    if (b->sniff_buf) {
        vb_sniff_feed(b, data);
        return;
    }
    bool done = false;
    size_t take = data.len;
    if (b->in_body == HTTP_BODY_LENGTH) {
        if (take > b->left) take = (size_t)b->left;
        b->left -= take;
        done = b->left == 0;
        buf_ref part = slice(&data, data.base, take);
        if (take > 0 && vb_to_user(b, &part, 1)) goto out;
        if (take == 0) buf_ref_release(&part);
    } else if (b->in_body == HTTP_BODY_CHUNKED) {
        char err[128];
        size_t used = 0;
        b->cur = &data;
        int rc = http_chunked_feed(&b->ch, data.base, data.len, &used,
                                   b->out_body == HTTP_BODY_CHUNKED ? NULL : vb_dechunk_data, b, err,
                                   sizeof err);
        b->cur = NULL;
        if (c->closing) goto out;
        if (rc < 0) {
            log_warn("do http proxy request [host: %s] error: %s", c->host, err);
            vc_abort(c);
            goto out;
        }
        if (rc == HTTP_DONE) {
            take = used;
            done = true;
        }
        if (b->out_body == HTTP_BODY_CHUNKED && take > 0) {
            buf_ref part = slice(&data, data.base, take);
            if (vb_to_user(b, &part, 1)) goto out;
        }
    } else if (b->out_body == HTTP_BODY_CHUNKED) {
        /* A close-delimited body re-framed as chunks for an HTTP/1.1 client. */
        char hdr[24];
        size_t hl = http_chunk_header(hdr, data.len);
        buf_ref parts[3] = {buf_ref_copy(hdr, hl), slice(&data, data.base, data.len),
                            buf_ref_copy("\r\n", 2)};
        if (!parts[0].chunk || !parts[2].chunk) {
            for (int i = 0; i < 3; i++) buf_ref_release(&parts[i]);
            vc_abort(c);
            goto out;
        }
        if (vb_to_user(b, parts, 3)) goto out;
    } else {
        buf_ref part = slice(&data, data.base, data.len);
        if (vb_to_user(b, &part, 1)) goto out;
    }
    if (done) {
        if (take < data.len) b->reusable = false; /* bytes after the response */
        if (vb_flush_lead(b)) goto out;
        vc_exchange_end(c);
    }
out:
    buf_ref_release(&data);
}

/* The options of the user's response head for b's response (kv holds the
 * responseHeaders.set of b's proxy). */
static void vb_resp_opts(struct vh_backend *b, http_kv kv[64], struct http_rewrite_resp_opts *o)
{
    const struct cfg_strmap *set = &b->p->cfg->response_headers.set;
    size_t nkv = set->n < 64 ? set->n : 64;
    for (size_t i = 0; i < nkv; i++) kv[i] = (http_kv){set->keys[i], set->vals[i]};
    *o = (struct http_rewrite_resp_opts){.set_headers = kv,
                                         .nset = nkv,
                                         .client_minor = b->c->minor,
                                         .client_close = !b->c->keep_alive,
                                         .now = time(NULL)};
}

/* Writes the user's response head with content_type (NULL: none). 0, or a negative
 * code when the front connection was closed (an error page or an abort). */
static int vb_send_head(struct vh_backend *b, const char *content_type)
{
    struct vh_conn *c = b->c;
    http_kv kv[64];
    struct http_rewrite_resp_opts o;
    vb_resp_opts(b, kv, &o);
    o.content_type = content_type;
    char *out = NULL, err[128];
    size_t outlen = 0;
    enum http_body ob;
    int rc = http_rewrite_response(&b->rp.resp, &o, &out, &outlen, &ob, err, sizeof err);
    if (rc) {
        vc_error_page(c, 404, rc == CFRP_EINVAL ? err : "out of memory");
        return rc;
    }
    buf_ref head = buf_ref_copy(out, outlen);
    free(out);
    if (!head.chunk) {
        vc_abort(c);
        return UV_ENOMEM;
    }
    return vc_write(c, &head, 1);
}

static void vb_sniff_chunk(void *arg, const char *data, size_t len)
{
    struct vh_backend *b = arg;
    size_t room = HTTP_SNIFF_LEN - b->sniff_len;
    size_t n = len < room ? len : room;
    memcpy(b->sniff_buf + b->sniff_len, data, n);
    b->sniff_len += n;
}

/* Go's server sniffs what the proxy writes first. With a Content-Length that is the
 * first HTTP_SNIFF_LEN bytes of the body (its writer buffers them): if they did not
 * come with the head, the head waits for them (*defer). A streamed body (chunked or
 * until close) is flushed at once, so only data that came with the head is sniffed.
 * Returns the type to add or NULL; b->sniff_buf is set when *defer. */
static const char *vb_sniff_start(struct vh_backend *b, const buf_ref *rest, bool *defer)
{
    const http_response *resp = &b->rp.resp;
    *defer = false;
    if (resp->body == HTTP_BODY_LENGTH) {
        uint64_t want = resp->content_length < HTTP_SNIFF_LEN ? resp->content_length : HTTP_SNIFF_LEN;
        if (rest->len >= want) return http_sniff(rest->base, (size_t)want);
        b->sniff_buf = malloc(HTTP_SNIFF_LEN);
        b->sniff_len = 0;
        *defer = b->sniff_buf != NULL; /* out of memory: no sniffing */
        return NULL;
    }
    if (rest->len == 0) return NULL;
    if (resp->body == HTTP_BODY_CLOSE) return http_sniff(rest->base, rest->len);
    char buf[HTTP_SNIFF_LEN], err[8];
    http_chunked ch;
    http_chunked_init(&ch);
    size_t used;
    b->sniff_buf = buf;
    b->sniff_len = 0;
    http_chunked_feed(&ch, rest->base, rest->len, &used, vb_sniff_chunk, b, err, sizeof err);
    b->sniff_buf = NULL;
    return b->sniff_len > 0 ? http_sniff(buf, b->sniff_len) : NULL;
}

/* Body bytes while the head waits for the sniff (Content-Length bodies). Takes over
 * data. */
static void vb_sniff_feed(struct vh_backend *b, buf_ref data)
{
    size_t want = b->left < HTTP_SNIFF_LEN ? (size_t)b->left : HTTP_SNIFF_LEN;
    size_t take = want - b->sniff_len;
    if (take > data.len) take = data.len;
    memcpy(b->sniff_buf + b->sniff_len, data.base, take);
    b->sniff_len += take;
    if (b->sniff_len < want) {
        buf_ref_release(&data);
        return;
    }
    char *got = b->sniff_buf;
    size_t n = b->sniff_len;
    b->sniff_buf = NULL;
    buf_ref first = vb_send_head(b, http_sniff(got, n)) ? (buf_ref){0} : buf_ref_copy(got, n);
    free(got);
    if (!first.chunk) {
        if (b->c && !b->c->closing) vc_abort(b->c);
        buf_ref_release(&data);
        return;
    }
    data.base += take;
    data.len -= take;
    if (n == b->left && data.len > 0) b->reusable = false; /* bytes after the response */
    vb_body(b, first);
    if (b->c && b->st == VB_BODY && data.len > 0)
        vb_body(b, data);
    else
        buf_ref_release(&data);
}

/* The response head is complete; rest holds the bytes after it. */
static void vb_head_done(struct vh_backend *b, buf_ref rest)
{
    struct vh_conn *c = b->c;
    const http_response *resp = &b->rp.resp;
    if (resp->body == HTTP_BODY_TUNNEL && (c->method == HTTP_CONNECT || !c->upgrade)) {
        buf_ref_release(&rest);
        vc_error_page(c, 404, "backend tried to switch protocol without an upgrade request");
        return;
    }
    http_kv kv[64];
    struct http_rewrite_resp_opts o;
    vb_resp_opts(b, kv, &o);
    bool defer = false;
    if (http_rewrite_response_sniffs(resp, &o)) o.content_type = vb_sniff_start(b, &rest, &defer);
    char *out = NULL, err[128];
    size_t outlen = 0;
    enum http_body ob;
    int rc = http_rewrite_response(resp, &o, &out, &outlen, &ob, err, sizeof err);
    if (rc) {
        buf_ref_release(&rest);
        vc_error_page(c, 404, rc == CFRP_EINVAL ? err : "out of memory");
        return;
    }
    c->resp_started = true;
    uv_timer_stop(&c->timer);
    b->in_body = resp->body;
    b->out_body = ob;
    b->left = resp->content_length;
    b->reusable = resp->keep_alive && resp->body != HTTP_BODY_CLOSE;
    http_chunked_init(&b->ch);
    if (ob == HTTP_BODY_CLOSE) c->keep_alive = false;
    /* With body bytes for vb_body, the head goes out with them (b->lead). */
    bool lead = rest.len > 0 && resp->body != HTTP_BODY_TUNNEL && resp->body != HTTP_BODY_NONE &&
                !(resp->body == HTTP_BODY_LENGTH && b->left == 0);
    if (!defer) {
        buf_ref head = buf_ref_copy(out, outlen);
        free(out);
        if (!head.chunk) {
            buf_ref_release(&rest);
            vc_abort(c);
            return;
        }
        if (lead) {
            b->lead = head;
        } else if (vc_write(c, &head, 1)) {
            buf_ref_release(&rest);
            return;
        }
    } else {
        free(out);
    }
    if (resp->body == HTTP_BODY_TUNNEL) {
        vc_tunnel(c, rest);
        return;
    }
    if (resp->body == HTTP_BODY_NONE || (resp->body == HTTP_BODY_LENGTH && b->left == 0)) {
        if (rest.len > 0) b->reusable = false;
        buf_ref_release(&rest);
        vc_exchange_end(c);
        return;
    }
    b->st = VB_BODY;
    if (rest.len > 0)
        vb_body(b, rest);
    else
        buf_ref_release(&rest);
    if (b->lead.chunk) {
        /* Nothing of the body was written (an abort, or chunk framing only). */
        if (!b->c || b->c->closing) {
            buf_ref_release(&b->lead);
            return;
        }
        if (vb_flush_lead(b)) return;
    }
    if (b->c) vb_update_reading(b);
}

static void vb_on_read(stream *s, ssize_t nread, buf_ref data)
{
    struct vh_backend *b = s->data;
    struct vh_conn *c = b->c;
    if (b->flush_close && b->st != VB_CLOSED) {
        /* The user's EOF ended the tunnel: the backend's bytes have nowhere to go.
         * Only an error (the writes would fail too) ends the flush early. */
        buf_ref_release(&data);
        if (nread < 0 && nread != UV_EOF) vb_close(b);
        return;
    }
    if (b->st == VB_CLOSED || b->st == VB_IDLE || !c) {
        /* An idle keep-alive connection that speaks or ends is not reusable. */
        buf_ref_release(&data);
        vb_close(b);
        return;
    }
    if (nread < 0) {
        if (b->st == VB_HEAD && !c->resp_started) {
            vc_error_page(c, 404, svr_err_text((int)nread));
        } else if (b->st == VB_BODY && nread == UV_EOF && b->in_body == HTTP_BODY_CLOSE) {
            b->reusable = false;
            if (b->out_body == HTTP_BODY_CHUNKED && vc_write_copy(c, "0\r\n\r\n", 5)) return;
            vc_exchange_end(c);
        } else if (b->st == VB_TUNNEL) {
            vc_close(c, true);
        } else {
            vc_abort(c);
        }
        return;
    }
    if (b->st == VB_TUNNEL) {
        if (vc_write(c, &data, 1) == 0) vb_update_reading(b);
        return;
    }
    if (b->st == VB_BODY) {
        vb_body(b, data);
        if (b->c && b->st == VB_BODY) vb_update_reading(b);
        return;
    }
    for (;;) {
        char err[256];
        size_t used = 0;
        int rc = http_response_feed(&b->rp, c->method, data.base, data.len, &used, err, sizeof err);
        if (rc == HTTP_NEED_MORE) {
            buf_ref_release(&data);
            return;
        }
        if (rc < 0) {
            buf_ref_release(&data);
            vc_error_page(c, 404, err);
            return;
        }
        data.base += used;
        data.len -= used;
        if (!b->rp.resp.interim) break;
        /* 1xx: frps answered 100-continue itself; others are not passed on. */
        http_response_parser_reset(&b->rp);
        if (data.len == 0) {
            buf_ref_release(&data);
            return;
        }
    }
    vb_head_done(b, data);
}

/* A backend is attached to c and connected: send the head, then the body. */
static void vc_backend_ready(struct vh_conn *c)
{
    struct vh_backend *b = c->b;
    c->st = c->method == HTTP_CONNECT ? VC_TUNNEL : VC_EXCHANGE;
    b->st = c->method == HTTP_CONNECT ? VB_TUNNEL : VB_HEAD;
    http_response_parser_reset(&b->rp);
    buf_ref head = buf_ref_copy(c->out_head, c->out_len);
    free(c->out_head);
    c->out_head = NULL;
    if (!head.chunk || vb_write(b, &head, 1)) {
        vc_error_page(c, 404, "write to work connection failed");
        return;
    }
    if (c->method == HTTP_CONNECT) {
        vc_tunnel(c, (buf_ref){0});
        return;
    }
    if (c->expect && !c->req_done && vc_write_copy(c, vh_continue, sizeof vh_continue - 1)) return;
    if (c->pending.len > 0 && !c->req_done) {
        buf_ref p = c->pending;
        c->pending = (buf_ref){0};
        vc_body(c, p);
        if (c->closing || c->st != VC_EXCHANGE) return;
    }
    if (c->req_done) uv_timer_start(&c->timer, vc_resp_timeout, (uint64_t)vh_resp_timeout_ms(c->vh), 0);
    vb_update_reading(b);
    vc_update_reading(c);
}

static void vb_got_work(struct svr_wc_task *t, stream *work)
{
    struct vh_backend *b = LIST_ITEM(t, struct vh_backend, task);
    b->connecting = false;
    if (b->st == VB_CLOSED) {
        if (work) stream_close(work);
        vb_maybe_free(b);
        return;
    }
    stream *s = NULL;
    if (work && svr_proxy_layers(b->p, work, &s)) s = NULL;
    if (!s) {
        struct vh_conn *c = b->c;
        if (c)
            vc_error_page(c, 404, "no work connection available"); /* closes b */
        else
            vb_close(b);
        return;
    }
    b->s = s;
    s->data = b;
    s->on_close = vb_stream_closed;
    struct vh_conn *c = b->c;
    if (!c) {
        b->reusable = true;
        vb_make_idle(b);
        return;
    }
    vc_backend_ready(c);
}

/* Attaches a backend for route r to c: an idle one (unless fresh) or a new work
 * connection. */
static void vc_get_backend(struct vh_conn *c, struct vh_route *r, bool fresh)
{
    c->st = VC_WAIT;
    if (!fresh && !list_empty(&r->idle)) {
        struct vh_backend *b = LIST_ITEM(r->idle.next, struct vh_backend, idle_link);
        list_del(&b->idle_link);
        r->nidle--;
        uv_timer_stop(&b->timer);
        b->st = VB_HEAD;
        b->c = c;
        c->b = b;
        vc_backend_ready(c);
        return;
    }
    struct vh_backend *b = calloc(1, sizeof *b);
    if (!b) {
        vc_abort(c);
        return;
    }
    b->vh = c->vh;
    b->route = r;
    b->p = r->p;
    svr_proxy_retain(b->p);
    http_response_parser_init(&b->rp);
    list_init(&b->idle_link);
    list_push(&c->vh->backends, &b->link);
    uv_timer_init(c->vh->svr->loop, &b->timer);
    b->timer.data = b;
    b->st = VB_CONNECTING;
    b->connecting = true;
    b->c = c;
    c->b = b;
    b->task.p = r->p;
    b->task.done = vb_got_work;
    memcpy(b->task.src_ip, c->ip, sizeof b->task.src_ip);
    b->task.src_port = c->port;
    svr_wc_task_start(&b->task);
}

/* ---- requests ---- */

/* Routes and answers the request whose head the parser just completed. */
static void vc_request(struct vh_conn *c)
{
    const http_request *req = &c->rp.req;
    struct svr_vhost *vh = c->vh;
    uv_timer_stop(&c->timer);
    c->method = req->method;
    c->minor = req->version_minor;
    c->keep_alive = req->keep_alive;
    c->upgrade = req->upgrade != NULL;
    c->expect = req->expect_continue;
    c->req_body = req->body;
    c->req_left = req->content_length;
    c->req_done = req->body == HTTP_BODY_NONE || (req->body == HTTP_BODY_LENGTH && req->content_length == 0);
    c->resp_started = false;
    http_chunked_init(&c->req_chunk);
    size_t hl = req->host_len < sizeof c->host - 1 ? req->host_len : sizeof c->host - 1;
    memcpy(c->host, req->host, hl);
    c->host[hl] = '\0';

    char host[256];
    int n = http_canonical_host(req->host, req->host_len, host, sizeof host);
    host[n < 0 ? 0 : n] = '\0';
    char user[HTTP_AUTH_MAX];
    http_auth_route_user(req, user, sizeof user);
    struct vh_route *r = vhost_router_lookup(vh->http, host, req->path, req->path_len, user);
    if (!r) {
        log_warn("do http proxy request [host: %s] error: no route found: %s %.*s %s", c->host, host,
                 (int)req->path_len, req->path, user);
        if (c->method == HTTP_CONNECT) {
            /* frp's connect handler: a raw 404 response, then close. */
            c->st = VC_WAIT;
            c->keep_alive = false;
            vc_update_reading(c);
            c->page_wait = true;
            vh_load_404(vh->svr, vc_connect_page_loaded, c);
            return;
        }
        vc_error_page(c, 404, NULL);
        return;
    }
    const struct cfg_proxy *pc = r->p->cfg;
    int status = http_auth_check(req, pc->http_user, pc->http_password);
    if (status) {
        vc_error_page(c, status, NULL);
        return;
    }
    int rc;
    if (c->method == HTTP_CONNECT) {
        rc = http_rewrite_connect(req, &c->out_head, &c->out_len);
        c->req_done = true;
    } else {
        const struct cfg_strmap *set = &pc->request_headers.set;
        http_kv kv[64];
        size_t nkv = set->n < 64 ? set->n : 64;
        for (size_t i = 0; i < nkv; i++) kv[i] = (http_kv){set->keys[i], set->vals[i]};
        struct http_rewrite_req_opts o = {.host_rewrite = pc->host_header_rewrite,
                                          .set_headers = kv,
                                          .nset = nkv,
                                          .client_ip = c->ip,
                                          .tls = false};
        char err[256];
        rc = http_rewrite_request(req, &o, &c->out_head, &c->out_len, err, sizeof err);
        if (rc == CFRP_EINVAL) log_warn("[%s] [%s] rewrite request error: %s", r->p->run_id, pc->name, err);
        if (rc == 0) vh_fix_websocket_names(c->out_head, c->out_len);
    }
    if (rc) {
        vc_error_page(c, 404, "rewrite request failed");
        return;
    }
    log_debug("get new HTTP request host [%s] path [%.*s] httpuser [%s]", host, (int)req->path_len,
              req->path, user);
    vc_get_backend(c, r, c->method == HTTP_CONNECT);
}

/* Parses pending bytes while a request head is expected. */
static void vc_process(struct vh_conn *c)
{
    while (!c->closing && c->st == VC_HEAD && c->pending.len > 0) {
        char err[256];
        size_t used = 0;
        int rc = http_request_feed(&c->rp, c->pending.base, c->pending.len, &used, err, sizeof err);
        if (rc == HTTP_NEED_MORE) {
            buf_ref_release(&c->pending);
            break;
        }
        if (rc < 0) {
            log_debug("http: bad request from [%s]: %s", c->ip, err);
            buf_ref_release(&c->pending);
            vc_bad_request(c, c->rp.status);
            return;
        }
        c->pending.base += used;
        c->pending.len -= used;
        if (c->pending.len == 0) buf_ref_release(&c->pending);
        vc_request(c);
    }
    if (!c->closing && c->st == VC_HEAD && c->pending.len == 0 && c->read_err) {
        vc_abort(c); /* a partial head, then the end read during the last exchange */
        return;
    }
    if (!c->closing) vc_update_reading(c);
}

void vh_http_accept(struct server *svr, stream *s, buf_ref head)
{
    struct svr_vhost *vh = svr->vhost;
    struct vh_conn *c = calloc(1, sizeof *c);
    if (!c) {
        buf_ref_release(&head);
        stream_close(s);
        return;
    }
    c->vh = vh;
    c->user = s;
    s->data = c;
    s->on_close = vc_user_closed;
    http_request_parser_init(&c->rp);
    struct sockaddr_storage ss;
    if (s->ops->peer_addr && s->ops->peer_addr(s, &ss) == 0)
        svr_sockaddr_ip((struct sockaddr *)&ss, c->ip, &c->port);
    list_push(&vh->conns, &c->link);
    uv_timer_init(svr->loop, &c->timer);
    c->timer.data = c;
    uv_timer_start(&c->timer, vc_head_timeout, VH_HEAD_TIMEOUT_MS, 0);
    c->st = VC_HEAD;
    if (head.len > 0)
        c->pending = head;
    else
        buf_ref_release(&head);
    vc_process(c);
}

void vh_http_stop(struct svr_vhost *vh)
{
    while (!list_empty(&vh->conns)) {
        struct vh_conn *c = LIST_ITEM(vh->conns.next, struct vh_conn, link);
        list_del(&c->link);
        list_init(&c->link);
        if (c->user && c->finishing) {
            stream *s = c->user;
            c->user = NULL;
            stream_close(s);
        } else {
            vc_abort(c);
        }
    }
    for (struct list_link *l = vh->backends.next; l != &vh->backends;) {
        struct vh_backend *b = LIST_ITEM(l, struct vh_backend, link);
        l = l->next;
        vb_close(b);
    }
}
