/* Unit tests of kcp_fec: the Reed-Solomon matrix and parity against vectors/kcp-fec.txt,
 * the encoder reproducing a FEC group recorded from a Go frpc byte for byte
 * (data/kcp/fec_group.txt), recovery of lost data shards, and rejection of bad input. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "base/err.h"
#include "kcp/kcp_fec.h"

#define GROUP_PATH CFRP_SOURCE_DIR "/tests/unit/data/kcp/fec_group.txt"
#define VEC_PATH CFRP_SHARED_DIR "/spec/vectors/kcp-fec.txt"

/* The recorded group: 13 datagrams, seqids 0..12. */
static uint8_t rec[KCP_FEC_SHARDS][KCP_FEC_MAX_PACKET];
static size_t rec_len[KCP_FEC_SHARDS];

static char *read_all(const char *path)
{
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    static char text[64 * 1024];
    size_t n = fread(text, 1, sizeof text - 1, f);
    fclose(f);
    text[n] = 0;
    return text;
}

static int hexval(int c)
{
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    return -1;
}

/* Hex digits from p up to the end of the line into out; returns the byte count. */
static size_t hex_line(const char *p, uint8_t *out, size_t cap)
{
    size_t n = 0;
    while (hexval(p[0]) >= 0 && hexval(p[1]) >= 0 && n < cap) {
        out[n++] = (uint8_t)(hexval(p[0]) << 4 | hexval(p[1]));
        p += 2;
        while (*p == ' ')
            p++;
    }
    return n;
}

static int setup(void **state)
{
    const char *t = read_all(GROUP_PATH);
    if (!t) return -1;
    int n = 0;
    for (const char *line = t; *line && n < KCP_FEC_SHARDS;) {
        if (*line != '#') {
            rec_len[n] = hex_line(line, rec[n], KCP_FEC_MAX_PACKET);
            n++;
        }
        const char *nl = strchr(line, '\n');
        if (!nl) break;
        line = nl + 1;
    }
    return n == KCP_FEC_SHARDS ? 0 : -1;
}

static void test_matrix_vectors(void **state)
{
    const char *t = read_all(VEC_PATH);
    assert_non_null(t);
    kcp_rs rs;
    assert_int_equal(kcp_rs_init(&rs, 10, 3), 0);
    for (int r = 0; r < 10; r++) /* systematic: identity on top */
        for (int c = 0; c < 10; c++)
            assert_int_equal(rs.rows[r][c], r == c);
    for (int r = 0; r < 3; r++) {
        char title[16];
        snprintf(title, sizeof title, "row %d: ", r);
        const char *p = strstr(t, title);
        assert_non_null(p);
        uint8_t want[10];
        assert_int_equal(hex_line(p + strlen(title), want, 10), 10);
        assert_memory_equal(rs.rows[10 + r], want, 10);
    }
    /* The parity example: shard c = (7c+1, 13c+2, 29c+3). */
    uint8_t data[10][3], par[3][3];
    const uint8_t *in[10];
    uint8_t *out[3] = {par[0], par[1], par[2]};
    for (int c = 0; c < 10; c++) {
        data[c][0] = (uint8_t)(7 * c + 1);
        data[c][1] = (uint8_t)(13 * c + 2);
        data[c][2] = (uint8_t)(29 * c + 3);
        in[c] = data[c];
    }
    kcp_rs_encode(&rs, in, out, 3);
    const char *p = strstr(t, "parity: ");
    assert_non_null(p);
    uint8_t want[9];
    assert_int_equal(hex_line(p + 8, want, 9), 9);
    assert_memory_equal(par, want, 9);
    assert_int_equal(kcp_rs_init(&rs, 0, 3), CFRP_EINVAL);
    assert_int_equal(kcp_rs_init(&rs, 30, 3), CFRP_EINVAL);
}

static void test_encoder_matches_go(void **state)
{
    static kcp_fec_encoder enc;
    kcp_fec_encoder_init(&enc);
    uint8_t pkt[KCP_FEC_MAX_PACKET];
    for (int i = 0; i < KCP_FEC_DATA_SHARDS; i++) {
        memcpy(pkt, rec[i], rec_len[i]);
        memset(pkt, 0xAA, KCP_FEC_HEADER_PLUS2); /* the encoder writes the header */
        size_t plen = 0;
        int n = kcp_fec_encode(&enc, pkt, rec_len[i], 1000 + (uint64_t)i, &plen);
        assert_memory_equal(pkt, rec[i], rec_len[i]);
        assert_int_equal(n, i == KCP_FEC_DATA_SHARDS - 1 ? 3 : 0);
        if (n) {
            for (int p = 0; p < 3; p++) {
                assert_int_equal(plen, rec_len[10 + p]);
                assert_memory_equal(enc.parity[p], rec[10 + p], plen);
            }
        }
    }
    assert_int_equal(enc.next, 13);
}

static void test_encoder_slow_group(void **state)
{
    static kcp_fec_encoder enc;
    kcp_fec_encoder_init(&enc);
    uint8_t pkt[64] = {0};
    size_t plen;
    for (int i = 0; i < 9; i++)
        assert_int_equal(kcp_fec_encode(&enc, pkt, 40, 0, &plen), 0);
    /* the 10th shard comes 500 ms after the 9th: no parity, seqids not skipped */
    assert_int_equal(kcp_fec_encode(&enc, pkt, 40, KCP_FEC_PARITY_GAP_MS, &plen), 0);
    assert_int_equal(enc.next, 10);
    assert_int_equal(kcp_fec_encode(&enc, pkt, 40, 600, &plen), 0);
    assert_int_equal(pkt[0], 10);
    assert_int_equal(kcp_fec_encode(&enc, pkt, 7, 600, &plen), CFRP_EINVAL);
    assert_int_equal(kcp_fec_encode(&enc, pkt, KCP_FEC_MAX_PACKET + 1, 600, &plen), CFRP_EINVAL);
    assert_int_equal(enc.next, 11);
}

typedef struct got {
    int n;
    uint8_t data[4][KCP_FEC_MAX_PACKET];
    size_t len[4];
} got;

static void on_recovered(const uint8_t *kcp, size_t len, void *arg)
{
    got *g = arg;
    assert_true(g->n < 4);
    memcpy(g->data[g->n], kcp, len);
    g->len[g->n++] = len;
}

/* Feeds the recorded group minus the shards in lost; returns what was rebuilt. */
static void feed_without(kcp_fec_decoder *dec, const int *lost, int nlost, got *g)
{
    memset(g, 0, sizeof *g);
    for (int i = 0; i < KCP_FEC_SHARDS; i++) {
        bool skip = false;
        for (int k = 0; k < nlost; k++)
            skip |= lost[k] == i;
        if (!skip) assert_int_equal(kcp_fec_decode(dec, rec[i], rec_len[i], on_recovered, g), 0);
    }
}

static void test_decoder_recovers(void **state)
{
    static kcp_fec_decoder dec;
    got g;
    kcp_fec_decoder_init(&dec);
    const int lost3[] = {1, 3, 8}; /* three data shards of different sizes */
    feed_without(&dec, lost3, 3, &g);
    assert_int_equal(g.n, 3);
    for (int k = 0; k < 3; k++) {
        int i = lost3[k];
        assert_int_equal(g.len[k], rec_len[i] - KCP_FEC_HEADER_PLUS2);
        assert_memory_equal(g.data[k], rec[i] + KCP_FEC_HEADER_PLUS2, g.len[k]);
    }
    kcp_fec_decoder_free(&dec);

    kcp_fec_decoder_init(&dec);
    const int lost_mixed[] = {0, 11, 4}; /* two data, one parity */
    feed_without(&dec, lost_mixed, 3, &g);
    assert_int_equal(g.n, 2);
    assert_memory_equal(g.data[0], rec[0] + 8, rec_len[0] - 8);
    assert_memory_equal(g.data[1], rec[4] + 8, rec_len[4] - 8);
    /* the group is finished: a late duplicate rebuilds nothing */
    assert_int_equal(kcp_fec_decode(&dec, rec[0], rec_len[0], on_recovered, &g), 0);
    assert_int_equal(g.n, 2);
    kcp_fec_decoder_free(&dec);

    kcp_fec_decoder_init(&dec);
    const int lost4[] = {2, 5, 6, 12}; /* four lost: not recoverable */
    feed_without(&dec, lost4, 4, &g);
    assert_int_equal(g.n, 0);
    kcp_fec_decoder_free(&dec);

    kcp_fec_decoder_init(&dec);
    const int none[] = {-1}; /* nothing lost: nothing rebuilt */
    feed_without(&dec, none, 1, &g);
    assert_int_equal(g.n, 0);
    kcp_fec_decoder_free(&dec);
}

static void test_decoder_rejects(void **state)
{
    static kcp_fec_decoder dec;
    got g = {0};
    kcp_fec_decoder_init(&dec);
    uint8_t p[KCP_FEC_MAX_PACKET + 8] = {0};
    assert_int_equal(kcp_fec_decode(&dec, p, 5, on_recovered, &g), CFRP_EPROTO);
    p[4] = 0x51; /* a bare KCP PUSH, not FEC */
    assert_int_equal(kcp_fec_flag(p, 30), 0);
    assert_int_equal(kcp_fec_decode(&dec, p, 30, on_recovered, &g), CFRP_EPROTO);
    p[4] = KCP_FEC_TYPE_DATA;
    assert_int_equal(kcp_fec_decode(&dec, p, 7, on_recovered, &g), CFRP_EPROTO);
    assert_int_equal(kcp_fec_decode(&dec, p, sizeof p, on_recovered, &g), CFRP_EPROTO);
    p[4] = KCP_FEC_TYPE_PARITY;
    assert_int_equal(kcp_fec_decode(&dec, p, 6, on_recovered, &g), CFRP_EPROTO);
    /* random datagrams: never a crash, never more than the group bound kept */
    srand(7);
    for (int i = 0; i < 20000; i++) {
        size_t len = 6 + (size_t)rand() % 200;
        for (size_t k = 0; k < len; k++)
            p[k] = (uint8_t)rand();
        p[4] = rand() % 2 ? KCP_FEC_TYPE_DATA : KCP_FEC_TYPE_PARITY;
        p[5] = 0;
        p[0] = (uint8_t)(rand() % 40);
        p[1] = p[2] = p[3] = 0;
        g.n = 0;
        int rc = kcp_fec_decode(&dec, p, len, on_recovered, &g);
        assert_true(rc == 0 || rc == CFRP_EPROTO);
    }
    kcp_fec_decoder_free(&dec);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_matrix_vectors),     cmocka_unit_test(test_encoder_matches_go),
        cmocka_unit_test(test_encoder_slow_group), cmocka_unit_test(test_decoder_recovers),
        cmocka_unit_test(test_decoder_rejects),
    };
    return cmocka_run_group_tests(tests, setup, NULL);
}
