/* Frame encoding and the one-shot and incremental frame decoders (see frame.h). */
#include "proto/frame.h"

#include <string.h>

#include "base/err.h"

int msg_frame_encode(const msg *m, char *out, size_t cap, size_t *len)
{
    size_t body_len = 0;
    if (cap < MSG_FRAME_HDR || !msg_type_valid(m->type))
        return cap < MSG_FRAME_HDR ? CFRP_ETOOBIG : CFRP_EINVAL;
    size_t body_cap = cap - MSG_FRAME_HDR;
    if (body_cap > MSG_MAX_BODY)
        body_cap = MSG_MAX_BODY;
    int rc = msg_encode_body(m, out + MSG_FRAME_HDR, body_cap, &body_len);
    if (rc < 0)
        return rc;
    out[0] = (char)m->type;
    for (int i = 0; i < 8; i++)
        out[1 + i] = (char)(uint8_t)((uint64_t)body_len >> (56 - 8 * i));
    *len = MSG_FRAME_HDR + body_len;
    return 0;
}

/* Checks a (partial) header of n bytes. Returns 0 if it is a valid prefix, else an
 * error. On a full header sets *body_len. */
static int frame_check_header(const uint8_t *h, size_t n, size_t *body_len, char *err,
                              size_t errlen)
{
    if (n >= 1 && !msg_type_valid(h[0])) {
        err_set(err, errlen, "message type error (type byte 0x%02x)", h[0]);
        return CFRP_EPROTO;
    }
    if (n < MSG_FRAME_HDR)
        return 0;
    uint64_t u = 0;
    for (int i = 1; i < MSG_FRAME_HDR; i++)
        u = u << 8 | h[i];
    if (u & (UINT64_C(1) << 63)) {
        err_set(err, errlen, "message length error (negative)");
        return CFRP_EPROTO;
    }
    if (u > MSG_MAX_BODY) {
        err_set(err, errlen, "message length exceed the limit (%llu > %d)",
                (unsigned long long)u, MSG_MAX_BODY);
        return CFRP_ETOOBIG;
    }
    *body_len = (size_t)u;
    return 0;
}

int msg_frame_parse(const void *data, size_t len, size_t *frame_len, msg *out, char *err,
                    size_t errlen)
{
    const uint8_t *p = data;
    size_t body_len = 0;
    int rc = frame_check_header(p, len < MSG_FRAME_HDR ? len : MSG_FRAME_HDR, &body_len,
                                err, errlen);
    if (rc < 0)
        return rc;
    if (len < MSG_FRAME_HDR || len - MSG_FRAME_HDR < body_len)
        return 0;
    rc = msg_decode_body((enum msg_type)p[0], (const char *)p + MSG_FRAME_HDR, body_len,
                         out, err, errlen);
    if (rc < 0)
        return rc;
    *frame_len = MSG_FRAME_HDR + body_len;
    return 1;
}

void msg_reader_init(msg_reader *r)
{
    r->hdr_len = 0;
    r->body_len = 0;
    r->body_got = 0;
    r->expect = 0;
    r->error = 0;
}

void msg_reader_expect(msg_reader *r, int type)
{
    r->expect = type;
}

int msg_reader_feed(msg_reader *r, const void *data, size_t len, size_t *used, msg *out,
                    char *err, size_t errlen)
{
    const uint8_t *p = data;
    size_t off = 0;
    *used = 0;
    if (r->error) {
        err_set(err, errlen, "message stream already failed");
        return r->error;
    }
    while (r->hdr_len < MSG_FRAME_HDR && off < len) {
        r->hdr[r->hdr_len++] = p[off++];
        int rc = frame_check_header(r->hdr, r->hdr_len, &r->body_len, err, errlen);
        if (rc < 0) {
            r->error = rc;
            *used = off;
            return rc;
        }
    }
    if (r->hdr_len < MSG_FRAME_HDR) {
        *used = off;
        return 0;
    }
    size_t take = r->body_len - r->body_got;
    if (take > len - off)
        take = len - off;
    if (take > 0)
        memcpy(r->body + r->body_got, p + off, take);
    r->body_got += take;
    off += take;
    *used = off;
    if (r->body_got < r->body_len)
        return 0;
    int type = r->expect ? r->expect : r->hdr[0];
    int rc = msg_decode_body((enum msg_type)type, r->body, r->body_len, out, err, errlen);
    r->hdr_len = 0;
    r->body_len = 0;
    r->body_got = 0;
    r->expect = 0;
    if (rc < 0) {
        r->error = rc;
        return rc;
    }
    return 1;
}
