/* Helpers shared by every stream implementation (the interface is in stream.h). */
#include "net/stream.h"

#include <uv.h>

int stream_write_copy(stream *s, const void *data, size_t len, stream_write_cb cb, void *arg)
{
    buf_ref r = buf_ref_copy(data, len);
    if (!r.chunk) return UV_ENOMEM;
    return stream_write(s, &r, 1, cb, arg);
}
