/* Unit tests of the snappy framing format against vectors/snappy.txt, round trips of
 * random data and rejection of corrupt streams. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "base/err.h"
#include "proto/snappy_frame.h"
#include "test_proto_vectors.h"

static char *snappy_txt;

static int setup(void **state)
{
    snappy_txt = tv_read("snappy.txt");
    return snappy_txt ? 0 : -1;
}

static int teardown(void **state)
{
    free(snappy_txt);
    return 0;
}

/* The hex stream written on the line after the given "## " title. */
static long vector_after(const char *title, unsigned char *out, size_t cap)
{
    const char *pos = strstr(snappy_txt, title);
    assert_non_null(pos);
    pos = strchr(pos, '\n') + 1;
    return tv_hex(pos, out, cap);
}

/* Decodes all of in (fed in pieces of `piece` bytes) into out; returns the total. */
static size_t decode_all(const unsigned char *in, size_t n, size_t piece, char *out, size_t cap)
{
    snappy_frame_reader r;
    static char block[SNAPPY_FRAME_BLOCK];
    size_t total = 0;
    assert_int_equal(snappy_frame_reader_init(&r), 0);
    for (size_t off = 0; off < n;) {
        size_t len = n - off < piece ? n - off : piece;
        size_t used, olen;
        char err[128];
        int rc = snappy_frame_feed(&r, in + off, len, &used, block, &olen, err, sizeof(err));
        if (rc < 0)
            fail_msg("decode: %s", err);
        assert_true(used <= len);
        off += used;
        if (rc == 1) {
            assert_true(total + olen <= cap);
            memcpy(out + total, block, olen);
            total += olen;
        } else {
            assert_int_equal(used, len);
        }
    }
    assert_int_equal(snappy_frame_reader_finish(&r), 0);
    snappy_frame_reader_free(&r);
    return total;
}

static void test_crc(void **state)
{
    /* CRC-32C("123456789") = 0xe3069283, masked by the framing rule. */
    uint32_t c = 0xe3069283u;
    assert_int_equal(snappy_frame_crc("123456789", 9), ((c >> 15) | (c << 17)) + 0xa282ead8u);
    assert_int_equal(snappy_frame_crc("hello frp", 9), 0x93eb600bu);
    char a[100];
    memset(a, 'a', sizeof(a));
    assert_int_equal(snappy_frame_crc(a, sizeof(a)), 0xfdb5a81fu);
}

static void test_writer_vectors(void **state)
{
    unsigned char want[128];
    static char out[2 * SNAPPY_FRAME_BLOCK];
    size_t n = 0, n2 = 0;
    char a[100];
    memset(a, 'a', sizeof(a));
    snappy_frame_writer w;

    long wn = vector_after("## One Write(\"hello frp\")", want, sizeof(want));
    snappy_frame_writer_init(&w);
    assert_int_equal(snappy_frame_encode(&w, "hello frp", 9, out, sizeof(out), &n), 0);
    assert_int_equal(n, (size_t)wn);
    assert_memory_equal(out, want, n);

    wn = vector_after("## One Write of 100 x 'a'", want, sizeof(want));
    snappy_frame_writer_init(&w);
    assert_int_equal(snappy_frame_encode(&w, a, sizeof(a), out, sizeof(out), &n), 0);
    assert_int_equal(n, (size_t)wn);
    assert_memory_equal(out, want, n);

    /* Same stream, second write: no second identifier. */
    wn = vector_after("## Same stream, then a second Write", want, sizeof(want));
    assert_int_equal(snappy_frame_encode(&w, "hello frp", 9, out + n, sizeof(out) - n, &n2), 0);
    assert_int_equal(n + n2, (size_t)wn);
    assert_memory_equal(out, want, n + n2);

    /* An empty write emits nothing, not even the identifier. */
    snappy_frame_writer_init(&w);
    assert_int_equal(snappy_frame_encode(&w, "", 0, out, sizeof(out), &n), 0);
    assert_int_equal(n, 0);
    assert_false(w.wrote_header);
    /* Too small an output buffer is refused up front. */
    assert_int_equal(snappy_frame_encode(&w, "x", 1, out, 20, &n), CFRP_ETOOBIG);
}

static void test_reader_vectors(void **state)
{
    unsigned char in[128];
    char out[256];
    long n = vector_after("## Same stream, then a second Write", in, sizeof(in));
    for (size_t piece = 1; piece <= (size_t)n; piece++) {
        size_t got = decode_all(in, (size_t)n, piece, out, sizeof(out));
        assert_int_equal(got, 109);
        for (int i = 0; i < 100; i++)
            assert_int_equal(out[i], 'a');
        assert_memory_equal(out + 100, "hello frp", 9);
    }
}

static uint32_t rng = 12345;
static uint32_t next_rand(void)
{
    rng = rng * 1103515245u + 12345u;
    return rng >> 8;
}

/* Random data (incompressible and compressible), written in varied sizes, decodes to
 * the same bytes; pieces above 64 KiB are split into several chunks. */
static void test_roundtrip(void **state)
{
    static const size_t sizes[] = {1, 7, 100, 4096, 16384, 65535, 65536, 65537, 200000};
    size_t max = 200000;
    char *data = malloc(max), *back = malloc(max);
    char *enc = malloc(snappy_frame_max_encoded(max));
    assert_non_null(data);
    for (int kind = 0; kind < 2; kind++) {
        static const char *words[] = {"frp-tunnel ", "snappy ", "compression ", "x"};
        for (size_t i = 0; i < max;) {
            if (kind == 0) {
                data[i++] = (char)next_rand();
                continue;
            }
            const char *wd = words[next_rand() % 4];
            for (; *wd && i < max; wd++)
                data[i++] = *wd;
        }
        for (size_t s = 0; s < sizeof(sizes) / sizeof(sizes[0]); s++) {
            snappy_frame_writer w;
            size_t n;
            snappy_frame_writer_init(&w);
            assert_int_equal(snappy_frame_encode(&w, data, sizes[s], enc,
                                                 snappy_frame_max_encoded(sizes[s]), &n), 0);
            /* Chunk count = ceil(size / 64 KiB); compressible data really shrinks. */
            size_t chunks = 0;
            for (size_t off = 10; off < n; chunks++)
                off += 4 + ((size_t)(uint8_t)enc[off + 1] | (size_t)(uint8_t)enc[off + 2] << 8 |
                            (size_t)(uint8_t)enc[off + 3] << 16);
            assert_int_equal(chunks, (sizes[s] + SNAPPY_FRAME_BLOCK - 1) / SNAPPY_FRAME_BLOCK);
            if (kind == 1 && sizes[s] >= 4096)
                assert_true(n < sizes[s] / 2); /* really compressed */
            if (kind == 0 && sizes[s] >= 100)
                assert_int_equal(enc[10], 0x01);
            size_t piece = 1 + next_rand() % 70000;
            assert_int_equal(decode_all((unsigned char *)enc, n, piece, back, max), sizes[s]);
            assert_memory_equal(back, data, sizes[s]);
        }
    }
    free(data);
    free(back);
    free(enc);
}

/* Feeds in whole; returns the first non-zero feed result, or the finish result. */
static int feed_result(const char *in, size_t n)
{
    snappy_frame_reader r;
    static char block[SNAPPY_FRAME_BLOCK];
    char err[128] = "";
    int rc = 0;
    assert_int_equal(snappy_frame_reader_init(&r), 0);
    size_t off = 0;
    while (off < n) {
        size_t used, olen;
        rc = snappy_frame_feed(&r, in + off, n - off, &used, block, &olen, err, sizeof(err));
        off += used;
        if (rc < 0)
            break;
    }
    if (rc >= 0)
        rc = snappy_frame_reader_finish(&r);
    else
        assert_true(err[0] != '\0');
    snappy_frame_reader_free(&r);
    return rc;
}

#define ID "\xff\x06\x00\x00sNaPpY"
#define HELLO "\x01\x0d\x00\x00\x0b\x60\xeb\x93hello frp"

static void test_reader_rejects(void **state)
{
    /* Valid: empty stream, identifier only, skippable and padding chunks, repeated ids. */
    assert_int_equal(feed_result("", 0), 0);
    assert_int_equal(feed_result(ID, 10), 0);
    assert_int_equal(feed_result(ID "\x80\x02\x00\x00xy\xfe\x00\x00\x00" ID HELLO, 10 + 6 + 4 + 10 + 17), 0);
    /* First chunk not the identifier (even a skippable or data chunk). */
    assert_int_equal(feed_result(HELLO, 17), CFRP_EPROTO);
    assert_int_equal(feed_result("\x80\x00\x00\x00", 4), CFRP_EPROTO);
    /* Bad identifier body or length. */
    assert_int_equal(feed_result("\xff\x06\x00\x00sNaPpZ", 10), CFRP_EPROTO);
    assert_int_equal(feed_result("\xff\x05\x00\x00sNaPp", 9), CFRP_EPROTO);
    /* Reserved unskippable chunk types. */
    assert_int_equal(feed_result(ID "\x02\x00\x00\x00", 14), CFRP_EPROTO);
    assert_int_equal(feed_result(ID "\x7f\x00\x00\x00", 14), CFRP_EPROTO);
    /* Chunk longer than the limit. */
    assert_int_equal(feed_result(ID "\x80\xcf\x2a\x01", 14), CFRP_EPROTO); /* 76495 */
    /* Data chunk without room for the checksum. */
    assert_int_equal(feed_result(ID "\x01\x03\x00\x00" "abc", 17), CFRP_EPROTO);
    assert_int_equal(feed_result(ID "\x00\x00\x00\x00", 14), CFRP_EPROTO);
    /* Checksum mismatch (uncompressed and compressed). */
    assert_int_equal(feed_result(ID "\x01\x0d\x00\x00\x0b\x60\xeb\x94hello frp", 27), CFRP_EPROTO);
    assert_int_equal(feed_result(ID "\x00\x0d\x00\x00\x1f\xa8\xb5\xfe\x64\x00\x61\xfe\x01\x00\x8a\x01\x00", 27),
                     CFRP_EPROTO);
    /* Corrupt block: claims 100 bytes, holds 1. */
    assert_int_equal(feed_result(ID "\x00\x07\x00\x00\x1f\xa8\xb5\xfd\x64\x00\x61", 21), CFRP_EPROTO);
    /* Truncated: inside a header, inside a body. */
    assert_int_equal(feed_result(ID "\x01\x0d", 12), CFRP_EPROTO);
    assert_int_equal(feed_result(ID HELLO, 26), CFRP_EPROTO);
}

static void test_reader_too_big(void **state)
{
    /* A compressed block that decodes to 65537 bytes, and an uncompressed chunk of
     * 65537 bytes: both over the 64 KiB block limit. */
    size_t big = SNAPPY_FRAME_BLOCK + 1;
    char *data = calloc(1, big);
    char *buf = malloc(big + 100);
    snappy_frame_writer w;
    size_t n;
    /* Build a compressed chunk by hand: header + crc + snappy block of 65537 zeros. */
    char *enc = malloc(snappy_frame_max_encoded(big) + big);
    snappy_frame_writer_init(&w);
    assert_int_equal(snappy_frame_encode(&w, data, SNAPPY_FRAME_BLOCK, enc,
                                         snappy_frame_max_encoded(big) + big, &n), 0);
    assert_int_equal(feed_result(enc, n), 0);
    /* Patch the block's varint length from 65536 to 65537 (80 80 04 -> 81 80 04). */
    assert_int_equal((uint8_t)enc[18], 0x80);
    enc[18] = (char)0x81;
    assert_int_equal(feed_result(enc, n), CFRP_EPROTO);
    memcpy(buf, ID, 10);
    buf[10] = 0x01;
    buf[11] = (char)((big + 4) & 0xff);
    buf[12] = (char)(((big + 4) >> 8) & 0xff);
    buf[13] = (char)((big + 4) >> 16);
    uint32_t crc = snappy_frame_crc(data, big);
    for (int i = 0; i < 4; i++)
        buf[14 + i] = (char)(crc >> (8 * i));
    memcpy(buf + 18, data, big);
    assert_int_equal(feed_result(buf, 18 + big), CFRP_EPROTO);
    free(data);
    free(buf);
    free(enc);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_crc),
        cmocka_unit_test(test_writer_vectors),
        cmocka_unit_test(test_reader_vectors),
        cmocka_unit_test(test_roundtrip),
        cmocka_unit_test(test_reader_rejects),
        cmocka_unit_test(test_reader_too_big),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
