/* libFuzzer target for the HTTP response head parser and the response rewriter. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include "http/http_rewrite.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    enum http_method m = data[0] & 1 ? HTTP_HEAD : (data[0] & 2 ? HTTP_CONNECT : HTTP_GET);
    http_response_parser p;
    http_response_parser_init(&p);
    size_t c;
    int rc = http_response_feed(&p, m, (const char *)data + 1, size - 1, &c, NULL, 0);
    if (rc == HTTP_DONE) {
        struct http_rewrite_resp_opts o = {.client_minor = data[0] >> 7, .now = 0};
        char *out;
        size_t outlen;
        enum http_body ob;
        if (http_rewrite_response(&p.resp, &o, &out, &outlen, &ob, NULL, 0) == 0)
            free(out);
    }
    http_response_parser_free(&p);
    return 0;
}
