/* toml2json: the toml-test decoder interface for our TOML parser. Reads TOML
 * on stdin; prints the tagged JSON (see config/toml.h) on stdout and exits 0,
 * or prints the error on stderr and exits 1. */
#include <stdio.h>
#include <stdlib.h>

#include <jansson.h>

#include "config/toml.h"

/* Input larger than this is refused rather than read into memory. */
#define TOML2JSON_MAX_INPUT ((size_t)256 << 20)

int main(void)
{
    size_t len = 0, cap = 0;
    char *data = NULL;
    for (;;) {
        if (len == cap) {
            cap = cap ? cap * 2 : 65536;
            char *nd = cap <= TOML2JSON_MAX_INPUT ? realloc(data, cap) : NULL;
            if (!nd) {
                fprintf(stderr, "toml2json: input too large or out of memory\n");
                free(data);
                return 1;
            }
            data = nd;
        }
        size_t n = fread(data + len, 1, cap - len, stdin);
        len += n;
        if (n == 0) break;
    }
    if (ferror(stdin)) {
        perror("toml2json: stdin");
        free(data);
        return 1;
    }
    char err[512];
    json_t *tree;
    int rc = toml_parse(data, len, TOML_TAGGED, &tree, err, sizeof err);
    free(data);
    if (rc) {
        fprintf(stderr, "toml2json: %s\n", err);
        return 1;
    }
    int bad = json_dumpf(tree, stdout, JSON_INDENT(2) | JSON_ENSURE_ASCII) || puts("") == EOF;
    json_decref(tree);
    return bad ? 1 : 0;
}
