/* Unit tests for net/tcp and net/dial on real sockets (127.0.0.1, ephemeral ports):
 * echo round trip, Go error texts for refused/conflict/timeout/lookup, dual stack,
 * cancel. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>
#include <arpa/inet.h>
#include <sys/socket.h>
#include <unistd.h>
#include <uv.h>

#include "base/err.h"
#include "net/dial.h"
#include "net/tcp.h"

typedef struct {
    uv_loop_t loop;
    tcp_listener *l;
    int accepted;
    stream *client;
    int dial_status, dial_calls;
    char dial_err[512];
    char got[1 << 16];
    size_t got_len;
    int client_eof, closed;
} ctx;

static void on_close_count(stream *s)
{
    ctx *c = s->data;
    c->closed++;
}

/* Server side: echo everything, close on EOF. */
static void echo_read(stream *s, ssize_t n, buf_ref d)
{
    if (n > 0) {
        assert_int_equal(stream_write(s, &d, 1, NULL, NULL), 0);
        return;
    }
    stream_close(s);
}

static void on_accept(tcp_listener *l, stream *s, void *arg)
{
    ctx *c = arg;
    c->accepted++;
    s->data = c;
    s->on_close = on_close_count;
    struct sockaddr_storage peer;
    assert_int_equal(s->ops->peer_addr(s, &peer), 0);
    assert_int_equal(stream_read_start(s, echo_read), 0);
}

static void client_read(stream *s, ssize_t n, buf_ref d)
{
    ctx *c = s->data;
    if (n > 0) {
        assert_true(c->got_len + d.len <= sizeof c->got);
        memcpy(c->got + c->got_len, d.base, d.len);
        c->got_len += d.len;
    } else if (n == UV_EOF) {
        c->client_eof++;
    }
    buf_ref_release(&d);
}

static void on_dial(stream *s, int status, const char *err, void *arg)
{
    ctx *c = arg;
    c->dial_calls++;
    c->dial_status = status;
    c->client = s;
    snprintf(c->dial_err, sizeof c->dial_err, "%s", err ? err : "");
}

static void run_until(ctx *c, int *flag, int want)
{
    uint64_t deadline = uv_hrtime() + 5000000000ull;
    while (*flag < want && uv_hrtime() < deadline) uv_run(&c->loop, UV_RUN_ONCE);
    assert_true(*flag >= want);
}

static void finish(ctx *c)
{
    if (c->l) tcp_listener_close(c->l);
    assert_int_equal(uv_run(&c->loop, UV_RUN_DEFAULT), 0);
    assert_int_equal(uv_loop_close(&c->loop), 0);
    buf_pool_drain();
}

static void echo_via(const char *listen_host, const char *dial_host)
{
    static ctx c;
    memset(&c, 0, sizeof c);
    uv_loop_init(&c.loop);
    char err[256] = "";
    int rc = tcp_listen(&c.loop, listen_host, 0, 16, NULL, on_accept, &c, &c.l, err, sizeof err);
    assert_int_equal(rc, 0);
    int port = tcp_listener_port(c.l);
    assert_true(port > 0);
    struct dial_options o = {.timeout_ms = 3000, .tcp = {.nodelay = true, .keepalive_secs = 30}};
    assert_int_equal(dial_tcp(&c.loop, dial_host, port, &o, on_dial, &c, NULL), 0);
    assert_int_equal(c.dial_calls, 0); /* never inside dial_tcp */
    run_until(&c, &c.dial_calls, 1);
    assert_int_equal(c.dial_status, 0);
    assert_non_null(c.client);
    assert_string_equal(c.client->ops->name, "tcp");
    c.client->data = &c;
    c.client->on_close = on_close_count;
    assert_int_equal(stream_read_start(c.client, client_read), 0);
    char msg[40000];
    for (size_t i = 0; i < sizeof msg; i++) msg[i] = (char)(i * 7);
    assert_int_equal(stream_write_copy(c.client, msg, sizeof msg, NULL, NULL), 0);
    assert_int_equal(stream_write_copy(c.client, "tail", 4, NULL, NULL), 0);
    assert_int_equal(stream_shutdown(c.client), 0);
    run_until(&c, &c.client_eof, 1);
    assert_int_equal(c.got_len, sizeof msg + 4);
    assert_memory_equal(c.got, msg, sizeof msg);
    assert_memory_equal(c.got + sizeof msg, "tail", 4);
    assert_int_equal(stream_queued(c.client), 0);
    assert_int_equal(c.accepted, 1);
    stream_close(c.client);
    finish(&c);
    assert_int_equal(c.closed, 2);
}

static void test_echo_ipv4(void **state)
{
    echo_via("127.0.0.1", "127.0.0.1");
}

static void test_echo_dual_stack_wildcard(void **state)
{
    echo_via("0.0.0.0", "127.0.0.1");
    /* The wildcard listener is dual-stack like Go's; skip if this host lacks ::1. */
    uv_loop_t probe;
    uv_loop_init(&probe);
    tcp_listener *l;
    char err[256];
    bool v6 = tcp_listen(&probe, "::1", 0, 1, NULL, on_accept, NULL, &l, err, sizeof err) == 0;
    if (v6) tcp_listener_close(l);
    uv_run(&probe, UV_RUN_DEFAULT);
    uv_loop_close(&probe);
    if (v6) echo_via("", "::1");
}

static void test_echo_hostname(void **state)
{
    echo_via("127.0.0.1", "localhost");
}

static void test_dial_refused_text(void **state)
{
    static ctx c;
    memset(&c, 0, sizeof c);
    uv_loop_init(&c.loop);
    char err[256];
    assert_int_equal(tcp_listen(&c.loop, "127.0.0.1", 0, 1, NULL, on_accept, &c, &c.l, err,
                                sizeof err), 0);
    int port = tcp_listener_port(c.l);
    tcp_listener_close(c.l);
    c.l = NULL;
    uv_run(&c.loop, UV_RUN_DEFAULT);
    assert_int_equal(dial_tcp(&c.loop, "127.0.0.1", port, NULL, on_dial, &c, NULL), 0);
    run_until(&c, &c.dial_calls, 1);
    assert_int_equal(c.dial_status, UV_ECONNREFUSED);
    assert_null(c.client);
    char want[128];
    snprintf(want, sizeof want, "dial tcp 127.0.0.1:%d: connect: connection refused", port);
    assert_string_equal(c.dial_err, want);
    finish(&c);
}

static void test_listen_conflict_text(void **state)
{
    static ctx c;
    memset(&c, 0, sizeof c);
    uv_loop_init(&c.loop);
    char err[256] = "";
    assert_int_equal(tcp_listen(&c.loop, "0.0.0.0", 0, 1, NULL, on_accept, &c, &c.l, err,
                                sizeof err), 0);
    int port = tcp_listener_port(c.l);
    tcp_listener *l2 = NULL;
    int rc = tcp_listen(&c.loop, "0.0.0.0", port, 1, NULL, on_accept, &c, &l2, err, sizeof err);
    assert_int_equal(rc, UV_EADDRINUSE);
    assert_null(l2);
    char want[128];
    snprintf(want, sizeof want, "listen tcp 0.0.0.0:%d: bind: address already in use", port);
    assert_string_equal(err, want);
    rc = tcp_listen(&c.loop, "127.0.0.1", port, 1, NULL, on_accept, &c, &l2, err, sizeof err);
    assert_int_equal(rc, UV_EADDRINUSE);
    snprintf(want, sizeof want, "listen tcp 127.0.0.1:%d: bind: address already in use", port);
    assert_string_equal(err, want);
    rc = tcp_listen(&c.loop, "127.0.0.1", 70000, 1, NULL, on_accept, &c, &l2, err, sizeof err);
    assert_int_equal(rc, CFRP_EINVAL);
    finish(&c);
}

/* A listener whose accept queue is full drops new SYNs, so a dial to it hangs. */
static void test_dial_timeout(void **state)
{
    static ctx c;
    memset(&c, 0, sizeof c);
    uv_loop_init(&c.loop);
    int lfd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a;
    uv_ip4_addr("127.0.0.1", 0, &a);
    assert_int_equal(bind(lfd, (struct sockaddr *)&a, sizeof a), 0);
    assert_int_equal(listen(lfd, 0), 0);
    socklen_t alen = sizeof a;
    getsockname(lfd, (struct sockaddr *)&a, &alen);
    int port = ntohs(a.sin_port);
    int fillers[4];
    for (int i = 0; i < 4; i++) {
        fillers[i] = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
        connect(fillers[i], (struct sockaddr *)&a, sizeof a);
    }
    usleep(100000);
    struct dial_options o = {.timeout_ms = 300};
    uint64_t t0 = uv_hrtime();
    assert_int_equal(dial_tcp(&c.loop, "127.0.0.1", port, &o, on_dial, &c, NULL), 0);
    run_until(&c, &c.dial_calls, 1);
    uint64_t ms = (uv_hrtime() - t0) / 1000000;
    assert_null(c.client);
    assert_int_equal(c.dial_status, CFRP_ETIMEOUT);
    char want[128];
    snprintf(want, sizeof want, "dial tcp 127.0.0.1:%d: i/o timeout", port);
    assert_string_equal(c.dial_err, want);
    assert_true(ms >= 250 && ms < 2000);
    finish(&c);
    for (int i = 0; i < 4; i++) close(fillers[i]);
    close(lfd);
}

static void test_dial_unknown_host(void **state)
{
    static ctx c;
    memset(&c, 0, sizeof c);
    uv_loop_init(&c.loop);
    struct dial_options o = {.timeout_ms = 4000};
    assert_int_equal(dial_tcp(&c.loop, "nosuch.invalid", 80, &o, on_dial, &c, NULL), 0);
    run_until(&c, &c.dial_calls, 1);
    assert_true(c.dial_status < 0);
    assert_null(c.client);
    assert_true(strncmp(c.dial_err, "dial tcp: lookup nosuch.invalid: ", 33) == 0);
    finish(&c);
}

static void test_dial_cancel(void **state)
{
    static ctx c;
    memset(&c, 0, sizeof c);
    uv_loop_init(&c.loop);
    char err[256];
    assert_int_equal(tcp_listen(&c.loop, "127.0.0.1", 0, 1, NULL, on_accept, &c, &c.l, err,
                                sizeof err), 0);
    dial_req *r;
    /* Cancel before it started, and cancel while connecting. */
    assert_int_equal(dial_tcp(&c.loop, "127.0.0.1", tcp_listener_port(c.l), NULL, on_dial, &c, &r), 0);
    dial_cancel(r);
    assert_int_equal(dial_tcp(&c.loop, "localhost", tcp_listener_port(c.l), NULL, on_dial, &c, &r), 0);
    uv_run(&c.loop, UV_RUN_NOWAIT);
    dial_cancel(r);
    for (int i = 0; i < 20; i++) uv_run(&c.loop, UV_RUN_NOWAIT);
    assert_int_equal(c.dial_calls, 0);
    finish(&c);
}

static void test_strings(void **state)
{
    char b[64];
    tcp_join_host_port(b, sizeof b, "::1", 80);
    assert_string_equal(b, "[::1]:80");
    tcp_join_host_port(b, sizeof b, "", 7000);
    assert_string_equal(b, ":7000");
    tcp_strerror(UV_ECONNREFUSED, b, sizeof b);
    assert_string_equal(b, "connection refused");
    tcp_strerror(UV_EADDRNOTAVAIL, b, sizeof b);
    assert_string_equal(b, "cannot assign requested address");
    struct sockaddr_in6 a6;
    uv_ip6_addr("::ffff:1.2.3.4", 5, &a6);
    tcp_format_addr(b, sizeof b, (struct sockaddr *)&a6);
    assert_string_equal(b, "1.2.3.4:5");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_strings),
        cmocka_unit_test(test_echo_ipv4),
        cmocka_unit_test(test_echo_dual_stack_wildcard),
        cmocka_unit_test(test_echo_hostname),
        cmocka_unit_test(test_dial_refused_text),
        cmocka_unit_test(test_listen_conflict_text),
        cmocka_unit_test(test_dial_timeout),
        cmocka_unit_test(test_dial_unknown_host),
        cmocka_unit_test(test_dial_cancel),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
