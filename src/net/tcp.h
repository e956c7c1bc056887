/* TCP as a stream: listeners, accepted and dialed connections on libuv.
 *
 * Reads land in BUF_CHUNK_SIZE chunks from the buffer pool (libuv's alloc callback);
 * libuv itself bounds the reads per wakeup (32) and keeps a spare descriptor to
 * accept-and-close when the process is out of descriptors. Writes go to uv_write and
 * keep their buf_refs until the write callback; queued() is libuv's write queue size
 * (bytes accepted but not yet in the kernel). shutdown() is uv_shutdown; close() is
 * uv_close, then on_close, then the memory is freed.
 *
 * Error texts follow Go's net package, e.g.
 *   listen tcp 0.0.0.0:7000: bind: address already in use */
#ifndef CFRP_NET_TCP_H
#define CFRP_NET_TCP_H

#include <stdbool.h>
#include <uv.h>

#include "net/stream.h"

struct tcp_options {
    bool nodelay;       /* TCP_NODELAY (Go sets it on every TCP socket) */
    int keepalive_secs; /* > 0: keep-alive with this idle period; <= 0: off */
};

typedef struct tcp_listener tcp_listener;

/* A new connection; s is owned by the callee (close it when done). */
typedef void (*tcp_accept_cb)(tcp_listener *l, stream *s, void *arg);

/* Listens on host:port. host NULL, "", "0.0.0.0" or "::" means every address: like Go,
 * one dual-stack IPv6 socket (IPv4-only if the host has no IPv6). Other hosts are IP
 * literals or names resolved at once (blocking: for start-up only). port 0 picks a free
 * port (see tcp_listener_port). opts apply to accepted connections (NULL: nodelay on,
 * keep-alive off). On success *out is owned by the caller until tcp_listener_close.
 * Errors: a negative code and err as Go prints it. */
int tcp_listen(uv_loop_t *loop, const char *host, int port, int backlog,
               const struct tcp_options *opts, tcp_accept_cb cb, void *arg,
               tcp_listener **out, char *err, size_t errlen);

/* The port actually bound. */
int tcp_listener_port(const tcp_listener *l);

/* Stops accepting and frees the listener after libuv's close (no callback runs after
 * this call). */
void tcp_listener_close(tcp_listener *l);

/* A new unconnected TCP stream for dialing (net/dial.c); owned by the caller. */
int tcp_stream_new(uv_loop_t *loop, stream **out);

/* The libuv handle of a stream made by this module (for connect/bind). */
uv_tcp_t *tcp_stream_handle(stream *s);

/* Applies TCP_NODELAY and keep-alive; 0 or a negative code. */
int tcp_stream_set_options(stream *s, const struct tcp_options *opts);

/* "host:port", with IPv6 literals bracketed, as Go's net.JoinHostPort. */
void tcp_join_host_port(char *out, size_t outlen, const char *host, int port);

/* "ip:port" of a socket address in Go's form ([v6]:port). */
void tcp_format_addr(char *out, size_t outlen, const struct sockaddr *sa);

/* The text Go prints for an errno-style code ("connection refused"); other codes as
 * err_str(). Always NUL-terminated. */
void tcp_strerror(int code, char *out, size_t outlen);

#endif
