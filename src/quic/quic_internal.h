/* Internal structures shared by the QUIC files: the UDP endpoint (quic_endpoint.c),
 * the connection driver (quic_session.c) and the stream (quic_stream.c). */
#ifndef CFRP_QUIC_INTERNAL_H
#define CFRP_QUIC_INTERNAL_H

#include <gnutls/gnutls.h>
#include <ngtcp2/ngtcp2.h>
#include <ngtcp2/ngtcp2_crypto.h>

#include "base/list.h"
#include "quic/quic.h"

#define QUIC_SCID_LEN 16          /* server connection IDs we issue */
#define QUIC_MAX_PKT 1500         /* datagram buffer for one outgoing packet */
#define QUIC_RECV_BUF 65536       /* datagram buffer for reads */
#define QUIC_CID_BUCKETS 1024     /* listener's connection-ID table */
#define QUIC_MAX_CIDS_PER_CONN 8  /* IDs one server session may have registered */
#define QUIC_ERRLEN 160

/* One UDP socket: a client session's own, or a listener's shared by its sessions. */
struct quic_udp {
    uv_udp_t h;
    struct sockaddr_storage local;
    socklen_t local_len;
    bool blocked;            /* an async send is in flight: hold further packets */
    quic_listener *listener; /* server socket, or NULL */
    quic_session *session;   /* client socket, or NULL */
    char rbuf[QUIC_RECV_BUF];
};

/* A connection ID registered in the listener's table. */
struct quic_cid_entry {
    struct list_link link; /* in a bucket */
    ngtcp2_cid cid;
    quic_session *sess;
};

struct quic_listener {
    uv_loop_t *loop;
    struct quic_udp *udp;    /* freed in its close callback */
    gnutls_certificate_credentials_t cred;
    bool require_client_cert;
    struct quic_config cfg;
    quic_session_cb on_session;
    void *arg;
    struct list_link sessions; /* quic_session.listener_link */
    uint32_t handshaking;
    uint64_t hash_seed;
    uint8_t reset_secret[32];
    struct list_link buckets[QUIC_CID_BUCKETS];
    bool closing;
};

struct quic_stream;

struct quic_session {
    uv_loop_t *loop;
    bool is_server;
    ngtcp2_conn *conn; /* NULL once dead */
    ngtcp2_crypto_conn_ref conn_ref;
    gnutls_session_t tls;
    gnutls_certificate_credentials_t own_cred; /* client: owned; server: NULL */
    struct quic_udp *udp;      /* client: owned; server: the listener's */
    quic_listener *listener;   /* server, until the session dies */
    struct list_link listener_link;
    struct quic_cid_entry *cids[QUIC_MAX_CIDS_PER_CONN];
    bool counted_handshaking;
    struct sockaddr_storage remote;
    socklen_t remote_len;
    struct quic_config cfg;
    struct quic_handlers h;
    bool handlers_set;
    uv_timer_t timer;
    uv_getaddrinfo_t gai;
    bool resolving;
    struct quic_tls_options tls_opts; /* copied strings (client, until resolved) */
    char *server_name, *cert_file, *key_file, *ca_file;

    struct list_link streams;     /* all quic_stream.link, freed only in sess_reap */
    struct list_link accept_q;    /* quic_stream.accept_link, peer-opened, not handed out */
    struct list_link send_q;      /* quic_stream.send_link, with data or FIN to send */
    size_t nstreams;              /* in streams */

    bool handshake_done;
    bool ready_reported;
    bool in_process;
    bool kick;
    bool dead;
    bool close_reported;
    bool timer_closed;
    bool freed_pending;
    int handles_open; /* timer (+ client udp) not yet closed */
    int status;
    char errbuf[QUIC_ERRLEN];
    uint8_t reset_secret[32];
};

/* One refcounted slice plus its position, in a stream's send or receive queue. */
struct quic_chunk {
    struct list_link link;
    buf_ref ref;
    uint64_t off; /* send: stream offset of ref.base[0] */
};

struct quic_wreq {
    struct list_link link;
    uint64_t end; /* done when everything before this offset was handed to QUIC */
    stream_write_cb cb;
    void *arg;
};

struct quic_stream {
    stream base; /* first: a quic_stream is a stream */
    quic_session *sess;
    int64_t id;
    struct list_link link;
    struct list_link accept_link;
    struct list_link send_link;
    /* receive */
    struct list_link rq; /* quic_chunk, in order */
    size_t rq_bytes;
    bool reading;
    bool fin_rcvd;    /* FIN seen: EOF after rq drains */
    int recv_err;     /* RESET_STREAM seen (UV_ECONNRESET) */
    bool eof_given;   /* EOF or error passed to the reader */
    /* send */
    struct list_link sq;   /* quic_chunk: unacked, from acked offset on */
    struct list_link wreqs;
    uint64_t written;      /* total bytes accepted by write() */
    uint64_t sent;         /* handed to ngtcp2 */
    uint64_t acked;
    bool shut_wr;          /* FIN wanted after written */
    bool fin_sent;
    bool data_blocked;     /* peer's stream window closed */
    int write_err;         /* peer sent STOP_SENDING / stream gone */
    /* life */
    bool ng_closed;        /* ngtcp2 closed the stream (or never had it) */
    bool app_closed;
    bool close_cb_done;
    bool accepted;         /* handed to the application (or opened by it) */
};

/* quic_session.c */
int quic_session_new_common(uv_loop_t *loop, bool is_server, const struct quic_config *cfg,
                            quic_session **out);
int quic_session_start_client(quic_session *s, const struct sockaddr *remote, char *err,
                              size_t errlen);
int quic_session_start_server(quic_session *s, const ngtcp2_pkt_hd *hd,
                              const struct sockaddr *remote, socklen_t remote_len,
                              char *err, size_t errlen);
void quic_session_on_datagram(quic_session *s, const struct sockaddr *from,
                              const uint8_t *data, size_t len);
void quic_session_schedule(quic_session *s);
void quic_session_fail(quic_session *s, int status, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
void quic_session_abort_listener(quic_session *s);
/* Sends one datagram on the session's socket (drops it when the socket fails). */
void quic_udp_send(struct quic_udp *u, const struct sockaddr *to, const uint8_t *data,
                   size_t len);
void quic_udp_unblocked(struct quic_udp *u);

/* quic_endpoint.c */
int quic_tls_client_setup(quic_session *s, char *err, size_t errlen);
int quic_tls_server_setup(quic_session *s, quic_listener *l, char *err, size_t errlen);
int quic_listener_add_cid(quic_listener *l, quic_session *s, const ngtcp2_cid *cid);
void quic_listener_remove_cid(quic_listener *l, quic_session *s, const ngtcp2_cid *cid);
void quic_listener_session_gone(quic_listener *l, quic_session *s);
void quic_listener_handshake_done(quic_listener *l, quic_session *s);
void quic_rand(void *dest, size_t len);

/* quic_stream.c */
struct quic_stream *quic_stream_new(quic_session *s, int64_t id);
void quic_stream_free(struct quic_stream *st);
/* Copies received bytes into the receive queue. 0 or NGTCP2_ERR_CALLBACK_FAILURE. */
int quic_stream_on_data(struct quic_stream *st, const uint8_t *data, size_t len, bool fin);
void quic_stream_on_acked(struct quic_stream *st, uint64_t offset, uint64_t len);
/* Drops everything held for sending (stream reset, closed or session ended). */
void quic_stream_drop_send(struct quic_stream *st, int status);
/* Delivers reads, EOF/errors, write completions and the close callback. */
void quic_stream_dispatch(struct quic_stream *st);
/* Builds the vector of unsent bytes; returns the count; *fin if FIN may go with it. */
size_t quic_stream_pending(struct quic_stream *st, ngtcp2_vec *v, size_t maxv, bool *fin);
void quic_stream_advance(struct quic_stream *st, size_t n, bool fin);
bool quic_stream_wants_send(const struct quic_stream *st);

#endif
