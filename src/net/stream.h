/* The stream interface: one shape for every byte stream and filter.
 *
 * Transports (tcp, tls, websocket, yamux stream, kcp, quic stream) and filters
 * (AES-CFB, snappy, rate limit) implement stream_ops, so a layer can sit on any
 * other and stream_join() (net/join.h) pumps any two of them.
 *
 * Ownership rules:
 * - Data passed to the read callback is owned by the callee (release it or pass it on).
 * - write() takes ownership of the references in bufs, also when it fails.
 * - A filter owns the stream below it and closes it when it is closed itself.
 * - stream_close() may be called at any time, once. Pending write callbacks run with
 *   UV_ECANCELED, no read callback runs after it, then on_close runs once and the
 *   stream's memory is freed by its implementation. */
#ifndef CFRP_NET_STREAM_H
#define CFRP_NET_STREAM_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/socket.h>
#include <sys/types.h>

#include "base/buf.h"

typedef struct stream stream;

/* nread > 0: data holds nread bytes; nread == UV_EOF: the peer will send no more;
 * nread < 0 otherwise: an error, after which only close makes sense. */
typedef void (*stream_read_cb)(stream *s, ssize_t nread, buf_ref data);
/* status 0: the bytes were handed to the layer below; < 0: they never will be. */
typedef void (*stream_write_cb)(stream *s, int status, void *arg);
typedef void (*stream_close_cb)(stream *s);

struct stream_ops {
    const char *name; /* "tcp", "tls", "yamux", "aes", ... for logs */
    int (*read_start)(stream *s);
    int (*read_stop)(stream *s);
    int (*write)(stream *s, buf_ref *bufs, size_t nbufs, stream_write_cb cb, void *arg);
    int (*shutdown)(stream *s); /* half-close: send EOF after queued data */
    void (*close)(stream *s);
    size_t (*queued)(const stream *s); /* bytes accepted by write() not yet passed on */
    /* Optional (NULL: not known): the peer's and our address of the transport below. */
    int (*peer_addr)(const stream *s, struct sockaddr_storage *addr);
    int (*local_addr)(const stream *s, struct sockaddr_storage *addr);
};

struct stream {
    const struct stream_ops *ops;
    stream_read_cb on_read;   /* set by stream_read_start */
    stream_close_cb on_close; /* set by the owner; may be NULL */
    void *data;               /* the owner's pointer, never touched by the stream */
};

static inline int stream_read_start(stream *s, stream_read_cb cb)
{
    s->on_read = cb;
    return s->ops->read_start(s);
}
static inline int stream_read_stop(stream *s)
{
    return s->ops->read_stop(s);
}
static inline int stream_write(stream *s, buf_ref *bufs, size_t n, stream_write_cb cb,
                               void *arg)
{
    return s->ops->write(s, bufs, n, cb, arg);
}
static inline int stream_shutdown(stream *s)
{
    return s->ops->shutdown(s);
}
static inline void stream_close(stream *s)
{
    s->ops->close(s);
}
static inline size_t stream_queued(const stream *s)
{
    return s->ops->queued(s);
}
/* Copies data into a new chunk and writes it. */
int stream_write_copy(stream *s, const void *data, size_t len, stream_write_cb cb, void *arg);

#endif
