/* WebSocket (RFC 6455, version 13) as frp v0.61.1 uses it through golang.org/x/net/websocket
 * (protocol.md 1.5): the client's upgrade handshake over any stream (TCP, or TLS for
 * wss), the server's answer to an upgrade request already parsed, and the framing as a
 * stream filter on both sides.
 *
 * Framing: every write() becomes exactly one frame with FIN set and opcode 1 (text),
 * as Go writes them, although the payload is arbitrary bytes; client frames are masked
 * with a fresh random key, server frames are not. The reader concatenates the payloads
 * of text, binary and continuation frames (fragmentation is accepted, no UTF-8 check),
 * answers Ping with Pong, ignores Pong and reads Close as UV_EOF. It rejects, with a
 * Close frame (1002, or 1009 for size) and a read error (CFRP_EPROTO / CFRP_ETOOBIG):
 * a server receiving an unmasked frame or a client a masked one, reserved bits, unknown
 * opcodes, fragmented or longer than 125 byte control frames, and data frames longer
 * than WS_MAX_FRAME. Data frames are never buffered whole: payload bytes are handed on
 * as they arrive, so memory stays bounded whatever the frame size.
 *
 * shutdown() sends Close (1000) after queued writes and shuts the stream below down;
 * close() sends Close (1000) when it was not sent yet (best effort) and closes the
 * stream below, which the WebSocket stream owns (including its data/on_close fields).
 * queued() = client writes waiting for the handshake + the stream below's queued(). */
#ifndef CFRP_NET_WEBSOCKET_H
#define CFRP_NET_WEBSOCKET_H

#include <stdbool.h>
#include <stddef.h>
#include <uv.h>

#include "net/stream.h"

/* Largest data frame payload accepted: x/net/websocket's DefaultMaxPayloadBytes. Go
 * peers write one frame per write call (a yamux header or body, a TLS record, a 16 KiB
 * copy buffer), far below this. */
#define WS_MAX_FRAME (32u << 20)
/* Largest control frame payload (RFC 6455 5.5). */
#define WS_MAX_CONTROL 125
/* Largest upgrade response head the client reads. */
#define WS_RESPONSE_MAX 8192
/* Length of a Sec-WebSocket-Accept value (base64 of 20 bytes) without the NUL. */
#define WS_ACCEPT_LEN 28

/* Runs once: status 0 when the server accepted the upgrade, else a negative code and
 * x/net/websocket's text ("bad status", "missing or bad upgrade", "mismatch
 * challenge/response", "unsupported extensions", "EOF", "unexpected EOF", ...). It
 * never runs after stream_close() of the WebSocket stream. */
typedef void (*ws_handshake_cb)(stream *s, int status, const char *err, void *arg);

/* Wraps below (owned from now on) in a client WebSocket stream stored in *out and
 * writes the upgrade request for path at once, in Go's header order:
 *   GET <path> HTTP/1.1, Host: <host>, Upgrade: websocket, Connection: Upgrade,
 *   Sec-WebSocket-Key: <random>, Origin: http://<host, lower-cased>,
 *   Sec-WebSocket-Version: 13.
 * Writes made before hs_cb reported success are kept and sent after it. A failed
 * handshake also reaches the reader as a read error. Returns 0, CFRP_EINVAL (host or
 * path too long or holding control characters) or UV_ENOMEM; below is then still the
 * caller's. */
int ws_client_new(uv_loop_t *loop, stream *below, const char *host, const char *path,
                  ws_handshake_cb hs_cb, void *arg, stream **out);

/* Wraps below (owned from now on) in a server WebSocket stream, for a connection whose
 * upgrade was answered with 101 (ws_server_answer). prefix holds bytes the client sent
 * after its request head; it is copied. Returns 0 or UV_ENOMEM (below still the
 * caller's). */
int ws_server_new(uv_loop_t *loop, stream *below, const void *prefix, size_t prefix_len,
                  stream **out);

/* Longest Sec-WebSocket-Key accepted (a real one has 24 characters). */
#define WS_KEY_MAX 256

/* Sec-WebSocket-Accept for a Sec-WebSocket-Key: base64(SHA-1(key + RFC 6455 GUID)).
 * 0, or CFRP_EINVAL for a key longer than WS_KEY_MAX. */
int ws_accept_key(const char *key, size_t key_len, char out[WS_ACCEPT_LEN + 1]);

/* A header value of an upgrade request (first occurrence), p == NULL when absent. */
struct ws_str {
    const char *p;
    size_t n;
};

/* What the server's handshake looks at (x/net/websocket ReadHandshake, checkOrigin). */
struct ws_upgrade_req {
    struct ws_str upgrade, connection, key, version, origin, protocol;
};

/* The answer Go's websocket.Handler gives to an upgrade request (method and path
 * already matched): 101 with the accept key (echoing a single offered subprotocol);
 * 400 with x/net's text as body for a missing/bad Upgrade or Connection ("not websocket
 * protocol"), key (missing or longer than WS_KEY_MAX: "mismatch challenge/response"), version
 * ("missing or bad WebSocket Version", with Sec-WebSocket-Version: 13) or several subprotocols (or
 * one longer than 128 bytes); 403 for a missing or unparsable Origin. Writes the response bytes
 * into out and returns the status, or CFRP_ETOOBIG when cap is too small (512 bytes always
 * suffice). */
int ws_server_answer(const struct ws_upgrade_req *rq, char *out, size_t cap, size_t *out_len);

#endif
