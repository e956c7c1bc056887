/* A stream that first reads back bytes already taken from the stream below, then passes
 * everything through: for layers that cannot be handed such bytes themselves (yamux,
 * joins) after a classifier or a first-frame reader has read ahead. */
#ifndef CFRP_NET_PREFIX_STREAM_H
#define CFRP_NET_PREFIX_STREAM_H

#include <uv.h>

#include "net/stream.h"

/* Wraps inner so that head (taken over; may be empty) is read before inner's bytes.
 * The wrapper owns inner (its data/on_close) from now on. Returns 0 or UV_ENOMEM (then
 * head is released and inner is still the caller's). */
int prefix_stream_new(uv_loop_t *loop, stream *inner, buf_ref head, stream **out);

#endif
