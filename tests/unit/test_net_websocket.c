/* Unit tests for net/websocket over in-memory pipes: the RFC 6455 accept key, the
 * server's answers, the client handshake (request bytes, response checks), framing
 * (masking, length forms, fragmentation, ping/pong, close), malformed and oversize
 * frames, and writes held until the handshake. The test plays the raw peer. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <uv.h>

#include "base/err.h"
#include "net/pipe.h"
#include "net/websocket.h"

/* What one side received. */
typedef struct {
    uint8_t *data;
    size_t len, cap;
    int eof, err, closed;
    int hs_status, hs_calls;
    char hs_err[128];
} rec;

static void rec_add(rec *r, const void *p, size_t n)
{
    if (r->len + n > r->cap) {
        r->cap = (r->len + n) * 2;
        r->data = realloc(r->data, r->cap);
        assert_non_null(r->data);
    }
    memcpy(r->data + r->len, p, n);
    r->len += n;
}

static void rec_take(rec *r, size_t n)
{
    assert_true(n <= r->len);
    memmove(r->data, r->data + n, r->len - n);
    r->len -= n;
}

static void on_read(stream *s, ssize_t n, buf_ref d)
{
    rec *r = s->data;
    if (n > 0) {
        assert_int_equal((size_t)n, d.len);
        rec_add(r, d.base, d.len);
    } else if (n == UV_EOF) {
        r->eof++;
    } else {
        r->err = (int)n;
    }
    buf_ref_release(&d);
}

static void on_close(stream *s)
{
    ((rec *)s->data)->closed++;
}

static void on_hs(stream *s, int status, const char *err, void *arg)
{
    rec *r = arg;
    r->hs_calls++;
    r->hs_status = status;
    snprintf(r->hs_err, sizeof r->hs_err, "%s", err ? err : "");
}

static void run(uv_loop_t *loop)
{
    for (int i = 0; i < 20; i++)
        uv_run(loop, UV_RUN_NOWAIT);
}

static void finish(uv_loop_t *loop, stream *a, stream *b, rec *ra, rec *rb)
{
    if (a) stream_close(a);
    if (b) stream_close(b);
    uv_run(loop, UV_RUN_DEFAULT);
    assert_int_equal(uv_loop_close(loop), 0);
    free(ra->data);
    free(rb->data);
}

/* Builds a frame: fin, opcode, payload, masked with key when key is non-NULL. Returns
 * its length in out (which must be large enough). */
static size_t frame(uint8_t *out, bool fin, uint8_t op, const void *payload, size_t len,
                    const uint8_t *key)
{
    size_t h = 0;
    out[h++] = (uint8_t)((fin ? 0x80 : 0) | op);
    uint8_t m = key ? 0x80 : 0;
    if (len <= 125) {
        out[h++] = (uint8_t)(m | len);
    } else if (len <= 0xffff) {
        out[h++] = m | 126;
        out[h++] = (uint8_t)(len >> 8);
        out[h++] = (uint8_t)len;
    } else {
        out[h++] = m | 127;
        for (int i = 0; i < 8; i++)
            out[h++] = (uint8_t)((uint64_t)len >> (56 - 8 * i));
    }
    if (key) {
        memcpy(out + h, key, 4);
        h += 4;
    }
    for (size_t i = 0; i < len; i++)
        out[h + i] = (uint8_t)(((const uint8_t *)payload)[i] ^ (key ? key[i & 3] : 0));
    return h + len;
}

/* Parses one frame at the front of r (payload unmasked into out). Returns the bytes
 * it used, or 0 if incomplete. */
static size_t parse(const rec *r, uint8_t *b0, bool *masked, uint8_t *out, size_t *len)
{
    if (r->len < 2) return 0;
    const uint8_t *p = r->data;
    *b0 = p[0];
    *masked = p[1] & 0x80;
    uint64_t n = p[1] & 0x7f;
    size_t h = 2;
    if (n == 126) {
        n = (uint64_t)p[2] << 8 | p[3];
        h = 4;
    } else if (n == 127) {
        n = 0;
        for (int i = 0; i < 8; i++)
            n = n << 8 | p[2 + i];
        h = 10;
    }
    const uint8_t *key = p + h;
    if (*masked) h += 4;
    if (r->len < h + n) return 0;
    for (size_t i = 0; i < n; i++)
        out[i] = p[h + i] ^ (*masked ? key[i & 3] : 0);
    *len = (size_t)n;
    return h + (size_t)n;
}

static const uint8_t KEY[4] = {0x37, 0xfa, 0x21, 0x3d};

/* ---- accept key and server answers ---- */

static void test_accept_key_rfc_vector(void **state)
{
    char out[WS_ACCEPT_LEN + 1];
    const char *k = "dGhlIHNhbXBsZSBub25jZQ==";
    assert_int_equal(ws_accept_key(k, strlen(k), out), 0);
    assert_string_equal(out, "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=");
    /* The live capture in vectors/http-vhost.txt. */
    k = "ZKbz/Se7r0NSI09Bp60RbA==";
    assert_int_equal(ws_accept_key(k, strlen(k), out), 0);
    assert_string_equal(out, "hs/lEwq1SqJuTGaRDPzUsBukOys=");
    char big[WS_KEY_MAX + 1];
    memset(big, 'a', sizeof big);
    assert_int_equal(ws_accept_key(big, sizeof big, out), CFRP_EINVAL);
}

#define S(x) ((struct ws_str){x, sizeof x - 1})

static void test_server_answer(void **state)
{
    char out[512];
    size_t n = 0;
    struct ws_upgrade_req rq = {.upgrade = S("WebSocket"),
                                .connection = S("keep-alive, Upgrade"),
                                .key = S("ZKbz/Se7r0NSI09Bp60RbA=="),
                                .version = S("13"),
                                .origin = S("http://127.0.0.1:17000")};
    assert_int_equal(ws_server_answer(&rq, out, sizeof out, &n), 101);
    const char want[] = "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: "
                        "Upgrade\r\nSec-WebSocket-Accept: hs/lEwq1SqJuTGaRDPzUsBukOys=\r\n\r\n";
    assert_int_equal(n, sizeof want - 1);
    assert_memory_equal(out, want, n);

    struct ws_upgrade_req r2 = rq;
    r2.origin = (struct ws_str){0};
    assert_int_equal(ws_server_answer(&r2, out, sizeof out, &n), 403);
    assert_memory_equal(out, "HTTP/1.1 403 Forbidden\r\n\r\n", n);
    r2.origin = S("not a url");
    assert_int_equal(ws_server_answer(&r2, out, sizeof out, &n), 403);

    r2 = rq;
    r2.version = S("8");
    assert_int_equal(ws_server_answer(&r2, out, sizeof out, &n), 400);
    const char bad_ver[] = "HTTP/1.1 400 Bad Request\r\nSec-WebSocket-Version: 13\r\n\r\n"
                           "missing or bad WebSocket Version";
    assert_int_equal(n, sizeof bad_ver - 1);
    assert_memory_equal(out, bad_ver, n);

    r2 = rq;
    r2.upgrade = S("h2c");
    assert_int_equal(ws_server_answer(&r2, out, sizeof out, &n), 400);
    assert_non_null(strstr(out, "not websocket protocol"));
    r2 = rq;
    r2.connection = S("close");
    assert_int_equal(ws_server_answer(&r2, out, sizeof out, &n), 400);
    r2 = rq;
    r2.key = (struct ws_str){0};
    assert_int_equal(ws_server_answer(&r2, out, sizeof out, &n), 400);
    assert_non_null(strstr(out, "mismatch challenge/response"));

    r2 = rq;
    r2.protocol = S(" chat ");
    assert_int_equal(ws_server_answer(&r2, out, sizeof out, &n), 101);
    assert_non_null(strstr(out, "Sec-WebSocket-Protocol: chat\r\n"));
    r2.protocol = S("a, b");
    assert_int_equal(ws_server_answer(&r2, out, sizeof out, &n), 400);
    assert_int_equal(ws_server_answer(&rq, out, 40, &n), CFRP_ETOOBIG);
}

/* ---- client ---- */

/* Reads the client's request head from rb, checks it, and returns the accept value. */
static void check_request(rec *rb, const char *host, char accept[WS_ACCEPT_LEN + 1])
{
    rec_add(rb, "", 1);
    const char *req = (const char *)rb->data;
    const char *end = strstr(req, "\r\n\r\n");
    assert_non_null(end);
    char want_start[256];
    snprintf(want_start, sizeof want_start,
             "GET /~!frp HTTP/1.1\r\nHost: %s\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
             "Sec-WebSocket-Key: ",
             host);
    assert_memory_equal(req, want_start, strlen(want_start));
    const char *key = req + strlen(want_start);
    const char *key_end = strstr(key, "\r\n");
    assert_int_equal(key_end - key, 24);
    assert_int_equal(ws_accept_key(key, 24, accept), 0);
    assert_non_null(strstr(key_end, "\r\nOrigin: http://example.com:7000\r\n"
                                    "Sec-WebSocket-Version: 13\r\n\r\n"));
    rb->len--;
    rec_take(rb, (size_t)(end + 4 - req));
}

static void test_client_handshake_and_frames(void **state)
{
    uv_loop_t loop;
    uv_loop_init(&loop);
    stream *a, *b, *ws;
    assert_int_equal(pipe_pair(&loop, &a, &b), 0);
    rec ra = {0}, rb = {0};
    assert_int_equal(ws_client_new(&loop, a, "Example.COM:7000", "/~!frp", on_hs, &ra, &ws), 0);
    ws->data = &ra;
    ws->on_close = on_close;
    b->data = &rb;
    assert_int_equal(stream_read_start(b, on_read), 0);
    /* Written before the handshake: held, counted by queued(). */
    assert_int_equal(stream_write_copy(ws, "early", 5, NULL, NULL), 0);
    run(&loop);
    assert_int_equal(stream_queued(ws), 5); /* the request itself was read by b */
    assert_int_equal(ra.hs_calls, 0);
    char accept[WS_ACCEPT_LEN + 1];
    /* The Host keeps its case, the Origin is lower-cased. */
    check_request(&rb, "Example.COM:7000", accept);
    assert_int_equal(rb.len, 0); /* nothing framed before the 101 */

    /* The 101 and a first server frame in one write. */
    char resp[256];
    int n = snprintf(resp, sizeof resp,
                     "HTTP/1.1 101 Switching Protocols\r\nupgrade: WebSocket\r\n"
                     "Connection: upgrade\r\nSec-WebSocket-Accept: %s\r\n\r\n",
                     accept);
    uint8_t buf[70100];
    size_t fl = frame(buf, true, 0x2, "hello", 5, NULL);
    memcpy(resp + n, buf, fl);
    assert_int_equal(stream_write_copy(b, resp, (size_t)n + fl, NULL, NULL), 0);
    assert_int_equal(stream_read_start(ws, on_read), 0);
    run(&loop);
    assert_int_equal(ra.hs_calls, 1);
    assert_int_equal(ra.hs_status, 0);
    assert_int_equal(ra.len, 5);
    assert_memory_equal(ra.data, "hello", 5);

    /* The early write went out after the handshake: one masked text frame. */
    uint8_t b0, payload[70100];
    bool masked;
    size_t plen;
    size_t used = parse(&rb, &b0, &masked, payload, &plen);
    assert_true(used > 0);
    assert_int_equal(b0, 0x81);
    assert_true(masked);
    assert_int_equal(plen, 5);
    assert_memory_equal(payload, "early", 5);
    assert_memory_not_equal(rb.data + 6, "early", 5); /* really masked */
    rec_take(&rb, used);

    /* Length forms: 126 (16-bit) and 127 (64-bit); two bufs make one frame. */
    uint8_t big[70000];
    for (size_t i = 0; i < sizeof big; i++)
        big[i] = (uint8_t)(i * 7);
    assert_int_equal(stream_write_copy(ws, big, 300, NULL, NULL), 0);
    buf_ref two[2] = {buf_ref_copy(big, 1000), buf_ref_copy(big + 1000, sizeof big - 1000)};
    assert_int_equal(stream_write(ws, two, 2, NULL, NULL), 0);
    run(&loop);
    used = parse(&rb, &b0, &masked, payload, &plen);
    assert_int_equal(rb.data[1], 0x80 | 126);
    assert_int_equal(plen, 300);
    assert_memory_equal(payload, big, 300);
    rec_take(&rb, used);
    used = parse(&rb, &b0, &masked, payload, &plen);
    assert_int_equal(rb.data[1], 0x80 | 127);
    assert_int_equal(plen, sizeof big);
    assert_memory_equal(payload, big, sizeof big);
    rec_take(&rb, used);

    /* A ping is answered with a masked pong carrying the same payload. */
    fl = frame(buf, true, 0x9, "pi", 2, NULL);
    assert_int_equal(stream_write_copy(b, buf, fl, NULL, NULL), 0);
    run(&loop);
    used = parse(&rb, &b0, &masked, payload, &plen);
    assert_int_equal(b0, 0x8a);
    assert_true(masked);
    assert_int_equal(plen, 2);
    assert_memory_equal(payload, "pi", 2);
    rec_take(&rb, used);

    /* Close reads as EOF; shutdown sends Close 1000 (close() does so too, best effort:
     * a pipe drops what is queued when its end closes). */
    fl = frame(buf, true, 0x8, "\x03\xe8", 2, NULL);
    assert_int_equal(stream_write_copy(b, buf, fl, NULL, NULL), 0);
    run(&loop);
    assert_int_equal(ra.eof, 1);
    assert_int_equal(stream_shutdown(ws), 0);
    run(&loop);
    stream_close(ws);
    run(&loop);
    used = parse(&rb, &b0, &masked, payload, &plen);
    assert_int_equal(b0, 0x88);
    assert_int_equal(plen, 2);
    assert_memory_equal(payload, "\x03\xe8", 2);
    assert_int_equal(ra.closed, 1);
    finish(&loop, NULL, b, &ra, &rb);
}

/* Runs a client handshake against resp; returns the handshake status. */
static int client_against(const char *resp_fmt, bool use_accept, char *err, size_t errlen)
{
    uv_loop_t loop;
    uv_loop_init(&loop);
    stream *a, *b, *ws;
    assert_int_equal(pipe_pair(&loop, &a, &b), 0);
    rec ra = {0}, rb = {0};
    assert_int_equal(ws_client_new(&loop, a, "example.com:7000", "/~!frp", on_hs, &ra, &ws), 0);
    ws->data = &ra;
    b->data = &rb;
    assert_int_equal(stream_read_start(b, on_read), 0);
    assert_int_equal(stream_read_start(ws, on_read), 0);
    run(&loop);
    char accept[WS_ACCEPT_LEN + 1];
    check_request(&rb, "example.com:7000", accept);
    if (resp_fmt) {
        char resp[512];
        int n = snprintf(resp, sizeof resp, resp_fmt, use_accept ? accept : "x");
        assert_int_equal(stream_write_copy(b, resp, (size_t)n, NULL, NULL), 0);
        if (!strstr(resp, "\r\n\r\n")) stream_shutdown(b); /* a cut-off head */
    } else {
        stream_shutdown(b);
    }
    run(&loop);
    assert_int_equal(ra.hs_calls, 1);
    if (ra.hs_status < 0) assert_int_equal(ra.err != 0 || ra.eof, 1); /* the reader heard */
    snprintf(err, errlen, "%s", ra.hs_err);
    int st = ra.hs_status;
    finish(&loop, ws, b, &ra, &rb);
    return st;
}

static void test_client_handshake_failures(void **state)
{
    char err[128];
    assert_int_equal(client_against("HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n"
                                    "Connection: Upgrade\r\nSec-WebSocket-Accept: %s\r\n\r\n",
                                    true, err, sizeof err),
                     0);
    assert_true(client_against("HTTP/1.1 404 Not Found\r\nX: %s\r\n\r\n", true, err, sizeof err) <
                0);
    assert_string_equal(err, "bad status");
    assert_true(client_against("HTTP/1.1 101 OK\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                               "Sec-WebSocket-Accept: %s\r\n\r\n",
                               false, err, sizeof err) < 0);
    assert_string_equal(err, "mismatch challenge/response");
    assert_true(client_against("HTTP/1.1 101 OK\r\nUpgrade: websocket\r\nConnection: keep-alive, "
                               "Upgrade\r\nSec-WebSocket-Accept: %s\r\n\r\n",
                               true, err, sizeof err) < 0);
    assert_string_equal(err, "missing or bad upgrade");
    assert_true(client_against("HTTP/1.1 101 OK\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                               "Sec-WebSocket-Accept: %s\r\nSec-WebSocket-Extensions: x\r\n\r\n",
                               true, err, sizeof err) < 0);
    assert_string_equal(err, "unsupported extensions");
    assert_true(client_against(NULL, true, err, sizeof err) < 0);
    assert_string_equal(err, "EOF");
    assert_true(client_against("HTTP/1.1 101 %s", true, err, sizeof err) < 0);
    assert_string_equal(err, "unexpected EOF");
}

static void test_client_rejects_masked_and_huge_head(void **state)
{
    uv_loop_t loop;
    uv_loop_init(&loop);
    stream *a, *b, *ws;
    assert_int_equal(pipe_pair(&loop, &a, &b), 0);
    rec ra = {0}, rb = {0};
    assert_int_equal(ws_client_new(&loop, a, "h:1", "/~!frp", on_hs, &ra, &ws), 0);
    ws->data = &ra;
    b->data = &rb;
    assert_int_equal(stream_read_start(b, on_read), 0);
    assert_int_equal(stream_read_start(ws, on_read), 0);
    run(&loop);
    char head[WS_RESPONSE_MAX + 10];
    memset(head, 'a', sizeof head);
    memcpy(head, "HTTP/1.1 101 OK\r\nX: ", 20);
    assert_int_equal(stream_write_copy(b, head, sizeof head, NULL, NULL), 0);
    run(&loop);
    assert_int_equal(ra.hs_calls, 1);
    assert_int_equal(ra.hs_status, CFRP_ETOOBIG);
    assert_int_equal(ra.err, CFRP_ETOOBIG);
    finish(&loop, ws, b, &ra, &rb);
}

/* ---- server ---- */

struct srv {
    uv_loop_t loop;
    stream *ws, *b;
    rec ra, rb;
};

static void srv_open(struct srv *t, const void *prefix, size_t plen)
{
    memset(t, 0, sizeof *t);
    uv_loop_init(&t->loop);
    stream *a;
    assert_int_equal(pipe_pair(&t->loop, &a, &t->b), 0);
    assert_int_equal(ws_server_new(&t->loop, a, prefix, plen, &t->ws), 0);
    t->ws->data = &t->ra;
    t->ws->on_close = on_close;
    t->b->data = &t->rb;
    assert_int_equal(stream_read_start(t->b, on_read), 0);
    assert_int_equal(stream_read_start(t->ws, on_read), 0);
}

static void srv_send(struct srv *t, const void *p, size_t n)
{
    assert_int_equal(stream_write_copy(t->b, p, n, NULL, NULL), 0);
    run(&t->loop);
}

static void test_server_fragments_ping_close(void **state)
{
    struct srv t;
    uint8_t buf[256];
    size_t n = frame(buf, false, 0x1, "he", 2, KEY);
    srv_open(&t, buf, n); /* bytes after the request head */
    uint8_t k2[4] = {1, 2, 3, 4};
    n = frame(buf, false, 0x0, "ll", 2, k2);
    n += frame(buf + n, true, 0x9, "p", 1, KEY); /* a ping between fragments */
    n += frame(buf + n, true, 0x0, "o", 1, k2);
    n += frame(buf + n, true, 0x2, "", 0, KEY); /* empty binary frame */
    n += frame(buf + n, true, 0xa, "ignored", 7, KEY);
    /* One byte at a time: headers split anywhere. */
    for (size_t i = 0; i < n; i++)
        srv_send(&t, buf + i, 1);
    assert_int_equal(t.ra.len, 5);
    assert_memory_equal(t.ra.data, "hello", 5);
    assert_int_equal(t.ra.err, 0);
    /* The pong is unmasked. */
    assert_int_equal(t.rb.len, 3);
    assert_memory_equal(t.rb.data, "\x8a\x01p", 3);
    rec_take(&t.rb, 3);

    /* Server writes are unmasked text frames. */
    assert_int_equal(stream_write_copy(t.ws, "xyz", 3, NULL, NULL), 0);
    run(&t.loop);
    assert_int_equal(t.rb.len, 5);
    assert_memory_equal(t.rb.data, "\x81\x03xyz", 5);
    rec_take(&t.rb, 5);

    /* A large masked frame in several reads arrives whole and unmasked. */
    static uint8_t big[200000 + 14], src[200000];
    for (size_t i = 0; i < sizeof src; i++)
        src[i] = (uint8_t)(i ^ (i >> 8));
    n = frame(big, true, 0x2, src, sizeof src, KEY);
    srv_send(&t, big, 1000);
    srv_send(&t, big + 1000, n - 1000);
    assert_int_equal(t.ra.len, 5 + sizeof src);
    assert_memory_equal(t.ra.data + 5, src, sizeof src);

    /* read_stop holds frames back; read_start delivers them later. */
    stream_read_stop(t.ws);
    n = frame(buf, true, 0x1, "later", 5, KEY);
    srv_send(&t, buf, n);
    assert_int_equal(t.ra.len, 5 + sizeof src);
    stream_read_start(t.ws, on_read);
    run(&t.loop);
    assert_int_equal(t.ra.len, 10 + sizeof src);

    n = frame(buf, true, 0x8, "\x03\xe8", 2, KEY);
    srv_send(&t, buf, n);
    assert_int_equal(t.ra.eof, 1);
    /* shutdown sends Close 1000. */
    assert_int_equal(stream_shutdown(t.ws), 0);
    run(&t.loop);
    assert_int_equal(t.rb.len, 4);
    assert_memory_equal(t.rb.data, "\x88\x02\x03\xe8", 4);
    assert_int_equal(t.rb.eof, 1);
    assert_int_equal(stream_write_copy(t.ws, "x", 1, NULL, NULL), UV_EPIPE);
    finish(&t.loop, t.ws, t.b, &t.ra, &t.rb);
    assert_int_equal(t.ra.closed, 1);
}

/* Sends one malformed frame header to a server; checks the read error and the Close
 * code it answered with. */
static void malformed(const uint8_t *p, size_t n, int want_err, uint16_t want_code)
{
    struct srv t;
    srv_open(&t, NULL, 0);
    srv_send(&t, p, n);
    assert_int_equal(t.ra.err, want_err);
    assert_int_equal(t.ra.len, 0);
    assert_int_equal(t.rb.len, 4);
    assert_int_equal(t.rb.data[0], 0x88);
    assert_int_equal(t.rb.data[2] << 8 | t.rb.data[3], want_code);
    /* Nothing more is read or written after the failure. */
    uint8_t ok[32];
    size_t fl = frame(ok, true, 0x1, "x", 1, KEY);
    srv_send(&t, ok, fl);
    assert_int_equal(t.ra.len, 0);
    assert_int_equal(stream_write_copy(t.ws, "x", 1, NULL, NULL), want_err);
    finish(&t.loop, t.ws, t.b, &t.ra, &t.rb);
}

static void test_server_rejects_malformed(void **state)
{
    uint8_t buf[64];
    /* unmasked client frame */
    size_t n = frame(buf, true, 0x1, "abc", 3, NULL);
    malformed(buf, n, CFRP_EPROTO, 1002);
    /* reserved bit */
    n = frame(buf, true, 0x1, "abc", 3, KEY);
    buf[0] |= 0x40;
    malformed(buf, n, CFRP_EPROTO, 1002);
    /* unknown opcode */
    n = frame(buf, true, 0x3, "abc", 3, KEY);
    malformed(buf, n, CFRP_EPROTO, 1002);
    /* fragmented ping */
    n = frame(buf, false, 0x9, "abc", 3, KEY);
    malformed(buf, n, CFRP_EPROTO, 1002);
    /* control frame longer than 125 bytes (16-bit length form) */
    const uint8_t ctl[] = {0x89, 0x80 | 126, 0x00, 126, 1, 2, 3, 4};
    malformed(ctl, sizeof ctl, CFRP_EPROTO, 1002);
    /* data frame over WS_MAX_FRAME */
    uint8_t huge[14] = {0x82, 0x80 | 127, 0, 0, 0, 0, 0, 0, 0, 0, 1, 2, 3, 4};
    uint64_t len = (uint64_t)WS_MAX_FRAME + 1;
    for (int i = 0; i < 8; i++)
        huge[2 + i] = (uint8_t)(len >> (56 - 8 * i));
    malformed(huge, sizeof huge, CFRP_ETOOBIG, 1009);
    /* 64-bit length with the top bit set */
    uint8_t top[14] = {0x82, 0x80 | 127, 0x80, 0, 0, 0, 0, 0, 0, 5, 1, 2, 3, 4};
    malformed(top, sizeof top, CFRP_ETOOBIG, 1009);
}

static void test_server_frame_at_limit_streams(void **state)
{
    /* A frame of exactly WS_MAX_FRAME is accepted and streamed: the reader sees bytes
     * before the frame is complete. */
    struct srv t;
    srv_open(&t, NULL, 0);
    uint8_t h[14] = {0x82, 0x80 | 127};
    uint64_t len = WS_MAX_FRAME;
    for (int i = 0; i < 8; i++)
        h[2 + i] = (uint8_t)(len >> (56 - 8 * i));
    memcpy(h + 10, "\0\0\0\0", 4);
    srv_send(&t, h, sizeof h);
    static uint8_t part[65536];
    memset(part, 'z', sizeof part);
    srv_send(&t, part, sizeof part);
    assert_int_equal(t.ra.err, 0);
    assert_int_equal(t.ra.len, sizeof part);
    assert_int_equal(t.ra.data[0], 'z');
    /* EOF in the middle of the frame ends the stream. */
    stream_shutdown(t.b);
    run(&t.loop);
    assert_int_equal(t.ra.eof, 1);
    finish(&t.loop, t.ws, t.b, &t.ra, &t.rb);
}

static void test_client_rejects_masked_server_frame(void **state)
{
    uv_loop_t loop;
    uv_loop_init(&loop);
    stream *a, *b, *ws;
    assert_int_equal(pipe_pair(&loop, &a, &b), 0);
    rec ra = {0}, rb = {0};
    assert_int_equal(ws_client_new(&loop, a, "example.com:7000", "/~!frp", on_hs, &ra, &ws), 0);
    ws->data = &ra;
    b->data = &rb;
    assert_int_equal(stream_read_start(b, on_read), 0);
    assert_int_equal(stream_read_start(ws, on_read), 0);
    run(&loop);
    char accept[WS_ACCEPT_LEN + 1];
    check_request(&rb, "example.com:7000", accept);
    char resp[512];
    int n = snprintf(resp, sizeof resp,
                     "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n"
                     "Connection: Upgrade\r\nSec-WebSocket-Accept: %s\r\n\r\n",
                     accept);
    n += (int)frame((uint8_t *)resp + n, true, 0x1, "abc", 3, KEY);
    assert_int_equal(stream_write_copy(b, resp, (size_t)n, NULL, NULL), 0);
    run(&loop);
    assert_int_equal(ra.hs_status, 0);
    assert_int_equal(ra.err, CFRP_EPROTO);
    assert_int_equal(ra.len, 0);
    /* Close 1002, masked as every client frame. */
    uint8_t b0, payload[8];
    bool masked;
    size_t plen;
    assert_true(parse(&rb, &b0, &masked, payload, &plen) > 0);
    assert_int_equal(b0, 0x88);
    assert_true(masked);
    assert_int_equal(payload[0] << 8 | payload[1], 1002);
    finish(&loop, ws, b, &ra, &rb);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_accept_key_rfc_vector),
        cmocka_unit_test(test_server_answer),
        cmocka_unit_test(test_client_handshake_and_frames),
        cmocka_unit_test(test_client_handshake_failures),
        cmocka_unit_test(test_client_rejects_masked_and_huge_head),
        cmocka_unit_test(test_server_fragments_ping_close),
        cmocka_unit_test(test_server_rejects_malformed),
        cmocka_unit_test(test_server_frame_at_limit_streams),
        cmocka_unit_test(test_client_rejects_masked_server_frame),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
