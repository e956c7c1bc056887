/* Shared state of frps's web front doors (protocol.md 6.3-6.5): the routing tables of
 * the http vhost, the https (SNI) vhost and the tcpmux CONNECT port, their listeners,
 * the connections in progress, and the route payloads the proxy kinds register
 * (proxy_vhost.c). Used by vhost*.c and proxy_vhost.c only. */
#ifndef CFRP_SERVER_VHOST_INTERNAL_H
#define CFRP_SERVER_VHOST_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>

#include "http/vhost_router.h"
#include "net/tcp.h"
#include "server/svr_internal.h"

#define VH_HEAD_TIMEOUT_MS 60000  /* http: a request head must arrive within (Go's ReadHeaderTimeout) */
#define VH_SNIFF_TIMEOUT_MS 30000 /* https ClientHello / tcpmux CONNECT (frp's vhostReadWriteTimeout) */
#define VH_IDLE_BACKEND_MS 60000  /* idle work connections kept per http route */
/* Idle backends kept per route. frp keeps 5 (Go's MaxIdleConnsPerHost); after a burst
 * of concurrent requests it closes the rest and pays a new work connection and a new
 * local connection for each request of the next burst. 64 keeps a burst's backends. */
#define VH_IDLE_BACKEND_MAX 64
#define VH_HIGH_WATER (256 * 1024) /* stop reading one side while the other has this much queued */

struct svr_vhost {
    struct server *svr;
    vhost_router *http;   /* payload: struct vh_route * */
    vhost_router *https;  /* payload: struct vh_route * */
    vhost_router *tcpmux; /* payload: struct vh_route * */
    tcp_listener *http_l, *https_l, *tcpmux_l; /* owned; NULL when off or shared */
    struct list_link conns;    /* struct vh_conn: http front connections */
    struct list_link backends; /* struct vh_backend: every http backend connection */
    struct list_link pending;  /* struct vh_sniff: https/tcpmux connections being read */
};

/* One registered (domain, location) of a proxy. Owned by the proxy's impl (freed in
 * kind->destroy, so pointers held by backends stay valid while they hold the proxy). */
struct vh_route {
    struct svr_proxy *p;
    char *domain;             /* owned */
    char *location;           /* owned ("" for https/tcpmux) */
    bool registered;          /* present in the router */
    struct list_link idle;     /* struct vh_backend: idle keep-alive work connections */
    unsigned nidle;
};

/* vhost_http.c: takes over a connection to the http vhost (head = bytes already read). */
void vh_http_accept(struct server *svr, stream *s, buf_ref head);
/* vhost_http.c: closes the idle backends of a route (its proxy is closing). */
void vh_route_drop_idle(struct vh_route *r);
/* vhost_http.c: closes every http front and backend connection. */
void vh_http_stop(struct svr_vhost *vh);

/* vhost_https.c / vhost_tcpmux.c: take over a connection to their port. */
void vh_https_accept(struct server *svr, stream *s, buf_ref head);
void vh_tcpmux_accept(struct server *svr, stream *s, buf_ref head);

/* A connection whose first bytes are being read to pick a route (https, tcpmux). */
struct vh_sniff {
    struct list_link link;  /* in vh->pending */
    struct svr_vhost *vh;
    stream *s;             /* owned until handed on */
    uv_timer_t timer;      /* VH_SNIFF_TIMEOUT_MS */
    char *raw;             /* every byte read so far; owned */
    size_t len, cap;
    /* Called after each read with the new bytes appended to raw. Returns 0 to read on,
     * 1 when it has taken over or closed the stream (the sniff is then freed). */
    int (*feed)(struct vh_sniff *sn, size_t newlen);
    void (*free_ext)(struct vh_sniff *sn); /* frees ext; may be NULL */
    void *ext;             /* the kind's state */
    size_t max;            /* bound on raw */
};

/* Starts reading s (head first) for feed. Closes s on failure. */
void vh_sniff_start(struct server *svr, stream *s, buf_ref head, size_t max,
                    int (*feed)(struct vh_sniff *sn, size_t newlen),
                    void (*free_ext)(struct vh_sniff *sn), void *ext);
/* Ends the sniff and gives its stream to the caller (sn is freed). */
stream *vh_sniff_take(struct vh_sniff *sn);
/* Ends the sniff and closes its stream (sn is freed). */
void vh_sniff_close(struct vh_sniff *sn);
/* Writes data (len may be 0) to s, shuts it down and closes it after the peer's EOF
 * or 500 ms. s must have no write of the caller's in flight. */
void vh_write_and_close(uv_loop_t *loop, stream *s, const void *data, size_t len);

/* Gets the not-found page body: custom404Page, read off the loop thread on every use
 * (frp re-reads it), or the built-in page (body NULL) when unset or unreadable. cb
 * runs exactly once, possibly before this returns; body is only valid during cb. */
typedef void (*vh_page_cb)(void *arg, const char *body, size_t len);
void vh_load_404(struct server *svr, vh_page_cb cb, void *arg);
/* Answers s with frp's raw 404 response (tcpmux, vhost CONNECT) and closes it. */
void vh_not_found_close(struct server *svr, stream *s);

/* Wraps s so that data (copied) is read first; returns the stream to use (s itself when
 * len is 0) or NULL (s closed) when out of memory. */
stream *vh_with_prefix(struct server *svr, stream *s, const char *data, size_t len);

#endif
