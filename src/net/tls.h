/* TLS (OpenSSL 3, memory BIOs) over any stream: TCP, WebSocket, a yamux stream, a pipe.
 *
 * Settings follow frp (protocol.md 1.3):
 * - client: SNI = server_name unless it is an IP literal or empty; with a trusted CA
 *   file the chain must verify and match server_name (DNS or IP SAN), without one
 *   nothing is verified at all; a client certificate is sent when both cert and key
 *   files are given; TLS 1.2 or 1.3, no ALPN.
 * - server: cert/key files, or else frp's generated default certificate
 *   (tls_cert_default); with a trusted CA file a client certificate signed by it is
 *   required.
 *
 * The handshake starts as soon as the stream is made (from the next loop iteration);
 * writes made before it completes are kept and sent after it. shutdown() sends
 * close_notify and then shuts the stream below down; a received close_notify (or EOF
 * below) reads as UV_EOF. close() sends close_notify (best effort) and closes the
 * stream below. queued() = plaintext waiting for the handshake + the stream below's
 * queued(). */
#ifndef CFRP_NET_TLS_H
#define CFRP_NET_TLS_H

#include <uv.h>

#include "net/stream.h"

typedef struct tls_ctx tls_ctx;

struct tls_options {
    const char *cert_file;       /* PEM chain; with key_file */
    const char *key_file;
    const char *trusted_ca_file; /* client: verify the server; server: require client certs */
};

/* A context for many connections; owned by the caller, freed with tls_ctx_free (streams
 * made from it keep what they need). 0 or a negative code with err set, e.g.
 * "tls: load certificate /x.pem: ...". */
int tls_ctx_client(const struct tls_options *opts, tls_ctx **out, char *err, size_t errlen);
int tls_ctx_server(const struct tls_options *opts, tls_ctx **out, char *err, size_t errlen);
void tls_ctx_free(tls_ctx *ctx);

/* Runs once: status 0 when the handshake completed, else a negative code and a text
 * such as "tls: failed to verify certificate: x509: certificate signed by unknown
 * authority" or "EOF". It never runs after stream_close() of the TLS stream. */
typedef void (*tls_handshake_cb)(stream *s, int status, const char *err, void *arg);

/* Wraps below (which the TLS stream owns from now on, including its data/on_read/
 * on_close fields) in a client TLS stream stored in *out. hs_cb may be NULL. A fatal
 * error (handshake or later) also reaches the reader as a read error. Returns 0 or
 * UV_ENOMEM (below is then still the caller's). */
int tls_client_new(uv_loop_t *loop, tls_ctx *ctx, stream *below, const char *server_name,
                   tls_handshake_cb hs_cb, void *arg, stream **out);

/* The server side. prefix holds bytes already read from below (the bind port's sniff,
 * protocol.md 1.2; a leading 0x17 must be stripped by the caller), fed to the
 * handshake before anything read later; it is copied. */
int tls_server_new(uv_loop_t *loop, tls_ctx *ctx, stream *below, const void *prefix,
                   size_t prefix_len, tls_handshake_cb hs_cb, void *arg, stream **out);

/* Server side: the SNI the client sent, or NULL. Valid while the stream is open. */
const char *tls_stream_sni(const stream *s);

#endif
