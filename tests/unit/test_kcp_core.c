/* Unit tests of kcp_core: parsing a PUSH recorded from Go frpc and answering with the
 * ACK Go frps sent (vectors/kcp-fec.txt), and two instances with frp's settings moving
 * data both ways through a simulated channel that drops, reorders and duplicates
 * packets: every byte must arrive once and in order. Also bad input and window probing. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "base/err.h"
#include "kcp/kcp_core.h"

#define VEC_PATH CFRP_SHARED_DIR "/spec/vectors/kcp-fec.txt"

static int hexval(int c)
{
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    return -1;
}

/* Hex on the line after the given title in the vector file. */
static size_t vector_after(const char *title, uint8_t *out, size_t cap)
{
    static char text[16384];
    FILE *f = fopen(VEC_PATH, "rb");
    assert_non_null(f);
    size_t n = fread(text, 1, sizeof text - 1, f);
    fclose(f);
    text[n] = 0;
    const char *p = strstr(text, title);
    assert_non_null(p);
    p = strchr(p, '\n') + 1;
    n = 0;
    while (hexval(p[0]) >= 0 && hexval(p[1]) >= 0 && n < cap) {
        out[n++] = (uint8_t)(hexval(p[0]) << 4 | hexval(p[1]));
        p += 2;
    }
    return n;
}

typedef struct capture {
    int n;
    uint8_t pkt[8][1600];
    size_t len[8];
} capture;

static void capture_out(uint8_t *buf, size_t len, void *arg)
{
    capture *c = arg;
    assert_true(c->n < 8);
    memcpy(c->pkt[c->n], buf, len);
    c->len[c->n++] = len;
}

static void frp_settings(kcp_core *k, uint32_t snd, uint32_t rcv)
{
    kcp_core_set_nodelay(k, 1, 20, 2, true);
    assert_int_equal(kcp_core_set_wndsize(k, snd, rcv), 0);
    assert_int_equal(kcp_core_set_mtu(k, 1350), 0);
}

static void test_go_push_and_ack(void **state)
{
    uint8_t push[512], ack[64];
    size_t plen = vector_after("## First datagram frpc -> frps", push, sizeof push);
    size_t alen = vector_after("## frps -> frpc ACK", ack, sizeof ack);
    assert_int_equal(plen, 219);
    assert_int_equal(alen, 32);
    static kcp_core k;
    static capture cap;
    uint32_t conv = kcp_core_get_conv(push + 8);
    assert_int_equal(conv, 0x2b09baab);
    assert_int_equal(kcp_core_init(&k, conv, 8, capture_out, &cap), 0);
    frp_settings(&k, 1024, 1024);
    assert_int_equal(kcp_core_input(&k, push + 8, plen - 8, 40), 0);
    assert_true(kcp_core_readable(&k));
    uint8_t out[2048];
    assert_int_equal(kcp_core_recv(&k, out, sizeof out), 187);
    assert_memory_equal(out, push + 8 + 24, 187);
    kcp_core_update(&k, 41);
    assert_int_equal(cap.n, 1);
    assert_int_equal(cap.len[0], 32);
    /* KCP bytes after the 8 reserved bytes are exactly Go frps's ACK */
    assert_memory_equal(cap.pkt[0] + 8, ack + 8, 24);
    kcp_core_free(&k);
}

static void test_bad_input(void **state)
{
    static kcp_core k;
    static capture cap;
    assert_int_equal(kcp_core_init(&k, 7, 0, capture_out, &cap), 0);
    uint8_t p[64] = {7, 0, 0, 0, KCP_CMD_PUSH};
    assert_int_equal(kcp_core_input(&k, p, 10, 0), CFRP_EPROTO); /* short */
    p[20] = 100;                                                 /* len beyond the data */
    assert_int_equal(kcp_core_input(&k, p, 40, 0), CFRP_EPROTO);
    p[20] = 0;
    p[4] = 99; /* unknown command */
    assert_int_equal(kcp_core_input(&k, p, 24, 0), CFRP_EPROTO);
    p[4] = KCP_CMD_PUSH;
    p[0] = 8; /* other conv */
    assert_int_equal(kcp_core_input(&k, p, 24, 0), CFRP_EPROTO);
    p[0] = 7;
    p[12] = 200; /* sn far outside the receive window: acked nowhere, stored nowhere */
    assert_int_equal(kcp_core_input(&k, p, 24, 0), 0);
    assert_false(kcp_core_readable(&k));
    assert_int_equal(k.nrcv_buf, 0);
    /* random bytes with the right conv never crash */
    srand(3);
    for (int i = 0; i < 20000; i++) {
        size_t len = (size_t)rand() % 64;
        for (size_t j = 0; j < len; j++)
            p[j] = (uint8_t)rand();
        if (len >= 4) p[0] = 7, p[1] = p[2] = p[3] = 0;
        if (len >= 5) p[4] = (uint8_t)(KCP_CMD_PUSH + rand() % 4);
        int rc = kcp_core_input(&k, p, len, (uint32_t)i);
        assert_true(rc == 0 || rc == CFRP_EPROTO);
        uint8_t out[2048];
        kcp_core_recv(&k, out, sizeof out);
    }
    kcp_core_flush(&k);
    kcp_core_free(&k);
}

/* ---- two instances over a lossy simulated channel ---- */

#define CH_MAX 20000

typedef struct pkt {
    uint32_t due;
    size_t len;
    uint8_t *data;
} pkt;

typedef struct chan {
    pkt q[CH_MAX];
    int n;
    uint32_t *now;
    int drop_pct, dup_pct;
} chan;

static uint32_t rnd_state = 12345;
static uint32_t rnd(void)
{
    rnd_state = rnd_state * 1103515245u + 12345u;
    return rnd_state >> 8;
}

static void chan_add(chan *c, const uint8_t *buf, size_t len)
{
    if (c->n >= CH_MAX || (int)(rnd() % 100) < c->drop_pct) return;
    pkt *p = &c->q[c->n++];
    p->due = *c->now + 2 + rnd() % 30; /* varying delay reorders */
    p->len = len;
    p->data = malloc(len);
    assert_non_null(p->data);
    memcpy(p->data, buf, len);
}

/* Output with 8 reserved bytes in front, as the FEC layer uses it. */
static void chan_out(uint8_t *buf, size_t len, void *arg)
{
    chan *c = arg;
    assert_true(len > 8 + KCP_OVERHEAD - 1);
    chan_add(c, buf + 8, len - 8);
    if ((int)(rnd() % 100) < c->dup_pct) chan_add(c, buf + 8, len - 8);
}

static void chan_deliver(chan *c, kcp_core *to, uint32_t now)
{
    for (int i = 0; i < c->n;) {
        if (c->q[i].due <= now) {
            assert_int_equal(kcp_core_input(to, c->q[i].data, c->q[i].len, now), 0);
            free(c->q[i].data);
            c->q[i] = c->q[--c->n];
        } else {
            i++;
        }
    }
}

static void chan_free(chan *c)
{
    for (int i = 0; i < c->n; i++)
        free(c->q[i].data);
    c->n = 0;
}

/* Byte i of a direction's stream. */
static uint8_t pattern(int dir, size_t i)
{
    return (uint8_t)((i * 31 + (i >> 9) * 7 + (size_t)dir * 101) & 0xFF);
}

typedef struct side {
    kcp_core k;
    size_t sent, got;
} side;

static void pump(side *s, int dir, size_t total)
{
    uint8_t buf[3000];
    while (s->sent < total && kcp_core_waitsnd(&s->k) < 2 * s->k.snd_wnd) {
        size_t n = 1 + rnd() % sizeof buf; /* odd sizes exercise stream-mode appends */
        if (n > total - s->sent) n = total - s->sent;
        for (size_t i = 0; i < n; i++)
            buf[i] = pattern(dir, s->sent + i);
        assert_int_equal(kcp_core_send(&s->k, buf, n), 0);
        s->sent += n;
    }
}

static void drain(side *s, int dir)
{
    uint8_t buf[8192];
    size_t n;
    while ((n = kcp_core_recv(&s->k, buf, sizeof buf)) > 0) {
        for (size_t i = 0; i < n; i++)
            if (buf[i] != pattern(dir, s->got + i))
                fail_msg("dir %d byte %zu: got %u", dir, s->got + i, buf[i]);
        s->got += n;
    }
}

static void run_lossy(int drop, int dup, size_t total)
{
    static side a, b;
    static chan ab, ba;
    uint32_t now = 1000;
    memset(&a, 0, sizeof a);
    memset(&b, 0, sizeof b);
    memset(&ab, 0, sizeof ab);
    memset(&ba, 0, sizeof ba);
    ab.now = ba.now = &now;
    ab.drop_pct = ba.drop_pct = drop;
    ab.dup_pct = ba.dup_pct = dup;
    assert_int_equal(kcp_core_init(&a.k, 0x1234, 8, chan_out, &ab), 0);
    assert_int_equal(kcp_core_init(&b.k, 0x1234, 8, chan_out, &ba), 0);
    frp_settings(&a.k, 128, 512);   /* frpc */
    frp_settings(&b.k, 1024, 1024); /* frps */
    while ((a.got < total || b.got < total) && now < 1000 + 600000) {
        pump(&a, 0, total);
        pump(&b, 1, total);
        chan_deliver(&ab, &b.k, now);
        chan_deliver(&ba, &a.k, now);
        drain(&b, 0);
        drain(&a, 1);
        kcp_core_update(&a.k, now);
        kcp_core_update(&b.k, now);
        now++;
    }
    assert_int_equal(b.got, total);
    assert_int_equal(a.got, total);
    /* everything acknowledged in the end */
    for (int i = 0; i < 2000 && (kcp_core_waitsnd(&a.k) || kcp_core_waitsnd(&b.k)); i++) {
        chan_deliver(&ab, &b.k, now);
        chan_deliver(&ba, &a.k, now);
        kcp_core_update(&a.k, now);
        kcp_core_update(&b.k, now);
        now++;
    }
    assert_int_equal(kcp_core_waitsnd(&a.k), 0);
    assert_int_equal(kcp_core_waitsnd(&b.k), 0);
    assert_int_equal(a.k.send_bytes, 0);
    chan_free(&ab);
    chan_free(&ba);
    kcp_core_free(&a.k);
    kcp_core_free(&b.k);
}

static void test_clean_channel(void **state)
{
    run_lossy(0, 0, 2 * 1024 * 1024);
}

static void test_lossy_channel(void **state)
{
    run_lossy(10, 5, 1024 * 1024);
}

static void test_very_lossy_channel(void **state)
{
    run_lossy(30, 10, 200 * 1024);
}

/* A reader that stops reading closes the window; the sender probes and resumes. */
static void test_window_probe(void **state)
{
    static side a, b;
    static chan ab, ba;
    uint32_t now = 0;
    memset(&a, 0, sizeof a);
    memset(&b, 0, sizeof b);
    memset(&ab, 0, sizeof ab);
    memset(&ba, 0, sizeof ba);
    ab.now = ba.now = &now;
    assert_int_equal(kcp_core_init(&a.k, 1, 8, chan_out, &ab), 0);
    assert_int_equal(kcp_core_init(&b.k, 1, 8, chan_out, &ba), 0);
    frp_settings(&a.k, 64, 64);
    frp_settings(&b.k, 16, 16);
    size_t total = 300 * 1024;
    for (; now < 5000; now++) { /* b never reads */
        pump(&a, 0, total);
        chan_deliver(&ab, &b.k, now);
        chan_deliver(&ba, &a.k, now);
        kcp_core_update(&a.k, now);
        kcp_core_update(&b.k, now);
    }
    assert_int_equal(b.k.nrcv_que, 16); /* receive window full, nothing more taken */
    assert_int_equal(a.k.rmt_wnd, 0);
    for (; now < 60000 && b.got < total; now++) {
        pump(&a, 0, total);
        chan_deliver(&ab, &b.k, now);
        chan_deliver(&ba, &a.k, now);
        drain(&b, 0);
        kcp_core_update(&a.k, now);
        kcp_core_update(&b.k, now);
    }
    assert_int_equal(b.got, total);
    chan_free(&ab);
    chan_free(&ba);
    kcp_core_free(&a.k);
    kcp_core_free(&b.k);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_go_push_and_ack),    cmocka_unit_test(test_bad_input),
        cmocka_unit_test(test_clean_channel),      cmocka_unit_test(test_lossy_channel),
        cmocka_unit_test(test_very_lossy_channel), cmocka_unit_test(test_window_probe),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
