/* yamux frame codec: the 12-byte big-endian header every frame starts with. */
#include "mux/yamux.h"

#include "base/err.h"

void yamux_header_encode(uint8_t out[YAMUX_HEADER_SIZE], const struct yamux_header *h)
{
    out[0] = h->version;
    out[1] = h->type;
    out[2] = (uint8_t)(h->flags >> 8);
    out[3] = (uint8_t)h->flags;
    out[4] = (uint8_t)(h->stream_id >> 24);
    out[5] = (uint8_t)(h->stream_id >> 16);
    out[6] = (uint8_t)(h->stream_id >> 8);
    out[7] = (uint8_t)h->stream_id;
    out[8] = (uint8_t)(h->length >> 24);
    out[9] = (uint8_t)(h->length >> 16);
    out[10] = (uint8_t)(h->length >> 8);
    out[11] = (uint8_t)h->length;
}

static uint32_t yf_be32(const uint8_t *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

int yamux_header_decode(const uint8_t in[YAMUX_HEADER_SIZE], struct yamux_header *h,
                        char *err, size_t errlen)
{
    h->version = in[0];
    h->type = in[1];
    h->flags = (uint16_t)(in[2] << 8 | in[3]);
    h->stream_id = yf_be32(in + 4);
    h->length = yf_be32(in + 8);
    if (h->version != YAMUX_VERSION) {
        err_set(err, errlen, "invalid protocol version: %u", h->version);
        return CFRP_EPROTO;
    }
    if (h->type > YAMUX_TYPE_GO_AWAY) {
        err_set(err, errlen, "invalid msg type: %u", h->type);
        return CFRP_EPROTO;
    }
    return 0;
}
