/* Chunked transfer coding: a strict, incremental validator that lets the proxy pass
 * a chunked body through unchanged while finding exactly where it ends, plus the
 * writer side (chunk headers). Accepted grammar (RFC 9112 7.1, no leniency):
 *   chunk-size = 1*16 HEXDIG, directly followed by CRLF or by ";" extensions
 *   (printable bytes, at most HTTP_CHUNK_LINE_MAX per line), data, CRLF; the last
 *   chunk "0" is followed by trailer lines "name: value" (token name, no controls,
 *   at most HTTP_CHUNK_TRAILER_MAX bytes in all) and an empty line. */
#ifndef CFRP_HTTP_CHUNKED_H
#define CFRP_HTTP_CHUNKED_H

#include <stddef.h>
#include <stdint.h>

#include "http/http_head.h"

#define HTTP_CHUNK_LINE_MAX 4096
#define HTTP_CHUNK_TRAILER_MAX (16 * 1024)

/* Receives payload bytes (chunk data only). */
typedef void (*http_chunked_data_cb)(void *arg, const char *data, size_t len);

typedef struct http_chunked {
    int state;
    uint64_t remaining; /* data bytes left in the current chunk */
    unsigned digits;    /* hex digits of the current size line */
    size_t line_len;    /* bytes of the current size/trailer line */
    size_t trailer_len; /* bytes of all trailer lines */
    int last;           /* set after the "0" size line */
} http_chunked;

void http_chunked_init(http_chunked *d);

/* Feeds body bytes. Returns HTTP_NEED_MORE (all consumed), HTTP_DONE (*consumed =
 * bytes up to and including the body's final CRLF; the rest is the next message) or
 * CFRP_EPARSE (reason in err). on_data may be NULL. */
int http_chunked_feed(http_chunked *d, const char *data, size_t len, size_t *consumed,
                      http_chunked_data_cb on_data, void *arg, char *err, size_t errlen);

/* Writes "<hex size>\r\n" into out (at least 19 bytes); returns its length. */
size_t http_chunk_header(char *out, uint64_t size);

#endif
