/* Unit tests for yamux sessions and streams over the in-memory pipe: two sessions
 * talking to each other (open/accept, 200 streams with checksums, slow reader and
 * window recovery, half-close, close with streams in flight), and one session against
 * a hand-driven raw peer (RST, ping, keep-alive timeout, go-away, backlog, open
 * timeout, malformed frames). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "base/err.h"
#include "mux/yamux.h"
#include "mux/yamux_internal.h"
#include "net/pipe.h"

static uv_loop_t loop;

/* Runs the loop until *flag is true (or cond() returns true), at most ms. */
static void run_until(bool (*cond)(void *), void *arg, uint64_t ms)
{
    uint64_t deadline = uv_hrtime() + ms * 1000000ull;
    while (!cond(arg) && uv_hrtime() < deadline) uv_run(&loop, UV_RUN_NOWAIT);
}

static bool flag_set(void *arg)
{
    return *(bool *)arg;
}

static bool never(void *arg)
{
    (void)arg;
    return false;
}

static void drain_loop(void)
{
    for (int i = 0; i < 1000 && uv_run(&loop, UV_RUN_NOWAIT); i++) {
    }
}

static int setup(void **state)
{
    (void)state;
    assert_int_equal(uv_loop_init(&loop), 0);
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    drain_loop();
    assert_int_equal(uv_loop_close(&loop), 0);
    buf_pool_drain();
    return 0;
}

/* ---- byte patterns ---- */

static uint8_t pattern(uint32_t seed, size_t i)
{
    return (uint8_t)((i * 31 + seed * 7 + (i >> 8)) & 0xff);
}

/* ---- session pair ---- */

typedef struct end_state {
    yamux_session *sess;
    bool closed;
    int status;
    int accepted;
    uint32_t last_id;
    void (*on_accept)(yamux_session *, stream *);
} end_state;

static void pair_on_close(yamux_session *s, int status)
{
    end_state *e = yamux_session_data(s);
    e->closed = true;
    e->status = status;
}

static void pair_on_accept(yamux_session *s, stream *st)
{
    end_state *e = yamux_session_data(s);
    e->accepted++;
    e->last_id = yamux_stream_id(st);
    if (e->on_accept) e->on_accept(s, st);
    else stream_close(st);
}

static void make_pair(end_state *c, end_state *sv, const struct yamux_config *cfg)
{
    stream *a, *b;
    assert_int_equal(pipe_pair(&loop, &a, &b), 0);
    char err[128];
    assert_int_equal(yamux_session_new(&loop, a, true, cfg, pair_on_accept, pair_on_close, c,
                                       &c->sess, err, sizeof err),
                     0);
    assert_int_equal(yamux_session_new(&loop, b, false, cfg, pair_on_accept, pair_on_close,
                                       sv, &sv->sess, err, sizeof err),
                     0);
}

static bool both_closed(void *arg)
{
    end_state *e = arg;
    return e[0].closed && e[1].closed;
}

static void close_pair(end_state *e)
{
    if (!e[0].closed) yamux_session_close(e[0].sess);
    if (!e[1].closed) yamux_session_close(e[1].sess);
    run_until(both_closed, e, 2000);
    assert_true(e[0].closed && e[1].closed);
}

/* ---- echo server: echoes every stream, shuts down after EOF ---- */

typedef struct echo {
    int outstanding;
    bool eof;
} echo;

static void echo_on_close(stream *st)
{
    free(st->data);
}

static void echo_on_write(stream *st, int status, void *arg)
{
    echo *e = st->data;
    (void)arg;
    if (--e->outstanding == 0 && e->eof && status == 0) {
        assert_int_equal(stream_shutdown(st), 0);
        stream_close(st);
    }
}

static void echo_on_read(stream *st, ssize_t nread, buf_ref data)
{
    echo *e = st->data;
    if (nread > 0) {
        e->outstanding++;
        assert_int_equal(stream_write(st, &data, 1, echo_on_write, NULL), 0);
    } else if (nread == UV_EOF) {
        e->eof = true;
        if (e->outstanding == 0) {
            assert_int_equal(stream_shutdown(st), 0);
            stream_close(st);
        }
    } else {
        stream_close(st);
    }
}

static void echo_accept(yamux_session *s, stream *st)
{
    (void)s;
    st->data = calloc(1, sizeof(echo));
    st->on_close = echo_on_close;
    assert_int_equal(stream_read_start(st, echo_on_read), 0);
}

/* ---- client streams with checksums ---- */

typedef struct cstream {
    stream *st;
    uint32_t seed;
    size_t total;   /* bytes to send and expect back */
    size_t got;     /* bytes received */
    size_t written; /* write callbacks with status 0, in bytes */
    bool mismatch, eof, err, closed;
    int writes_done;
} cstream;

static void cs_on_close(stream *st)
{
    cstream *c = st->data;
    c->closed = true;
}

static void cs_on_read(stream *st, ssize_t nread, buf_ref data)
{
    cstream *c = st->data;
    if (nread > 0) {
        for (ssize_t i = 0; i < nread; i++)
            if ((uint8_t)data.base[i] != pattern(c->seed, c->got + (size_t)i)) c->mismatch = true;
        c->got += (size_t)nread;
        buf_ref_release(&data);
    } else if (nread == UV_EOF) {
        c->eof = true;
        stream_close(st);
    } else {
        c->err = true;
        stream_close(st);
    }
}

static void cs_on_write(stream *st, int status, void *arg)
{
    cstream *c = st->data;
    if (status == 0) c->written += (size_t)(uintptr_t)arg;
    c->writes_done++;
}

/* Writes total bytes of the pattern in pieces of up to 20000 bytes; cb gets the
 * piece's size as arg (last_cb, if set, replaces it on the last piece). */
static void send_pattern(stream *st, uint32_t seed, size_t total, stream_write_cb cb,
                         stream_write_cb last_cb)
{
    size_t off = 0;
    while (off < total) {
        size_t n = total - off < 20000 ? total - off : 20000;
        buf_chunk *ch = buf_chunk_alloc(n);
        assert_non_null(ch);
        for (size_t i = 0; i < n; i++) ch->data[i] = (char)pattern(seed, off + i);
        buf_ref r = buf_ref_make(ch, 0, n);
        stream_write_cb use = off + n == total && last_cb ? last_cb : cb;
        assert_int_equal(stream_write(st, &r, 1, use, (void *)(uintptr_t)n), 0);
        off += n;
    }
}

static void cs_send(cstream *c)
{
    send_pattern(c->st, c->seed, c->total, cs_on_write, NULL);
}

static bool all_done(void *arg)
{
    cstream *cs = arg;
    for (; cs->st; cs++)
        if (!cs->closed) return false;
    return true;
}

static void test_open_accept_echo(void **state)
{
    (void)state;
    end_state e[2] = {{0}, {0}};
    e[1].on_accept = echo_accept;
    make_pair(&e[0], &e[1], NULL);
    cstream cs[2] = {{0}};
    assert_int_equal(yamux_session_open(e[0].sess, &cs[0].st), 0);
    assert_int_equal(yamux_stream_id(cs[0].st), 1);
    assert_ptr_equal(yamux_stream_session(cs[0].st), e[0].sess);
    assert_string_equal(cs[0].st->ops->name, "yamux");
    cs[0].st->data = &cs[0];
    cs[0].st->on_close = cs_on_close;
    cs[0].seed = 1;
    cs[0].total = 100000;
    cs_send(&cs[0]);
    assert_int_equal(stream_queued(cs[0].st), 100000);
    assert_int_equal(stream_shutdown(cs[0].st), 0);
    assert_int_equal(stream_read_start(cs[0].st, cs_on_read), 0);
    run_until(all_done, cs, 5000);
    assert_true(cs[0].closed);
    assert_true(cs[0].eof);
    assert_false(cs[0].mismatch);
    assert_int_equal(cs[0].got, 100000);
    assert_int_equal(cs[0].written, 100000);
    assert_int_equal(e[1].accepted, 1);
    assert_int_equal(e[1].last_id, 1);
    /* both FINs seen: the streams are gone from both sessions */
    run_until(never, NULL, 20);
    assert_int_equal(yamux_session_num_streams(e[0].sess), 0);
    assert_int_equal(yamux_session_num_streams(e[1].sess), 0);
    /* the server may open streams too (even ids) */
    stream *sst;
    assert_int_equal(yamux_session_open(e[1].sess, &sst), 0);
    assert_int_equal(yamux_stream_id(sst), 2);
    stream_close(sst);
    close_pair(e);
    assert_int_equal(e[0].status, 0);
}

#define MANY 200

static void test_many_streams(void **state)
{
    (void)state;
    end_state e[2] = {{0}, {0}};
    e[1].on_accept = echo_accept;
    make_pair(&e[0], &e[1], NULL);
    cstream *cs = calloc(MANY + 1, sizeof *cs);
    for (int i = 0; i < MANY; i++) {
        assert_int_equal(yamux_session_open(e[0].sess, &cs[i].st), 0);
        assert_int_equal(yamux_stream_id(cs[i].st), 2 * i + 1);
        cs[i].st->data = &cs[i];
        cs[i].st->on_close = cs_on_close;
        cs[i].seed = (uint32_t)i;
        cs[i].total = 1000 + (size_t)i * 1500; /* up to ~300 KB: beyond the initial window */
        cs_send(&cs[i]);
        assert_int_equal(stream_shutdown(cs[i].st), 0);
        assert_int_equal(stream_read_start(cs[i].st, cs_on_read), 0);
    }
    run_until(all_done, cs, 20000);
    for (int i = 0; i < MANY; i++) {
        assert_true(cs[i].closed);
        assert_true(cs[i].eof);
        assert_false(cs[i].mismatch);
        assert_int_equal(cs[i].got, cs[i].total);
        assert_int_equal(cs[i].written, cs[i].total);
    }
    assert_int_equal(e[1].accepted, MANY);
    close_pair(e);
    free(cs);
}

/* ---- slow reader ---- */

typedef struct sink {
    stream *st;
    size_t got;
    uint32_t seed;
    bool mismatch, eof;
} sink;

static void sink_on_read(stream *st, ssize_t nread, buf_ref data)
{
    sink *k = st->data;
    if (nread > 0) {
        for (ssize_t i = 0; i < nread; i++)
            if ((uint8_t)data.base[i] != pattern(k->seed, k->got + (size_t)i)) k->mismatch = true;
        k->got += (size_t)nread;
        buf_ref_release(&data);
    } else {
        k->eof = nread == UV_EOF;
        stream_close(st);
    }
}

static sink g_sink;

static void sink_accept(yamux_session *s, stream *st)
{
    (void)s;
    g_sink.st = st;
    st->data = &g_sink;
}

static stream *g_held[8];
static int g_nheld;

static void hold_accept(yamux_session *s, stream *st)
{
    (void)s;
    assert_true(g_nheld < 8);
    g_held[g_nheld++] = st;
}

static bool sink_eof(void *arg)
{
    return ((sink *)arg)->eof;
}

static bool sink_accepted(void *arg)
{
    return ((sink *)arg)->st != NULL;
}

static bool accepted_four(void *arg)
{
    return ((end_state *)arg)->accepted >= 4;
}

static void test_slow_reader_window(void **state)
{
    (void)state;
    end_state e[2] = {{0}, {0}};
    memset(&g_sink, 0, sizeof g_sink);
    g_sink.seed = 9;
    e[1].on_accept = sink_accept;
    make_pair(&e[0], &e[1], NULL);
    cstream c = {0};
    assert_int_equal(yamux_session_open(e[0].sess, &c.st), 0);
    c.st->data = &c;
    c.st->on_close = cs_on_close;
    c.seed = 9;
    c.total = 10 * 1024 * 1024;
    cs_send(&c);
    assert_int_equal(stream_shutdown(c.st), 0);
    run_until(never, NULL, 300);
    /* the acceptor reads nothing: exactly its 6 MiB window crossed, the rest waits */
    assert_non_null(g_sink.st);
    yamux_stream *rx = (yamux_stream *)g_sink.st;
    assert_int_equal(rx->rq_bytes, YAMUX_FRP_MAX_WINDOW);
    assert_int_equal(rx->recv_window, 0);
    assert_int_equal(stream_queued(c.st), c.total - YAMUX_FRP_MAX_WINDOW);
    assert_true(c.written < c.total);
    /* reading again opens the window: everything arrives intact */
    assert_int_equal(stream_read_start(g_sink.st, sink_on_read), 0);
    run_until(sink_eof, &g_sink, 10000);
    assert_true(g_sink.eof);
    assert_false(g_sink.mismatch);
    assert_int_equal(g_sink.got, c.total);
    assert_int_equal(stream_queued(c.st), 0);
    assert_int_equal(c.written, c.total);
    stream_close(c.st);
    close_pair(e);
}

/* ---- half close ---- */

static void close_after_write(stream *st, int status, void *arg)
{
    (void)arg;
    assert_int_equal(status, 0);
    stream_close(st);
}

static void late_reply_on_read(stream *st, ssize_t nread, buf_ref data)
{
    if (nread > 0) {
        buf_ref_release(&data);
        return;
    }
    assert_int_equal(nread, UV_EOF);
    /* the peer will send no more, but we still may */
    send_pattern(st, 5, 70000, NULL, close_after_write);
    assert_int_equal(stream_shutdown(st), 0);
}

static void late_reply_accept(yamux_session *s, stream *st)
{
    (void)s;
    st->data = NULL;
    assert_int_equal(stream_read_start(st, late_reply_on_read), 0);
}

static void test_half_close(void **state)
{
    (void)state;
    end_state e[2] = {{0}, {0}};
    e[1].on_accept = late_reply_accept;
    make_pair(&e[0], &e[1], NULL);
    cstream cs[2] = {{0}};
    assert_int_equal(yamux_session_open(e[0].sess, &cs[0].st), 0);
    cs[0].st->data = &cs[0];
    cs[0].st->on_close = cs_on_close;
    cs[0].seed = 5;
    assert_int_equal(stream_write_copy(cs[0].st, "request", 7, NULL, NULL), 0);
    assert_int_equal(stream_shutdown(cs[0].st), 0);
    /* writes after the FIN fail */
    assert_int_equal(stream_write_copy(cs[0].st, "x", 1, NULL, NULL), UV_EPIPE);
    assert_int_equal(stream_read_start(cs[0].st, cs_on_read), 0);
    run_until(all_done, cs, 5000);
    assert_true(cs[0].eof);
    assert_false(cs[0].mismatch);
    assert_int_equal(cs[0].got, 70000);
    close_pair(e);
}

/* ---- closing a session with streams in flight ---- */

static void test_close_in_flight(void **state)
{
    (void)state;
    end_state e[2] = {{0}, {0}};
    g_nheld = 0;
    e[1].on_accept = hold_accept; /* never reads */
    make_pair(&e[0], &e[1], NULL);
    cstream cs[4] = {{0}};
    for (int i = 0; i < 3; i++) {
        assert_int_equal(yamux_session_open(e[0].sess, &cs[i].st), 0);
        cs[i].st->data = &cs[i];
        cs[i].st->on_close = cs_on_close;
        cs[i].total = 8000000; /* beyond the 6 MiB window */
        cs_send(&cs[i]);
        assert_int_equal(stream_read_start(cs[i].st, cs_on_read), 0);
    }
    run_until(never, NULL, 50);
    yamux_session_close(e[0].sess);
    yamux_session_close(e[0].sess); /* twice is fine */
    assert_true(yamux_session_is_closed(e[0].sess));
    assert_int_equal(yamux_session_open(e[0].sess, &cs[3].st), CFRP_ECLOSED);
    run_until(all_done, cs, 3000);
    int cbs = 0;
    for (int i = 0; i < 3; i++) {
        assert_true(cs[i].closed);
        assert_true(cs[i].err); /* read ended with CFRP_ECLOSED */
        assert_true(cs[i].written < cs[i].total);
        cbs += cs[i].writes_done;
    }
    assert_int_equal(cbs, 3 * 400); /* every write callback ran */
    run_until(both_closed, e, 2000);
    assert_true(e[0].closed && e[1].closed);
    assert_int_equal(e[0].status, 0);
    assert_int_equal(e[1].status, UV_EOF);
    assert_int_equal(g_nheld, 3);
    for (int i = 0; i < g_nheld; i++) stream_close(g_held[i]);
}

/* ---- a raw peer: the test speaks yamux by hand on the other pipe end ---- */

typedef struct raw_peer {
    stream *end;
    uint8_t in[1 << 16];
    size_t inlen;
    bool eof;
    end_state es;
} raw_peer;

static void raw_on_read(stream *st, ssize_t nread, buf_ref data)
{
    raw_peer *r = st->data;
    if (nread > 0) {
        size_t room = sizeof r->in - r->inlen;
        size_t n = (size_t)nread < room ? (size_t)nread : room;
        memcpy(r->in + r->inlen, data.base, n);
        r->inlen += n;
    } else {
        r->eof = true;
    }
    buf_ref_release(&data);
}

static void raw_setup(raw_peer *r, bool client, const struct yamux_config *cfg,
                      void (*on_accept)(yamux_session *, stream *))
{
    memset(r, 0, sizeof *r);
    stream *a;
    assert_int_equal(pipe_pair(&loop, &a, &r->end), 0);
    r->end->data = r;
    assert_int_equal(stream_read_start(r->end, raw_on_read), 0);
    r->es.on_accept = on_accept;
    char err[128];
    assert_int_equal(yamux_session_new(&loop, a, client, cfg, on_accept ? pair_on_accept : NULL,
                                       pair_on_close, &r->es, &r->es.sess, err, sizeof err),
                     0);
}

static void raw_send(raw_peer *r, uint8_t type, uint16_t flags, uint32_t id, uint32_t len)
{
    uint8_t b[YAMUX_HEADER_SIZE];
    struct yamux_header h = {0, type, flags, id, len};
    yamux_header_encode(b, &h);
    assert_int_equal(stream_write_copy(r->end, b, sizeof b, NULL, NULL), 0);
}

/* Pops the next frame header the session sent (payload skipped); false if none. */
static bool raw_next(raw_peer *r, struct yamux_header *h)
{
    if (r->inlen < YAMUX_HEADER_SIZE) return false;
    assert_int_equal(yamux_header_decode(r->in, h, NULL, 0), 0);
    size_t n = YAMUX_HEADER_SIZE + (h->type == YAMUX_TYPE_DATA ? h->length : 0);
    assert_true(r->inlen >= n);
    memmove(r->in, r->in + n, r->inlen - n);
    r->inlen -= n;
    return true;
}

static bool raw_has_frame(void *arg)
{
    raw_peer *r = arg;
    if (r->inlen < YAMUX_HEADER_SIZE) return false;
    struct yamux_header h;
    assert_int_equal(yamux_header_decode(r->in, &h, NULL, 0), 0);
    return r->inlen >= YAMUX_HEADER_SIZE + (h.type == YAMUX_TYPE_DATA ? h.length : 0);
}

/* Waits (up to 2 s, for slow sanitizer runs) for the next frame and checks it. */
static void raw_expect(raw_peer *r, uint8_t type, uint16_t flags, uint32_t id, uint32_t len)
{
    struct yamux_header h;
    run_until(raw_has_frame, r, 2000);
    assert_true(raw_next(r, &h));
    assert_int_equal(h.type, type);
    assert_int_equal(h.flags, flags);
    assert_int_equal(h.stream_id, id);
    assert_int_equal(h.length, len);
}

static void raw_finish(raw_peer *r)
{
    if (!r->es.closed) yamux_session_close(r->es.sess);
    run_until(flag_set, &r->es.closed, 2000);
    assert_true(r->es.closed);
    stream_close(r->end);
}

static void test_raw_open_rst(void **state)
{
    (void)state;
    raw_peer *r = malloc(sizeof *r);
    raw_setup(r, true, NULL, NULL);
    cstream c[2] = {{0}};
    assert_int_equal(yamux_session_open(r->es.sess, &c[0].st), 0);
    c[0].st->data = &c[0];
    c[0].st->on_close = cs_on_close;
    assert_int_equal(stream_read_start(c[0].st, cs_on_read), 0);
    run_until(never, NULL, 20);
    raw_expect(r, YAMUX_TYPE_WINDOW_UPDATE, YAMUX_FLAG_SYN, 1, 6029312);
    raw_send(r, YAMUX_TYPE_WINDOW_UPDATE, YAMUX_FLAG_ACK, 1, 6029312);
    raw_send(r, YAMUX_TYPE_WINDOW_UPDATE, YAMUX_FLAG_RST, 1, 0);
    run_until(all_done, c, 2000);
    assert_true(c[0].err); /* UV_ECONNRESET */
    assert_int_equal(yamux_session_num_streams(r->es.sess), 0);
    /* data for the reset stream is discarded, the session goes on */
    raw_send(r, YAMUX_TYPE_DATA, 0, 1, 5);
    assert_int_equal(stream_write_copy(r->end, "hello", 5, NULL, NULL), 0);
    raw_send(r, YAMUX_TYPE_PING, YAMUX_FLAG_SYN, 0, 7);
    run_until(never, NULL, 30);
    raw_expect(r, YAMUX_TYPE_PING, YAMUX_FLAG_ACK, 0, 7);
    assert_false(r->es.closed);
    raw_finish(r);
    free(r);
}

static void test_raw_accept_split_bytes(void **state)
{
    (void)state;
    raw_peer *r = malloc(sizeof *r);
    memset(&g_sink, 0, sizeof g_sink);
    raw_setup(r, false, NULL, sink_accept);
    /* SYN on a Data frame, with FIN, fed one byte per write */
    uint8_t b[YAMUX_HEADER_SIZE + 4];
    struct yamux_header h = {0, YAMUX_TYPE_DATA, YAMUX_FLAG_SYN | YAMUX_FLAG_FIN, 3, 4};
    yamux_header_encode(b, &h);
    memcpy(b + YAMUX_HEADER_SIZE, "abcd", 4);
    for (size_t i = 0; i < sizeof b; i++)
        assert_int_equal(stream_write_copy(r->end, b + i, 1, NULL, NULL), 0);
    run_until(sink_accepted, &g_sink, 2000);
    assert_non_null(g_sink.st);
    assert_int_equal(yamux_stream_id(g_sink.st), 3);
    raw_expect(r, YAMUX_TYPE_WINDOW_UPDATE, YAMUX_FLAG_ACK, 3, 6029312);
    g_sink.seed = 0;
    assert_int_equal(stream_read_start(g_sink.st, sink_on_read), 0);
    run_until(sink_eof, &g_sink, 1000);
    assert_int_equal(g_sink.got, 4);
    assert_true(g_sink.eof); /* data, then EOF; sink closed it: FIN goes out */
    run_until(never, NULL, 20);
    raw_expect(r, YAMUX_TYPE_WINDOW_UPDATE, YAMUX_FLAG_FIN, 3, 0);
    assert_int_equal(yamux_session_num_streams(r->es.sess), 0);
    raw_finish(r);
    free(r);
}

static void test_raw_keepalive(void **state)
{
    (void)state;
    struct yamux_config cfg;
    yamux_config_default(&cfg);
    cfg.keepalive_interval_ms = 30;
    cfg.ping_timeout_ms = 300;
    raw_peer *r = malloc(sizeof *r);
    raw_setup(r, true, &cfg, NULL);
    /* answer the first ping, ignore the second */
    raw_expect(r, YAMUX_TYPE_PING, YAMUX_FLAG_SYN, 0, 0);
    raw_send(r, YAMUX_TYPE_PING, YAMUX_FLAG_ACK, 0, 0);
    raw_expect(r, YAMUX_TYPE_PING, YAMUX_FLAG_SYN, 0, 1);
    assert_false(r->es.closed);
    run_until(flag_set, &r->es.closed, 1000);
    assert_true(r->es.closed);
    assert_int_equal(r->es.status, CFRP_ETIMEOUT);
    assert_true(yamux_session_is_closed(r->es.sess));
    stream_close(r->end);
    free(r);
}

static void test_raw_go_away(void **state)
{
    (void)state;
    raw_peer *r = malloc(sizeof *r);
    raw_setup(r, false, NULL, echo_accept);
    /* ours: no more incoming streams */
    yamux_session_go_away(r->es.sess);
    raw_send(r, YAMUX_TYPE_WINDOW_UPDATE, YAMUX_FLAG_SYN, 1, 0);
    run_until(never, NULL, 30);
    raw_expect(r, YAMUX_TYPE_GO_AWAY, 0, 0, YAMUX_GOAWAY_NORMAL);
    raw_expect(r, YAMUX_TYPE_WINDOW_UPDATE, YAMUX_FLAG_RST, 1, 0);
    assert_int_equal(r->es.accepted, 0);
    /* theirs: we may open no more */
    raw_send(r, YAMUX_TYPE_GO_AWAY, 0, 0, YAMUX_GOAWAY_NORMAL);
    run_until(never, NULL, 30);
    stream *st;
    assert_int_equal(yamux_session_open(r->es.sess, &st), UV_ECONNREFUSED);
    assert_false(r->es.closed);
    /* go away with an error code ends the session */
    raw_send(r, YAMUX_TYPE_GO_AWAY, 0, 0, YAMUX_GOAWAY_INTERNAL_ERR);
    run_until(flag_set, &r->es.closed, 1000);
    assert_int_equal(r->es.status, CFRP_EPROTO);
    stream_close(r->end);
    free(r);
}

static void test_raw_backlog(void **state)
{
    (void)state;
    struct yamux_config cfg;
    yamux_config_default(&cfg);
    cfg.accept_backlog = 4;
    raw_peer *r = malloc(sizeof *r);
    raw_setup(r, false, &cfg, echo_accept);
    yamux_session_set_accepting(r->es.sess, false);
    for (uint32_t id = 1; id <= 11; id += 2) raw_send(r, YAMUX_TYPE_WINDOW_UPDATE, YAMUX_FLAG_SYN, id, 0);
    raw_send(r, YAMUX_TYPE_DATA, 0, 1, 2);
    assert_int_equal(stream_write_copy(r->end, "hi", 2, NULL, NULL), 0);
    run_until(never, NULL, 30);
    /* streams 9 and 11 refused, 1..7 wait */
    raw_expect(r, YAMUX_TYPE_WINDOW_UPDATE, YAMUX_FLAG_RST, 9, 0);
    raw_expect(r, YAMUX_TYPE_WINDOW_UPDATE, YAMUX_FLAG_RST, 11, 0);
    assert_int_equal(r->es.accepted, 0);
    assert_int_equal(yamux_session_num_streams(r->es.sess), 4);
    yamux_session_set_accepting(r->es.sess, true);
    run_until(accepted_four, &r->es, 2000);
    assert_int_equal(r->es.accepted, 4);
    for (uint32_t id = 1; id <= 7; id += 2)
        raw_expect(r, YAMUX_TYPE_WINDOW_UPDATE, YAMUX_FLAG_ACK, id, 6029312 + 0);
    /* the buffered "hi" on stream 1 was echoed */
    struct yamux_header h;
    run_until(raw_has_frame, r, 2000);
    assert_true(r->inlen >= YAMUX_HEADER_SIZE + 2);
    assert_int_equal(yamux_header_decode(r->in, &h, NULL, 0), 0);
    assert_int_equal(h.type, YAMUX_TYPE_DATA);
    assert_int_equal(h.stream_id, 1);
    assert_int_equal(h.length, 2);
    assert_memory_equal(r->in + YAMUX_HEADER_SIZE, "hi", 2);
    raw_finish(r);
    free(r);
}

static void test_raw_open_timeout(void **state)
{
    (void)state;
    struct yamux_config cfg;
    yamux_config_default(&cfg);
    cfg.open_timeout_ms = 50;
    raw_peer *r = malloc(sizeof *r);
    raw_setup(r, true, &cfg, NULL);
    cstream c[2] = {{0}};
    assert_int_equal(yamux_session_open(r->es.sess, &c[0].st), 0);
    c[0].st->data = &c[0];
    c[0].st->on_close = cs_on_close;
    assert_int_equal(stream_read_start(c[0].st, cs_on_read), 0);
    run_until(flag_set, &r->es.closed, 1000);
    assert_int_equal(r->es.status, CFRP_ETIMEOUT);
    run_until(all_done, c, 1000);
    assert_true(c[0].err);
    stream_close(r->end);
    free(r);
}

/* A peer that sends frame bytes then expects the session to end with CFRP_EPROTO. */
static void expect_proto_error(const uint8_t *bytes, size_t n, bool open_stream_first)
{
    raw_peer *r = malloc(sizeof *r);
    memset(&g_sink, 0, sizeof g_sink);
    raw_setup(r, false, NULL, sink_accept);
    if (open_stream_first) raw_send(r, YAMUX_TYPE_WINDOW_UPDATE, YAMUX_FLAG_SYN, 1, 0);
    assert_int_equal(stream_write_copy(r->end, bytes, n, NULL, NULL), 0);
    run_until(flag_set, &r->es.closed, 1000);
    assert_true(r->es.closed);
    assert_int_equal(r->es.status, CFRP_EPROTO);
    if (g_sink.st) stream_close(g_sink.st);
    stream_close(r->end);
    free(r);
}

static void test_raw_malformed(void **state)
{
    (void)state;
    uint8_t b[YAMUX_HEADER_SIZE + 16] = {0};
    struct yamux_header h;
    /* bad version (a non-mux frp client's Login frame) */
    memcpy(b, "o\0\0\0\0\0\0\0\0\0\0\x10", 12);
    expect_proto_error(b, 12, false);
    /* unknown type */
    h = (struct yamux_header){0, 7, 0, 0, 0};
    yamux_header_encode(b, &h);
    expect_proto_error(b, 12, false);
    /* data beyond the receive window (6 MiB once the ACK granted it) */
    h = (struct yamux_header){0, YAMUX_TYPE_DATA, 0, 1, YAMUX_FRP_MAX_WINDOW + 1};
    yamux_header_encode(b, &h);
    expect_proto_error(b, 12, true);
    /* a frame length far over any limit */
    h = (struct yamux_header){0, YAMUX_TYPE_DATA, 0, 1, 0xffffffff};
    yamux_header_encode(b, &h);
    expect_proto_error(b, 12, true);
    /* duplicate SYN */
    h = (struct yamux_header){0, YAMUX_TYPE_WINDOW_UPDATE, YAMUX_FLAG_SYN, 1, 0};
    yamux_header_encode(b, &h);
    expect_proto_error(b, 12, true);
    /* second FIN */
    h = (struct yamux_header){0, YAMUX_TYPE_WINDOW_UPDATE, YAMUX_FLAG_FIN, 1, 0};
    yamux_header_encode(b, &h);
    yamux_header_encode(b + 12, &h);
    expect_proto_error(b, 24, true);
    /* Go Away protocol error from the peer */
    h = (struct yamux_header){0, YAMUX_TYPE_GO_AWAY, 0, 0, YAMUX_GOAWAY_PROTO_ERR};
    yamux_header_encode(b, &h);
    expect_proto_error(b, 12, false);
}

static void test_config_rejected(void **state)
{
    (void)state;
    stream *a, *b;
    assert_int_equal(pipe_pair(&loop, &a, &b), 0);
    struct yamux_config cfg;
    yamux_config_default(&cfg);
    cfg.max_stream_window = 1000;
    yamux_session *s = NULL;
    char err[128] = "";
    assert_int_equal(yamux_session_new(&loop, a, true, &cfg, NULL, NULL, NULL, &s, err, sizeof err),
                     CFRP_EINVAL);
    assert_non_null(strstr(err, "invalid config"));
    assert_null(s);
    stream_close(a);
    stream_close(b);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_open_accept_echo, setup, teardown),
        cmocka_unit_test_setup_teardown(test_many_streams, setup, teardown),
        cmocka_unit_test_setup_teardown(test_slow_reader_window, setup, teardown),
        cmocka_unit_test_setup_teardown(test_half_close, setup, teardown),
        cmocka_unit_test_setup_teardown(test_close_in_flight, setup, teardown),
        cmocka_unit_test_setup_teardown(test_raw_open_rst, setup, teardown),
        cmocka_unit_test_setup_teardown(test_raw_accept_split_bytes, setup, teardown),
        cmocka_unit_test_setup_teardown(test_raw_keepalive, setup, teardown),
        cmocka_unit_test_setup_teardown(test_raw_go_away, setup, teardown),
        cmocka_unit_test_setup_teardown(test_raw_backlog, setup, teardown),
        cmocka_unit_test_setup_teardown(test_raw_open_timeout, setup, teardown),
        cmocka_unit_test_setup_teardown(test_raw_malformed, setup, teardown),
        cmocka_unit_test_setup_teardown(test_config_rejected, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
