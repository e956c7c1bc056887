/* Unit tests for frps's pure pieces: the string map (sessions, proxies), run ids, the
 * bind-port classification and TLS sniff, and the prefix stream. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>
#include <uv.h>

#include "net/pipe.h"
#include "server/svr_internal.h"

static bool drop_odd(const char *key, void *val, void *arg)
{
    (*(int *)arg)++;
    return ((intptr_t)val & 1) != 0;
}

static void test_map(void **state)
{
    struct svr_map m;
    svr_map_init(&m);
    assert_null(svr_map_get(&m, "x"));
    char key[16];
    for (intptr_t i = 1; i <= 1000; i++) {
        snprintf(key, sizeof key, "k%ld", (long)i);
        assert_int_equal(svr_map_set(&m, key, (void *)i), 0);
    }
    assert_int_equal(m.n, 1000);
    assert_ptr_equal(svr_map_get(&m, "k500"), (void *)500);
    assert_int_equal(svr_map_set(&m, "k500", (void *)7), 0);
    assert_int_equal(m.n, 1000);
    assert_ptr_equal(svr_map_get(&m, "k500"), (void *)7);
    assert_ptr_equal(svr_map_del(&m, "k1"), (void *)1);
    assert_null(svr_map_del(&m, "k1"));
    assert_null(svr_map_get(&m, "k1"));
    int visited = 0;
    svr_map_filter(&m, drop_odd, &visited);
    assert_int_equal(visited, 999);
    assert_null(svr_map_get(&m, "k3"));
    assert_ptr_equal(svr_map_get(&m, "k4"), (void *)4);
    assert_null(svr_map_get(&m, "k500")); /* 7 is odd: dropped */
    assert_int_equal(svr_map_set(&m, "", (void *)2), 0);
    assert_ptr_equal(svr_map_get(&m, ""), (void *)2);
    svr_map_free(&m);
    assert_int_equal(m.n, 0);
}

static void test_run_id(void **state)
{
    char a[17], b[17];
    assert_int_equal(svr_run_id_new(a), 0);
    assert_int_equal(svr_run_id_new(b), 0);
    assert_int_equal(strlen(a), 16);
    assert_int_equal(strspn(a, "0123456789abcdef"), 16);
    assert_string_not_equal(a, b);
}

static void test_classify(void **state)
{
    const uint8_t ws[] = "GET /~!frp HTTP/1.1";
    const uint8_t get[] = "GET / HTTP/1.1";
    const uint8_t patch[] = "PATCH /x HT";
    const uint8_t hello[10] = {0x16, 0x03, 0x01, 0x02, 0x00, 0x01, 0x00, 0x01, 0xfc, 0x03};
    const uint8_t custom[10] = {0x17, 0x16, 0x03, 0x01};
    const uint8_t login[10] = {'o', 0, 0, 0, 0, 0, 0, 0, 0x80, '{'};
    const uint8_t yamux[10] = {0, 1, 0, 1, 0, 0, 0, 1, 0, 0x5c};
    assert_int_equal(svr_classify(ws, true, true), SVR_CLASS_WEBSOCKET);
    assert_int_equal(svr_classify(ws, false, false), SVR_CLASS_WEBSOCKET);
    assert_int_equal(svr_classify(get, false, true), SVR_CLASS_VHOST_HTTP);
    assert_int_equal(svr_classify(get, true, false), SVR_CLASS_FRP);
    assert_int_equal(svr_classify(patch, false, true), SVR_CLASS_VHOST_HTTP);
    assert_int_equal(svr_classify(hello, true, true), SVR_CLASS_VHOST_HTTPS);
    assert_int_equal(svr_classify(hello, false, true), SVR_CLASS_FRP);
    assert_int_equal(svr_classify(custom, true, true), SVR_CLASS_FRP);
    assert_int_equal(svr_classify(login, true, true), SVR_CLASS_FRP);
    assert_int_equal(svr_classify(yamux, true, true), SVR_CLASS_FRP);

    assert_int_equal(svr_tls_sniff(0x17, false), SVR_SNIFF_TLS_CUSTOM);
    assert_int_equal(svr_tls_sniff(0x16, true), SVR_SNIFF_TLS);
    assert_int_equal(svr_tls_sniff('o', false), SVR_SNIFF_PLAIN);
    assert_int_equal(svr_tls_sniff(0x00, false), SVR_SNIFF_PLAIN);
    assert_int_equal(svr_tls_sniff('o', true), SVR_SNIFF_REFUSE);
}

/* ---- prefix stream over a pipe ---- */

struct got {
    char data[64];
    size_t len;
    int eof, closed, writes;
};

static void got_read(stream *s, ssize_t n, buf_ref d)
{
    struct got *g = s->data;
    if (n > 0) {
        assert_true(g->len + d.len <= sizeof g->data);
        memcpy(g->data + g->len, d.base, d.len);
        g->len += d.len;
    } else if (n == UV_EOF) {
        g->eof++;
    }
    buf_ref_release(&d);
}

static void got_closed(stream *s)
{
    ((struct got *)s->data)->closed++;
}

static void got_written(stream *s, int status, void *arg)
{
    assert_int_equal(status, 0);
    ((struct got *)arg)->writes++;
}

static void test_prefix_stream(void **state)
{
    uv_loop_t loop;
    uv_loop_init(&loop);
    stream *a, *b, *ps;
    assert_int_equal(pipe_pair(&loop, &a, &b), 0);
    struct got ga = {0}, gb = {0};
    b->data = &gb;
    b->on_close = got_closed;
    assert_int_equal(prefix_stream_new(&loop, a, buf_ref_copy("head-", 5), &ps), 0);
    ps->data = &ga;
    ps->on_close = got_closed;
    assert_int_equal(stream_write_copy(b, "body", 4, NULL, NULL), 0);
    assert_int_equal(stream_shutdown(b), 0);
    assert_int_equal(stream_read_start(ps, got_read), 0);
    assert_int_equal(ga.len, 0); /* never delivered inside read_start */
    assert_int_equal(stream_write_copy(ps, "back", 4, got_written, &ga), 0);
    assert_int_equal(stream_read_start(b, got_read), 0);
    uv_run(&loop, UV_RUN_DEFAULT);
    assert_int_equal(ga.len, 9);
    assert_memory_equal(ga.data, "head-body", 9);
    assert_int_equal(ga.eof, 1);
    assert_int_equal(ga.writes, 1);
    assert_int_equal(gb.len, 4);
    assert_memory_equal(gb.data, "back", 4);
    stream_close(ps);
    stream_close(b);
    uv_run(&loop, UV_RUN_DEFAULT);
    assert_int_equal(ga.closed, 1);
    assert_int_equal(gb.closed, 1);
    assert_int_equal(uv_loop_close(&loop), 0);
}

static void test_prefix_stream_close_before_head(void **state)
{
    uv_loop_t loop;
    uv_loop_init(&loop);
    stream *a, *b, *ps;
    assert_int_equal(pipe_pair(&loop, &a, &b), 0);
    struct got ga = {0}, gb = {0};
    b->data = &gb;
    assert_int_equal(prefix_stream_new(&loop, a, buf_ref_copy("xyz", 3), &ps), 0);
    ps->data = &ga;
    ps->on_close = got_closed;
    assert_int_equal(stream_read_start(ps, got_read), 0);
    stream_close(ps); /* the head is dropped, never read */
    stream_close(b);
    uv_run(&loop, UV_RUN_DEFAULT);
    assert_int_equal(ga.len, 0);
    assert_int_equal(ga.closed, 1);
    assert_int_equal(uv_loop_close(&loop), 0);
    buf_pool_drain();
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_map),
        cmocka_unit_test(test_run_id),
        cmocka_unit_test(test_classify),
        cmocka_unit_test(test_prefix_stream),
        cmocka_unit_test(test_prefix_stream_close_before_head),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
