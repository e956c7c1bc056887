/* TLS over any stream (see tls.h).
 *
 * OpenSSL talks to a BIO of our own (tls_bio_*): it reads ciphertext straight from the
 * chunks the stream below delivered (queued in inq) and writes records straight into
 * buffer chunks (outq) that tls_flush() writes below. Compared with memory BIOs this
 * saves a copy (and a zero-fill) of every byte in each direction. tls_advance() runs
 * the state machine: handshake, then decryption towards the reader. It runs from the
 * read callback of the stream below and from an idle handle (for work that must not
 * run inside a caller's call, such as delivering buffered plaintext after read_start).
 * The stream below is only read while the handshake runs or the reader wants data, and
 * while inq has room, so inq holds at most TLS_INQ_MAX reads of the stream below. */
#include "net/tls.h"

#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>

#include "base/err.h"
#include "base/log.h"
#include "net/tls_cert.h"

/* Decrypted chunks handed to the reader per tls_advance() run. */
#define TLS_READS_PER_RUN 16
/* Reads of the stream below waiting for OpenSSL; reading below stops while full. */
#define TLS_INQ_MAX 8
/* Ciphertext slices per write below (a longer run is written in several). */
#define TLS_OUTQ_MAX 16
/* The largest TLS record payload (OpenSSL's default max_send_fragment). */
#define TLS_RECORD 16384
/* Decrypted reads up to this size are copied out of their 64 KiB chunk (tls_deliver). */
#define TLS_SMALL_READ 4096

struct tls_ctx {
    SSL_CTX *ssl_ctx; /* one reference; each SSL holds its own */
    BIO_METHOD *bio_method; /* owned; the BIO of every stream made from this context */
};

/* A write the user made: kept with its plaintext until the handshake is done, then
 * (with n = 0) until the stream below completes the ciphertext write. */
typedef struct tls_wreq {
    struct tls_wreq *next;
    struct tls_stream *ts;
    stream_write_cb cb;
    void *arg;
    size_t n;
    buf_ref bufs[];
} tls_wreq;

/* Owned by the user until close(); then by itself, freed when both the idle handle
 * and the stream below have finished closing. */
typedef struct tls_stream {
    stream base;
    stream *below; /* owned */
    SSL *ssl;      /* owns bio */
    BIO *bio;      /* ours (tls_bio_*): reads inq, writes outq */
    buf_ref inq[TLS_INQ_MAX]; /* ring of ciphertext read below, owned */
    unsigned inq_head, inq_n;
    buf_ref outq[TLS_OUTQ_MAX]; /* ciphertext records not yet written below, owned */
    size_t outq_n;
    buf_chunk *ochunk; /* one reference: the chunk records are being written into */
    size_t oused;      /* bytes of ochunk used */
    int out_error;     /* a failed write below from inside OpenSSL's write */
    uv_idle_t idle;
    tls_handshake_cb hs_cb;
    void *hs_arg;
    tls_wreq *wait_head, *wait_tail; /* writes waiting for the handshake */
    size_t wait_bytes;
    tls_wreq *done_head;            /* empty writes whose callback is due */
    bool hs_done, hs_reported;
    bool reading, below_reading, below_eof;
    bool eof_delivered, failed, error_delivered;
    int error; /* the fatal error, once failed */
    bool shut_wanted, shut_sent;
    bool closing;
    int pending_closes; /* idle handle and stream below, while closing */
} tls_stream;

static void tls_advance(tls_stream *ts);

/* ---- contexts ---- */

static int tls_ossl_error(char *err, size_t errlen, const char *fmt, const char *arg)
{
    char text[256] = "unknown error";
    unsigned long e = ERR_get_error();
    if (e) ERR_error_string_n(e, text, sizeof text);
    char what[512];
    snprintf(what, sizeof what, fmt, arg);
    err_set(err, errlen, "tls: %s: %s", what, text);
    ERR_clear_error();
    return CFRP_EINVAL;
}

static BIO_METHOD *tls_bio_method_new(void);

/* Server without a configured certificate: installs the default one (made once per
 * process by tls_cert_default) on ssl. 1 on success, 0 fails the handshake. */
static int tls_default_cert_cb(SSL *ssl, void *arg)
{
    if (SSL_get_certificate(ssl)) return 1;
    EVP_PKEY *k;
    X509 *x;
    char err[256];
    if (tls_cert_default(&k, &x, err, sizeof err) != 0) {
        log_warn("%s", err);
        return 0;
    }
    int ok = SSL_use_certificate(ssl, x) == 1 && SSL_use_PrivateKey(ssl, k) == 1;
    EVP_PKEY_free(k);
    X509_free(x);
    return ok;
}

static int tls_ctx_new(bool server, const struct tls_options *o, tls_ctx **out, char *err,
                       size_t errlen)
{
    SSL_CTX *c = SSL_CTX_new(server ? TLS_server_method() : TLS_client_method());
    if (!c) return UV_ENOMEM;
    SSL_CTX_set_min_proto_version(c, TLS1_2_VERSION);
    SSL_CTX_set_mode(c, SSL_MODE_RELEASE_BUFFERS);
    int rc = 0;
    bool have_cert = o && o->cert_file && *o->cert_file && o->key_file && *o->key_file;
    if (have_cert) {
        if (SSL_CTX_use_certificate_chain_file(c, o->cert_file) != 1)
            rc = tls_ossl_error(err, errlen, "load certificate %s", o->cert_file);
        else if (SSL_CTX_use_PrivateKey_file(c, o->key_file, SSL_FILETYPE_PEM) != 1)
            rc = tls_ossl_error(err, errlen, "load key %s", o->key_file);
        else if (SSL_CTX_check_private_key(c) != 1)
            rc = tls_ossl_error(err, errlen, "key %s does not match the certificate", o->key_file);
    } else if (server) {
        /* frp's default certificate is made at the first handshake, not here: an RSA
         * key takes a good part of a second and pulls in code a server that never sees
         * a TLS client does not need. */
        SSL_CTX_set_cert_cb(c, tls_default_cert_cb, NULL);
    }
    const char *ca = o && o->trusted_ca_file && *o->trusted_ca_file ? o->trusted_ca_file : NULL;
    if (rc == 0 && ca) {
        if (SSL_CTX_load_verify_locations(c, ca, NULL) != 1) {
            rc = tls_ossl_error(err, errlen, "load CA %s", ca);
        } else if (server) {
            STACK_OF(X509_NAME) *names = SSL_load_client_CA_file(ca);
            if (names) SSL_CTX_set_client_CA_list(c, names);
            SSL_CTX_set_verify(c, SSL_VERIFY_PEER | SSL_VERIFY_FAIL_IF_NO_PEER_CERT, NULL);
        } else {
            SSL_CTX_set_verify(c, SSL_VERIFY_PEER, NULL);
        }
    } else if (rc == 0) {
        SSL_CTX_set_verify(c, SSL_VERIFY_NONE, NULL);
    }
    if (rc == 0) {
        tls_ctx *t = malloc(sizeof *t);
        BIO_METHOD *m = t ? tls_bio_method_new() : NULL;
        if (m) {
            t->ssl_ctx = c;
            t->bio_method = m;
            *out = t;
            return 0;
        }
        free(t);
        rc = UV_ENOMEM;
    }
    SSL_CTX_free(c);
    return rc;
}

int tls_ctx_client(const struct tls_options *opts, tls_ctx **out, char *err, size_t errlen)
{
    return tls_ctx_new(false, opts, out, err, errlen);
}

int tls_ctx_server(const struct tls_options *opts, tls_ctx **out, char *err, size_t errlen)
{
    return tls_ctx_new(true, opts, out, err, errlen);
}

void tls_ctx_free(tls_ctx *ctx)
{
    if (!ctx) return;
    SSL_CTX_free(ctx->ssl_ctx);
    BIO_meth_free(ctx->bio_method);
    free(ctx);
}

/* ---- helpers ---- */

static void tls_on_idle(uv_idle_t *h)
{
    tls_stream *ts = h->data;
    uv_idle_stop(h);
    tls_advance(ts);
}

static void tls_kick(tls_stream *ts)
{
    if (!ts->closing) uv_idle_start(&ts->idle, tls_on_idle);
}

static void tls_on_below_write(stream *below, int status, void *arg)
{
    tls_wreq *w = arg;
    if (w->cb) w->cb(&w->ts->base, status, w->arg);
    free(w);
}

/* Writes the records OpenSSL has produced (outq) to the stream below; that write
 * carries w (which may be NULL) for its completion. Returns 0 or a negative code (w is
 * then freed; its callback runs from the caller). */
static int tls_flush(tls_stream *ts, tls_wreq *w)
{
    /* The partly used chunk is let go: an idle connection keeps no 64 KiB around. */
    buf_chunk_release(ts->ochunk);
    ts->ochunk = NULL;
    ts->oused = 0;
    if (ts->outq_n == 0) {
        if (w) { /* nothing to send: complete it from the idle handle */
            w->next = ts->done_head;
            ts->done_head = w;
            tls_kick(ts);
        }
        return 0;
    }
    size_t n = ts->outq_n;
    ts->outq_n = 0; /* the write below takes the references, also when it fails */
    int rc = stream_write(ts->below, ts->outq, n, w ? tls_on_below_write : NULL, w);
    if (rc && w) free(w);
    return rc;
}

/* ---- the BIO between OpenSSL and the queues ---- */

/* OpenSSL reads ciphertext: copied out of the chunks in inq, which are released as
 * they empty. Nothing queued reads as "retry" (the end of the stream below is handled
 * by tls_deliver, which sees SSL_ERROR_WANT_READ with below_eof set). */
static int tls_bio_read(BIO *b, char *out, int outl)
{
    tls_stream *ts = BIO_get_data(b);
    BIO_clear_retry_flags(b);
    size_t got = 0;
    while (outl > 0 && got < (size_t)outl && ts->inq_n > 0) {
        buf_ref *r = &ts->inq[ts->inq_head];
        size_t take = r->len < (size_t)outl - got ? r->len : (size_t)outl - got;
        memcpy(out + got, r->base, take);
        r->base += take;
        r->len -= take;
        got += take;
        if (r->len == 0) {
            buf_ref_release(r);
            ts->inq_head = (ts->inq_head + 1) % TLS_INQ_MAX;
            ts->inq_n--;
        }
    }
    if (got == 0) {
        BIO_set_retry_read(b);
        return -1;
    }
    return (int)got;
}

/* OpenSSL writes records: appended to ochunk, with one outq slice per contiguous run.
 * A full outq is written below at once (without a callback). */
static int tls_bio_write(BIO *b, const char *in, int inl)
{
    tls_stream *ts = BIO_get_data(b);
    BIO_clear_retry_flags(b);
    size_t left = inl > 0 ? (size_t)inl : 0;
    while (left > 0) {
        if (!ts->ochunk || ts->oused == ts->ochunk->size) {
            buf_chunk_release(ts->ochunk);
            ts->oused = 0;
            ts->ochunk = buf_chunk_alloc(0);
            if (!ts->ochunk) {
                ts->out_error = UV_ENOMEM;
                return -1;
            }
        }
        char *at = ts->ochunk->data + ts->oused;
        buf_ref *last = ts->outq_n ? &ts->outq[ts->outq_n - 1] : NULL;
        if (!last || last->chunk != ts->ochunk || last->base + last->len != at) {
            if (ts->outq_n == TLS_OUTQ_MAX) {
                int rc = tls_flush(ts, NULL);
                if (rc) {
                    ts->out_error = rc;
                    return -1;
                }
                continue; /* tls_flush let ochunk go */
            }
            buf_chunk_retain(ts->ochunk);
            last = &ts->outq[ts->outq_n++];
            *last = buf_ref_make(ts->ochunk, ts->oused, 0);
        }
        size_t room = ts->ochunk->size - ts->oused;
        size_t take = left < room ? left : room;
        memcpy(at, in, take);
        last->len += take;
        ts->oused += take;
        in += take;
        left -= take;
    }
    return inl;
}

static long tls_bio_ctrl(BIO *b, int cmd, long num, void *ptr)
{
    return cmd == BIO_CTRL_FLUSH ? 1 : 0; /* records are written below by tls_flush */
}

static int tls_bio_create(BIO *b)
{
    BIO_set_init(b, 1);
    return 1;
}

static BIO_METHOD *tls_bio_method_new(void)
{
    BIO_METHOD *m = BIO_meth_new(BIO_get_new_index() | BIO_TYPE_SOURCE_SINK, "cfrp stream");
    if (!m) return NULL;
    if (BIO_meth_set_read(m, tls_bio_read) != 1 || BIO_meth_set_write(m, tls_bio_write) != 1 ||
        BIO_meth_set_ctrl(m, tls_bio_ctrl) != 1 || BIO_meth_set_create(m, tls_bio_create) != 1) {
        BIO_meth_free(m);
        return NULL;
    }
    return m;
}

static void tls_fail_waiting(tls_stream *ts, int status)
{
    while (ts->wait_head) {
        tls_wreq *w = ts->wait_head;
        ts->wait_head = w->next;
        for (size_t k = 0; k < w->n; k++) buf_ref_release(&w->bufs[k]);
        ts->wait_bytes = 0;
        if (w->cb) w->cb(&ts->base, status, w->arg);
        free(w);
    }
    ts->wait_tail = NULL;
}

/* A fatal error: the handshake callback gets it if the handshake was not reported
 * yet, and the reader gets it as a read error (now or at its next read_start). */
static void tls_fail(tls_stream *ts, int code, const char *text)
{
    if (ts->failed || ts->closing) return;
    ts->failed = true;
    ts->error = code;
    if (ts->below_reading) stream_read_stop(ts->below);
    ts->below_reading = false;
    tls_fail_waiting(ts, code);
    if (!ts->hs_reported && ts->hs_cb && !ts->closing) {
        ts->hs_reported = true;
        ts->hs_cb(&ts->base, code, text, ts->hs_arg);
    }
    ts->hs_reported = true;
    tls_kick(ts); /* the reader hears of it from the idle handle */
}

/* Go-like text for the error OpenSSL just reported. */
static void tls_error_text(tls_stream *ts, char *out, size_t outlen)
{
    long vr = SSL_get_verify_result(ts->ssl);
    unsigned long e = ERR_peek_last_error();
    if (vr != X509_V_OK && ERR_GET_REASON(e) == SSL_R_CERTIFICATE_VERIFY_FAILED) {
        const char *why = X509_verify_cert_error_string(vr);
        if (vr == X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT_LOCALLY ||
            vr == X509_V_ERR_DEPTH_ZERO_SELF_SIGNED_CERT ||
            vr == X509_V_ERR_SELF_SIGNED_CERT_IN_CHAIN)
            why = "certificate signed by unknown authority";
        snprintf(out, outlen, "tls: failed to verify certificate: x509: %s", why);
    } else if (e) {
        const char *reason = ERR_reason_error_string(e);
        snprintf(out, outlen, "tls: %s", reason ? reason : "handshake failure");
    } else {
        snprintf(out, outlen, "tls: handshake failure");
    }
    ERR_clear_error();
}

static int tls_ssl_write(tls_stream *ts, const char *p, size_t len)
{
    size_t written;
    if (SSL_write_ex(ts->ssl, p, len, &written) == 1) return 0;
    ERR_clear_error();
    return ts->out_error ? ts->out_error : CFRP_EPROTO;
}

/* Encrypts the user's bufs and writes them below; w completes when they are sent.
 *
 * Plaintext goes to OpenSSL in whole 16 KiB records where it can: yamux hands over
 * each 12-byte frame header and its payload as separate buffers, and one SSL_write
 * each would cost a record (an AEAD pass and 22 bytes on the wire) per header. Pieces
 * are gathered in a record-sized buffer on the stack; runs of whole records that start
 * on a record boundary are written from where they are. */
static int tls_send(tls_stream *ts, buf_ref *bufs, size_t n, tls_wreq *w)
{
    char stage[TLS_RECORD];
    size_t staged = 0;
    int rc = ts->failed ? CFRP_EPROTO : 0;
    for (size_t k = 0; k < n; k++) {
        const char *p = bufs[k].base;
        size_t len = bufs[k].len;
        while (rc == 0 && len > 0) {
            if (staged == 0 && len >= TLS_RECORD) {
                size_t whole = len - len % TLS_RECORD;
                rc = tls_ssl_write(ts, p, whole);
                p += whole;
                len -= whole;
                continue;
            }
            size_t take = len < TLS_RECORD - staged ? len : TLS_RECORD - staged;
            memcpy(stage + staged, p, take);
            staged += take;
            p += take;
            len -= take;
            if (staged == TLS_RECORD) {
                rc = tls_ssl_write(ts, stage, staged);
                staged = 0;
            }
        }
        buf_ref_release(&bufs[k]);
    }
    if (rc == 0 && staged > 0) rc = tls_ssl_write(ts, stage, staged);
    if (rc) {
        free(w);
        return rc;
    }
    return tls_flush(ts, w);
}

static void tls_send_close_notify(tls_stream *ts)
{
    if (ts->shut_sent || !ts->hs_done || ts->failed) return;
    ts->shut_sent = true;
    SSL_shutdown(ts->ssl);
    ERR_clear_error();
    tls_flush(ts, NULL);
}

static void tls_below_read(stream *below, ssize_t nread, buf_ref data);

static void tls_want_below(tls_stream *ts, bool want)
{
    if (ts->inq_n == TLS_INQ_MAX) want = false; /* OpenSSL must consume first */
    if (want == ts->below_reading || ts->below_eof || ts->failed || ts->closing) return;
    ts->below_reading = want;
    int rc = want ? stream_read_start(ts->below, tls_below_read) : stream_read_stop(ts->below);
    if (rc && want) tls_fail(ts, rc, "read error");
}

/* ---- the state machine ---- */

static void tls_handshake_done(tls_stream *ts)
{
    ts->hs_done = true;
    while (ts->wait_head && !ts->failed && !ts->closing) {
        tls_wreq *w = ts->wait_head;
        ts->wait_head = w->next;
        if (!ts->wait_head) ts->wait_tail = NULL;
        size_t n = w->n;
        for (size_t k = 0; k < n; k++) ts->wait_bytes -= w->bufs[k].len;
        w->n = 0;
        stream_write_cb cb = w->cb;
        void *arg = w->arg;
        int rc = tls_send(ts, w->bufs, n, w);
        if (rc) {
            if (cb) cb(&ts->base, rc, arg);
            tls_fail(ts, rc, "write error");
        }
    }
    if (ts->shut_wanted && !ts->failed && !ts->closing) {
        tls_send_close_notify(ts);
        stream_shutdown(ts->below);
    }
    if (!ts->hs_reported && !ts->closing) {
        ts->hs_reported = true;
        if (ts->hs_cb) ts->hs_cb(&ts->base, 0, NULL, ts->hs_arg);
    }
}

static void tls_deliver_eof(tls_stream *ts)
{
    ERR_clear_error();
    ts->eof_delivered = true;
    ts->base.on_read(&ts->base, UV_EOF, (buf_ref){NULL, NULL, 0});
}

/* Decrypts what inq holds towards the reader, one chunk per read callback. */
static void tls_deliver(tls_stream *ts)
{
    int budget = TLS_READS_PER_RUN;
    while (ts->reading && !ts->closing && !ts->failed && !ts->eof_delivered) {
        if (budget-- == 0) {
            tls_kick(ts);
            return;
        }
        buf_chunk *c = buf_chunk_alloc(0);
        if (!c) {
            tls_fail(ts, UV_ENOMEM, "out of memory");
            return;
        }
        size_t got = 0, n;
        int rc = 1;
        while (got < c->size && (rc = SSL_read_ex(ts->ssl, c->data + got, c->size - got, &n)) == 1)
            got += n;
        int e = rc == 1 ? SSL_ERROR_NONE : SSL_get_error(ts->ssl, rc);
        tls_flush(ts, NULL); /* anything OpenSSL answered (key updates) */
        if (got > 0) {
            /* A condition that stopped the loop shows again on the next SSL_read. */
            buf_ref r = buf_ref_make(c, 0, got);
            if (got <= TLS_SMALL_READ) {
                /* Small messages move to an exact copy, so the 64 KiB chunk goes back
                 * to the pool at once even if the reader queues the bytes. */
                buf_ref small = buf_ref_copy(r.base, got);
                if (small.chunk) {
                    buf_ref_release(&r);
                    r = small;
                }
            }
            ts->base.on_read(&ts->base, (ssize_t)got, r);
            continue;
        }
        buf_chunk_release(c);
        if (e == SSL_ERROR_WANT_READ && !ts->below_eof) {
            ERR_clear_error();
            return;
        }
        if (e == SSL_ERROR_WANT_READ || e == SSL_ERROR_ZERO_RETURN) {
            tls_deliver_eof(ts);
            return;
        }
        char text[300];
        tls_error_text(ts, text, sizeof text);
        tls_fail(ts, CFRP_EPROTO, text);
        return;
    }
}

static void tls_advance(tls_stream *ts)
{
    if (ts->closing) return;
    if (ts->failed) {
        if (ts->reading && !ts->error_delivered) {
            ts->error_delivered = true;
            ts->base.on_read(&ts->base, ts->error, (buf_ref){NULL, NULL, 0});
        }
        return;
    }
    while (ts->done_head) {
        tls_wreq *w = ts->done_head;
        ts->done_head = w->next;
        if (w->cb) w->cb(&ts->base, 0, w->arg);
        free(w);
        if (ts->closing) return;
    }
    if (!ts->hs_done) {
        int rc = SSL_do_handshake(ts->ssl);
        int e = rc == 1 ? SSL_ERROR_NONE : SSL_get_error(ts->ssl, rc);
        char text[300] = "";
        if (e != SSL_ERROR_NONE && e != SSL_ERROR_WANT_READ) tls_error_text(ts, text, sizeof text);
        tls_flush(ts, NULL); /* handshake records, or the alert explaining a failure */
        if (e == SSL_ERROR_WANT_READ) {
            ERR_clear_error();
            if (ts->below_eof)
                tls_fail(ts, UV_EOF, "EOF");
            else
                tls_want_below(ts, true);
            return;
        }
        if (e != SSL_ERROR_NONE) {
            tls_fail(ts, CFRP_EPROTO, text);
            return;
        }
        tls_handshake_done(ts);
        if (ts->closing || ts->failed) return;
    }
    tls_deliver(ts);
    if (ts->closing || ts->failed) return;
    tls_want_below(ts, ts->reading && !ts->eof_delivered);
}

static void tls_below_read(stream *below, ssize_t nread, buf_ref data)
{
    tls_stream *ts = below->data;
    if (nread > 0) {
        if (ts->inq_n == TLS_INQ_MAX) { /* the stream below ignored read_stop */
            buf_ref_release(&data);
            tls_fail(ts, CFRP_EPROTO, "read queue overflow");
            return;
        }
        ts->inq[(ts->inq_head + ts->inq_n++) % TLS_INQ_MAX] = data;
        if (ts->inq_n == TLS_INQ_MAX) tls_want_below(ts, false);
    } else {
        buf_ref_release(&data);
        ts->below_reading = false;
        if (nread != UV_EOF) {
            tls_fail(ts, (int)nread, "read error");
            return;
        }
        ts->below_eof = true;
    }
    tls_advance(ts);
}

/* ---- stream ops ---- */

static int tls_read_start(stream *s)
{
    tls_stream *ts = (tls_stream *)s;
    if (ts->closing) return CFRP_ECLOSED;
    if (ts->reading) return 0;
    ts->reading = true;
    tls_kick(ts);
    return 0;
}

static int tls_read_stop(stream *s)
{
    tls_stream *ts = (tls_stream *)s;
    ts->reading = false;
    if (ts->hs_done) tls_want_below(ts, false);
    return 0;
}

static int tls_write(stream *s, buf_ref *bufs, size_t nbufs, stream_write_cb cb, void *arg)
{
    tls_stream *ts = (tls_stream *)s;
    int rc = ts->closing ? CFRP_ECLOSED : ts->failed ? CFRP_EPROTO
             : ts->shut_wanted ? UV_EPIPE : 0;
    size_t nkeep = ts->hs_done ? 0 : nbufs;
    tls_wreq *w = rc ? NULL : malloc(sizeof *w + nkeep * sizeof(buf_ref));
    if (!rc && !w) rc = UV_ENOMEM;
    if (rc) {
        for (size_t k = 0; k < nbufs; k++) buf_ref_release(&bufs[k]);
        return rc;
    }
    w->next = NULL;
    w->ts = ts;
    w->cb = cb;
    w->arg = arg;
    w->n = nkeep;
    if (ts->hs_done) return tls_send(ts, bufs, nbufs, w);
    for (size_t k = 0; k < nbufs; k++) {
        w->bufs[k] = bufs[k];
        ts->wait_bytes += bufs[k].len;
        bufs[k] = (buf_ref){NULL, NULL, 0};
    }
    if (ts->wait_tail)
        ts->wait_tail->next = w;
    else
        ts->wait_head = w;
    ts->wait_tail = w;
    return 0;
}

static int tls_shutdown(stream *s)
{
    tls_stream *ts = (tls_stream *)s;
    if (ts->closing) return CFRP_ECLOSED;
    if (ts->shut_wanted) return UV_EPIPE;
    ts->shut_wanted = true;
    if (!ts->hs_done) return 0; /* after the handshake and the waiting writes */
    tls_send_close_notify(ts);
    return stream_shutdown(ts->below);
}

/* Frees ts and what it owns (OpenSSL's state and the queued ciphertext). */
static void tls_stream_free(tls_stream *ts)
{
    SSL_free(ts->ssl);
    for (unsigned k = 0; k < ts->inq_n; k++)
        buf_ref_release(&ts->inq[(ts->inq_head + k) % TLS_INQ_MAX]);
    for (size_t k = 0; k < ts->outq_n; k++) buf_ref_release(&ts->outq[k]);
    buf_chunk_release(ts->ochunk);
    free(ts);
}

static void tls_free_if_done(tls_stream *ts)
{
    if (--ts->pending_closes > 0) return;
    tls_fail_waiting(ts, UV_ECANCELED);
    while (ts->done_head) {
        tls_wreq *w = ts->done_head;
        ts->done_head = w->next;
        if (w->cb) w->cb(&ts->base, UV_ECANCELED, w->arg);
        free(w);
    }
    if (ts->base.on_close) ts->base.on_close(&ts->base);
    tls_stream_free(ts);
}

static void tls_on_idle_closed(uv_handle_t *h)
{
    tls_free_if_done(h->data);
}

static void tls_on_below_closed(stream *below)
{
    tls_free_if_done(below->data);
}

static void tls_close(stream *s)
{
    tls_stream *ts = (tls_stream *)s;
    if (ts->closing) return;
    tls_send_close_notify(ts);
    ts->closing = true;
    ts->reading = false;
    ts->pending_closes = 2;
    uv_idle_stop(&ts->idle);
    uv_close((uv_handle_t *)&ts->idle, tls_on_idle_closed);
    ts->below->on_close = tls_on_below_closed;
    stream_close(ts->below);
}

static size_t tls_queued(const stream *s)
{
    const tls_stream *ts = (const tls_stream *)s;
    return ts->wait_bytes + stream_queued(ts->below);
}

static int tls_peer_addr(const stream *s, struct sockaddr_storage *addr)
{
    const stream *b = ((const tls_stream *)s)->below;
    return b->ops->peer_addr ? b->ops->peer_addr(b, addr) : UV_ENOTSUP;
}

static int tls_local_addr(const stream *s, struct sockaddr_storage *addr)
{
    const stream *b = ((const tls_stream *)s)->below;
    return b->ops->local_addr ? b->ops->local_addr(b, addr) : UV_ENOTSUP;
}

static const struct stream_ops tls_ops = {
    .name = "tls",
    .read_start = tls_read_start,
    .read_stop = tls_read_stop,
    .write = tls_write,
    .shutdown = tls_shutdown,
    .close = tls_close,
    .queued = tls_queued,
    .peer_addr = tls_peer_addr,
    .local_addr = tls_local_addr,
};

static tls_stream *tls_stream_new(tls_ctx *ctx, stream *below,
                                  tls_handshake_cb hs_cb, void *arg)
{
    tls_stream *ts = calloc(1, sizeof *ts);
    if (!ts) return NULL;
    ts->ssl = SSL_new(ctx->ssl_ctx);
    ts->bio = BIO_new(ctx->bio_method);
    if (!ts->ssl || !ts->bio) {
        SSL_free(ts->ssl);
        BIO_free(ts->bio);
        free(ts);
        return NULL;
    }
    BIO_set_data(ts->bio, ts);
    SSL_set_bio(ts->ssl, ts->bio, ts->bio); /* one reference, used both ways */
    ts->base.ops = &tls_ops;
    ts->below = below;
    ts->hs_cb = hs_cb;
    ts->hs_arg = arg;
    return ts;
}

static void tls_start(uv_loop_t *loop, tls_stream *ts, stream **out)
{
    uv_idle_init(loop, &ts->idle);
    ts->idle.data = ts;
    ts->below->data = ts;
    ts->below->on_close = NULL;
    *out = &ts->base;
    tls_kick(ts);
}

static bool tls_is_ip(const char *name)
{
    unsigned char buf[16];
    return inet_pton(AF_INET, name, buf) == 1 || inet_pton(AF_INET6, name, buf) == 1;
}

int tls_client_new(uv_loop_t *loop, tls_ctx *ctx, stream *below, const char *server_name,
                   tls_handshake_cb hs_cb, void *arg, stream **out)
{
    tls_stream *ts = tls_stream_new(ctx, below, hs_cb, arg);
    if (!ts) return UV_ENOMEM;
    SSL_set_connect_state(ts->ssl);
    if (server_name && *server_name) {
        bool ip = tls_is_ip(server_name);
        if (!ip) SSL_set_tlsext_host_name(ts->ssl, server_name);
        if (SSL_get_verify_mode(ts->ssl) & SSL_VERIFY_PEER) {
            X509_VERIFY_PARAM *p = SSL_get0_param(ts->ssl);
            if (ip)
                X509_VERIFY_PARAM_set1_ip_asc(p, server_name);
            else
                X509_VERIFY_PARAM_set1_host(p, server_name, 0);
        }
    }
    tls_start(loop, ts, out);
    return 0;
}

int tls_server_new(uv_loop_t *loop, tls_ctx *ctx, stream *below, const void *prefix,
                   size_t prefix_len, tls_handshake_cb hs_cb, void *arg, stream **out)
{
    tls_stream *ts = tls_stream_new(ctx, below, hs_cb, arg);
    if (!ts) return UV_ENOMEM;
    SSL_set_accept_state(ts->ssl);
    if (prefix_len > 0) {
        buf_ref r = buf_ref_copy(prefix, prefix_len);
        if (!r.chunk) {
            tls_stream_free(ts);
            return UV_ENOMEM;
        }
        ts->inq[0] = r;
        ts->inq_n = 1;
    }
    tls_start(loop, ts, out);
    return 0;
}

const char *tls_stream_sni(const stream *s)
{
    const tls_stream *ts = (const tls_stream *)s;
    return SSL_get_servername(ts->ssl, TLSEXT_NAMETYPE_host_name);
}
