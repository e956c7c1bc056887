/* The shared body of proto's byte-transforming stream filters (AES-CFB, snappy).
 *
 * A filter wraps an inner stream (net/stream.h). A write is transformed at once by the
 * codec and written to the inner stream as one write; its callback runs when the inner
 * write's does. Reads are taken from the inner stream only while the user reads and
 * nothing is held back; the codec turns held input into output one piece at a time, so
 * a user who stops reading stops the decoding too. Held data is handed on from the loop
 * (a zero timer), never from inside read_start(). Bytes the layer below read ahead
 * (e.g. ciphertext after LoginResp) are given as `head` and decoded first.
 *
 * Internal to proto: users call crypto_stream_new() / snappy_stream_new(). */
#ifndef CFRP_PROTO_FILTER_H
#define CFRP_PROTO_FILTER_H

#include <stddef.h>
#include <uv.h>

#include "net/stream.h"

struct pfilter_codec {
    const char *name;
    /* Output references one write of nbufs buffers (total bytes) can need. */
    size_t (*max_out)(void *state, size_t nbufs, size_t total);
    /* Transforms one write. Takes over the references in bufs (releasing them or moving
     * them to out) and stores *nout references in out, owned by the caller. On error
     * every reference is released and *nout is 0. */
    int (*encode)(void *state, buf_ref *bufs, size_t nbufs, size_t total, buf_ref *out,
                  size_t *nout);
    /* Consumes bytes from the front of *in (advancing it; it may also move the whole
     * reference out, leaving *in empty) and stores at most one output piece in *out
     * (out->chunk NULL if none yet). Returns 0 or a negative code. */
    int (*decode)(void *state, buf_ref *in, buf_ref *out);
    /* Input ended: 0 if it ended cleanly, else a negative code to report instead of EOF. */
    int (*finish)(void *state);
    void (*destroy)(void *state);
};

/* Wraps inner. The filter owns state (codec->destroy frees it, also when this fails)
 * and, on success, inner: closing the filter closes inner, and inner's on_close and
 * data fields are the filter's. head (head_len bytes, may be NULL) is copied. Returns
 * 0 or UV_ENOMEM (inner is then still the caller's). */
int pfilter_new(uv_loop_t *loop, stream *inner, const struct pfilter_codec *codec, void *state,
                const void *head, size_t head_len, stream **out);

#endif
