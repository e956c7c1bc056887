/* Unit tests for net/pipe: delivery, write completion, backpressure, EOF and close. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <string.h>

#include <cmocka.h>
#include <uv.h>

#include "base/err.h"
#include "net/pipe.h"

typedef struct {
    char data[256];
    size_t len;
    int eof, err, writes_ok, writes_failed, last_write_status, closed;
} rec;

static void on_read(stream *s, ssize_t n, buf_ref d)
{
    rec *r = s->data;
    if (n > 0) {
        assert_int_equal((size_t)n, d.len);
        assert_true(r->len + d.len <= sizeof r->data);
        memcpy(r->data + r->len, d.base, d.len);
        r->len += d.len;
    } else if (n == UV_EOF) {
        r->eof++;
    } else {
        r->err = (int)n;
    }
    buf_ref_release(&d);
}

static void on_write(stream *s, int status, void *arg)
{
    rec *r = arg;
    r->last_write_status = status;
    if (status == 0)
        r->writes_ok++;
    else
        r->writes_failed++;
}

static void on_close(stream *s)
{
    ((rec *)s->data)->closed++;
}

static void run(uv_loop_t *loop)
{
    for (int i = 0; i < 10; i++) uv_run(loop, UV_RUN_NOWAIT);
}

static void test_roundtrip_and_eof(void **state)
{
    uv_loop_t loop;
    uv_loop_init(&loop);
    stream *a, *b;
    assert_int_equal(pipe_pair(&loop, &a, &b), 0);
    rec ra = {0}, rb = {0};
    a->data = &ra;
    b->data = &rb;
    a->on_close = on_close;
    b->on_close = on_close;

    assert_int_equal(stream_write_copy(a, "hello ", 6, on_write, &ra), 0);
    buf_ref two[2] = {buf_ref_copy("wor", 3), buf_ref_copy("ld", 2)};
    assert_int_equal(stream_write(a, two, 2, on_write, &ra), 0);
    assert_null(two[0].chunk); /* ownership moved */
    assert_int_equal(stream_queued(a), 11);
    run(&loop);
    /* Nobody reads b yet: nothing completes (backpressure). */
    assert_int_equal(ra.writes_ok, 0);
    assert_int_equal(stream_queued(a), 11);

    assert_int_equal(stream_read_start(b, on_read), 0);
    assert_int_equal(rb.len, 0); /* never delivered inside read_start */
    run(&loop);
    assert_int_equal(rb.len, 11);
    assert_memory_equal(rb.data, "hello world", 11);
    assert_int_equal(ra.writes_ok, 2);
    assert_int_equal(stream_queued(a), 0);
    assert_int_equal(rb.eof, 0);

    assert_int_equal(stream_shutdown(a), 0);
    assert_int_equal(stream_write_copy(a, "x", 1, on_write, &ra), UV_EPIPE);
    run(&loop);
    assert_int_equal(rb.eof, 1);

    /* b can still write back to a after a's half-close. */
    assert_int_equal(stream_read_start(a, on_read), 0);
    assert_int_equal(stream_write_copy(b, "back", 4, on_write, &rb), 0);
    run(&loop);
    assert_int_equal(ra.len, 4);
    assert_int_equal(rb.writes_ok, 1);

    stream_close(a);
    stream_close(b);
    assert_int_equal(uv_run(&loop, UV_RUN_DEFAULT), 0);
    assert_int_equal(ra.closed, 1);
    assert_int_equal(rb.closed, 1);
    assert_int_equal(uv_loop_close(&loop), 0);
    buf_pool_drain();
}

static void test_close_cancels_and_peer_sees_eof(void **state)
{
    uv_loop_t loop;
    uv_loop_init(&loop);
    stream *a, *b;
    assert_int_equal(pipe_pair(&loop, &a, &b), 0);
    rec ra = {0}, rb = {0};
    a->data = &ra;
    b->data = &rb;
    a->on_close = on_close;
    b->on_close = on_close;
    assert_int_equal(stream_write_copy(a, "lost", 4, on_write, &ra), 0);
    assert_int_equal(stream_write_copy(b, "also lost", 9, on_write, &rb), 0);
    assert_int_equal(stream_read_start(b, on_read), 0);
    stream_close(a);
    assert_int_equal(stream_write_copy(a, "x", 1, on_write, &ra), CFRP_ECLOSED);
    run(&loop);
    assert_int_equal(ra.closed, 1);
    assert_int_equal(ra.writes_failed, 1);
    assert_int_equal(ra.last_write_status, UV_ECANCELED);
    assert_int_equal(rb.len, 0);
    assert_int_equal(rb.eof, 1);
    assert_int_equal(rb.writes_failed, 1);
    assert_int_equal(rb.last_write_status, UV_EPIPE);
    assert_int_equal(stream_write_copy(b, "y", 1, on_write, &rb), UV_EPIPE);
    stream_close(b);
    assert_int_equal(uv_run(&loop, UV_RUN_DEFAULT), 0);
    assert_int_equal(rb.closed, 1);
    assert_int_equal(uv_loop_close(&loop), 0);
    buf_pool_drain();
}

/* Stops reading after the first piece: the rest stays queued on the writer. */
static void on_read_once(stream *s, ssize_t n, buf_ref d)
{
    on_read(s, n, d);
    stream_read_stop(s);
}

static void test_read_stop_backpressure(void **state)
{
    uv_loop_t loop;
    uv_loop_init(&loop);
    stream *a, *b;
    assert_int_equal(pipe_pair(&loop, &a, &b), 0);
    rec ra = {0}, rb = {0};
    a->data = &ra;
    b->data = &rb;
    for (int i = 0; i < 3; i++) assert_int_equal(stream_write_copy(a, "abc", 3, on_write, &ra), 0);
    assert_int_equal(stream_read_start(b, on_read_once), 0);
    run(&loop);
    assert_int_equal(rb.len, 3);
    assert_int_equal(ra.writes_ok, 1);
    assert_int_equal(stream_queued(a), 6);
    assert_int_equal(stream_read_start(b, on_read), 0);
    run(&loop);
    assert_int_equal(rb.len, 9);
    assert_int_equal(stream_queued(a), 0);
    stream_close(b);
    stream_close(a);
    assert_int_equal(uv_run(&loop, UV_RUN_DEFAULT), 0);
    assert_int_equal(uv_loop_close(&loop), 0);
    buf_pool_drain();
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_roundtrip_and_eof),
        cmocka_unit_test(test_close_cancels_and_peer_sees_eof),
        cmocka_unit_test(test_read_stop_backpressure),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
