/* QUIC sessions (ngtcp2 0.12 + GnuTLS) on libuv UDP sockets, shaped like mux/yamux.h.
 *
 * Wire behaviour follows frp v0.61.1's quic-go usage (protocol.md 1.7): QUIC v1, TLS 1.3
 * with ALPN "frp", keep-alive 10 s, max idle 30 s, 100000 incoming bidirectional
 * streams, 512 KiB stream / 768 KiB connection windows growing to 6 / 15 MiB,
 * migration disabled. The client uses a zero-length source connection ID (as quic-go);
 * the server hands out 16-byte IDs and accepts any client ID length.
 *
 * Every client-initiated bidirectional QUIC stream is a `stream` (net/stream.h):
 * - read_start/read_stop: flow-control credit is granted back to the peer only as the
 *   reader consumes, so an unread stream stops the peer (backpressure);
 * - write: the bytes stay referenced until the peer acknowledges them; queued() counts
 *   the ones not yet handed to QUIC (blocked by the peer's window or congestion);
 * - shutdown: FIN after the written data; a received FIN reads as UV_EOF, a received
 *   RESET_STREAM as UV_ECONNRESET;
 * - close: STOP_SENDING(0) for the read side and FIN for the write side, as frp does.
 * quic_session_close sends CONNECTION_CLOSE with application error 0, empty reason.
 *
 * Threading: everything runs on the session's libuv loop. No callback runs inside the
 * API call that caused it. */
#ifndef CFRP_QUIC_QUIC_H
#define CFRP_QUIC_QUIC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>
#include <uv.h>

#include "net/stream.h"

typedef struct quic_session quic_session;
typedef struct quic_listener quic_listener;

struct quic_config {
    uint64_t keepalive_ms;         /* PING when idle this long; 0 disables (10000) */
    uint64_t max_idle_timeout_ms;  /* transport parameter max_idle_timeout (30000) */
    uint64_t max_incoming_streams; /* initial_max_streams_bidi we grant (100000) */
    uint64_t handshake_timeout_ms; /* handshake must finish within (5000) */
    uint32_t max_handshaking;      /* listener: connections in handshake at once; more
                                      Initials are dropped (64) */
};

/* Fills cfg with frp v0.61.1's values (listed above). */
void quic_config_default(struct quic_config *cfg);

/* TLS settings, protocol.md 1.3 and 1.7. Strings are copied or read during the call. */
struct quic_tls_options {
    const char *server_name;     /* client: SNI unless empty or an IP literal; the name
                                    checked against the certificate when a CA is set */
    const char *cert_file;       /* PEM; client: sent when key_file is set too; server:
                                    with key_file, else frp's generated certificate */
    const char *key_file;
    const char *trusted_ca_file; /* client: verify the server (chain + name); server:
                                    require a client certificate signed by it */
};

/* A new stream the peer opened. The callee owns st (must stream_close it). */
typedef void (*quic_accept_cb)(quic_session *sess, stream *st);
/* Client: the handshake completed; streams may be opened. */
typedef void (*quic_ready_cb)(quic_session *sess);
/* The session ended: status 0 after quic_session_close(), UV_EOF when the peer closed
 * it without error, CFRP_ETIMEOUT (idle or handshake timeout), CFRP_EPROTO (TLS or
 * protocol failure, also a peer's error code), CFRP_ECLOSED (the listener was closed),
 * a resolver or socket error. quic_session_error() has the text. Runs once. Streams the
 * application holds stay valid (reads end with CFRP_ECLOSED) until it closes them; the
 * session's memory is freed after this callback and the close of the last stream. */
typedef void (*quic_close_cb)(quic_session *sess, int status);

struct quic_handlers {
    quic_ready_cb on_ready;   /* client only; may be NULL */
    quic_accept_cb on_accept; /* NULL: streams the peer opens are closed at once */
    quic_close_cb on_close;   /* may be NULL */
    void *data;               /* quic_session_data() */
};

/* Client: resolves host (name or IP literal; libuv's thread pool), binds a UDP socket
 * on an ephemeral port and starts the handshake. cfg may be NULL for the defaults.
 * *out is valid at once (quic_session_close cancels); on_ready or on_close follows.
 * Returns 0, or CFRP_EINVAL (bad port, unreadable certificate files) / UV_ENOMEM with
 * err set, and then no callback runs. */
int quic_dial(uv_loop_t *loop, const char *host, int port, const struct quic_tls_options *tls,
              const struct quic_config *cfg, const struct quic_handlers *h, quic_session **out,
              char *err, size_t errlen);

/* Client over a UDP socket the caller already has (xtcp: the punched hole). The session
 * owns fd from now on (also on failure) and closes it at the end; datagrams from other
 * addresses than remote are handed to QUIC too (it drops what it cannot decrypt). */
int quic_dial_fd(uv_loop_t *loop, uv_os_sock_t fd, const struct sockaddr *remote,
                 const struct quic_tls_options *tls, const struct quic_config *cfg,
                 const struct quic_handlers *h, quic_session **out, char *err, size_t errlen);

/* A session whose handshake completed. The callee must call quic_session_set_handlers
 * (streams the peer opened meanwhile wait) or quic_session_close. */
typedef void (*quic_session_cb)(quic_listener *l, quic_session *sess, void *arg);

/* Server: binds UDP ip:port (port 0: any; see quic_listener_port) and accepts
 * connections. Returns 0 or a negative code with err set (bad certificate files,
 * "listen udp 0.0.0.0:7000: bind: address already in use"). */
int quic_listen(uv_loop_t *loop, const char *ip, int port, const struct quic_tls_options *tls,
                const struct quic_config *cfg, quic_session_cb on_session, void *arg,
                quic_listener **out, char *err, size_t errlen);
/* Server over a UDP socket the caller has (xtcp); the listener owns fd from now on
 * (also on failure). */
int quic_listen_fd(uv_loop_t *loop, uv_os_sock_t fd, const struct quic_tls_options *tls,
                   const struct quic_config *cfg, quic_session_cb on_session, void *arg,
                   quic_listener **out, char *err, size_t errlen);
int quic_listener_port(const quic_listener *l);
/* Stops listening: every session of the listener is closed (CONNECTION_CLOSE, their
 * on_close gets CFRP_ECLOSED), the socket is closed, the memory freed later. */
void quic_listener_close(quic_listener *l);

/* Sets the callbacks of a server session (from on_session) or replaces a client's. */
void quic_session_set_handlers(quic_session *sess, const struct quic_handlers *h);

/* Opens a client-initiated bidirectional stream (the peer learns of it with the first
 * data or FIN). The caller owns *out. Returns 0, CFRP_ECLOSED (session ended),
 * UV_EAGAIN (handshake not complete, or the peer's stream limit reached) or
 * UV_ENOMEM. */
int quic_session_open(quic_session *sess, stream **out);

/* Ends the session: CONNECTION_CLOSE (application error 0) is sent, streams end with
 * CFRP_ECLOSED, on_close runs later with status 0. Safe to call more than once. */
void quic_session_close(quic_session *sess);

void *quic_session_data(const quic_session *sess);
bool quic_session_is_closed(const quic_session *sess);
/* Why the session ended ("" while it runs), e.g. "Application error 0x0 (remote)",
 * "timeout: no recent network activity", "tls: handshake failed: ...". */
const char *quic_session_error(const quic_session *sess);
/* The peer's UDP address. */
int quic_session_peer_addr(const quic_session *sess, struct sockaddr_storage *addr);

extern const struct stream_ops quic_stream_ops;

/* The QUIC stream id of a quic stream (-1 if st is not one). */
int64_t quic_stream_id(const stream *st);
/* The session of a quic stream (NULL if st is not one). */
quic_session *quic_stream_session(const stream *st);

#endif
