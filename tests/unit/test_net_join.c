/* Unit tests for net/join: 64 MiB each way over real TCP with byte checks and bounded
 * queues, frp's close-on-first-EOF mode, half-close propagation, and abort during a
 * transfer (ASan checks that everything is freed). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>
#include <uv.h>

#include "base/err.h"
#include "net/dial.h"
#include "net/join.h"
#include "net/pipe.h"
#include "net/tcp.h"

#define SEND_WINDOW (1024 * 1024)

/* One end the test talks through: sends `to_send` pattern bytes then shuts down (if
 * shut_after), and checks every received byte against the peer's pattern. */
typedef struct ep {
    stream *s;
    int dir; /* pattern of what this end sends */
    uint64_t to_send, sent, recvd;
    bool shut_after, shut, bad;
    int eof, err, closed;
    uv_timer_t delay;
} ep;

static uint8_t pat(int dir, uint64_t i)
{
    return (uint8_t)(((i * 0x9E3779B1u) >> 11) + (uint64_t)dir * 101u + (i >> 20));
}

static void ep_pump(ep *e);

static void ep_on_sent(stream *s, int status, void *arg)
{
    ep *e = arg;
    if (status == 0 && !e->closed) ep_pump(e);
}

static void ep_pump(ep *e)
{
    while (e->sent < e->to_send && stream_queued(e->s) < SEND_WINDOW) {
        buf_chunk *c = buf_chunk_alloc(0);
        size_t n = BUF_CHUNK_SIZE;
        if (e->to_send - e->sent < n) n = (size_t)(e->to_send - e->sent);
        for (size_t k = 0; k < n; k++) c->data[k] = (char)pat(e->dir, e->sent + k);
        e->sent += n;
        buf_ref r = buf_ref_make(c, 0, n);
        if (stream_write(e->s, &r, 1, ep_on_sent, e) != 0) return;
    }
    if (e->sent == e->to_send && e->shut_after && !e->shut) {
        e->shut = true;
        assert_int_equal(stream_shutdown(e->s), 0);
    }
}

static void ep_read(stream *s, ssize_t n, buf_ref d)
{
    ep *e = s->data;
    if (n > 0) {
        for (size_t k = 0; k < d.len; k++)
            if ((uint8_t)d.base[k] != pat(1 - e->dir, e->recvd + k)) e->bad = true;
        e->recvd += d.len;
    } else if (n == UV_EOF) {
        e->eof++;
    } else {
        e->err = (int)n;
    }
    buf_ref_release(&d);
}

static void ep_closed(stream *s)
{
    ((ep *)s->data)->closed++;
}

static void ep_start_reading(uv_timer_t *t)
{
    ep *e = t->data;
    assert_int_equal(stream_read_start(e->s, ep_read), 0);
}

static void ep_init(ep *e, stream *s, int dir)
{
    e->s = s;
    e->dir = dir;
    s->data = e;
    s->on_close = ep_closed;
}

typedef struct {
    uv_loop_t loop;
    stream *accepted[2];
    int naccepted;
    stream *dialed[2];
    int ndialed;
    int done;
    struct join_result res;
    join *j;
} env;

static void on_accept(tcp_listener *l, stream *s, void *arg)
{
    env *v = arg;
    v->accepted[v->naccepted++] = s;
}

static void on_dial(stream *s, int status, const char *err, void *arg)
{
    env *v = arg;
    assert_int_equal(status, 0);
    v->dialed[v->ndialed++] = s;
}

static void on_join_done(const struct join_result *res, void *arg)
{
    env *v = arg;
    v->res = *res;
    v->done++;
}

static void run_until(uv_loop_t *loop, bool (*cond)(void *), void *arg, unsigned secs)
{
    uint64_t deadline = uv_hrtime() + secs * 1000000000ull;
    while (!cond(arg) && uv_hrtime() < deadline) uv_run(loop, UV_RUN_ONCE);
    assert_true(cond(arg));
}

static bool connected(void *arg)
{
    env *v = arg;
    return v->naccepted == 2 && v->ndialed == 2;
}

typedef struct {
    env *v;
    ep *a, *b;
} both;

static bool transfer_done(void *arg)
{
    both *t = arg;
    return t->a->eof && t->b->eof && t->v->done;
}

/* Two TCP connections: client0 -> L1 (accepted0) and client1 -> L2 (accepted1). The
 * join pumps accepted0 <-> client1; the test talks through client0 and accepted1. */
static void test_join_64mib_both_ways_tcp(void **state)
{
    static env v;
    memset(&v, 0, sizeof v);
    char err[256];
    uv_loop_init(&v.loop);
    tcp_listener *l1, *l2;
    assert_int_equal(tcp_listen(&v.loop, "127.0.0.1", 0, 8, NULL, on_accept, &v, &l1, err, sizeof err), 0);
    assert_int_equal(dial_tcp(&v.loop, "127.0.0.1", tcp_listener_port(l1), NULL, on_dial, &v, NULL), 0);
    while (v.naccepted < 1 || v.ndialed < 1) uv_run(&v.loop, UV_RUN_ONCE);
    assert_int_equal(tcp_listen(&v.loop, "127.0.0.1", 0, 8, NULL, on_accept, &v, &l2, err, sizeof err), 0);
    assert_int_equal(dial_tcp(&v.loop, "127.0.0.1", tcp_listener_port(l2), NULL, on_dial, &v, NULL), 0);
    run_until(&v.loop, connected, &v, 5);

    static ep e0, e1;
    memset(&e0, 0, sizeof e0);
    memset(&e1, 0, sizeof e1);
    ep_init(&e0, v.dialed[0], 0);
    ep_init(&e1, v.accepted[1], 1);
    e0.to_send = e1.to_send = 64ull << 20;
    e0.shut_after = e1.shut_after = true;
    const size_t hw = 256 * 1024;
    struct join_options o = {.high_water = hw, .half_close = true};
    assert_int_equal(stream_join(v.accepted[0], v.dialed[1], &o, on_join_done, &v, &v.j), 0);

    /* e0 starts reading late, so the join's writes towards it back up. */
    uv_timer_init(&v.loop, &e0.delay);
    e0.delay.data = &e0;
    uv_timer_start(&e0.delay, ep_start_reading, 300, 0);
    assert_int_equal(stream_read_start(e1.s, ep_read), 0);
    ep_pump(&e0);
    ep_pump(&e1);
    both t = {&v, &e0, &e1};
    run_until(&v.loop, transfer_done, &t, 120);

    assert_false(e0.bad);
    assert_false(e1.bad);
    assert_int_equal(e0.recvd, 64ull << 20);
    assert_int_equal(e1.recvd, 64ull << 20);
    assert_int_equal(v.res.status, 0);
    assert_int_equal(v.res.a_to_b, 64ull << 20);
    assert_int_equal(v.res.b_to_a, 64ull << 20);
    /* Backpressure engaged towards the slow reader, and the queue stayed bounded. */
    assert_true(v.res.max_queued_a > hw / 2);
    assert_true(v.res.max_queued_a <= hw + 2 * BUF_CHUNK_SIZE);
    assert_true(v.res.max_queued_b <= hw + 2 * BUF_CHUNK_SIZE);

    stream_close(e0.s);
    stream_close(e1.s);
    uv_close((uv_handle_t *)&e0.delay, NULL);
    tcp_listener_close(l1);
    tcp_listener_close(l2);
    assert_int_equal(uv_run(&v.loop, UV_RUN_DEFAULT), 0);
    assert_int_equal(e0.closed + e1.closed, 2);
    assert_int_equal(uv_loop_close(&v.loop), 0);
    buf_pool_drain();
}

/* Pipes: p0a <-> p0b joined with p1a <-> p1b; the test talks through p0a and p1b. */
typedef struct {
    env v;
    stream *p0a, *p0b, *p1a, *p1b;
    ep e0, e1;
} pipes;

static void pipes_setup(pipes *p, const struct join_options *o)
{
    memset(p, 0, sizeof *p);
    uv_loop_init(&p->v.loop);
    assert_int_equal(pipe_pair(&p->v.loop, &p->p0a, &p->p0b), 0);
    assert_int_equal(pipe_pair(&p->v.loop, &p->p1a, &p->p1b), 0);
    ep_init(&p->e0, p->p0a, 0);
    ep_init(&p->e1, p->p1b, 1);
    assert_int_equal(stream_join(p->p0b, p->p1a, o, on_join_done, &p->v, &p->v.j), 0);
    assert_int_equal(stream_read_start(p->p0a, ep_read), 0);
    assert_int_equal(stream_read_start(p->p1b, ep_read), 0);
}

static void pipes_finish(pipes *p)
{
    stream_close(p->p0a);
    stream_close(p->p1b);
    assert_int_equal(uv_run(&p->v.loop, UV_RUN_DEFAULT), 0);
    assert_int_equal(p->e0.closed + p->e1.closed, 2);
    assert_int_equal(uv_loop_close(&p->v.loop), 0);
    buf_pool_drain();
}

static bool join_done(void *arg)
{
    return ((env *)arg)->done > 0;
}

static bool e1_has(void *arg)
{
    pipes *p = arg;
    return p->e1.recvd == 5000 && p->e1.eof && p->e0.eof;
}

/* frp's mode: EOF from one side ends the join after the bytes already read. */
static void test_join_frp_mode_closes_both(void **state)
{
    static pipes p;
    pipes_setup(&p, NULL);
    p.e0.to_send = 5000;
    p.e0.shut_after = true;
    p.e1.to_send = 0;
    ep_pump(&p.e0);
    run_until(&p.v.loop, join_done, &p.v, 5);
    run_until(&p.v.loop, e1_has, &p, 5);
    assert_false(p.e1.bad);
    assert_int_equal(p.v.res.status, 0);
    assert_int_equal(p.v.res.a_to_b, 5000);
    assert_int_equal(p.v.res.b_to_a, 0);
    /* e0's side was closed too although e0 only half-closed: it reads EOF. */
    assert_int_equal(p.e0.eof, 1);
    assert_int_equal(stream_write_copy(p.p0a, "x", 1, NULL, NULL), UV_EPIPE);
    pipes_finish(&p);
}

static bool e1_eof(void *arg)
{
    return ((pipes *)arg)->e1.eof > 0;
}

static bool both_eof_done(void *arg)
{
    pipes *p = arg;
    return p->e0.eof && p->e1.eof && p->v.done;
}

/* Half-close mode: a request, EOF, then the response still flows back. */
static void test_join_half_close(void **state)
{
    static pipes p;
    struct join_options o = {.half_close = true};
    pipes_setup(&p, &o);
    p.e0.to_send = 3000;
    p.e0.shut_after = true;
    ep_pump(&p.e0);
    run_until(&p.v.loop, e1_eof, &p, 5);
    assert_int_equal(p.e1.recvd, 3000);
    assert_int_equal(p.v.done, 0); /* still open the other way */
    assert_int_equal(p.e0.eof, 0);
    p.e1.to_send = 200000;
    p.e1.shut_after = true;
    ep_pump(&p.e1);
    run_until(&p.v.loop, both_eof_done, &p, 5);
    assert_int_equal(p.e0.recvd, 200000);
    assert_false(p.e0.bad);
    assert_false(p.e1.bad);
    assert_int_equal(p.v.res.status, 0);
    assert_int_equal(p.v.res.a_to_b, 3000);
    assert_int_equal(p.v.res.b_to_a, 200000);
    pipes_finish(&p);
}

static bool some_moved(void *arg)
{
    pipes *p = arg;
    return p->e1.recvd > 1000000;
}

/* Abort in the middle of a transfer: both joined streams close, cb reports it. */
static void test_join_abort_midway(void **state)
{
    static pipes p;
    pipes_setup(&p, NULL);
    p.e0.to_send = 64ull << 20;
    ep_pump(&p.e0);
    run_until(&p.v.loop, some_moved, &p, 10);
    uint64_t ab, ba;
    join_counts(p.v.j, &ab, &ba);
    assert_true(ab >= p.e1.recvd);
    assert_int_equal(ba, 0);
    join_abort(p.v.j);
    join_abort(p.v.j);
    run_until(&p.v.loop, join_done, &p.v, 5);
    assert_int_equal(p.v.res.status, CFRP_ECLOSED);
    assert_true(p.v.res.a_to_b < (64ull << 20));
    pipes_finish(&p);
    assert_int_equal(p.e0.eof, 1);
}

/* A peer that vanishes mid-transfer ends the join with EOF (peer closed). */
static void test_join_peer_closes_midway(void **state)
{
    static pipes p;
    pipes_setup(&p, NULL);
    p.e0.to_send = 64ull << 20;
    ep_pump(&p.e0);
    run_until(&p.v.loop, some_moved, &p, 10);
    stream_close(p.p1b);
    run_until(&p.v.loop, join_done, &p.v, 5);
    assert_true(p.v.res.a_to_b < (64ull << 20));
    stream_close(p.p0a);
    assert_int_equal(uv_run(&p.v.loop, UV_RUN_DEFAULT), 0);
    assert_int_equal(uv_loop_close(&p.v.loop), 0);
    buf_pool_drain();
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_join_frp_mode_closes_both),
        cmocka_unit_test(test_join_half_close),
        cmocka_unit_test(test_join_abort_midway),
        cmocka_unit_test(test_join_peer_closes_midway),
        cmocka_unit_test(test_join_64mib_both_ways_tcp),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
