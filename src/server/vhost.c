/* frps's web front doors, the shared parts: the three routing tables, the listeners
 * of vhostHTTPPort, vhostHTTPSPort and tcpmuxHTTPConnectPort (or the bind-port hooks
 * when a vhost port equals bindPort, protocol.md 1.2), the "read the first bytes
 * within a deadline" helper used by https and tcpmux, and writing a last answer
 * before closing. */
#include <stdlib.h>
#include <string.h>

#include "base/err.h"
#include "base/log.h"
#include "config/server_config.h"
#include "http/http_pages.h"
#include "server/vhost_internal.h"

#define VH_LINGER_MS 500 /* after a last answer: wait this long for the peer's EOF */

int svr_vhost_init(struct server *svr)
{
    struct svr_vhost *vh = calloc(1, sizeof *vh);
    if (!vh) return UV_ENOMEM;
    vh->svr = svr;
    list_init(&vh->conns);
    list_init(&vh->backends);
    list_init(&vh->pending);
    vh->http = vhost_router_new();
    vh->https = vhost_router_new();
    vh->tcpmux = vhost_router_new();
    svr->vhost = vh;
    if (!vh->http || !vh->https || !vh->tcpmux) return UV_ENOMEM;
    return 0;
}

void svr_vhost_free(struct server *svr)
{
    struct svr_vhost *vh = svr->vhost;
    if (!vh) return;
    if (vh->http) vhost_router_free(vh->http);
    if (vh->https) vhost_router_free(vh->https);
    if (vh->tcpmux) vhost_router_free(vh->tcpmux);
    free(vh);
    svr->vhost = NULL;
}

static void vh_on_http(tcp_listener *l, stream *s, void *arg)
{
    vh_http_accept(arg, s, (buf_ref){0});
}

static void vh_on_https(tcp_listener *l, stream *s, void *arg)
{
    vh_https_accept(arg, s, (buf_ref){0});
}

static void vh_on_tcpmux(tcp_listener *l, stream *s, void *arg)
{
    vh_tcpmux_accept(arg, s, (buf_ref){0});
}

/* Listens on proxyBindAddr:port; on failure err gets "<prefix>, <Go's error>". */
static int vh_listen(struct server *svr, int port, tcp_accept_cb cb, tcp_listener **out,
                     const char *prefix, char *addr, size_t addrlen, char *err, size_t errlen)
{
    const struct frps_config *cfg = svr->cfg;
    struct tcp_options opts = {.nodelay = true, .keepalive_secs = 0};
    char e[384];
    tcp_join_host_port(addr, addrlen, cfg->proxy_bind_addr, port);
    int rc = tcp_listen(svr->loop, cfg->proxy_bind_addr, port, 4096, &opts, cb, svr, out, e, sizeof e);
    if (rc) err_set(err, errlen, "%s, %s", prefix, e);
    return rc;
}

int svr_vhost_listen_tcpmux(struct server *svr, char *err, size_t errlen)
{
    const struct frps_config *cfg = svr->cfg;
    if (cfg->tcpmux_http_connect_port <= 0) return 0;
    char addr[300];
    int rc = vh_listen(svr, (int)cfg->tcpmux_http_connect_port, vh_on_tcpmux, &svr->vhost->tcpmux_l,
                       "create server listener error", addr, sizeof addr, err, errlen);
    if (rc) return rc;
    log_info("tcpmux httpconnect multiplexer listen on %s, passthough: %s", addr,
             cfg->tcpmux_passthrough ? "true" : "false");
    return 0;
}

int svr_vhost_listen_http(struct server *svr, char *err, size_t errlen)
{
    const struct frps_config *cfg = svr->cfg;
    struct svr_vhost *vh = svr->vhost;
    bool shared = strcmp(cfg->proxy_bind_addr, cfg->bind_addr) == 0;
    char addr[300];
    int rc;
    if (cfg->vhost_http_port > 0) {
        if (shared && cfg->vhost_http_port == cfg->bind_port) {
            svr->hooks.vhost_http = vh_http_accept;
            tcp_join_host_port(addr, sizeof addr, cfg->proxy_bind_addr, (int)cfg->vhost_http_port);
        } else {
            rc = vh_listen(svr, (int)cfg->vhost_http_port, vh_on_http, &vh->http_l,
                           "create vhost http listener error", addr, sizeof addr, err, errlen);
            if (rc) return rc;
        }
        log_info("http service listen on %s", addr);
    }
    if (cfg->vhost_https_port > 0) {
        if (shared && cfg->vhost_https_port == cfg->bind_port) {
            svr->hooks.vhost_https = vh_https_accept;
        } else {
            rc = vh_listen(svr, (int)cfg->vhost_https_port, vh_on_https, &vh->https_l,
                           "create server listener error", addr, sizeof addr, err, errlen);
            if (rc) return rc;
            log_info("https service listen on %s", addr);
        }
    }
    return 0;
}

void svr_vhost_stop(struct server *svr)
{
    struct svr_vhost *vh = svr->vhost;
    if (!vh) return;
    tcp_listener **ls[] = {&vh->http_l, &vh->https_l, &vh->tcpmux_l};
    for (size_t i = 0; i < 3; i++)
        if (*ls[i]) {
            tcp_listener_close(*ls[i]);
            *ls[i] = NULL;
        }
    svr->hooks.vhost_http = NULL;
    svr->hooks.vhost_https = NULL;
    while (!list_empty(&vh->pending))
        vh_sniff_close(LIST_ITEM(vh->pending.next, struct vh_sniff, link));
    vh_http_stop(vh);
}

/* ---- reading the first bytes of https / tcpmux connections ---- */

static void sniff_timer_closed(uv_handle_t *h)
{
    struct vh_sniff *sn = h->data;
    if (sn->free_ext) sn->free_ext(sn);
    free(sn->raw);
    free(sn);
}

static void sniff_free(struct vh_sniff *sn)
{
    list_del(&sn->link);
    uv_close((uv_handle_t *)&sn->timer, sniff_timer_closed);
}

stream *vh_sniff_take(struct vh_sniff *sn)
{
    stream *s = sn->s;
    stream_read_stop(s);
    s->on_close = NULL;
    s->data = NULL;
    sniff_free(sn);
    return s;
}

void vh_sniff_close(struct vh_sniff *sn)
{
    stream *s = vh_sniff_take(sn);
    stream_close(s);
}

static void sniff_timeout(uv_timer_t *t)
{
    vh_sniff_close(t->data);
}

/* Appends bytes to raw (bounded by max) and runs feed. Returns 1 when sn is gone. */
static int sniff_add(struct vh_sniff *sn, const char *data, size_t len)
{
    if (len > sn->max - sn->len) {
        vh_sniff_close(sn);
        return 1;
    }
    if (sn->len + len > sn->cap) {
        size_t cap = sn->cap ? sn->cap : 4096;
        while (cap < sn->len + len) cap *= 2;
        if (cap > sn->max) cap = sn->max;
        char *n = realloc(sn->raw, cap);
        if (!n) {
            vh_sniff_close(sn);
            return 1;
        }
        sn->raw = n;
        sn->cap = cap;
    }
    memcpy(sn->raw + sn->len, data, len);
    sn->len += len;
    return sn->feed(sn, len);
}

static void sniff_on_read(stream *s, ssize_t nread, buf_ref data)
{
    struct vh_sniff *sn = s->data;
    if (nread < 0) {
        vh_sniff_close(sn);
        return;
    }
    int gone = sniff_add(sn, data.base, data.len);
    buf_ref_release(&data);
    (void)gone;
}

void vh_sniff_start(struct server *svr, stream *s, buf_ref head, size_t max,
                    int (*feed)(struct vh_sniff *sn, size_t newlen),
                    void (*free_ext)(struct vh_sniff *sn), void *ext)
{
    struct vh_sniff *sn = calloc(1, sizeof *sn);
    if (!sn) {
        buf_ref_release(&head);
        if (free_ext) {
            struct vh_sniff tmp = {.ext = ext};
            free_ext(&tmp);
        }
        stream_close(s);
        return;
    }
    sn->vh = svr->vhost;
    sn->s = s;
    sn->feed = feed;
    sn->free_ext = free_ext;
    sn->ext = ext;
    sn->max = max;
    list_push(&sn->vh->pending, &sn->link);
    uv_timer_init(svr->loop, &sn->timer);
    sn->timer.data = sn;
    uv_timer_start(&sn->timer, sniff_timeout, VH_SNIFF_TIMEOUT_MS, 0);
    s->data = sn;
    s->on_close = NULL;
    if (head.len > 0) {
        int gone = sniff_add(sn, head.base, head.len);
        buf_ref_release(&head);
        if (gone) return;
    }
    buf_ref_release(&head);
    if (stream_read_start(s, sniff_on_read)) vh_sniff_close(sn);
}

/* ---- a last answer, then close ---- */

/* A stream that got its last bytes: shut down after them, then wait (bounded) for the
 * peer's EOF so that unread input does not turn the close into a reset that could
 * destroy the answer in flight. */
struct vh_linger {
    stream *s;
    uv_timer_t timer;
    bool stream_closed;
};

static void linger_timer_closed(uv_handle_t *h)
{
    free(h->data);
}

static void linger_end(struct vh_linger *lg)
{
    if (lg->stream_closed) return;
    lg->stream_closed = true;
    stream_close(lg->s);
    uv_close((uv_handle_t *)&lg->timer, linger_timer_closed);
}

static void linger_timeout(uv_timer_t *t)
{
    linger_end(t->data);
}

static void linger_on_read(stream *s, ssize_t nread, buf_ref data)
{
    buf_ref_release(&data);
    if (nread < 0) linger_end(s->data);
}

static void linger_written(stream *s, int status, void *arg)
{
    struct vh_linger *lg = arg;
    if (lg->stream_closed) return;
    if (status < 0 || stream_shutdown(s) || stream_read_start(s, linger_on_read)) {
        linger_end(lg);
        return;
    }
    uv_timer_start(&lg->timer, linger_timeout, VH_LINGER_MS, 0);
}

void vh_write_and_close(uv_loop_t *loop, stream *s, const void *data, size_t len)
{
    struct vh_linger *lg = calloc(1, sizeof *lg);
    if (!lg) {
        stream_close(s);
        return;
    }
    lg->s = s;
    s->data = lg;
    s->on_close = NULL;
    stream_read_stop(s);
    uv_timer_init(loop, &lg->timer);
    lg->timer.data = lg;
    if (len == 0) {
        linger_written(s, 0, lg);
        return;
    }
    int rc = stream_write_copy(s, data, len, linger_written, lg);
    if (rc) linger_end(lg);
}

stream *vh_with_prefix(struct server *svr, stream *s, const char *data, size_t len)
{
    if (len == 0) return s;
    buf_ref head = buf_ref_copy(data, len);
    stream *out = NULL;
    if (!head.chunk || prefix_stream_new(svr->loop, s, head, &out)) {
        stream_close(s);
        return NULL;
    }
    return out;
}

/* ---- the not-found page ---- */

struct vh_page_req {
    uv_work_t work;
    char *path;   /* owned copy of custom404Page */
    char *body;   /* owned; NULL when unreadable */
    size_t len;
    int rc;
    vh_page_cb cb;
    void *arg;
};

static void page_work(uv_work_t *w)
{
    struct vh_page_req *pr = w->data;
    pr->rc = http_page_read_file(pr->path, &pr->body, &pr->len);
    if (pr->rc) pr->body = NULL;
}

static void page_done(uv_work_t *w, int status)
{
    struct vh_page_req *pr = w->data;
    if (status == 0 && pr->rc) {
        char e[128];
        tcp_strerror(pr->rc, e, sizeof e);
        log_warn("read custom 404 page error: open %s: %s", pr->path, e);
    }
    pr->cb(pr->arg, pr->body, pr->body ? pr->len : 0);
    free(pr->body);
    free(pr->path);
    free(pr);
}

void vh_load_404(struct server *svr, vh_page_cb cb, void *arg)
{
    const char *path = svr->cfg->custom_404_page;
    struct vh_page_req *pr = path && *path ? calloc(1, sizeof *pr) : NULL;
    if (pr) pr->path = strdup(path);
    if (!pr || !pr->path) {
        free(pr);
        cb(arg, NULL, 0);
        return;
    }
    pr->cb = cb;
    pr->arg = arg;
    pr->work.data = pr;
    if (uv_queue_work(svr->loop, &pr->work, page_work, page_done)) {
        free(pr->path);
        free(pr);
        cb(arg, NULL, 0);
    }
}

struct vh_nf {
    struct server *svr;
    stream *s;
};

static void nf_page(void *arg, const char *body, size_t len)
{
    struct vh_nf *nf = arg;
    char *out = NULL;
    size_t outlen = 0;
    if (http_page_tcpmux_404(body, len, &out, &outlen) == 0)
        vh_write_and_close(nf->svr->loop, nf->s, out, outlen);
    else
        stream_close(nf->s);
    free(out);
    free(nf);
}

void vh_not_found_close(struct server *svr, stream *s)
{
    struct vh_nf *nf = malloc(sizeof *nf);
    if (!nf) {
        stream_close(s);
        return;
    }
    stream_read_stop(s);
    s->on_close = NULL;
    nf->svr = svr;
    nf->s = s;
    vh_load_404(svr, nf_page, nf);
}
