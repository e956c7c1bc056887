/* Unit tests of kcp_conn on real UDP sockets on 127.0.0.1: a dialed and an accepted
 * session moving megabytes both ways at once; several dialers demultiplexed by the
 * listener; the session cap; malformed datagrams ignored; a new conv with sn 0 from the
 * same address replacing a session; name resolution in kcp_dial. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cmocka.h>
#include <uv.h>

#include "base/err.h"
#include "kcp/kcp_conn.h"

#define MAX_PEERS 4

static uint8_t pattern(int dir, size_t i)
{
    return (uint8_t)((i * 131 + (i >> 11) + (size_t)dir * 57) & 0xFF);
}

/* One end of a transfer: writes `total` bytes of its pattern, checks what it reads. */
typedef struct end {
    stream *s;
    int out_dir, in_dir;
    size_t total, sent, got;
    size_t max_queued;
    int read_status; /* last error read, 0 if none */
    bool writing;
} end;

static uv_loop_t loop;

static void end_write_more(end *e);

static void end_on_write(stream *s, int status, void *arg)
{
    end *e = arg;
    e->writing = false;
    if (status == 0) end_write_more(e);
}

static void end_write_more(end *e)
{
    size_t q = stream_queued(e->s);
    if (q > e->max_queued) e->max_queued = q;
    if (e->writing || e->sent >= e->total || q > 512 * 1024) return;
    size_t n = e->total - e->sent < 40000 ? e->total - e->sent : 40000;
    buf_chunk *c = buf_chunk_alloc(n);
    assert_non_null(c);
    for (size_t i = 0; i < n; i++)
        c->data[i] = (char)pattern(e->out_dir, e->sent + i);
    buf_ref r = buf_ref_make(c, 0, n);
    e->sent += n;
    e->writing = true;
    assert_int_equal(stream_write(e->s, &r, 1, end_on_write, e), 0);
}

static void end_on_read(stream *s, ssize_t nread, buf_ref data)
{
    end *e = s->data;
    if (nread < 0) {
        e->read_status = (int)nread;
        return;
    }
    for (ssize_t i = 0; i < nread && e->in_dir >= 0; i++) /* in_dir < 0: not checked */
        if ((uint8_t)data.base[i] != pattern(e->in_dir, e->got + (size_t)i))
            fail_msg("byte %zu differs", e->got + (size_t)i);
    e->got += (size_t)nread;
    buf_ref_release(&data);
}

/* Ends that write: the writer pauses while queued() is high and is polled again from
 * run_until (queued() falls as the peer acknowledges, with no callback). */
static end *writers[2 * MAX_PEERS + 2];
static int nwriters;

static void end_start(end *e, stream *s, int out_dir, int in_dir, size_t total)
{
    memset(e, 0, sizeof *e);
    if (total && nwriters < (int)(sizeof writers / sizeof writers[0])) writers[nwriters++] = e;
    e->s = s;
    e->out_dir = out_dir;
    e->in_dir = in_dir;
    e->total = total;
    s->data = e;
    assert_int_equal(stream_read_start(s, end_on_read), 0);
    end_write_more(e);
}

typedef struct server {
    kcp_listener *l;
    end ends[MAX_PEERS];
    int accepted;
    size_t total;
    bool nocheck; /* accepted ends do not check what they read */
} server;

static void on_accept(kcp_listener *l, stream *s, void *arg)
{
    server *sv = arg;
    assert_true(sv->accepted < MAX_PEERS);
    int k = sv->accepted++;
    end_start(&sv->ends[k], s, 100 + k, sv->nocheck ? -1 : k, sv->total);
}

static int closed_count;
static void count_close(stream *s)
{
    closed_count++;
}

static void on_wake(uv_timer_t *t) {}

/* Runs the loop until cond(arg) or about timeout_ms passed. */
static void run_until(bool (*cond)(void *), void *arg, int timeout_ms)
{
    uv_timer_t wake; /* keeps UV_RUN_ONCE from blocking when nothing else is armed */
    uv_timer_init(&loop, &wake);
    uv_timer_start(&wake, on_wake, 10, 10);
    uint64_t end_at = uv_now(&loop) + (uint64_t)timeout_ms;
    while (!cond(arg) && uv_now(&loop) < end_at) {
        uv_run(&loop, UV_RUN_ONCE);
        for (int i = 0; i < nwriters; i++)
            end_write_more(writers[i]);
    }
    uv_close((uv_handle_t *)&wake, NULL);
    uv_run(&loop, UV_RUN_NOWAIT);
}

static void close_and_drain(stream **ss, int n, server *sv)
{
    closed_count = 0;
    nwriters = 0;
    for (int i = 0; i < n; i++) {
        ss[i]->on_close = count_close;
        stream_close(ss[i]);
    }
    for (int i = 0; i < sv->accepted; i++) {
        sv->ends[i].s->on_close = count_close;
        stream_close(sv->ends[i].s);
    }
    kcp_listener_close(sv->l);
    while (uv_run(&loop, UV_RUN_NOWAIT)) {
    }
    assert_int_equal(closed_count, n + sv->accepted);
}

static int listen_any(server *sv, const struct kcp_options *o)
{
    char err[128];
    assert_int_equal(kcp_listen(&loop, "127.0.0.1", 0, o, on_accept, sv, &sv->l, err, sizeof err),
                     0);
    return kcp_listener_port(sv->l);
}

static void addr_of(int port, struct sockaddr_in *a)
{
    assert_int_equal(uv_ip4_addr("127.0.0.1", port, a), 0);
}

typedef struct xfer {
    end *cl;
    server *sv;
    int n;
} xfer;

static bool xfer_done(void *arg)
{
    xfer *x = arg;
    if (x->sv->accepted < x->n) return false;
    for (int i = 0; i < x->n; i++)
        if (x->cl[i].got < x->cl[i].total || x->sv->ends[i].got < x->sv->ends[i].total)
            return false;
    return true;
}

static void test_transfer_both_ways(void **state)
{
    static server sv;
    memset(&sv, 0, sizeof sv);
    sv.total = 3 * 1024 * 1024;
    struct sockaddr_in a;
    addr_of(listen_any(&sv, NULL), &a);
    stream *c;
    struct kcp_options big = {.snd_wnd = KCP_WND_MAX + 1};
    assert_int_equal(kcp_dial_addr(&loop, (struct sockaddr *)&a, &big, &c), CFRP_EINVAL);
    assert_int_equal(kcp_dial_addr(&loop, (struct sockaddr *)&a, NULL, &c), 0);
    static end ce;
    end_start(&ce, c, 0, 100, sv.total);
    xfer x = {&ce, &sv, 1};
    run_until(xfer_done, &x, 60000);
    assert_int_equal(sv.accepted, 1);
    assert_int_equal(sv.ends[0].got, sv.total);
    assert_int_equal(ce.got, sv.total);
    /* backpressure: the queue stays near the writer's threshold, not the whole 3 MB */
    assert_true(ce.max_queued < 1024 * 1024);
    struct sockaddr_storage p1, p2;
    assert_int_equal(sv.ends[0].s->ops->peer_addr(sv.ends[0].s, &p1), 0);
    assert_int_equal(c->ops->local_addr(c, &p2), 0);
    assert_int_equal(((struct sockaddr_in *)&p1)->sin_port, ((struct sockaddr_in *)&p2)->sin_port);
    assert_int_equal(stream_shutdown(c), UV_ENOTSUP);
    close_and_drain(&c, 1, &sv);
}

typedef struct many {
    end *cl;
    server *sv;
} many;

static bool many_done(void *arg)
{
    many *m = arg;
    int full = 0;
    for (int i = 0; i < MAX_PEERS; i++)
        full += m->cl[i].got == m->sv->total;
    for (int k = 0; k < m->sv->accepted; k++)
        if (m->sv->ends[k].got < m->sv->total) return false;
    return full == 3 && m->sv->accepted == 3;
}

static void test_many_dialers_and_cap(void **state)
{
    static server sv;
    memset(&sv, 0, sizeof sv);
    sv.total = 200 * 1024;
    sv.nocheck = true;
    struct kcp_options o = {.max_sessions = 3};
    struct sockaddr_in a;
    addr_of(listen_any(&sv, &o), &a);
    static end ce[MAX_PEERS];
    stream *c[MAX_PEERS];
    for (int i = 0; i < MAX_PEERS; i++) {
        assert_int_equal(kcp_dial_addr(&loop, (struct sockaddr *)&a, NULL, &c[i]), 0);
        /* client i writes pattern i; the server's end k answers with 100 + k */
        memset(&ce[i], 0, sizeof ce[i]);
    }
    for (int i = 0; i < MAX_PEERS; i++)
        end_start(&ce[i], c[i], i, -1, sv.total);
    many m = {ce, &sv};
    /* the accept order decides which pattern each end reads: map it, then check */
    run_until(many_done, &m, 200);
    assert_int_equal(sv.accepted, 3);
    for (int k = 0; k < 3; k++) {
        struct sockaddr_storage peer, local;
        assert_int_equal(sv.ends[k].s->ops->peer_addr(sv.ends[k].s, &peer), 0);
        for (int i = 0; i < MAX_PEERS; i++) {
            assert_int_equal(c[i]->ops->local_addr(c[i], &local), 0);
            if (((struct sockaddr_in *)&peer)->sin_port ==
                ((struct sockaddr_in *)&local)->sin_port) {
                sv.ends[k].in_dir = i;
                ce[i].in_dir = 100 + k;
            }
        }
    }
    run_until(many_done, &m, 60000);
    int full = 0;
    for (int i = 0; i < MAX_PEERS; i++)
        full += ce[i].got == sv.total;
    assert_int_equal(full, 3); /* the fourth got no session */
    for (int k = 0; k < 3; k++)
        assert_int_equal(sv.ends[k].got, sv.total);
    close_and_drain(c, MAX_PEERS, &sv);
}

/* ---- hand-made datagrams from a plain UDP socket ---- */

static void put32(uint8_t *p, uint32_t v)
{
    for (int i = 0; i < 4; i++)
        p[i] = (uint8_t)(v >> (8 * i));
}

/* A FEC data shard with one KCP PUSH segment. */
static size_t make_push(uint8_t *p, uint32_t seqid, uint32_t conv, uint32_t sn, const char *txt)
{
    size_t n = strlen(txt);
    memset(p, 0, 8 + 24);
    put32(p, seqid);
    p[4] = 0xF1;
    p[6] = (uint8_t)(2 + 24 + n);
    put32(p + 8, conv);
    p[12] = 81;
    p[14] = 0; /* wnd 1024 */
    p[15] = 4;
    put32(p + 20, sn);
    put32(p + 28, (uint32_t)n);
    memcpy(p + 32, txt, n);
    return 32 + n;
}

static bool two_accepted(void *arg)
{
    return ((server *)arg)->accepted >= 2 && ((server *)arg)->ends[1].got >= 5;
}

static bool three_accepted(void *arg)
{
    return ((server *)arg)->accepted >= 3 && ((server *)arg)->ends[2].got >= 5;
}

static bool first_read(void *arg)
{
    return ((server *)arg)->accepted >= 1 && ((server *)arg)->ends[0].got >= 5;
}

static void test_raw_datagrams(void **state)
{
    static server sv;
    memset(&sv, 0, sizeof sv);
    struct sockaddr_in a;
    addr_of(listen_any(&sv, NULL), &a);
    int fd = socket(AF_INET, SOCK_DGRAM, 0);
    assert_true(fd >= 0);
    /* junk: too short, parity only, data shard too short for a KCP header, bad cmd */
    uint8_t p[2000] = {0};
    sendto(fd, p, 5, 0, (struct sockaddr *)&a, sizeof a);
    p[4] = 0xF2;
    sendto(fd, p, 100, 0, (struct sockaddr *)&a, sizeof a);
    p[4] = 0xF1;
    sendto(fd, p, 20, 0, (struct sockaddr *)&a, sizeof a);
    sendto(fd, p, sizeof p, 0, (struct sockaddr *)&a, sizeof a); /* > 1500 bytes */
    run_until(first_read, &sv, 300);
    assert_int_equal(sv.accepted, 0);

    /* a PUSH with conv 11 is accepted and its 5 bytes read */
    sv.nocheck = true;
    size_t n = make_push(p, 0, 11, 0, "hello");
    assert_int_equal(sendto(fd, p, n, 0, (struct sockaddr *)&a, sizeof a), (ssize_t)n);
    run_until(first_read, &sv, 300);
    assert_int_equal(sv.accepted, 1);
    assert_int_equal(sv.ends[0].got, 5);
    /* the same address with conv 12 and sn 0 replaces the session */
    n = make_push(p, 1, 12, 0, "world");
    sendto(fd, p, n, 0, (struct sockaddr *)&a, sizeof a);
    run_until(two_accepted, &sv, 300);
    assert_int_equal(sv.accepted, 2);
    assert_int_equal(sv.ends[0].read_status, CFRP_ECLOSED);
    /* the new session answers with an ACK (FEC data shard, conv 12, cmd 82, una 1) */
    uint8_t r[2000];
    bool acked = false;
    for (int i = 0; i < 20 && !acked; i++) {
        run_until(first_read, &sv, 30);
        ssize_t got;
        while ((got = recv(fd, r, sizeof r, MSG_DONTWAIT)) > 0)
            if (got >= 32 && r[4] == 0xF1 && r[8] == 12 && r[12] == 82 && r[24] == 1) acked = true;
    }
    assert_true(acked);
    close(fd);
    /* a bare KCP packet (no FEC header) from another address starts a session too */
    fd = socket(AF_INET, SOCK_DGRAM, 0);
    assert_true(fd >= 0);
    n = make_push(p, 0, 13, 0, "bare!");
    sendto(fd, p + 8, n - 8, 0, (struct sockaddr *)&a, sizeof a);
    run_until(three_accepted, &sv, 300);
    assert_int_equal(sv.accepted, 3);
    assert_int_equal(sv.ends[2].got, 5);
    close(fd);
    close_and_drain(NULL, 0, &sv);
}

typedef struct dial_res {
    bool done;
    int status;
    stream *s;
    char err[256];
} dial_res;

static void on_dialed(stream *s, int status, const char *err, void *arg)
{
    dial_res *d = arg;
    d->done = true;
    d->status = status;
    d->s = s;
    if (err) snprintf(d->err, sizeof d->err, "%s", err);
}

static bool dialed(void *arg)
{
    return ((dial_res *)arg)->done;
}

static bool one_read(void *arg)
{
    xfer *x = arg;
    return x->sv->accepted == 1 && x->sv->ends[0].got == x->sv->total && x->cl->got == x->cl->total;
}

static void test_dial_by_name(void **state)
{
    static server sv;
    memset(&sv, 0, sizeof sv);
    sv.total = 10000;
    int port = listen_any(&sv, NULL);
    dial_res d = {0};
    assert_int_equal(kcp_dial(&loop, "localhost", port, NULL, on_dialed, &d, NULL), 0);
    assert_false(d.done);
    run_until(dialed, &d, 5000);
    assert_int_equal(d.status, 0);
    static end ce;
    end_start(&ce, d.s, 0, 100, 10000);
    xfer x = {&ce, &sv, 1};
    run_until(one_read, &x, 10000);
    assert_int_equal(sv.ends[0].got, 10000);
    assert_int_equal(ce.got, 10000);
    close_and_drain(&d.s, 1, &sv);

    dial_res bad = {0};
    assert_int_equal(kcp_dial(&loop, "nosuch.invalid", 7000, NULL, on_dialed, &bad, NULL), 0);
    run_until(dialed, &bad, 10000);
    assert_int_equal(bad.status, CFRP_ENOTFOUND);
    assert_null(bad.s);
    assert_string_equal(bad.err, "dial udp: lookup nosuch.invalid: no such host");
}

/* ---- a lossy UDP relay between a dialer and the listener ---- */

typedef struct relay {
    uv_udp_t front, back; /* front faces the dialer, back the listener */
    struct sockaddr_in client, server;
    bool have_client;
    uint32_t rnd;
    int drop_pct;
    int dropped, passed;
    uint8_t buf[2048];
} relay;

static void relay_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *b)
{
    relay *r = h->data;
    *b = uv_buf_init((char *)r->buf, sizeof r->buf);
}

static bool relay_drop(relay *r)
{
    r->rnd = r->rnd * 1103515245u + 12345u;
    if ((int)((r->rnd >> 8) % 100) < r->drop_pct) {
        r->dropped++;
        return true;
    }
    r->passed++;
    return false;
}

static void relay_front(uv_udp_t *u, ssize_t n, const uv_buf_t *b, const struct sockaddr *from,
                        unsigned flags)
{
    relay *r = u->data;
    if (n <= 0 || !from) return;
    memcpy(&r->client, from, sizeof r->client);
    r->have_client = true;
    if (relay_drop(r)) return;
    uv_buf_t out = uv_buf_init(b->base, (unsigned)n);
    uv_udp_try_send(&r->back, &out, 1, (struct sockaddr *)&r->server);
}

static void relay_back(uv_udp_t *u, ssize_t n, const uv_buf_t *b, const struct sockaddr *from,
                       unsigned flags)
{
    relay *r = u->data;
    if (n <= 0 || !from || !r->have_client || relay_drop(r)) return;
    uv_buf_t out = uv_buf_init(b->base, (unsigned)n);
    uv_udp_try_send(&r->front, &out, 1, (struct sockaddr *)&r->client);
}

/* Starts r towards server_port; returns the port the dialer should use. */
static int relay_start(relay *r, int server_port, int drop_pct)
{
    memset(r, 0, sizeof *r);
    r->rnd = 99;
    r->drop_pct = drop_pct;
    addr_of(server_port, &r->server);
    struct sockaddr_in any;
    addr_of(0, &any);
    uv_udp_init(&loop, &r->front);
    uv_udp_init(&loop, &r->back);
    r->front.data = r->back.data = r;
    assert_int_equal(uv_udp_bind(&r->front, (struct sockaddr *)&any, 0), 0);
    assert_int_equal(uv_udp_bind(&r->back, (struct sockaddr *)&any, 0), 0);
    assert_int_equal(uv_udp_recv_start(&r->front, relay_alloc, relay_front), 0);
    assert_int_equal(uv_udp_recv_start(&r->back, relay_alloc, relay_back), 0);
    struct sockaddr_in me;
    int len = sizeof me;
    assert_int_equal(uv_udp_getsockname(&r->front, (struct sockaddr *)&me, &len), 0);
    return ntohs(me.sin_port);
}

static void relay_stop(relay *r)
{
    uv_close((uv_handle_t *)&r->front, NULL);
    uv_close((uv_handle_t *)&r->back, NULL);
}

static void test_transfer_with_loss(void **state)
{
    static server sv;
    static relay r;
    memset(&sv, 0, sizeof sv);
    sv.total = 1024 * 1024;
    struct sockaddr_in a;
    addr_of(relay_start(&r, listen_any(&sv, NULL), 10), &a);
    stream *c;
    assert_int_equal(kcp_dial_addr(&loop, (struct sockaddr *)&a, NULL, &c), 0);
    static end ce;
    end_start(&ce, c, 0, 100, sv.total);
    xfer x = {&ce, &sv, 1};
    run_until(xfer_done, &x, 60000);
    assert_int_equal(sv.accepted, 1);
    assert_int_equal(sv.ends[0].got, sv.total);
    assert_int_equal(ce.got, sv.total);
    assert_true(r.dropped > 50); /* the relay really lost datagrams */
    relay_stop(&r);
    close_and_drain(&c, 1, &sv);
}

static bool never(void *arg)
{
    return false;
}

static bool server_got_all(void *arg)
{
    server *sv = arg;
    return sv->ends[0].got == sv->total;
}

static bool got_some(void *arg)
{
    server *sv = arg;
    return sv->accepted == 1 && sv->ends[0].got > 0;
}

/* A reader that stops: the receive window closes, the writer's queue stops draining
 * (bounded by the writer's own threshold), and everything arrives once reading resumes. */
static void test_read_backpressure(void **state)
{
    static server sv;
    memset(&sv, 0, sizeof sv);
    struct sockaddr_in a;
    addr_of(listen_any(&sv, NULL), &a);
    stream *c;
    assert_int_equal(kcp_dial_addr(&loop, (struct sockaddr *)&a, NULL, &c), 0);
    static end ce;
    size_t total = 8 * 1024 * 1024;
    end_start(&ce, c, 0, -1, total);
    run_until(got_some, &sv, 5000);
    assert_int_equal(stream_read_stop(sv.ends[0].s), 0);
    size_t before = sv.ends[0].got;
    run_until(never, NULL, 1500);
    size_t sent_at_stop = ce.sent;
    run_until(never, NULL, 1000);
    assert_true(sv.ends[0].got == before); /* nothing delivered while stopped */
    assert_true(ce.sent == sent_at_stop);  /* the writer is held back */
    assert_true(ce.sent < total);
    assert_true(stream_queued(c) > 0);
    sv.total = total;
    assert_int_equal(stream_read_start(sv.ends[0].s, end_on_read), 0);
    run_until(server_got_all, &sv, 60000);
    assert_int_equal(sv.ends[0].got, total);
    close_and_drain(&c, 1, &sv);
}

static int setup(void **state)
{
    return uv_loop_init(&loop);
}

static int teardown(void **state)
{
    while (uv_run(&loop, UV_RUN_NOWAIT)) {
    }
    int rc = uv_loop_close(&loop);
    buf_pool_drain();
    return rc;
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_transfer_both_ways), cmocka_unit_test(test_many_dialers_and_cap),
        cmocka_unit_test(test_raw_datagrams),      cmocka_unit_test(test_dial_by_name),
        cmocka_unit_test(test_transfer_with_loss), cmocka_unit_test(test_read_backpressure),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
