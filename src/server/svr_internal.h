/* frps internals shared by the files of src/server: the service object, small
 * containers (intrusive list, string map), the port manager, the bind-port classifier,
 * the prefix stream, frame helpers, controls and proxies. Nothing here is used outside
 * src/server (and its unit tests). */
#ifndef CFRP_SERVER_SVR_INTERNAL_H
#define CFRP_SERVER_SVR_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <uv.h>

#include "base/buf.h"
#include "base/list.h"
#include "config/types.h"
#include "net/prefix_stream.h"
#include "net/stream.h"
#include "proto/crypto.h"
#include "proto/frame.h"
#include "proto/msg.h"

struct server;
struct frps_config;
struct tcp_listener;
struct kcp_listener;
struct quic_listener;
struct tls_ctx;
struct yamux_session;
struct ratelimit;
struct cfg_proxy;
struct join;
struct svr_vhost;

#define SVR_VERSION "0.61.1"
#define SVR_CONN_READ_TIMEOUT_MS 10000 /* classification, TLS sniff, first frame */
#define SVR_ADDR_TEXT 80               /* "[v6%zone]:port" */


/* ---- string-keyed hash map (registry.c) ---- */

struct svr_map_ent;
/* Maps NUL-terminated keys (copied) to caller-owned pointers. */
struct svr_map {
    struct svr_map_ent **b;
    size_t nb, n;
};

void svr_map_init(struct svr_map *m);
/* Frees the map's own memory; values are the caller's. */
void svr_map_free(struct svr_map *m);
void *svr_map_get(const struct svr_map *m, const char *key);
/* Sets key to val, replacing an older value. Returns 0 or UV_ENOMEM. */
int svr_map_set(struct svr_map *m, const char *key, void *val);
/* Removes key; returns its value or NULL. */
void *svr_map_del(struct svr_map *m, const char *key);
/* Calls fn for every entry; entries for which fn returns true are removed. */
void svr_map_filter(struct svr_map *m, bool (*fn)(const char *key, void *val, void *arg),
                    void *arg);

/* A new run id: 16 lowercase hex characters from 8 random bytes. Returns 0 or a UV_*
 * code. */
int svr_run_id_new(char out[17]);

/* ---- port manager (ports.c), frp's server/ports ---- */

#define SVR_PORT_RESERVE_MS (24ull * 3600 * 1000) /* a released port stays reserved */
#define SVR_PORT_RANDOM_TRIES 5

/* Whether port can be bound right now. */
typedef bool (*svr_port_probe_fn)(void *arg, int port);

struct svr_ports;

/* A manager over the allowPorts list (empty: 1..65535). probe tests a candidate. NULL on
 * ENOMEM. Owned by the caller (svr_ports_free). */
struct svr_ports *svr_ports_new(const struct cfg_ports_range *r, size_t n, svr_port_probe_fn probe,
                                void *probe_arg);
void svr_ports_free(struct svr_ports *pm);
/* Takes port for proxy name (port 0: name's previous port if still free, else one of up
 * to 5 random free allowed ports). Returns the port, or CFRP_EINVAL with frp's text in
 * err ("port not allowed", "port already used", "port unavailable", "no available port")
 * or UV_ENOMEM. now_ms: a monotonic time in milliseconds. */
int svr_ports_acquire(struct svr_ports *pm, const char *name, int port, uint64_t now_ms, char *err,
                      size_t errlen);
/* Gives port back (it stays reserved for its proxy name for 24 h). */
void svr_ports_release(struct svr_ports *pm, int port, uint64_t now_ms);
/* Whether port is currently taken. */
bool svr_ports_in_use(const struct svr_ports *pm, int port);

/* Binds (and closes) a TCP or UDP socket on host:port to test it, as frp does. */
bool svr_port_probe_bind(const char *host, int port, bool udp);

/* ---- bind-port classification (bindport.c) ---- */

#define SVR_CLASSIFY_LEN 10

enum svr_conn_class {
    SVR_CLASS_WEBSOCKET,   /* "GET /~!frp" */
    SVR_CLASS_VHOST_HTTPS, /* 0x16 while vhostHTTPSPort shares the bind port */
    SVR_CLASS_VHOST_HTTP,  /* an HTTP method while vhostHTTPPort shares the bind port */
    SVR_CLASS_FRP          /* frp, over TLS or not (the TLS sniff decides) */
};

/* Classifies the first SVR_CLASSIFY_LEN bytes of a bind-port connection (protocol.md
 * 1.2). */
enum svr_conn_class svr_classify(const uint8_t p[SVR_CLASSIFY_LEN], bool vhost_https_shared,
                                 bool vhost_http_shared);

enum svr_tls_sniff { SVR_SNIFF_PLAIN, SVR_SNIFF_TLS, SVR_SNIFF_TLS_CUSTOM, SVR_SNIFF_REFUSE };
/* The TLS sniff of protocol.md 1.3 on the first byte. */
enum svr_tls_sniff svr_tls_sniff(uint8_t first, bool force);

/* ---- frames (msgio.c) ---- */

/* Encodes m as one frame and writes it. Returns 0 or a negative code (cb does not run
 * then). */
int svr_send_msg(stream *s, const msg *m, stream_write_cb cb, void *arg);

/* Called for each decoded message (the callee msg_clear()s it). Return 0 to go on,
 * 1 to stop after this message, < 0 to fail. */
typedef int (*svr_msg_fn)(void *arg, msg *m);
/* Feeds len bytes to r, calling fn per message. Returns 0 when all bytes were taken, 1
 * when fn stopped (*used = bytes taken), or a negative code (reason in err). */
int svr_feed_msgs(msg_reader *r, const char *data, size_t len, size_t *used, svr_msg_fn fn,
                  void *arg, char *err, size_t errlen);

/* "ip:port" of a stream's peer / local address in Go's form, "" if unknown. */
void svr_stream_peer(const stream *s, char out[SVR_ADDR_TEXT]);
void svr_stream_local(const stream *s, char out[SVR_ADDR_TEXT]);
/* IP text (Go's form, IPv4-mapped shown as IPv4, no brackets) and port of sa. */
void svr_sockaddr_ip(const struct sockaddr *sa, char ip[64], uint16_t *port);

/* Go's text for an error code as frp logs it ("EOF" for UV_EOF). */
const char *svr_err_text(int code);

/* ---- the service ---- */

/* Handlers for connection kinds that later modules serve; NULL: the connection is
 * closed. Each takes over s (with the bytes already read in head). */
struct svr_hooks {
    void (*vhost_http)(struct server *svr, stream *s, buf_ref head);
    void (*vhost_https)(struct server *svr, stream *s, buf_ref head);
};

struct server {
    uv_loop_t *loop;
    const struct frps_config *cfg;
    struct tls_ctx *tls;
    struct tcp_listener *listener;
    struct kcp_listener *kcp_listener; /* kcpBindPort; NULL when off */
    struct quic_listener *quic_listener; /* quicBindPort; NULL when off */
    uint8_t token_key[CRYPTO_KEY_LEN];
    bool tcp_mux, detailed_errors, scope_heartbeats, scope_new_work_conns, tls_force;
    struct svr_hooks hooks;
    struct svr_map controls; /* run id -> struct svr_control* (the current one) */
    struct svr_map proxies;  /* proxy name -> struct svr_proxy* (frp's proxy manager) */
    struct svr_ports *tcp_ports, *udp_ports;
    struct list_link accepting; /* struct svr_accepted: classifying / sniffing */
    struct list_link wsconns;   /* struct svr_wsconn: WebSocket upgrades being read */
    struct list_link newconns;  /* struct svr_newconn: waiting for the first frame */
    struct list_link sessions;  /* struct svr_session: yamux sessions */
    struct list_link ctls;      /* struct svr_control: every control not yet freed */
    struct list_link userconns; /* struct svr_userconn: user connections in progress */
    struct svr_vhost *vhost;   /* http/https/tcpmux front doors (vhost.c); owned */
    bool stopping;
};

/* bindport.c: takes over an accepted bind-port connection. */
void svr_bind_accept(struct server *svr, stream *s);
struct svr_session;
/* bindport.c: the accounting of a QUIC session's streams that wait for their first
 * frame (at most SVR_SESSION_MAX_WAITING at once). NULL when out of memory. */
struct svr_session *svr_session_new_quic(struct server *svr);
/* A stream of that session: a new frp connection, or closed when too many wait. */
void svr_session_stream(struct svr_session *ss, stream *st);
/* The session ended; ss is freed once none of its streams waits any more. */
void svr_session_end(struct svr_session *ss);
/* quic_bind.c: QUIC on quicBindPort when it is set; 0 or an error (text in err). */
int svr_quic_listen(struct server *svr, char *err, size_t errlen);
/* bindport.c: closes connections still being classified, sessions and pending frp
 * connections (clean shutdown). */
void svr_bind_stop(struct server *svr);

/* ---- controls (control.c) ---- */

struct svr_control;

/* Takes over a frp connection whose first frame was Login (m's contents are taken). */
void svr_control_login(struct server *svr, stream *s, buf_ref head, msg *m);
/* Takes over a frp connection whose first frame was NewWorkConn. */
void svr_control_new_work_conn(struct server *svr, stream *s, buf_ref head, msg *m);
/* Closes every control (clean shutdown). */
void svr_control_stop_all(struct server *svr);
/* The Login user of ctl ("" when none). */
const char *svr_control_user(const struct svr_control *ctl);

/* A request for a work connection (frp's GetWorkConn). */
struct svr_wc_req {
    struct list_link link;      /* in the control's waiters while pending */
    uint64_t deadline_ms;
    /* work: a pooled connection now owned by the callee, or NULL with status < 0
     * (CFRP_ETIMEOUT, CFRP_ECLOSED). */
    void (*cb)(struct svr_wc_req *r, stream *work, int status);
};

/* Takes a work connection from ctl's pool (and asks frpc for another). Returns 0 with
 * *out set, 1 if req waits (its cb runs later, at the latest after userConnTimeout), or
 * CFRP_ECLOSED. */
int svr_control_get_work_conn(struct svr_control *ctl, struct svr_wc_req *req, stream **out);
/* Withdraws a waiting request (its cb will not run). */
void svr_control_cancel_wait(struct svr_wc_req *req);

/* ---- proxies (proxy.c, proxy_tcp.c, proxy_udp.c) ---- */

struct svr_proxy;

struct svr_proxy_kind {
    const char *type;
    int used_ports;
    /* Starts listening; writes NewProxyResp.remote_addr. 0 or a negative code with
     * frp's text in err (the proxy is then destroyed without close). */
    int (*run)(struct svr_proxy *p, char *remote_addr, size_t cap, char *err, size_t errlen);
    /* Stops listening and releases ports (once, from svr_proxy_close). */
    void (*close)(struct svr_proxy *p);
    /* Frees p->impl after the last reference is gone. */
    void (*destroy)(struct svr_proxy *p);
};

struct svr_proxy {
    struct list_link link; /* in the control's proxies */
    const struct svr_proxy_kind *kind;
    struct server *svr;
    struct svr_control *ctl; /* NULL once closed */
    struct cfg_proxy *cfg;   /* owned; cfg->name is the proxy name */
    char *run_id;            /* owned copy, for log lines */
    struct ratelimit *limiter; /* server-mode bandwidth limit or NULL; owned reference */
    int pool_count;
    unsigned refs;           /* the control's plus one per user connection in progress */
    bool closed;
    void *impl;              /* the kind's state, freed by kind->destroy */
};

extern const struct svr_proxy_kind svr_proxy_tcp;
extern const struct svr_proxy_kind svr_proxy_udp;
extern const struct svr_proxy_kind svr_proxy_http;   /* proxy_vhost.c */
extern const struct svr_proxy_kind svr_proxy_https;
extern const struct svr_proxy_kind svr_proxy_tcpmux;
extern const struct svr_proxy_kind svr_proxy_stcp; /* proxy_stcp.c */
extern const struct svr_proxy_kind svr_proxy_sudp;
/* Whether p is an stcp or sudp proxy (reached through visitor connections). */
bool svr_proxy_is_secret(const struct svr_proxy *p);

/* Handles NewProxy for ctl: builds and validates the proxy, checks maxPortsPerClient
 * (*ports_used is ctl's count, updated) and the name, runs it. On success *out is the
 * running proxy (registered under its name) and remote_addr is filled; else err holds
 * frp's text. */
int svr_proxy_new(struct server *svr, struct svr_control *ctl, const char *run_id, int pool_count,
                  msg_new_proxy *np, int *ports_used, struct svr_proxy **out, char *remote_addr,
                  size_t cap, char *err, size_t errlen);
/* Closes p (listeners, ports, name) and drops the control's reference. */
void svr_proxy_close(struct svr_proxy *p);
void svr_proxy_retain(struct svr_proxy *p);
void svr_proxy_release(struct svr_proxy *p);

/* A user byte stream for p: gets a work connection (StartWorkConn with src/dst, at most
 * pool_count+1 tries), adds the proxy's layers and joins. Takes over user. */
void svr_proxy_handle_user_stream(struct svr_proxy *p, stream *user);
/* The same for a user stream whose StartWorkConn addresses are those of addrs (read
 * now; e.g. the connection below user's filters). */
void svr_proxy_handle_user_stream_at(struct svr_proxy *p, stream *user, const stream *addrs);

/* Gets a work connection for p and writes StartWorkConn on it (frp's
 * GetWorkConnFromPool). */
struct svr_wc_task {
    struct svr_wc_req req;
    struct svr_proxy *p;      /* referenced while the task runs */
    char src_ip[64], dst_ip[64];
    uint16_t src_port, dst_port;
    int tries;
    bool waiting;             /* req is queued at the control */
    stream *work;             /* during the StartWorkConn write */
    /* work is the raw work connection (owned by the callee) or NULL on failure. */
    void (*done)(struct svr_wc_task *t, stream *work);
};
/* Starts t (p, addresses and done set by the caller). done always runs, possibly
 * before this returns. */
void svr_wc_task_start(struct svr_wc_task *t);
/* Stops a task that is waiting at the control; done does not run. */
void svr_wc_task_cancel(struct svr_wc_task *t);
/* Ends every user connection still in progress (clean shutdown). */
void svr_userconn_stop_all(struct server *svr);
/* Wraps work in p's encryption, compression and rate limit. Returns 0 (*out owns work)
 * or a negative code (work is closed). */
int svr_proxy_layers(struct svr_proxy *p, stream *work, stream **out);

/* ---- visitor connections (visitor.c, frp's server/visitor) ---- */

/* frp's checks of a NewVisitorConn for the secret proxy name (secret key sk, allowUsers
 * allow, owned by user owner) from visitor user: sign_key must be md5hex(sk ‖ timestamp)
 * (no clock check), then user must be listed, or "*" listed, or allow empty and user
 * the owner. Returns 0 or CFRP_EINVAL with frp's text in err. */
int svr_visitor_auth(const char *name, const char *sk, const struct cfg_strlist *allow,
                     const char *owner, int64_t timestamp, const char *sign_key, const char *user,
                     char *err, size_t errlen);
/* Takes over a frp connection whose first frame was NewVisitorConn (m's contents are
 * cleared; head holds bytes read after it): answers NewVisitorConnResp and on success
 * serves it as a user connection of the stcp/sudp proxy. */
void svr_visitor_conn(struct server *svr, stream *s, buf_ref head, msg *m);

/* ---- vhost front doors (vhost.c, vhost_http.c, vhost_https.c, vhost_tcpmux.c) ---- */

/* Creates svr->vhost (routers; no listener yet). 0 or UV_ENOMEM. */
int svr_vhost_init(struct server *svr);
/* Listens on tcpmuxHTTPConnectPort if set (frp does this before the bind port). 0 or a
 * negative code with the text to print in err. */
int svr_vhost_listen_tcpmux(struct server *svr, char *err, size_t errlen);
/* Listens on vhostHTTPPort / vhostHTTPSPort if set, or installs the bind-port hooks
 * when they share bindPort. 0 or a negative code with the text to print in err. */
int svr_vhost_listen_http(struct server *svr, char *err, size_t errlen);
/* Closes the listeners and every vhost connection (clean shutdown). */
void svr_vhost_stop(struct server *svr);
/* Frees svr->vhost (after the loop ended). */
void svr_vhost_free(struct server *svr);

/* A monotonic clock in milliseconds. */
static inline uint64_t svr_now_ms(void)
{
    return uv_hrtime() / 1000000u;
}

#endif
