/* frpc internals shared by the client's files: the service (reconnect loops), the
 * session (carrier, login, control stream, work connection requests), the proxy
 * wrappers, the tcp/udp work connection handlers and the stcp/sudp visitors.
 *
 * Ownership:
 * - struct csvc lives on client_run's stack; it owns the TLS context, the current
 *   session and the list of tcp work connections being served.
 * - struct csess is heap memory, reference counted: one reference for being open, one
 *   per libuv handle, stream, dial or pending work connection it started. It is freed
 *   when the last one is dropped; the service forgets it when it starts closing.
 * - struct cproxy lives in the session's array; its udp work object (if any) holds a
 *   session reference until it is fully closed.
 * - struct ctcp_work is heap memory owned by the service's list until its join ends. */
#ifndef CFRP_CLIENT_INTERNAL_H
#define CFRP_CLIENT_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <uv.h>

#include "client/backoff.h"
#include "client/proxy_state.h"
#include "config/client_config.h"
#include "mux/yamux.h"
#include "net/dial.h"
#include "net/ratelimit.h"
#include "net/stream.h"
#include "net/tls.h"
#include "base/list.h"
#include "proto/crypto.h"
#include "proto/frame.h"


struct csess;
struct cudp_work;

/* One configured proxy within a session (frp's proxy.Wrapper). */
struct cproxy {
    struct csess *sess;
    const struct cfg_proxy *cfg; /* in the service's config */
    struct client_pxstate st;
    char remote_addr[256];
    char err[512];
    ratelimit *rl;               /* client-mode bandwidth limit, or NULL; one reference */
    struct sockaddr_storage udp_local; /* udp: the resolved localIP:localPort */
    struct cudp_work *udp;       /* udp/sudp: the open work connections (one for udp, one per
                                    visitor for sudp), linked by cudp_work.next */
};

struct csvc {
    struct frpc_config *cfg;     /* the caller's */
    uv_loop_t *loop;
    tls_ctx *tls;                /* NULL when TLS is off; owned */
    uint8_t key[CRYPTO_KEY_LEN]; /* PBKDF2 of auth.token */
    char run_id[64];
    char prefix[80];             /* "[<run id>] " once logged in, else "" */
    struct csess *sess;          /* the current session, or NULL */
    bool logged_in;              /* the first login succeeded */
    bool stopping;
    /* login loop (frp's loopLoginUntilSuccess) and outer reconnect loop */
    struct client_backoff login_bo, outer_bo;
    uint64_t login_delay_ms, outer_delay_ms;
    bool in_outer;               /* the outer loop is running (after the first login) */
    bool retry_new_loop;         /* the retry timer starts a new login loop */
    uv_timer_t retry;
    struct list_link tcp_works;      /* struct ctcp_work, joined or dialing local */
    uv_signal_t sig_int, sig_term;
    bool signals;                /* CFRP_CLEAN_EXIT handlers installed */
    int result;
    char reason[1024];           /* why the first login failed */
    char tls_err[512];           /* set when no login can work (TLS files, protocol) */
};

/* ---- carrier.c ---- */

struct carrier_req;

/* status 0: car is the carrier with every handshake done, owned by the callee (its
 * data/on_close are the callee's to set). status < 0: car is NULL and err holds the
 * text frp would report (a dial error, a TLS or WebSocket handshake error, "i/o
 * timeout"). */
typedef void (*carrier_cb)(stream *car, int status, const char *err, void *arg);

/* Whether carrier_dial can use transport.protocol proto ("tcp", "websocket", "wss"). */
bool carrier_supported(const char *proto);
/* Whether the configuration needs a client TLS context (tls.enable, or wss). */
bool carrier_wants_tls(const struct frpc_config *cfg);
/* Dials frps with the configured transport (svc->tls must exist when
 * carrier_wants_tls). Returns 0 (cb runs later, never inside this call) or a negative
 * code (cb will not run). *out, if out is non-NULL, is valid until cb runs, for
 * carrier_cancel. */
int carrier_dial(struct csvc *svc, carrier_cb cb, void *arg, struct carrier_req **out);
/* Aborts a dial whose callback has not run: it will not run, anything opened so far is
 * closed and the request frees itself. */
void carrier_cancel(struct carrier_req *r);

/* ---- session.c ---- */

/* Starts one login attempt (dial, TLS, yamux, Login). The outcome reaches
 * csvc_login_done(); a session that logged in reports its end to csvc_session_done(). */
int csess_start(struct csvc *svc);
/* Closes a session (proxies, control, carrier). Safe more than once. */
void csess_close(struct csess *s);
void csess_ref(struct csess *s);
void csess_unref(struct csess *s);
/* Sends a control message (encrypted). Errors close the session. */
void csess_send(struct csess *s, const msg *m);
uv_loop_t *csess_loop(const struct csess *s);
struct csvc *csess_svc(const struct csess *s);
/* Opens a new frp connection for the session (frp's ConnectServer): with tcpMux a yamux
 * stream, returned at once in *out (return 0); without, a new carrier (return 1: cb runs
 * later and *req can be given to carrier_cancel until then). < 0: an error. */
int csess_open_conn(struct csess *s, stream **out, carrier_cb cb, void *arg,
                    struct carrier_req **req);

/* ---- service.c ---- */

/* A login attempt ended: err NULL on success (the session runs), else the reason. */
void csvc_login_done(struct csvc *svc, struct csess *s, const char *err);
/* A logged-in session ended (control closed). */
void csvc_session_done(struct csvc *svc, struct csess *s);

/* ---- proxy.c ---- */

/* Fills the session's proxy wrappers (frp's UpdateAll) and logs "proxy added". */
int cproxy_init(struct cproxy *p, struct csess *s, const struct cfg_proxy *cfg);
/* One status check (every 3 s). */
void cproxy_check(struct cproxy *p, uint64_t now_ms);
void cproxy_on_resp(struct cproxy *p, const msg_new_proxy_resp *r);
/* Closes the proxy (udp work connection, limiter). */
void cproxy_close(struct cproxy *p);
/* A work connection with its StartWorkConn; head holds bytes read after it. Takes st. */
void cproxy_work(struct cproxy *p, stream *st, const msg_start_work_conn *m, const void *head,
                 size_t head_len);
/* Stacks the work connection layers of protocol.md 5.4 on st: client-mode limiter,
 * encryption (token key; head decrypted first), compression. *used_head says whether
 * head went into a layer (else the caller must handle it). Takes st, also on error. */
int cproxy_layers(struct cproxy *p, stream *st, const void *head, size_t head_len,
                  stream **out, bool *used_head);
/* Aborts every tcp work connection (clean exit). */
void ctcp_abort_all(struct csvc *svc);

/* ---- proxy_udp.c ---- */

/* Starts serving a udp proxy on a new work connection: beside the others for sudp (one
 * per visitor), instead of the previous one for udp (as frp does). */
void cudp_start(struct cproxy *p, stream *st, const void *head, size_t head_len);
/* Closes a udp work connection and its per-peer sockets. */
void cudp_close(struct cudp_work *u);

/* ---- visitor.c ---- */

struct cvisitors;

/* Starts the session's [[visitors]] (stcp, sudp; logs "visitor added"). NULL when
 * there are none or on ENOMEM. The object holds a session reference until it is freed
 * after cvisitors_close. */
struct cvisitors *cvisitors_start(struct csess *s);
/* Closes the listeners and every visitor connection. */
void cvisitors_close(struct cvisitors *vs);

/* ---- helpers (session.c) ---- */

uint64_t cnow_ms(const struct csvc *svc);
/* Logging prefix of a proxy: "[<run id>] [<name>] ". */
void cproxy_prefix(const struct cproxy *p, char *out, size_t cap);

#endif
