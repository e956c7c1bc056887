/* TCP dialing with resolution, serial fallback over addresses and one deadline
 * (see dial.h).
 *
 * One timer does two jobs: it first fires at once to start the dial outside
 * dial_tcp() (so the callback never runs inside it), then is re-armed as the deadline.
 * The request frees itself once its callback has run and no libuv request of its own
 * (lookup, connect, timer) is still pending. */
#include "net/dial.h"

#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/err.h"

#define DIAL_MAX_ADDRS 16

struct dial_req {
    uv_loop_t *loop;
    uv_timer_t timer;
    uv_getaddrinfo_t gai;
    uv_connect_t creq;
    stream *conn; /* the attempt in progress; owned here until handed to cb */
    struct sockaddr_storage addrs[DIAL_MAX_ADDRS];
    int naddrs, next;
    struct sockaddr_storage local;
    bool has_local;
    char *host; /* owned */
    int port;
    struct tcp_options tcp;
    uint64_t timeout_ms;
    dial_cb cb;
    void *arg;
    bool started, resolving, connecting, done, timer_closing;
    int first_err;
    char first_text[512]; /* Go text of the first failed attempt */
    char cur_addr[160];   /* "[local->]ip:port" of the current attempt */
};

static void dial_timer_closed(uv_handle_t *h)
{
    dial_req *r = h->data;
    free(r->host);
    free(r);
}

static void dial_maybe_free(dial_req *r)
{
    if (!r->done || r->resolving || r->connecting || r->timer_closing) return;
    r->timer_closing = true;
    uv_close((uv_handle_t *)&r->timer, dial_timer_closed);
}

static void dial_finish(dial_req *r, stream *s, int status, const char *text)
{
    if (r->done) return;
    r->done = true;
    uv_timer_stop(&r->timer);
    r->cb(s, status, text, r->arg);
    dial_maybe_free(r);
}

static void dial_try_next(dial_req *r);

static void dial_on_connect(uv_connect_t *req, int status)
{
    dial_req *r = req->data;
    r->connecting = false;
    stream *s = r->conn;
    r->conn = NULL;
    if (r->done) { /* timed out or canceled: the stream is already closing */
        dial_maybe_free(r);
        return;
    }
    if (status == 0) {
        tcp_stream_set_options(s, &r->tcp);
        dial_finish(r, s, 0, NULL);
        return;
    }
    stream_close(s);
    if (!r->first_err) {
        char text[128];
        tcp_strerror(status, text, sizeof text);
        r->first_err = status;
        snprintf(r->first_text, sizeof r->first_text, "dial tcp %s: connect: %s", r->cur_addr,
                 text);
    }
    dial_try_next(r);
}

static void dial_set_cur_addr(dial_req *r, const struct sockaddr *sa)
{
    char remote[64], local[64];
    tcp_format_addr(remote, sizeof remote, sa);
    if (r->has_local) {
        tcp_format_addr(local, sizeof local, (struct sockaddr *)&r->local);
        snprintf(r->cur_addr, sizeof r->cur_addr, "%s->%s", local, remote);
    } else {
        snprintf(r->cur_addr, sizeof r->cur_addr, "%s", remote);
    }
}

/* Records a failed attempt that did not get as far as connect(). */
static void dial_attempt_failed(dial_req *r, int code, const char *op)
{
    if (r->first_err) return;
    char text[128];
    tcp_strerror(code, text, sizeof text);
    r->first_err = code;
    snprintf(r->first_text, sizeof r->first_text, "dial tcp %s: %s: %s", r->cur_addr, op, text);
}

static void dial_try_next(dial_req *r)
{
    while (r->next < r->naddrs) {
        const struct sockaddr *sa = (struct sockaddr *)&r->addrs[r->next++];
        dial_set_cur_addr(r, sa);
        stream *s;
        int rc = tcp_stream_new(r->loop, &s);
        if (rc) {
            dial_attempt_failed(r, rc, "socket");
            continue;
        }
        uv_tcp_t *h = tcp_stream_handle(s);
        if (r->has_local && (rc = uv_tcp_bind(h, (struct sockaddr *)&r->local, 0)) != 0) {
            dial_attempt_failed(r, rc, "bind");
            stream_close(s);
            continue;
        }
        r->creq.data = r;
        rc = uv_tcp_connect(&r->creq, h, sa, dial_on_connect);
        if (rc) {
            dial_attempt_failed(r, rc, "connect");
            stream_close(s);
            continue;
        }
        r->conn = s;
        r->connecting = true;
        return;
    }
    if (!r->first_err) {
        snprintf(r->first_text, sizeof r->first_text,
                 "dial tcp: lookup %s: no suitable address found", r->host);
        r->first_err = CFRP_ENOTFOUND;
    }
    dial_finish(r, NULL, r->first_err, r->first_text);
}

/* Keeps the addresses of the local address's family when binding locally (Go does the
 * same), at most DIAL_MAX_ADDRS. */
static void dial_add_addr(dial_req *r, const struct sockaddr *sa, size_t len)
{
    if (r->naddrs >= DIAL_MAX_ADDRS || len > sizeof r->addrs[0]) return;
    if (r->has_local && sa->sa_family != r->local.ss_family) return;
    memset(&r->addrs[r->naddrs], 0, sizeof r->addrs[0]);
    memcpy(&r->addrs[r->naddrs], sa, len);
    struct sockaddr_in *in = (struct sockaddr_in *)&r->addrs[r->naddrs];
    in->sin_port = htons((uint16_t)r->port); /* same offset for IPv6 */
    r->naddrs++;
}

static void dial_on_resolved(uv_getaddrinfo_t *req, int status, struct addrinfo *res)
{
    dial_req *r = req->data;
    r->resolving = false;
    if (r->done) {
        uv_freeaddrinfo(res);
        dial_maybe_free(r);
        return;
    }
    if (status < 0) {
        char text[300];
        snprintf(text, sizeof text, "dial tcp: lookup %s: no such host", r->host);
        if (status != UV_EAI_NONAME && status != UV_EAI_NODATA && status != UV_EAI_FAIL)
            snprintf(text, sizeof text, "dial tcp: lookup %s: %s", r->host, uv_strerror(status));
        dial_finish(r, NULL, CFRP_ENOTFOUND, text);
        return;
    }
    for (struct addrinfo *ai = res; ai; ai = ai->ai_next)
        if (ai->ai_family == AF_INET || ai->ai_family == AF_INET6)
            dial_add_addr(r, ai->ai_addr, ai->ai_addrlen);
    uv_freeaddrinfo(res);
    dial_try_next(r);
}

static void dial_on_timer(uv_timer_t *t)
{
    dial_req *r = t->data;
    if (!r->started) {
        r->started = true;
        if (r->timeout_ms) uv_timer_start(&r->timer, dial_on_timer, r->timeout_ms, 0);
        struct sockaddr_in in;
        struct sockaddr_in6 in6;
        if (uv_ip4_addr(r->host, r->port, &in) == 0) {
            dial_add_addr(r, (struct sockaddr *)&in, sizeof in);
        } else if (uv_ip6_addr(r->host, r->port, &in6) == 0) {
            dial_add_addr(r, (struct sockaddr *)&in6, sizeof in6);
        } else {
            struct addrinfo hints = {.ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM};
            r->gai.data = r;
            int rc = uv_getaddrinfo(r->loop, &r->gai, dial_on_resolved, r->host, NULL, &hints);
            if (rc == 0) {
                r->resolving = true;
                return;
            }
            char text[300];
            snprintf(text, sizeof text, "dial tcp: lookup %s: %s", r->host, uv_strerror(rc));
            dial_finish(r, NULL, rc, text);
            return;
        }
        dial_try_next(r);
        return;
    }
    /* The deadline. */
    char text[300];
    if (r->resolving) {
        uv_cancel((uv_req_t *)&r->gai);
        snprintf(text, sizeof text, "dial tcp: lookup %s: i/o timeout", r->host);
    } else {
        snprintf(text, sizeof text, "dial tcp %s: i/o timeout", r->cur_addr);
    }
    if (r->connecting) stream_close(r->conn);
    dial_finish(r, NULL, CFRP_ETIMEOUT, text);
}

int dial_tcp(uv_loop_t *loop, const char *host, int port, const struct dial_options *opts,
             dial_cb cb, void *arg, dial_req **out)
{
    dial_req *r = calloc(1, sizeof *r);
    if (!r) return UV_ENOMEM;
    r->host = strdup(host ? host : "");
    if (!r->host) {
        free(r);
        return UV_ENOMEM;
    }
    r->loop = loop;
    r->port = port;
    r->cb = cb;
    r->arg = arg;
    if (opts) {
        r->tcp = opts->tcp;
        r->timeout_ms = opts->timeout_ms;
        if (opts->local_ip && *opts->local_ip) {
            struct sockaddr_in in;
            struct sockaddr_in6 in6;
            if (uv_ip4_addr(opts->local_ip, 0, &in) == 0) {
                memcpy(&r->local, &in, sizeof in);
                r->has_local = true;
            } else if (uv_ip6_addr(opts->local_ip, 0, &in6) == 0) {
                memcpy(&r->local, &in6, sizeof in6);
                r->has_local = true;
            }
        }
    } else {
        r->tcp.nodelay = true;
    }
    /* An empty host means this machine, as in Go. */
    if (!*r->host) {
        free(r->host);
        r->host = strdup("127.0.0.1");
        if (!r->host) {
            free(r);
            return UV_ENOMEM;
        }
    }
    uv_timer_init(loop, &r->timer);
    r->timer.data = r;
    uv_timer_start(&r->timer, dial_on_timer, 0, 0);
    if (out) *out = r;
    return 0;
}

void dial_cancel(dial_req *r)
{
    if (r->done) return;
    r->done = true; /* the callback will not run */
    uv_timer_stop(&r->timer);
    if (r->resolving) uv_cancel((uv_req_t *)&r->gai);
    if (r->connecting) stream_close(r->conn);
    dial_maybe_free(r);
}
