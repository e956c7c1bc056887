/* Replays the live captures vectors/session-nomux.txt and session-tcpmux.txt through
 * the frame reader, AES-CFB and snappy decoders, and checks that the encoders seeded
 * with the captured timestamp, run id and IVs reproduce the recorded bytes. The yamux
 * framing of the tcpmux capture is stripped by a few lines of test-local code. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "proto/auth.h"
#include "proto/crypto.h"
#include "proto/frame.h"
#include "proto/msg.h"
#include "proto/snappy_frame.h"
#include "test_proto_vectors.h"

#define TOKEN "12345678" /* both captures; checked against the Login privilege_key */
#define BUFSZ 4096

typedef struct expect_frame {
    char type;
    char json[512];
} expect_frame;

/* Every "'X' {...}" at the end of a line in [from, to), in order. */
static size_t collect_frames(const char *from, const char *to, expect_frame *out, size_t cap)
{
    size_t n = 0;
    for (const char *p = from; p < to;) {
        const char *eol = strchr(p, '\n');
        if (!eol || eol > to)
            eol = to;
        const char *q = p;
        while (q + 4 < eol && !(q[0] == '\'' && q[2] == '\'' && q[3] == ' ' && q[4] == '{'))
            q++;
        if (q + 4 < eol) {
            assert_true(n < cap);
            out[n].type = q[1];
            size_t len = (size_t)(eol - (q + 4));
            assert_true(len < sizeof(out[n].json));
            memcpy(out[n].json, q + 4, len);
            out[n].json[len] = '\0';
            n++;
        }
        p = eol + 1;
    }
    return n;
}

/* Checks m against an expected frame: same type, and our encoding of it is the
 * captured JSON byte for byte. */
static void check_msg(const msg *m, const expect_frame *e)
{
    char body[MSG_MAX_BODY];
    size_t len;
    assert_int_equal(m->type, (unsigned char)e->type);
    assert_int_equal(msg_encode_body(m, body, sizeof(body), &len), 0);
    assert_int_equal(len, strlen(e->json));
    assert_memory_equal(body, e->json, len);
}

/* Reads frames from data until `count` messages came out and checks each one. Returns
 * the number of bytes they took. */
static size_t read_frames(const unsigned char *data, size_t n, const expect_frame *e, size_t count)
{
    static msg_reader r;
    size_t off = 0;
    msg_reader_init(&r);
    for (size_t i = 0; i < count; i++) {
        msg m;
        size_t used;
        char err[128] = "";
        int rc = msg_reader_feed(&r, data + off, n - off, &used, &m, err, sizeof(err));
        if (rc != 1)
            fail_msg("frame %zu: rc %d %s", i, rc, err);
        off += used;
        check_msg(&m, &e[i]);
        msg_clear(&m);
    }
    return off;
}

/* Decrypts (in place) a direction after its IV with the token key. */
static void decrypt(unsigned char *data, size_t n)
{
    uint8_t key[CRYPTO_KEY_LEN];
    crypto_cfb c;
    assert_true(n >= CRYPTO_IV_LEN);
    assert_int_equal(crypto_derive_key(TOKEN, strlen(TOKEN), key), 0);
    assert_int_equal(crypto_cfb_init(&c, key, data, false), 0);
    assert_int_equal(crypto_cfb_update(&c, data + 16, data + 16, n - 16), 0);
    crypto_cfb_free(&c);
}

/* Encrypts plain with the token key and the given IV, checks IV || ct == wire. */
static void check_encrypt(const unsigned char *plain, size_t n, const unsigned char *wire)
{
    uint8_t key[CRYPTO_KEY_LEN];
    unsigned char ct[BUFSZ];
    crypto_cfb c;
    assert_int_equal(crypto_derive_key(TOKEN, strlen(TOKEN), key), 0);
    assert_int_equal(crypto_cfb_init(&c, key, wire, true), 0);
    assert_int_equal(crypto_cfb_update(&c, plain, ct, n), 0);
    crypto_cfb_free(&c);
    assert_memory_equal(ct, wire + 16, n);
}

static void check_login_key(const msg *m)
{
    assert_true(auth_key_verify(TOKEN, m->u.login.timestamp, m->u.login.privilege_key));
}

static void test_nomux(void **state)
{
    char *text = tv_read("session-nomux.txt");
    assert_non_null(text);
    int blocks = 0, encrypted = 0;
    for (const char *p = strstr(text, "\nconn "); p; p = strstr(p + 1, "\nconn ")) {
        const char *raw = strstr(p, " raw: ");
        assert_non_null(raw);
        const char *end = strstr(p + 1, "\nconn ");
        if (!end)
            end = strstr(p, "\n# Notes");
        assert_non_null(end);
        static unsigned char data[BUFSZ];
        long n = tv_hex(raw + 6, data, sizeof(data));
        assert_true(n > 0);
        expect_frame e[16];
        size_t ne = collect_frames(p + 1, end, e, 16);
        assert_true(ne >= 1);

        size_t off = read_frames(data, (size_t)n, e, 1);
        if (e[0].type == 'o') {
            msg m;
            size_t fl;
            assert_int_equal(msg_frame_parse(data, off, &fl, &m, NULL, 0), 1);
            check_login_key(&m);
            msg_clear(&m);
        }
        const char *iv = strstr(p, "  IV ");
        if (iv && iv < end) {
            unsigned char want_iv[16];
            assert_int_equal(tv_hex(iv + 5, want_iv, 16), 16);
            assert_memory_equal(data + off, want_iv, 16);
            static unsigned char wire[BUFSZ];
            memcpy(wire, data + off, (size_t)n - off);
            decrypt(data + off, (size_t)n - off);
            size_t took = read_frames(data + off + 16, (size_t)n - off - 16, e + 1, ne - 1);
            assert_int_equal(off + 16 + took, (size_t)n);
            /* Re-encrypting the decrypted frames with the captured IV gives the wire. */
            check_encrypt(data + off + 16, (size_t)n - off - 16, wire);
            encrypted++;
        } else {
            const char *rb = strstr(p, "then raw bytes: ");
            if (rb && rb < end) {
                unsigned char want[256];
                long wn = tv_hex(rb + 16, want, sizeof(want));
                assert_int_equal((size_t)wn, (size_t)n - off);
                assert_memory_equal(data + off, want, (size_t)wn);
            } else {
                off += read_frames(data + off, (size_t)n - off, e + 1, ne - 1);
                assert_int_equal(off, (size_t)n);
            }
        }
        blocks++;
    }
    assert_int_equal(blocks, 8);
    assert_int_equal(encrypted, 2);
    free(text);
}

/* The bytes of one yamux stream in one direction, from the raw relay records. */
static size_t yamux_stream(const char *text, const char *dir, uint32_t want_id, unsigned char *out,
                           size_t cap)
{
    static unsigned char all[16384];
    size_t total = 0, n = 0;
    char label[8];
    snprintf(label, sizeof(label), "%s ", dir);
    const char *pos = NULL, *line;
    const char *stop = strstr(text, "# yamux frames per direction");
    assert_non_null(stop);
    while ((line = tv_find_line(text, &pos, label)) != NULL && line < stop) {
        long k = tv_hex(line, all + total, sizeof(all) - total);
        assert_true(k > 0);
        total += (size_t)k;
    }
    for (size_t off = 0; off < total;) {
        assert_true(total - off >= 12);
        const unsigned char *h = all + off;
        assert_int_equal(h[0], 0); /* version */
        uint32_t id = (uint32_t)h[4] << 24 | (uint32_t)h[5] << 16 | (uint32_t)h[6] << 8 | h[7];
        uint32_t len = (uint32_t)h[8] << 24 | (uint32_t)h[9] << 16 | (uint32_t)h[10] << 8 | h[11];
        off += 12;
        if (h[1] != 0) /* window update, ping, go away: no payload */
            continue;
        assert_true(len <= total - off);
        if (id == want_id) {
            assert_true(n + len <= cap);
            memcpy(out + n, all + off, len);
            n += len;
        }
        off += len;
    }
    return n;
}

/* The expected frames of "stream N dir:" in the decoded section. */
static size_t stream_expect(const char *text, const char *head, expect_frame *e, size_t cap,
                            const char **block)
{
    const char *p = strstr(text, head);
    assert_non_null(p);
    const char *end = strstr(p + 1, "\nstream ");
    if (!end)
        end = p + strlen(p);
    *block = p;
    return collect_frames(p, end, e, cap);
}

static void test_tcpmux(void **state)
{
    char *text = tv_read("session-tcpmux.txt");
    assert_non_null(text);
    static unsigned char data[BUFSZ], wire[BUFSZ];
    expect_frame e[16];
    const char *block;

    /* Control stream, both directions. */
    static const char *dirs[] = {"c2s", "s2c"};
    for (int d = 0; d < 2; d++) {
        char head[32];
        snprintf(head, sizeof(head), "stream 1 %s:", dirs[d]);
        size_t ne = stream_expect(text, head, e, 16, &block);
        assert_int_equal(ne, d == 0 ? 2 : 5);
        size_t n = yamux_stream(text, dirs[d], 1, data, sizeof(data));
        size_t off = read_frames(data, n, e, 1);
        memcpy(wire, data + off, n - off);
        decrypt(data + off, n - off);
        size_t took = read_frames(data + off + 16, n - off - 16, e + 1, ne - 1);
        assert_int_equal(off + 16 + took, n);
        check_encrypt(data + off + 16, n - off - 16, wire);
        const char *dec = strstr(block, "decrypted = ");
        unsigned char want[512];
        long wn = tv_hex(dec + 12, want, sizeof(want));
        assert_int_equal((size_t)wn, took);
        assert_memory_equal(want, data + off + 16, took);
    }

    /* Work stream 3: NewWorkConn / StartWorkConn, then encrypted snappy "hello frp". */
    for (int d = 0; d < 2; d++) {
        char head[32];
        snprintf(head, sizeof(head), "stream 3 %s:", dirs[d]);
        size_t ne = stream_expect(text, head, e, 16, &block);
        assert_int_equal(ne, 1);
        size_t n = yamux_stream(text, dirs[d], 3, data, sizeof(data));
        size_t off = read_frames(data, n, e, 1);
        memcpy(wire, data + off, n - off);
        decrypt(data + off, n - off);
        const unsigned char *plain = data + off + 16;
        size_t pn = n - off - 16;
        const char *dec = strstr(block, "decrypted = ");
        unsigned char want[128];
        long wn = tv_hex(dec + 12, want, sizeof(want));
        assert_int_equal((size_t)wn, pn);
        assert_memory_equal(want, plain, pn);
        /* Decompress. */
        snappy_frame_reader r;
        static char out[SNAPPY_FRAME_BLOCK];
        size_t used, olen;
        assert_int_equal(snappy_frame_reader_init(&r), 0);
        assert_int_equal(snappy_frame_feed(&r, plain, pn, &used, out, &olen, NULL, 0), 1);
        assert_int_equal(used, pn);
        assert_int_equal(olen, 9);
        assert_memory_equal(out, "hello frp", 9);
        assert_int_equal(snappy_frame_reader_finish(&r), 0);
        snappy_frame_reader_free(&r);
        /* Our writer, seeded with the captured IV, reproduces the wire bytes. */
        snappy_frame_writer w;
        static char enc[SNAPPY_FRAME_MAX_CHUNK + 64];
        size_t en;
        snappy_frame_writer_init(&w);
        assert_true(snappy_frame_max_encoded(9) <= sizeof(enc));
        assert_int_equal(snappy_frame_encode(&w, "hello frp", 9, enc, sizeof(enc), &en), 0);
        assert_int_equal(en, pn);
        check_encrypt((const unsigned char *)enc, en, wire);
    }

    /* Streams 5 and 7 carry only a NewWorkConn. */
    for (uint32_t id = 5; id <= 7; id += 2) {
        size_t n = yamux_stream(text, "c2s", id, data, sizeof(data));
        expect_frame nwc = {'w', "{\"run_id\":\"b25e0c39105fc308\"}"};
        assert_int_equal(read_frames(data, n, &nwc, 1), n);
    }
    free(text);
}

/* Messages built from scratch with the captured timestamp and run id encode to the
 * captured frames. */
static void test_seeded_encoders(void **state)
{
    char *text = tv_read("session-tcpmux.txt");
    assert_non_null(text);
    static unsigned char data[BUFSZ];
    size_t n = yamux_stream(text, "c2s", 1, data, sizeof(data));
    char key[AUTH_KEY_HEX];
    auth_key(TOKEN, 1795550449, key);
    msg m;
    msg_init(&m, MSG_LOGIN);
    m.u.login.version = "0.61.1";
    m.u.login.os = "linux";
    m.u.login.arch = "amd64";
    m.u.login.privilege_key = key;
    m.u.login.timestamp = 1795550449;
    m.u.login.pool_count = 2;
    char frame[MSG_FRAME_MAX];
    size_t len;
    assert_int_equal(msg_frame_encode(&m, frame, sizeof(frame), &len), 0);
    assert_true(len < n);
    assert_memory_equal(frame, data, len);

    /* NewProxy, encrypted with the captured IV, is the rest of the stream. */
    msg_init(&m, MSG_NEW_PROXY);
    m.u.new_proxy.proxy_name = "echo";
    m.u.new_proxy.proxy_type = "tcp";
    m.u.new_proxy.use_encryption = true;
    m.u.new_proxy.use_compression = true;
    m.u.new_proxy.remote_port = 16000;
    size_t len2;
    assert_int_equal(msg_frame_encode(&m, frame, sizeof(frame), &len2), 0);
    assert_int_equal(len + 16 + len2, n);
    check_encrypt((unsigned char *)frame, len2, data + len);

    /* StartWorkConn from frps on stream 3. */
    n = yamux_stream(text, "s2c", 3, data, sizeof(data));
    msg_init(&m, MSG_START_WORK_CONN);
    m.u.start_work_conn.proxy_name = "echo";
    m.u.start_work_conn.src_addr = "127.0.0.1";
    m.u.start_work_conn.dst_addr = "127.0.0.1";
    m.u.start_work_conn.src_port = 46634;
    m.u.start_work_conn.dst_port = 16000;
    assert_int_equal(msg_frame_encode(&m, frame, sizeof(frame), &len), 0);
    assert_memory_equal(frame, data, len);
    free(text);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_nomux),
        cmocka_unit_test(test_tcpmux),
        cmocka_unit_test(test_seeded_encoders),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
