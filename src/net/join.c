/* The two-way pump (see join.h). Each direction reads `from` and writes into `to`;
 * every write carries its direction as the callback argument, so no per-read state is
 * allocated. */
#include "net/join.h"

#include <stdlib.h>
#include <uv.h>

#include "base/err.h"

typedef struct join_dir {
    join *j;
    stream *from, *to;
    uint64_t bytes;
    size_t max_queued; /* highest to->queued() seen */
    int pending;       /* writes on `to` not yet completed */
    bool paused;       /* reading `from` stopped for backpressure */
    bool eof;          /* `from` reached EOF */
    bool shut;         /* `to` was shut down (half-close mode) */
} join_dir;

/* Owned by itself from stream_join() until its callback has returned. */
struct join {
    join_dir d[2]; /* d[0]: a -> b, d[1]: b -> a */
    size_t high_water;
    bool half_close;
    bool draining; /* no more reads: close both once pending writes are done */
    bool closing;  /* both streams are being closed */
    int status;
    int closed;    /* on_close callbacks seen */
    join_done_cb cb;
    void *arg;
};

static void join_close_both(join *j)
{
    if (j->closing) return;
    j->closing = true;
    stream_close(j->d[0].from);
    stream_close(j->d[1].from);
}

static void join_fail(join *j, int status)
{
    if (!j->status) j->status = status;
    join_close_both(j);
}

/* Stops reading both sides and closes them once what was read has been written. */
static void join_drain(join *j)
{
    if (!j->draining) {
        j->draining = true;
        stream_read_stop(j->d[0].from);
        stream_read_stop(j->d[1].from);
    }
    if (j->d[0].pending == 0 && j->d[1].pending == 0) join_close_both(j);
}

/* Half-close mode: pass EOF on once the bytes before it were written. */
static void join_maybe_shut(join_dir *d)
{
    join *j = d->j;
    if (!d->eof || d->shut || d->pending > 0) return;
    d->shut = true;
    int rc = stream_shutdown(d->to);
    if (rc) {
        join_fail(j, rc);
        return;
    }
    if (j->d[0].shut && j->d[1].shut) join_drain(j);
}

static void join_on_write(stream *s, int status, void *arg)
{
    join_dir *d = arg;
    join *j = d->j;
    d->pending--;
    if (j->closing) return;
    if (status < 0) {
        join_fail(j, status);
        return;
    }
    if (j->draining) {
        join_drain(j);
        return;
    }
    if (d->paused && (d->pending == 0 || stream_queued(d->to) <= j->high_water / 2)) {
        d->paused = false;
        int rc = stream_read_start(d->from, d->from->on_read);
        if (rc) {
            join_fail(j, rc);
            return;
        }
    }
    if (j->half_close) join_maybe_shut(d);
}

static void join_on_read(stream *s, ssize_t nread, buf_ref data)
{
    join *j = s->data;
    join_dir *d = s == j->d[0].from ? &j->d[0] : &j->d[1];
    if (j->closing || j->draining || d->eof) {
        buf_ref_release(&data);
        return;
    }
    if (nread == UV_EOF) {
        d->eof = true;
        stream_read_stop(s);
        if (j->half_close)
            join_maybe_shut(d);
        else
            join_drain(j);
        return;
    }
    if (nread < 0) {
        buf_ref_release(&data);
        join_fail(j, (int)nread);
        return;
    }
    d->bytes += (uint64_t)nread;
    d->pending++;
    int rc = stream_write(d->to, &data, 1, join_on_write, d);
    if (rc) {
        d->pending--;
        join_fail(j, rc);
        return;
    }
    size_t q = stream_queued(d->to);
    if (q > d->max_queued) d->max_queued = q;
    if (q > j->high_water && !d->paused) {
        d->paused = true;
        stream_read_stop(s);
    }
}

static void join_on_close(stream *s)
{
    join *j = s->data;
    if (++j->closed < 2) return;
    struct join_result res = {
        .a_to_b = j->d[0].bytes,
        .b_to_a = j->d[1].bytes,
        .status = j->status,
        .max_queued_a = j->d[1].max_queued,
        .max_queued_b = j->d[0].max_queued,
    };
    j->cb(&res, j->arg);
    free(j);
}

int stream_join(stream *a, stream *b, const struct join_options *opts, join_done_cb cb,
                void *arg, join **out)
{
    join *j = calloc(1, sizeof *j);
    if (!j) return UV_ENOMEM;
    j->high_water = opts && opts->high_water ? opts->high_water : JOIN_DEFAULT_HIGH_WATER;
    j->half_close = opts && opts->half_close;
    j->cb = cb;
    j->arg = arg;
    j->d[0] = (join_dir){.j = j, .from = a, .to = b};
    j->d[1] = (join_dir){.j = j, .from = b, .to = a};
    a->data = b->data = j;
    a->on_close = b->on_close = join_on_close;
    if (out) *out = j;
    int rc = stream_read_start(a, join_on_read);
    if (rc == 0) rc = stream_read_start(b, join_on_read);
    if (rc) join_fail(j, rc); /* reported through cb once both are closed */
    return 0;
}

void join_abort(join *j)
{
    join_fail(j, CFRP_ECLOSED);
}

void join_counts(const join *j, uint64_t *a_to_b, uint64_t *b_to_a)
{
    *a_to_b = j->d[0].bytes;
    *b_to_a = j->d[1].bytes;
}
