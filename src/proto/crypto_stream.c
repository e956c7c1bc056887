/* The AES-128-CFB codec for the stream filter core (see crypto_stream.h). Buffers
 * whose chunk has no other reference are transformed in place; shared ones are copied. */
#include "proto/crypto_stream.h"

#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "base/err.h"
#include "proto/filter.h"

typedef struct aes_state {
    uint8_t key[CRYPTO_KEY_LEN];
    crypto_cfb enc; /* started on the first write */
    crypto_cfb dec; /* started once the peer's IV is complete */
    bool enc_started;
    uint8_t iv_in[CRYPTO_IV_LEN];
    size_t iv_in_len;
} aes_state;

/* Transforms r with c: in place when r is the chunk's only reference, else into a new
 * chunk (r then refers to the copy). */
static int aes_transform(crypto_cfb *c, buf_ref *r)
{
    if (r->chunk->refs == 1)
        return crypto_cfb_update(c, r->base, r->base, r->len);
    buf_chunk *copy = buf_chunk_alloc(r->len);
    if (copy == NULL)
        return UV_ENOMEM;
    buf_ref out = buf_ref_make(copy, 0, r->len);
    int rc = crypto_cfb_update(c, r->base, out.base, r->len);
    buf_ref_release(r);
    *r = out;
    return rc;
}

static size_t aes_max_out(void *state, size_t nbufs, size_t total)
{
    return nbufs + 1;
}

static int aes_encode(void *state, buf_ref *bufs, size_t nbufs, size_t total, buf_ref *out,
                      size_t *nout)
{
    aes_state *st = state;
    size_t n = 0;
    int rc = 0;
    if (!st->enc_started) {
        /* Like Go's writer, the IV goes out on the first write, even an empty one. */
        uint8_t iv[CRYPTO_IV_LEN];
        rc = crypto_random_iv(iv);
        if (rc == 0)
            rc = crypto_cfb_init(&st->enc, st->key, iv, true);
        if (rc == 0) {
            st->enc_started = true;
            out[n] = buf_ref_copy(iv, sizeof(iv));
            rc = out[n].chunk ? 0 : UV_ENOMEM;
            n += rc == 0;
        }
    }
    for (size_t i = 0; i < nbufs; i++) {
        if (rc == 0 && bufs[i].len > 0) {
            rc = aes_transform(&st->enc, &bufs[i]);
            if (rc == 0) {
                out[n++] = bufs[i];
                bufs[i] = (buf_ref){0};
                continue;
            }
        }
        buf_ref_release(&bufs[i]);
    }
    if (rc < 0) {
        while (n > 0)
            buf_ref_release(&out[--n]);
    }
    *nout = n;
    return rc;
}

static int aes_decode(void *state, buf_ref *in, buf_ref *out)
{
    aes_state *st = state;
    if (st->iv_in_len < CRYPTO_IV_LEN) {
        size_t take = CRYPTO_IV_LEN - st->iv_in_len;
        if (take > in->len)
            take = in->len;
        memcpy(st->iv_in + st->iv_in_len, in->base, take);
        st->iv_in_len += take;
        in->base += take;
        in->len -= take;
        if (st->iv_in_len < CRYPTO_IV_LEN)
            return 0;
        int rc = crypto_cfb_init(&st->dec, st->key, st->iv_in, false);
        if (rc < 0)
            return rc;
    }
    if (in->len == 0)
        return 0;
    int rc = aes_transform(&st->dec, in);
    if (rc < 0)
        return rc;
    *out = *in;
    *in = (buf_ref){0};
    return 0;
}

static int aes_finish(void *state)
{
    aes_state *st = state;
    return st->iv_in_len == 0 || st->iv_in_len == CRYPTO_IV_LEN ? 0 : CFRP_EPROTO;
}

static void aes_destroy(void *state)
{
    aes_state *st = state;
    crypto_cfb_free(&st->enc);
    crypto_cfb_free(&st->dec);
    free(st);
}

static const struct pfilter_codec aes_codec = {
    .name = "aes",
    .max_out = aes_max_out,
    .encode = aes_encode,
    .decode = aes_decode,
    .finish = aes_finish,
    .destroy = aes_destroy,
};

int crypto_stream_new(uv_loop_t *loop, stream *inner, const uint8_t key[CRYPTO_KEY_LEN],
                      const void *head, size_t head_len, stream **out)
{
    aes_state *st = calloc(1, sizeof(*st));
    if (st == NULL)
        return UV_ENOMEM;
    memcpy(st->key, key, CRYPTO_KEY_LEN);
    return pfilter_new(loop, inner, &aes_codec, st, head, head_len, out);
}
