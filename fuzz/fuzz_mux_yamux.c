/* libFuzzer target for yamux: feeds arbitrary bytes, split at a fuzzer-chosen point,
 * to a server session over the in-memory pipe. Accepted streams are read (and every
 * third one closed at once), so frames exercise accept, data, window, FIN/RST, ping
 * and go-away paths; then everything is closed and must be freed cleanly. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "base/buf.h"
#include "base/log.h"
#include "mux/yamux.h"
#include "net/pipe.h"

static int fz_accepted;
static bool fz_closed; /* on_close ran: the session may be gone */

static void fz_on_read(stream *st, ssize_t nread, buf_ref data)
{
    buf_ref_release(&data);
    if (nread < 0) stream_close(st);
}

static void fz_accept(yamux_session *s, stream *st)
{
    (void)s;
    if (fz_accepted++ % 3 == 2) {
        stream_close(st);
        return;
    }
    stream_read_start(st, fz_on_read);
    stream_write_copy(st, "x", 1, NULL, NULL);
}

static void fz_on_close(yamux_session *s, int status)
{
    (void)s;
    (void)status;
    fz_closed = true;
}

static void fz_raw_read(stream *st, ssize_t nread, buf_ref data)
{
    (void)st;
    (void)nread;
    buf_ref_release(&data);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static bool quiet;
    if (!quiet) {
        struct log_options lo = {.to = "console", .level = LOG_ERROR};
        log_setup(&lo);
        quiet = true;
    }
    uv_loop_t loop;
    uv_loop_init(&loop);
    stream *a, *b;
    if (pipe_pair(&loop, &a, &b) < 0) return 0;
    yamux_session *s;
    if (yamux_session_new(&loop, a, false, NULL, fz_accept, fz_on_close, NULL, &s, NULL, 0) <
        0) {
        stream_close(a);
        stream_close(b);
        uv_run(&loop, UV_RUN_DEFAULT);
        uv_loop_close(&loop);
        return 0;
    }
    stream_read_start(b, fz_raw_read);
    fz_accepted = 0;
    fz_closed = false;
    size_t split = size ? data[0] % (size + 1) : 0;
    if (split) stream_write_copy(b, data, split, NULL, NULL);
    if (size > split) stream_write_copy(b, data + split, size - split, NULL, NULL);
    for (int i = 0; i < 20; i++) uv_run(&loop, UV_RUN_NOWAIT);
    if (!fz_closed) yamux_session_close(s);
    stream_close(b);
    uv_run(&loop, UV_RUN_DEFAULT);
    uv_loop_close(&loop);
    return 0;
}
