/* Unit tests for net/proxy_dial: proxyURL parsing, and the HTTP CONNECT and SOCKS5
 * exchanges byte for byte against vectors/transport-live.txt (recorded from frp v0.61.1
 * in front of tinyproxy and microsocks), with the proxy's side played over a pipe. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <uv.h>

#include "base/err.h"
#include "net/pipe.h"
#include "net/proxy_dial.h"

static uv_loop_t loop;

/* The proxy's end: what frpc sent. */
typedef struct {
    unsigned char in[2048];
    size_t len;
    bool eof;
} proxy_end;

/* frpc's end: the outcome of the handshake. */
typedef struct {
    bool done;
    int status;
    char err[512];
    stream *s;
} outcome;

static void pe_read(stream *s, ssize_t n, buf_ref d)
{
    proxy_end *p = s->data;
    if (n > 0) {
        assert_true(p->len + d.len <= sizeof p->in);
        memcpy(p->in + p->len, d.base, d.len);
        p->len += d.len;
    } else {
        p->eof = true;
    }
    buf_ref_release(&d);
}

static void on_done(stream *s, int status, const char *err, void *arg)
{
    outcome *o = arg;
    o->done = true;
    o->status = status;
    o->s = s;
    if (err) snprintf(o->err, sizeof o->err, "%s", err);
}

static void spin(void)
{
    for (int i = 0; i < 50; i++) uv_run(&loop, UV_RUN_NOWAIT);
}

static int setup(void **state)
{
    (void)state;
    return uv_loop_init(&loop);
}

static int teardown(void **state)
{
    (void)state;
    spin();
    assert_int_equal(uv_loop_close(&loop), 0);
    buf_pool_drain();
    return 0;
}

/* Starts a handshake for url towards host:port; *proxy is the proxy's end. */
static void start(const char *url, const char *host, int port, proxy_end *pe, stream **proxy,
                  outcome *o)
{
    struct proxy_url pu;
    char err[256];
    assert_int_equal(proxy_url_parse(url, &pu, err, sizeof err), 0);
    stream *a;
    assert_int_equal(pipe_pair(&loop, &a, proxy), 0);
    memset(pe, 0, sizeof *pe);
    memset(o, 0, sizeof *o);
    (*proxy)->data = pe;
    assert_int_equal(stream_read_start(*proxy, pe_read), 0);
    assert_int_equal(proxy_handshake(a, &pu, host, port, on_done, o, NULL), 0);
    assert_false(o->done); /* never inside the call */
    spin();
}

/* Checks what frpc sent since the last call, then forgets it. */
static void expect_sent(proxy_end *pe, const void *bytes, size_t len)
{
    assert_int_equal(pe->len, len);
    assert_memory_equal(pe->in, bytes, len);
    pe->len = 0;
}

static void answer(stream *proxy, const void *bytes, size_t len)
{
    assert_int_equal(stream_write_copy(proxy, bytes, len, NULL, NULL), 0);
    spin();
}

static void finish(stream *proxy, outcome *o)
{
    if (o->s) stream_close(o->s);
    stream_close(proxy);
    spin();
}

static void test_url_parse(void **state)
{
    (void)state;
    struct proxy_url pu;
    char err[256];
    assert_int_equal(proxy_url_parse("http://puser:ppass@127.0.0.1:28889", &pu, err, sizeof err), 0);
    assert_int_equal(pu.kind, PROXY_HTTP);
    assert_string_equal(pu.host, "127.0.0.1");
    assert_int_equal(pu.port, 28889);
    assert_true(pu.auth);
    assert_string_equal(pu.user, "puser");
    assert_string_equal(pu.pass, "ppass");
    assert_int_equal(proxy_url_parse("socks5://[::1]", &pu, err, sizeof err), 0);
    assert_int_equal(pu.kind, PROXY_SOCKS5);
    assert_string_equal(pu.host, "::1");
    assert_int_equal(pu.port, 1080);
    assert_false(pu.auth);
    assert_int_equal(proxy_url_parse("http://u%40x:p%3Aw@proxy.test/", &pu, err, sizeof err), 0);
    assert_string_equal(pu.user, "u@x");
    assert_string_equal(pu.pass, "p:w");
    assert_string_equal(pu.host, "proxy.test");
    assert_int_equal(pu.port, 80);
    assert_int_equal(proxy_url_parse("ftp://h:1", &pu, err, sizeof err), CFRP_EINVAL);
    assert_string_equal(err, "Proxy URL scheme must be http or socks5 or ntlm, not [ftp]");
    assert_int_equal(proxy_url_parse("ntlm://h:1", &pu, err, sizeof err), CFRP_EINVAL);
    assert_int_equal(proxy_url_parse("127.0.0.1:8080", &pu, err, sizeof err), CFRP_EINVAL);
    assert_int_equal(proxy_url_parse("http://h:99999", &pu, err, sizeof err), CFRP_EINVAL);
    assert_int_equal(proxy_url_parse("http://h:", &pu, err, sizeof err), CFRP_EINVAL);
    assert_int_equal(proxy_url_parse("http://u:p%zz@h:1", &pu, err, sizeof err), CFRP_EINVAL);
    assert_int_equal(proxy_url_parse("http://:1", &pu, err, sizeof err), CFRP_EINVAL);
}

static const char vec_connect[] =
    "CONNECT 127.0.0.1:28000 HTTP/1.1\r\nHost: 127.0.0.1:28000\r\nUser-Agent: Mozilla/5.0\r\n"
    "Proxy-Authorization: Basic cHVzZXI6cHBhc3M=\r\n\r\n";
static const char vec_established[] =
    "HTTP/1.0 200 Connection established\r\nProxy-agent: tinyproxy/1.11.1\r\n\r\n";

static void test_http_connect_vector(void **state)
{
    (void)state;
    proxy_end pe;
    stream *proxy;
    outcome o;
    start("http://puser:ppass@127.0.0.1:28889", "127.0.0.1", 28000, &pe, &proxy, &o);
    expect_sent(&pe, vec_connect, strlen(vec_connect));
    /* the answer in two pieces */
    answer(proxy, vec_established, 20);
    assert_false(o.done);
    answer(proxy, vec_established + 20, strlen(vec_established) - 20);
    assert_true(o.done);
    assert_int_equal(o.status, 0);
    assert_non_null(o.s);
    /* the stream now carries frpc's bytes */
    assert_int_equal(stream_write_copy(o.s, "\x16\x03\x01", 3, NULL, NULL), 0);
    spin();
    expect_sent(&pe, "\x16\x03\x01", 3);
    finish(proxy, &o);
}

static void test_http_connect_refused(void **state)
{
    (void)state;
    proxy_end pe;
    stream *proxy;
    outcome o;
    start("http://proxy.test:3128", "frps.example.com", 7000, &pe, &proxy, &o);
    static const char req[] = "CONNECT frps.example.com:7000 HTTP/1.1\r\n"
                              "Host: frps.example.com:7000\r\nUser-Agent: Mozilla/5.0\r\n\r\n";
    expect_sent(&pe, req, strlen(req));
    static const char ans[] = "HTTP/1.1 407 Proxy Authentication Required\r\n\r\n";
    answer(proxy, ans, strlen(ans));
    assert_true(o.done);
    assert_int_not_equal(o.status, 0);
    assert_null(o.s);
    assert_string_equal(o.err, "DialTcpByHttpProxy error, StatusCode [407]");
    assert_true(pe.eof); /* the connection to the proxy was closed */
    finish(proxy, &o);
}

static void test_http_bad_answers(void **state)
{
    (void)state;
    static const char *const answers[] = {
        "HTTP/1.1 200 OK\r\n\r\nextra", /* data after the head */
        "SSH-2.0-OpenSSH\r\n\r\n",      /* not HTTP */
        "HTTP/2.0 200 OK\r\n\r\n",      /* not HTTP/1 */
    };
    for (size_t i = 0; i < sizeof answers / sizeof answers[0]; i++) {
        proxy_end pe;
        stream *proxy;
        outcome o;
        start("http://127.0.0.1:1", "127.0.0.1", 7000, &pe, &proxy, &o);
        answer(proxy, answers[i], strlen(answers[i]));
        assert_true(o.done);
        assert_int_not_equal(o.status, 0);
        finish(proxy, &o);
    }
    /* a head that never ends is bounded */
    proxy_end pe;
    stream *proxy;
    outcome o;
    start("http://127.0.0.1:1", "127.0.0.1", 7000, &pe, &proxy, &o);
    char junk[1000];
    memset(junk, 'x', sizeof junk);
    for (int i = 0; i < 5 && !o.done; i++) answer(proxy, junk, sizeof junk);
    assert_true(o.done);
    assert_int_not_equal(o.status, 0);
    finish(proxy, &o);
    /* EOF before the answer */
    start("http://127.0.0.1:1", "127.0.0.1", 7000, &pe, &proxy, &o);
    stream_close(proxy);
    spin();
    assert_true(o.done);
    assert_string_equal(o.err, "unexpected EOF");
}

static void test_socks5_auth_vector(void **state)
{
    (void)state;
    proxy_end pe;
    stream *proxy;
    outcome o;
    start("socks5://suser:spass@127.0.0.1:28891", "127.0.0.1", 28000, &pe, &proxy, &o);
    expect_sent(&pe, "\x05\x02\x00\x02", 4);
    answer(proxy, "\x05\x02", 2);
    expect_sent(&pe, "\x01\x05suser\x05spass", 13);
    answer(proxy, "\x01\x00", 2);
    expect_sent(&pe, "\x05\x01\x00\x01\x7f\x00\x00\x01\x6d\x60", 10);
    assert_false(o.done);
    answer(proxy, "\x05\x00\x00\x01\x00\x00\x00\x00\x00\x00", 10);
    assert_true(o.done);
    assert_int_equal(o.status, 0);
    finish(proxy, &o);
}

static void test_socks5_domain_no_auth(void **state)
{
    (void)state;
    proxy_end pe;
    stream *proxy;
    outcome o;
    start("socks5://127.0.0.1:1080", "frps.test", 7000, &pe, &proxy, &o);
    expect_sent(&pe, "\x05\x01\x00", 3);
    answer(proxy, "\x05\x00", 2);
    expect_sent(&pe, "\x05\x01\x00\x03\x09" "frps.test\x1b\x58", 16);
    /* a domain-name reply, byte by byte */
    static const unsigned char rep[] = {5, 0, 0, 3, 1, 'x', 0, 80};
    for (size_t i = 0; i < sizeof rep; i++) answer(proxy, rep + i, 1);
    assert_true(o.done);
    assert_int_equal(o.status, 0);
    finish(proxy, &o);
}

static void test_socks5_failures(void **state)
{
    (void)state;
    proxy_end pe;
    stream *proxy;
    outcome o;
    start("socks5://127.0.0.1:28891", "127.0.0.1", 28000, &pe, &proxy, &o);
    answer(proxy, "\x05\x00", 2);
    answer(proxy, "\x05\x05\x00\x01\x00\x00\x00\x00\x00\x00", 10);
    assert_true(o.done);
    assert_string_equal(o.err, "socks connect tcp 127.0.0.1:28891->127.0.0.1:28000: "
                               "unknown error connection refused");
    finish(proxy, &o);

    start("socks5://u:wrong@127.0.0.1:28891", "127.0.0.1", 28000, &pe, &proxy, &o);
    answer(proxy, "\x05\x02", 2);
    answer(proxy, "\x01\x01", 2);
    assert_true(o.done);
    assert_string_equal(o.err, "socks connect tcp 127.0.0.1:28891->127.0.0.1:28000: "
                               "username/password authentication failed");
    finish(proxy, &o);

    /* the proxy wants auth we do not have; then a bad address type */
    start("socks5://127.0.0.1:28891", "127.0.0.1", 28000, &pe, &proxy, &o);
    answer(proxy, "\x05\xff", 2);
    assert_true(o.done);
    assert_int_not_equal(o.status, 0);
    finish(proxy, &o);
    start("socks5://127.0.0.1:28891", "127.0.0.1", 28000, &pe, &proxy, &o);
    answer(proxy, "\x05\x00", 2);
    answer(proxy, "\x05\x00\x00\x07\x00", 5);
    assert_true(o.done);
    assert_int_not_equal(o.status, 0);
    finish(proxy, &o);
}

static void test_cancel(void **state)
{
    (void)state;
    proxy_end pe;
    stream *proxy, *a;
    outcome o = {0};
    struct proxy_url pu;
    char err[128];
    assert_int_equal(proxy_url_parse("http://127.0.0.1:1", &pu, err, sizeof err), 0);
    assert_int_equal(pipe_pair(&loop, &a, &proxy), 0);
    memset(&pe, 0, sizeof pe);
    proxy->data = &pe;
    assert_int_equal(stream_read_start(proxy, pe_read), 0);
    proxy_req *r;
    assert_int_equal(proxy_handshake(a, &pu, "127.0.0.1", 7000, on_done, &o, &r), 0);
    proxy_cancel(r);
    spin();
    assert_false(o.done);
    assert_true(pe.eof);
    stream_close(proxy);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_url_parse),
        cmocka_unit_test_setup_teardown(test_http_connect_vector, setup, teardown),
        cmocka_unit_test_setup_teardown(test_http_connect_refused, setup, teardown),
        cmocka_unit_test_setup_teardown(test_http_bad_answers, setup, teardown),
        cmocka_unit_test_setup_teardown(test_socks5_auth_vector, setup, teardown),
        cmocka_unit_test_setup_teardown(test_socks5_domain_no_auth, setup, teardown),
        cmocka_unit_test_setup_teardown(test_socks5_failures, setup, teardown),
        cmocka_unit_test_setup_teardown(test_cancel, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
