/* Snappy framing format encoder and incremental decoder (see snappy_frame.h). */
#include "proto/snappy_frame.h"

#include <snappy-c.h>
#include <stdlib.h>
#include <string.h>
#include <uv.h>

#include "base/err.h"

enum {
    SF_COMPRESSED = 0x00,
    SF_UNCOMPRESSED = 0x01,
    SF_PADDING = 0xfe,
    SF_IDENT = 0xff
};

static const char sf_ident[10] = {(char)0xff, 6, 0, 0, 's', 'N', 'a', 'P', 'p', 'Y'};

/* CRC-32C (Castagnoli, reflected polynomial 0x82f63b78), 8 bytes at a time. */
static uint32_t sf_table[8][256];
static uv_once_t sf_table_once = UV_ONCE_INIT;

static void sf_table_init(void)
{
    for (uint32_t i = 0; i < 256; i++) {
        uint32_t c = i;
        for (int k = 0; k < 8; k++)
            c = c & 1 ? (c >> 1) ^ 0x82f63b78u : c >> 1;
        sf_table[0][i] = c;
    }
    for (int t = 1; t < 8; t++)
        for (uint32_t i = 0; i < 256; i++)
            sf_table[t][i] = (sf_table[t - 1][i] >> 8) ^ sf_table[0][sf_table[t - 1][i] & 0xff];
}

static uint32_t sf_crc32c(const uint8_t *p, size_t n)
{
    uint32_t c = 0xffffffffu;
    uv_once(&sf_table_once, sf_table_init);
    while (n >= 8) {
        uint32_t lo = c ^ ((uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 |
                           (uint32_t)p[3] << 24);
        c = sf_table[7][lo & 0xff] ^ sf_table[6][(lo >> 8) & 0xff] ^
            sf_table[5][(lo >> 16) & 0xff] ^ sf_table[4][lo >> 24] ^ sf_table[3][p[4]] ^
            sf_table[2][p[5]] ^ sf_table[1][p[6]] ^ sf_table[0][p[7]];
        p += 8;
        n -= 8;
    }
    while (n-- > 0)
        c = (c >> 8) ^ sf_table[0][(c ^ *p++) & 0xff];
    return c ^ 0xffffffffu;
}

uint32_t snappy_frame_crc(const void *data, size_t len)
{
    uint32_t c = sf_crc32c(data, len);
    return ((c >> 15) | (c << 17)) + 0xa282ead8u;
}

static void sf_put_le32(char *p, uint32_t v)
{
    for (int i = 0; i < 4; i++)
        p[i] = (char)(uint8_t)(v >> (8 * i));
}

void snappy_frame_writer_init(snappy_frame_writer *w)
{
    w->wrote_header = false;
}

size_t snappy_frame_max_encoded(size_t len)
{
    size_t pieces = len / SNAPPY_FRAME_BLOCK + 1;
    return sizeof(sf_ident) + pieces * (8 + snappy_max_compressed_length(SNAPPY_FRAME_BLOCK));
}

int snappy_frame_encode(snappy_frame_writer *w, const void *data, size_t len, char *out,
                        size_t cap, size_t *out_len)
{
    const char *p = data;
    size_t n = 0;
    if (cap < snappy_frame_max_encoded(len))
        return CFRP_ETOOBIG;
    if (!w->wrote_header && len > 0) {
        memcpy(out, sf_ident, sizeof(sf_ident));
        n = sizeof(sf_ident);
        w->wrote_header = true;
    }
    while (len > 0) {
        size_t piece = len > SNAPPY_FRAME_BLOCK ? SNAPPY_FRAME_BLOCK : len;
        char *hdr = out + n;
        size_t clen = cap - n - 8;
        uint8_t type = SF_COMPRESSED;
        if (snappy_compress(p, piece, hdr + 8, &clen) != SNAPPY_OK ||
            clen >= piece - piece / 8) {
            type = SF_UNCOMPRESSED;
            memcpy(hdr + 8, p, piece);
            clen = piece;
        }
        size_t chunk_len = 4 + clen;
        hdr[0] = (char)type;
        hdr[1] = (char)(uint8_t)chunk_len;
        hdr[2] = (char)(uint8_t)(chunk_len >> 8);
        hdr[3] = (char)(uint8_t)(chunk_len >> 16);
        sf_put_le32(hdr + 4, snappy_frame_crc(p, piece));
        n += 8 + clen;
        p += piece;
        len -= piece;
    }
    *out_len = n;
    return 0;
}

int snappy_frame_reader_init(snappy_frame_reader *r)
{
    memset(r, 0, sizeof(*r));
    r->chunk = malloc(SNAPPY_FRAME_MAX_CHUNK);
    return r->chunk ? 0 : UV_ENOMEM;
}

void snappy_frame_reader_free(snappy_frame_reader *r)
{
    free(r->chunk);
    r->chunk = NULL;
}

static int sf_fail(snappy_frame_reader *r, char *err, size_t errlen, const char *why)
{
    err_set(err, errlen, "snappy: %s", why);
    r->error = CFRP_EPROTO;
    return r->error;
}

/* Handles the complete chunk in r->chunk. Returns 1 with data in out, 0 for a chunk
 * without data, or an error. */
static int sf_chunk_done(snappy_frame_reader *r, char *out, size_t *out_len, char *err,
                         size_t errlen)
{
    uint8_t type = r->hdr[0];
    const char *body = r->chunk;
    size_t len = r->chunk_len;
    if (type == SF_IDENT) {
        if (len != 6 || memcmp(body, sf_ident + 4, 6) != 0)
            return sf_fail(r, err, errlen, "corrupt input (bad stream identifier)");
        return 0;
    }
    if (type != SF_COMPRESSED && type != SF_UNCOMPRESSED)
        return 0; /* padding and reserved skippable chunks */
    uint32_t want = (uint32_t)(uint8_t)body[0] | (uint32_t)(uint8_t)body[1] << 8 |
                    (uint32_t)(uint8_t)body[2] << 16 | (uint32_t)(uint8_t)body[3] << 24;
    body += 4;
    len -= 4;
    size_t n;
    if (type == SF_COMPRESSED) {
        if (snappy_uncompressed_length(body, len, &n) != SNAPPY_OK || n > SNAPPY_FRAME_BLOCK)
            return sf_fail(r, err, errlen, "corrupt input (bad block length)");
        size_t outn = SNAPPY_FRAME_BLOCK;
        if (snappy_uncompress(body, len, out, &outn) != SNAPPY_OK || outn != n)
            return sf_fail(r, err, errlen, "corrupt input (bad block)");
    } else {
        if (len > SNAPPY_FRAME_BLOCK)
            return sf_fail(r, err, errlen, "corrupt input (chunk too long)");
        n = len;
        if (n > 0)
            memcpy(out, body, n);
    }
    if (snappy_frame_crc(out, n) != want)
        return sf_fail(r, err, errlen, "corrupt input (checksum mismatch)");
    *out_len = n;
    return 1;
}

int snappy_frame_feed(snappy_frame_reader *r, const void *in, size_t len, size_t *used,
                      char *out, size_t *out_len, char *err, size_t errlen)
{
    const uint8_t *p = in;
    size_t off = 0;
    *used = 0;
    *out_len = 0;
    if (r->error) {
        err_set(err, errlen, "snappy: stream already failed");
        return r->error;
    }
    while (off < len) {
        if (r->hdr_len < 4) {
            r->hdr[r->hdr_len++] = p[off++];
            if (r->hdr_len == 1 && !r->seen_ident && r->hdr[0] != SF_IDENT) {
                *used = off;
                return sf_fail(r, err, errlen, "corrupt input (no stream identifier)");
            }
            if (r->hdr_len < 4)
                continue;
            r->seen_ident = true;
            r->chunk_len = (size_t)r->hdr[1] | (size_t)r->hdr[2] << 8 | (size_t)r->hdr[3] << 16;
            r->got = 0;
            uint8_t type = r->hdr[0];
            if (r->chunk_len > SNAPPY_FRAME_MAX_CHUNK) {
                *used = off;
                return sf_fail(r, err, errlen, "unsupported input (chunk too long)");
            }
            if (type >= 0x02 && type <= 0x7f) {
                *used = off;
                return sf_fail(r, err, errlen, "unsupported input (reserved chunk type)");
            }
            if ((type == SF_COMPRESSED || type == SF_UNCOMPRESSED) && r->chunk_len < 4) {
                *used = off;
                return sf_fail(r, err, errlen, "corrupt input (chunk without checksum)");
            }
        }
        size_t take = r->chunk_len - r->got;
        if (take > len - off)
            take = len - off;
        if (take > 0)
            memcpy(r->chunk + r->got, p + off, take);
        r->got += take;
        off += take;
        if (r->got < r->chunk_len)
            break;
        r->hdr_len = 0;
        int rc = sf_chunk_done(r, out, out_len, err, errlen);
        if (rc != 0) {
            *used = off;
            return rc;
        }
    }
    *used = off;
    return 0;
}

int snappy_frame_reader_finish(const snappy_frame_reader *r)
{
    if (r->error)
        return r->error;
    return r->hdr_len == 0 ? 0 : CFRP_EPROTO;
}
