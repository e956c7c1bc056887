/* libFuzzer target for the forward-proxy handshakes: the input is the proxy's answer
 * (first byte even: HTTP CONNECT with credentials, odd: SOCKS5 with credentials), fed
 * split at a fuzzer-chosen point. The handshake must end in success or an error, never
 * read beyond its buffer, and free everything. */
#include <stdint.h>
#include <stdlib.h>

#include "base/buf.h"
#include "net/pipe.h"
#include "net/proxy_dial.h"

static void fz_drop(stream *st, ssize_t nread, buf_ref data)
{
    (void)st;
    (void)nread;
    buf_ref_release(&data);
}

struct fz_outcome {
    bool ran;
    stream *s; /* the stream on success */
};

static void fz_done(stream *s, int status, const char *err, void *arg)
{
    struct fz_outcome *o = arg;
    (void)status;
    (void)err;
    o->ran = true;
    o->s = s;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 2) return 0;
    struct proxy_url pu;
    if (proxy_url_parse(data[0] & 1 ? "socks5://u:p@127.0.0.1:1080" : "http://u:p@127.0.0.1:3128",
                        &pu, NULL, 0) < 0)
        return 0;
    size_t split = data[1] % (size - 1);
    data += 2;
    size -= 2;
    uv_loop_t loop;
    uv_loop_init(&loop);
    stream *a, *b;
    struct fz_outcome out = {0};
    if (pipe_pair(&loop, &a, &b) < 0) return 0;
    stream_read_start(b, fz_drop);
    proxy_req *req = NULL;
    if (proxy_handshake(a, &pu, "frps.test", 7000, fz_done, &out, &req) == 0) {
        if (split) stream_write_copy(b, data, split, NULL, NULL);
        for (int i = 0; i < 5; i++) uv_run(&loop, UV_RUN_NOWAIT);
        if (size > split) stream_write_copy(b, data + split, size - split, NULL, NULL);
        for (int i = 0; i < 10; i++) uv_run(&loop, UV_RUN_NOWAIT);
        if (out.s)
            stream_close(out.s);
        else if (!out.ran)
            proxy_cancel(req);
    }
    stream_close(b);
    uv_run(&loop, UV_RUN_DEFAULT);
    uv_loop_close(&loop);
    return 0;
}
