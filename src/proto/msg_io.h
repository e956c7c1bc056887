/* Sending frp messages on a stream (net/stream.h) as one write per frame. Reading is
 * done by feeding what the stream delivers to a msg_reader (frame.h), which leaves any
 * bytes after a frame to the caller (e.g. as the head of crypto_stream_new()). */
#ifndef CFRP_PROTO_MSG_IO_H
#define CFRP_PROTO_MSG_IO_H

#include "net/stream.h"
#include "proto/msg.h"

/* Encodes m as a frame and writes it to s in one write. Returns 0 (then cb runs as for
 * stream_write), CFRP_ETOOBIG / CFRP_EINVAL if m cannot be encoded, UV_ENOMEM, or the
 * error of stream_write (cb does not run on an error return). */
int msg_send(stream *s, const msg *m, stream_write_cb cb, void *arg);

#endif
