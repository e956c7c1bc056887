/* Snappy framing stream filter for useCompression (protocol.md §5.3): each write
 * becomes the chunks golang/snappy's unbuffered Writer would emit for one Write call;
 * reads are decoded chunk by chunk with CRC checks. A stream that ends inside a chunk,
 * or corrupt input, is reported as CFRP_EPROTO. It sits above the AES filter. */
#ifndef CFRP_PROTO_SNAPPY_STREAM_H
#define CFRP_PROTO_SNAPPY_STREAM_H

#include <stddef.h>
#include <uv.h>

#include "net/stream.h"

/* Wraps inner; head/head_len as for crypto_stream_new(). On success the filter owns
 * inner (see filter.h). Returns 0 or UV_ENOMEM (inner is then still the caller's). */
int snappy_stream_new(uv_loop_t *loop, stream *inner, const void *head, size_t head_len,
                      stream **out);

#endif
