/* Unit tests for net/tls and net/tls_cert: handshakes over TCP and over the in-memory
 * pipe with certificates made by the test, verification success and failure, SNI,
 * client certificates, frp's default certificate, the 0x17 prefix sniff, data both
 * ways with close_notify, and close during the handshake. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>
#include <uv.h>

#include "base/err.h"
#include "net/dial.h"
#include "net/pipe.h"
#include "net/tcp.h"
#include "net/tls.h"
#include "net/tls_cert.h"

static char dir[64];
static char ca1[128], ca2[128], srv_crt[128], srv_key[128], cli_crt[128], cli_key[128];

static void path(char *out, const char *name)
{
    snprintf(out, 128, "%s/%s", dir, name);
}

static int setup_certs(void **state)
{
    snprintf(dir, sizeof dir, "/tmp/cfrp-tls-XXXXXX");
    assert_non_null(mkdtemp(dir));
    char err[256];
    EVP_PKEY *k1, *k2, *ks, *kc;
    X509 *c1, *c2, *cs, *cc;
    struct tls_cert_spec ca = {.common_name = "Test CA 1", .is_ca = true, .serial = 1, .days = 2};
    assert_int_equal(tls_cert_generate(&ca, &k1, &c1, err, sizeof err), 0);
    ca.common_name = "Test CA 2";
    assert_int_equal(tls_cert_generate(&ca, &k2, &c2, err, sizeof err), 0);
    const char *dns[] = {"localhost", "frps.example"};
    const char *ips[] = {"127.0.0.1"};
    struct tls_cert_spec leaf = {.common_name = "localhost", .dns_names = dns, .ndns = 2,
                                 .ips = ips, .nips = 1, .serial = 2, .days = 2,
                                 .issuer_key = k1, .issuer_cert = c1};
    assert_int_equal(tls_cert_generate(&leaf, &ks, &cs, err, sizeof err), 0);
    struct tls_cert_spec client = {.common_name = "frpc", .serial = 3, .days = 2,
                                   .issuer_key = k1, .issuer_cert = c1};
    assert_int_equal(tls_cert_generate(&client, &kc, &cc, err, sizeof err), 0);
    path(ca1, "ca1.crt");
    path(ca2, "ca2.crt");
    path(srv_crt, "server.crt");
    path(srv_key, "server.key");
    path(cli_crt, "client.crt");
    path(cli_key, "client.key");
    assert_int_equal(tls_cert_write_pem(ca1, NULL, c1, k1, err, sizeof err), 0);
    assert_int_equal(tls_cert_write_pem(ca2, NULL, c2, k2, err, sizeof err), 0);
    assert_int_equal(tls_cert_write_pem(srv_crt, srv_key, cs, ks, err, sizeof err), 0);
    assert_int_equal(tls_cert_write_pem(cli_crt, cli_key, cc, kc, err, sizeof err), 0);
    EVP_PKEY_free(k1);
    EVP_PKEY_free(k2);
    EVP_PKEY_free(ks);
    EVP_PKEY_free(kc);
    X509_free(c1);
    X509_free(c2);
    X509_free(cs);
    X509_free(cc);
    return 0;
}

static int remove_certs(void **state)
{
    const char *files[] = {ca1, ca2, srv_crt, srv_key, cli_crt, cli_key};
    for (size_t i = 0; i < 6; i++) unlink(files[i]);
    rmdir(dir);
    return 0;
}

/* One TLS end as the test sees it. */
typedef struct side {
    stream *s;
    int hs_calls, hs_status;
    char hs_err[300];
    char *got;
    size_t got_len, cap;
    int eof, rerr, closed;
    const char *sni;
} side;

static void side_hs(stream *s, int status, const char *err, void *arg)
{
    side *d = arg;
    d->hs_calls++;
    d->hs_status = status;
    snprintf(d->hs_err, sizeof d->hs_err, "%s", err ? err : "");
    if (status == 0) d->sni = tls_stream_sni(s);
}

static void side_read(stream *s, ssize_t n, buf_ref b)
{
    side *d = s->data;
    if (n > 0) {
        if (d->got_len + b.len > d->cap) {
            d->cap = (d->got_len + b.len) * 2;
            d->got = realloc(d->got, d->cap);
            assert_non_null(d->got);
        }
        memcpy(d->got + d->got_len, b.base, b.len);
        d->got_len += b.len;
    } else if (n == UV_EOF) {
        d->eof++;
    } else {
        d->rerr = (int)n;
    }
    buf_ref_release(&b);
}

static void side_closed(stream *s)
{
    ((side *)s->data)->closed++;
}

static void side_attach(side *d, stream *s)
{
    d->s = s;
    s->data = d;
    s->on_close = side_closed;
    assert_int_equal(stream_read_start(s, side_read), 0);
}

typedef struct {
    uv_loop_t loop;
    side cli, srv;
    tls_ctx *cctx, *sctx;
    stream *raw_srv; /* the server's pipe/TCP end before TLS */
    bool sniff;      /* server sniffs the first bytes and strips 0x17 */
    stream *accepted, *dialed;
} pair;

static bool cond_hs(pair *p)
{
    return p->cli.hs_calls && p->srv.hs_calls;
}

static void run_until(pair *p, bool (*cond)(pair *), unsigned secs)
{
    uint64_t deadline = uv_hrtime() + secs * 1000000000ull;
    while (!cond(p) && uv_hrtime() < deadline) uv_run(&p->loop, UV_RUN_ONCE);
    assert_true(cond(p));
}

static void sniff_read(stream *raw, ssize_t n, buf_ref b)
{
    pair *p = raw->data;
    assert_true(n > 0);
    stream_read_stop(raw);
    const char *prefix = b.base;
    size_t len = b.len;
    if (len > 0 && (unsigned char)prefix[0] == 0x17) {
        prefix++;
        len--;
    }
    stream *t;
    assert_int_equal(tls_server_new(&p->loop, p->sctx, raw, prefix, len, side_hs, &p->srv, &t), 0);
    buf_ref_release(&b);
    side_attach(&p->srv, t);
}

static void make_contexts(pair *p, const struct tls_options *co, const struct tls_options *so)
{
    char err[256] = "";
    assert_int_equal(tls_ctx_client(co, &p->cctx, err, sizeof err), 0);
    int rc = tls_ctx_server(so, &p->sctx, err, sizeof err);
    if (rc) fail_msg("server ctx: %s", err);
}

/* Connects client and server TLS over a pipe pair. */
static void start_over_pipe(pair *p, const char *server_name)
{
    stream *a, *b, *t;
    assert_int_equal(pipe_pair(&p->loop, &a, &b), 0);
    if (p->sniff) {
        assert_int_equal(stream_write_copy(a, "\x17", 1, NULL, NULL), 0);
        b->data = p;
        assert_int_equal(stream_read_start(b, sniff_read), 0);
    } else {
        assert_int_equal(tls_server_new(&p->loop, p->sctx, b, NULL, 0, side_hs, &p->srv, &t), 0);
        side_attach(&p->srv, t);
    }
    assert_int_equal(tls_client_new(&p->loop, p->cctx, a, server_name, side_hs, &p->cli, &t), 0);
    side_attach(&p->cli, t);
}

static void finish(pair *p)
{
    if (p->cli.s) stream_close(p->cli.s);
    if (p->srv.s) stream_close(p->srv.s);
    tls_ctx_free(p->cctx);
    tls_ctx_free(p->sctx);
    assert_int_equal(uv_run(&p->loop, UV_RUN_DEFAULT), 0);
    if (p->cli.s) assert_int_equal(p->cli.closed, 1);
    if (p->srv.s) assert_int_equal(p->srv.closed, 1);
    assert_int_equal(uv_loop_close(&p->loop), 0);
    free(p->cli.got);
    free(p->srv.got);
    buf_pool_drain();
}

static bool cond_data(pair *p)
{
    return p->srv.got_len >= 4 && p->cli.got_len >= 4 && p->srv.eof;
}

/* Client writes before the handshake ends and then half-closes; server answers. */
static void exchange(pair *p)
{
    assert_int_equal(stream_write_copy(p->cli.s, "ping", 4, NULL, NULL), 0);
    assert_int_equal(stream_shutdown(p->cli.s), 0);
    run_until(p, cond_hs, 5);
    assert_int_equal(p->cli.hs_status, 0);
    assert_int_equal(p->srv.hs_status, 0);
    assert_int_equal(stream_write_copy(p->srv.s, "pong", 4, NULL, NULL), 0);
    run_until(p, cond_data, 5);
    assert_memory_equal(p->srv.got, "ping", 4);
    assert_memory_equal(p->cli.got, "pong", 4);
    assert_int_equal(p->srv.eof, 1); /* close_notify read as EOF */
}

static void test_default_cert_insecure_client(void **state)
{
    static pair p;
    memset(&p, 0, sizeof p);
    uv_loop_init(&p.loop);
    make_contexts(&p, NULL, NULL);
    start_over_pipe(&p, "127.0.0.1");
    exchange(&p);
    assert_null(p.srv.sni); /* no SNI for an IP literal */
    finish(&p);
    /* The default certificate is frp's: serial 1, empty subject, 0001-01-01. */
    EVP_PKEY *k, *k2;
    X509 *c, *c2;
    char err[128];
    assert_int_equal(tls_cert_default(&k, &c, err, sizeof err), 0);
    assert_int_equal(tls_cert_default(&k2, &c2, err, sizeof err), 0);
    assert_ptr_equal(c, c2); /* once per process */
    assert_int_equal(ASN1_INTEGER_get(X509_get0_serialNumber(c)), 1);
    assert_int_equal(X509_NAME_entry_count(X509_get_subject_name(c)), 0);
    assert_int_equal(EVP_PKEY_get_bits(k), 2048);
    struct tm tm;
    assert_int_equal(ASN1_TIME_to_tm(X509_get0_notAfter(c), &tm), 1);
    assert_int_equal(tm.tm_year + 1900, 1);
    EVP_PKEY_free(k);
    EVP_PKEY_free(k2);
    X509_free(c);
    X509_free(c2);
}

static void test_verify_ok_and_sni(void **state)
{
    static pair p;
    memset(&p, 0, sizeof p);
    uv_loop_init(&p.loop);
    struct tls_options co = {.trusted_ca_file = ca1};
    struct tls_options so = {.cert_file = srv_crt, .key_file = srv_key};
    make_contexts(&p, &co, &so);
    start_over_pipe(&p, "localhost");
    exchange(&p);
    assert_non_null(p.srv.sni);
    assert_string_equal(p.srv.sni, "localhost");
    finish(&p);

    /* An IP server name verifies against the IP SAN. */
    memset(&p, 0, sizeof p);
    uv_loop_init(&p.loop);
    make_contexts(&p, &co, &so);
    start_over_pipe(&p, "127.0.0.1");
    exchange(&p);
    finish(&p);
}

static void expect_client_verify_failure(const char *ca, const char *name, const char *want)
{
    static pair p;
    memset(&p, 0, sizeof p);
    uv_loop_init(&p.loop);
    struct tls_options co = {.trusted_ca_file = ca};
    struct tls_options so = {.cert_file = srv_crt, .key_file = srv_key};
    make_contexts(&p, &co, &so);
    start_over_pipe(&p, name);
    run_until(&p, cond_hs, 5);
    assert_true(p.cli.hs_status < 0);
    assert_string_equal(p.cli.hs_err, want);
    assert_true(p.srv.hs_status < 0); /* the server got the alert */
    finish(&p);
}

static void test_verify_failures(void **state)
{
    expect_client_verify_failure(
        ca2, "localhost",
        "tls: failed to verify certificate: x509: certificate signed by unknown authority");
    expect_client_verify_failure(ca1, "other.example",
                                 "tls: failed to verify certificate: x509: hostname mismatch");
}

static bool cond_srv_hs(pair *p)
{
    return p->srv.hs_calls > 0 && (p->cli.hs_calls > 0);
}

static bool cond_cli_err(pair *p)
{
    return p->cli.rerr != 0 || p->cli.hs_status < 0 || p->cli.eof;
}

static void test_client_cert_required(void **state)
{
    static pair p;
    struct tls_options so = {.cert_file = srv_crt, .key_file = srv_key, .trusted_ca_file = ca1};
    /* Without a client certificate the server refuses. */
    memset(&p, 0, sizeof p);
    uv_loop_init(&p.loop);
    make_contexts(&p, NULL, &so);
    start_over_pipe(&p, "localhost");
    run_until(&p, cond_srv_hs, 5);
    assert_true(p.srv.hs_status < 0);
    run_until(&p, cond_cli_err, 5); /* TLS 1.3: the client hears it on its next read */
    finish(&p);

    /* With one signed by the trusted CA it works. */
    memset(&p, 0, sizeof p);
    uv_loop_init(&p.loop);
    struct tls_options co = {.cert_file = cli_crt, .key_file = cli_key, .trusted_ca_file = ca1};
    make_contexts(&p, &co, &so);
    start_over_pipe(&p, "localhost");
    exchange(&p);
    finish(&p);
}

static void test_custom_first_byte_sniff(void **state)
{
    static pair p;
    memset(&p, 0, sizeof p);
    uv_loop_init(&p.loop);
    p.sniff = true;
    make_contexts(&p, NULL, NULL);
    start_over_pipe(&p, "frps.example");
    exchange(&p);
    assert_string_equal(p.srv.sni, "frps.example");
    finish(&p);
}

static void test_bad_files(void **state)
{
    tls_ctx *c;
    char err[512] = "";
    struct tls_options o = {.cert_file = "/nonexistent.crt", .key_file = "/nonexistent.key"};
    assert_int_equal(tls_ctx_server(&o, &c, err, sizeof err), CFRP_EINVAL);
    assert_true(strncmp(err, "tls: load certificate /nonexistent.crt: ", 40) == 0);
    struct tls_options o2 = {.cert_file = srv_crt, .key_file = cli_key};
    assert_int_equal(tls_ctx_server(&o2, &c, err, sizeof err), CFRP_EINVAL);
}

/* ---- over TCP, with bulk data ---- */

static void on_accept(tcp_listener *l, stream *s, void *arg)
{
    ((pair *)arg)->accepted = s;
}

static void on_dial(stream *s, int status, const char *err, void *arg)
{
    assert_int_equal(status, 0);
    ((pair *)arg)->dialed = s;
}

static bool cond_tcp(pair *p)
{
    return p->accepted && p->dialed;
}

#define BULK (4u << 20)

static bool cond_bulk(pair *p)
{
    return p->srv.got_len == BULK && p->cli.got_len == BULK && p->srv.eof && p->cli.eof;
}

static void test_tls_over_tcp_bulk(void **state)
{
    static pair p;
    memset(&p, 0, sizeof p);
    uv_loop_init(&p.loop);
    struct tls_options co = {.trusted_ca_file = ca1};
    struct tls_options so = {.cert_file = srv_crt, .key_file = srv_key};
    make_contexts(&p, &co, &so);
    char err[256];
    tcp_listener *l;
    assert_int_equal(tcp_listen(&p.loop, "127.0.0.1", 0, 4, NULL, on_accept, &p, &l, err, sizeof err), 0);
    assert_int_equal(dial_tcp(&p.loop, "127.0.0.1", tcp_listener_port(l), NULL, on_dial, &p, NULL), 0);
    run_until(&p, cond_tcp, 5);
    stream *t;
    assert_int_equal(tls_server_new(&p.loop, p.sctx, p.accepted, NULL, 0, side_hs, &p.srv, &t), 0);
    side_attach(&p.srv, t);
    assert_int_equal(tls_client_new(&p.loop, p.cctx, p.dialed, "localhost", side_hs, &p.cli, &t), 0);
    side_attach(&p.cli, t);
    struct sockaddr_storage peer;
    assert_int_equal(p.cli.s->ops->peer_addr(p.cli.s, &peer), 0);
    assert_int_equal(peer.ss_family, AF_INET);
    char *data = malloc(BULK);
    for (size_t i = 0; i < BULK; i++) data[i] = (char)(i * 131 + (i >> 12));
    for (size_t off = 0; off < BULK; off += 100000) {
        size_t n = BULK - off < 100000 ? BULK - off : 100000;
        assert_int_equal(stream_write_copy(p.cli.s, data + off, n, NULL, NULL), 0);
        assert_int_equal(stream_write_copy(p.srv.s, data + off, n, NULL, NULL), 0);
    }
    assert_int_equal(stream_shutdown(p.cli.s), 0);
    assert_int_equal(stream_shutdown(p.srv.s), 0);
    run_until(&p, cond_bulk, 30);
    assert_memory_equal(p.srv.got, data, BULK);
    assert_memory_equal(p.cli.got, data, BULK);
    free(data);
    tcp_listener_close(l);
    finish(&p);
}

static void test_close_during_handshake(void **state)
{
    static pair p;
    memset(&p, 0, sizeof p);
    uv_loop_init(&p.loop);
    make_contexts(&p, NULL, NULL);
    start_over_pipe(&p, "localhost");
    assert_int_equal(stream_write_copy(p.cli.s, "never sent", 10, NULL, NULL), 0);
    uv_run(&p.loop, UV_RUN_NOWAIT);
    finish(&p); /* closes both mid-handshake; ASan checks nothing leaks */
    assert_int_equal(p.cli.got_len + p.srv.got_len, 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_default_cert_insecure_client),
        cmocka_unit_test(test_verify_ok_and_sni),
        cmocka_unit_test(test_verify_failures),
        cmocka_unit_test(test_client_cert_required),
        cmocka_unit_test(test_custom_first_byte_sniff),
        cmocka_unit_test(test_bad_files),
        cmocka_unit_test(test_tls_over_tcp_bulk),
        cmocka_unit_test(test_close_during_handshake),
    };
    return cmocka_run_group_tests(tests, setup_certs, remove_certs);
}
