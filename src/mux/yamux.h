/* yamux: the stream multiplexer frp runs over one carrier connection.
 *
 * Wire-compatible with fatedier/yamux as frp v0.61.1 configures it (spec: protocol.md
 * section 2). Three parts:
 * - the frame codec: 12-byte header encode/decode (yamux_frame.c);
 * - the session: runs over any stream (TCP, TLS, WebSocket, KCP ...), opens streams
 *   (odd ids on the client, even on the server), accepts the peer's streams through a
 *   callback, does per-stream flow control, keep-alive pings, go-away and timeouts
 *   (yamux_session.c);
 * - the yamux stream, which is itself a `stream` (net/stream.h): read_start/read_stop
 *   (a stream that is not read stops granting window to the peer: backpressure), write
 *   (queued() grows while the peer's window is closed), shutdown (FIN), close
 *   (FIN, or RST if the stream was already reset) (yamux_stream.c).
 *
 * Threading: everything runs on the session's libuv loop. */
#ifndef CFRP_MUX_YAMUX_H
#define CFRP_MUX_YAMUX_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <uv.h>

#include "net/stream.h"

/* ---- frame codec ---- */

#define YAMUX_HEADER_SIZE 12
#define YAMUX_VERSION 0

enum yamux_type {
    YAMUX_TYPE_DATA = 0,
    YAMUX_TYPE_WINDOW_UPDATE = 1,
    YAMUX_TYPE_PING = 2,
    YAMUX_TYPE_GO_AWAY = 3
};

enum yamux_flag {
    YAMUX_FLAG_SYN = 0x1,
    YAMUX_FLAG_ACK = 0x2,
    YAMUX_FLAG_FIN = 0x4,
    YAMUX_FLAG_RST = 0x8
};

enum yamux_go_away_code {
    YAMUX_GOAWAY_NORMAL = 0,
    YAMUX_GOAWAY_PROTO_ERR = 1,
    YAMUX_GOAWAY_INTERNAL_ERR = 2
};

/* The initial window of every stream in both directions (implied, never sent). */
#define YAMUX_INITIAL_WINDOW (256u * 1024u)
/* frp's MaxStreamWindowSize. */
#define YAMUX_FRP_MAX_WINDOW (6u * 1024u * 1024u)

struct yamux_header {
    uint8_t version;
    uint8_t type;
    uint16_t flags;
    uint32_t stream_id;
    uint32_t length; /* Data: payload bytes; WU: delta; Ping: opaque; GoAway: code */
};

/* Writes h into out (big-endian, 12 bytes). */
void yamux_header_encode(uint8_t out[YAMUX_HEADER_SIZE], const struct yamux_header *h);

/* Reads 12 bytes into *h. Returns 0, or CFRP_EPROTO (message in err) if the version is
 * not 0 or the type is not one of the four known ones; *h is filled either way. */
int yamux_header_decode(const uint8_t in[YAMUX_HEADER_SIZE], struct yamux_header *h,
                        char *err, size_t errlen);

/* ---- session ---- */

typedef struct yamux_session yamux_session;

struct yamux_config {
    uint32_t accept_backlog;        /* unaccepted incoming streams kept (256); also the
                                       cap on our own streams awaiting the peer's ACK */
    uint32_t max_stream_window;     /* receive window we grant, >= 256 KiB (6 MiB) */
    uint64_t keepalive_interval_ms; /* ping every this often; 0 disables (30000) */
    uint64_t ping_timeout_ms;       /* no ping ACK within this: session dropped (10000) */
    uint64_t open_timeout_ms;       /* no ACK for a stream we opened: session dropped;
                                       0 disables (75000) */
    uint64_t close_timeout_ms;      /* closed stream whose peer never FINs: RST (300000) */
    uint64_t write_timeout_ms;      /* carrier accepts no bytes for this long while we
                                       have some in flight: session dropped (10000) */
};

/* Fills cfg with frp v0.61.1's values (listed above). */
void yamux_config_default(struct yamux_config *cfg);

/* A new stream from the peer. The callee owns st (must stream_close it eventually);
 * the ACK has already been queued. */
typedef void (*yamux_accept_cb)(yamux_session *sess, stream *st);
/* The session ended: status 0 after yamux_session_close(), otherwise why (UV_EOF when
 * the carrier ended, CFRP_EPROTO, CFRP_ETIMEOUT, a carrier error ...). Runs once, after
 * the carrier was closed. Streams the application still holds stay valid (their reads
 * end with CFRP_ECLOSED) until it closes them; the session's memory is freed after this
 * callback and the close of the last stream. */
typedef void (*yamux_close_cb)(yamux_session *sess, int status);

/* Starts a session over inner. client selects odd stream ids (frpc), server even (frps).
 * cfg may be NULL for the defaults. on_accept may be NULL: incoming streams are then
 * refused with RST. On success the session owns inner (sets inner->data/on_close, reads
 * it, closes it at the end) and *out is set; on failure inner is left untouched and
 * CFRP_EINVAL or UV_ENOMEM is returned with a message in err. */
int yamux_session_new(uv_loop_t *loop, stream *inner, bool client,
                      const struct yamux_config *cfg, yamux_accept_cb on_accept,
                      yamux_close_cb on_close, void *data, yamux_session **out,
                      char *err, size_t errlen);

/* Opens a stream: the Window Update + SYN is queued (or waits while accept_backlog of
 * our streams are unacknowledged); data may be written at once. The caller owns *out.
 * Returns 0, CFRP_ECLOSED (session ended), UV_ECONNREFUSED (peer sent Go Away),
 * CFRP_ETOOBIG (stream ids exhausted) or UV_ENOMEM. */
int yamux_session_open(yamux_session *sess, stream **out);

/* Ends the session: the carrier is closed (no Go Away is sent, like frp), streams end
 * with CFRP_ECLOSED, on_close runs later with status 0. Safe to call more than once and
 * from any callback. */
void yamux_session_close(yamux_session *sess);

/* Sends Go Away (normal): the peer may open no more streams; ours are refused (RST). */
void yamux_session_go_away(yamux_session *sess);

/* Stops or resumes handing new streams to on_accept. While stopped, up to
 * accept_backlog streams wait (the peer's data for them is buffered within the
 * window); more are refused with RST. */
void yamux_session_set_accepting(yamux_session *sess, bool accepting);

void *yamux_session_data(const yamux_session *sess);
bool yamux_session_is_closed(const yamux_session *sess);
/* Streams currently known to the peer (open, half-closed, waiting for accept). */
size_t yamux_session_num_streams(const yamux_session *sess);

/* ---- streams ---- */

extern const struct stream_ops yamux_stream_ops;

/* The stream id of a yamux stream (0 if st is not one). */
uint32_t yamux_stream_id(const stream *st);
/* The session a yamux stream belongs to (NULL if st is not one). */
yamux_session *yamux_stream_session(const stream *st);

#endif
