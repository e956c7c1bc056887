/* The snappy framing codec for the stream filter core (see snappy_stream.h). */
#include "proto/snappy_stream.h"

#include <stdlib.h>
#include <string.h>

#include "base/err.h"
#include "proto/filter.h"
#include "proto/snappy_frame.h"

typedef struct sn_state {
    snappy_frame_writer w;
    snappy_frame_reader r;
    buf_chunk *spare; /* owned: the next decode output, kept when a feed yields nothing */
    char *scratch;    /* owned, SNAPPY_FRAME_BLOCK bytes: a piece spanning buffers */
} sn_state;

static size_t sn_max_out(void *state, size_t nbufs, size_t total)
{
    return total / SNAPPY_FRAME_BLOCK + 1;
}

static int sn_encode(void *state, buf_ref *bufs, size_t nbufs, size_t total, buf_ref *out,
                     size_t *nout)
{
    sn_state *st = state;
    size_t n = 0, bi = 0, boff = 0;
    int rc = 0;
    while (total > 0) {
        size_t piece = total < SNAPPY_FRAME_BLOCK ? total : SNAPPY_FRAME_BLOCK;
        while (bufs[bi].len == boff) {
            bi++;
            boff = 0;
        }
        const char *src = bufs[bi].base + boff;
        if (bufs[bi].len - boff >= piece) {
            boff += piece;
        } else {
            if (st->scratch == NULL && (st->scratch = malloc(SNAPPY_FRAME_BLOCK)) == NULL) {
                rc = UV_ENOMEM;
                break;
            }
            for (size_t got = 0; got < piece;) {
                while (bufs[bi].len == boff) {
                    bi++;
                    boff = 0;
                }
                size_t k = bufs[bi].len - boff;
                if (k > piece - got)
                    k = piece - got;
                memcpy(st->scratch + got, bufs[bi].base + boff, k);
                got += k;
                boff += k;
            }
            src = st->scratch;
        }
        size_t cap = snappy_frame_max_encoded(piece);
        buf_chunk *c = buf_chunk_alloc(cap);
        if (c == NULL) {
            rc = UV_ENOMEM;
            break;
        }
        size_t len = 0;
        rc = snappy_frame_encode(&st->w, src, piece, c->data, cap, &len);
        if (rc < 0) {
            buf_chunk_release(c);
            break;
        }
        out[n++] = buf_ref_make(c, 0, len);
        total -= piece;
    }
    for (size_t i = 0; i < nbufs; i++)
        buf_ref_release(&bufs[i]);
    if (rc < 0) {
        while (n > 0)
            buf_ref_release(&out[--n]);
    }
    *nout = n;
    return rc;
}

static int sn_decode(void *state, buf_ref *in, buf_ref *out)
{
    sn_state *st = state;
    if (st->spare == NULL && (st->spare = buf_chunk_alloc(SNAPPY_FRAME_BLOCK)) == NULL)
        return UV_ENOMEM;
    size_t used = 0, olen = 0;
    int rc = snappy_frame_feed(&st->r, in->base, in->len, &used, st->spare->data, &olen, NULL, 0);
    in->base += used;
    in->len -= used;
    if (rc == 1 && olen > 0) {
        *out = buf_ref_make(st->spare, 0, olen);
        st->spare = NULL;
    }
    return rc < 0 ? rc : 0;
}

static int sn_finish(void *state)
{
    sn_state *st = state;
    return snappy_frame_reader_finish(&st->r);
}

static void sn_destroy(void *state)
{
    sn_state *st = state;
    snappy_frame_reader_free(&st->r);
    if (st->spare != NULL)
        buf_chunk_release(st->spare);
    free(st->scratch);
    free(st);
}

static const struct pfilter_codec sn_codec = {
    .name = "snappy",
    .max_out = sn_max_out,
    .encode = sn_encode,
    .decode = sn_decode,
    .finish = sn_finish,
    .destroy = sn_destroy,
};

int snappy_stream_new(uv_loop_t *loop, stream *inner, const void *head, size_t head_len,
                      stream **out)
{
    sn_state *st = calloc(1, sizeof(*st));
    if (st == NULL)
        return UV_ENOMEM;
    snappy_frame_writer_init(&st->w);
    if (snappy_frame_reader_init(&st->r) < 0) {
        free(st);
        return UV_ENOMEM;
    }
    return pfilter_new(loop, inner, &sn_codec, st, head, head_len, out);
}
