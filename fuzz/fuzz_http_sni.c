/* libFuzzer target for ClientHello SNI extraction; also checks that a verdict on a
 * prefix never contradicts "need more". */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "http/sni.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char name[SNI_NAME_MAX + 1];
    int rc = sni_parse(data, size, name);
    if (rc == SNI_FOUND && strlen(name) == 0)
        abort();
    if (size > 0 && rc != SNI_NEED_MORE) {
        /* a shorter prefix must not already have reached a different final verdict */
        int prc = sni_parse(data, size - 1, name);
        if (prc != SNI_NEED_MORE && prc != rc)
            abort();
    }
    return 0;
}
