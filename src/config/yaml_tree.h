/* YAML text to a jansson tree with gopkg.in/yaml.v2 semantics as frp (through
 * sigs.k8s.io/yaml) sees them: YAML 1.1 scalars (yes/no/on/off/y/n booleans,
 * 0x/0o/0b/leading-0 integers, .inf/.nan), only the first document, merge keys
 * (<<), anchors and aliases expanded (bounded against alias bombs), duplicate keys
 * rejected in strict mode with yaml.v2's message, non-string keys turned into their
 * text. Errors read as frp prints them, e.g.
 * "error converting YAML to JSON: yaml: line 1: did not find expected node content". */
#ifndef CFRP_CONFIG_YAML_TREE_H
#define CFRP_CONFIG_YAML_TREE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <jansson.h>

#define YAML_TREE_MAX_DEPTH 1000     /* nested collections */
#define YAML_TREE_MAX_NODES 2000000  /* nodes after alias expansion */

/* A scalar's source text resolved as yaml.v2 resolves an untagged plain scalar
 * (tagged ones resolve the same way before the tag is checked). */
enum yaml_scalar_kind {
    YAML_SCALAR_STR,
    YAML_SCALAR_NULL,
    YAML_SCALAR_BOOL,
    YAML_SCALAR_INT,   /* fits int64: i */
    YAML_SCALAR_UINT,  /* only fits uint64: u */
    YAML_SCALAR_FLOAT  /* f, possibly infinite or NaN (.inf, .nan) */
};
struct yaml_scalar {
    enum yaml_scalar_kind kind;
    bool b;
    int64_t i;
    uint64_t u;
    double f;
};
void yaml_scalar_resolve(const char *s, size_t n, struct yaml_scalar *out);

/* Parses len bytes. On success *tree is a new reference: the first document's value
 * (an empty document gives JSON null). *raw (may be NULL if not wanted) is a tree of
 * the same shape in which every scalar that YAML resolved to a number, boolean or null
 * holds its source text as a string, and every other scalar is JSON null; the config
 * decoder uses it for the number-to-string coercion of config.md 2.5 and for Go's text
 * of numbers jansson cannot hold. A non-finite float (.inf, .nan) is JSON null in
 * *tree (JSON has no such number) with its text in *raw: frp turns it into a string
 * where the target is a string and fails otherwise, which only the decoder knows.
 * Returns 0 or
 * CFRP_EPARSE / CFRP_ETOOBIG / UV_ENOMEM with the message in err. */
int yaml_tree_parse(const char *text, size_t len, bool strict, json_t **tree, json_t **raw, char *err,
                    size_t errlen);

#endif
