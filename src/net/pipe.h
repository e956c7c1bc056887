/* An in-memory pair of connected streams on one loop, for tests and in-process use
 * (for example the SSH gateway handing a connection to the server as if it came from
 * the network).
 *
 * Bytes written on one end are read on the other, always from a later loop iteration
 * (never inside write()). A write completes (callback status 0) when the reader has
 * received its bytes, so queued() counts bytes the peer has not read yet; a peer that
 * stops reading therefore creates backpressure. shutdown() delivers EOF to the peer
 * after the queued bytes. When one end is closed, the other reads EOF (after nothing
 * more) and its pending and later writes fail with UV_EPIPE. */
#ifndef CFRP_NET_PIPE_H
#define CFRP_NET_PIPE_H

#include <uv.h>

#include "net/stream.h"

/* Creates two connected ends in *a and *b; each is owned by the caller and is freed
 * after stream_close() and its on_close. Returns 0 or UV_ENOMEM. */
int pipe_pair(uv_loop_t *loop, stream **a, stream **b);

#endif
