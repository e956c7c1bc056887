/* KCP sessions over UDP as streams, wire-compatible with kcp-go as frp v0.61.1 runs it
 * (protocol.md 1.6): FEC 10+3 on every datagram, no encryption, stream mode, nodelay
 * 1/20 ms/resend 2/no congestion window, MTU 1350, write delay (segments leave on the
 * 20 ms tick), ACK no-delay off.
 *
 * A dialer owns one UDP socket per session and picks a random conv; a listener shares
 * one socket and demultiplexes datagrams by source address into accepted sessions, as
 * kcp-go's Listener: a new address starts a session with the conv of its first packet; a
 * packet from a known address with another conv and sn 0 replaces the session there
 * (the old stream then reads CFRP_ECLOSED).
 *
 * Streams: write() accepts bytes at once and completes them (status 0) once they are
 * inside KCP's send queue, which is filled only while fewer than snd_wnd segments wait,
 * so queued() (bytes not yet acknowledged by the peer) gives backpressure. A stopped
 * reader leaves segments in KCP, which closes the peer's window. KCP has no FIN: a
 * session never reads EOF, shutdown() returns UV_ENOTSUP, and close() sends what KCP
 * holds once and forgets the session (liveness is yamux's or frp's heartbeat's job). */
#ifndef CFRP_KCP_CONN_H
#define CFRP_KCP_CONN_H

#include <stddef.h>
#include <stdint.h>
#include <uv.h>

#include "kcp/kcp_core.h"
#include "net/stream.h"

#define KCP_CONN_MTU 1350
#define KCP_CONN_INTERVAL_MS 20
#define KCP_CONN_SOCKBUF (4 * 1024 * 1024)
#define KCP_LISTEN_MAX_SESSIONS 1024

struct kcp_options {
    uint32_t snd_wnd, rcv_wnd; /* segments, <= KCP_WND_MAX; 0: frp's (dial 128/512,
                                  listen 1024/1024) */
    uint32_t conv;             /* dial only; 0: random (frp's xtcp tunnel uses 1) */
    size_t max_sessions;       /* listen only; 0: KCP_LISTEN_MAX_SESSIONS live sessions */
};

/* ---- dialing ---- */

/* Opens a session to addr (IPv4 or IPv6 literal address) on a new UDP socket. Nothing is
 * sent until the first write. *out is owned by the caller. 0, CFRP_EINVAL or a UV_*. */
int kcp_dial_addr(uv_loop_t *loop, const struct sockaddr *addr, const struct kcp_options *opts,
                  stream **out);

typedef struct kcp_dial_req kcp_dial_req;
/* status 0: s is owned by the callee. Else s is NULL and err says why
 * ("dial udp: lookup <host>: no such host", CFRP_ENOTFOUND). */
typedef void (*kcp_dial_cb)(stream *s, int status, const char *err, void *arg);

/* Resolves host (an IPv4 answer is preferred, as Go's "udp4") and dials port. Returns 0
 * (cb runs later, never inside this call) or a UV_* code (cb will not run). *out, if
 * non-NULL, is valid until cb runs, for kcp_dial_cancel. */
int kcp_dial(uv_loop_t *loop, const char *host, int port, const struct kcp_options *opts,
             kcp_dial_cb cb, void *arg, kcp_dial_req **out);
/* The callback of a dial not yet finished will not run; the request frees itself. */
void kcp_dial_cancel(kcp_dial_req *r);

/* ---- listening ---- */

typedef struct kcp_listener kcp_listener;
/* A new session; s is owned by the callee. */
typedef void (*kcp_accept_cb)(kcp_listener *l, stream *s, void *arg);

/* Binds UDP ip:port ("" or NULL: 0.0.0.0; port 0: any). *out is owned by the caller
 * until kcp_listener_close. 0 or a UV_* code with err set. */
int kcp_listen(uv_loop_t *loop, const char *ip, int port, const struct kcp_options *opts,
               kcp_accept_cb cb, void *arg, kcp_listener **out, char *err, size_t errlen);
/* The bound port. */
int kcp_listener_port(const kcp_listener *l);
/* Stops accepting. Sessions already accepted keep working; the socket closes and the
 * listener is freed when the last of them is closed. */
void kcp_listener_close(kcp_listener *l);

#endif
