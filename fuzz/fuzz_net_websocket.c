/* libFuzzer target for the WebSocket layer: the input is what the peer sends, split at
 * a fuzzer-chosen point, to a server stream (first byte even: frames after an upgrade)
 * or to a client stream (odd: the 101 answer and frames). Whatever is decoded is read
 * and dropped; then both ends are closed and everything must be freed cleanly. */
#include <stdint.h>
#include <stdlib.h>

#include "base/buf.h"
#include "base/log.h"
#include "net/pipe.h"
#include "net/websocket.h"

static void fz_on_read(stream *st, ssize_t nread, buf_ref data)
{
    buf_ref_release(&data);
    if (nread < 0) stream_read_stop(st);
}

static void fz_handshake(stream *s, int status, const char *err, void *arg)
{
    (void)s;
    (void)status;
    (void)err;
    (void)arg;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static bool quiet;
    if (!quiet) {
        struct log_options lo = {.to = "console", .level = LOG_ERROR};
        log_setup(&lo);
        quiet = true;
    }
    if (size < 2) return 0;
    bool client = data[0] & 1;
    size_t split = data[1] % (size - 1);
    data += 2;
    size -= 2;
    uv_loop_t loop;
    uv_loop_init(&loop);
    stream *a, *b, *ws = NULL;
    if (pipe_pair(&loop, &a, &b) < 0) return 0;
    int rc = client ? ws_client_new(&loop, a, "frps.test:7000", "/~!frp", fz_handshake, NULL, &ws)
                    : ws_server_new(&loop, a, NULL, 0, &ws);
    if (rc < 0) {
        stream_close(a);
    } else {
        stream_read_start(ws, fz_on_read);
        stream_write_copy(ws, "hello", 5, NULL, NULL);
    }
    stream_read_start(b, fz_on_read);
    if (split) stream_write_copy(b, data, split, NULL, NULL);
    if (size > split) stream_write_copy(b, data + split, size - split, NULL, NULL);
    for (int i = 0; i < 20; i++) uv_run(&loop, UV_RUN_NOWAIT);
    if (ws) stream_close(ws);
    stream_close(b);
    uv_run(&loop, UV_RUN_DEFAULT);
    uv_loop_close(&loop);
    return 0;
}
