/* libFuzzer target for the config template renderer: any input must render or fail
 * with a message, within the renderer's bounds, without memory errors. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "config/template.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char err[512];
    char *out = NULL;
    size_t outlen = 0;
    err[0] = '\0';
    int rc = tmpl_render("frp", (const char *)data, size, &out, &outlen, err, sizeof err);
    if (rc == 0) {
        if (!out || strlen(out) > outlen) abort();
        free(out);
    } else if (out || err[0] == '\0') {
        abort();
    }
    return 0;
}
