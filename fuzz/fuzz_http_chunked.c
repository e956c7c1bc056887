/* libFuzzer target for the chunked-body validator: fed in input-chosen pieces, it must
 * never consume more than given and must stop exactly once at the end. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include "http/http_chunked.h"

static void sink(void *arg, const char *d, size_t n)
{
    *(size_t *)arg += n;
    (void)d;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    size_t step = (size_t)data[0] % 32 + 1, payload = 0, off = 1;
    http_chunked d;
    http_chunked_init(&d);
    int rc = HTTP_NEED_MORE;
    while (off < size && rc == HTTP_NEED_MORE) {
        size_t n = size - off < step ? size - off : step, c = 0;
        rc = http_chunked_feed(&d, (const char *)data + off, n, &c, sink, &payload, NULL, 0);
        if (c > n || payload > size)
            abort();
        off += c;
    }
    return 0;
}
