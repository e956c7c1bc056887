/* libFuzzer target for the HTTP request head parser: the input is fed in pieces whose
 * sizes come from the input itself; a parsed head must also rewrite cleanly. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include "http/http_rewrite.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    size_t step = (size_t)data[0] % 64 + 1;
    data++;
    size--;
    http_request_parser p;
    http_request_parser_init(&p);
    size_t off = 0;
    int rc = HTTP_NEED_MORE;
    while (off < size && rc == HTTP_NEED_MORE) {
        size_t n = size - off < step ? size - off : step, c = 0;
        rc = http_request_feed(&p, (const char *)data + off, n, &c, NULL, 0);
        if (c > n)
            abort();
        off += c;
    }
    if (rc == HTTP_DONE) {
        struct http_rewrite_req_opts o = {.client_ip = "127.0.0.1", .add_accept_encoding_gzip = true};
        char *out;
        size_t outlen;
        if (http_rewrite_request(&p.req, &o, &out, &outlen, NULL, 0) == 0)
            free(out);
        if (http_rewrite_connect(&p.req, &out, &outlen) == 0)
            free(out);
    }
    http_request_parser_free(&p);
    return 0;
}
