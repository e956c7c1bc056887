/* Dialing TCP: resolve a host name (libuv's thread pool), connect to its addresses in
 * order until one answers, all within one timeout, with Go's error texts:
 *   dial tcp 127.0.0.1:7000: connect: connection refused
 *   dial tcp 10.0.0.1:7000: i/o timeout
 *   dial tcp: lookup nosuch.example: no such host */
#ifndef CFRP_NET_DIAL_H
#define CFRP_NET_DIAL_H

#include <stdint.h>
#include <uv.h>

#include "net/stream.h"
#include "net/tcp.h"

struct dial_options {
    uint64_t timeout_ms;    /* 0: no timeout (the kernel's connect timeout applies) */
    const char *local_ip;   /* NULL or "": any; else an IP literal to bind before connect */
    struct tcp_options tcp; /* applied to the connected socket */
};

typedef struct dial_req dial_req;

/* Runs once per dial_tcp(). status 0: s is connected and owned by the callee.
 * status < 0: s is NULL and err holds the Go-style text (CFRP_ETIMEOUT on timeout,
 * CFRP_ENOTFOUND for an unknown host, else the code of the first failed attempt). */
typedef void (*dial_cb)(stream *s, int status, const char *err, void *arg);

/* Starts dialing host:port. Returns 0 (cb will run later, never inside this call) or
 * UV_ENOMEM (cb will not run). If out is non-NULL it receives a handle valid until cb
 * runs, for dial_cancel. */
int dial_tcp(uv_loop_t *loop, const char *host, int port, const struct dial_options *opts,
             dial_cb cb, void *arg, dial_req **out);

/* Aborts a dial whose callback has not run yet: the callback will not run, a
 * connection in progress is closed, and the request frees itself. */
void dial_cancel(dial_req *r);

#endif
