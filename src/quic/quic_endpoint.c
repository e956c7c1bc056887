/* QUIC endpoints: UDP sockets (own or handed in), the client dial (resolve, bind,
 * start), the listener (demultiplexing datagrams by destination connection ID, new
 * connections from Initial packets, a bound on connections in handshake) and the
 * GnuTLS setup of both sides (ALPN "frp", TLS 1.3, protocol.md 1.3/1.7). */
#include <arpa/inet.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <gnutls/crypto.h>
#include <ngtcp2/ngtcp2_crypto_gnutls.h>
#include <openssl/bio.h>
#include <openssl/pem.h>

#include "base/err.h"
#include "base/hash.h"
#include "net/tls_cert.h"
#include "quic/quic_internal.h"

#define QUIC_PRIORITY "NORMAL:-VERS-ALL:+VERS-TLS1.3:%DISABLE_TLS13_COMPAT_MODE"

void quic_rand(void *dest, size_t len)
{
    if (gnutls_rnd(GNUTLS_RND_RANDOM, dest, len) != 0) abort(); /* no entropy: unusable */
}

/* ---- UDP ---- */

struct send_req {
    uv_udp_send_t req;
    struct quic_udp *udp;
    char data[];
};

static void on_sent(uv_udp_send_t *req, int status)
{
    struct send_req *r = (struct send_req *)req;
    struct quic_udp *u = r->udp;
    free(r);
    if (status == UV_ECANCELED) return; /* the socket is closing */
    u->blocked = false;
    quic_udp_unblocked(u);
}

void quic_udp_send(struct quic_udp *u, const struct sockaddr *to, const uint8_t *data, size_t len)
{
    if (u->blocked) return; /* dropped: QUIC's loss recovery resends */
    uv_buf_t b = uv_buf_init((char *)data, (unsigned)len);
    int rc = uv_udp_try_send(&u->h, &b, 1, to);
    if (rc != UV_EAGAIN && rc != UV_ENOSYS) return; /* sent, or lost like on a wire */
    struct send_req *r = malloc(sizeof(*r) + len); /* freed in on_sent */
    if (!r) return;
    r->udp = u;
    memcpy(r->data, data, len);
    b = uv_buf_init(r->data, (unsigned)len);
    if (uv_udp_send(&r->req, &u->h, &b, 1, to, on_sent) != 0) {
        free(r);
        return;
    }
    u->blocked = true;
}

static void on_alloc(uv_handle_t *h, size_t hint, uv_buf_t *buf)
{
    struct quic_udp *u = h->data;
    *buf = uv_buf_init(u->rbuf, sizeof(u->rbuf));
}

static int udp_fill_local(struct quic_udp *u)
{
    int len = sizeof(u->local);
    int rc = uv_udp_getsockname(&u->h, (struct sockaddr *)&u->local, &len);
    u->local_len = (socklen_t)len;
    /* a wildcard local address is kept as is: ngtcp2 only compares it */
    return rc;
}

/* ---- TLS ---- */

static int alpn_set(gnutls_session_t tls)
{
    gnutls_datum_t p = {(unsigned char *)"frp", 3};
    return gnutls_alpn_set_protocols(tls, &p, 1, GNUTLS_ALPN_MANDATORY);
}

static bool is_ip_literal(const char *s)
{
    unsigned char b[16];
    return inet_pton(AF_INET, s, b) == 1 || inet_pton(AF_INET6, s, b) == 1;
}

int quic_tls_client_setup(quic_session *s, char *err, size_t errlen)
{
    int rv = gnutls_certificate_allocate_credentials(&s->own_cred);
    if (rv < 0) {
        s->own_cred = NULL;
        err_set(err, errlen, "tls: %s", gnutls_strerror(rv));
        return UV_ENOMEM;
    }
    if (s->ca_file && *s->ca_file) {
        rv = gnutls_certificate_set_x509_trust_file(s->own_cred, s->ca_file, GNUTLS_X509_FMT_PEM);
        if (rv <= 0) {
            err_set(err, errlen, "tls: load trusted CA %s: %s", s->ca_file,
                    rv < 0 ? gnutls_strerror(rv) : "no certificate");
            return CFRP_EINVAL;
        }
    }
    if (s->cert_file && *s->cert_file && s->key_file && *s->key_file) {
        rv = gnutls_certificate_set_x509_key_file(s->own_cred, s->cert_file, s->key_file,
                                                  GNUTLS_X509_FMT_PEM);
        if (rv < 0) {
            err_set(err, errlen, "tls: load certificate %s: %s", s->cert_file, gnutls_strerror(rv));
            return CFRP_EINVAL;
        }
    }
    if ((rv = gnutls_init(&s->tls, GNUTLS_CLIENT | GNUTLS_NO_END_OF_EARLY_DATA)) < 0) {
        s->tls = NULL;
        err_set(err, errlen, "tls: %s", gnutls_strerror(rv));
        return UV_ENOMEM;
    }
    const char *name = s->server_name ? s->server_name : "";
    if ((rv = ngtcp2_crypto_gnutls_configure_client_session(s->tls)) != 0 ||
        (rv = gnutls_priority_set_direct(s->tls, QUIC_PRIORITY, NULL)) < 0 ||
        (rv = gnutls_credentials_set(s->tls, GNUTLS_CRD_CERTIFICATE, s->own_cred)) < 0 ||
        (rv = alpn_set(s->tls)) < 0 ||
        (*name && !is_ip_literal(name) &&
         (rv = gnutls_server_name_set(s->tls, GNUTLS_NAME_DNS, name, strlen(name))) < 0)) {
        err_set(err, errlen, "tls: client setup failed (%d)", rv);
        return CFRP_EINVAL;
    }
    if (s->ca_file && *s->ca_file) gnutls_session_set_verify_cert(s->tls, *name ? name : NULL, 0);
    gnutls_session_set_ptr(s->tls, &s->conn_ref);
    ngtcp2_conn_set_tls_native_handle(s->conn, s->tls);
    return 0;
}

int quic_tls_server_setup(quic_session *s, quic_listener *l, char *err, size_t errlen)
{
    int rv = gnutls_init(&s->tls, GNUTLS_SERVER | GNUTLS_NO_END_OF_EARLY_DATA);
    if (rv < 0) {
        s->tls = NULL;
        err_set(err, errlen, "tls: %s", gnutls_strerror(rv));
        return UV_ENOMEM;
    }
    if ((rv = ngtcp2_crypto_gnutls_configure_server_session(s->tls)) != 0 ||
        (rv = gnutls_priority_set_direct(s->tls, QUIC_PRIORITY, NULL)) < 0 ||
        (rv = gnutls_credentials_set(s->tls, GNUTLS_CRD_CERTIFICATE, l->cred)) < 0 ||
        (rv = alpn_set(s->tls)) < 0) {
        err_set(err, errlen, "tls: server setup failed (%d)", rv);
        return CFRP_EINVAL;
    }
    if (l->require_client_cert) {
        gnutls_certificate_server_set_request(s->tls, GNUTLS_CERT_REQUIRE);
        gnutls_session_set_verify_cert(s->tls, NULL, 0);
    }
    gnutls_session_set_ptr(s->tls, &s->conn_ref);
    ngtcp2_conn_set_tls_native_handle(s->conn, s->tls);
    return 0;
}

/* frp's generated certificate (tls_cert_default) as PEM, loaded into cred. */
static int load_default_cert(gnutls_certificate_credentials_t cred, char *err, size_t errlen)
{
    EVP_PKEY *key = NULL;
    X509 *cert = NULL;
    int rc = tls_cert_default(&key, &cert, err, errlen);
    if (rc != 0) return rc;
    BIO *cb = BIO_new(BIO_s_mem()), *kb = BIO_new(BIO_s_mem());
    rc = UV_ENOMEM;
    if (cb && kb && PEM_write_bio_X509(cb, cert) == 1 &&
        PEM_write_bio_PrivateKey(kb, key, NULL, NULL, 0, NULL, NULL) == 1) {
        char *cp, *kp;
        long cl = BIO_get_mem_data(cb, &cp), kl = BIO_get_mem_data(kb, &kp);
        gnutls_datum_t cd = {(unsigned char *)cp, (unsigned)cl};
        gnutls_datum_t kd = {(unsigned char *)kp, (unsigned)kl};
        int grc = gnutls_certificate_set_x509_key_mem(cred, &cd, &kd, GNUTLS_X509_FMT_PEM);
        if (grc < 0) {
            err_set(err, errlen, "tls: load generated certificate: %s", gnutls_strerror(grc));
            rc = CFRP_EINVAL;
        } else {
            rc = 0;
        }
    } else {
        err_set(err, errlen, "tls: encode generated certificate failed");
    }
    BIO_free(cb);
    BIO_free(kb);
    EVP_PKEY_free(key);
    X509_free(cert);
    return rc;
}

static int server_cred(quic_listener *l, const struct quic_tls_options *tls, char *err,
                       size_t errlen)
{
    int rv = gnutls_certificate_allocate_credentials(&l->cred);
    if (rv < 0) {
        l->cred = NULL;
        err_set(err, errlen, "tls: %s", gnutls_strerror(rv));
        return UV_ENOMEM;
    }
    if (tls && tls->cert_file && *tls->cert_file && tls->key_file && *tls->key_file) {
        rv = gnutls_certificate_set_x509_key_file(l->cred, tls->cert_file, tls->key_file,
                                                  GNUTLS_X509_FMT_PEM);
        if (rv < 0) {
            err_set(err, errlen, "tls: load certificate %s: %s", tls->cert_file,
                    gnutls_strerror(rv));
            return CFRP_EINVAL;
        }
    } else if ((rv = load_default_cert(l->cred, err, errlen)) != 0) {
        return rv;
    }
    if (tls && tls->trusted_ca_file && *tls->trusted_ca_file) {
        rv = gnutls_certificate_set_x509_trust_file(l->cred, tls->trusted_ca_file,
                                                    GNUTLS_X509_FMT_PEM);
        if (rv <= 0) {
            err_set(err, errlen, "tls: load trusted CA %s: %s", tls->trusted_ca_file,
                    rv < 0 ? gnutls_strerror(rv) : "no certificate");
            return CFRP_EINVAL;
        }
        l->require_client_cert = true;
    }
    return 0;
}

/* ---- client ---- */

static char *dup_opt(const char *s)
{
    return s && *s ? strdup(s) : NULL;
}

static int copy_tls(quic_session *s, const struct quic_tls_options *tls)
{
    if (!tls) return 0;
    s->server_name = dup_opt(tls->server_name);
    s->cert_file = dup_opt(tls->cert_file);
    s->key_file = dup_opt(tls->key_file);
    s->ca_file = dup_opt(tls->trusted_ca_file);
    if ((tls->server_name && *tls->server_name && !s->server_name) ||
        (tls->cert_file && *tls->cert_file && !s->cert_file) ||
        (tls->key_file && *tls->key_file && !s->key_file) ||
        (tls->trusted_ca_file && *tls->trusted_ca_file && !s->ca_file))
        return UV_ENOMEM;
    return 0;
}

static void on_client_recv(uv_udp_t *h, ssize_t nread, const uv_buf_t *buf,
                           const struct sockaddr *addr, unsigned flags)
{
    struct quic_udp *u = h->data;
    if (nread <= 0 || !addr || !u->session) return;
    quic_session_on_datagram(u->session, addr, (const uint8_t *)buf->base, (size_t)nread);
}

/* Makes the client's UDP endpoint (from fd, or a new socket of remote's family). */
static int client_udp(quic_session *s, int fd, int family, char *err, size_t errlen)
{
    struct quic_udp *u = calloc(1, sizeof(*u)); /* freed in on_udp_closed (quic_session.c) */
    if (!u) {
        if (fd >= 0) close(fd);
        return UV_ENOMEM;
    }
    int rc = uv_udp_init(s->loop, &u->h);
    if (rc != 0) {
        free(u);
        if (fd >= 0) close(fd);
        return rc;
    }
    u->h.data = u;
    u->session = s;
    s->udp = u; /* from here on closed by the session */
    if (fd >= 0) {
        rc = uv_udp_open(&u->h, fd);
        if (rc != 0) {
            close(fd);
            err_set(err, errlen, "quic: use socket: %s", uv_strerror(rc));
            return rc;
        }
    } else {
        struct sockaddr_storage any;
        memset(&any, 0, sizeof(any));
        any.ss_family = (sa_family_t)family;
        rc = uv_udp_bind(&u->h, (struct sockaddr *)&any, 0);
        if (rc != 0) {
            err_set(err, errlen, "listen udp: bind: %s", uv_strerror(rc));
            return rc;
        }
    }
    if ((rc = udp_fill_local(u)) != 0 || (rc = uv_udp_recv_start(&u->h, on_alloc, on_client_recv))) {
        err_set(err, errlen, "quic: udp: %s", uv_strerror(rc));
        return rc;
    }
    return 0;
}

static void start_client(quic_session *s, int fd, const struct sockaddr *remote)
{
    char err[QUIC_ERRLEN] = "";
    int rc = client_udp(s, fd, remote->sa_family, err, sizeof(err));
    if (rc == 0) rc = quic_session_start_client(s, remote, err, sizeof(err));
    if (rc != 0) quic_session_fail(s, rc, "%s", err);
}

static void on_resolved(uv_getaddrinfo_t *req, int status, struct addrinfo *res)
{
    quic_session *s = req->data;
    s->resolving = false;
    if (s->dead) {
        uv_freeaddrinfo(res);
        quic_session_schedule(s); /* lets the session free itself */
        return;
    }
    if (status != 0 || !res) {
        quic_session_fail(s, status ? status : CFRP_ENOTFOUND, "dial udp: lookup %s: %s",
                          s->server_name ? s->server_name : "", uv_strerror(status));
    } else {
        start_client(s, -1, res->ai_addr);
    }
    uv_freeaddrinfo(res);
}

static int dial_common(uv_loop_t *loop, const struct quic_tls_options *tls,
                       const struct quic_config *cfg, const struct quic_handlers *h,
                       quic_session **out)
{
    quic_session *s;
    int rc = quic_session_new_common(loop, false, cfg, &s);
    if (rc != 0) return rc;
    if (copy_tls(s, tls) != 0) {
        quic_session_fail(s, UV_ENOMEM, "out of memory"); /* no handlers yet: silent */
        return UV_ENOMEM;
    }
    if (h) s->h = *h;
    s->handlers_set = true;
    *out = s;
    return 0;
}

int quic_dial(uv_loop_t *loop, const char *host, int port, const struct quic_tls_options *tls,
              const struct quic_config *cfg, const struct quic_handlers *h, quic_session **out,
              char *err, size_t errlen)
{
    if (!host || !*host || port <= 0 || port > 65535) {
        err_set(err, errlen, "quic: invalid address %s:%d", host ? host : "", port);
        return CFRP_EINVAL;
    }
    quic_session *s;
    struct quic_tls_options t = tls ? *tls : (struct quic_tls_options){0};
    if (!t.server_name || !*t.server_name) t.server_name = host;
    int rc = dial_common(loop, &t, cfg, h, &s);
    if (rc != 0) {
        err_set(err, errlen, "out of memory");
        return rc;
    }
    char portstr[8];
    snprintf(portstr, sizeof(portstr), "%d", port);
    struct addrinfo hints = {.ai_family = AF_UNSPEC, .ai_socktype = SOCK_DGRAM};
    s->gai.data = s;
    rc = uv_getaddrinfo(loop, &s->gai, on_resolved, host, portstr, &hints);
    if (rc != 0) {
        quic_session_fail(s, rc, "dial udp: lookup %s: %s", host, uv_strerror(rc));
    } else {
        s->resolving = true;
    }
    *out = s;
    return 0;
}

int quic_dial_fd(uv_loop_t *loop, uv_os_sock_t fd, const struct sockaddr *remote,
                 const struct quic_tls_options *tls, const struct quic_config *cfg,
                 const struct quic_handlers *h, quic_session **out, char *err, size_t errlen)
{
    quic_session *s;
    int rc = dial_common(loop, tls, cfg, h, &s);
    if (rc != 0) {
        close(fd);
        err_set(err, errlen, "out of memory");
        return rc;
    }
    start_client(s, fd, remote);
    *out = s;
    return 0;
}

/* ---- listener ---- */

static size_t cid_bucket(const quic_listener *l, const uint8_t *data, size_t len)
{
    uint8_t key[8 + NGTCP2_MAX_CIDLEN];
    memcpy(key, &l->hash_seed, 8);
    memcpy(key + 8, data, len);
    return (size_t)(hash_fnv1a(key, 8 + len) % QUIC_CID_BUCKETS);
}

static quic_session *cid_lookup(quic_listener *l, const uint8_t *data, size_t len)
{
    if (len > NGTCP2_MAX_CIDLEN) return NULL;
    struct list_link *b = &l->buckets[cid_bucket(l, data, len)];
    for (struct list_link *p = b->next; p != b; p = p->next) {
        struct quic_cid_entry *e = LIST_ITEM(p, struct quic_cid_entry, link);
        if (e->cid.datalen == len && memcmp(e->cid.data, data, len) == 0) return e->sess;
    }
    return NULL;
}

int quic_listener_add_cid(quic_listener *l, quic_session *s, const ngtcp2_cid *cid)
{
    size_t slot = QUIC_MAX_CIDS_PER_CONN;
    for (size_t i = 0; i < QUIC_MAX_CIDS_PER_CONN; i++)
        if (!s->cids[i]) {
            slot = i;
            break;
        }
    if (slot == QUIC_MAX_CIDS_PER_CONN || cid_lookup(l, cid->data, cid->datalen)) return -1;
    struct quic_cid_entry *e = malloc(sizeof(*e)); /* owned by the table and s->cids */
    if (!e) return -1;
    e->cid = *cid;
    e->sess = s;
    list_push(&l->buckets[cid_bucket(l, cid->data, cid->datalen)], &e->link);
    s->cids[slot] = e;
    return 0;
}

void quic_listener_remove_cid(quic_listener *l, quic_session *s, const ngtcp2_cid *cid)
{
    for (size_t i = 0; i < QUIC_MAX_CIDS_PER_CONN; i++) {
        struct quic_cid_entry *e = s->cids[i];
        if (e && ngtcp2_cid_eq(&e->cid, cid)) {
            list_del(&e->link);
            free(e);
            s->cids[i] = NULL;
        }
    }
}

void quic_listener_session_gone(quic_listener *l, quic_session *s)
{
    for (size_t i = 0; i < QUIC_MAX_CIDS_PER_CONN; i++)
        if (s->cids[i]) {
            list_del(&s->cids[i]->link);
            free(s->cids[i]);
            s->cids[i] = NULL;
        }
    if (s->counted_handshaking) l->handshaking--;
    s->counted_handshaking = false;
    list_del(&s->listener_link);
    s->listener = NULL;
}

void quic_listener_handshake_done(quic_listener *l, quic_session *s)
{
    if (s->counted_handshaking) l->handshaking--;
    s->counted_handshaking = false;
    l->on_session(l, s, l->arg);
}

static void new_connection(quic_listener *l, const struct sockaddr *from, const uint8_t *data,
                           size_t len)
{
    ngtcp2_pkt_hd hd;
    if (ngtcp2_accept(&hd, data, len) != 0) return; /* not a valid first Initial */
    if (l->handshaking >= l->cfg.max_handshaking || l->closing) return;
    quic_session *s;
    if (quic_session_new_common(l->loop, true, &l->cfg, &s) != 0) return;
    s->listener = l;
    s->udp = l->udp;
    list_push(&l->sessions, &s->listener_link);
    s->counted_handshaking = true;
    l->handshaking++;
    char err[QUIC_ERRLEN] = "";
    socklen_t fromlen =
        from->sa_family == AF_INET6 ? sizeof(struct sockaddr_in6) : sizeof(struct sockaddr_in);
    int rc = quic_session_start_server(s, &hd, from, fromlen, err, sizeof(err));
    if (rc != 0) {
        quic_session_fail(s, rc, "%s", err); /* no handlers: frees itself silently */
        return;
    }
    quic_session_on_datagram(s, from, data, len);
}

static void on_listener_recv(uv_udp_t *h, ssize_t nread, const uv_buf_t *buf,
                             const struct sockaddr *addr, unsigned flags)
{
    struct quic_udp *u = h->data;
    quic_listener *l = u->listener;
    if (nread <= 0 || !addr || !l || l->closing) return;
    const uint8_t *data = (const uint8_t *)buf->base;
    ngtcp2_version_cid vc;
    int rv = ngtcp2_pkt_decode_version_cid(&vc, data, (size_t)nread, QUIC_SCID_LEN);
    if (rv != 0) return; /* garbage, or a version we do not speak */
    quic_session *s = cid_lookup(l, vc.dcid, vc.dcidlen);
    if (s)
        quic_session_on_datagram(s, addr, data, (size_t)nread);
    else
        new_connection(l, addr, data, (size_t)nread);
}

static void on_listener_udp_closed(uv_handle_t *h)
{
    struct quic_udp *u = h->data;
    quic_listener *l = u->listener;
    free(u);
    gnutls_certificate_free_credentials(l->cred);
    free(l);
}

static int listen_common(uv_loop_t *loop, int fd, const char *ip, int port,
                         const struct quic_tls_options *tls, const struct quic_config *cfg,
                         quic_session_cb on_session, void *arg, quic_listener **out, char *err,
                         size_t errlen)
{
    struct sockaddr_storage addr;
    memset(&addr, 0, sizeof(addr));
    if (fd < 0) {
        const char *bind_ip = ip && *ip ? ip : "0.0.0.0";
        if (port < 0 || port > 65535 ||
            (uv_ip4_addr(bind_ip, port, (struct sockaddr_in *)&addr) != 0 &&
             uv_ip6_addr(bind_ip, port, (struct sockaddr_in6 *)&addr) != 0)) {
            err_set(err, errlen, "listen udp %s:%d: invalid address", bind_ip, port);
            return CFRP_EINVAL;
        }
    }
    quic_listener *l = calloc(1, sizeof(*l)); /* freed in on_listener_udp_closed */
    struct quic_udp *u = calloc(1, sizeof(*u));
    if (!l || !u) {
        free(l);
        free(u);
        if (fd >= 0) close(fd);
        err_set(err, errlen, "out of memory");
        return UV_ENOMEM;
    }
    l->loop = loop;
    if (cfg)
        l->cfg = *cfg;
    else
        quic_config_default(&l->cfg);
    l->on_session = on_session;
    l->arg = arg;
    list_init(&l->sessions);
    for (size_t i = 0; i < QUIC_CID_BUCKETS; i++) list_init(&l->buckets[i]);
    quic_rand(&l->hash_seed, sizeof(l->hash_seed));
    quic_rand(l->reset_secret, sizeof(l->reset_secret));
    int rc = server_cred(l, tls, err, errlen);
    if (rc == 0) rc = uv_udp_init(loop, &u->h);
    if (rc != 0) {
        if (l->cred) gnutls_certificate_free_credentials(l->cred);
        free(l);
        free(u);
        if (fd >= 0) close(fd);
        return rc;
    }
    u->h.data = u;
    u->listener = l;
    l->udp = u;
    if (fd >= 0) {
        rc = uv_udp_open(&u->h, fd);
        if (rc != 0) close(fd);
    } else {
        rc = uv_udp_bind(&u->h, (struct sockaddr *)&addr, 0);
    }
    if (rc == 0) rc = udp_fill_local(u);
    if (rc == 0) rc = uv_udp_recv_start(&u->h, on_alloc, on_listener_recv);
    if (rc != 0) {
        err_set(err, errlen, "listen udp %s:%d: bind: %s", ip && *ip ? ip : "0.0.0.0", port,
                uv_strerror(rc));
        l->closing = true;
        uv_close((uv_handle_t *)&u->h, on_listener_udp_closed);
        return rc;
    }
    *out = l;
    return 0;
}

int quic_listen(uv_loop_t *loop, const char *ip, int port, const struct quic_tls_options *tls,
                const struct quic_config *cfg, quic_session_cb on_session, void *arg,
                quic_listener **out, char *err, size_t errlen)
{
    return listen_common(loop, -1, ip, port, tls, cfg, on_session, arg, out, err, errlen);
}

int quic_listen_fd(uv_loop_t *loop, uv_os_sock_t fd, const struct quic_tls_options *tls,
                   const struct quic_config *cfg, quic_session_cb on_session, void *arg,
                   quic_listener **out, char *err, size_t errlen)
{
    return listen_common(loop, fd, NULL, 0, tls, cfg, on_session, arg, out, err, errlen);
}

int quic_listener_port(const quic_listener *l)
{
    const struct sockaddr_storage *a = &l->udp->local;
    if (a->ss_family == AF_INET6) return ntohs(((const struct sockaddr_in6 *)a)->sin6_port);
    return ntohs(((const struct sockaddr_in *)a)->sin_port);
}

void quic_listener_close(quic_listener *l)
{
    if (l->closing) return;
    l->closing = true;
    for (struct list_link *p = l->sessions.next, *next; p != &l->sessions; p = next) {
        next = p->next;
        quic_session_abort_listener(LIST_ITEM(p, quic_session, listener_link));
    }
    uv_close((uv_handle_t *)&l->udp->h, on_listener_udp_closed);
}
