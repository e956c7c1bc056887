/* Unit tests for net/ratelimit: the token bucket's arithmetic, and the stream filter
 * over in-memory pipes (read and write rates, pieces of at most one burst, a bucket
 * shared by two connections and both directions, bounded holding, EOF/shutdown order,
 * close with writes pending). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <uv.h>

#include "base/buf.h"
#include "base/err.h"
#include "net/pipe.h"
#include "net/ratelimit.h"

#define MiB (1024 * 1024)
#define CHUNK (64 * 1024)

/* ---- the bucket ---------------------------------------------------------------- */

static void test_bucket_math(void **state)
{
    assert_null(ratelimit_new(0));
    ratelimit *rl = ratelimit_new(1000);
    assert_non_null(rl);
    assert_int_equal(ratelimit_burst(rl), 1000);
    uint64_t t = 5000000000ULL;
    /* Starts full: one burst passes at once. */
    assert_int_equal(ratelimit_reserve(rl, 600, t), 0);
    assert_int_equal(ratelimit_reserve(rl, 400, t), 0);
    /* Empty: 500 bytes at 1000 B/s is half a second. */
    assert_int_equal(ratelimit_reserve(rl, 500, t), 500000000ULL);
    /* A later caller queues behind the debt. */
    assert_int_equal(ratelimit_reserve(rl, 100, t), 600000000ULL);
    /* 0.6 s later the debt is paid, 0.25 s more gives 250 tokens. */
    t += 850000000ULL;
    assert_int_equal(ratelimit_reserve(rl, 250, t), 0);
    assert_int_equal(ratelimit_reserve(rl, 1, t), 1000000ULL);
    /* Ten idle seconds refill no more than one burst. */
    t += 10000000000ULL;
    assert_int_equal(ratelimit_reserve(rl, 1001, t), 1000000ULL);
    ratelimit_retain(rl);
    ratelimit_release(rl);
    ratelimit_release(rl);
    ratelimit_release(NULL);
}

/* ---- helpers for stream tests -------------------------------------------------- */

/* One test's world; everything is created and closed inside the test. */
typedef struct ctx {
    uv_loop_t loop;
    uint64_t t0;
    /* reading side */
    size_t want;         /* bytes expected in total */
    size_t got;          /* bytes received by the reader */
    size_t max_piece;    /* largest read callback */
    size_t pieces[8];    /* first read sizes */
    size_t npieces;
    bool eof;
    uint64_t t_done;     /* when the last byte (or EOF, if expected) arrived */
    bool bad_data;
    stream *writer_end;  /* the far pipe end written by the test, for holding checks */
    size_t written;      /* bytes written at writer_end */
    size_t max_held;     /* largest (written - queued - got) seen */
    /* writing side */
    int write_status;
    int write_calls;
    int closes;
} ctx;

static double secs(uint64_t ns)
{
    return (double)ns / 1e9;
}

/* Pattern byte at absolute offset i, so reordering or loss is noticed. */
static unsigned char pat(size_t i)
{
    return (unsigned char)(i % 251);
}

static void on_closed(stream *s)
{
    ((ctx *)s->data)->closes++;
}

static void on_write_done(stream *s, int status, void *arg)
{
    ctx *c = arg;
    c->write_calls++;
    if (status < 0 || c->write_status == 0)
        c->write_status = status;
}

/* Writes len pattern bytes starting at offset off, in CHUNK-sized buffers, as one write. */
static int write_pattern(stream *s, size_t off, size_t len, ctx *c)
{
    size_t n = (len + CHUNK - 1) / CHUNK;
    buf_ref *bufs = calloc(n, sizeof(*bufs));
    assert_non_null(bufs);
    for (size_t k = 0; k < n; k++) {
        size_t l = len - k * CHUNK < CHUNK ? len - k * CHUNK : CHUNK;
        buf_chunk *ch = buf_chunk_alloc(CHUNK);
        assert_non_null(ch);
        for (size_t j = 0; j < l; j++)
            ch->data[j] = (char)pat(off + k * CHUNK + j);
        bufs[k] = buf_ref_make(ch, 0, l);
    }
    int rc = stream_write(s, bufs, n, on_write_done, c);
    free(bufs);
    return rc;
}

static void on_read(stream *s, ssize_t nread, buf_ref data)
{
    ctx *c = s->data;
    if (nread == UV_EOF) {
        c->eof = true;
        c->t_done = uv_hrtime();
        return;
    }
    assert_true(nread > 0);
    for (size_t j = 0; j < data.len; j++)
        if ((unsigned char)data.base[j] != pat(c->got + j))
            c->bad_data = true;
    if (c->npieces < 8)
        c->pieces[c->npieces++] = data.len;
    if (data.len > c->max_piece)
        c->max_piece = data.len;
    c->got += data.len;
    buf_ref_release(&data);
    if (c->writer_end != NULL) {
        size_t held = c->written - stream_queued(c->writer_end) - c->got;
        if (held > c->max_held)
            c->max_held = held;
    }
    if (c->got == c->want)
        c->t_done = uv_hrtime();
}

static void ctx_init(ctx *c)
{
    memset(c, 0, sizeof(*c));
    assert_int_equal(uv_loop_init(&c->loop), 0);
}

static void ctx_finish(ctx *c)
{
    uv_run(&c->loop, UV_RUN_DEFAULT);
    assert_int_equal(uv_loop_close(&c->loop), 0);
    buf_pool_drain();
}

/* A filter over one end of a new pipe; *far is the other end. */
static stream *limited_pipe(ctx *c, ratelimit *rl, stream **far)
{
    stream *a, *b, *f;
    assert_int_equal(pipe_pair(&c->loop, &a, &b), 0);
    assert_int_equal(ratelimit_stream_new(&c->loop, a, rl, &f), 0);
    f->data = c;
    f->on_close = on_closed;
    b->data = c;
    b->on_close = on_closed;
    *far = b;
    return f;
}

/* Elapsed time must be what the bucket allows: never much less, at most 20% more. */
static void assert_duration(double got, double expect)
{
    if (got < expect * 0.95 - 0.01 || got > expect * 1.2 + 0.05)
        fail_msg("took %.3f s, expected %.3f s", got, expect);
}

/* ---- stream tests -------------------------------------------------------------- */

/* Reading 2 MiB at 1 MiB/s: the first MiB is the initial burst, the second takes 1 s.
 * The filter holds at most one inner read while it waits. */
static void test_read_rate(void **state)
{
    ctx c;
    ctx_init(&c);
    ratelimit *rl = ratelimit_new(MiB);
    stream *far;
    stream *f = limited_pipe(&c, rl, &far);
    ratelimit_release(rl); /* the filter keeps its own reference */
    c.want = 2 * MiB;
    c.writer_end = far;
    c.written = c.want;
    c.t0 = uv_hrtime();
    assert_int_equal(write_pattern(far, 0, c.want, &c), 0);
    assert_int_equal(stream_read_start(f, on_read), 0);
    while (c.got < c.want)
        uv_run(&c.loop, UV_RUN_ONCE);
    assert_false(c.bad_data);
    assert_true(c.max_piece <= MiB);
    assert_true(c.max_held <= CHUNK);
    assert_duration(secs(c.t_done - c.t0), 1.0);
    stream_close(f);
    stream_close(far);
    ctx_finish(&c);
    assert_int_equal(c.closes, 2);
    assert_int_equal(c.write_calls, 1);
    assert_int_equal(c.write_status, 0);
}

/* Writing 2 MiB at 1 MiB/s through the filter also takes 1 s; queued() counts the
 * bytes the filter holds back, and the one callback comes after the last byte. */
static void test_write_rate(void **state)
{
    ctx c;
    ctx_init(&c);
    ratelimit *rl = ratelimit_new(MiB);
    stream *far;
    stream *f = limited_pipe(&c, rl, &far);
    ratelimit_release(rl);
    c.want = 2 * MiB;
    c.t0 = uv_hrtime();
    assert_int_equal(write_pattern(f, 0, c.want, &c), 0);
    assert_int_equal(stream_queued(f), c.want);
    assert_int_equal(stream_read_start(far, on_read), 0);
    while (c.got < c.want || c.write_calls == 0)
        uv_run(&c.loop, UV_RUN_ONCE);
    assert_false(c.bad_data);
    assert_int_equal(c.write_calls, 1);
    assert_int_equal(c.write_status, 0);
    assert_int_equal(stream_queued(f), 0);
    assert_duration(secs(c.t_done - c.t0), 1.0);
    stream_close(f);
    stream_close(far);
    ctx_finish(&c);
    assert_int_equal(c.closes, 2);
}

/* Two connections share one bucket, one reading and one writing: 1 MiB each at
 * 1 MiB/s is 2 MiB through one bucket, 1 s after the initial burst. */
static void test_shared_bucket(void **state)
{
    ctx r, w;
    ctx_init(&r);
    memset(&w, 0, sizeof(w));
    ratelimit *rl = ratelimit_new(MiB);
    stream *rfar, *wfar;
    stream *rf = limited_pipe(&r, rl, &rfar);
    stream *wf = limited_pipe(&r, rl, &wfar);
    ratelimit_release(rl);
    wf->data = &w;
    wfar->data = &w;
    r.want = MiB;
    w.want = MiB;
    r.t0 = uv_hrtime();
    assert_int_equal(write_pattern(rfar, 0, MiB, &r), 0);
    assert_int_equal(write_pattern(wf, 0, MiB, &w), 0);
    assert_int_equal(stream_read_start(rf, on_read), 0);
    assert_int_equal(stream_read_start(wfar, on_read), 0);
    while (r.got < r.want || w.got < w.want)
        uv_run(&r.loop, UV_RUN_ONCE);
    assert_false(r.bad_data);
    assert_false(w.bad_data);
    uint64_t last = r.t_done > w.t_done ? r.t_done : w.t_done;
    assert_duration(secs(last - r.t0), 1.0);
    stream_close(rf);
    stream_close(rfar);
    stream_close(wf);
    stream_close(wfar);
    ctx_finish(&r);
    assert_int_equal(r.closes + w.closes, 4);
}

/* One inner read larger than the burst is handed on in burst-sized pieces, the later
 * ones as tokens come in; EOF follows the last piece. */
static void test_read_pieces_and_eof(void **state)
{
    ctx c;
    ctx_init(&c);
    ratelimit *rl = ratelimit_new(40000);
    stream *far;
    stream *f = limited_pipe(&c, rl, &far);
    ratelimit_release(rl);
    c.want = 50000;
    c.t0 = uv_hrtime();
    assert_int_equal(write_pattern(far, 0, 50000, &c), 0);
    assert_int_equal(stream_shutdown(far), 0);
    assert_int_equal(stream_read_start(f, on_read), 0);
    while (!c.eof)
        uv_run(&c.loop, UV_RUN_ONCE);
    assert_int_equal(c.got, 50000);
    assert_int_equal(c.npieces, 2);
    assert_int_equal(c.pieces[0], 40000);
    assert_int_equal(c.pieces[1], 10000);
    assert_false(c.bad_data);
    assert_duration(secs(c.t_done - c.t0), 0.25);
    stream_close(f);
    stream_close(far);
    ctx_finish(&c);
}

/* shutdown() on the filter waits for the held-back bytes, then the peer reads EOF;
 * later writes fail with UV_EPIPE. */
static void test_shutdown_after_queued_writes(void **state)
{
    ctx c;
    ctx_init(&c);
    ratelimit *rl = ratelimit_new(100000);
    stream *far;
    stream *f = limited_pipe(&c, rl, &far);
    ratelimit_release(rl);
    c.want = 150000;
    c.t0 = uv_hrtime();
    assert_int_equal(write_pattern(f, 0, 150000, &c), 0);
    assert_int_equal(stream_shutdown(f), 0);
    char x = 'x';
    assert_int_equal(stream_write_copy(f, &x, 1, NULL, NULL), UV_EPIPE);
    assert_int_equal(stream_read_start(far, on_read), 0);
    while (!c.eof)
        uv_run(&c.loop, UV_RUN_ONCE);
    assert_int_equal(c.got, 150000);
    assert_false(c.bad_data);
    assert_duration(secs(c.t_done - c.t0), 0.5);
    stream_close(f);
    stream_close(far);
    ctx_finish(&c);
    assert_int_equal(c.write_status, 0);
}

/* read_stop() while bytes wait: nothing is delivered until read_start() again, and
 * nothing is lost. */
static void test_read_stop_and_resume(void **state)
{
    ctx c;
    ctx_init(&c);
    ratelimit *rl = ratelimit_new(100000);
    stream *far;
    stream *f = limited_pipe(&c, rl, &far);
    ratelimit_release(rl);
    c.want = 200000;
    assert_int_equal(write_pattern(far, 0, 200000, &c), 0);
    assert_int_equal(stream_read_start(f, on_read), 0);
    while (c.got == 0)
        uv_run(&c.loop, UV_RUN_ONCE);
    assert_int_equal(stream_read_stop(f), 0);
    size_t seen = c.got;
    assert_true(seen < c.want);
    uint64_t until = uv_hrtime() + 1200000000ULL; /* longer than the rest would take */
    while (uv_hrtime() < until)
        uv_run(&c.loop, UV_RUN_NOWAIT);
    assert_int_equal(c.got, seen);
    assert_int_equal(stream_read_start(f, on_read), 0);
    assert_int_equal(c.got, seen); /* nothing from inside read_start */
    while (c.got < c.want)
        uv_run(&c.loop, UV_RUN_ONCE);
    assert_false(c.bad_data);
    stream_close(f);
    stream_close(far);
    ctx_finish(&c);
}

/* close() with most of a write held back: its callback reports UV_ECANCELED, both ends
 * close, nothing leaks (checked under ASan). */
static void test_close_cancels_writes(void **state)
{
    ctx c;
    ctx_init(&c);
    ratelimit *rl = ratelimit_new(1000);
    stream *far;
    stream *f = limited_pipe(&c, rl, &far);
    ratelimit_release(rl);
    assert_int_equal(write_pattern(f, 0, 5000, &c), 0);
    assert_int_equal(write_pattern(f, 5000, 100, &c), 0);
    assert_true(stream_queued(f) >= 4100);
    uv_run(&c.loop, UV_RUN_NOWAIT);
    stream_close(f);
    stream_close(far);
    ctx_finish(&c);
    assert_int_equal(c.write_calls, 2);
    assert_int_equal(c.write_status, UV_ECANCELED);
    assert_int_equal(c.closes, 2);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_bucket_math),
        cmocka_unit_test(test_read_rate),
        cmocka_unit_test(test_write_rate),
        cmocka_unit_test(test_shared_bucket),
        cmocka_unit_test(test_read_pieces_and_eof),
        cmocka_unit_test(test_shutdown_after_queued_writes),
        cmocka_unit_test(test_read_stop_and_resume),
        cmocka_unit_test(test_close_cancels_writes),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
