/* Writing message frames to streams (see msg_io.h). */
#include "proto/msg_io.h"

#include <uv.h>

#include "proto/frame.h"

int msg_send(stream *s, const msg *m, stream_write_cb cb, void *arg)
{
    /* Encoded on the stack, then copied into a chunk of the frame's exact size: a
     * queued message (one per new work connection) then holds ~100 bytes, not 10 KiB. */
    char frame[MSG_FRAME_MAX];
    size_t len = 0;
    int rc = msg_frame_encode(m, frame, sizeof frame, &len);
    if (rc < 0)
        return rc;
    buf_ref r = buf_ref_copy(frame, len);
    if (r.chunk == NULL)
        return UV_ENOMEM;
    return stream_write(s, &r, 1, cb, arg);
}
