/* Writing message frames to streams (see msg_io.h). */
#include "proto/msg_io.h"

#include <uv.h>

#include "proto/frame.h"

int msg_send(stream *s, const msg *m, stream_write_cb cb, void *arg)
{
    buf_chunk *c = buf_chunk_alloc(MSG_FRAME_MAX);
    if (c == NULL)
        return UV_ENOMEM;
    size_t len = 0;
    int rc = msg_frame_encode(m, c->data, MSG_FRAME_MAX, &len);
    if (rc < 0) {
        buf_chunk_release(c);
        return rc;
    }
    buf_ref r = buf_ref_make(c, 0, len);
    return stream_write(s, &r, 1, cb, arg);
}
