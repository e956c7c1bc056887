/* libFuzzer target for the TOML parser: every input through both output
 * shapes, which must agree on whether the text is TOML at all. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include <jansson.h>

#include "base/err.h"
#include "config/toml.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char err[256];
    int rc[2];
    for (int flags = 0; flags <= TOML_TAGGED; flags++) {
        json_t *tree = NULL;
        rc[flags] = toml_parse((const char *)data, size, flags, &tree, err, sizeof err);
        json_decref(tree);
    }
    /* Only the plain shape may refuse a parsed document (inf, nan). */
    if ((rc[0] == CFRP_EPARSE) != (rc[1] == CFRP_EPARSE) || (rc[1] && rc[1] != CFRP_EPARSE))
        abort();
    return 0;
}
