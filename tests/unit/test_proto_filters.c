/* Unit tests of the AES-CFB and snappy stream filters over the in-memory pipe: random
 * data in many write sizes both ways, the bytes on the wire, leftover (head) bytes
 * after a clear frame, backpressure through read_stop, corrupt input and close. */
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
#include "proto/crypto.h"
#include "proto/crypto_stream.h"
#include "proto/frame.h"
#include "proto/msg_io.h"
#include "proto/snappy_frame.h"
#include "proto/snappy_stream.h"

static uv_loop_t loop;
static uint8_t key[CRYPTO_KEY_LEN];
static uint32_t rng = 7;

static uint32_t next_rand(void)
{
    rng = rng * 1103515245u + 12345u;
    return rng >> 8;
}

static int setup(void **state)
{
    uv_loop_init(&loop);
    return crypto_derive_key("12345678", 8, key);
}

static int teardown(void **state)
{
    uv_run(&loop, UV_RUN_DEFAULT);
    int rc = uv_loop_close(&loop);
    buf_pool_drain();
    return rc;
}

/* One end of a transfer: writes `send` in varied sizes, then shuts down; collects what
 * it reads until EOF. */
typedef struct side {
    stream *s;
    const char *send;
    size_t send_len, sent;
    char *recv;
    size_t recv_len, recv_cap;
    ssize_t end_status; /* what ended the read side (0: not yet) */
    int writes_done;
    int writes_failed;
    bool closed;
    bool pause_reads; /* read_stop after every read, resumed by a timer */
    uv_timer_t resume;
} side;

static void side_write_next(side *sd);

static void side_on_write(stream *s, int status, void *arg)
{
    side *sd = arg;
    if (status < 0) {
        sd->writes_failed++;
        return;
    }
    sd->writes_done++;
    side_write_next(sd);
}

/* Sizes 1..64K+ and beyond, mixed, some writes split into several buffers. */
static void side_write_next(side *sd)
{
    if (sd->sent == sd->send_len) {
        assert_int_equal(stream_shutdown(sd->s), 0);
        return;
    }
    static const size_t sizes[] = {1, 2, 15, 16, 17, 100, 1000, 4096, 16384, 32768, 65535, 65536,
                                   65537, 100000, 200000};
    size_t n = sizes[next_rand() % (sizeof(sizes) / sizeof(sizes[0]))];
    if (n > sd->send_len - sd->sent)
        n = sd->send_len - sd->sent;
    buf_ref bufs[3];
    size_t nb = n >= 3 && next_rand() % 2 ? 3 : 1;
    size_t off = 0;
    for (size_t i = 0; i < nb; i++) {
        size_t len = i + 1 == nb ? n - off : n / 3;
        bufs[i] = buf_ref_copy(sd->send + sd->sent + off, len);
        assert_non_null(bufs[i].chunk);
        off += len;
    }
    /* Sometimes share the chunk, so the filter must not transform it in place. */
    buf_ref keep = {0};
    if (next_rand() % 4 == 0)
        keep = buf_ref_dup(&bufs[0]);
    char before[64];
    size_t check = keep.len < sizeof(before) ? keep.len : sizeof(before);
    if (keep.chunk)
        memcpy(before, keep.base, check);
    sd->sent += n;
    assert_int_equal(stream_write(sd->s, bufs, nb, side_on_write, sd), 0);
    if (keep.chunk) {
        assert_memory_equal(before, keep.base, check);
        buf_ref_release(&keep);
    }
}

static void side_resume(uv_timer_t *t)
{
    side *sd = t->data;
    if (!sd->closed && sd->end_status == 0)
        assert_int_equal(stream_read_start(sd->s, sd->s->on_read), 0);
}

static void side_on_read(stream *s, ssize_t nread, buf_ref data)
{
    side *sd = s->data;
    assert_false(sd->closed);
    assert_int_equal(sd->end_status, 0);
    if (nread < 0) {
        sd->end_status = nread;
        return;
    }
    assert_int_equal((size_t)nread, data.len);
    assert_true(sd->recv_len + data.len <= sd->recv_cap);
    memcpy(sd->recv + sd->recv_len, data.base, data.len);
    sd->recv_len += data.len;
    buf_ref_release(&data);
    if (sd->pause_reads) {
        stream_read_stop(s);
        uv_timer_start(&sd->resume, side_resume, 1, 0);
    }
}

static void side_on_close(stream *s)
{
    side *sd = s->data;
    assert_false(sd->closed);
    sd->closed = true;
}

static void side_init(side *sd, stream *s, const char *send, size_t send_len, size_t recv_cap)
{
    memset(sd, 0, sizeof(*sd));
    sd->s = s;
    s->data = sd;
    s->on_close = side_on_close;
    sd->send = send;
    sd->send_len = send_len;
    sd->recv = malloc(recv_cap ? recv_cap : 1);
    sd->recv_cap = recv_cap;
    uv_timer_init(&loop, &sd->resume);
    sd->resume.data = sd;
}

static void side_free(side *sd)
{
    uv_close((uv_handle_t *)&sd->resume, NULL);
    free(sd->recv);
}

enum layers { L_AES = 1, L_SNAPPY = 2 };

/* Puts the filters of `layers` on s (AES below snappy). */
static stream *wrap(stream *s, int layers)
{
    stream *out = s;
    if (layers & L_AES)
        assert_int_equal(crypto_stream_new(&loop, out, key, NULL, 0, &out), 0);
    if (layers & L_SNAPPY)
        assert_int_equal(snappy_stream_new(&loop, out, NULL, 0, &out), 0);
    return out;
}

static char *random_data(size_t n, bool compressible)
{
    char *d = malloc(n ? n : 1);
    for (size_t i = 0; i < n; i++)
        d[i] = compressible ? "frp tunnel "[next_rand() % 4 == 0 ? next_rand() % 11 : i % 11]
                            : (char)next_rand();
    return d;
}

/* Transfers a_len bytes a->b and b_len bytes b->a through the layers and checks them. */
static void transfer(int layers, size_t a_len, size_t b_len, bool compressible, bool pause)
{
    stream *pa, *pb;
    assert_int_equal(pipe_pair(&loop, &pa, &pb), 0);
    char *da = random_data(a_len, compressible), *db = random_data(b_len, compressible);
    side a, b;
    side_init(&a, wrap(pa, layers), da, a_len, b_len);
    side_init(&b, wrap(pb, layers), db, b_len, a_len);
    a.pause_reads = b.pause_reads = pause;
    assert_int_equal(stream_read_start(a.s, side_on_read), 0);
    assert_int_equal(stream_read_start(b.s, side_on_read), 0);
    side_write_next(&a);
    side_write_next(&b);
    while (a.end_status == 0 || b.end_status == 0)
        assert_true(uv_run(&loop, UV_RUN_ONCE) != 0 || (a.end_status && b.end_status));
    assert_int_equal(a.end_status, UV_EOF);
    assert_int_equal(b.end_status, UV_EOF);
    assert_int_equal(a.recv_len, b_len);
    assert_int_equal(b.recv_len, a_len);
    assert_memory_equal(a.recv, db, b_len);
    assert_memory_equal(b.recv, da, a_len);
    assert_int_equal(a.writes_failed + b.writes_failed, 0);
    stream_close(a.s);
    stream_close(b.s);
    side_free(&a);
    side_free(&b);
    uv_run(&loop, UV_RUN_DEFAULT);
    assert_true(a.closed && b.closed);
    free(da);
    free(db);
}

static void test_aes_roundtrip(void **state)
{
    transfer(L_AES, 1000000, 300000, false, false);
    transfer(L_AES, 1, 0, false, false);
    transfer(L_AES, 0, 0, false, false);
}

static void test_snappy_roundtrip(void **state)
{
    transfer(L_SNAPPY, 1000000, 300000, false, false);
    transfer(L_SNAPPY, 1000000, 1000, true, false);
}

static void test_layered_roundtrip(void **state)
{
    transfer(L_AES | L_SNAPPY, 1500000, 700000, true, false);
    transfer(L_AES | L_SNAPPY, 500000, 500000, false, false);
}

static void test_backpressure(void **state)
{
    /* Reads stop after every piece and resume 1 ms later: nothing is lost or reordered. */
    transfer(L_AES | L_SNAPPY, 300000, 200000, true, true);
    transfer(L_AES, 200000, 100, false, true);
}

/* Raw reader on the other end of the pipe. */
typedef struct raw {
    char buf[1 << 20];
    size_t len;
    ssize_t end;
} raw;

static void raw_on_read(stream *s, ssize_t nread, buf_ref data)
{
    raw *r = s->data;
    if (nread < 0) {
        r->end = nread;
        return;
    }
    assert_true(r->len + data.len <= sizeof(r->buf));
    memcpy(r->buf + r->len, data.base, data.len);
    r->len += data.len;
    buf_ref_release(&data);
}

static void run_until(ssize_t *flag)
{
    while (*flag == 0)
        uv_run(&loop, UV_RUN_ONCE);
}

static void close_quiet(stream *s)
{
    s->on_close = NULL;
    stream_close(s);
}

/* What the filters put on the wire: IV then CFB ciphertext of the snappy frames. */
static void test_wire_format(void **state)
{
    stream *pa, *pb;
    static raw r;
    memset(&r, 0, sizeof(r));
    assert_int_equal(pipe_pair(&loop, &pa, &pb), 0);
    stream *f = wrap(pa, L_AES | L_SNAPPY);
    pb->data = &r;
    assert_int_equal(stream_read_start(pb, raw_on_read), 0);
    assert_int_equal(stream_write_copy(f, "hello frp", 9, NULL, NULL), 0);
    assert_int_equal(stream_write_copy(f, "", 0, NULL, NULL), 0);
    assert_int_equal(stream_write_copy(f, "hello frp", 9, NULL, NULL), 0);
    assert_int_equal(stream_shutdown(f), 0);
    run_until(&r.end);
    assert_int_equal(r.end, UV_EOF);
    assert_int_equal(r.len, 16 + 27 + 17);
    crypto_cfb dec;
    assert_int_equal(crypto_cfb_init(&dec, key, (uint8_t *)r.buf, false), 0);
    assert_int_equal(crypto_cfb_update(&dec, r.buf + 16, r.buf + 16, r.len - 16), 0);
    crypto_cfb_free(&dec);
    static const char want[] = "\xff\x06\x00\x00sNaPpY\x01\x0d\x00\x00\x0b\x60\xeb\x93hello frp"
                               "\x01\x0d\x00\x00\x0b\x60\xeb\x93hello frp";
    assert_memory_equal(r.buf + 16, want, sizeof(want) - 1);
    close_quiet(f);
    close_quiet(pb);
    uv_run(&loop, UV_RUN_DEFAULT);
}

/* A control stream: LoginResp in clear, the peer's IV and encrypted frames right
 * behind it in the same write. The clear frame is read raw, the leftover becomes the
 * filter's head. */
typedef struct ctl {
    msg_reader mr;
    stream *raw;
    stream *enc;
    int frames;
    char types[8];
    ssize_t end;
} ctl;

static void ctl_on_enc_read(stream *s, ssize_t nread, buf_ref data)
{
    ctl *c = s->data;
    if (nread < 0) {
        c->end = nread;
        return;
    }
    size_t off = 0;
    while (off < data.len) {
        size_t used;
        msg m;
        int rc = msg_reader_feed(&c->mr, data.base + off, data.len - off, &used, &m, NULL, 0);
        assert_true(rc >= 0);
        off += used;
        if (rc == 1) {
            c->types[c->frames++] = (char)m.type;
            msg_clear(&m);
        }
    }
    buf_ref_release(&data);
}

static void ctl_on_raw_read(stream *s, ssize_t nread, buf_ref data)
{
    ctl *c = s->data;
    assert_true(nread > 0);
    size_t used;
    msg m;
    int rc = msg_reader_feed(&c->mr, data.base, data.len, &used, &m, NULL, 0);
    if (rc == 0) {
        buf_ref_release(&data);
        return;
    }
    assert_int_equal(rc, 1);
    assert_int_equal(m.type, MSG_LOGIN_RESP);
    assert_string_equal(m.u.login_resp.run_id, "76efae3ffefb75f2");
    msg_clear(&m);
    c->types[c->frames++] = '1';
    stream_read_stop(s);
    assert_int_equal(crypto_stream_new(&loop, s, key, data.base + used, data.len - used, &c->enc), 0);
    buf_ref_release(&data);
    c->enc->data = c;
    assert_int_equal(stream_read_start(c->enc, ctl_on_enc_read), 0);
}

static void test_head_bytes(void **state)
{
    stream *pa, *pb;
    assert_int_equal(pipe_pair(&loop, &pa, &pb), 0);
    /* The frps side: LoginResp, then an AES filter for the rest. */
    char buf[256];
    size_t n = 0, len;
    msg m;
    msg_init(&m, MSG_LOGIN_RESP);
    m.u.login_resp.version = "0.61.1";
    m.u.login_resp.run_id = "76efae3ffefb75f2";
    assert_int_equal(msg_frame_encode(&m, buf, sizeof(buf), &len), 0);
    n += len;
    /* Encrypt two frames by hand with a known IV, appended to the same write. */
    uint8_t iv[16] = {1, 2, 3};
    memcpy(buf + n, iv, 16);
    n += 16;
    crypto_cfb enc;
    assert_int_equal(crypto_cfb_init(&enc, key, iv, true), 0);
    msg_init(&m, MSG_REQ_WORK_CONN);
    assert_int_equal(msg_frame_encode(&m, buf + n, sizeof(buf) - n, &len), 0);
    assert_int_equal(crypto_cfb_update(&enc, buf + n, buf + n, len), 0);
    n += len;
    msg_init(&m, MSG_PONG);
    assert_int_equal(msg_frame_encode(&m, buf + n, sizeof(buf) - n, &len), 0);
    assert_int_equal(crypto_cfb_update(&enc, buf + n, buf + n, len), 0);
    n += len;
    size_t part1 = n;
    /* One more frame in a later write. */
    msg_init(&m, MSG_NEW_PROXY_RESP);
    m.u.new_proxy_resp.proxy_name = "echo";
    assert_int_equal(msg_frame_encode(&m, buf + n, sizeof(buf) - n, &len), 0);
    assert_int_equal(crypto_cfb_update(&enc, buf + n, buf + n, len), 0);
    n += len;
    crypto_cfb_free(&enc);

    static ctl c;
    memset(&c, 0, sizeof(c));
    msg_reader_init(&c.mr);
    pb->data = &c;
    assert_int_equal(stream_read_start(pb, ctl_on_raw_read), 0);
    assert_int_equal(stream_write_copy(pa, buf, part1, NULL, NULL), 0);
    assert_int_equal(stream_write_copy(pa, buf + part1, n - part1, NULL, NULL), 0);
    assert_int_equal(stream_shutdown(pa), 0);
    run_until(&c.end);
    assert_int_equal(c.end, UV_EOF);
    assert_int_equal(c.frames, 4);
    assert_memory_equal(c.types, "1r42", 4);
    close_quiet(c.enc);
    close_quiet(pa);
    uv_run(&loop, UV_RUN_DEFAULT);
}

/* msg_send writes one frame per message through a filter. */
static void test_msg_send(void **state)
{
    stream *pa, *pb;
    static ctl c;
    memset(&c, 0, sizeof(c));
    msg_reader_init(&c.mr);
    assert_int_equal(pipe_pair(&loop, &pa, &pb), 0);
    stream *fa = wrap(pa, L_AES), *fb = wrap(pb, L_AES);
    fb->data = &c;
    assert_int_equal(stream_read_start(fb, ctl_on_enc_read), 0);
    msg m;
    msg_init(&m, MSG_PING);
    assert_int_equal(msg_send(fa, &m, NULL, NULL), 0);
    msg_init(&m, MSG_CLOSE_PROXY);
    m.u.close_proxy.proxy_name = "x";
    assert_int_equal(msg_send(fa, &m, NULL, NULL), 0);
    static char big[MSG_MAX_BODY + 1];
    memset(big, 'a', MSG_MAX_BODY);
    m.u.close_proxy.proxy_name = big;
    assert_int_equal(msg_send(fa, &m, NULL, NULL), CFRP_ETOOBIG);
    assert_int_equal(stream_shutdown(fa), 0);
    run_until(&c.end);
    assert_int_equal(c.end, UV_EOF);
    assert_int_equal(c.frames, 2);
    assert_memory_equal(c.types, "hc", 2);
    close_quiet(fa);
    close_quiet(fb);
    uv_run(&loop, UV_RUN_DEFAULT);
}

/* Feeds raw bytes to a filtered reader; returns how its read side ended. */
static ssize_t read_end_of(int layers, const char *bytes, size_t n, size_t *got)
{
    stream *pa, *pb;
    side b;
    assert_int_equal(pipe_pair(&loop, &pa, &pb), 0);
    side_init(&b, wrap(pb, layers), NULL, 0, 1 << 16);
    assert_int_equal(stream_read_start(b.s, side_on_read), 0);
    if (n > 0)
        assert_int_equal(stream_write_copy(pa, bytes, n, NULL, NULL), 0);
    assert_int_equal(stream_shutdown(pa), 0);
    while (b.end_status == 0)
        uv_run(&loop, UV_RUN_ONCE);
    *got = b.recv_len;
    close_quiet(pa);
    stream_close(b.s);
    side_free(&b);
    uv_run(&loop, UV_RUN_DEFAULT);
    assert_true(b.closed);
    return b.end_status;
}

static void test_read_errors(void **state)
{
    size_t got;
    /* Clean ends: nothing at all, or a whole IV. */
    assert_int_equal(read_end_of(L_AES, "", 0, &got), UV_EOF);
    assert_int_equal(read_end_of(L_AES, "0123456789abcdef", 16, &got), UV_EOF);
    assert_int_equal(got, 0);
    /* EOF inside the IV. */
    assert_int_equal(read_end_of(L_AES, "0123456789", 10, &got), CFRP_EPROTO);
    /* Snappy: no identifier; a chunk cut short; a bad CRC after good data. */
    assert_int_equal(read_end_of(L_SNAPPY, "\x01\x0d\x00\x00", 4, &got), CFRP_EPROTO);
    assert_int_equal(read_end_of(L_SNAPPY, "\xff\x06\x00\x00sNaPpY\x01\x0d\x00", 13, &got),
                     CFRP_EPROTO);
    static const char bad[] = "\xff\x06\x00\x00sNaPpY\x01\x0d\x00\x00\x0b\x60\xeb\x93hello frp"
                              "\x01\x0d\x00\x00\x0b\x60\xeb\x94hello frp";
    assert_int_equal(read_end_of(L_SNAPPY, bad, sizeof(bad) - 1, &got), CFRP_EPROTO);
    assert_int_equal(got, 9);
    assert_int_equal(read_end_of(L_SNAPPY, bad, 27, &got), UV_EOF);
    assert_int_equal(got, 9);
}

/* Closing with writes in flight: callbacks run (ECANCELED or 0), then on_close once;
 * reads and writes after close fail. */
static void test_close(void **state)
{
    stream *pa, *pb;
    side a;
    assert_int_equal(pipe_pair(&loop, &pa, &pb), 0);
    side_init(&a, wrap(pa, L_AES | L_SNAPPY), NULL, 0, 0);
    for (int i = 0; i < 5; i++)
        assert_int_equal(stream_write_copy(a.s, "data", 4, side_on_write, &a), 0);
    assert_int_equal(stream_write_copy(a.s, "", 0, side_on_write, &a), 0);
    stream_close(a.s);
    assert_int_equal(stream_write_copy(a.s, "x", 1, NULL, NULL), CFRP_ECLOSED);
    assert_int_equal(stream_read_start(a.s, side_on_read), CFRP_ECLOSED);
    close_quiet(pb);
    uv_run(&loop, UV_RUN_DEFAULT);
    assert_true(a.closed);
    assert_int_equal(a.writes_done + a.writes_failed, 6);
    assert_true(a.writes_failed >= 1);
    side_free(&a);
    uv_run(&loop, UV_RUN_DEFAULT);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_aes_roundtrip),  cmocka_unit_test(test_snappy_roundtrip),
        cmocka_unit_test(test_layered_roundtrip), cmocka_unit_test(test_backpressure),
        cmocka_unit_test(test_wire_format),    cmocka_unit_test(test_head_bytes),
        cmocka_unit_test(test_msg_send),       cmocka_unit_test(test_read_errors),
        cmocka_unit_test(test_close),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
