/* QUIC sessions on 127.0.0.1: a client and a listener of this module, several MB both
 * ways, server-opened streams, half-close, stream close (STOP_SENDING + FIN), session
 * close (CONNECTION_CLOSE 0), idle timeout, and garbage/truncated datagrams that must
 * not disturb an established connection. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "base/err.h"
#include "quic/quic_internal.h"

#define TO_CLIENT (3u * 1024 * 1024)
#define TO_SERVER (4u * 1024 * 1024)

static uint8_t pat(uint64_t i)
{
    return (uint8_t)(i % 251);
}

struct side {
    stream *st;
    uint64_t got;
    bool bad;
    bool eof;
    int err;
    uint64_t to_send_on_eof;
};

struct ctx {
    uv_loop_t loop;
    quic_listener *l;
    quic_session *cli, *srv;
    bool ready, cli_closed, srv_closed;
    int cli_status, srv_status;
    char cli_err[160], srv_err[160]; /* quic_session_error() at on_close */
    struct side c, s;
    bool server_opens;
    struct quic_config cfg;
};

static struct ctx *g;

static void write_pattern(stream *st, uint64_t n);

static void on_read(stream *st, ssize_t n, buf_ref data)
{
    struct side *sd = st->data;
    if (n < 0) {
        if (n == UV_EOF)
            sd->eof = true;
        else
            sd->err = (int)n;
        if (n == UV_EOF && sd->to_send_on_eof) {
            write_pattern(st, sd->to_send_on_eof);
            assert_int_equal(stream_shutdown(st), 0);
        }
        return;
    }
    for (ssize_t i = 0; i < n; i++)
        if ((uint8_t)data.base[i] != pat(sd->got + (uint64_t)i)) sd->bad = true;
    sd->got += (uint64_t)n;
    buf_ref_release(&data);
}

static void srv_accept(quic_session *sess, stream *st)
{
    g->s.st = st;
    st->data = &g->s;
    assert_int_equal(stream_read_start(st, on_read), 0);
}

static void cli_accept(quic_session *sess, stream *st)
{
    g->c.st = st;
    st->data = &g->c;
    assert_int_equal(stream_read_start(st, on_read), 0);
}

static void srv_closed(quic_session *sess, int status)
{
    g->srv_closed = true;
    g->srv_status = status;
    snprintf(g->srv_err, sizeof(g->srv_err), "%s", quic_session_error(sess));
    g->srv = NULL; /* freed once its streams are closed */
}

static void cli_closed(quic_session *sess, int status)
{
    g->cli_closed = true;
    g->cli_status = status;
    snprintf(g->cli_err, sizeof(g->cli_err), "%s", quic_session_error(sess));
    g->cli = NULL;
}

static void cli_ready(quic_session *sess)
{
    g->ready = true;
}

static void on_session(quic_listener *l, quic_session *sess, void *arg)
{
    g->srv = sess;
    struct quic_handlers h = {.on_accept = srv_accept, .on_close = srv_closed};
    quic_session_set_handlers(sess, &h);
    if (g->server_opens) {
        stream *st;
        assert_int_equal(quic_session_open(sess, &st), 0);
        assert_int_equal(quic_stream_id(st), 1);
        g->s.st = st;
        st->data = &g->s;
        assert_int_equal(stream_read_start(st, on_read), 0);
        assert_int_equal(stream_write_copy(st, "hello", 5, NULL, NULL), 0);
        assert_int_equal(stream_shutdown(st), 0);
    }
}

static void on_deadline(uv_timer_t *t)
{
    *(bool *)t->data = true;
}

/* Runs the loop until *flag or ms pass; returns *flag. */
static bool run_until(bool *flag, uint64_t ms)
{
    bool expired = false;
    uv_timer_t t;
    uv_timer_init(&g->loop, &t);
    t.data = &expired;
    uv_timer_start(&t, on_deadline, ms, 0);
    while (!*flag && !expired) uv_run(&g->loop, UV_RUN_ONCE);
    uv_close((uv_handle_t *)&t, NULL);
    uv_run(&g->loop, UV_RUN_NOWAIT);
    return *flag;
}

static void setup_pair(struct ctx *c)
{
    memset(c, 0, sizeof(*c));
    g = c;
    uv_loop_init(&c->loop);
    if (!c->cfg.max_idle_timeout_ms) quic_config_default(&c->cfg);
}

static void connect_pair(struct ctx *c)
{
    char err[256];
    assert_int_equal(quic_listen(&c->loop, "127.0.0.1", 0, NULL, &c->cfg, on_session, NULL,
                                 &c->l, err, sizeof(err)),
                     0);
    struct quic_handlers h = {.on_ready = cli_ready, .on_accept = cli_accept,
                              .on_close = cli_closed};
    assert_int_equal(quic_dial(&c->loop, "127.0.0.1", quic_listener_port(c->l), NULL, &c->cfg,
                               &h, &c->cli, err, sizeof(err)),
                     0);
    assert_true(run_until(&c->ready, 5000));
    bool have_srv = false;
    for (int i = 0; i < 50 && !c->srv; i++) run_until(&have_srv, 20);
    assert_non_null(c->srv);
}

static void teardown_pair(struct ctx *c)
{
    if (c->c.st) stream_close(c->c.st);
    if (c->s.st) stream_close(c->s.st);
    if (c->cli) quic_session_close(c->cli);
    run_until(&c->srv_closed, 3000);
    quic_listener_close(c->l);
    for (int i = 0; i < 10; i++) uv_run(&c->loop, UV_RUN_NOWAIT);
    uv_run(&c->loop, UV_RUN_DEFAULT);
    assert_int_equal(uv_loop_close(&c->loop), 0);
    buf_pool_drain();
}

static void write_pattern(stream *st, uint64_t n)
{
    for (uint64_t off = 0; off < n; off += 65536) {
        size_t len = n - off < 65536 ? (size_t)(n - off) : 65536;
        buf_chunk *ch = buf_chunk_alloc(len);
        for (size_t i = 0; i < len; i++) ch->data[i] = (char)pat(off + i);
        buf_ref r = buf_ref_make(ch, 0, len);
        assert_int_equal(stream_write(st, &r, 1, NULL, NULL), 0);
    }
}

static void test_bulk_both_ways(void **state)
{
    struct ctx c;
    setup_pair(&c);
    connect_pair(&c);
    c.s.to_send_on_eof = TO_CLIENT;
    stream *st;
    assert_int_equal(quic_session_open(c.cli, &st), 0);
    assert_int_equal(quic_stream_id(st), 0);
    assert_ptr_equal(quic_stream_session(st), c.cli);
    c.c.st = st;
    st->data = &c.c;
    assert_int_equal(stream_read_start(st, on_read), 0);
    write_pattern(st, TO_SERVER);
    assert_true(stream_queued(st) > 0);
    assert_int_equal(stream_shutdown(st), 0); /* half-close: FIN after the data */
    assert_true(run_until(&c.s.eof, 20000));
    assert_int_equal(c.s.got, TO_SERVER);
    assert_false(c.s.bad);
    assert_true(run_until(&c.c.eof, 20000));
    assert_int_equal(c.c.got, TO_CLIENT);
    assert_false(c.c.bad);
    assert_int_equal(stream_queued(st), 0);
    /* session close: the peer sees CONNECTION_CLOSE with application error 0 */
    stream_close(c.c.st);
    stream_close(c.s.st);
    c.c.st = c.s.st = NULL;
    quic_session_close(c.cli);
    assert_true(run_until(&c.srv_closed, 3000));
    assert_int_equal(c.srv_status, UV_EOF);
    assert_string_equal(c.srv_err, "Application error 0x0 (remote)");
    assert_true(run_until(&c.cli_closed, 3000));
    assert_int_equal(c.cli_status, 0);
    teardown_pair(&c);
}

static void test_server_opens_stream(void **state)
{
    struct ctx c;
    setup_pair(&c);
    c.server_opens = true;
    connect_pair(&c);
    assert_true(run_until(&c.c.eof, 5000));
    assert_int_equal(c.c.got, 5);
    assert_int_equal(quic_stream_id(c.c.st), 1);
    /* the client answers on the same stream; the server reads it and EOF */
    assert_int_equal(stream_write_copy(c.c.st, "world!", 6, NULL, NULL), 0);
    assert_int_equal(stream_shutdown(c.c.st), 0);
    assert_true(run_until(&c.s.eof, 5000));
    assert_int_equal(c.s.got, 6);
    teardown_pair(&c);
}

static void expect_epipe(stream *st, int status, void *arg)
{
    *(int *)arg = status;
}

static void test_stream_close_stop_sending(void **state)
{
    struct ctx c;
    setup_pair(&c);
    connect_pair(&c);
    stream *st;
    assert_int_equal(quic_session_open(c.cli, &st), 0);
    assert_int_equal(stream_write_copy(st, "xyz", 3, NULL, NULL), 0);
    stream_close(st); /* STOP_SENDING(0) + FIN */
    assert_true(run_until(&c.s.eof, 5000));
    assert_int_equal(c.s.got, 3);
    bool never = false;
    run_until(&never, 200);
    /* the peer asked us to stop sending: writes fail */
    int status = 1;
    int rc = stream_write_copy(c.s.st, "late", 4, expect_epipe, &status);
    if (rc == 0) {
        for (int i = 0; i < 50 && status == 1; i++) run_until(&never, 20);
        assert_int_equal(status, UV_EPIPE);
    } else {
        assert_int_equal(rc, UV_EPIPE);
    }
    assert_false(quic_session_is_closed(c.srv));
    teardown_pair(&c);
}

static void test_idle_timeout(void **state)
{
    struct ctx c;
    memset(&c, 0, sizeof(c));
    quic_config_default(&c.cfg);
    c.cfg.max_idle_timeout_ms = 600;
    c.cfg.keepalive_ms = 0;
    struct quic_config cfg = c.cfg;
    setup_pair(&c);
    c.cfg = cfg;
    connect_pair(&c);
    assert_true(run_until(&c.cli_closed, 8000));
    assert_int_equal(c.cli_status, CFRP_ETIMEOUT);
    assert_true(run_until(&c.srv_closed, 8000));
    assert_int_equal(c.srv_status, CFRP_ETIMEOUT);
    assert_string_equal(c.cli_err, "timeout: no recent network activity");
    teardown_pair(&c);
}

static void test_keepalive_keeps_idle_session(void **state)
{
    struct ctx c;
    memset(&c, 0, sizeof(c));
    quic_config_default(&c.cfg);
    c.cfg.max_idle_timeout_ms = 800;
    c.cfg.keepalive_ms = 200;
    struct quic_config cfg = c.cfg;
    setup_pair(&c);
    c.cfg = cfg;
    connect_pair(&c);
    bool never = false;
    run_until(&never, 2500);
    assert_false(c.cli_closed);
    assert_false(c.srv_closed);
    teardown_pair(&c);
}

static void send_raw(uv_loop_t *loop, int port, const uint8_t *data, size_t len)
{
    uv_udp_t u;
    uv_udp_init(loop, &u);
    struct sockaddr_in a;
    uv_ip4_addr("127.0.0.1", port, &a);
    uv_buf_t b = uv_buf_init((char *)data, (unsigned)len);
    assert_true(uv_udp_try_send(&u, &b, 1, (struct sockaddr *)&a) == (int)len);
    uv_close((uv_handle_t *)&u, NULL);
    uv_run(loop, UV_RUN_NOWAIT); /* u lives on this stack frame: finish its close */
}

static void test_garbage_datagrams(void **state)
{
    struct ctx c;
    setup_pair(&c);
    connect_pair(&c);
    int port = quic_listener_port(c.l);
    const ngtcp2_cid *dcid = ngtcp2_conn_get_dcid(c.cli->conn); /* the server's ID */
    uint8_t pkt[1300];
    /* plain garbage */
    for (size_t i = 0; i < sizeof(pkt); i++) pkt[i] = (uint8_t)(i * 37 + 11);
    send_raw(&c.loop, port, pkt, 100);
    send_raw(&c.loop, port, pkt, 1);
    /* a short-header packet with the live connection's ID and a garbage payload */
    pkt[0] = 0x41;
    memcpy(pkt + 1, dcid->data, dcid->datalen);
    send_raw(&c.loop, port, pkt, 1 + dcid->datalen + 40);
    /* truncated Initials: to the live connection and to a new ID */
    size_t n = 0;
    pkt[n++] = 0xc3;
    pkt[n++] = 0, pkt[n++] = 0, pkt[n++] = 0, pkt[n++] = 1;
    pkt[n++] = (uint8_t)dcid->datalen;
    memcpy(pkt + n, dcid->data, dcid->datalen);
    n += dcid->datalen;
    pkt[n++] = 0;    /* scid length */
    pkt[n++] = 0;    /* token length */
    pkt[n++] = 0x44; /* length 1200 (two-byte varint), far more than sent */
    pkt[n++] = 0xb0;
    send_raw(&c.loop, port, pkt, n + 20);
    pkt[6] ^= 0xff; /* unknown destination ID */
    send_raw(&c.loop, port, pkt, n + 20);
    /* a full-size Initial for a new ID whose payload cannot decrypt */
    send_raw(&c.loop, port, pkt, 1200);
    bool never = false;
    run_until(&never, 300);
    assert_false(c.cli_closed);
    assert_false(c.srv_closed);
    /* the established connection still carries streams */
    c.s.to_send_on_eof = 1000;
    stream *st;
    assert_int_equal(quic_session_open(c.cli, &st), 0);
    c.c.st = st;
    st->data = &c.c;
    assert_int_equal(stream_read_start(st, on_read), 0);
    write_pattern(st, 1000);
    assert_int_equal(stream_shutdown(st), 0);
    assert_true(run_until(&c.c.eof, 5000));
    assert_int_equal(c.c.got, 1000);
    assert_false(c.c.bad);
    teardown_pair(&c);
}

static void test_dial_nobody(void **state)
{
    struct ctx c;
    setup_pair(&c);
    c.cfg.handshake_timeout_ms = 500;
    /* a port with no listener: the handshake times out */
    uv_udp_t u;
    uv_udp_init(&c.loop, &u);
    struct sockaddr_in a;
    uv_ip4_addr("127.0.0.1", 0, &a);
    uv_udp_bind(&u, (struct sockaddr *)&a, 0);
    struct sockaddr_storage ss;
    int len = sizeof(ss);
    uv_udp_getsockname(&u, (struct sockaddr *)&ss, &len);
    int port = ntohs(((struct sockaddr_in *)&ss)->sin_port);
    char err[256];
    struct quic_handlers h = {.on_ready = cli_ready, .on_close = cli_closed};
    assert_int_equal(
        quic_dial(&c.loop, "127.0.0.1", port, NULL, &c.cfg, &h, &c.cli, err, sizeof(err)), 0);
    assert_true(run_until(&c.cli_closed, 8000));
    assert_int_equal(c.cli_status, CFRP_ETIMEOUT);
    assert_false(c.ready);
    uv_close((uv_handle_t *)&u, NULL);
    uv_run(&c.loop, UV_RUN_DEFAULT);
    assert_int_equal(uv_loop_close(&c.loop), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_bulk_both_ways),
        cmocka_unit_test(test_server_opens_stream),
        cmocka_unit_test(test_stream_close_stop_sending),
        cmocka_unit_test(test_idle_timeout),
        cmocka_unit_test(test_keepalive_keeps_idle_session),
        cmocka_unit_test(test_garbage_datagrams),
        cmocka_unit_test(test_dial_nobody),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
