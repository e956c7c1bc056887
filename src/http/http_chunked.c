/* Strict incremental chunked-body validator and chunk header writer. */
#include "base/ascii.h"
#include "http/http_chunked.h"

#include <stdio.h>
#include <string.h>

#include "base/err.h"

enum {
    CH_SIZE,      /* reading hex digits */
    CH_EXT,       /* after ';' up to CR */
    CH_SIZE_LF,   /* CR of the size line seen */
    CH_DATA,
    CH_DATA_CR,   /* expecting CR after data */
    CH_DATA_LF,
    CH_TR_START,  /* at the start of a trailer line or the final empty line */
    CH_TR_NAME,
    CH_TR_VALUE,
    CH_TR_LF,     /* CR of a trailer line seen */
    CH_END_LF,    /* CR of the final empty line seen */
    CH_DONE
};

void http_chunked_init(http_chunked *d)
{
    memset(d, 0, sizeof(*d));
    d->state = CH_SIZE;
}

static int bad(char *err, size_t errlen, const char *why)
{
    err_set(err, errlen, "chunked body: %s", why);
    return CFRP_EPARSE;
}

int http_chunked_feed(http_chunked *d, const char *data, size_t len, size_t *consumed,
                      http_chunked_data_cb on_data, void *arg, char *err, size_t errlen)
{
    size_t i = 0;
    *consumed = 0;
    if (d->state == CH_DONE)
        return HTTP_DONE;
    while (i < len) {
        unsigned char c = (unsigned char)data[i];
        switch (d->state) {
        case CH_DATA: {
            size_t n = len - i;
            if (n > d->remaining)
                n = (size_t)d->remaining;
            if (on_data)
                on_data(arg, data + i, n);
            d->remaining -= n;
            i += n;
            if (d->remaining == 0)
                d->state = CH_DATA_CR;
            continue;
        }
        case CH_SIZE: {
            int v = ascii_hex_value(c);
            if (v >= 0) {
                if (++d->digits > 16)
                    return bad(err, errlen, "chunk size too long");
                d->remaining = d->remaining * 16 + (uint64_t)v;
            } else if (d->digits == 0) {
                return bad(err, errlen, "invalid chunk size");
            } else if (c == ';') {
                d->state = CH_EXT;
            } else if (c == '\r') {
                d->state = CH_SIZE_LF;
            } else {
                return bad(err, errlen, "invalid character after chunk size");
            }
            break;
        }
        case CH_EXT:
            if (c == '\r')
                d->state = CH_SIZE_LF;
            else if ((c < 0x20 && c != '\t') || c == 0x7f)
                return bad(err, errlen, "invalid character in chunk extension");
            break;
        case CH_SIZE_LF:
            if (c != '\n')
                return bad(err, errlen, "bare CR in chunk size line");
            d->digits = 0;
            d->line_len = 0;
            if (d->remaining == 0) {
                d->last = 1;
                d->state = CH_TR_START;
            } else {
                d->state = CH_DATA;
            }
            i++;
            continue;
        case CH_DATA_CR:
            if (c != '\r')
                return bad(err, errlen, "missing CRLF after chunk data");
            d->state = CH_DATA_LF;
            break;
        case CH_DATA_LF:
            if (c != '\n')
                return bad(err, errlen, "missing CRLF after chunk data");
            d->state = CH_SIZE;
            d->line_len = 0;
            i++;
            continue;
        case CH_TR_START:
            if (c == '\r') {
                d->state = CH_END_LF;
            } else if (http_is_tchar(c)) {
                d->state = CH_TR_NAME;
            } else {
                return bad(err, errlen, "invalid trailer line");
            }
            break;
        case CH_TR_NAME:
            if (c == ':')
                d->state = CH_TR_VALUE;
            else if (!http_is_tchar(c))
                return bad(err, errlen, "invalid trailer name");
            break;
        case CH_TR_VALUE:
            if (c == '\r')
                d->state = CH_TR_LF;
            else if ((c < 0x20 && c != '\t') || c == 0x7f)
                return bad(err, errlen, "invalid character in trailer value");
            break;
        case CH_TR_LF:
            if (c != '\n')
                return bad(err, errlen, "bare CR in trailer");
            d->line_len = 0;
            d->state = CH_TR_START;
            i++;
            d->trailer_len++;
            continue;
        case CH_END_LF:
            if (c != '\n')
                return bad(err, errlen, "bare CR after last chunk");
            d->state = CH_DONE;
            *consumed = i + 1;
            return HTTP_DONE;
        default:
            return bad(err, errlen, "internal state");
        }
        /* Bytes of size lines and trailers are bounded; data bytes are not counted. */
        if (++d->line_len > HTTP_CHUNK_LINE_MAX)
            return bad(err, errlen, "line too long");
        if (d->last && ++d->trailer_len > HTTP_CHUNK_TRAILER_MAX)
            return bad(err, errlen, "trailers too large");
        i++;
    }
    *consumed = len;
    return HTTP_NEED_MORE;
}

size_t http_chunk_header(char *out, uint64_t size)
{
    int n = snprintf(out, 19, "%llx\r\n", (unsigned long long)size);
    return (size_t)n;
}
