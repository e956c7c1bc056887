/* The snappy framing format (golang/snappy v0.0.4's unbuffered Writer and its Reader),
 * used for transport.useCompression (protocol.md §5.3).
 *
 * Chunks: type u8, length u24le, body. The stream identifier ff 06 00 00 "sNaPpY" comes
 * once before the first data chunk; data chunks carry the masked CRC-32C of their
 * uncompressed bytes and either a raw snappy block (type 0) or the bytes (type 1).
 * The block codec is libsnappy. */
#ifndef CFRP_PROTO_SNAPPY_FRAME_H
#define CFRP_PROTO_SNAPPY_FRAME_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define SNAPPY_FRAME_BLOCK 65536     /* largest uncompressed piece per chunk */
#define SNAPPY_FRAME_MAX_CHUNK 76494 /* largest chunk body a reader accepts */

/* masked CRC-32C of data: c = crc32c(data); ((c >> 15) | (c << 17)) + 0xa282ead8. */
uint32_t snappy_frame_crc(const void *data, size_t len);

typedef struct snappy_frame_writer {
    bool wrote_header;
} snappy_frame_writer;

void snappy_frame_writer_init(snappy_frame_writer *w);

/* Output bytes encoding len input bytes can need at most (identifier included). */
size_t snappy_frame_max_encoded(size_t len);

/* Encodes len bytes as Go's Writer.Write would: pieces of at most SNAPPY_FRAME_BLOCK,
 * each one chunk, compressed only if that saves at least 1/8; the identifier first on a
 * fresh stream. out must hold snappy_frame_max_encoded(len) bytes. Returns 0 and sets
 * *out_len, or CFRP_ETOOBIG if cap is too small. */
int snappy_frame_encode(snappy_frame_writer *w, const void *data, size_t len, char *out,
                        size_t cap, size_t *out_len);

/* Incremental reader. Owns one heap buffer of SNAPPY_FRAME_MAX_CHUNK bytes. */
typedef struct snappy_frame_reader {
    uint8_t hdr[4];
    size_t hdr_len;
    size_t chunk_len; /* body length of the current chunk */
    size_t got;       /* body bytes of it buffered so far */
    bool seen_ident;
    int error; /* sticky */
    char *chunk;
} snappy_frame_reader;

/* Returns 0 or UV_ENOMEM. */
int snappy_frame_reader_init(snappy_frame_reader *r);
void snappy_frame_reader_free(snappy_frame_reader *r);

/* Consumes input until one data chunk is complete. Returns 1 with its decoded bytes in
 * out (capacity SNAPPY_FRAME_BLOCK; *out_len may be 0) and *used = input bytes taken;
 * 0 if all len bytes were taken and no data chunk completed; CFRP_EPROTO (reason in
 * err) on corrupt input, and from then on always. */
int snappy_frame_feed(snappy_frame_reader *r, const void *in, size_t len, size_t *used,
                      char *out, size_t *out_len, char *err, size_t errlen);

/* Called at EOF of the input: 0 if the stream ended on a chunk boundary, otherwise
 * CFRP_EPROTO. */
int snappy_frame_reader_finish(const snappy_frame_reader *r);

#endif
